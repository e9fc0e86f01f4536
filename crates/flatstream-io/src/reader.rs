//! [`StreamReader`]: frames in, borrowed payloads out.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;

use flatstream_core::{Deframer, Error, Result, StreamDeserialize};

use crate::buffered::{Buffered, DEFAULT_BUFFER_SIZE};
use crate::in_memory;
use crate::memory::{MemoryPolicy, ShrinkTracker};
use crate::place::{PayloadPlace, address_range};
use crate::progress::Progress;

/// Reads frames from `R` and hands out each payload as a borrowed slice.
///
/// [`read_message`](Self::read_message) returns `&[u8]` borrowing the reader until the next
/// call; its buffers are reused and only grow, so steady state allocates nothing.
///
/// Three modes, chosen by the constructor (the `M` parameter):
/// - [`new`](Self::new) ([`Buffered`], the default) reads any [`Read`] in large pieces into
///   a buffer of its own and parses each frame where it lies there: one read of the source
///   serves many small frames, and no `BufReader` is needed. The source runs ahead of the
///   frames delivered, by up to the buffer's size. [`from_path`](Self::from_path) uses it;
/// - [`in_place`](Self::in_place) ([`InPlace`]) reads a [`BufRead`] (a `BufReader`, a
///   `Cursor`, `&[u8]`) and parses each frame that lies wholly in the source's buffer right
///   there, copying only frames that straddle the end of that buffer;
/// - [`unbuffered`](Self::unbuffered) ([`Copying`]) reads exactly one frame at a time and
///   copies each payload: the source never moves past the frame just delivered.
///
/// All three give the same payloads, errors and positions, with the same adapters.
///
/// Every error names the index of the frame and the byte offset where it began. After a
/// checksum mismatch or a rejected payload the frame was consumed whole and reading can go
/// on with the next frame ([`Error::is_resumable`]). After a torn frame, an oversized one or
/// an I/O error the stream cannot be resumed: [`position`](Self::position) stays at the
/// start of that frame (where the last good frame ended) and further reads return an error.
#[derive(Debug)]
pub struct StreamReader<R, D, M = Buffered> {
    reader: R,
    deframer: D,
    payload: Vec<u8>,
    progress: Progress,
    memory: MemoryPolicy,
    shrink: ShrinkTracker,
    mode: M,
}

/// Buffer size of [`StreamReader::from_path`].
const FILE_BUFFER_SIZE: usize = 256 * 1024;

impl<D: Deframer> StreamReader<File, D> {
    /// Opens the file at `path` for reading through a buffer of the reader's own of 256 KiB,
    /// each frame parsed where it lies there (see [`Buffered`]): `new` over the file, with a
    /// larger buffer.
    ///
    /// Measured against the in-place reader over a 256 KiB `BufReader<File>` it used
    /// before (64 B frames from a file in the page cache, one process): 1.14 to 1.18× with
    /// CRC-32C, 1.23 to 1.25× without a checksum.
    ///
    /// # Errors
    ///
    /// The error of opening the file.
    pub fn from_path(path: impl AsRef<Path>, deframer: D) -> Result<Self> {
        let file = File::open(path)?;
        Ok(Self::with_buffer_size(file, deframer, FILE_BUFFER_SIZE))
    }
}

impl<R: Read, D: Deframer> StreamReader<R, D> {
    /// A reader of `reader`'s frames, parsed by `deframer` where they lie in the reader's
    /// own buffer (see [`Buffered`]): any [`Read`] (a `File`, a socket, a `Cursor`), no
    /// `BufReader` needed.
    ///
    /// Bytes already in memory behind `Read` (`&[u8]`, `Cursor<&[u8]>`, `Cursor<&Vec<u8>>`)
    /// are recognised by type and parsed where they lie, without being copied into the
    /// buffer: each payload borrows the caller's bytes, and the source moves on exactly past
    /// the frames delivered. Anything else about such a frame (a torn tail, an error, a
    /// payload an adapter transforms) goes through the buffer as for any source, with the
    /// same payloads, errors and positions. [`with_buffer_size`](Self::with_buffer_size)
    /// always reads through the buffer.
    ///
    /// ```
    /// use flatstream_io::{DefaultDeframer, DefaultFramer, StreamReader, StreamWriter};
    ///
    /// let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    /// writer.write_payload(b"first")?;
    /// writer.write_payload(b"second")?;
    /// let stream = writer.into_inner();
    ///
    /// let mut reader = StreamReader::new(&stream[..], DefaultDeframer::new());
    /// assert_eq!(reader.read_message()?, Some(&b"first"[..]));
    /// assert_eq!(reader.read_message()?, Some(&b"second"[..]));
    /// assert_eq!(reader.read_message()?, None);
    /// assert_eq!(reader.position(), stream.len() as u64);
    /// # Ok::<(), flatstream_core::Error>(())
    /// ```
    pub fn new(reader: R, deframer: D) -> Self {
        Self::with_payload_capacity(reader, deframer, 0)
    }

    /// A [`new`](Self::new) reader whose own buffer holds `buffer_size` bytes (default
    /// [`DEFAULT_BUFFER_SIZE`]): frames up to that size, header included, are parsed in
    /// place; larger ones are copied into the payload buffer. Every source is read through
    /// the buffer, bytes in memory too (which `new` reads where they lie).
    pub fn with_buffer_size(reader: R, deframer: D, buffer_size: usize) -> Self {
        StreamReader::with_mode(reader, deframer, 0, Buffered::with_size(buffer_size))
    }

