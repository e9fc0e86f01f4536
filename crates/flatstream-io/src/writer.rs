//! [`StreamWriter`]: messages in, frames out.

use std::io::Write;

use flatbuffers::{Allocator, DefaultAllocator, FlatBufferBuilder};
use flatstream_core::{Error, ErrorKind, Framer, Result, StreamSerialize};

use crate::builder_placement::{PAGE_GUARD, placed_buffer, straddles_small_messages};
use crate::frame_buffer::{FrameBuffer, FrameSink};
use crate::memory::{MemoryPolicy, ShrinkTracker};
use crate::progress::WriteProgress;
use crate::vec_sink::{vec_of, vec_ref_of};

/// Makes a builder anew with room for about the given bytes, no more than the second, placed
/// so that small messages do not straddle a page (see [`placed_buffer`]), and returns its
/// capacity; only for the default allocator, whose builders can be made anew.
type RemakeBuilder<A> = fn(&mut FlatBufferBuilder<'static, A>, usize, usize) -> usize;

/// Writes messages to `W` as frames, one after another.
///
/// Two ways to write:
/// - **simple**: [`write`](Self::write) takes any [`StreamSerialize`] value and builds it in
///   the writer's own builders (two, used in turn: see `new`), each reset and reused, so
///   steady state allocates nothing;
/// - **expert**: [`write_finished`](Self::write_finished) takes a builder you finished
///   yourself (you own its reuse), and [`write_payload`](Self::write_payload) takes raw bytes.
///
/// Where the frames go (the [`FrameSink`]):
/// - a file or a socket: [`StreamWriter::buffered`] gathers whole frames in a
///   [`FrameBuffer`] and writes them out in large writes. Call [`flush`](Self::flush) before
///   dropping the writer to hear of the last write's errors;
/// - a `Vec<u8>` (or a `&mut Vec<u8>`): the framers of this crate append a frame of up to
///   128 bytes of payload in one step, with one capacity check and no call to `memcpy`, the
///   fastest sink for batching frames in memory. As in a `FrameBuffer`, what a framer that
///   fails part-way through a frame appended is taken out again: the `Vec` holds whole
///   frames (a framer's *panic* caught by the caller leaves its bytes; the next frame is
///   counted from past them, unless [`cut_partial_frame`](Self::cut_partial_frame) cuts
///   them first);
/// - any other [`Write`]: each frame is written to it in one or two writes, unbuffered (a
///   `BufWriter` you wrap yourself works, but takes a short frame in two copies where a
///   `FrameBuffer` takes it in one).
///
/// Every I/O error is returned with the index of the frame and the byte offset where that
/// frame began. After an I/O error, from a write or from [`flush`](Self::flush) (a buffer may
/// have been written in part), the stream may end in a partial frame, so the writer refuses
/// further writes with an error that names the earlier failure and says where the last whole
/// frame ended. With [`buffered`](Self::buffered), that offset counts frames handed to the
/// [`FrameBuffer`], and its writer may have taken fewer bytes: the I/O error says how many
/// ([`Error::bytes_delivered`], as [`FrameBuffer::bytes_written`]; "disk full (frame 56 at
/// byte offset 4032; 0 bytes of the stream had reached the destination)").
pub struct StreamWriter<W, F, A: Allocator = DefaultAllocator> {
    writer: W,
    framer: F,
    /// On a cache line of its own start, so that where the writer lies does not decide how
    /// fast the builder's own fields are reset and read (see [`CacheAligned`]).
    builder: CacheAligned<FlatBufferBuilder<'static, A>>,
    /// The second builder, the writer's own or one supplied with
    /// [`with_builders`](StreamWriter::with_builders); `None` beside a single builder
    /// supplied with [`with_builder`](StreamWriter::with_builder). Messages are built in the
    /// two in turn,
    /// each builder reset a message before it builds again, so that a message never waits
    /// for the reset of its builder's fields to reach the cache (see [`Turn`]).
    spare: Option<CacheAligned<FlatBufferBuilder<'static, A>>>,
    /// Which builder builds the next message.
    turn: Turn,
    /// Frames and bytes written, and the I/O error that stopped the writer, once one did.
    standing: Standing,
    memory: MemoryPolicy,
    /// Per builder (`builder`, then `spare`): the small messages in a row it built.
    shrink: [ShrinkTracker; 2],
    /// Per builder: its capacity when it was last seen within the memory policy and well
    /// placed ([`StreamWriter::builder_changed`]), or for a supplied builder the last
    /// capacity seen; `usize::MAX` while every message it builds must be looked at after its
    /// frame (a builder over the policy counts each towards shrinking). One comparison per
    /// message while the builder stays as it is.
    settled_capacity: [usize; 2],
    /// Set for the writer's own builders, which are replaced to shrink or to move them;
    /// `None` for builders supplied with [`with_builder`](StreamWriter::with_builder) or
    /// [`with_builders`](StreamWriter::with_builders).
    remake_builder: Option<RemakeBuilder<A>>,
}

/// Which of a [`StreamWriter`]'s builders builds the next message: 0 (`builder`) or 1
/// (`spare`).
///
/// `FlatBufferBuilder::reset` zeroes its fields with two overlapping 16-byte stores, and the
/// next message's first steps read them back. Compiled in one order, a load of the field
/// the two stores share needs bytes of both, so the CPU cannot forward it from the stores
/// and waits until both reach the cache. Where `reset` and the build are compiled together
/// in a function of their own (a program's per-message function, or `write` not inlined),
/// this cost the minimal loop a third: 64 B messages at 36.3 M msg/s, against 53.4 M with
/// the same loop inlined into its caller (paired bench, AMD EPYC Zen 3). Storing the
/// shared bytes once more right after `reset` (by hand, in a harness) took it back to
/// 54 M, so it is that load.
///
/// So the writer's own two builders build the messages in turn, and each message starts by
/// resetting the *other* builder, which holds the message before: a builder is reset a
/// whole message before it builds again, long enough for the stores to reach the cache.
/// Written from such a function, `write` runs at 1.19 to 1.37x the same loop at 64 B. A
/// message whose serialization fails or panics midway leaves its builder to the next
/// message, which finds [`Turn::UNFINISHED`] and makes it anew ([`renew`]); the turn has
/// moved on already. Two builders supplied with [`StreamWriter::with_builders`] take turns
/// the same way; a single one supplied with [`StreamWriter::with_builder`] is the only one,
/// and is reset at the start of each message.
///
/// Whether the turn goes back and forth is not stored: it does when there is a `spare`.
#[derive(Debug, Clone, Copy)]
struct Turn {
    /// The builder of the next message, with [`Turn::UNFINISHED`] when the message before
    /// stopped before it was built (its serialization failed or panicked).
    next: usize,
}

impl Turn {
    /// Set from the start of a message until it is built: found set, the builder of the
    /// message before may hold part of a table, which `reset` does not forget (see
    /// [`renew`]).
    const UNFINISHED: usize = 2;
}

/// Makes `builder` anew around the same buffer: what a message that stopped midway left in
/// it is gone, and its allocation and `force_defaults` setting are kept.
///
/// `FlatBufferBuilder::reset` does not clear the fields of a table begun and never ended
/// (`field_locs`, cleared by `end_table` only): the next table built would get a vtable
/// entry for each, a frame silently wrong. The reset zeroes the bytes the message wrote, so
/// the buffer is as a new builder's. `new_in` turns `force_defaults` off, and the builder
/// has no getter for it: [`forces_defaults`] finds it out first.
#[cold]
#[inline(never)]
fn renew<A: Allocator>(builder: &mut FlatBufferBuilder<'static, A>) {
    let forced = forces_defaults(builder);
    builder.reset();
    // SAFETY: `*builder` is read out and a builder written back in its place, and nothing
    // between them looks at `*builder`. `collapse_in` calls the allocator's `Deref` (a
    // user's allocator may panic there), moves the allocator out and drops the other fields
    // (`Vec`s of plain values); `new_in` moves the allocator into a new builder. A panic
    // between the read and the write would drop the moved-out builder while unwinding and
    // leave its bits in `*builder` to be dropped again, so `AbortOnUnwind` turns such a
    // panic into an abort: the moved-out value is never used or dropped twice.
    #[allow(unsafe_code)]
    unsafe {
        let guard = AbortOnUnwind;
        let (allocator, _) = std::ptr::read(builder).collapse_in();
        std::ptr::write(builder, FlatBufferBuilder::new_in(allocator));
        std::mem::forget(guard);
    }
    builder.force_defaults(forced);
}

/// Aborts the process when dropped: held across a span that must not unwind.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

/// Whether `builder` writes a field equal to its default (`force_defaults(true)`): asked by
/// writing such a field into a table begun for the question. Leaves the builder holding
/// that table: reset and renew it after.
fn forces_defaults<A: Allocator>(builder: &mut FlatBufferBuilder<'static, A>) -> bool {
    builder.reset();
    let _table = builder.start_table();
    let before = builder.unfinished_data().len();
    builder.push_slot::<u8>(4, 0, 0);
    builder.unfinished_data().len() != before
}

/// Where the stream a [`StreamWriter`] writes stands: its [`WriteProgress`], and for a `Vec`
/// sink (`Vec<u8>` or `&mut Vec<u8>`) where in the `Vec` its whole frames lie.
///
/// A frame appended to a `Vec` is not counted into the progress one frame at a time: the
/// writer notes the `Vec`'s length where the frame ended (`vec_end`, a store of a value in a
/// register), and the position is the progress's plus `vec_end - vec_mark`, brought up to
/// date ([`StreamWriter::settle`]) when an error is located. Before each frame, the `Vec`'s
/// length is compared with `vec_end`: another length means someone else changed the `Vec`
/// (drained or swapped it through [`StreamWriter::get_mut`], or a framer panicked part-way
/// through a frame and the panic was caught), and the slow way
/// ([`StreamWriter::attend`]) marks it anew. What the `Vec` holds never enters the count.
///
/// Session 14 had a guard that settled the position when a framer panicked. Its landing pad
/// cost the frames into a `Vec` much: in the paired bench (three runs, 1 MiB stream),
/// `write_payload` of 64 B without a checksum ran at 0.85x its minimal loop with it and
/// 0.94x with this comparison, `write_finished` with XXH3 at 0.88x and 1.01x (AMD EPYC
/// Zen 3). The comparison covers the same panic.
#[derive(Debug, Default)]
struct Standing {
    progress: WriteProgress,
    /// For a `Vec` sink: its length when `progress`'s position was last brought up to date;
    /// `usize::MAX` once the writer is stopped. Unused for other sinks (0).
    vec_mark: usize,
    /// For a `Vec` sink: its length where this writer's last whole frame ended, at or past
    /// `vec_mark`: every byte between the two is of whole frames this writer appended. A
    /// `Vec` of another length when a frame begins was changed by someone else.
    /// `usize::MAX` once the writer is stopped, which no `Vec` is long: every write takes
    /// the slow way and is refused. Unused for other sinks (0).
    vec_end: usize,
    /// The writer was stopped: the next write to a sink other than a `Vec` takes the slow
    /// way and is refused. (A `Vec` sink's writer finds it by `vec_end`.)
    stopped: bool,
}

impl Standing {
    /// A standing for a sink that is a `Vec` of `vec_len` bytes, or another sink (`None`).
    fn new(vec_len: Option<usize>) -> Self {
        let at = vec_len.unwrap_or(0);
        Standing {
            vec_mark: at,
            vec_end: at,
            ..Standing::default()
        }
    }

    /// Bytes of whole frames in a `Vec` sink past its mark, not yet in the progress's
    /// position; zero for other sinks and once stopped.
    fn unsettled(&self) -> usize {
        self.vec_end.saturating_sub(self.vec_mark)
    }

    /// Brings the progress's position up to the end of the last whole frame.
    fn settle(&mut self) {
        self.progress.add_position(self.unsettled());
        self.vec_mark = self.vec_end;
    }

    /// Marks a `Vec` sink anew at its length `vec_len`, after settling: what lies between
    /// the last whole frame and that length is not this writer's frames.
    fn mark_at(&mut self, vec_len: usize) {
        self.settle();
        self.vec_mark = vec_len;
        self.vec_end = vec_len;
    }

    /// Stops the writer after `error`: every later write is refused.
    fn stop(&mut self, error: &Error) {
        self.settle();
        self.progress.stop(error);
        self.refuse();
    }

    /// Sends every later write the slow way, which refuses it: the progress is stopped, and
    /// the position settled.
    fn refuse(&mut self) {
        self.stopped = true;
        self.vec_mark = usize::MAX;
        self.vec_end = usize::MAX;
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
/// and at every stack position tried (AMD EPYC Zen 3, single-cell harness). Where the
/// builder's *buffer* ends matters too (small messages straddling a page ran at 0.57x); the
/// writer's own builder is placed for that when it grows (see `builder_placement`).
#[repr(align(64))]
struct CacheAligned<T>(T);

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
        self.standing.progress.position() + self.standing.unsettled() as u64
    }
}

impl<W: FrameSink, F: Framer> StreamWriter<W, F> {
    /// A writer with its own builders, which grow to the largest message and are reused, and
    /// shrink back after a spike as its [`MemoryPolicy`] says (each builder on its own).
    ///
    /// There are two, which build the messages in turn, each reset a message before it
    /// builds again: where `write` is called from a function that is not inlined into a
    /// loop (in a program of some size, most of them), one builder reset at the start of
    /// each message made 64 B messages wait for its fields, at 0.67x the same loop inlined
    /// (paired bench, AMD EPYC Zen 3). Each may hold up to the policy's `retain` between
    /// spikes; large messages that keep coming grow both to the largest, and each shrinks
    /// once it has built `after` small ones in a row (so after about twice `after`
    /// messages). Each time a builder's capacity changes, it is placed so that messages of
    /// up to 256 bytes do not straddle a page (see [`placed_builder`](crate::placed_builder)).
    pub fn new(writer: W, framer: F) -> Self {
        let mut this = Self::with_builder(writer, framer, FlatBufferBuilder::new());
        this.spare = Some(CacheAligned(FlatBufferBuilder::new()));
        // Both new: nothing to make anew.
        this.turn = Turn { next: 0 };
        this.remake_builder = Some(|builder, capacity, at_most| {
            let buffer = placed_buffer(capacity, at_most);
            let capacity = buffer.len();
            *builder = FlatBufferBuilder::from_vec(buffer);
            capacity
        });
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
    /// [`MemoryPolicy`] applies to the writer's own builders only. A supplied builder is the
    /// only one: it builds every message, reset at the start of each. For a preallocated one,
    /// take [`placed_builder`](crate::placed_builder) rather than
    /// `FlatBufferBuilder::with_capacity`, whose large buffers make each small message
    /// straddle a page.
    ///
    /// Where `write` is called from a function that is not inlined into your loop, prefer
    /// [`with_builders`](Self::with_builders): a single builder's reset is compiled beside
    /// the build that reads it back, and the build waits for it. 64 B messages written that
    /// way ran at 37 M msg/s with one supplied builder and 54 M with the writer's own two
    /// (AMD EPYC Zen 3, harness outside the repository); two supplied builders run as the
    /// writer's own, at 1.18 to 1.30x the minimal loop written the same way (paired bench,
    /// `docs/benchmarks.md`).
    pub fn with_builder(writer: W, framer: F, builder: FlatBufferBuilder<'static, A>) -> Self {
        // The position counts this writer's frames, not what a `Vec` sink held before.
        let standing = Standing::new(vec_ref_of(&writer).map(Vec::len));
        StreamWriter {
            writer,
            framer,
            builder: CacheAligned(builder),
            spare: None,
            // A supplied builder may hold part of a message: made anew before the first.
            turn: Turn {
                next: Turn::UNFINISHED,
            },
            standing,
            memory: MemoryPolicy::default(),
            shrink: [ShrinkTracker::default(); 2],
            settled_capacity: [usize::MAX; 2],
            remake_builder: None,
        }
    }

    /// A writer that builds simple-mode messages in two builders you supply, in turn, as
    /// [`new`](StreamWriter::new) does with its own: each message is built in one while the
    /// other, which holds the message before, is reset, a whole message before it builds
    /// again. Take it over [`with_builder`](Self::with_builder) for a preallocated capacity
    /// or a custom allocator where `write` is called from a function that is not inlined
    /// into your loop.
    ///
    /// Neither builder's buffer is ever replaced or moved, and the [`MemoryPolicy`] does not
    /// apply to them. Whatever either holds (part of a message too) is reset and forgotten
    /// here; the buffers and each builder's `force_defaults` setting are kept.
    /// For preallocated ones, take two [`placed_builder`](crate::placed_builder)s.
    ///
    /// ```
    /// use flatstream_io::{DefaultFramer, StreamWriter, placed_builder};
    ///
    /// let mut writer = StreamWriter::with_builders(
    ///     Vec::new(),
    ///     DefaultFramer::new(),
    ///     placed_builder(64 << 10),
    ///     placed_builder(64 << 10),
    /// );
    /// writer.write("first")?;
    /// writer.write("second")?;
    /// assert_eq!(writer.frames_written(), 2);
    /// # Ok::<(), flatstream_core::Error>(())
    /// ```
    pub fn with_builders(
        writer: W,
        framer: F,
        first: FlatBufferBuilder<'static, A>,
        second: FlatBufferBuilder<'static, A>,
    ) -> Self {
        let mut this = Self::with_builder(writer, framer, first);
        this.spare = Some(CacheAligned(second));
        // Both made anew now (the first message builds in `first` and resets `second`).
        for turn in 0..2 {
            renew(this.builder_at(turn));
        }
        this.turn = Turn { next: 0 };
        this
    }

    /// Sets when the writer's own builders give memory back after a spike (default: each
    /// keeps 1 MiB, and shrinks after 1024 messages it built that fit in that).
    #[must_use]
    pub fn with_memory_policy(mut self, policy: MemoryPolicy) -> Self {
        self.memory = policy;
        // Each builder is looked at again after its next frame, under the new policy.
        self.settled_capacity = [usize::MAX; 2];
        self
    }

    /// Serializes `message` into one of the writer's builders (or of the ones you supplied)
    /// and writes it as one frame.
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
    // Always: left to `#[inline]`, LLVM did not inline it once the bench called it from two
    // places, and 64 B messages ran at 0.65x the inlined minimal loop (paired bench).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn write<T: StreamSerialize + ?Sized>(&mut self, message: &T) -> Result<()>
    where
        A: 'static,
    {
        self.ready()?;
        let turn = self.turn.next;
        let unfinished = turn & Turn::UNFINISHED != 0;
        let turn = turn & 1;
        // This message's builder was reset at the start of the message before. The other
        // one, which holds that message, is reset now, a message before it builds again (see
        // `Turn`); made anew if that message stopped midway.
        let (builder, next) = if let Some(spare) = &mut self.spare {
            let (mine, other) = if turn == 0 {
                (&mut self.builder.0, &mut spare.0)
            } else {
                (&mut spare.0, &mut self.builder.0)
            };
            other.reset();
            if unfinished {
                renew(other);
            }
            (mine, turn ^ 1)
        } else {
            self.builder.0.reset();
            if unfinished {
                renew(&mut self.builder.0);
            }
            (&mut self.builder.0, 0)
        };
        // Until this message is built, the builder it is built in counts as unfinished.
        self.turn.next = next | Turn::UNFINISHED;
        if let Err(error) = message.serialize(builder) {
            self.standing.settle();
            return Err(self.standing.progress.locate(error));
        }
        self.turn.next = next;
        // What the builder holds on to, read before the payload is borrowed (the same loads).
        let capacity = builder.mut_finished_buffer().0.len();
        let payload = builder.finished_data();
        let message_len = payload.len();
        Self::write_frame(
            &mut self.writer,
            &mut self.framer,
            payload,
            &mut self.standing,
        )?;
        // The frame is written, so the builder may be replaced. One comparison of a length in
        // a register while the builder stays as it was.
        if capacity != self.settled_capacity[turn] {
            self.builder_changed(message_len, capacity, turn);
        }
        Ok(())
    }

    /// The builder of turn `turn`: `builder` (0), or `spare` (1) when there is one.
    fn builder_at(&mut self, turn: usize) -> &mut FlatBufferBuilder<'static, A> {
        match &mut self.spare {
            Some(spare) if turn == 1 => &mut spare.0,
            _ => &mut self.builder.0,
        }
    }

    /// Looks at the builder of turn `turn` when its capacity changed (it grew, or it is new)
    /// or it is larger than the memory policy keeps, after it built a message of
    /// `message_len` bytes that was framed.
    ///
    /// The writer's own builder is made anew:
    /// - at the retained size, once enough small messages came in a row while it was larger;
    /// - where it lies, when its buffer ends too close to a page's start, which makes every
    ///   small message built at its end straddle a page (see [`placed_buffer`]). A builder
    ///   over the policy is placed too: large messages may keep it that size for long.
    ///
    /// Placing may lengthen a builder by up to `PAGE_GUARD` bytes, so a builder that much
    /// over the retained size counts as within the policy: it is not shrunk for that alone,
    /// and is never shortened to fit the policy (a message of just under the retained size
    /// would then grow it to twice that again).
    ///
    /// A supplied builder is never replaced; its capacity is only noted.
    #[cold]
    #[inline(never)]
    fn builder_changed(&mut self, message_len: usize, capacity: usize, turn: usize) {
        let Some(remake_builder) = self.remake_builder else {
            self.settled_capacity[turn] = capacity;
            return;
        };
        let retained = self.memory.retained();
        let within_policy = retained.saturating_add(PAGE_GUARD);
        // Counted only while the builder is over the policy.
        let shrink_now = capacity > within_policy
            && self.shrink[turn].observe(&self.memory, message_len, capacity);
        let builder = self.builder_at(turn);
        let straddles = straddles_small_messages(builder.mut_finished_buffer().0);
        let settled = if capacity <= within_policy {
            // Placed as well as it can be: looked at again when its capacity changes.
            if straddles {
                remake_builder(builder, capacity, within_policy)
            } else {
                capacity
            }
        } else if shrink_now {
            remake_builder(builder, retained, within_policy)
        } else {
            if straddles {
                remake_builder(builder, capacity, usize::MAX);
            }
            // Over the policy: the next message it builds is counted too.
            usize::MAX
        };
        self.settled_capacity[turn] = settled;
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
    // Always, as `write` and `write_payload`: left to `#[inline]`, LLVM kept it out of a loop
    // that called it from three functions, and one 64 B message written again and again into
    // a `Vec` ran at 209 M msg/s against 333 M inlined (harness outside the repository, AMD
    // EPYC Zen 3; 66 against 26 instructions a message by callgrind).
    #[allow(clippy::inline_always)]
    #[inline(always)]
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
        self.standing.stop(error);
    }

    /// For a `Vec` sink that only this writer appends to: cuts what a framer that panicked
    /// part-way through a frame (the panic caught by the caller) left past the end of the
    /// last whole frame, and returns how many bytes that was; 0 for other sinks, for a `Vec`
    /// that holds nothing past the last whole frame, and once the writer is stopped.
    ///
    /// A framer that *returns* an error part-way leaves nothing (its bytes are taken out at
    /// once); a panic leaves its bytes, since no guard watches for one on the per-frame path
    /// (it cost small frames up to 15%). Without this call the next write counts from past
    /// them, and they stay in the `Vec` between whole frames. For engines that send the `Vec`
    /// on (the async writer of `flatstream-tokio` calls it before each frame and before each
    /// send). Bytes you append yourself through [`get_mut`](Self::get_mut), or a longer
    /// `Vec` swapped in there, look the same and are cut too; after bytes drained from the
    /// front of the `Vec` there, it cuts that many bytes too few, leaving part of the torn
    /// frame. Call it only where nothing else appends to, drains or swaps the `Vec` (clearing
    /// it whole is fine).
    pub fn cut_partial_frame(&mut self) -> usize {
        let vec_end = self.standing.vec_end;
        match vec_of(&mut self.writer) {
            Some(out) if out.len() > vec_end => {
                let cut = out.len() - vec_end;
                out.truncate(vec_end);
                cut
            }
            _ => 0,
        }
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

    /// Checks that the writer can write: for a `Vec` sink, that the `Vec` is as long as this
    /// writer's last whole frame left it; for another sink, one test of a flag.
    #[inline]
    fn ready(&mut self) -> Result<()> {
        let as_left = match vec_ref_of(&self.writer) {
            Some(out) => out.len() == self.standing.vec_end,
            None => !self.standing.stopped,
        };
        if as_left { Ok(()) } else { self.attend() }
    }

    /// The slow way of [`ready`](Self::ready): refuses once the writer was stopped, and
    /// otherwise marks a `Vec` sink anew at its length, which someone else changed.
    #[cold]
    #[inline(never)]
    fn attend(&mut self) -> Result<()> {
        self.standing.progress.check_usable()?;
        if let Some(out) = vec_ref_of(&self.writer) {
            self.standing.mark_at(out.len());
        }
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
            self.standing.settle();
            let error = self.standing.progress.locate(Error::from(error));
            let error = Self::with_delivered(&self.writer, error);
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
        match self.writer.finish_frames(&mut self.framer) {
            // Most framers close a stream with nothing.
            Ok(0) => {}
            finished => Self::record(&mut self.writer, &mut self.standing, finished)?,
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
    /// benches do): the position counts this writer's frames either way, and the next write
    /// finds the `Vec` changed by its length.
    pub fn get_mut(&mut self) -> &mut W {
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
        let written = writer.write_frame(framer, payload);
        Self::record(writer, standing, written)
    }

    /// Records what writing a frame came to: a frame of the returned length written whole,
    /// or an error located at the frame.
    ///
    /// Called after [`ready`](Self::ready) passed, so a `Vec` sink's frame began at
    /// `vec_end`; it ends where the `Vec` now does. Read back from the `Vec`, not kept from
    /// before the frame: the length kept across the framer's copy was spilled to the stack
    /// and added again (`write` of 64 B without a checksum: 0.89x the minimal loop with it,
    /// paired bench, AMD EPYC Zen 3).
    ///
    /// No guard watches for a framer's panic: a frame cut short by one leaves `vec_end`
    /// where the frame began, so the next write finds the `Vec` longer and marks it anew
    /// ([`ready`](Self::ready)).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn record(writer: &mut W, standing: &mut Standing, written: Result<usize>) -> Result<()> {
        match written {
            Ok(frame_len) => {
                if let Some(out) = vec_ref_of(writer) {
                    debug_assert_eq!(
                        out.len().checked_sub(standing.vec_end),
                        Some(frame_len),
                        "the framer appended another length than it returned"
                    );
                    standing.vec_end = out.len();
                    standing.progress.count_frame();
                } else {
                    standing.progress.advance(frame_len);
                }
                Ok(())
            }
            Err(error) => Err(Self::fail(writer, standing, error)),
        }
    }

    /// Notes on an I/O error how many bytes of the stream a buffering sink had handed on to
    /// its destination: the error's offset is where the frame being buffered began, and the
    /// destination may end well before it.
    fn with_delivered(writer: &W, error: Error) -> Error {
        match writer.bytes_delivered() {
            Some(bytes) if matches!(error.kind(), ErrorKind::Io(_)) => {
                error.with_bytes_delivered(bytes)
            }
            _ => error,
        }
    }

    /// Locates an error at the frame being written, and stops the writer after an I/O
    /// error. What the failed frame left in a `Vec` sink (past `vec_end`, where the frame
    /// began) is taken out again, as a [`FrameBuffer`] does: the `Vec` holds whole frames
    /// only, and its position stays at the end of the last.
    #[cold]
    #[inline(never)]
    fn fail(writer: &mut W, standing: &mut Standing, error: Error) -> Error {
        if let Some(out) = vec_of(writer) {
            out.truncate(standing.vec_end);
        }
        standing.settle();
        // An I/O error stops the progress here, with this error.
        let error = standing.progress.fail(Self::with_delivered(writer, error));
        if standing.progress.is_stopped() {
            standing.refuse();
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DefaultFramer;

    /// A builder whose buffer ends 16 bytes into a page, where glibc ends every buffer of a
    /// large power of two: each small message built in it straddles the page boundary.
    fn builder_ending_16_bytes_into_a_page() -> FlatBufferBuilder<'static> {
        let mut buffer: Vec<u8> = Vec::with_capacity(3 * 4096);
        let start = buffer.as_ptr().addr();
        let len = 4096 + (4096 + 16 - start % 4096) % 4096;
        buffer.resize(len, 0);
        let mut builder = FlatBufferBuilder::from_vec(buffer);
        assert!(straddles(&mut builder));
        builder
    }

    /// The address and length of `builder`'s whole buffer.
    fn buffer_of(builder: &mut FlatBufferBuilder<'static>) -> (usize, usize) {
        let buffer = builder.mut_finished_buffer().0;
        (buffer.as_ptr().addr(), buffer.len())
    }

    /// Whether small payloads built at the end of `builder`'s buffer straddle a page.
    fn straddles(builder: &mut FlatBufferBuilder<'static>) -> bool {
        straddles_small_messages(builder.mut_finished_buffer().0)
    }

    /// The frame `DefaultFramer` makes of `payload`.
    fn frame_of(payload: &[u8]) -> Vec<u8> {
        let mut frame = u32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn the_builder_starts_a_cache_line_wherever_the_writer_lies() {
        for _ in 0..4 {
            let mut writer = Box::new(StreamWriter::new(Vec::new(), DefaultFramer::new()));
            let address = std::ptr::from_ref(&writer.builder.0).addr();
            assert_eq!(address % 64, 0);
            assert_eq!(std::ptr::from_mut(writer.builder_at(1)).addr() % 64, 0);
            // On the stack too, after locals of other sizes.
            let pad = [0u8; 24];
            let writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
            assert_eq!(std::ptr::from_ref(&writer.builder.0).addr() % 64, 0);
            std::hint::black_box(pad);
        }
    }

    /// A 60-byte string message: a 64 B finished buffer.
    const SMALL: &str = "a reading of sixty bytes, as telemetry sends them by millions";

    #[test]
    fn the_own_builders_are_moved_when_small_messages_would_straddle_a_page() {
        let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
        let before = [0, 1].map(|turn| {
            *writer.builder_at(turn) = builder_ending_16_bytes_into_a_page();
            buffer_of(writer.builder_at(turn))
        });
        for _ in 0..4 {
            writer.write(SMALL).unwrap();
        }
        for (turn, before) in before.into_iter().enumerate() {
            let after = buffer_of(writer.builder_at(turn));
            assert_ne!(after.0, before.0, "builder {turn} was not made anew");
            assert!(after.1 >= before.1, "builder {turn} is smaller: {after:?}");
            assert!(!straddles(writer.builder_at(turn)));
        }
        // The frames are those of the messages, written before and after the moves.
        let mut builder = FlatBufferBuilder::new();
        SMALL.serialize(&mut builder).unwrap();
        let frame = frame_of(builder.finished_data());
        assert_eq!(writer.get_ref(), &frame.repeat(4));
        assert_eq!(writer.position(), writer.get_ref().len() as u64);
    }

    /// The memory policy's retained bytes in the growth test: 1 MiB, which glibc ends 16
    /// bytes into a page; under Miri, whose interpreter takes minutes over megabytes, 16 KiB.
    const RETAIN: usize = if cfg!(miri) { 16 << 10 } else { 1 << 20 };

    #[test]
    fn the_own_builder_is_placed_after_growing_and_after_shrinking() {
        let policy = MemoryPolicy::new().retain(RETAIN).after(4);
        let mut writer =
            StreamWriter::new(Vec::new(), DefaultFramer::new()).with_memory_policy(policy);
        // 60% of it grows a builder to exactly the retained size; written twice, both.
        let grown = RETAIN / 10 * 6;
        for _ in 0..2 {
            writer.write("x".repeat(grown).as_str()).unwrap();
        }
        for turn in 0..2 {
            assert!(buffer_of(writer.builder_at(turn)).1 >= grown);
            assert!(!straddles(writer.builder_at(turn)));
        }
        // Three times it grows each builder past the policy; four small messages each
        // builder builds shrink it (the two build in turn).
        for _ in 0..2 {
            writer.write("y".repeat(3 * RETAIN).as_str()).unwrap();
        }
        for _ in 0..7 {
            writer.write(SMALL).unwrap();
        }
        // The first builder built four small messages, the second three: not yet shrunk.
        assert!(buffer_of(writer.builder_at(1)).1 > 2 * RETAIN);
        writer.write(SMALL).unwrap();
        for turn in 0..2 {
            let (_, len) = buffer_of(writer.builder_at(turn));
            assert!(
                len <= RETAIN + PAGE_GUARD && len > RETAIN / 2,
                "builder {turn} not shrunk to the policy: {len}"
            );
            assert!(!straddles(writer.builder_at(turn)));
        }
        // Steady from there: small messages leave the builders where they are.
        let placed = [
            buffer_of(writer.builder_at(0)),
            buffer_of(writer.builder_at(1)),
        ];
        for _ in 0..100 {
            writer.write(SMALL).unwrap();
        }
        assert_eq!(
            [
                buffer_of(writer.builder_at(0)),
                buffer_of(writer.builder_at(1))
            ],
            placed
        );
    }

    #[test]
    fn a_builder_of_the_retained_size_may_be_placed_longer_and_is_then_left_alone() {
        thread_local! {
            /// The capacity and the limit the writer asked its builder to be made anew with.
            static ASKED: std::cell::Cell<Option<(usize, usize)>> =
                const { std::cell::Cell::new(None) };
        }
        let mut builder = builder_ending_16_bytes_into_a_page();
        let capacity = buffer_of(&mut builder).1;
        let policy = MemoryPolicy::new().retain(capacity).after(2);
        let mut writer =
            StreamWriter::new(Vec::new(), DefaultFramer::new()).with_memory_policy(policy);
        let remake = writer.remake_builder.unwrap();
        writer.remake_builder = Some(|builder, capacity, at_most| {
            ASKED.with(|asked| asked.set(Some((capacity, at_most))));
            let buffer = placed_buffer(capacity, at_most);
            let len = buffer.len();
            *builder = FlatBufferBuilder::from_vec(buffer);
            len
        });
        writer.builder.0 = builder;
        writer.write(SMALL).unwrap();
        // Allowed to be longer than the policy keeps, not shortened to fit it: a message of
        // just under the retained size would then grow it to twice that, and the policy
        // shrink it back, again and again. (Where the new buffer lands decides whether it
        // needs the room; `placed_len`'s tests show it is taken.)
        assert_eq!(
            ASKED.with(std::cell::Cell::get),
            Some((capacity, capacity + PAGE_GUARD))
        );
        let placed = buffer_of(&mut writer.builder.0);
        assert!(placed.1 >= capacity, "{placed:?}");
        assert!(!straddles(&mut writer.builder.0));
        // Within the policy as placed: more messages than `after` leave it where it is.
        writer.remake_builder = Some(remake);
        for _ in 0..10 {
            writer.write(SMALL).unwrap();
        }
        assert_eq!(buffer_of(&mut writer.builder.0), placed);
    }

    #[test]
    fn a_builder_over_the_policy_is_placed_while_it_waits_to_shrink() {
        let mut builder = builder_ending_16_bytes_into_a_page();
        let capacity = buffer_of(&mut builder).1;
        // Far over what the policy keeps, and many messages from shrinking.
        let policy = MemoryPolicy::new().retain(capacity / 8).after(1000);
        let mut writer =
            StreamWriter::new(Vec::new(), DefaultFramer::new()).with_memory_policy(policy);
        writer.builder.0 = builder;
        writer.write(SMALL).unwrap();
        let placed = buffer_of(&mut writer.builder.0);
        assert!(placed.1 >= capacity, "{placed:?}");
        assert!(!straddles(&mut writer.builder.0));
        for _ in 0..10 {
            writer.write(SMALL).unwrap();
        }
        assert_eq!(buffer_of(&mut writer.builder.0), placed);
    }

    /// Builds part of a table (a string and a started table, so the builder holds bytes, is
    /// nested and has a larger alignment), then fails or panics as `how` says.
    struct LeavesTheBuilderMidway {
        how: &'static str,
    }

    impl StreamSerialize for LeavesTheBuilderMidway {
        fn serialize<'fbb, B: Allocator + 'fbb>(
            &self,
            builder: &mut FlatBufferBuilder<'fbb, B>,
        ) -> Result<()> {
            builder.create_string("part of a message");
            let _table = builder.start_table();
            builder.push_slot_always::<u64>(4, 7);
            match self.how {
                "panic" => panic!("the message panics midway"),
                _ => Err(Error::invalid_frame("the message fails midway")),
            }
        }
    }

    /// A message that is a table of one `u64` field (slot 6), as generated code builds one.
    struct Table(u64);

    impl StreamSerialize for Table {
        fn serialize<'fbb, B: Allocator + 'fbb>(
            &self,
            builder: &mut FlatBufferBuilder<'fbb, B>,
        ) -> Result<()> {
            let table = builder.start_table();
            builder.push_slot_always::<u64>(6, self.0);
            let table = builder.end_table(table);
            builder.finish_minimal(table);
            Ok(())
        }
    }

    /// The frames `messages` make, each built in a fresh builder.
    fn fresh_frames<T: StreamSerialize + ?Sized>(messages: &[&T]) -> Vec<u8> {
        messages
            .iter()
            .flat_map(|message| {
                let mut builder = FlatBufferBuilder::new();
                message.serialize(&mut builder).unwrap();
                frame_of(builder.finished_data())
            })
            .collect()
    }

    #[test]
    fn two_builders_take_turns_and_frame_what_a_fresh_builder_would() {
        let messages = ["a", "bc", SMALL, &"d".repeat(5000), "e", SMALL, "fgh"];
        // The writer's own two, and two supplied.
        let writers = [
            (false, StreamWriter::new(Vec::new(), DefaultFramer::new())),
            (
                true,
                StreamWriter::with_builders(
                    Vec::new(),
                    DefaultFramer::new(),
                    FlatBufferBuilder::new(),
                    FlatBufferBuilder::new(),
                ),
            ),
        ];
        for (supplied, mut writer) in writers {
            for (index, message) in messages.iter().enumerate() {
                assert_eq!(writer.turn.next, index % 2, "message {index}");
                writer.write(*message).unwrap();
                // The other builder, which held the message before, was reset.
                let other = writer.builder_at(1 - index % 2);
                assert!(other.unfinished_data().is_empty());
                // A supplied builder still holds the message it built (the writer's own may
                // have been placed anew after it grew).
                if supplied {
                    assert!(!writer.builder_at(index % 2).unfinished_data().is_empty());
                }
            }
            assert_eq!(*writer.get_ref(), fresh_frames(&messages));
        }
        // A supplied builder builds every message.
        let mut writer =
            StreamWriter::with_builder(Vec::new(), DefaultFramer::new(), FlatBufferBuilder::new());
        for message in messages {
            writer.write(message).unwrap();
            assert_eq!(writer.turn.next, 0);
        }
        assert_eq!(*writer.get_ref(), fresh_frames(&messages));
    }

    #[test]
    fn a_message_that_fails_or_panics_midway_leaves_nothing_in_the_next_one() {
        let writers = || {
            [
                StreamWriter::new(Vec::new(), DefaultFramer::new()),
                StreamWriter::with_builder(
                    Vec::new(),
                    DefaultFramer::new(),
                    FlatBufferBuilder::new(),
                ),
                StreamWriter::with_builders(
                    Vec::new(),
                    DefaultFramer::new(),
                    FlatBufferBuilder::new(),
                    FlatBufferBuilder::new(),
                ),
            ]
        };
        for how in ["error", "panic"] {
            // The message that stops midway in either builder's turn (after one message or
            // two), then tables: a table built in a builder that still held the stopped
            // message's field would get a vtable entry for it.
            for before in [1, 2] {
                for mut writer in writers() {
                    for index in 0..before {
                        writer.write(&Table(index)).unwrap();
                    }
                    let midway = LeavesTheBuilderMidway { how };
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        writer.write(&midway)
                    }));
                    match outcome {
                        Ok(result) => assert!(result.is_err(), "{how}"),
                        Err(_) => assert_eq!(how, "panic"),
                    }
                    let after = [10, 11, 12, 13].map(Table);
                    for table in &after {
                        writer.write(table).unwrap();
                    }
                    let before: Vec<Table> = (0..before).map(Table).collect();
                    let expected: Vec<&Table> = before.iter().chain(&after).collect();
                    assert_eq!(*writer.get_ref(), fresh_frames(&expected), "{how}");
                }
            }
        }
    }

    /// A builder that holds part of a table: a string and a field of a table never ended.
    fn builder_midway(field: u64) -> FlatBufferBuilder<'static> {
        let mut builder = FlatBufferBuilder::new();
        builder.create_string("left in the builder");
        let _table = builder.start_table();
        builder.push_slot_always::<u64>(4, field);
        builder
    }

    #[test]
    fn a_supplied_builder_that_holds_part_of_a_message_is_made_anew_before_the_first() {
        let mut writer =
            StreamWriter::with_builder(Vec::new(), DefaultFramer::new(), builder_midway(7));
        writer.write(&Table(1)).unwrap();
        assert_eq!(*writer.get_ref(), fresh_frames(&[&Table(1)]));
        // Two supplied builders, each holding part of a table: the first two messages are
        // built one in each.
        let mut writer = StreamWriter::with_builders(
            Vec::new(),
            DefaultFramer::new(),
            builder_midway(7),
            builder_midway(8),
        );
        for index in 1..4 {
            writer.write(&Table(index)).unwrap();
        }
        assert_eq!(
            *writer.get_ref(),
            fresh_frames(&[&Table(1), &Table(2), &Table(3)])
        );
    }

    /// A table whose one field (slot 4) holds its default, 0: written only by a builder that
    /// forces defaults.
    struct DefaultValued;

    impl StreamSerialize for DefaultValued {
        fn serialize<'fbb, B: Allocator + 'fbb>(
            &self,
            builder: &mut FlatBufferBuilder<'fbb, B>,
        ) -> Result<()> {
            let table = builder.start_table();
            builder.push_slot::<u64>(4, 0, 0);
            let table = builder.end_table(table);
            builder.finish_minimal(table);
            Ok(())
        }
    }

    #[test]
    fn supplied_builders_that_force_defaults_still_do_after_being_made_anew() {
        let forcing = || {
            let mut builder = FlatBufferBuilder::new();
            builder.force_defaults(true);
            builder
        };
        let mut expected_builder = forcing();
        DefaultValued.serialize(&mut expected_builder).unwrap();
        let forced = frame_of(expected_builder.finished_data());
        assert_ne!(
            forced,
            fresh_frames(&[&DefaultValued]),
            "the field is written"
        );
        let writers = [
            StreamWriter::with_builder(Vec::new(), DefaultFramer::new(), forcing()),
            StreamWriter::with_builders(Vec::new(), DefaultFramer::new(), forcing(), forcing()),
        ];
        for mut writer in writers {
            // Made anew before the first message (`with_builder`) or when made
            // (`with_builders`), and again after a message that stops midway, in each turn.
            writer.write(&DefaultValued).unwrap();
            for _ in 0..2 {
                assert!(
                    writer
                        .write(&LeavesTheBuilderMidway { how: "error" })
                        .is_err()
                );
                writer.write(&DefaultValued).unwrap();
            }
            assert_eq!(*writer.get_ref(), forced.repeat(3));
        }
    }

    /// A `Vec`-backed allocator whose `Deref` panics at its `n`th call once armed, as a
    /// user's allocator may. Dropped a second time, it ends the process with exit code 3
    /// (its buffer is leaked, so that a second drop frees nothing).
    struct ArmedAllocator {
        id: usize,
        buffer: Vec<u8>,
        derefs_left: std::cell::Cell<Option<usize>>,
    }

    /// The `ArmedAllocator`s dropped so far, by id.
    static DROPPED: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

    impl Drop for ArmedAllocator {
        fn drop(&mut self) {
            std::mem::forget(std::mem::take(&mut self.buffer));
            let mut dropped = DROPPED.lock().unwrap();
            if dropped.contains(&self.id) {
                std::process::exit(3);
            }
            dropped.push(self.id);
        }
    }

    impl std::ops::Deref for ArmedAllocator {
        type Target = [u8];
        fn deref(&self) -> &[u8] {
            if let Some(left) = self.derefs_left.get() {
                assert!(left > 0, "the armed allocator's deref panics");
                self.derefs_left.set(Some(left - 1));
            }
            &self.buffer
        }
    }

    impl std::ops::DerefMut for ArmedAllocator {
        fn deref_mut(&mut self) -> &mut [u8] {
            &mut self.buffer
        }
    }

    // SAFETY: grows as `DefaultAllocator` does, the old contents moved to the end, and
    // reports the buffer's length.
    #[allow(unsafe_code)]
    unsafe impl Allocator for ArmedAllocator {
        type Error = std::convert::Infallible;
        fn grow_downwards(&mut self) -> std::result::Result<(), Self::Error> {
            let old_len = self.buffer.len();
            self.buffer.resize((old_len * 2).max(1), 0);
            let new_len = self.buffer.len();
            let (old, new) = self.buffer.split_at_mut(new_len - old_len);
            new.copy_from_slice(&old[..old_len]);
            old.fill(0);
            Ok(())
        }
        fn len(&self) -> usize {
            self.buffer.len()
        }
    }

    /// Set in the child process of the test below.
    const ABORT_CHILD: &str = "FLATSTREAM_RENEW_ABORT_CHILD";

    // Not under Miri, which cannot start a process.
    #[cfg(not(miri))]
    #[test]
    fn a_panic_inside_renew_aborts_rather_than_drop_a_builder_twice() {
        if std::env::var_os(ABORT_CHILD).is_some() {
            // Panics at each `Deref` call of `renew` in turn: those before the builder is
            // read out unwind (caught here), the one inside aborts.
            for n in 0..64 {
                let armed = |id| {
                    FlatBufferBuilder::new_in(ArmedAllocator {
                        id,
                        buffer: Vec::new(),
                        derefs_left: std::cell::Cell::new(Some(n)),
                    })
                };
                let (first, second) = (armed(2 * n), armed(2 * n + 1));
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                    StreamWriter::with_builders(Vec::new(), DefaultFramer::new(), first, second)
                }));
            }
            // Not aborted: the parent's assertion fails on a clean exit.
            return;
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "writer::tests::a_panic_inside_renew_aborts_rather_than_drop_a_builder_twice",
                "--test-threads=1",
            ])
            .env(ABORT_CHILD, "1")
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "the child was not stopped: {output:?}"
        );
        assert_ne!(output.status.code(), Some(3), "a builder was dropped twice");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(output.status.signal(), Some(6), "SIGABRT: {output:?}");
        }
    }

    #[test]
    fn a_supplied_builder_is_never_moved() {
        let builder = builder_ending_16_bytes_into_a_page();
        let mut writer = StreamWriter::with_builder(Vec::new(), DefaultFramer::new(), builder);
        let before = buffer_of(&mut writer.builder.0);
        writer.write(SMALL).unwrap();
        assert_eq!(buffer_of(&mut writer.builder.0), before);
        // Nor are two, under a policy that would shrink and move the writer's own.
        let mut writer = StreamWriter::with_builders(
            Vec::new(),
            DefaultFramer::new(),
            builder_ending_16_bytes_into_a_page(),
            builder_ending_16_bytes_into_a_page(),
        )
        .with_memory_policy(MemoryPolicy::new().retain(0).after(1));
        let before = [0, 1].map(|turn| buffer_of(writer.builder_at(turn)));
        for _ in 0..6 {
            writer.write(SMALL).unwrap();
        }
        assert_eq!(
            [0, 1].map(|turn| buffer_of(writer.builder_at(turn))),
            before
        );
    }
}
