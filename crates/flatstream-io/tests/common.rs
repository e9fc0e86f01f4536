//! Helpers shared by the test modules.

use std::io::{self, BufRead, Read};

use flatstream::ChecksumKind;
use flatstream_core::{Checksum, Error, ErrorKind, Result};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamWriter};

/// Every algorithm by its name in the wire vectors' manifest: the facade's one table of
/// names (a dev-dependency on the facade, which depends on this crate: fine for tests).
pub(crate) fn checksum_by_name(name: &str) -> Box<dyn Checksum> {
    let kind: ChecksumKind = name.parse().unwrap_or_else(|error| panic!("{error}"));
    kind.checksum()
}

/// The frame as the wire format defines it, built by hand: the payload's length, `width`
/// bytes of `sum`, the payload.
pub(crate) fn hand_frame(width: usize, sum: u64, payload: &[u8]) -> Vec<u8> {
    let mut frame = u32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
    frame.extend_from_slice(&sum.to_le_bytes()[..width]);
    frame.extend_from_slice(payload);
    frame
}

/// The algorithms the wire vectors cover, in the facade's order (a test holds them equal to
/// `ChecksumKind::all()`; a constant, because the property tests index it).
pub(crate) const ALGORITHMS: [&str; 6] = ["none", "crc16", "crc32", "crc32c", "crc64", "xxh3"];

#[test]
fn algorithms_are_every_checksum_kind() {
    let kinds: Vec<&str> = ChecksumKind::all()
        .iter()
        .copied()
        .map(ChecksumKind::name)
        .collect();
    assert_eq!(kinds, ALGORITHMS);
}

pub(crate) use flatstream_test_support::ScratchFile;

/// The repository's `tests/data`.
pub(crate) fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// A `Read` that returns at most `chunk` bytes per call, and `Interrupted` before every
/// other call, as a slow pipe or a signal-heavy process would.
pub(crate) struct ShortReads<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) chunk: usize,
    pub(crate) interrupt_next: bool,
}

impl<'a> ShortReads<'a> {
    pub(crate) fn new(bytes: &'a [u8], chunk: usize) -> Self {
        ShortReads {
            bytes,
            chunk,
            interrupt_next: true,
        }
    }
}

impl Read for ShortReads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt_next = !self.interrupt_next;
        if !self.interrupt_next {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.chunk.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Deterministic, non-repeating payload bytes.
pub(crate) fn payload_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// Every payload a reader delivers before its first error, and that error.
pub(crate) use flatstream_test_support::drain;

/// What the tests ask of every reader, `StreamReader` in any mode and `SliceReader` alike:
/// one payload at a time, all of them through a closure, and the counts.
pub(crate) trait AnyReader {
    fn next_payload(&mut self) -> Result<Option<Vec<u8>>>;
    fn process(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()>;
    /// Frames read and position.
    fn counts(&self) -> (u64, u64);
}

impl<R, D: flatstream_core::Deframer, M: flatstream_io::ReadMode<R>> AnyReader
    for flatstream_io::StreamReader<R, D, M>
{
    fn next_payload(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.read_message()?.map(<[u8]>::to_vec))
    }
    fn process(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.process_all(f)
    }
    fn counts(&self) -> (u64, u64) {
        (self.frames_read(), self.position())
    }
}

impl<D: flatstream_core::Deframer> AnyReader for flatstream_io::SliceReader<'_, D> {
    fn next_payload(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.read_message()?.map(<[u8]>::to_vec))
    }
    fn process(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.process_all(f)
    }
    fn counts(&self) -> (u64, u64) {
        (self.frames_read(), self.position())
    }
}

/// `Read::read` for a test's `BufRead`: through its own `fill_buf` and `consume`.
pub(crate) fn read_via_fill_buf<B: BufRead>(source: &mut B, buf: &mut [u8]) -> io::Result<usize> {
    let n = {
        let available = source.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        n
    };
    source.consume(n);
    Ok(n)
}

/// A `Read` that `StreamReader::new` does not recognise as bytes in memory, so that it reads
/// it into its own buffer as it would a file: for tests of that path over bytes in memory.
pub(crate) struct Opaque<R>(pub(crate) R);

impl<R: Read> Read for Opaque<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// The deframer of most of the mode-agreement tests: a checksum by name, and a limit.
pub(crate) type Df = ChecksumDeframer<Box<dyn Checksum>>;

/// A [`Df`] for checksum `name`, with `max` as its frame limit if given.
pub(crate) fn deframer(name: &str, max: Option<usize>) -> Df {
    let deframer = ChecksumDeframer::new(checksum_by_name(name));
    match max {
        Some(max) => deframer.with_max_frame_len(max),
        None => deframer,
    }
}

/// `payloads` framed with checksum `name`.
pub(crate) fn stream_of(name: &str, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name(name)));
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    writer.into_inner()
}

/// A small deterministic PRNG (xorshift64*) for the property loops.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (0 for `n` of 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Rounds of a property loop: `default`, or `FLATSTREAM_TEST_ROUNDS` for a longer search.
pub(crate) fn rounds(default: usize) -> usize {
    std::env::var("FLATSTREAM_TEST_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(default)
}

/// What a reader did, step by step, to compare readers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ev {
    Msg(Vec<u8>),
    End,
    Err {
        tag: String,
        index: Option<u64>,
        offset: Option<u64>,
        resumable: bool,
    },
    Panicked,
    /// Counts after a step: frames read, position, last frame offset.
    Counts(u64, u64, u64),
}

/// An error's kind, in a word.
pub(crate) fn tag(error: &Error) -> String {
    match error.kind() {
        ErrorKind::Io(e) => format!("io:{:?}", e.kind()),
        ErrorKind::ChecksumMismatch { .. } => "checksum".into(),
        ErrorKind::UnexpectedEof { .. } => "eof".into(),
        ErrorKind::FrameTooLarge { .. } => "too_large".into(),
        ErrorKind::InvalidFrame { .. } => "invalid".into(),
        other => format!("{other:?}"),
    }
}

/// An error as an [`Ev`]: its kind and where it is.
pub(crate) fn ev_err(error: &Error) -> Ev {
    Ev::Err {
        tag: tag(error),
        index: error.frame_index(),
        offset: error.offset(),
        resumable: error.is_resumable(),
    }
}

/// A sink the framers cannot recognise: every write goes through `Write`, into a `Vec`.
#[derive(Debug, Default)]
pub(crate) struct Unrecognised(pub(crate) Vec<u8>);

impl io::Write for Unrecognised {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every payload a `process_all` (of any reader) hands over until the end, copied; panics
/// on an error. Called as `collected(|each| reader.process_all(each))`.
pub(crate) fn collected(
    process_all: impl FnOnce(&mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()>,
) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    process_all(&mut |payload| {
        got.push(payload.to_vec());
        Ok(())
    })
    .unwrap();
    got
}