    /// A [`new`](Self::new) reader whose payload buffer starts with room for
    /// `payload_capacity` bytes, so that the first payloads it copies (frames larger than
    /// its buffer, payloads an adapter transforms) up to that size allocate nothing.
    pub fn with_payload_capacity(reader: R, deframer: D, payload_capacity: usize) -> Self {
        StreamReader::with_mode(
            reader,
            deframer,
            payload_capacity,
            Buffered::in_place_in_memory(DEFAULT_BUFFER_SIZE),
        )
    }

    /// The old name of [`with_payload_capacity`](Self::with_payload_capacity).
    #[deprecated(
        since = "0.1.0",
        note = "renamed `with_payload_capacity`: it sizes the payload buffer"
    )]
    pub fn with_capacity(reader: R, deframer: D, capacity: usize) -> Self {
        Self::with_payload_capacity(reader, deframer, capacity)
    }

    /// The bytes read from the source but not yet delivered as frames: the source is this
    /// far ahead of [`position`](Self::position).
    pub fn buffer(&self) -> &[u8] {
        self.mode.unread()
    }

    /// Returns the underlying reader and the bytes read from it but not delivered: the
    /// stream from [`position`](Self::position) on is those bytes, then the reader's.
    ///
    /// After an error that stopped the reader (a torn tail, a length over the limit) that
    /// still holds: the frame it stopped in is given back from its first byte. The one
    /// exception is a frame larger than the buffer that the source ended inside: the bytes
    /// of it read past the buffer went into the payload buffer and are not given back (a
    /// seekable source can be sought to `position`).
    ///
    /// ```
    /// use std::io::{Cursor, Read};
    /// use flatstream_io::{DefaultDeframer, DefaultFramer, StreamReader, StreamWriter};
    ///
    /// let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    /// writer.write_payload(b"header")?;
    /// let mut bytes = writer.into_inner();
    /// bytes.extend_from_slice(b"what follows the stream");
    ///
    /// let mut reader = StreamReader::new(Cursor::new(bytes), DefaultDeframer::new());
    /// assert_eq!(reader.read_message()?, Some(&b"header"[..]));
    /// let (mut source, unread) = reader.into_parts();
    /// let mut rest = unread;
    /// source.read_to_end(&mut rest)?;
    /// assert_eq!(rest, b"what follows the stream");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_parts(self) -> (R, Vec<u8>) {
        let unread = self.mode.unread().to_vec();
        (self.reader, unread)
    }
}

impl<R: Read, D: Deframer> StreamReader<R, D, Copying> {
    /// A reader that reads exactly one frame at a time from `reader` (see [`Copying`]):
    /// the source never moves past the frame just delivered, for a source whose bytes after
    /// the stream belong to someone else. Each payload is copied into the reader's buffer,
    /// and each frame takes two reads of the source: wrap a `File` in a `BufReader`.
    pub fn unbuffered(reader: R, deframer: D) -> Self {
        StreamReader::with_mode(reader, deframer, 0, Copying)
    }
}

impl<R: BufRead, D: Deframer> StreamReader<R, D, InPlace> {
    /// A reader of `reader`'s frames that parses each frame lying wholly in `reader`'s
    /// buffer in place, without copying it (see [`InPlace`]).
    ///
    /// ```
    /// use std::io::Cursor;
    /// use flatstream_io::{DefaultDeframer, DefaultFramer, StreamReader, StreamWriter};
    ///
    /// let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    /// writer.write_payload(b"in place")?;
    /// let stream = writer.into_inner();
    ///
    /// let mut reader = StreamReader::in_place(Cursor::new(&stream[..]), DefaultDeframer::new());
    /// assert_eq!(reader.read_message()?, Some(&b"in place"[..]));
    /// assert_eq!(reader.read_message()?, None);
    /// # Ok::<(), flatstream_core::Error>(())
    /// ```
    pub fn in_place(reader: R, deframer: D) -> Self {
        StreamReader::with_mode(reader, deframer, 0, InPlace::default())
    }
}

impl<R, D, M> StreamReader<R, D, M> {
    fn with_mode(reader: R, deframer: D, capacity: usize, mode: M) -> Self {
        let mut progress = Progress::default();
        // The payload buffer's capacity is the caller's: the policy looks at it first.
        progress.schedule_upkeep();
        StreamReader {
            reader,
            deframer,
            payload: Vec::with_capacity(capacity),
            progress,
            memory: MemoryPolicy::default(),
            shrink: ShrinkTracker::default(),
            mode,
        }
    }

    /// Sets when the payload buffer gives memory back after a spike (default: keep 1 MiB,
    /// shrink after 1024 messages that fit in it).
    #[must_use]
    pub fn with_memory_policy(mut self, policy: MemoryPolicy) -> Self {
        self.memory = policy;
        self.progress.schedule_upkeep();
        self
    }

    /// The payload buffer's capacity: the memory the reader holds between messages.
    pub fn buffer_capacity(&self) -> usize {
        self.payload.capacity()
    }
}

