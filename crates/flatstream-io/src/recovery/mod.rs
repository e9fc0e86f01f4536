//! Crash recovery: find where the intact frames end, cut a tail only when the data proves it
//! holds nothing intact, and salvage the intact frames of a damaged stream.
//!
//! A process that dies while writing leaves at most one partial frame, at the end: a *torn
//! tail*. A file system that crashes before the data reached the disk may leave a
//! *zero-filled tail* instead: the file's size was updated, its blocks never written.
//! [`recover`] and [`recover_file`] find either and (on request) cut it off, never anything
//! else. Damage elsewhere (a corrupt frame inside the stream, zero fill with frames after it)
//! is an error they report, with its frame and offset; [`salvage`] is the explicit, copying
//! tool for it.
//!
//! ```text
//!  frame 0   frame 1   frame 2 (torn)
//! +-------+ +-------+ +-----+
//! |  ok   | |  ok   | | ... |<end>       recover: 2 frames, last_good_offset = end of frame 1
//! +-------+ +-------+ +-----+
//! ```
//!
//! # What recovery never does
//!
//! A flipped bit in a length field makes the frame it belongs to look as if it ran past the
//! end of the file: every frame after it would read as "the torn tail". So before it calls a
//! tail torn, [`recover`] searches it, as [`salvage`] would, for a frame that verifies; if
//! one begins anywhere in it, the stream is damaged in the middle and the report is an error
//! ("salvage it"), never a tail to cut. **`recover` never removes a byte of a frame that
//! verifies**: that invariant is tested on every single damage of many streams and fuzzed.
//!
//! Where the data cannot prove the tail holds nothing intact, the report says why
//! ([`RecoveryReport::unproven`]) and [`recover_file`] cuts only with [`Truncate::Force`]:
//! without a checksum (nothing can be verified) when the tail is longer than a header plus
//! the largest payload before it; when no frame before the tail verified (nothing shows the
//! checksum in use is the stream's own: a stream read with the wrong algorithm looks torn at
//! frame 0); when the search's work budget could not check every candidate in the tail.

mod resync;

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::Path;

use flatstream_core::wire::LENGTH_LEN;
use flatstream_core::{Checksum, Deframer, Error, ErrorKind, FramePart, Framer, Result};

pub use self::resync::ZERO_FILL_MIN_LEN;
use self::resync::{Resync, is_all_zero, leading_zeros};
use crate::ChecksumDeframer;

/// How a scanned stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// After a whole frame (or an empty stream).
    CleanEof,
    /// Inside a frame: the named part was cut short.
    TornTail {
        /// The part of the last frame that is incomplete.
        part: FramePart,
    },
    /// In a run of [`ZERO_FILL_MIN_LEN`] or more zero bytes reaching the end: space a file
    /// system allocated but never wrote. The run may begin inside the last frame, whose
    /// checksum then fails.
    ZeroFilledTail,
}

/// What [`recover`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Intact frames, in order from the start.
    pub frames: u64,
    /// The byte offset one past the last intact frame: the length to keep.
    pub last_good_offset: u64,
    /// How the stream ends.
    pub end: StreamEnd,
    /// Bytes after the last intact frame (the tail; 0 when the end is clean).
    pub tail_len: u64,
    /// Why the data cannot prove that the tail holds no intact frame, when it cannot; then
    /// [`recover_file`] cuts it only with [`Truncate::Force`].
    pub unproven: Option<String>,
    /// Candidate frames in the tail that the search's work budget could not check: while
    /// there are any, not even [`Truncate::Force`] cuts (one of them may be intact).
    pub unchecked_candidates: u64,
    /// Whether [`recover_file`] cut the tail off.
    pub truncated: bool,
}

