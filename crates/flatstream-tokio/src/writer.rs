//! [`AsyncStreamWriter`]: messages to an `AsyncWrite`, framed by the blocking writer's engine.

use flatbuffers::{Allocator, FlatBufferBuilder};
use flatstream_core::{Error, Framer, Result, StreamSerialize};
use flatstream_io::StreamWriter;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Default size at which buffered frames are written out: 64 KiB.
const DEFAULT_BUFFER_LIMIT: usize = 64 * 1024;

/// Writes messages as frames to an [`AsyncWrite`]: the async twin of the blocking
/// `StreamWriter`, with the same framers and adapters.
///
/// ```
/// use flatstream_checksum_crc32c::Crc32c;
/// use flatstream_io::ChecksumFramer;
/// use flatstream_tokio::AsyncStreamWriter;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> flatstream_core::Result<()> {
/// // Any AsyncWrite: a socket, a file, a pipe; here a Vec.
/// let mut writer = AsyncStreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
/// writer.write("hello").await?;
/// writer.flush().await?;
/// assert_eq!(writer.get_ref().len(), 4 + 4 + 16);
/// # Ok(())
/// # }
/// ```
///
/// Frames are made by a blocking [`StreamWriter`] into an in-memory buffer (so framing,
/// counting and error locations are the blocking writer's), which is written out once it
/// holds [`buffer_limit`](Self::with_buffer_limit) bytes and on [`flush`](Self::flush):
/// small messages cost one write call per batch. Writing awaits the underlying writer when
/// the buffer is full, so a slow reader slows the writer down instead of growing its memory,
/// which stays at most the buffer limit plus one frame.
///
/// After an I/O error the writer stops, as the blocking one does: the stream may end in a
/// partial frame, so every later write is refused with an error that says so.
pub struct AsyncStreamWriter<W, F> {
    writer: W,
    frames: StreamWriter<Vec<u8>, F>,
    buffer_limit: usize,
    flushed_frames: u64,
    /// Bytes of the stream handed to `writer` in whole batches (the buffer emptied after).
    flushed: u64,
    /// Bytes at the start of the buffer already handed to the writer: a write cancelled
    /// midway (its future dropped) goes on from here, never sending them twice.
    sent: usize,
}

