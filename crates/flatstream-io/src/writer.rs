//! [`StreamWriter`]: messages in, frames out.

use std::io::Write;

use flatbuffers::{Allocator, DefaultAllocator, FlatBufferBuilder};
use flatstream_core::{Error, Framer, Result, StreamSerialize};

use crate::frame_buffer::{FrameBuffer, FrameSink};
use crate::memory::{MemoryPolicy, ShrinkTracker};
use crate::progress::WriteProgress;
use crate::vec_sink::{vec_of, vec_ref_of};

/// Replaces a builder with a smaller one; only for the default allocator, whose builders can
/// be made anew.
type ShrinkBuilder<A> = fn(&mut FlatBufferBuilder<'static, A>, usize);

/// Writes messages to `W` as frames, one after another.
///
/// Two ways to write:
/// - **simple**: [`write`](Self::write) takes any [`StreamSerialize`] value and builds it in
///   the writer's own builder, which is reset and reused, so steady state allocates nothing;
/// - **expert**: [`write_finished`](Self::write_finished) takes a builder you finished
///   yourself (you own its reuse), and [`write_payload`](Self::write_payload) takes raw bytes.
///
/// Where the frames go (the [`FrameSink`]):
/// - a file or a socket: [`StreamWriter::buffered`] gathers whole frames in a
///   [`FrameBuffer`] and writes them out in large writes. Call [`flush`](Self::flush) before
///   dropping the writer to hear of the last write's errors;
/// - a `Vec<u8>` (or a `&mut Vec<u8>`): the framers of this crate append a frame of up to
///   128 bytes of payload in one step, with one capacity check and no call to `memcpy`, the
///   fastest sink for batching frames in memory;
/// - any other [`Write`]: each frame is written to it in one or two writes, unbuffered (a
///   `BufWriter` you wrap yourself works, but takes a short frame in two copies where a
///   `FrameBuffer` takes it in one).
///
/// Every I/O error is returned with the index of the frame and the byte offset where that
/// frame began. After an I/O error, from a write or from [`flush`](Self::flush) (a buffer may
/// have been written in part), the stream may end in a partial frame, so the writer refuses
/// further writes with an error that names the earlier failure and says where the last whole
/// frame ended. A [`FrameBuffer`] also tells how many bytes reached its writer
/// ([`FrameBuffer::bytes_written`]).
pub struct StreamWriter<W, F, A: Allocator = DefaultAllocator> {
    writer: W,
    framer: F,
    /// On a cache line of its own start, so that where the writer lies does not decide how
    /// fast the builder's own fields are reset and read (see [`CacheAligned`]).
    builder: CacheAligned<FlatBufferBuilder<'static, A>>,
    /// Frames and bytes written, and the I/O error that stopped the writer, once one did.
    standing: Standing,
    memory: MemoryPolicy,
    shrink: ShrinkTracker,
    /// The builder's capacity above which each message is counted towards shrinking it: the
    /// policy's retained bytes for the writer's own builder, `usize::MAX` (never) for one
    /// supplied with [`with_builder`](StreamWriter::with_builder).
    shrink_above: usize,
    shrink_builder: Option<ShrinkBuilder<A>>,
}

/// Where the stream a [`StreamWriter`] writes stands: its [`WriteProgress`], and for a `Vec`
/// sink (`Vec<u8>` or `&mut Vec<u8>`) the mark its position is taken from.
///
/// A frame appended to a `Vec` lengthens it by the frame's bytes, so the writer does not also
/// count them one frame at a time: the position is the progress's, plus the `Vec`'s length
/// past `vec_mark`, and is brought up to date ([`StreamWriter::settle`]) only when it is
/// asked for, when an error is located, and before [`StreamWriter::get_mut`] lends the `Vec`
/// out. One read-modify-write fewer per frame: `write` of 64 B messages into a reused `Vec`
/// without a checksum went from 54.3 to 55.5 M msg/s in the code layouts where it ran fast
/// and from 46.3 to 47.4 M where it ran slow (side-by-side harness, ten layouts, AMD EPYC
/// Zen 3); in the paired bench, over the eight 64 B cells of each, `write` +0.8%,
/// `write_finished` +1.2%, `write_payload` +1.3% (the control -0.3%), but `write_finished`
/// of 64 B without a checksum on the 1 MiB stream fell from 1.00-1.03x to 0.95x the loop.
#[derive(Debug, Default)]
struct Standing {
    progress: WriteProgress,
    /// For a `Vec` sink: its length when `progress`'s position was last brought up to date.
    /// Every byte past it is of whole frames this writer appended since. Unused for other
    /// sinks.
    vec_mark: usize,
    /// The next write takes the slow way first ([`StreamWriter::attend`]): the writer was
    /// stopped, or `get_mut` lent the `Vec` out, whose length may then be anything, so
    /// `vec_mark` is taken again. While it is set, no frame lies past `vec_mark`.
    attention: bool,
}

impl Standing {
    /// Brings the position up to `end`, a `Vec` sink's length where whole frames end, and
    /// marks the `Vec` there.
    fn settle_to(&mut self, end: usize) {
        self.progress
            .add_position(end.saturating_sub(self.vec_mark));
        self.vec_mark = end;
    }
}

/// A value that starts a cache line (64 bytes), wherever the struct holding it lies.
///
/// `FlatBufferBuilder::reset` zeroes the builder's fields with 16-byte stores at offsets that
/// are not 16-byte aligned, which the next message's building reads back. Where the builder
/// lay decided whether those stores split a cache line: `write` of 64 B messages into a
/// `Vec` ran at about 47.7 or 56 M msg/s in one and the same binary, by the address the
/// process's stack happened to get: three of six runs each way with ASLR on; with ASLR off,
/// by the size of the environment. Cache-aligned, it ran at 53 to 55 M msg/s in every run
/// and at every stack position tried (AMD EPYC Zen 3, single-cell harness). Builders whose
/// data lay at two of 64 page offsets tried ran at 30 M msg/s either way (not addressed).
#[repr(align(64))]
struct CacheAligned<T>(T);

/// Brings a `Vec` sink's position back to `before` when dropped armed: the frame being
/// written panicked part-way ([`StreamWriter::unwind_safe`]).
struct Unwinding<'a> {
    standing: &'a mut Standing,
    before: usize,
    armed: bool,
}

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.standing.settle_to(self.before);
            // What lies past `before` is not of whole frames: the next write marks anew.
            self.standing.attention = true;
        }
    }
}