/// Scans `reader` from its start and reports the intact frames and how the stream ends.
///
/// A torn tail is a result only when nothing intact follows the point where it begins: a
/// flipped bit in a length field makes its frame look as if it ran past the end, and every
/// frame after it would read as "the tail", so the tail is searched (with [`salvage`]'s
/// resynchronisation) for a frame that verifies, with a payload neither empty nor all zero
/// bytes. **`recover` never removes a byte of a frame that verifies.** Where the data cannot
/// prove the tail holds no intact frame (no checksum and a tail longer than a header and the
/// largest payload before it; no frame before the tail verified, as when the checksum is the
/// wrong one; candidates past the search's work budget), the report's
/// [`unproven`](RecoveryReport::unproven) says why. A zero-filled tail is a result too. Any other
/// failure (a checksum mismatch, an oversized or rejected frame, zero fill in the middle, an
/// intact frame inside what looked like a torn tail, an I/O error) is returned as an error
/// naming the frame and offset where the damage begins. Memory is bounded by the
/// deframer's `max_frame_len`: a torn tail is held whole while it is searched.
///
/// # Errors
///
/// As described; the error's offset is where the damaged frame begins.
pub fn recover<R: Read, D: Deframer>(reader: R, deframer: D) -> Result<RecoveryReport> {
    let mut unchecksummed = false;
    let mut report = scan_for_recovery(reader, deframer, &mut unchecksummed)?;
    // Without a checksum, zeros at the end may be a payload that a misread length left
    // unframed: like a torn tail, that takes frames enough to know the stream by.
    if unchecksummed
        && report.end == StreamEnd::ZeroFilledTail
        && report.frames < NONE_MIN_FRAMES
        && report.unproven.is_none()
    {
        report.unproven = Some(format!(
            "without a checksum the zeros may be a payload's, and fewer than \
             {NONE_MIN_FRAMES} frames before them show how this stream's frames look"
        ));
    }
    Ok(report)
}

/// [`recover`]'s scan; says whether the frames carry no checksum (when any frame was read).
fn scan_for_recovery<R: Read, D: Deframer>(
    reader: R,
    mut deframer: D,
    unchecksummed: &mut bool,
) -> Result<RecoveryReport> {
    let mut window = Window::new(reader);
    let mut frames = 0u64;
    let mut frames_with_data = 0u64;
    let mut largest_payload = 0usize;
    let mut size_classes = [0u64; 33];
    // Where the current run of all-zero frames began, and its frame index.
    let mut zero_run: Option<(u64, u64)> = None;
    window.read_more(0)?;
    loop {
        let offset = window.offset();
        let parsed = deframer
            .parse_frame(window.rest())
            .map(|frame| frame.map(|frame| (frame.len, frame.payload.len())));
        match parsed {
            Ok(Some((frame_len, payload_len))) => {
                *unchecksummed = frame_len == LENGTH_LEN + payload_len;
                // Only frames whose every byte is zero make up zero fill here: a frame with a
                // length and a zero payload may be data (without a checksum nothing tells).
                if is_all_zero(&window.rest()[..frame_len]) {
                    zero_run.get_or_insert((offset, frames));
                } else {
                    if let Some((start, at_frame)) = zero_run.take() {
                        check_zero_run(start, at_frame, offset)?;
                    }
                    frames_with_data += 1;
                }
                largest_payload = largest_payload.max(payload_len);
                size_classes[(usize::BITS - payload_len.leading_zeros()) as usize] += 1;
                frames += 1;
                window.consume(frame_len);
            }
            Ok(None) if !window.eof => window.read_more(0)?,
            Ok(None) => {
                if let Some((start, at_frame)) = zero_run
                    && offset - start >= ZERO_FILL_MIN_LEN as u64
                {
                    return Ok(zero_filled_tail(at_frame, start, offset));
                }
                return Ok(RecoveryReport {
                    frames,
                    last_good_offset: offset,
                    end: StreamEnd::CleanEof,
                    tail_len: 0,
                    unproven: None,
                    unchecked_candidates: 0,
                    truncated: false,
                });
            }
            Err(error) if error.is_torn_tail() && !window.eof => {
                let missing = match error.kind() {
                    ErrorKind::UnexpectedEof { needed, got, .. } => (needed - got) as usize,
                    _ => 0,
                };
                window.read_more(missing)?;
            }
            Err(error) => {
                let mut scanned = Scanned {
                    frames,
                    frames_with_data,
                    largest_payload,
                    size_classes,
                    zero_run,
                    unchecked: 0,
                };
                return scanned.judge_tail(&mut window, &mut deframer, error);
            }
        }
    }
}

/// Zero fill in the middle of a stream (a run with a frame after it) is damage.
fn check_zero_run(start: u64, at_frame: u64, end: u64) -> Result<()> {
    let len = end - start;
    if len >= ZERO_FILL_MIN_LEN as u64 {
        Err(Error::zero_filled(len).at_frame(at_frame, start))
    } else {
        Ok(())
    }
}

fn zero_filled_tail(at_frame: u64, start: u64, end: u64) -> RecoveryReport {
    RecoveryReport {
        frames: at_frame,
        last_good_offset: start,
        end: StreamEnd::ZeroFilledTail,
        tail_len: end - start,
        unproven: None,
        unchecked_candidates: 0,
        truncated: false,
    }
}

