//! [`FrameSink`], where a [`StreamWriter`](crate::StreamWriter) puts its frames, and
//! [`FrameBuffer`], the sink that gathers whole frames in memory for a file or a socket.
//!
//! Why a buffer of its own rather than a `BufWriter`: into a `Vec<u8>`, the framers of this
//! crate append a short frame in one step (`vec_sink`), where a `BufWriter` takes it in two
//! `write_all` calls, each with its own capacity check and `memcpy`. Measured with 64 B
//! frames into a `File` on `/dev/null` (single-cell harness), against the minimal loop's two
//! `write_all` calls into a 64 KiB `BufWriter`: `StreamWriter` over that `BufWriter` ran at
//! 0.83–0.89× the loop; over a `Vec` drained every 64 KiB, at 1.09–1.16×; over this type,
//! 1.11×. A `BufWriter` of our own with the same inline copies behind each `write_all` ran at
//! 0.78×: what pays is the frame appended whole. In the paired bench (`file_write_payload`,
//! `docs/benchmarks.md`), 64 B frames: 1.15× without a checksum, 1.43× with XXH3.

use std::io::{self, Write};

use flatstream_core::{Framer, Result};

/// Where a [`StreamWriter`](crate::StreamWriter) puts its frames.
///
/// Every [`Write`] is one: each frame is written to it as the framer writes it (a `Vec<u8>`
/// takes short frames in one step, see [`StreamWriter`](crate::StreamWriter)). The other is
/// [`FrameBuffer`], which gathers whole frames for the `Write` it holds. You rarely name this
/// trait: `StreamWriter::new(file, framer)` and
/// [`StreamWriter::buffered`](crate::StreamWriter::buffered) pick the sink for you.
pub trait FrameSink {
    /// Writes the frame of `payload` through `framer`, and returns its length in bytes.
    ///
    /// # Errors
    ///
    /// The framer's errors and the I/O errors of writing, unlocated (the writer locates
    /// them).
    fn write_frame<F: Framer>(&mut self, framer: &mut F, payload: &[u8]) -> Result<usize>;

    /// Writes what `framer` closes the stream with ([`Framer::finish`]), and returns its
    /// length in bytes.
    ///
    /// # Errors
    ///
    /// As [`write_frame`](Self::write_frame).
    fn finish_frames<F: Framer>(&mut self, framer: &mut F) -> Result<usize>;

    /// Writes out whatever the sink holds and flushes what it writes to.
    ///
    /// # Errors
    ///
    /// The I/O error of writing or flushing.
    fn flush_frames(&mut self) -> io::Result<()>;

    /// For a sink that holds frames back ([`FrameBuffer`]): how many bytes it has handed on
    /// to its destination ([`FrameBuffer::bytes_written`]), which a writer's I/O errors
    /// report beside their frame's offset (counted from the buffer's first byte: for writers
    /// one after another over one `&mut FrameBuffer`, not from this writer's first frame).
    /// `None` for a sink that takes each frame as it comes.
    fn bytes_delivered(&self) -> Option<u64> {
        None
    }
}