impl<R, D: Deframer, M: ReadMode<R>> StreamReader<R, D, M> {
    /// Reads the next frame and returns its payload, or `None` at a clean end of stream.
    ///
    /// # Errors
    ///
    /// Whatever the deframer reports (torn frame, oversized frame, checksum mismatch, I/O),
    /// with the frame index and byte offset.
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured on the `everyday` bench cells with 64 B frames).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn read_message(&mut self) -> Result<Option<&[u8]>> {
        self.next_payload().0
    }

    /// Reads the next payload, and returns it beside the counters (borrowed apart from it,
    /// so a typed view's rejection can be located while the payload is borrowed).
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured on the `everyday` bench cells with 64 B frames).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn next_payload(&mut self) -> (Result<Option<&[u8]>>, &Progress) {
        self.next_payload_after(true)
    }

    /// [`next_payload`](Self::next_payload), where the upkeep shows the memory policy the
    /// payload delivered last only if `observe_last` (`process_all`'s run has shown it the
    /// one its general path delivered, and each is counted once).
    // Always: as `next_payload`.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn next_payload_after(&mut self, observe_last: bool) -> (Result<Option<&[u8]>>, &Progress) {
        // After a frame read in place, with the payload buffer empty and small, there is
        // nothing to do here: one test (see `Progress::upkeep_due`). The modes schedule the
        // upkeep on every other path.
        if self.progress.upkeep_due() {
            if let Err(error) = self.progress.check_usable() {
                return (Err(error), &self.progress);
            }
            if observe_last {
                self.observe_last_payload();
            }
        }
        let read = self.mode.read_frame(
            &mut self.reader,
            &mut self.deframer,
            &mut self.payload,
            &mut self.progress,
        );
        // Frames without a message that `read_frame` consumed (an encrypted stream's final
        // frame) come before the frame read, or the end.
        let skipped = self.deframer.take_skipped();
        if skipped != 0 {
            self.progress.skip(skipped);
        }
        let outcome = match read {
            Ok(Some((payload, frame_len))) => {
                self.progress.advance(frame_len);
                Ok(Some(payload))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(self.progress.fail(error)),
        };
        (outcome, &self.progress)
    }

    /// Calls `process` with every payload until the end of the stream.
    ///
    /// # Errors
    ///
    /// The first read error, or the first error `process` returns; an error from `process`
    /// that carries no location gets the frame index and offset of the payload it was given.
    #[inline]
    pub fn process_all<F>(&mut self, mut process: F) -> Result<()>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        loop {
            // The frames whole in the bytes held, in one run; then one frame the general
            // way (more to read, the end, an error, a payload an adapter transforms).
            if !self.progress.is_failed() && self.process_run(&mut process)? {
                // The source ended between frames; the deframer may require the stream to
                // end otherwise (with a final frame).
                self.progress.schedule_upkeep();
                return match self.deframer.decode_frame(&[], &mut self.payload) {
                    Ok(_) => Ok(()),
                    Err(error) => Err(self.progress.fail(error)),
                };
            }
            // Shown to the memory policy by the next run, not by this read.
            let Some(payload) = self.next_payload_after(false).0? else {
                return Ok(());
            };
            if let Err(error) = process(payload) {
                return Err(self.progress.locate_delivered(error));
            }
        }
    }

    /// The memory policy's look at the payload delivered last, no longer borrowed: shrink
    /// the payload buffer if the policy says so, then empty it for the frames read in place
    /// (the policy counts it). A buffer the policy may yet shrink keeps the upkeep due, so
    /// that the policy sees every message.
    #[inline]
    fn observe_last_payload(&mut self) {
        if self
            .shrink
            .observe(&self.memory, self.payload.len(), self.payload.capacity())
        {
            self.give_back_payload_memory();
        }
        self.payload.clear();
        if self.payload.capacity() <= self.memory.retained() {
            self.progress.upkeep_done();
        }
    }

    /// One run of `process_all`: the frames whole in the bytes held, handed to `process`
    /// where they lie ([`ReadMode::process_held`]); whether the source ended.
    ///
    /// The payload delivered last (before `process_all`, or by its general path) is shown to
    /// the memory policy first, so that a spike there starts the count over; then the run's
    /// frames, which used no buffer of the reader's, count as that many small messages.
    /// Once per run, not per frame.
    #[inline]
    fn process_run<F>(&mut self, process: &mut F) -> Result<bool>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        if self.progress.upkeep_due() {
            self.observe_last_payload();
        }
        let before = self.progress.frames_read;
        let ended = self.mode.process_held(
            &mut self.reader,
            &self.deframer,
            &mut self.progress,
            process,
        );
        // A run that ended in an error stopped at a frame consumed whole (rejected, or
        // refused by `process`) that the next upkeep shows the policy (it is due whenever
        // the policy counts), as after the general path: not counted here too.
        let stopped = u64::from(ended.as_ref().is_err_and(Error::is_resumable));
        let ran = (self.progress.frames_read - before).saturating_sub(stopped);
        if self
            .shrink
            .observe_run(&self.memory, ran, self.payload.capacity())
        {
            self.give_back_payload_memory();
        }
        ended
    }

    /// What the memory policy asks once it has counted enough messages that fit: the
    /// payload buffer emptied and shrunk to the size the policy keeps.
    #[cold]
    fn give_back_payload_memory(&mut self) {
        self.payload.clear();
        self.payload.shrink_to(self.memory.retained());
    }

    /// Calls `process` with the typed view of every payload until the end of the stream.
    ///
    /// `T` is the marker type of a [`StreamDeserialize`] implementation; each payload is
    /// checked by it before `process` sees it.
    ///
    /// # Errors
    ///
    /// The first read error, the first payload that `T` rejects, or the first error
    /// `process` returns, each with the frame index and offset.
    pub fn process_typed<T, F>(&mut self, mut process: F) -> Result<()>
    where
        T: for<'a> StreamDeserialize<'a> + ?Sized,
        F: for<'a> FnMut(<T as StreamDeserialize<'a>>::Root) -> Result<()>,
    {
        self.process_all(|payload| process(T::from_payload(payload)?))
    }

    /// A lending iterator over payloads: call its `next()` in a `while let` loop.
    pub fn messages(&mut self) -> Messages<'_, R, D, M> {
        Messages { reader: self }
    }

    /// A lending iterator over the typed views of payloads (see
    /// [`process_typed`](Self::process_typed)).
    pub fn typed_messages<T>(&mut self) -> TypedMessages<'_, R, D, T, M>
    where
        T: for<'a> StreamDeserialize<'a> + ?Sized,
    {
        TypedMessages {
            reader: self,
            marker: std::marker::PhantomData,
        }
    }

    /// How many frames were consumed whole: delivered, or rejected for a checksum or
    /// validation failure. It is also the index of the next frame.
    pub fn frames_read(&self) -> u64 {
        self.progress.frames_read
    }

    /// How many bytes of whole frames were consumed: the offset where the next frame begins.
    /// After a torn tail this is where the last good frame ended.
    pub fn position(&self) -> u64 {
        self.progress.position
    }

    /// Where the last payload delivered began: the offset of its frame.
    pub fn last_frame_offset(&self) -> u64 {
        self.progress.last_frame_offset
    }

    /// The deframer in use.
    pub fn deframer(&self) -> &D {
        &self.deframer
    }

    /// The underlying reader. In [`InPlace`] mode the frames read last (the last payload
    /// delivered; after `process_all`, the frames of its last run, a rejected one too) may
    /// still be in its buffer, not yet consumed: [`get_mut`](Self::get_mut) and
    /// [`into_inner`](Self::into_inner) consume them first.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The underlying reader, mutably. In [`Copying`] and [`InPlace`] mode it stands after
    /// the last frame read; in [`Buffered`] mode (`new`) it is ahead of that by the bytes
    /// of [`buffer`](StreamReader::buffer). Reading from it directly loses frame alignment.
    pub fn get_mut(&mut self) -> &mut R {
        self.mode.settle(&mut self.reader);
        &mut self.reader
    }

    /// Returns the underlying reader. In [`Copying`] and [`InPlace`] mode it stands after
    /// the last frame read. In [`Buffered`] mode (`new`) it is ahead of that, and the bytes
    /// read but not delivered are dropped: [`into_parts`](StreamReader::into_parts) keeps
    /// them.
    pub fn into_inner(mut self) -> R {
        self.mode.settle(&mut self.reader);
        self.reader
    }
}