/// What [`recover`] knew when reading stopped at an error.
struct Scanned {
    frames: u64,
    frames_with_data: u64,
    largest_payload: usize,
    /// How many payloads fell in each power-of-two size class (class `n` holds lengths
    /// of `n` significant bits), for a typical payload size that one damaged length field
    /// cannot skew.
    size_classes: [u64; 33],
    zero_run: Option<(u64, u64)>,
    /// Candidates the tail search could not check.
    unchecked: u64,
}

impl Scanned {
    /// Zero fill that ran up to `offset`, where reading stopped, is damage in the middle.
    fn check_open_zero_run(&self, offset: u64) -> Result<()> {
        match self.zero_run {
            Some((start, at_frame)) => check_zero_run(start, at_frame, offset),
            None => Ok(()),
        }
    }

    /// The upper bound of the median payload's size class: what a payload of this stream
    /// typically is, at most.
    fn typical_payload(&self) -> usize {
        let total: u64 = self.size_classes.iter().sum();
        let mut seen = 0;
        for (class, count) in self.size_classes.iter().enumerate() {
            seen += count;
            if seen * 2 >= total && total > 0 {
                return (1usize << class) - 1;
            }
        }
        0
    }
}

impl Scanned {
    /// Decides what the rest of the stream is, from where reading stopped with `error`: a
    /// tail to report (torn or zero-filled), or damage inside the stream.
    fn judge_tail<R: Read, D: Deframer>(
        &mut self,
        window: &mut Window<R>,
        deframer: &mut D,
        error: Error,
    ) -> Result<RecoveryReport> {
        let offset = window.offset();
        let frames = self.frames;
        let located = |error: Error| error.at_frame(frames, offset);
        let (run_start, run_frame) = self.zero_run.unwrap_or((offset, self.frames));
        if let Some(frame_len) = error.frame_len() {
            // A frame read whole that failed: damage, unless zero fill runs from inside it
            // to the end (a crash that zeroed the end of the last frame and what follows).
            let frame_len = frame_len as usize;
            if self.zero_run.is_none()
                && window.rest().get(frame_len..).is_some_and(is_all_zero)
                && let Some(end) = window.zeros_to_end(frame_len)?
            {
                let frame = &window.rest()[..frame_len];
                let zeros_from = frame
                    .iter()
                    .rposition(|byte| *byte != 0)
                    .map_or(0, |i| i + 1);
                if end - (offset + zeros_from as u64) >= ZERO_FILL_MIN_LEN as u64 {
                    // A frame that verifies may begin inside the failed one and run on into
                    // the zeros (its payload may end in zeros): search the failed frame with
                    // as many of the zeros as any frame starting in it could reach.
                    let zeros = end - (offset + frame_len as u64);
                    let reach = reach_past(frame, zeros);
                    let mut bytes = frame.to_vec();
                    bytes.resize(frame_len + reach.min(SEARCH_PAD_LIMIT) as usize, 0);
                    let mut unproven = (reach > SEARCH_PAD_LIMIT).then(|| {
                        format!(
                            "a frame could begin in the failed frame and reach {reach} bytes into \
                             the zeros after it, more than the search holds"
                        )
                    });
                    if let Some(found) = self.search(&bytes, deframer, Some(&mut unproven))? {
                        return Err(located(intact_frame_follows(
                            "fails its checksum",
                            offset + found as u64,
                        )));
                    }
                    if self.frames_with_data == 0 {
                        unproven.get_or_insert_with(|| no_frame_verified().to_owned());
                    }
                    let mut report = zero_filled_tail(self.frames, offset, end);
                    report.unproven = unproven;
                    report.unchecked_candidates = self.unchecked;
                    return Ok(report);
                }
            }
            self.check_open_zero_run(offset)?;
            return Err(located(error));
        }
        let ErrorKind::UnexpectedEof { part, got, .. } = *error.kind() else {
            // Oversized frames and I/O errors: nothing to judge.
            self.check_open_zero_run(offset)?;
            return Err(located(error));
        };
        let tail = window.rest();
        let end = offset + tail.len() as u64;
        if is_all_zero(tail) && end - run_start >= ZERO_FILL_MIN_LEN as u64 {
            return Ok(zero_filled_tail(run_frame, run_start, end));
        }
        self.check_open_zero_run(offset)?;
        // Only a torn payload leaves room for a whole frame in the tail, and it tells the
        // header's width: the tail is the header and the `got` payload bytes that arrived.
        let mut unproven = None;
        if part == FramePart::Payload {
            let header_len = tail.len() - got as usize;
            // Without a checksum nothing verifies: any plausible length "parses", so a
            // search would find frames in any bytes. The tail's length is the evidence.
            if header_len > LENGTH_LEN
                && let Some(found) = self.search(tail, deframer, Some(&mut unproven))?
            {
                return Err(located(intact_frame_follows(
                    "runs past the end of the stream",
                    offset + found as u64,
                )));
            }
            let typical = self.typical_payload().saturating_mul(2);
            if header_len == LENGTH_LEN && self.frames < NONE_MIN_FRAMES {
                unproven.get_or_insert(format!(
                    "without a checksum nothing in it can be verified, and fewer than \
                     {NONE_MIN_FRAMES} frames before it show how long a frame of this stream \
                     typically is"
                ));
            } else if header_len == LENGTH_LEN && got > 0 && tail.len() > header_len + typical {
                unproven.get_or_insert(format!(
                    "without a checksum nothing in it can be verified, and it is longer than a \
                     header and twice a typical payload before it ({typical} bytes)"
                ));
            } else if header_len == LENGTH_LEN
                && let Some(at) = chain_to_the_end(tail, deframer, self.typical_payload() / 2)
            {
                // A flipped bit in a length field makes the frames after it look torn; a
                // chain of headers that lands exactly on the end is what they leave.
                unproven.get_or_insert(format!(
                    "without a checksum nothing in it can be verified, and the frame headers \
                     from byte {} run exactly to the end of the stream: intact frames may \
                     follow a damaged length field",
                    offset + at as u64
                ));
            }
        }
        if self.frames_with_data == 0 && tail.len() > LENGTH_LEN {
            unproven.get_or_insert_with(|| no_frame_verified().to_owned());
        }
        Ok(RecoveryReport {
            frames: self.frames,
            last_good_offset: offset,
            end: StreamEnd::TornTail { part },
            tail_len: tail.len() as u64,
            unproven,
            unchecked_candidates: self.unchecked,
            truncated: false,
        })
    }