impl<W: Write + ?Sized> FrameSink for W {
    // Always: this is the per-frame path of every unbuffered writer.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn write_frame<F: Framer>(&mut self, framer: &mut F, payload: &[u8]) -> Result<usize> {
        framer.frame_and_write(self, payload)
    }

    fn finish_frames<F: Framer>(&mut self, framer: &mut F) -> Result<usize> {
        framer.finish(self)
    }

    fn flush_frames(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// The buffer size of [`FrameBuffer::new`]: 64 KiB.
pub const DEFAULT_FRAME_BUFFER_SIZE: usize = 64 * 1024;

/// Room kept at the end of the buffer for a frame's header and a framer's additions (a
/// checksum field, an encrypted frame's nonce and tag): a payload shorter than the room left
/// less this is buffered.
const FRAME_ALLOWANCE: usize = 64;

/// Memory allocated past the capacity for framers that add more than [`FRAME_ALLOWANCE`]
/// (lz4 or zstd over incompressible bytes add about 1/255 of the payload and a few dozen
/// bytes, encryption 40 more): enough for 1/64 of a payload and 256 bytes, so that such a
/// frame does not make the buffer grow (a reallocation, and then twice the memory).
const fn headroom(capacity: usize) -> usize {
    capacity / 64 + 256
}

/// Gathers whole frames in memory and writes them to `W` in large writes: the sink of
/// [`StreamWriter::buffered`](crate::StreamWriter::buffered), for files and sockets.
///
/// It does for frames what a [`std::io::BufWriter`] does for bytes, faster for short frames:
/// each frame is appended to the buffer whole, as into a `Vec<u8>`, and the buffer is written
/// out when the next frame would not fit, on [`flush`](crate::StreamWriter::flush), and when
/// it is dropped. A payload too large for the buffer goes straight to `W`, after what the
/// buffer held, without being copied. Steady state allocates nothing: the buffer keeps its
/// capacity.
///
/// ```
/// use flatstream_io::{DefaultDeframer, DefaultFramer, FrameBuffer, StreamReader, StreamWriter};
///
/// # fn main() -> flatstream_core::Result<()> {
/// let mut writer = StreamWriter::buffered(Vec::new(), DefaultFramer, 4096);
/// for i in 0..1000u32 {
///     writer.write_payload(&i.to_le_bytes())?;
/// }
/// writer.flush()?; // Hear of the last write's errors: dropping would ignore them.
/// let buffer: FrameBuffer<Vec<u8>> = writer.into_inner();
/// assert_eq!(buffer.bytes_written(), 1000 * 8);
/// let stream = buffer.into_inner()?;
///
/// let mut reader = StreamReader::new(&stream[..], DefaultDeframer::default());
/// let mut count = 0u32;
/// reader.process_all(|payload| {
///     assert_eq!(payload, count.to_le_bytes());
///     count += 1;
///     Ok(())
/// })?;
/// assert_eq!(count, 1000);
/// # Ok(())
/// # }
/// ```
///
/// # Errors and what reached `W`
///
/// The buffer is written with `write` calls, so after an error it knows how much of it `W`
/// took: [`bytes_written`](Self::bytes_written) counts every byte `W` accepted, and the bytes
/// it did not take stay in the buffer (written again by the next flush, as a `BufWriter`
/// does). A `StreamWriter` stops at the error either way, since `W` may now end inside a
/// frame; that includes `WouldBlock`, so a non-blocking socket wants the async writer of
/// `flatstream-tokio`. Each `write` is counted as it returns: after a panic in `W` (caught),
/// the count and the buffer still say exactly what the calls that returned took, and the
/// buffer is not written again on drop. A writer that claims more bytes than it was given
/// is an error (`InvalidData`), not trusted.
///
/// `FrameBuffer` is not a [`Write`]: it takes frames from a `StreamWriter`, not bytes.
pub struct FrameBuffer<W: Write> {
    /// Whole frames not yet written to `inner`.
    frames: Vec<u8>,
    /// The buffer's size: frames are written out before they would take it past this.
    capacity: usize,
    /// `None` only once [`into_parts`](Self::into_parts) has taken it, for the drop that
    /// follows.
    inner: Option<W>,
    /// Bytes `inner` accepted.
    written: u64,
    /// Whether a `write` to `inner` panicked: then the buffer is not written again on drop
    /// (as `BufWriter` does), since `inner` may be in any state.
    panicked: bool,
}

impl<W: Write> FrameBuffer<W> {
    /// A buffer of [`DEFAULT_FRAME_BUFFER_SIZE`] (64 KiB) in front of `inner`.
    pub fn new(inner: W) -> Self {
        Self::with_capacity(DEFAULT_FRAME_BUFFER_SIZE, inner)
    }

    /// A buffer of `capacity` bytes in front of `inner`, allocated now. A capacity under
    /// 128 bytes is raised to 128.
    ///
    /// Frames are gathered until the next one would take the buffer past `capacity`. A
    /// framer that adds more than 64 bytes to a payload (compression of incompressible
    /// bytes) can take it past by up to `capacity / 64 + 256` bytes, which are allocated
    /// with it, so the buffer never grows.
    pub fn with_capacity(capacity: usize, inner: W) -> Self {
        let capacity = capacity.max(2 * FRAME_ALLOWANCE);
        FrameBuffer {
            frames: Vec::with_capacity(capacity.saturating_add(headroom(capacity))),
            capacity,
            inner: Some(inner),
            written: 0,
            panicked: false,
        }
    }

    /// The buffer's size in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The frames waiting to be written to `W`.
    pub fn buffer(&self) -> &[u8] {
        &self.frames
    }

    /// How many bytes `W` has accepted: the stream's bytes before this offset reached it, the
    /// rest are in [`buffer`](Self::buffer) (or were never written, after a frame that went
    /// straight to `W` failed part-way).
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        present(self.inner.as_ref())
    }

    /// The underlying writer, mutably. Writing to it directly, before the buffer is written
    /// out, puts those bytes ahead of buffered frames and corrupts the stream.
    pub fn get_mut(&mut self) -> &mut W {
        present(self.inner.as_mut())
    }

    /// Writes the buffer out and returns the underlying writer (not flushed).
    ///
    /// # Errors
    ///
    /// The I/O error of writing the buffer out, with this `FrameBuffer` (holding what was not
    /// written) so that nothing is lost.
    pub fn into_inner(mut self) -> std::result::Result<W, IntoInnerError<W>> {
        match self.write_out() {
            Ok(()) => Ok(self.into_parts().0),
            Err(error) => Err(IntoInnerError {
                buffer: self,
                error,
            }),
        }
    }

    /// Takes the underlying writer and the frames not yet written to it, writing nothing.
    pub fn into_parts(mut self) -> (W, Vec<u8>) {
        let inner = present(self.inner.take());
        (inner, std::mem::take(&mut self.frames))
    }

    /// Writes the buffered frames to `inner`, keeping what it did not take. Each `write`
    /// that returns is counted at once, so a panic in a later one (caught by the caller)
    /// leaves the count and the buffer exact: nothing is written twice.
    fn write_out(&mut self) -> io::Result<()> {
        let FrameBuffer {
            frames,
            inner,
            written,
            panicked,
            ..
        } = self;
        let Some(inner) = inner.as_mut() else {
            return Ok(());
        };
        let mut taken = Taken {
            frames,
            written,
            len: 0,
        };
        loop {
            let rest = &taken.frames[taken.len..];
            if rest.is_empty() {
                return Ok(());
            }
            *panicked = true;
            let wrote = inner.write(rest);
            *panicked = false;
            match wrote {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the writer took none of the buffered frames",
                    ));
                }
                Ok(n) if n <= rest.len() => taken.len += n,
                Ok(_) => return Err(overstated()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// The frame of a payload that does not fit the room left: the buffer is written out,
    /// then the frame is buffered, or written straight to `inner` when it is too large for
    /// the buffer.
    #[cold]
    #[inline(never)]
    fn write_large_frame<F: Framer>(&mut self, framer: &mut F, payload: &[u8]) -> Result<usize> {
        self.write_out()?;
        if payload.len() < self.capacity - FRAME_ALLOWANCE {
            // Nothing of a frame the framer refused part-way stays buffered.
            return framer
                .frame_and_write(&mut self.frames, payload)
                .inspect_err(|_| self.frames.clear());
        }
        let mut counted = CountingWriter {
            inner: present(self.inner.as_mut()),
            written: &mut self.written,
            panicked: &mut self.panicked,
        };
        framer.frame_and_write(&mut counted, payload)
    }
}

/// The bytes of a write-out that `inner` took: removed from the buffer and counted when the
/// write-out ends, however it ends (by an error, or by a panic in `inner`).
struct Taken<'a> {
    frames: &'a mut Vec<u8>,
    written: &'a mut u64,
    /// Bytes of `frames`, from the front, that the writer took.
    len: usize,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        *self.written += self.len as u64;
        if self.len == self.frames.len() {
            self.frames.clear();
        } else {
            self.frames.drain(..self.len);
        }
    }
}