mod sealed {
    /// Keeps [`ReadMode`](super::ReadMode) to the two modes defined here.
    pub trait Sealed {}
    impl Sealed for super::Copying {}
    impl Sealed for super::InPlace {}
    impl Sealed for crate::buffered::Buffered {}
}

/// How a [`StreamReader`] takes frames from its source: [`Copying`] or [`InPlace`]. Sealed;
/// the methods are the reader's internals.
pub trait ReadMode<R>: sealed::Sealed {
    /// Reads the next frame: its payload and its length on the wire. Frames that hold no
    /// message (an encrypted stream's final frame) are skipped, their bytes counted in
    /// `progress`.
    #[doc(hidden)]
    fn read_frame<'a, D: Deframer>(
        &'a mut self,
        source: &'a mut R,
        deframer: &mut D,
        payload: &'a mut Vec<u8>,
        progress: &mut Progress,
    ) -> Result<Option<(&'a [u8], usize)>>;

    /// Leaves `source` positioned after the last frame delivered.
    #[doc(hidden)]
    fn settle(&mut self, source: &mut R);

    /// `process_all`'s run of frames: hands `process` every frame that lies whole in the
    /// bytes already held and passes through plain ([`Deframer::parse_plain`]), counting
    /// each in `progress`, and stops at the first that does not, for the general path.
    /// Returns whether the source ended (a source whose buffer came back empty: asking it
    /// again would read past that end). The default holds nothing.
    ///
    /// # Errors
    ///
    /// The first error `process` returns, located at its frame; a frame the deframer
    /// rejected there (`parse_plain`'s error), located and consumed as the general path
    /// would; the source's error.
    #[doc(hidden)]
    #[inline]
    fn process_held<D: Deframer, F: FnMut(&[u8]) -> Result<()>>(
        &mut self,
        source: &mut R,
        deframer: &D,
        progress: &mut Progress,
        process: &mut F,
    ) -> Result<bool> {
        let _ = (source, deframer, progress, process);
        Ok(false)
    }
}

/// The length of the frame just parsed, given back as the length of the frame before it
/// when the two are equal: what a parse loop adds to its position to find the next frame.
///
/// The value is always the frame's own length; what changes is where it comes from. Taken
/// from the length field just loaded, the next frame's address waits on that load, so a
/// run of frames is a chain of dependent loads, one cache latency per frame. Taken from the
/// previous frame's length behind a branch the CPU predicts, it does not: the loads of the
/// next frames' headers start before this one's arrives, and a stream of frames of one size
/// (the common case: fixed-layout telemetry) is parsed at the rate of the loads, not their
/// latency. A frame of another size costs one mispredicted branch.
///
/// Measured (single-cell harness, 64 B frames without a checksum, on this machine): a
/// minimal buffered parse loop went from 0.98× to 1.59× `read_exact` per frame over a
/// 1 MiB stream, and from 0.66× to 0.89× over 64 MiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stride(usize);

impl Stride {
    /// `frame_len`, the frame's own length (see the type's documentation).
    // Always: the point is the branch in the caller's loop.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn next(&mut self, frame_len: usize) -> usize {
        if frame_len != self.0 {
            self.0 = relearned(frame_len);
        }
        self.0
    }
}

/// A new frame length for [`Stride`], passed through `black_box` so that the optimizer
/// cannot see that the stride now equals the length field and fold the branch away (which
/// would put the load back on the path to the next frame's address).
#[cold]
#[inline(never)]
fn relearned(frame_len: usize) -> usize {
    std::hint::black_box(frame_len)
}

/// What [`plain_frame`] found at the start of the input.
pub(crate) enum Plain {
    /// A whole frame whose payload passes through, lying in the input.
    Frame(flatstream_core::wire::PlainFrame),
    /// A whole frame the deframer rejected (a validator): the error `decode_frame` would
    /// return, and the frame's length, not 0 and within the input. The reader reports it
    /// located at the frame and moves past the frame.
    Rejected(Error, usize),
    /// Anything else: the general path finds out what the frame is.
    General,
}