    /// Searches `bytes` (from its second byte: its first is where reading stopped) for a
    /// frame that verifies. Candidates the budget could not check make the tail unproven.
    fn search<D: Deframer>(
        &mut self,
        bytes: &[u8],
        deframer: &mut D,
        unproven: Option<&mut Option<String>>,
    ) -> Result<Option<usize>> {
        let header_len = LENGTH_LEN + checksum_width(bytes, deframer);
        if header_len == LENGTH_LEN {
            return Ok(None); // Without a checksum nothing verifies.
        }
        let mut resync = Resync::new(bytes.len(), header_len - LENGTH_LEN, bytes.len(), false);
        resync.saw_payload(self.largest_payload);
        let found = resync.find(bytes, 1, deframer, &mut |_| {});
        self.unchecked += resync.unchecked;
        if resync.unchecked > 0 {
            let reason = format!(
                "{} candidate frames in it were too costly to check",
                resync.unchecked
            );
            match unproven {
                Some(unproven) => {
                    unproven.get_or_insert(reason);
                }
                None => return Err(Error::invalid_frame(reason)),
            }
        }
        Ok(found)
    }
}

/// The checksum width of the frame at the start of `bytes`, from what the deframer makes of
/// it: the bytes between the length field and the payload.
fn checksum_width<D: Deframer>(bytes: &[u8], deframer: &mut D) -> usize {
    let Some(payload_len) = flatstream_core::wire::declared_len(bytes) else {
        return 0;
    };
    match deframer.peek_frame_len(bytes) {
        Ok(Some(frame_len)) => frame_len.saturating_sub(LENGTH_LEN + payload_len as usize),
        _ => 0,
    }
}

/// Without a checksum, how many frames must come before a torn tail for their typical size
/// to judge it by.
const NONE_MIN_FRAMES: u64 = 8;

/// The first position after the first byte of `tail` where a chain of frames (lengths only:
/// nothing verifies without a checksum) runs exactly to the end of `tail`, at most 64
/// frames, each with a payload of at least `least` bytes (half a typical one: the small
/// numbers a FlatBuffer is full of make chains of short "frames" by chance). Frames after a
/// damaged length field always make one; a writer that died mid-frame rarely leaves one.
fn chain_to_the_end<D: Deframer>(tail: &[u8], deframer: &D, least: usize) -> Option<usize> {
    (1..tail.len()).find(|&start| {
        let mut position = start;
        for _ in 0..64 {
            let Ok(Some(frame_len)) = deframer.peek_frame_len(&tail[position..]) else {
                return false;
            };
            if frame_len < LENGTH_LEN + least.max(1) {
                return false;
            }
            let next = position.saturating_add(frame_len);
            if next == tail.len() {
                return true;
            }
            if next > tail.len() {
                return false;
            }
            position = next;
        }
        false
    })
}