impl<W: Write> FrameSink for FrameBuffer<W> {
    // Always: this is the per-frame path of `StreamWriter::buffered`.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn write_frame<F: Framer>(&mut self, framer: &mut F, payload: &[u8]) -> Result<usize> {
        // The room left, less the allowance for the header (saturating: a framer's additions
        // beyond the allowance can take `len` past `capacity`, into the headroom).
        let buffered = self.frames.len();
        if payload.len() < self.capacity.saturating_sub(buffered + FRAME_ALLOWANCE) {
            // A `Vec<u8>`: the framers of this crate append a short frame in one step.
            framer
                .frame_and_write(&mut self.frames, payload)
                .inspect_err(|_| self.frames.truncate(buffered))
        } else {
            self.write_large_frame(framer, payload)
        }
    }

    fn finish_frames<F: Framer>(&mut self, framer: &mut F) -> Result<usize> {
        let buffered = self.frames.len();
        framer
            .finish(&mut self.frames)
            .inspect_err(|_| self.frames.truncate(buffered))
    }

    fn flush_frames(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.get_mut().flush()
    }

    fn bytes_delivered(&self) -> Option<u64> {
        Some(self.written)
    }
}

/// A borrowed `FrameBuffer`, so that writers made one after another can share it
/// (`StreamWriter::new(&mut buffer, framer)`).
impl<W: Write> FrameSink for &mut FrameBuffer<W> {
    // Always: the per-frame path, as the owned buffer's.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn write_frame<F: Framer>(&mut self, framer: &mut F, payload: &[u8]) -> Result<usize> {
        (**self).write_frame(framer, payload)
    }

    fn finish_frames<F: Framer>(&mut self, framer: &mut F) -> Result<usize> {
        (**self).finish_frames(framer)
    }

    fn flush_frames(&mut self) -> io::Result<()> {
        (**self).flush_frames()
    }

    fn bytes_delivered(&self) -> Option<u64> {
        (**self).bytes_delivered()
    }
}

