//! [`AsyncStreamReader`]: frames from an `AsyncRead`, decoded by the codec.

use std::future::{Future, poll_fn};
use std::pin::Pin;

use bytes::Bytes;
use flatstream_core::{Checksum, Result, StreamDeserialize};
use futures_core::Stream;
use tokio::io::AsyncRead;
use tokio_util::codec::FramedRead;

use crate::FlatstreamCodec;

/// Reads frames from an [`AsyncRead`], the async twin of the blocking `StreamReader`.
///
/// Each payload is a [`Bytes`] split from the read buffer without copying; it may be kept
/// or sent to another task. A torn frame at end of stream is an error, and every error
/// names its frame and offset.
#[derive(Debug)]
pub struct AsyncStreamReader<R, C> {
    framed: FramedRead<R, FlatstreamCodec<C>>,
}

impl<R: AsyncRead + Unpin, C: Checksum> AsyncStreamReader<R, C> {
    /// A reader of `reader`'s frames, which carry `checksum`.
    pub fn new(reader: R, checksum: C) -> Self {
        Self::with_codec(reader, FlatstreamCodec::new(checksum))
    }

    /// A reader that decodes with `codec` (for a limit or a validator).
    pub fn with_codec(reader: R, codec: FlatstreamCodec<C>) -> Self {
        AsyncStreamReader {
            framed: FramedRead::new(reader, codec),
        }
    }

    /// The next payload, or `None` at a clean end of stream.
    ///
    /// # Errors
    ///
    /// A torn, oversized, corrupt or rejected frame, or an I/O error, with frame index and
    /// offset.
    pub async fn read_message(&mut self) -> Result<Option<Bytes>> {
        poll_fn(|cx| Pin::new(&mut self.framed).poll_next(cx))
            .await
            .transpose()
    }

    /// Calls `process` with every payload until the end of the stream.
    ///
    /// # Errors
    ///
    /// The first read error or the first error `process` returns.
    pub async fn process_all<F>(&mut self, mut process: F) -> Result<()>
    where
        F: FnMut(Bytes) -> Result<()>,
    {
        while let Some(payload) = self.read_message().await? {
            process(payload)?;
        }
        Ok(())
    }

    /// Awaits `process` with every payload until the end of the stream.
    ///
    /// # Errors
    ///
    /// The first read error or the first error `process` resolves to.
    pub async fn process_all_async<F, Fut>(&mut self, mut process: F) -> Result<()>
    where
        F: FnMut(Bytes) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        while let Some(payload) = self.read_message().await? {
            process(payload).await?;
        }
        Ok(())
    }

    /// Calls `process` with the typed view of every payload (see the blocking reader's
    /// `process_typed`).
    ///
    /// # Errors
    ///
    /// The first read error, payload that `T` rejects, or error from `process`.
    pub async fn process_typed<T, F>(&mut self, mut process: F) -> Result<()>
    where
        T: for<'a> StreamDeserialize<'a> + ?Sized,
        F: for<'a> FnMut(<T as StreamDeserialize<'a>>::Root) -> Result<()>,
    {
        loop {
            let (index, offset) = (self.frames_read(), self.position());
            let Some(payload) = self.read_message().await? else {
                return Ok(());
            };
            let root = T::from_payload(&payload).map_err(|error| error.at_frame(index, offset))?;
            process(root).map_err(|error| {
                if error.frame_index().is_some() {
                    error
                } else {
                    error.at_frame(index, offset)
                }
            })?;
        }
    }

    /// Frames decoded whole so far.
    pub fn frames_read(&self) -> u64 {
        self.framed.decoder().frames_decoded()
    }

    /// Bytes of whole frames decoded: the offset of the next frame.
    pub fn position(&self) -> u64 {
        self.framed.decoder().decoded_bytes()
    }

    /// Returns the underlying reader; bytes already buffered are dropped.
    pub fn into_inner(self) -> R {
        self.framed.into_inner()
    }
}