/// How much zero padding [`Scanned::judge_tail`] adds to a failed frame to search it.
const SEARCH_PAD_LIMIT: u64 = 64 * 1024 * 1024 + 64;

/// How far past the end of `frame` a frame beginning inside it could reach, if the `zeros`
/// zero bytes that follow it are its payload's end: the padding a search of `frame` needs.
fn reach_past(frame: &[u8], zeros: u64) -> u64 {
    let available = frame.len() as u64 + zeros;
    (1..frame.len())
        .filter_map(|start| {
            let mut field = [0u8; LENGTH_LEN];
            let known = &frame[start..frame.len().min(start + LENGTH_LEN)];
            field[..known.len()].copy_from_slice(known);
            let payload_len = u64::from(u32::from_le_bytes(field));
            // With the widest header, so any checksum the deframer uses is covered.
            let frame_end =
                start as u64 + flatstream_core::wire::MAX_HEADER_LEN as u64 + payload_len;
            (payload_len > 0 && frame_end <= available + 8).then_some(frame_end)
        })
        .max()
        .map_or(0, |frame_end| {
            frame_end.saturating_sub(frame.len() as u64).min(zeros)
        })
}

fn no_frame_verified() -> &'static str {
    "no frame before it verifies, so nothing shows that the checksum in use is the stream's \
     own (a stream read with the wrong checksum looks torn or damaged at frame 0)"
}

fn intact_frame_follows(what: &str, at: u64) -> Error {
    Error::invalid_frame(format!(
        "this frame {what}, but an intact frame begins at byte offset {at}: the stream is \
         damaged here, not torn; salvage it rather than truncate it"
    ))
}

/// The bytes of a stream from the current frame on, read as far as needed.
struct Window<R> {
    reader: R,
    bytes: Vec<u8>,
    /// Where the current frame begins in `bytes`.
    start: usize,
    /// The stream offset of `bytes[0]`.
    base: u64,
    eof: bool,
}

/// How much a window reads at a time.
const CHUNK: usize = 256 * 1024;

impl<R: Read> Window<R> {
    fn new(reader: R) -> Self {
        Window {
            reader,
            bytes: Vec::new(),
            start: 0,
            base: 0,
            eof: false,
        }
    }