/// [`Deframer::parse_plain`] as every reader here calls it: the frame it finds, unless that
/// frame does not lie in `input` (a payload past the frame's end, a frame past the input's
/// end, or a length of 0, which would never move on); a rejection, unless its frame length
/// is missing or does not lie in `input` either. A `Deframer` that breaks the method's
/// contract so is neither trusted nor allowed a panic or a hang: its frames take the general
/// path, where the deframer's own `decode_frame` reports what they are. For the deframers of
/// this workspace the tests fold away (the parse has proved each), and so does the
/// rejection for those without a validator, which never return one.
// Always: the per-frame path of every reader here (measured: callgrind counts the same
// instructions per frame as calling `parse_plain` directly, in four reader loops).
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn plain_frame<D: Deframer + ?Sized>(deframer: &D, input: &[u8]) -> Plain {
    match deframer.parse_plain(input) {
        Ok(Some(frame)) if lies_in_input(&frame, input.len()) => Plain::Frame(frame),
        Ok(_) => Plain::General,
        Err(error) => rejected_in(error, input.len()),
    }
}

/// Whether a frame from [`Deframer::parse_plain`] lies in the `input_len` bytes it was
/// parsed from: its payload within it, it within the input, and not of 0 bytes (which would
/// never move on). Also what `ValidatingDeframer::parse_plain` checks before it shows the
/// payload to its validator.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn lies_in_input(frame: &flatstream_core::wire::PlainFrame, input_len: usize) -> bool {
    frame.payload.start <= frame.payload.end
        && frame.payload.end <= frame.len
        && frame.len <= input_len
        && frame.len != 0
}

/// A rejection from [`Deframer::parse_plain`], trusted when its frame length lies in the
/// `input_len` bytes parsed and is not 0. Out of line: a rejection is rare.
#[cold]
#[inline(never)]
fn rejected_in(error: Error, input_len: usize) -> Plain {
    match error.frame_len().map(usize::try_from) {
        Some(Ok(frame_len)) if frame_len != 0 && frame_len <= input_len => {
            Plain::Rejected(error, frame_len)
        }
        _ => Plain::General,
    }
}

/// The source's end, met between frames: no frame, unless the deframer requires the stream
/// to end otherwise (with a final frame), which its `decode_frame` of no bytes reports. That
/// call may leave bytes in the payload buffer, so the reader's upkeep is due: every mode
/// ends here.
pub(crate) fn source_ended<'a, D: Deframer>(
    deframer: &mut D,
    payload: &'a mut Vec<u8>,
    progress: &mut Progress,
) -> Result<Option<(&'a [u8], usize)>> {
    progress.schedule_upkeep();
    deframer.decode_frame(&[], payload).map(|_| None)
}

/// Hands `process` each plain frame that lies whole at the start of `held`, one after
/// another, counting each (for `progress`, and its length for `consumed`) before `process`
/// sees it: if `process` panics and the panic is caught, the reader goes on after that
/// frame, delivering none twice. The counts reach `progress` and `consumed` when the run
/// ends ([`PlainRun`]).
///
/// # Errors
///
/// The first error `process` returns, located at its frame (which counts as consumed); a
/// frame the deframer rejected ([`Plain::Rejected`]), located and consumed as the general
/// path would.
#[inline]
pub(crate) fn process_plain_frames<D: Deframer, F: FnMut(&[u8]) -> Result<()>>(
    held: &[u8],
    consumed: &mut usize,
    deframer: &D,
    progress: &mut Progress,
    process: &mut F,
) -> Result<()> {
    let mut run = PlainRun {
        counts: *progress,
        progress,
        consumed,
        used: 0,
    };
    let mut stride = Stride::default();
    loop {
        let frame = match plain_frame(deframer, &held[run.used..]) {
            Plain::Frame(frame) => frame,
            Plain::General => return Ok(()),
            // Consumed whole, as the general path would: reported at its frame.
            Plain::Rejected(error, frame_len) => {
                run.used += frame_len;
                return Err(run.counts.fail(error));
            }
        };
        let payload = &held[run.used + frame.payload.start..run.used + frame.payload.end];
        let frame_len = stride.next(frame.len);
        run.used += frame_len;
        run.counts.advance(frame_len);
        if let Err(error) = process(payload) {
            return Err(run.counts.locate_delivered(error));
        }
    }
}

/// A run of [`process_plain_frames`]: the counts kept in locals while it lasts (in registers,
/// not stored to the reader per frame) and written back to the reader when it ends, however
/// it ends: returning, or unwinding from a panic in the caller's closure, after which the
/// reader goes on from the frame after the one that panicked, as it would have.
struct PlainRun<'a> {
    progress: &'a mut Progress,
    consumed: &'a mut usize,
    /// The reader's progress, with the frames of this run counted.
    counts: Progress,
    /// Bytes of this run's frames.
    used: usize,
}

impl Drop for PlainRun<'_> {
    #[inline]
    fn drop(&mut self) {
        *self.progress = self.counts;
        *self.consumed += self.used;
    }
}

/// The mode of [`StreamReader::unbuffered`]: the deframer reads each frame from any
/// [`Read`], its payload copied into the reader's buffer. The source never moves past the
/// frame just read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Copying;