impl<W: std::fmt::Debug, F: std::fmt::Debug, A: Allocator> std::fmt::Debug
    for StreamWriter<W, F, A>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("writer", &self.writer)
            .field("framer", &self.framer)
            .field("frames_written", &self.standing.progress.frames_written())
            .field("position", &self.position())
            .field("failure", &self.standing.progress.failure())
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

impl<W, F, A: Allocator> StreamWriter<W, F, A> {
    /// How many frames were written in full.
    pub fn frames_written(&self) -> u64 {
        self.standing.progress.frames_written()
    }

    /// How many bytes of whole frames were written: the offset where the next frame begins.
    pub fn position(&self) -> u64 {
        self.standing.progress.position() + self.unsettled() as u64
    }

    /// The bytes of whole frames a `Vec` sink gained past its mark, not yet in the
    /// progress's position; zero for other sinks.
    fn unsettled(&self) -> usize {
        match vec_ref_of(&self.writer) {
            // Only this writer's whole frames lengthen the `Vec` while its mark stands:
            // `get_mut` settles and raises `attention` before anyone else can touch it.
            Some(out) if !self.standing.attention => {
                out.len().saturating_sub(self.standing.vec_mark)
            }
            _ => 0,
        }
    }

    /// Brings the progress's position up to date with a `Vec` sink's length.
    fn settle(&mut self) {
        if let Some(out) = vec_ref_of(&self.writer)
            && !self.standing.attention
        {
            self.standing.settle_to(out.len());
        }
    }
}

impl<W: FrameSink, F: Framer> StreamWriter<W, F> {
    /// A writer with its own builder, which grows to the largest message and is reused,
    /// and shrinks back after a spike as its [`MemoryPolicy`] says.
    pub fn new(writer: W, framer: F) -> Self {
        let mut this = Self::with_builder(writer, framer, FlatBufferBuilder::new());
        this.shrink_builder = Some(|builder, retain| {
            *builder = FlatBufferBuilder::with_capacity(retain);
        });
        this.shrink_above = this.memory.retained();
        this
    }
}