    fn rest(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    fn consume(&mut self, len: usize) {
        self.start += len;
    }

    /// Reads at least `missing` more bytes (and at least a chunk), or up to the end.
    fn read_more(&mut self, missing: usize) -> io::Result<()> {
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        let target = self.bytes.len() + missing.max(CHUNK);
        while self.bytes.len() < target && !self.eof {
            self.append(target - self.bytes.len())?;
        }
        Ok(())
    }

    /// Whether everything from `skip` bytes past the current frame's start to the end of the
    /// stream is zero bytes; if so, the stream's length. Reads on as far as the zeros go,
    /// dropping them once checked, so it holds no more than a chunk of them; the window is
    /// good for nothing past the current frame afterwards.
    fn zeros_to_end(&mut self, skip: usize) -> io::Result<Option<u64>> {
        let keep = self.start + skip;
        let mut dropped = 0u64;
        loop {
            if !is_all_zero(self.bytes.get(keep..).unwrap_or_default()) {
                return Ok(None);
            }
            if self.eof {
                return Ok(Some(self.base + self.bytes.len() as u64 + dropped));
            }
            dropped += self.bytes.len().saturating_sub(keep) as u64;
            self.bytes.truncate(keep);
            self.append(CHUNK)?;
        }
    }

    /// Appends what one read gives, up to `max` bytes, without moving the current frame;
    /// marks the end of the stream. `Interrupted` is retried.
    fn append(&mut self, max: usize) -> io::Result<()> {
        let filled = self.bytes.len();
        self.bytes.resize(filled + max, 0);
        loop {
            match self.reader.read(&mut self.bytes[filled..]) {
                Ok(n) => {
                    self.bytes.truncate(filled + n.min(max));
                    self.eof = n == 0;
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.bytes.truncate(filled);
                    return Err(error);
                }
            }
        }
    }
}

/// A position at or after `from` in `input` where a frame begins that verifies under
/// `deframer`'s checksum and limit, with a payload that is neither empty nor all zero bytes:
/// the evidence [`recover`] looks for before it calls a tail torn.
///
/// Use it on what a reader reported as a torn tail (from its second byte) to tell a torn
/// tail from a damaged length field with intact frames after it. `largest_payload` is the
/// largest payload among the frames before `input` (0 if unknown): frames of up to about
/// twice that size are looked for first. The work is bounded as [`salvage`]'s is; a
/// candidate past the budget is not checked (and not returned). Without a checksum nothing
/// verifies, and it returns `None`.
pub fn find_intact_frame<C: Checksum>(
    input: &[u8],
    from: usize,
    deframer: &ChecksumDeframer<C>,
    largest_payload: usize,
) -> Option<usize> {
    let max_frame_len = deframer.max_frame_len();
    let checksum_len = deframer.checksum().size();
    if checksum_len == 0 {
        return None;
    }
    let mut parser = ChecksumDeframer::new(deframer.checksum()).with_max_frame_len(max_frame_len);
    let mut resync = Resync::new(input.len(), checksum_len, max_frame_len, false);
    resync.saw_payload(largest_payload);
    resync.find(input, from, &mut parser, &mut |_| {})
}

/// Whether [`recover_file`] may cut a tail off the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncate {
    /// Cut the tail off when the data proves it holds no intact frame, and sync the file.
    Yes,
    /// Cut the tail off even when the data cannot prove that
    /// ([`RecoveryReport::unproven`]): without a checksum, or with no verified frame before
    /// it. Never when an intact frame follows (that is damage, reported as an error whatever
    /// is asked), and never while candidates in the tail went unchecked for the search's
    /// work budget ([`RecoveryReport::unchecked_candidates`]): one of them may be intact.
    Force,
    /// Only report.
    No,
}

/// [`recover`] on the file at `path`; with [`Truncate::Yes`] a torn or zero-filled tail is
/// cut off and the file synced to disk, if the data proves the tail holds no intact frame
/// (otherwise the report's [`unproven`](RecoveryReport::unproven) says why, and
/// [`truncated`](RecoveryReport::truncated) is false). Nothing else is ever changed: damage
/// inside the file is an error and the file is left as it was.
///
/// # Errors
///
/// As [`recover`], plus the errors of opening, truncating or syncing the file.
pub fn recover_file<D: Deframer>(
    path: impl AsRef<Path>,
    deframer: D,
    truncate: Truncate,
) -> Result<RecoveryReport> {
    recover_file_with_progress(path, deframer, truncate, |_| {})
}

/// [`recover_file`], calling `on_progress` with the number of bytes read so far as it reads.
///
/// # Errors
///
/// As [`recover_file`].
pub fn recover_file_with_progress<D: Deframer>(
    path: impl AsRef<Path>,
    deframer: D,
    truncate: Truncate,
    on_progress: impl FnMut(u64),
) -> Result<RecoveryReport> {
    let file = OpenOptions::new()
        .read(true)
        .write(truncate != Truncate::No)
        .open(path)?;
    let counting = ProgressReader {
        inner: &file,
        read: 0,
        on_progress,
    };
    let mut report = recover(counting, deframer)?;
    let allowed = match truncate {
        Truncate::No => false,
        Truncate::Yes => report.unproven.is_none(),
        Truncate::Force => report.unchecked_candidates == 0,
    };
    if allowed && report.tail_len > 0 {
        // The file may have grown since it was read: cut only what was judged.
        let len = file.metadata()?.len();
        if len != report.last_good_offset + report.tail_len {
            return Err(Error::invalid_frame(format!(
                "the file changed while it was examined ({} bytes then, {len} now); nothing was cut",
                report.last_good_offset + report.tail_len
            ))
            .at_frame(report.frames, report.last_good_offset));
        }
        file.set_len(report.last_good_offset)?;
        file.sync_all()?;
        report.truncated = true;
    }
    Ok(report)
}

/// Tells `on_progress` how many bytes were read through it.
struct ProgressReader<R, F> {
    inner: R,
    read: u64,
    on_progress: F,
}

impl<R: Read, F: FnMut(u64)> Read for ProgressReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.on_progress)(self.read);
        Ok(n)
    }
}