impl<R: Read> ReadMode<R> for Copying {
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured on the `everyday` bench cells with 64 B frames).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn read_frame<'a, D: Deframer>(
        &'a mut self,
        source: &'a mut R,
        deframer: &mut D,
        payload: &'a mut Vec<u8>,
        progress: &mut Progress,
    ) -> Result<Option<(&'a [u8], usize)>> {
        // Every payload lands in the payload buffer.
        progress.schedule_upkeep();
        Ok(deframer
            .read_frame(source, payload)?
            .map(|frame_len| (&payload[..], frame_len)))
    }

    #[inline]
    fn settle(&mut self, _source: &mut R) {}
}

/// The mode of [`StreamReader::in_place`]: frames are parsed where they lie in a
/// [`BufRead`]'s buffer.
///
/// A frame that lies wholly in the buffer (from `fill_buf`; the deframer's
/// [`peek_frame_len`](Deframer::peek_frame_len) tells) is parsed there by the deframer's
/// [`decode_frame`](Deframer::decode_frame), the same parser as `SliceReader`'s: its payload
/// borrows that buffer and nothing is copied, or, for a deframer that transforms payloads
/// (decompression), lands in the reader's own buffer. A frame that straddles the end of the
/// buffer is read through [`Read`] by [`read_frame`](Deframer::read_frame) into the reader's
/// own buffer, as in [`Copying`] mode. Errors, positions, limits and adapters are the same in
/// both modes.
///
/// A payload that borrows the source's buffer keeps its frame unconsumed until the next read
/// (`BufRead::consume`), or until [`StreamReader::get_mut`]/[`StreamReader::into_inner`].
/// Bytes in memory (`&[u8]`, `Cursor<&[u8]>`, `Cursor<&Vec<u8>>`) are recognised by type, as
/// under [`StreamReader::new`]: a plain frame is taken where it lies without asking the
/// source for its buffer, and the source moves past it at once (the payload borrows the
/// caller's bytes, not the source).
///
/// The source must keep `BufRead`'s contract: `fill_buf` called again without a `consume`
/// returns the same bytes. The reader parses a frame in one look at the buffer and takes the
/// payload from a second; a source that hands out another buffer, or a shorter one, in
/// between is refused with an error, but one that changes the bytes at the same place is
/// not detected (it would take a second checksum per frame).
#[derive(Debug, Clone, Copy, Default)]
pub struct InPlace {
    /// Bytes of the last frame delivered, still to be consumed from the source.
    unconsumed: usize,
    /// The last frame's length, which the next read consumes when the next frame's is the
    /// same (see [`Stride`]).
    stride: Stride,
}