impl<W: Write, F: Framer> StreamWriter<FrameBuffer<W>, F> {
    /// A writer that gathers frames in a [`FrameBuffer`] of `buffer_size` bytes in front of
    /// `writer`: the way to write a file or a socket.
    ///
    /// Each frame is appended to the buffer whole, and the buffer is written to `writer`
    /// when the next frame would not fit, on [`flush`](Self::flush) and when the
    /// `FrameBuffer` is dropped (which ignores errors: flush before dropping to hear of
    /// them). A payload larger than the buffer goes straight to `writer` without being
    /// copied. [`into_inner`](Self::into_inner) returns the `FrameBuffer`; its own
    /// [`into_inner`](FrameBuffer::into_inner) writes it out and returns `writer`.
    ///
    /// With 64 B frames into a file this runs at 1.09–1.16× two `write_all` calls per frame
    /// into a `BufWriter` of the same size, where `StreamWriter` over that `BufWriter` ran
    /// at 0.83–0.89× (single-cell harness; `docs/benchmarks.md` has the bench).
    pub fn buffered(writer: W, framer: F, buffer_size: usize) -> Self {
        Self::new(FrameBuffer::with_capacity(buffer_size, writer), framer)
    }

    /// The old name of [`buffered`](Self::buffered), with the buffer size first.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `buffered(writer, framer, buffer_size)`"
    )]
    pub fn with_capacity(capacity: usize, writer: W, framer: F) -> Self {
        Self::buffered(writer, framer, capacity)
    }
}

impl<W: FrameSink, F: Framer, A: Allocator> StreamWriter<W, F, A> {
    /// A writer that builds simple-mode messages in `builder` (for a preallocated capacity
    /// or a custom allocator). A builder you supply is never replaced: the
    /// [`MemoryPolicy`] applies to the writer's own builder only.
    pub fn with_builder(writer: W, framer: F, builder: FlatBufferBuilder<'static, A>) -> Self {
        // The position counts this writer's frames, not what a `Vec` sink held before.
        let vec_mark = vec_ref_of(&writer).map_or(0, Vec::len);
        StreamWriter {
            writer,
            framer,
            builder: CacheAligned(builder),
            standing: Standing {
                vec_mark,
                ..Standing::default()
            },
            memory: MemoryPolicy::default(),
            shrink: ShrinkTracker::default(),
            shrink_above: usize::MAX,
            shrink_builder: None,
        }
    }

    /// Sets when the writer's own builder gives memory back after a spike (default: keep
    /// 1 MiB, shrink after 1024 messages that fit in it).
    #[must_use]
    pub fn with_memory_policy(mut self, policy: MemoryPolicy) -> Self {
        self.memory = policy;
        if self.shrink_builder.is_some() {
            self.shrink_above = policy.retained();
        }
        self
    }

    /// Serializes `message` into the writer's builder and writes it as one frame.
    ///
    /// # Errors
    ///
    /// The message's own serialization error, the framer's error, or an I/O error, each
    /// with the frame index and byte offset. Nothing is written when serialization fails.
    ///
    /// # Panics
    ///
    /// In debug builds, when `message`'s [`StreamSerialize`] implementation did not finish
    /// the buffer (`flatbuffers` asserts it).
    #[inline]
    pub fn write<T: StreamSerialize + ?Sized>(&mut self, message: &T) -> Result<()>
    where
        A: 'static,
    {
        self.ready()?;
        self.builder.0.reset();
        if let Err(error) = message.serialize(&mut self.builder.0) {
            self.settle();
            return Err(self.standing.progress.locate(error));
        }
        // What the builder holds on to, read before the payload is borrowed (the same loads).
        let capacity = self.builder.0.mut_finished_buffer().0.len();
        let payload = self.builder.0.finished_data();
        let message_len = payload.len();
        Self::write_frame(
            &mut self.writer,
            &mut self.framer,
            payload,
            &mut self.standing,
        )?;
        // The frame is written, so the builder's memory may go. One comparison of a length in
        // a register while the builder is no larger than the policy keeps.
        if capacity > self.shrink_above {
            self.count_towards_shrinking(message_len, capacity);
        }
        Ok(())
    }

    /// Counts a message built in a builder larger than the policy keeps, and makes the
    /// builder anew at the retained size once enough small messages came in a row.
    #[cold]
    #[inline(never)]
    fn count_towards_shrinking(&mut self, message_len: usize, capacity: usize) {
        if let Some(shrink_builder) = self.shrink_builder
            && self.shrink.observe(&self.memory, message_len, capacity)
        {
            shrink_builder(&mut self.builder.0, self.memory.retained());
        }
    }