/// What [`salvage`] kept and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvageReport {
    /// Intact frames copied to the output.
    pub frames: u64,
    /// Bytes written to the output.
    pub bytes_written: u64,
    /// Byte ranges of the input skipped as damaged, in order.
    pub skipped: Vec<Range<u64>>,
    /// The zero-filled runs among the skipped ranges, in order: each lies inside one of
    /// `skipped`.
    pub zero_filled: Vec<Range<u64>>,
    /// Candidate frames after damage that the search's work budget could not check (only
    /// input that is mostly not frames comes near it); frames among them, if any, were not
    /// kept. Frames like the ones already seen (no longer than twice the largest, at least
    /// 256 bytes) have a budget of their own that larger candidates cannot spend, so it takes
    /// damage full of candidates of that size to leave one of them out.
    pub unchecked_candidates: u64,
    /// Frames after damage that verified under a checksum narrower than 4 bytes (CRC-16)
    /// but were not followed by another intact frame, a torn tail or the end: a chance match
    /// is 1 in 65 536 there, so they were not kept (an intact frame between two damaged
    /// regions is one of them).
    pub unconfirmed_candidates: u64,
    /// How the input ends.
    pub end: StreamEnd,
    /// Bytes of input.
    pub input_len: u64,
}

/// Copies every intact frame read from `reader` to `output`, stepping over damage; see
/// [`salvage_slice`]. The input is read into memory whole (resynchronising needs to look
/// ahead): for a large file, map it and call [`salvage_slice`].
///
/// # Errors
///
/// As [`salvage_slice`], plus the reader's I/O errors.
pub fn salvage<R: Read, C: Checksum, W: Write>(
    mut reader: R,
    deframer: ChecksumDeframer<C>,
    output: &mut W,
) -> Result<SalvageReport> {
    let mut input = Vec::new();
    reader.read_to_end(&mut input)?;
    salvage_slice(&input, deframer, output)
}

/// Copies every intact frame of `input` to `output`, stepping over damage.
///
/// Past a damaged frame it searches forward, byte by byte, for the next position where a
/// trustworthy frame begins (resynchronising, as record logs such as LevelDB's do) and
/// reports each skipped byte range. To keep chance matches out, a resync point must hold a
/// payload that is neither empty nor all zero bytes (every CRC here maps an empty payload to
/// 0, and CRC-16/XMODEM maps any run of zeros to 0), and with a 2-byte checksum it must also
/// be followed by another intact frame, a torn tail or the end. A run of
/// [`ZERO_FILL_MIN_LEN`] or more zero bytes at a frame boundary is zero-filled damage and is
/// skipped, not copied as empty frames; so is a non-empty frame whose checksum and payload
/// are that many zero bytes (under CRC-16/XMODEM, what a zeroed block leaves of a frame whose
/// length field survived: it verifies). Both are what [`ZeroFillCheck`](crate::ZeroFillCheck)
/// reports and [`ZeroFillGuard`](crate::ZeroFillGuard) never writes, so an undamaged stream
/// comes through whole.
///
/// The search costs O(input) whatever the input (see `SalvageReport::unchecked_candidates`
/// for what its budget may leave out: only on input that is mostly not frames). It looks
/// first for a frame like the ones seen, under a budget of its own, then for other frames
/// before that one. Frames are
/// written with the same checksum, so the output is a clean stream of the same kind;
/// nothing is changed in place.
///
/// # Errors
///
/// [`ErrorKind::InvalidFrame`] when the stream is damaged and the checksum is zero-width
/// (without a checksum a resync point cannot be told from noise); the output's I/O errors.
pub fn salvage_slice<C: Checksum, W: Write>(
    input: &[u8],
    deframer: ChecksumDeframer<C>,
    output: &mut W,
) -> Result<SalvageReport> {
    salvage_slice_with_progress(input, deframer, output, |_| {})
}