impl<W: std::fmt::Debug, F: std::fmt::Debug> std::fmt::Debug for AsyncStreamWriter<W, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStreamWriter")
            .field("writer", &self.writer)
            .field("frames", &self.frames)
            .field("buffer_limit", &self.buffer_limit)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin, F: Framer> AsyncStreamWriter<W, F> {
    /// A writer to `writer` whose frames `framer` writes.
    pub fn new(writer: W, framer: F) -> Self {
        AsyncStreamWriter {
            writer,
            frames: StreamWriter::new(Vec::new(), framer),
            buffer_limit: DEFAULT_BUFFER_LIMIT,
            flushed_frames: 0,
            flushed: 0,
            sent: 0,
        }
    }

    /// Sets how many buffered bytes trigger a write (default 64 KiB).
    #[must_use]
    pub fn with_buffer_limit(mut self, bytes: usize) -> Self {
        self.buffer_limit = bytes;
        self
    }

    /// Serializes `message` in one of the writer's two reused builders (see
    /// `StreamWriter::new`) and queues it as one frame.
    ///
    /// # Errors
    ///
    /// The message's serialization error, the framer's (validation, payload too long) or an
    /// I/O error, with frame index and offset; after an I/O error, every call.
    pub async fn write<T: StreamSerialize + ?Sized>(&mut self, message: &T) -> Result<()> {
        self.frames().write(message)?;
        self.write_out_if_full().await
    }

    /// Queues the finished buffer of `builder` as one frame; the caller resets it.
    ///
    /// # Errors
    ///
    /// As [`write_payload`](Self::write_payload).
    ///
    /// # Panics
    ///
    /// In debug builds, when `builder` was not finished (`flatbuffers` asserts it) and the
    /// writer was not stopped (a stopped writer refuses before it reads the builder, as the
    /// blocking `StreamWriter::write_finished` does).
    pub async fn write_finished<A: Allocator>(
        &mut self,
        builder: &mut FlatBufferBuilder<'_, A>,
    ) -> Result<()> {
        self.frames().write_finished(builder)?;
        self.write_out_if_full().await
    }

    /// Queues `payload` as one frame.
    ///
    /// # Errors
    ///
    /// The framer's error or an I/O error, with frame index and offset; after an I/O error,
    /// every call.
    pub async fn write_payload(&mut self, payload: &[u8]) -> Result<()> {
        self.frames().write_payload(payload)?;
        self.write_out_if_full().await
    }

    /// Writes out every buffered frame and flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// The I/O error, with the offset written so far; after an earlier I/O error, that one.
    pub async fn flush(&mut self) -> Result<()> {
        self.write_out().await?;
        let flushed = self.writer.flush().await;
        flushed.map_err(|error| self.io_error(error))
    }

    /// Ends the stream: writes what the framer closes it with (an encrypting framer's
    /// authenticated final frame; most framers write nothing), writes out every buffered
    /// frame and flushes. A framer that wrote a final frame refuses further frames.
    ///
    /// # Errors
    ///
    /// The framer's error or an I/O error, with frame index and offset.
    pub async fn finish(&mut self) -> Result<()> {
        self.frames().finish()?;
        self.flush().await
    }

    /// Writes out every buffered frame, then shuts the underlying writer down (for a socket:
    /// sends FIN). It does not [`finish`](Self::finish) the stream: call that first when the
    /// framer closes streams (encryption).
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush).
    pub async fn shutdown(&mut self) -> Result<()> {
        self.write_out().await?;
        let shut = self.writer.shutdown().await;
        shut.map_err(|error| self.io_error(error))
    }

    /// Frames queued so far.
    pub fn frames_written(&self) -> u64 {
        self.frames.frames_written()
    }

    /// Bytes of frames queued so far: the offset of the next frame in the stream.
    pub fn position(&self) -> u64 {
        self.frames.position()
    }

    /// Bytes handed to the underlying writer so far.
    pub fn flushed_bytes(&self) -> u64 {
        // Counted, not taken from the buffer's length: until the next call cuts them, the
        // buffer may hold bytes of a frame whose framer panicked (see `frames`).
        self.flushed
    }

    /// Bytes of frames waiting in the buffer.
    pub fn buffered_len(&self) -> usize {
        // Every byte of a whole frame is either written out or still in the buffer.
        usize::try_from(self.frames.position() - self.flushed).unwrap_or(usize::MAX)
    }

    /// The buffer's capacity: the memory the writer holds for frames.
    pub fn buffer_capacity(&self) -> usize {
        self.frames.get_ref().capacity()
    }

    /// The framer in use.
    pub fn framer(&self) -> &F {
        self.frames.framer()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// Returns the underlying writer; frames still buffered are dropped, so flush first.
    pub fn into_inner(self) -> W {
        self.writer
    }

    /// The blocking writer, with the `Vec` it frames into holding whole frames only: what a
    /// framer that panicked part-way through a frame left (the panic caught by the caller)
    /// is cut before the next frame and before the next send, so the sink never gets it.
    /// One comparison of the `Vec`'s length.
    fn frames(&mut self) -> &mut StreamWriter<Vec<u8>, F> {
        self.frames.cut_partial_frame();
        &mut self.frames
    }

    async fn write_out_if_full(&mut self) -> Result<()> {
        if self.frames.get_ref().len() >= self.buffer_limit {
            self.write_out().await
        } else {
            Ok(())
        }
    }

    /// Hands every buffered byte to the writer. Cancel-safe: each `write` that completes is
    /// recorded before the next, so a cancelled call followed by another sends each byte once.
    async fn write_out(&mut self) -> Result<()> {
        // An earlier I/O error: refused, as the next write would be.
        self.frames().check_usable()?;
        while self.sent < self.frames.get_ref().len() {
            let written = self.writer.write(&self.frames.get_ref()[self.sent..]).await;
            match written {
                Ok(0) => {
                    let error = std::io::Error::from(std::io::ErrorKind::WriteZero);
                    return Err(self.io_error(error));
                }
                Ok(n) => self.sent += n,
                // Retried after yielding, so a sink interrupted again and again cannot keep
                // the executor from running.
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {
                    crate::yield_once().await;
                }
                Err(error) => return Err(self.io_error(error)),
            }
        }
        self.flushed_frames = self.frames.frames_written();
        self.flushed = self.frames.position();
        self.frames.get_mut().clear();
        self.sent = 0;
        Ok(())
    }

    /// Locates an I/O error at the first frame not known to be written out (its bytes, and
    /// those of the frames after it, may be partly written), and stops the writer.
    fn io_error(&mut self, error: std::io::Error) -> Error {
        let error = Error::from(error).at_frame(self.flushed_frames, self.flushed_bytes());
        self.frames.stop(&error);
        error
    }
}
