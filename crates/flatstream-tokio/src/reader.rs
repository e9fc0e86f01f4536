//! [`AsyncStreamReader`]: frames from an `AsyncRead`, decoded by the one decoder.

use std::future::Future;

use bytes::{Buf, Bytes, BytesMut};
use flatstream_core::{Deframer, Result, StreamDeserialize};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::FrameDecoder;
use crate::decoder::{Decoded, Failed};

/// Bytes asked of the source at a time: small frames arrive many to a read.
const READ_SIZE: usize = 64 * 1024;

/// Reads frames from an [`AsyncRead`]: the async twin of the blocking `StreamReader`, with
/// the same deframers and adapters, the same errors and the same positions.
///
/// ```
/// use flatstream_checksum_crc32c::Crc32c;
/// use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamWriter};
/// use flatstream_tokio::AsyncStreamReader;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> flatstream_core::Result<()> {
/// let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
/// writer.write("hello")?;
/// let stream = writer.into_inner();
///
/// // Any AsyncRead: a socket, a file, a pipe; here bytes in memory.
/// let mut reader = AsyncStreamReader::new(&stream[..], ChecksumDeframer::new(Crc32c::new()));
/// while let Some(payload) = reader.read_message().await? {
///     assert_eq!(flatbuffers::root::<&str>(payload).unwrap(), "hello");
/// }
/// # Ok(())
/// # }
/// ```
///
/// [`read_message`](Self::read_message) lends each payload from the reader's buffer (no
/// copy, no allocation in steady state, decompressed payloads included);
/// [`read_bytes`](Self::read_bytes) returns it as [`Bytes`] to keep or send to another task.
///
/// Every error names its frame and offset, errors from caller closures included. After a
/// checksum mismatch or a rejected payload the frame was consumed whole and reading can go
/// on ([`Error::is_resumable`](flatstream_core::Error::is_resumable)); after a torn or
/// oversized frame or an I/O error the reader stops, [`position`](Self::position) at the
/// end of the last good frame. Cancelling a read (dropping its future, as `select!` does)
/// loses nothing: the next call goes on where it stood.
#[derive(Debug)]
pub struct AsyncStreamReader<R, D> {
    reader: R,
    decoder: FrameDecoder<D>,
    buffer: BytesMut,
    /// Bytes of the last frame lent from `buffer`, still to be consumed.
    lent: usize,
    /// Whether the source has ended.
    ended: bool,
}

impl<R: AsyncRead + Unpin, D: Deframer> AsyncStreamReader<R, D> {
    /// A reader of `reader`'s frames, parsed by `deframer`.
    pub fn new(reader: R, deframer: D) -> Self {
        AsyncStreamReader {
            reader,
            decoder: FrameDecoder::new(deframer),
            buffer: BytesMut::new(),
            lent: 0,
            ended: false,
        }
    }

    /// The next payload, lent until the next call, or `None` at a clean end of stream.
    ///
    /// # Errors
    ///
    /// A torn, oversized, corrupt or rejected frame, or an I/O error, with frame index and
    /// offset.
    pub async fn read_message(&mut self) -> Result<Option<&[u8]>> {
        Ok(match self.next_frame().await? {
            None => None,
            Some(decoded) if decoded.in_buffer => {
                self.lent = decoded.frame_len;
                Some(&self.buffer[decoded.start..decoded.start + decoded.len])
            }
            Some(decoded) => {
                self.buffer.advance(decoded.frame_len);
                Some(self.decoder.scratch(decoded))
            }
        })
    }

    /// The next payload as [`Bytes`], or `None` at a clean end of stream. A payload the
    /// deframer passes through is split from the read buffer without a copy; a transformed
    /// one (decompressed) is copied out.
    ///
    /// # Errors
    ///
    /// As [`read_message`](Self::read_message).
    pub async fn read_bytes(&mut self) -> Result<Option<Bytes>> {
        Ok(match self.next_frame().await? {
            None => None,
            Some(decoded) if decoded.in_buffer => {
                let frame = self.buffer.split_to(decoded.frame_len).freeze();
                Some(frame.slice(decoded.start..decoded.start + decoded.len))
            }
            Some(decoded) => {
                self.buffer.advance(decoded.frame_len);
                Some(Bytes::copy_from_slice(self.decoder.scratch(decoded)))
            }
        })
    }

