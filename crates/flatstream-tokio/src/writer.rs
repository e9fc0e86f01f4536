//! [`AsyncStreamWriter`]: messages to an `AsyncWrite`, framed by the codec.

use bytes::BytesMut;
use flatbuffers::{Allocator, FlatBufferBuilder};
use flatstream_core::{Checksum, Error, Result, StreamSerialize};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Encoder;

use crate::FlatstreamCodec;

/// Default size at which buffered frames are written out: 64 KiB.
const DEFAULT_BUFFER_LIMIT: usize = 64 * 1024;

/// Writes messages as frames to an [`AsyncWrite`], the async twin of the blocking
/// `StreamWriter`.
///
/// Frames collect in a buffer that is written out once it holds
/// [`buffer_limit`](Self::with_buffer_limit) bytes (and on [`flush`](Self::flush)), so
/// small messages cost one write call per batch. Writing awaits the underlying writer when
/// the buffer is full: a slow reader slows the writer down instead of growing its memory,
/// which stays at most the buffer limit plus one frame.
pub struct AsyncStreamWriter<W, C> {
    writer: W,
    codec: FlatstreamCodec<C>,
    buffer: BytesMut,
    buffer_limit: usize,
    builder: FlatBufferBuilder<'static>,
    flushed_bytes: u64,
}

impl<W: std::fmt::Debug, C: std::fmt::Debug> std::fmt::Debug for AsyncStreamWriter<W, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStreamWriter")
            .field("writer", &self.writer)
            .field("codec", &self.codec)
            .field("buffered", &self.buffer.len())
            .field("buffer_limit", &self.buffer_limit)
            .field("flushed_bytes", &self.flushed_bytes)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin, C: Checksum> AsyncStreamWriter<W, C> {
    /// A writer to `writer` whose frames carry `checksum`.
    pub fn new(writer: W, checksum: C) -> Self {
        Self::with_codec(writer, FlatstreamCodec::new(checksum))
    }

    /// A writer that frames with `codec` (for a validator, for instance).
    pub fn with_codec(writer: W, codec: FlatstreamCodec<C>) -> Self {
        AsyncStreamWriter {
            writer,
            codec,
            buffer: BytesMut::new(),
            buffer_limit: DEFAULT_BUFFER_LIMIT,
            builder: FlatBufferBuilder::new(),
            flushed_bytes: 0,
        }
    }

    /// Sets how many buffered bytes trigger a write (default 64 KiB).
    #[must_use]
    pub fn with_buffer_limit(mut self, bytes: usize) -> Self {
        self.buffer_limit = bytes;
        self
    }

    /// Serializes `message` in the writer's reused builder and queues it as one frame.
    ///
    /// # Errors
    ///
    /// The message's serialization error, the codec's (validation, payload too long) or an
    /// I/O error, with frame index and offset.
    pub async fn write<T: StreamSerialize + ?Sized>(&mut self, message: &T) -> Result<()> {
        self.builder.reset();
        message.serialize(&mut self.builder).map_err(|error| {
            error.at_frame(self.codec.frames_encoded(), self.codec.encoded_bytes())
        })?;
        self.codec
            .encode(self.builder.finished_data(), &mut self.buffer)?;
        self.write_out_if_full().await
    }

    /// Queues the finished buffer of `builder` as one frame; the caller resets it.
    ///
    /// # Errors
    ///
    /// As [`write_payload`](Self::write_payload).
    pub async fn write_finished<A: Allocator>(
        &mut self,
        builder: &mut FlatBufferBuilder<'_, A>,
    ) -> Result<()> {
        self.write_payload(builder.finished_data()).await
    }

    /// Queues `payload` as one frame.
    ///
    /// # Errors
    ///
    /// The codec's error or an I/O error, with frame index and offset.
    pub async fn write_payload(&mut self, payload: &[u8]) -> Result<()> {
        self.codec.encode(payload, &mut self.buffer)?;
        self.write_out_if_full().await
    }

    /// Writes out every buffered frame and flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// The I/O error, with the offset written so far.
    pub async fn flush(&mut self) -> Result<()> {
        self.write_out().await?;
        self.writer
            .flush()
            .await
            .map_err(|error| self.io_error(error))
    }

    /// Flushes, then shuts the underlying writer down (for a socket: sends FIN).
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush).
    pub async fn shutdown(&mut self) -> Result<()> {
        self.write_out().await?;
        self.writer
            .shutdown()
            .await
            .map_err(|error| self.io_error(error))
    }

    /// Frames queued so far.
    pub fn frames_written(&self) -> u64 {
        self.codec.frames_encoded()
    }

    /// Bytes handed to the underlying writer so far.
    pub fn flushed_bytes(&self) -> u64 {
        self.flushed_bytes
    }

    /// Bytes of frames waiting in the buffer.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// The buffer's capacity: the memory the writer holds for frames.
    pub fn buffer_capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// Returns the underlying writer; frames still buffered are dropped, so flush first.
    pub fn into_inner(self) -> W {
        self.writer
    }

    async fn write_out_if_full(&mut self) -> Result<()> {
        if self.buffer.len() >= self.buffer_limit {
            self.write_out().await
        } else {
            Ok(())
        }
    }

    async fn write_out(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.writer
            .write_all(&self.buffer)
            .await
            .map_err(|error| self.io_error(error))?;
        self.flushed_bytes += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    fn io_error(&self, error: std::io::Error) -> Error {
        Error::from(error).at_frame(self.codec.frames_encoded(), self.flushed_bytes)
    }
}
