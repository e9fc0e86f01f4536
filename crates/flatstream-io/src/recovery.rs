//! Crash recovery: find where the intact frames end, cut a torn tail, and salvage the intact
//! frames of a damaged stream.
//!
//! A process that dies while writing leaves at most one partial frame, at the end: a *torn
//! tail*. [`recover`] and [`recover_file`] find it and (on request) cut it off, never
//! anything else. Damage elsewhere (a corrupt frame inside the stream) is an error they
//! report, with its frame and offset; [`salvage`] is the explicit, copying tool for it.
//!
//! ```text
//!  frame 0   frame 1   frame 2 (torn)
//! +-------+ +-------+ +-----+
//! |  ok   | |  ok   | | ... |<end>       recover: 2 frames, last_good_offset = end of frame 1
//! +-------+ +-------+ +-----+
//! ```

use std::fs::OpenOptions;
use std::io::{BufReader, Read, Write};
use std::ops::Range;
use std::path::Path;

use flatstream_core::{Checksum, Deframer, Error, ErrorKind, FramePart, Framer, Result};

use crate::{ChecksumDeframer, StreamReader};

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
}

/// What [`recover`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Intact frames, in order from the start.
    pub frames: u64,
    /// The byte offset one past the last intact frame: the length to keep.
    pub last_good_offset: u64,
    /// How the stream ends.
    pub end: StreamEnd,
    /// Bytes after the last intact frame (the torn tail; 0 when the end is clean).
    pub tail_len: u64,
    /// Whether [`recover_file`] cut the tail off.
    pub truncated: bool,
}

/// Scans `reader` from its start and reports the intact frames and how the stream ends.
///
/// Only a torn tail is a result: any other failure (a checksum mismatch, an oversized or
/// rejected frame, an I/O error) is returned as that error, naming the frame and offset.
///
/// # Errors
///
/// As described; the error's offset is where the damaged frame begins.
pub fn recover<R: Read, D: Deframer>(reader: R, deframer: D) -> Result<RecoveryReport> {
    let mut counting = CountingReader {
        inner: reader,
        count: 0,
    };
    let mut stream = StreamReader::new(&mut counting, deframer);
    let outcome = loop {
        match stream.read_message() {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(StreamEnd::CleanEof),
            Err(error) => break Err(error),
        }
    };
    let frames = stream.frames_read();
    let last_good_offset = stream.position();
    drop(stream);
    let end = match outcome {
        Ok(end) => end,
        Err(error) => match error.kind() {
            ErrorKind::UnexpectedEof { part, .. } => StreamEnd::TornTail { part: *part },
            _ => return Err(error),
        },
    };
    Ok(RecoveryReport {
        frames,
        last_good_offset,
        end,
        tail_len: counting.count - last_good_offset,
        truncated: false,
    })
}

/// Whether [`recover_file`] may cut a torn tail off the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncate {
    /// Cut the torn tail off, and sync the file.
    Yes,
    /// Only report.
    No,
}

/// [`recover`] on the file at `path`; with [`Truncate::Yes`], a torn tail is cut off and the
/// file synced to disk. Nothing else is ever changed: damage inside the file is an error and
/// the file is left as it was.
///
/// # Errors
///
/// As [`recover`], plus the errors of opening, truncating or syncing the file.
pub fn recover_file<D: Deframer>(
    path: impl AsRef<Path>,
    deframer: D,
    truncate: Truncate,
) -> Result<RecoveryReport> {
    let file = OpenOptions::new()
        .read(true)
        .write(truncate == Truncate::Yes)
        .open(path)?;
    let mut report = recover(BufReader::with_capacity(256 * 1024, &file), deframer)?;
    if truncate == Truncate::Yes && report.tail_len > 0 {
        file.set_len(report.last_good_offset)?;
        file.sync_all()?;
        report.truncated = true;
    }
    Ok(report)
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
/// frame with a valid checksum begins (resynchronising, as record logs such as LevelDB's
/// do) and reports each skipped byte range. To keep chance matches out, a resync point must
/// hold a non-empty payload (every CRC here maps the empty payload to 0, so zero-filled
/// bytes look like empty frames), and with a 2-byte checksum (a chance match in 65 536) it
/// must also be followed by another intact frame, a torn tail or the end; with 4 and 8 bytes
/// a chance match is one in four billion or less. Frames are written with the same
/// checksum, so the output is a clean stream of the same kind; nothing is changed in place.
///
/// Zero-filled damage (blocks a file system allocated but never wrote) reads as a run of
/// valid empty frames under every CRC, before and after salvage alike; XXH3 of the empty
/// payload is not zero, so with `xxh3` such a run is detected as damage.
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
    let max_frame_len = deframer.max_frame_len();
    let checksum = deframer.into_checksum();
    let checksum_len = checksum.size();
    let mut framer = crate::ChecksumFramer::new(&checksum);
    let mut parser = ChecksumDeframer::new(&checksum).with_max_frame_len(max_frame_len);
    let mut report = SalvageReport {
        frames: 0,
        bytes_written: 0,
        skipped: Vec::new(),
        end: StreamEnd::CleanEof,
        input_len: input.len() as u64,
    };
    let mut position = 0usize;
    while position < input.len() {
        match parser.parse_frame(&input[position..]) {
            Ok(Some(frame)) => {
                let written = framer
                    .frame_and_write(output, frame.payload)
                    .map_err(|error| error.at_frame(report.frames, report.bytes_written))?;
                report.bytes_written += written as u64;
                report.frames += 1;
                position += frame.len;
            }
            Ok(None) => break,
            Err(error) => {
                if checksum_len == 0 {
                    return Err(Error::invalid_frame(format!(
                        "cannot resynchronise without a checksum: {error}"
                    ))
                    .at_frame(report.frames, position as u64));
                }
                if let Some(next) = resync(
                    input,
                    position + 1,
                    &mut parser,
                    checksum_len,
                    max_frame_len,
                ) {
                    report.skipped.push(position as u64..next as u64);
                    position = next;
                } else {
                    // Nothing intact follows: a torn tail if that is what the error says,
                    // damage to the end otherwise.
                    if let ErrorKind::UnexpectedEof { part, .. } = error.kind() {
                        report.end = StreamEnd::TornTail { part: *part };
                    } else {
                        report.skipped.push(position as u64..input.len() as u64);
                    }
                    break;
                }
            }
        }
    }
    output.flush()?;
    Ok(report)
}

/// The first position from `from` where a trustworthy frame begins.
fn resync<D: Deframer>(
    input: &[u8],
    from: usize,
    deframer: &mut D,
    checksum_len: usize,
    max_frame_len: usize,
) -> Option<usize> {
    let header_len = flatstream_core::wire::LENGTH_LEN + checksum_len;
    (from..input.len()).find(|&candidate| {
        // Most positions fail on the length alone: rule them out before the parser, which
        // would build an error for each.
        let rest = &input[candidate..];
        let Some(length) = rest.get(..4) else {
            return false;
        };
        let payload_len = u32::from_le_bytes([length[0], length[1], length[2], length[3]]) as usize;
        if payload_len == 0 || payload_len > max_frame_len || header_len + payload_len > rest.len()
        {
            return false;
        }
        let Ok(Some(frame)) = deframer.parse_frame(rest) else {
            return false;
        };
        if frame.payload.is_empty() {
            return false;
        }
        if checksum_len >= 4 {
            return true;
        }
        let next = candidate + frame.len;
        match deframer.parse_frame(&input[next..]) {
            Ok(_) => true,
            Err(error) => error.is_torn_tail(),
        }
    })
}

/// Counts the bytes read through it, to know the length of a torn tail.
struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