impl<W: Write> Drop for FrameBuffer<W> {
    /// Writes the buffer out, ignoring errors as a `BufWriter` does: call
    /// [`StreamWriter::flush`](crate::StreamWriter::flush) first to hear of them.
    fn drop(&mut self) {
        if !self.panicked {
            let _ = self.write_out();
        }
    }
}

impl<W: Write + std::fmt::Debug> std::fmt::Debug for FrameBuffer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBuffer")
            .field("inner", &self.inner)
            .field("buffered", &self.frames.len())
            .field("capacity", &self.capacity)
            .field("bytes_written", &self.written)
            .finish_non_exhaustive()
    }
}

/// The underlying writer, which only [`FrameBuffer::into_parts`] takes (with the buffer).
fn present<T>(inner: Option<T>) -> T {
    inner.expect("only `into_parts` takes the writer, and it takes the `FrameBuffer`")
}

/// Counts the bytes a frame written straight to the underlying writer reached it with, as
/// each call returns, and raises the buffer's `panicked` flag around each call into the
/// writer only (a panic in the framer leaves it down).
struct CountingWriter<'a, W> {
    inner: &'a mut W,
    written: &'a mut u64,
    panicked: &'a mut bool,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        *self.panicked = true;
        let wrote = self.inner.write(bytes);
        *self.panicked = false;
        self.count(wrote?, bytes.len())
    }

    fn write_vectored(&mut self, bytes: &[io::IoSlice<'_>]) -> io::Result<usize> {
        *self.panicked = true;
        let wrote = self.inner.write_vectored(bytes);
        *self.panicked = false;
        self.count(wrote?, bytes.iter().map(|bytes| bytes.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        *self.panicked = true;
        let flushed = self.inner.flush();
        *self.panicked = false;
        flushed
    }
}

impl<W> CountingWriter<'_, W> {
    /// Counts `wrote` bytes of `given`, refusing a count larger than what was given.
    fn count(&mut self, wrote: usize, given: usize) -> io::Result<usize> {
        if wrote > given {
            return Err(overstated());
        }
        *self.written += wrote as u64;
        Ok(wrote)
    }
}

/// A writer that said it wrote more bytes than it was given (breaking `Write`'s contract):
/// what it holds is unknown, so this is an error rather than a panic later.
#[cold]
fn overstated() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the writer reported writing more bytes than it was given",
    )
}