/// [`salvage_slice`], calling `on_progress` with the input offset reached, every MiB or so.
///
/// # Errors
///
/// As [`salvage_slice`].
pub fn salvage_slice_with_progress<C: Checksum, W: Write>(
    input: &[u8],
    deframer: ChecksumDeframer<C>,
    output: &mut W,
    mut on_progress: impl FnMut(u64),
) -> Result<SalvageReport> {
    let max_frame_len = deframer.max_frame_len();
    let checksum = deframer.into_checksum();
    let checksum_len = checksum.size();
    let mut framer = crate::ChecksumFramer::new(&checksum);
    let mut parser = ChecksumDeframer::new(&checksum).with_max_frame_len(max_frame_len);
    let mut resync = Resync::new(input.len(), checksum_len, max_frame_len, true);
    let mut report = SalvageReport {
        frames: 0,
        bytes_written: 0,
        skipped: Vec::new(),
        zero_filled: Vec::new(),
        unchecked_candidates: 0,
        unconfirmed_candidates: 0,
        end: StreamEnd::CleanEof,
        input_len: input.len() as u64,
    };
    let mut position = 0usize;
    let mut next_report = 0usize;
    while position < input.len() {
        if position >= next_report {
            on_progress(position as u64);
            next_report = position + (1 << 20);
        }
        let zeros = leading_zeros(&input[position..input.len().min(position + ZERO_FILL_MIN_LEN)]);
        let damage = if zeros == ZERO_FILL_MIN_LEN {
            let zeros = leading_zeros(&input[position..]);
            Damage::ZeroFill(position + zeros)
        } else {
            match parser.parse_frame(&input[position..]) {
                // A frame whose checksum and payload are zeros, under a checksum that maps
                // zeros of any length to 0 (CRC-16/XMODEM): what a zeroed block leaves of a
                // frame whose length survived. Zero fill when the zeros run on for
                // `ZERO_FILL_MIN_LEN` bytes from its checksum field (readers that check for
                // zero fill report such a run, writers that guard against it never write
                // one); a few zero bytes with data after them verify and are copied.
                Ok(Some(frame))
                    if checksum_len > 0
                        && !frame.payload.is_empty()
                        && is_all_zero(&input[position + LENGTH_LEN..position + frame.len])
                        && leading_zeros(
                            &input[position + LENGTH_LEN
                                ..input.len().min(position + LENGTH_LEN + ZERO_FILL_MIN_LEN)],
                        ) == ZERO_FILL_MIN_LEN =>
                {
                    Damage::ZeroFill(position + frame.len)
                }
                Ok(Some(frame)) => {
                    let written = framer
                        .frame_and_write(output, frame.payload)
                        .map_err(|error| error.at_frame(report.frames, report.bytes_written))?;
                    report.bytes_written += written as u64;
                    report.frames += 1;
                    resync.saw_payload(frame.payload.len());
                    position += frame.len;
                    continue;
                }
                Ok(None) => break,
                Err(error) => Damage::Frame(error),
            }
        };
        if checksum_len == 0 {
            if let Damage::ZeroFill(end) = damage
                && end == input.len()
            {
                report.skipped.push(position as u64..end as u64);
                report.zero_filled.push(position as u64..end as u64);
                break;
            }
            let what = match &damage {
                Damage::Frame(error) => error.to_string(),
                Damage::ZeroFill(end) => Error::zero_filled((end - position) as u64).to_string(),
            };
            return Err(Error::invalid_frame(format!(
                "cannot resynchronise without a checksum: {what}"
            ))
            .at_frame(report.frames, position as u64));
        }
        let next = resync.find(input, position + 1, &mut parser, &mut on_progress);
        report.unchecked_candidates = resync.unchecked;
        report.unconfirmed_candidates = resync.unconfirmed;
        let skipped_end = next.unwrap_or(input.len());
        if let Damage::Frame(error) = &damage
            && next.is_none()
            && let ErrorKind::UnexpectedEof { part, .. } = error.kind()
        {
            // Nothing intact follows and the frame ran past the end: a torn tail.
            report.end = StreamEnd::TornTail { part: *part };
            break;
        }
        report.skipped.push(position as u64..skipped_end as u64);
        push_zero_runs(input, position..skipped_end, &mut report.zero_filled);
        position = skipped_end;
    }
    output.flush()?;
    Ok(report)
}

/// Appends the runs of [`ZERO_FILL_MIN_LEN`] or more zero bytes inside `range` of `input`.
fn push_zero_runs(input: &[u8], range: Range<usize>, runs: &mut Vec<Range<u64>>) {
    let mut position = range.start;
    while position < range.end {
        let zeros = leading_zeros(&input[position..range.end]);
        if zeros >= ZERO_FILL_MIN_LEN {
            runs.push(position as u64..(position + zeros) as u64);
        }
        position += zeros;
        position += input[position..range.end]
            .iter()
            .position(|byte| *byte == 0)
            .unwrap_or(range.end - position);
    }
}

/// Why salvage stopped trusting the bytes at a position.
enum Damage {
    /// A frame that does not parse or verify.
    Frame(Error),
    /// Zero bytes up to this offset.
    ZeroFill(usize),
}