/// The source's buffer again, to borrow a payload found there: `fill_buf` asked again after
/// `Interrupted`, as every read is. Only for a buffer known not to be empty (a whole frame
/// lies in it): a `BufReader` asked twice then reads nothing, where at the end of its source
/// it would read again. Two calls where one would do, because a borrow returned from the
/// first call cannot coexist with the retry (the borrow checker's "problem case 3").
#[inline]
fn borrow_again<R: BufRead>(source: &mut R) -> io::Result<&[u8]> {
    while let Err(error) = source.fill_buf() {
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    source.fill_buf()
}

/// The error for a `BufRead` whose `fill_buf`, called again without a `consume`, returned
/// another buffer or a shorter one.
#[cold]
fn another_buffer() -> Error {
    Error::from(io::Error::new(
        io::ErrorKind::InvalidData,
        "BufRead::fill_buf returned a different buffer without a consume",
    ))
}

/// What the frame at the start of some held bytes is, from one parse there: the
/// classification shared by the readers that hold bytes (in place, buffered).
pub(crate) enum Found {
    /// Parsed and checked there: the payload's place in the held bytes, the frame's length.
    Whole {
        payload_start: usize,
        payload_len: usize,
        frame_len: usize,
    },
    /// Parsed there, the payload transformed into the reader's own buffer.
    Decoded {
        payload_start: usize,
        payload_len: usize,
        frame_len: usize,
    },
    /// A frame of this length that holds no message (an encrypted stream's final frame).
    Marker(usize),
    /// Rejected there (a checksum mismatch, a validator): the frame is consumed whole.
    Rejected(Error, usize),
    /// Not wholly in the held bytes, or not parsed there.
    Straddles(Needed),
}

/// What a frame that is not whole in the held bytes needs.
#[derive(Clone, Copy)]
pub(crate) enum Needed {
    /// More bytes to tell its length.
    Header,
    /// This many bytes in all, header included.
    Frame(usize),
    /// To be read through `Read` by the deframer, which reports what it is (a length over
    /// the limit, a header not laid out as the peek said).
    ReadThrough,
}

/// Classifies the frame at the start of `held` (not empty); a payload the deframer
/// transforms lands in `scratch`.
///
/// # Errors
///
/// An error that stops the reader where the frame began (one that does not consume the
/// frame whole).
#[inline]
pub(crate) fn find_frame<D: Deframer>(
    held: &[u8],
    deframer: &mut D,
    scratch: &mut Vec<u8>,
) -> Result<Found> {
    // The frame per call: whole, and its payload passed through (or rejected there).
    match plain_frame(deframer, held) {
        Plain::Frame(frame) => {
            return Ok(Found::Whole {
                payload_start: frame.payload.start,
                payload_len: frame.payload.len(),
                frame_len: frame.len,
            });
        }
        Plain::Rejected(error, frame_len) => return Ok(Found::Rejected(error, frame_len)),
        Plain::General => {}
    }
    let frame_len = match deframer.peek_frame_len(held) {
        Ok(Some(frame_len)) if frame_len <= held.len() => frame_len,
        Ok(Some(frame_len)) => return Ok(Found::Straddles(Needed::Frame(frame_len))),
        Ok(None) => return Ok(Found::Straddles(Needed::Header)),
        // An over-long length is reported by `read_frame`, the same error either way.
        Err(_) => return Ok(Found::Straddles(Needed::ReadThrough)),
    };
    let held_at = held.as_ptr().addr();
    Ok(match deframer.decode_frame(&held[..frame_len], scratch) {
        Ok(Some(frame)) => {
            // The frame's length as the parse gives it.
            let (at, payload_len, frame_len) = (
                frame.payload.as_ptr().addr(),
                frame.payload.len(),
                frame.len,
            );
            let input = held_at..held_at + frame_len;
            match PayloadPlace::locate(at, payload_len, input, address_range(scratch), frame_len) {
                Ok(PayloadPlace::Input(payload_start)) => Found::Whole {
                    payload_start,
                    payload_len,
                    frame_len,
                },
                Ok(PayloadPlace::Scratch(payload_start)) => Found::Decoded {
                    payload_start,
                    payload_len,
                    frame_len,
                },
                Err(error) => Found::Rejected(error, frame_len),
            }
        }
        // A frame that ends the stream without a message: skipped, and reading goes on.
        Ok(None) => Found::Marker(frame_len),
        // A deframer whose header is not laid out as its peek said: read it the other way.
        Err(error) if error.is_torn_tail() => Found::Straddles(Needed::ReadThrough),
        Err(error) => match error.frame_len() {
            Some(frame_len) => Found::Rejected(error, frame_len as usize),
            None => return Err(error),
        },
    })
}

impl InPlace {
    /// [`ReadMode::read_frame`] for every frame but one whole in the source's buffer and
    /// passed through: a frame that straddles the buffer's end, the end, an error, a
    /// payload an adapter transforms. Out of line, off the per-frame path.
    #[inline(never)]
    fn read_general<'a, R: BufRead, D: Deframer>(
        &'a mut self,
        source: &'a mut R,
        deframer: &mut D,
        payload: &'a mut Vec<u8>,
        progress: &mut Progress,
    ) -> Result<Option<(&'a [u8], usize)>> {
        // A payload may land in the payload buffer here.
        progress.schedule_upkeep();
        // `read_frame` settled the last frame before it came here.
        let (found, buffer_start) = loop {
            match Self::find(source, deframer, payload)? {
                None => return Ok(None),
                Some((Found::Marker(len), _)) => {
                    source.consume(len);
                    progress.skip(len);
                }
                Some(found) => break found,
            }
        };
        match found {
            Found::Whole {
                payload_start,
                payload_len,
                frame_len,
            } => {
                payload.clear();
                self.lend(
                    source,
                    payload_start..payload_start + payload_len,
                    buffer_start,
                    frame_len,
                )
            }
            Found::Decoded {
                payload_start,
                payload_len,
                frame_len,
            } => {
                source.consume(frame_len);
                Ok(Some((
                    &payload[payload_start..payload_start + payload_len],
                    frame_len,
                )))
            }
            // Skipped in the loop above.
            Found::Marker(_) => Ok(None),
            Found::Rejected(error, frame_len) => {
                source.consume(frame_len);
                Err(error)
            }
            Found::Straddles(_) => {
                let Some(frame_len) = deframer.read_frame(source, payload)? else {
                    return Ok(None);
                };
                Ok(Some((&payload[..], frame_len)))
            }
        }
    }

    /// The payload of a frame found whole in the source's buffer (at `buffer_start`), at
    /// `place` there, borrowed from the buffer again: the same buffer, since nothing was
    /// consumed; the frame is consumed at the next read. The same bytes, or at least as many
    /// of them: a source that hands out another or a shorter view without a consume is
    /// refused, never indexed past. (The caller has cleared the payload buffer: it holds no
    /// payload now, which the memory policy counts.)
    // Always: the per-frame path of `read_frame`.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn lend<'a, R: BufRead>(
        &mut self,
        source: &'a mut R,
        place: std::ops::Range<usize>,
        buffer_start: usize,
        frame_len: usize,
    ) -> Result<Option<(&'a [u8], usize)>> {
        let buffer = borrow_again(source)?;
        match buffer.get(place) {
            Some(payload) if buffer.as_ptr().addr() == buffer_start => {
                self.unconsumed = self.stride.next(frame_len);
                Ok(Some((payload, frame_len)))
            }
            _ => Err(another_buffer()),
        }
    }

    /// Looks at the source's buffer: `None` at a clean end, else what the next frame is
    /// there, and the buffer's address.
    #[inline]
    fn find<R: BufRead, D: Deframer>(
        source: &mut R,
        deframer: &mut D,
        scratch: &mut Vec<u8>,
    ) -> Result<Option<(Found, usize)>> {
        let buffer = loop {
            match source.fill_buf() {
                Ok(buffer) => break buffer,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        };
        if buffer.is_empty() {
            // The deframer may require the stream to end otherwise (with a final frame).
            return deframer.decode_frame(&[], scratch).map(|_| None);
        }
        let buffer_start = buffer.as_ptr().addr();
        Ok(Some((find_frame(buffer, deframer, scratch)?, buffer_start)))
    }
}