    /// Writes the finished buffer of `builder` as one frame. The builder's contents are left
    /// as they are: call its `reset()` before building the next message (that keeps its
    /// memory). It is taken `&mut` so that the writer may reuse it in place in the future
    /// without an API change.
    ///
    /// # Errors
    ///
    /// The framer's error or an I/O error, with the frame index and byte offset.
    ///
    /// # Panics
    ///
    /// In debug builds, when `builder` was not finished (`flatbuffers` asserts it) and the
    /// writer was not stopped (a stopped writer refuses before it reads the builder).
    #[inline]
    pub fn write_finished<B: Allocator>(
        &mut self,
        builder: &mut FlatBufferBuilder<'_, B>,
    ) -> Result<()> {
        // The stop check before the builder is read, not `write_payload(finished_data())`:
        // a `write_finished` loop into a `Vec` without a checksum, 64 B on the 1 MiB stream,
        // went from 0.92x to 0.95x the minimal loop with AVX2 `memcpy` and from 1.08x to
        // 1.12x with glibc's own (paired bench, five code layouts each).
        self.ready()?;
        Self::write_frame(
            &mut self.writer,
            &mut self.framer,
            builder.finished_data(),
            &mut self.standing,
        )
    }

    /// Writes `payload` as one frame, as it is.
    ///
    /// # Errors
    ///
    /// The framer's error (such as a payload over 4 GiB - 1) or an I/O error, with the frame
    /// index and byte offset.
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured on the `everyday` bench cells with 64 B frames).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn write_payload(&mut self, payload: &[u8]) -> Result<()> {
        self.ready()?;
        Self::write_frame(
            &mut self.writer,
            &mut self.framer,
            payload,
            &mut self.standing,
        )
    }

    /// Writes every message in `messages`, in order, as [`write`](Self::write) would.
    ///
    /// # Errors
    ///
    /// Stops at the first error, which names its frame; the messages before it are written.
    pub fn write_batch<T: StreamSerialize>(&mut self, messages: &[T]) -> Result<()>
    where
        A: 'static,
    {
        messages.iter().try_for_each(|message| self.write(message))
    }

    /// Stops the writer as an I/O error of its own would: every later write is refused with
    /// an error that names `error`.
    ///
    /// For engines that pass the bytes this writer frames on to a sink of their own (the
    /// async writer frames into a `Vec` and writes it out) and met an error there: the stream
    /// may now end in a partial frame, so nothing more may be appended to it.
    pub fn stop(&mut self, error: &Error) {
        self.settle();
        self.standing.progress.stop(error);
        self.standing.attention = true;
    }

    /// Whether an I/O error stopped the writer.
    pub fn is_stopped(&self) -> bool {
        self.standing.progress.is_stopped()
    }

    /// Checks that the writer can still write.
    ///
    /// # Errors
    ///
    /// Once an I/O error (or [`stop`](Self::stop)) stopped it, the error every write returns,
    /// naming the first error.
    #[inline]
    pub fn check_usable(&self) -> Result<()> {
        self.standing.progress.check_usable()
    }

    /// Checks that the writer can write, in one test of a flag while it can.
    #[inline]
    fn ready(&mut self) -> Result<()> {
        if self.standing.attention {
            self.attend()
        } else {
            Ok(())
        }
    }

    /// The slow way of [`ready`](Self::ready): refuses once the writer was stopped, and
    /// otherwise takes a `Vec` sink's mark again after `get_mut` lent it out.
    #[cold]
    #[inline(never)]
    fn attend(&mut self) -> Result<()> {
        self.standing.progress.check_usable()?;
        self.standing.vec_mark = vec_ref_of(&self.writer).map_or(0, Vec::len);
        self.standing.attention = false;
        Ok(())
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// The I/O error of the flush, with the offset written so far.
    pub fn flush(&mut self) -> Result<()> {
        if let Err(error) = self.writer.flush_frames() {
            // A buffering writer may have written part of its buffer: a partial frame.
            self.settle();
            let error = self.standing.progress.locate(Error::from(error));
            self.stop(&error);
            return Err(error);
        }
        Ok(())
    }

    /// Ends the stream: writes what the framer closes it with (an encrypting framer's
    /// authenticated final frame; most framers write nothing), then flushes. The writer
    /// stays usable for [`into_inner`](Self::into_inner); a framer that wrote a final frame
    /// refuses further frames.
    ///
    /// # Errors
    ///
    /// The framer's error or an I/O error, with the frame index and byte offset.
    pub fn finish(&mut self) -> Result<()> {
        self.ready()?;
        let before = vec_of(&mut self.writer).map(|out| out.len());
        let framer = &mut self.framer;
        let finished = Self::unwind_safe(&mut self.writer, &mut self.standing, before, |writer| {
            writer.finish_frames(framer)
        });
        match finished {
            // Most framers close a stream with nothing.
            Ok(0) => {}
            finished => Self::record(&mut self.writer, &mut self.standing, before, finished)?,
        }
        self.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The underlying writer, mutably. Writing to it directly corrupts the stream.
    ///
    /// A `Vec` sink may be drained or swapped for another here (the async writer and the
    /// benches do): the position counts this writer's frames either way.
    pub fn get_mut(&mut self) -> &mut W {
        if vec_ref_of(&self.writer).is_some() {
            self.settle();
            self.standing.attention = true;
        }
        &mut self.writer
    }

    /// The framer in use.
    pub fn framer(&self) -> &F {
        &self.framer
    }

    /// Returns the sink, unflushed: for [`buffered`](Self::buffered), the [`FrameBuffer`],
    /// whose [`into_inner`](FrameBuffer::into_inner) writes it out.
    pub fn into_inner(self) -> W {
        self.writer
    }

    // A free function over the fields, so the builder's finished data can be borrowed while
    // the writer and framer are borrowed mutably.
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured on the `everyday` bench cells with 64 B frames).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn write_frame(
        writer: &mut W,
        framer: &mut F,
        payload: &[u8],
        standing: &mut Standing,
    ) -> Result<()> {
        // A `Vec` sink's length before the frame; `None` for other sinks (known at compile
        // time).
        let before = vec_of(writer).map(|out| out.len());
        let written = Self::unwind_safe(writer, standing, before, |writer| {
            writer.write_frame(framer, payload)
        });
        Self::record(writer, standing, before, written)
    }

    /// Runs `frame`, which writes a frame to `writer`. For a `Vec` sink (`before` is its
    /// length), should `frame` panic part-way (a framer's or an observer's panic, caught by
    /// the caller), the position stays at `before` and the mark is taken again at the next
    /// write: the bytes the frame left are not counted, as they are not for other sinks.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn unwind_safe(
        writer: &mut W,
        standing: &mut Standing,
        before: Option<usize>,
        frame: impl FnOnce(&mut W) -> Result<usize>,
    ) -> Result<usize> {
        let Some(before) = before else {
            return frame(writer);
        };
        let mut unwinding = Unwinding {
            standing,
            before,
            armed: true,
        };
        let written = frame(writer);
        unwinding.armed = false;
        written
    }

    /// Records what writing a frame came to: a frame of the returned length written whole,
    /// which a `Vec` sink (`before` is its length before the frame) counts in its own length,
    /// or an error located at the frame.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn record(
        writer: &mut W,
        standing: &mut Standing,
        before: Option<usize>,
        written: Result<usize>,
    ) -> Result<()> {
        match written {
            Ok(frame_len) => {
                if let Some(before) = before {
                    debug_assert_eq!(
                        vec_ref_of(writer).map(|out| out.len() - before),
                        Some(frame_len),
                        "the framer appended another length than it returned"
                    );
                    standing.progress.count_frame();
                } else {
                    standing.progress.advance(frame_len);
                }
                Ok(())
            }
            Err(error) => Err(Self::fail(writer, standing, before, error)),
        }
    }

    /// Locates an error at the frame being written, and stops the writer after an I/O
    /// error. A `Vec` sink's position is brought up to `before`, the end of the last whole
    /// frame: what the failed frame left past it is not counted.
    #[cold]
    #[inline(never)]
    fn fail(writer: &mut W, standing: &mut Standing, before: Option<usize>, error: Error) -> Error {
        if let (Some(before), Some(out)) = (before, vec_of(writer)) {
            standing.settle_to(before);
            // Past what the failed frame left, which is not counted.
            standing.vec_mark = out.len();
        }
        let error = standing.progress.fail(error);
        standing.attention |= standing.progress.is_stopped();
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DefaultFramer;

    #[test]
    fn the_builder_starts_a_cache_line_wherever_the_writer_lies() {
        for _ in 0..4 {
            let writer = Box::new(StreamWriter::new(Vec::new(), DefaultFramer::new()));
            let address = std::ptr::from_ref(&writer.builder.0).addr();
            assert_eq!(address % 64, 0);
            // On the stack too, after locals of other sizes.
            let pad = [0u8; 24];
            let writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
            assert_eq!(std::ptr::from_ref(&writer.builder.0).addr() % 64, 0);
            std::hint::black_box(pad);
        }
    }
}