/// The error of [`FrameBuffer::into_inner`]: the buffer could not be written out. It holds
/// the `FrameBuffer`, with the frames `W` did not take.
pub struct IntoInnerError<W: Write> {
    buffer: FrameBuffer<W>,
    error: io::Error,
}

impl<W: Write> IntoInnerError<W> {
    /// The I/O error.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The `FrameBuffer`, holding the frames not written (as `std::io::IntoInnerError`
    /// gives back its `BufWriter`).
    pub fn into_inner(self) -> FrameBuffer<W> {
        self.buffer
    }

    /// The I/O error, dropping the `FrameBuffer` (whose drop tries once more to write the
    /// frames out).
    pub fn into_error(self) -> io::Error {
        self.error
    }

    /// The I/O error and the `FrameBuffer`.
    pub fn into_parts(self) -> (io::Error, FrameBuffer<W>) {
        (self.error, self.buffer)
    }
}

impl<W: Write> std::fmt::Debug for IntoInnerError<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntoInnerError")
            .field("error", &self.error)
            .field("buffered", &self.buffer.frames.len())
            .field("bytes_written", &self.buffer.written)
            .finish_non_exhaustive()
    }
}

impl<W: Write> std::fmt::Display for IntoInnerError<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "could not write out the frame buffer ({} bytes left unwritten after {} written): {}",
            self.buffer.frames.len(),
            self.buffer.written,
            self.error
        )
    }
}

impl<W: Write> std::error::Error for IntoInnerError<W> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<W: Write> From<IntoInnerError<W>> for io::Error {
    fn from(error: IntoInnerError<W>) -> Self {
        io::Error::new(error.error.kind(), error.to_string())
    }
}

impl<W: Write> From<IntoInnerError<W>> for flatstream_core::Error {
    fn from(error: IntoInnerError<W>) -> Self {
        flatstream_core::Error::from(io::Error::from(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChecksumFramer, StreamWriter};
    use flatstream_core::Checksum;

    /// A sink the framers do not recognise as a `Vec`: every frame goes through `Write`.
    struct Plain(Vec<u8>);

    impl Write for Plain {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.write(bytes)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// An 8-byte checksum field, the widest, so the buffer's allowance is tested at its edge.
    #[derive(Clone, Copy)]
    struct Wide;

    impl Checksum for Wide {
        fn size(&self) -> usize {
            8
        }
        fn calculate(&self, payload: &[u8]) -> u64 {
            payload.iter().fold(0x9e37_79b9_7f4a_7c15, |sum, &byte| {
                (sum ^ u64::from(byte)).rotate_left(5)
            })
        }
        fn name(&self) -> &'static str {
            "wide"
        }
    }

    // Short enough for Miri, which runs this crate's unit tests: the buffered frames go
    // through the `Vec` sink's unsafe one-step append, filled to the buffer's capacity.
    #[test]
    fn frames_through_the_buffer_are_the_frames_written_straight() {
        for capacity in [128, 300] {
            let lengths = (0..140)
                .step_by(3)
                .chain([capacity - 65, capacity - 64, capacity, 700]);
            let mut buffered =
                StreamWriter::buffered(Vec::new(), ChecksumFramer::new(Wide), capacity);
            let mut straight = StreamWriter::new(Plain(Vec::new()), ChecksumFramer::new(Wide));
            for len in lengths {
                let payload: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
                buffered.write_payload(&payload).unwrap();
                straight.write_payload(&payload).unwrap();
                assert!(
                    buffered.get_ref().buffer().len() <= capacity,
                    "{capacity}: {len}"
                );
                assert_eq!(buffered.position(), straight.position());
            }
            buffered.flush().unwrap();
            let buffer = buffered.into_inner();
            // Nothing grew the buffer past the capacity it was made with.
            assert_eq!(buffer.frames.capacity(), capacity + headroom(capacity));
            assert_eq!(buffer.into_inner().unwrap(), straight.into_inner().0);
        }
    }
}