    /// Calls `process` with every payload until the end of the stream.
    ///
    /// # Errors
    ///
    /// The first read error, or the first error `process` returns; one that carries no
    /// location gets the frame index and offset of the payload it was given.
    pub async fn process_all<F>(&mut self, mut process: F) -> Result<()>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        while let Some(payload) = self.read_message().await? {
            if let Err(error) = process(payload) {
                return Err(self.decoder.locate_delivered(error));
            }
        }
        Ok(())
    }

    /// Awaits `process` with every payload, as [`Bytes`], until the end of the stream.
    ///
    /// # Errors
    ///
    /// The first read error or the first error `process` resolves to, located as in
    /// [`process_all`](Self::process_all).
    pub async fn process_all_async<F, Fut>(&mut self, mut process: F) -> Result<()>
    where
        F: FnMut(Bytes) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        while let Some(payload) = self.read_bytes().await? {
            if let Err(error) = process(payload).await {
                return Err(self.decoder.locate_delivered(error));
            }
        }
        Ok(())
    }

    /// Calls `process` with the typed view of every payload (see the blocking reader's
    /// `process_typed`).
    ///
    /// # Errors
    ///
    /// The first read error, payload that `T` rejects, or error from `process`, each with
    /// the frame index and offset.
    pub async fn process_typed<T, F>(&mut self, mut process: F) -> Result<()>
    where
        T: for<'a> StreamDeserialize<'a> + ?Sized,
        F: for<'a> FnMut(<T as StreamDeserialize<'a>>::Root) -> Result<()>,
    {
        self.process_all(|payload| process(T::from_payload(payload)?))
            .await
    }

    /// Frames consumed whole: delivered, or rejected after being read in full. It is also
    /// the index of the next frame.
    pub fn frames_read(&self) -> u64 {
        self.decoder.frames_read()
    }

    /// Bytes of whole frames consumed: the offset where the next frame begins, and after an
    /// error that stopped the reader, where the last good frame ended.
    pub fn position(&self) -> u64 {
        self.decoder.position()
    }

    /// The deframer in use.
    pub fn deframer(&self) -> &D {
        self.decoder.deframer()
    }

    /// Returns the underlying reader; bytes already read into the buffer are dropped.
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// Decodes the next frame, reading from the source until it is whole.
    async fn next_frame(&mut self) -> Result<Option<Decoded>> {
        if self.lent != 0 {
            self.buffer.advance(self.lent);
            self.lent = 0;
        }
        loop {
            match self.decoder.next_frame(&self.buffer) {
                Ok(Some(decoded)) if decoded.message => return Ok(Some(decoded)),
                // A frame that ends the stream without a message: past it, read on.
                Ok(Some(marker)) => self.buffer.advance(marker.frame_len),
                Ok(None) if self.ended => {
                    return if self.buffer.is_empty() {
                        // A later call reads again, as the blocking reader does: a source
                        // may have more after an end (a file still being written).
                        self.ended = false;
                        self.decoder.end_of_stream().map(|()| None)
                    } else {
                        Err(self.decoder.torn_tail(&self.buffer))
                    };
                }
                Ok(None) => self.fill().await?,
                Err(Failed { error, consumed }) => {
                    self.buffer.advance(consumed);
                    return Err(error);
                }
            }
        }
    }

    /// Reads more bytes from the source, growing the buffer by at most [`READ_SIZE`] at a
    /// time: a header that declares a large frame costs memory only as its bytes arrive.
    async fn fill(&mut self) -> Result<()> {
        self.buffer.reserve(READ_SIZE);
        loop {
            return match self.reader.read_buf(&mut self.buffer).await {
                Ok(0) => {
                    self.ended = true;
                    Ok(())
                }
                Ok(_) => Ok(()),
                // Retried, as the blocking readers do, after yielding: a source that is
                // interrupted again and again must not keep the executor (or a timeout
                // around this read) from running.
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {
                    crate::yield_once().await;
                    continue;
                }
                Err(error) => Err(self.decoder.io_error(error)),
            };
        }
    }
}