impl<R: BufRead> ReadMode<R> for InPlace {
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured with 64 B frames: 0.56x the minimal loop out of line, 1.05x before the
    // caller grew).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn read_frame<'a, D: Deframer>(
        &'a mut self,
        source: &'a mut R,
        deframer: &mut D,
        payload: &'a mut Vec<u8>,
        progress: &mut Progress,
    ) -> Result<Option<(&'a [u8], usize)>> {
        self.settle(source);
        // Bytes in memory (`&[u8]`, a cursor over them): the frame where it lies, and the
        // source moved past it at once (the payload borrows the caller's bytes, not the
        // source), as `StreamReader::new` reads them.
        // (The payload buffer is empty on entry: the reader's upkeep empties it.)
        match in_memory::next_frame(source, deframer, &mut self.stride) {
            in_memory::Taken::Frame(frame, frame_len) => return Ok(Some((frame, frame_len))),
            in_memory::Taken::Rejected(error) => return Err(error),
            in_memory::Taken::End => return source_ended(deframer, payload, progress),
            in_memory::Taken::Elsewhere => {}
        }
        // The frame per call: whole in the source's buffer and passed through (or rejected
        // there). The source is asked once: at its end (an empty buffer) it is not asked
        // again, since a `BufReader` would read its source again, past the end. A frame not
        // whole there, or not passed through, takes `read_general`, which looks at the same
        // buffer.
        let (found, buffer_start) = match source.fill_buf() {
            Ok([]) => return source_ended(deframer, payload, progress),
            Ok(held) => (plain_frame(deframer, held), held.as_ptr().addr()),
            // Retried by the general path, as every read is.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => (Plain::General, 0),
            Err(error) => return Err(error.into()),
        };
        match found {
            Plain::Frame(frame) => self.lend(source, frame.payload, buffer_start, frame.len),
            // Consumed whole, as the general path would.
            Plain::Rejected(error, frame_len) => {
                source.consume(frame_len);
                Err(error)
            }
            Plain::General => self.read_general(source, deframer, payload, progress),
        }
    }

    #[inline]
    fn settle(&mut self, source: &mut R) {
        if self.unconsumed != 0 {
            source.consume(self.unconsumed);
            self.unconsumed = 0;
        }
    }

    #[inline]
    fn process_held<D: Deframer, F: FnMut(&[u8]) -> Result<()>>(
        &mut self,
        source: &mut R,
        deframer: &D,
        progress: &mut Progress,
        process: &mut F,
    ) -> Result<bool> {
        self.settle(source);
        if let Some(ended) = in_memory::process_run(source, deframer, progress, process) {
            return ended;
        }
        let held = match source.fill_buf() {
            Ok(held) => held,
            // Retried by the general path, as every read is.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(error) => return Err(progress.fail(error.into())),
        };
        if held.is_empty() {
            return Ok(true);
        }
        // Consumed at the next read (`settle`), frame by frame as they are handed over.
        process_plain_frames(held, &mut self.unconsumed, deframer, progress, process)?;
        Ok(false)
    }
}

/// A lending iterator over a [`StreamReader`]'s payloads, from
/// [`StreamReader::messages`].
///
/// ```
/// # use flatstream_io::{DefaultDeframer, StreamReader};
/// # fn count(mut reader: StreamReader<&[u8], DefaultDeframer>) -> flatstream_core::Result<usize> {
/// let mut messages = reader.messages();
/// let mut bytes = 0;
/// while let Some(payload) = messages.next() {
///     bytes += payload?.len();
/// }
/// # Ok(bytes) }
/// ```
#[derive(Debug)]
pub struct Messages<'r, R, D, M = Buffered> {
    reader: &'r mut StreamReader<R, D, M>,
}

impl<R, D: Deframer, M: ReadMode<R>> Messages<'_, R, D, M> {
    /// The next payload, `None` at a clean end of stream, or an error.
    ///
    /// After an error that stops the reader (a torn or oversized frame, an I/O error) the
    /// next call returns `None`, so a loop that logs errors and goes on still ends; after a
    /// [resumable](flatstream_core::Error::is_resumable) one (a checksum mismatch, a rejected
    /// payload) the next call reads the next frame.
    #[allow(clippy::should_implement_trait)] // Lending: the item borrows the iterator.
    #[inline]
    pub fn next(&mut self) -> Option<Result<&[u8]>> {
        if self.reader.progress.is_failed() {
            return None;
        }
        self.reader.read_message().transpose()
    }
}

/// A lending iterator over typed views of a [`StreamReader`]'s payloads, from
/// [`StreamReader::typed_messages`].
#[derive(Debug)]
pub struct TypedMessages<'r, R, D, T: ?Sized, M = Buffered> {
    reader: &'r mut StreamReader<R, D, M>,
    marker: std::marker::PhantomData<fn() -> Box<T>>,
}

impl<R, D, T, M> TypedMessages<'_, R, D, T, M>
where
    D: Deframer,
    T: for<'a> StreamDeserialize<'a> + ?Sized,
    M: ReadMode<R>,
{
    /// The next typed view, `None` at a clean end of stream, or an error. A payload that `T`
    /// rejects is reported with its frame index and offset, and reading goes on; after an
    /// error that stops the reader the next call returns `None`, as
    /// [`Messages::next`] does.
    // Not `Iterator::next`: lending, the item borrows the iterator.
    #[allow(clippy::should_implement_trait)]
    // Always, as `read_message`: left to `#[inline]`, LLVM kept it out of a caller's loop
    // that called it from three functions, and 64 B frames with XXH3 read as `[u8]` views
    // went at 94.5 M msg/s against 146 M inlined, where `messages` ran at 143 to 148 M
    // (harness outside the repository, AMD EPYC Zen 3).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub fn next(&mut self) -> Option<Result<<T as StreamDeserialize<'_>>::Root>> {
        if self.reader.progress.is_failed() {
            return None;
        }
        match self.reader.next_payload() {
            (Ok(Some(payload)), progress) => {
                Some(T::from_payload(payload).map_err(|error| progress.locate_delivered(error)))
            }
            (Ok(None), _) => None,
            (Err(error), _) => Some(Err(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Stride;

    #[test]
    fn a_stride_is_always_the_frame_length_it_was_given() {
        let mut stride = Stride::default();
        for len in [4usize, 4, 4, 12, 12, 4, 0, 0, 1 << 20, 4, usize::MAX, 4] {
            assert_eq!(stride.next(len), len);
        }
    }
}
