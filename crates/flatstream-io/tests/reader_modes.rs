//! The buffered mode, `parse_plain` and `process_all`'s runs of frames: every reader mode is
//! driven through the same plan of calls over the same bytes, and the traces compared.

#[allow(unused_imports)]
use std::io::Cursor;
use std::io::{self, BufReader, Read};

use flatstream_core::{Deframer, Error, Result, Validator};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DeframerExt, ReadMode, SliceReader, StreamReader,
    StreamWriter, ZeroFillCheck,
};
use flatstream_test_support::pseudo_random_bytes;

use crate::common::checksum_by_name;

/// One call on a reader.
#[derive(Clone, Copy, Debug)]
enum Op {
    Read,
    /// `process_all` whose closure fails on every payload whose first byte is this value.
    ProcessAll(Option<u8>),
}

fn hex(payload: &[u8]) -> String {
    if payload.len() > 16 {
        format!("{}B:{:02x?}..", payload.len(), &payload[..8])
    } else {
        format!("{payload:02x?}")
    }
}

fn describe(error: &Error) -> String {
    format!(
        "err[{error}] idx={:?} off={:?} resumable={} torn={}",
        error.frame_index(),
        error.offset(),
        error.is_resumable(),
        error.is_torn_tail()
    )
}

/// A reader driven by the plan: the trace of what each call gave, with the counters.
trait Driven {
    fn read(&mut self) -> Result<Option<Vec<u8>>>;
    fn process_all(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()>;
    fn counters(&self) -> (u64, u64);
}

impl<R, D: Deframer, M: ReadMode<R>> Driven for StreamReader<R, D, M> {
    fn read(&mut self) -> Result<Option<Vec<u8>>> {
        self.read_message().map(|p| p.map(<[u8]>::to_vec))
    }
    fn process_all(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        StreamReader::process_all(self, f)
    }
    fn counters(&self) -> (u64, u64) {
        (self.position(), self.frames_read())
    }
}

impl<D: Deframer> Driven for SliceReader<'_, D> {
    fn read(&mut self) -> Result<Option<Vec<u8>>> {
        self.read_message().map(|p| p.map(<[u8]>::to_vec))
    }
    fn process_all(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        SliceReader::process_all(self, f)
    }
    fn counters(&self) -> (u64, u64) {
        (self.position(), self.frames_read())
    }
}

/// Records an error; whether the plan is done: after the second error that stops the
/// reader (the first is followed by one more call, which must refuse too).
fn on_error(error: &Error, trace: &mut Vec<String>, stopped: &mut bool) -> bool {
    trace.push(describe(error));
    if error.is_resumable() {
        false
    } else if *stopped {
        true
    } else {
        *stopped = true;
        false
    }
}

fn drive(reader: &mut dyn Driven, plan: &[Op]) -> Vec<String> {
    let mut trace = Vec::new();
    let mut stopped = false;
    let mut ends = 0;
    for step in 0..4000 {
        let op = plan[step % plan.len()];
        let done = match op {
            Op::Read => match reader.read() {
                Ok(Some(p)) => {
                    trace.push(format!("msg {}", hex(&p)));
                    false
                }
                Ok(None) => {
                    trace.push("none".into());
                    true
                }
                Err(e) => on_error(&e, &mut trace, &mut stopped),
            },
            Op::ProcessAll(fail) => {
                let mut seen = Vec::new();
                let result = reader.process_all(&mut |p: &[u8]| {
                    seen.push(format!("msg {}", hex(p)));
                    if fail.is_some() && p.first().copied() == fail {
                        return Err(Error::validation_failed("test", "closure refused"));
                    }
                    Ok(())
                });
                trace.extend(seen);
                match result {
                    Ok(()) => {
                        trace.push("pa ok".into());
                        true
                    }
                    Err(e) => on_error(&e, &mut trace, &mut stopped),
                }
            }
        };
        let (pos, n) = reader.counters();
        trace.push(format!("  pos={pos} n={n}"));
        // An end is read again: a file that grows goes on.
        if done
            && trace
                .iter()
                .rev()
                .nth(1)
                .is_some_and(|t| t == "none" || t == "pa ok")
        {
            ends += 1;
            if ends == 4 {
                break;
            }
        } else if done {
            break;
        }
    }
    trace
}

/// A `Read` over `bytes` whose calls return at most `pattern[i]` bytes, cycling; 0 in the
/// pattern gives `Ok(0)` (a file that ends for now, then grows); `usize::MAX - 1` gives an
/// `Interrupted`.
pub(crate) struct Pattern<'a> {
    bytes: &'a [u8],
    pos: usize,
    sizes: Vec<usize>,
    call: usize,
}

impl<'a> Pattern<'a> {
    pub(crate) fn new(bytes: &'a [u8], pattern: &[usize]) -> Self {
        Pattern {
            bytes,
            pos: 0,
            sizes: pattern.to_vec(),
            call: 0,
        }
    }
}

const INTERRUPT: usize = usize::MAX - 1;

/// A `Read` over `bytes` that returns `Ok(0)` once when it reaches each offset in `gaps`
/// (a file that ends for now and then grows), and at most 13 bytes per call.
pub(crate) struct Gappy<'a> {
    bytes: &'a [u8],
    pos: usize,
    gaps: Vec<usize>,
}

impl<'a> Gappy<'a> {
    pub(crate) fn new(bytes: &'a [u8], gaps: &[usize]) -> Self {
        let mut gaps = gaps.to_vec();
        gaps.sort_unstable();
        gaps.dedup();
        Gappy {
            bytes,
            pos: 0,
            gaps,
        }
    }
}

impl Read for Gappy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(&gap) = self.gaps.first() {
            match gap.cmp(&self.pos) {
                std::cmp::Ordering::Less => {
                    self.gaps.remove(0);
                }
                std::cmp::Ordering::Equal => {
                    self.gaps.remove(0);
                    return Ok(0);
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        let limit = self
            .gaps
            .first()
            .copied()
            .unwrap_or(self.bytes.len())
            .min(self.bytes.len());
        let n = buf.len().min(limit - self.pos).min(13);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Read for Pattern<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = self.sizes[self.call % self.sizes.len()];
        self.call += 1;
        if step == INTERRUPT {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = step.min(buf.len()).min(self.bytes.len() - self.pos);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn stream(checksum: &str, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name(checksum)));
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    writer.into_inner()
}

/// Rejects payloads whose first byte is 0xEE.
struct NoEe;
impl Validator for NoEe {
    fn validate(&self, payload: &[u8]) -> Result<()> {
        if payload.first() == Some(&0xEE) {
            Err(Error::validation_failed("noee", "starts with EE"))
        } else {
            Ok(())
        }
    }
    fn name(&self) -> &'static str {
        "noee"
    }
}

/// The deframer configurations every mode is compared under.
const DEFRAMERS: usize = 6;

/// Runs `plan` over `bytes` in every mode with deframer configuration `which`, returning
/// (mode name, trace) pairs.
fn all_modes(
    bytes: &[u8],
    gaps: &[usize],
    checksum: &str,
    max: usize,
    which: usize,
    plan: &[Op],
) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let base = || ChecksumDeframer::new(checksum_by_name(checksum)).with_max_frame_len(max);
    let mut run = |name: String, reader: &mut dyn Driven| out.push((name, drive(reader, plan)));
    // Each configuration as a boxed factory over the modes.
    macro_rules! modes {
        ($make:expr) => {{
            for size in [
                1usize,
                15,
                16,
                17,
                23,
                64,
                100,
                4096,
                flatstream_io::DEFAULT_BUFFER_SIZE,
            ] {
                let mut r = StreamReader::with_buffer_size(bytes, $make, size);
                run(format!("buffered {size}"), &mut r);
                for pattern in [&[1usize][..], &[3, INTERRUPT, 7]] {
                    let mut r =
                        StreamReader::with_buffer_size(Pattern::new(bytes, pattern), $make, size);
                    run(format!("buffered {size} {pattern:?}"), &mut r);
                }
                let mut r = StreamReader::with_buffer_size(Gappy::new(bytes, gaps), $make, size);
                run(format!("buffered {size} gaps"), &mut r);
            }
            for cap in [1usize, 5, 16, 64, 8192] {
                let mut r = StreamReader::in_place(BufReader::with_capacity(cap, bytes), $make);
                run(format!("in_place {cap}"), &mut r);
            }
            let mut r = StreamReader::unbuffered(bytes, $make);
            run("unbuffered".into(), &mut r);
            let mut r = StreamReader::unbuffered(Gappy::new(bytes, gaps), $make);
            run("unbuffered gaps".into(), &mut r);
            // (`in_place` over a source with gaps: see the dedicated tests below; its
            // `process_all` reads past an end of the source.)
            for pattern in [&[1usize][..], &[3, INTERRUPT, 7]] {
                let mut r = StreamReader::unbuffered(Pattern::new(bytes, pattern), $make);
                run(format!("unbuffered {pattern:?}"), &mut r);
            }
            let mut r = SliceReader::new(bytes, $make);
            run("slice".into(), &mut r);
        }};
    }
    match which {
        0 => modes!(base()),
        1 => modes!(base().with_validator(NoEe)),
        2 => modes!(base().bounded(max / 2 + 1)),
        3 => modes!(ZeroFillCheck::new(base())),
        4 => modes!(base().observe(|_: &[u8]| {})),
        5 => modes!(base().with_validator(NoEe).bounded(max)),
        _ => unreachable!(),
    }
    out
}

/// Sources whose reads end for now (`Ok(0)`) do not give the same result as a slice in
/// every mode (the unbuffered reader meets the 0 at another frame), so the comparison is
/// made within groups of the same source behaviour.
fn group(name: &str) -> &'static str {
    if name.contains("gaps") {
        "gaps"
    } else {
        "whole"
    }
}

fn check_all_agree(
    bytes: &[u8],
    gaps: &[usize],
    checksum: &str,
    max: usize,
    which: usize,
    plan: &[Op],
) -> Option<String> {
    let traces = all_modes(bytes, gaps, checksum, max, which, plan);
    let mut first: std::collections::HashMap<&str, &(String, Vec<String>)> =
        std::collections::HashMap::default();
    for entry in &traces {
        let g = group(&entry.0);
        match first.get(g) {
            None => {
                first.insert(g, entry);
            }
            Some(reference) => {
                if reference.1 != entry.1 {
                    let at = reference
                        .1
                        .iter()
                        .zip(&entry.1)
                        .position(|(a, b)| a != b)
                        .unwrap_or(reference.1.len().min(entry.1.len()));
                    let lo = at.saturating_sub(4);
                    return Some(format!(
                        "deframer {which} checksum {checksum} max {max} plan {plan:?}: {} vs {} differ at {at}:\n  {}: {:?}\n  {}: {:?}",
                        reference.0,
                        entry.0,
                        reference.0,
                        &reference.1[lo..(at + 4).min(reference.1.len())],
                        entry.0,
                        &entry.1[lo..(at + 4).min(entry.1.len())],
                    ));
                }
            }
        }
    }
    None
}

const PLANS: [&[Op]; 4] = [
    &[Op::Read],
    &[Op::ProcessAll(None)],
    &[Op::ProcessAll(Some(3)), Op::Read, Op::ProcessAll(Some(7))],
    &[Op::Read, Op::Read, Op::ProcessAll(Some(0xEE))],
];

fn payloads(seed: u64, count: usize, max_len: usize) -> Vec<Vec<u8>> {
    let lens = pseudo_random_bytes(count * 2, seed + 1);
    (0..count)
        .map(|i| {
            let len =
                (usize::from(lens[2 * i]) * 256 + usize::from(lens[2 * i + 1])) % (max_len + 1);
            let mut p = pseudo_random_bytes(len, (seed + 1) * 7919 + i as u64 + 1);
            if let Some(first) = p.first_mut() {
                *first = [0u8, 3, 7, 0xEE, 9, 1][i % 6];
            }
            p
        })
        .collect()
}

/// Mutations of a valid stream: cuts, bit flips in the header and payload, zeroed blocks,
/// hostile lengths.
fn mutants(good: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("good".to_string(), good.to_vec())];
    for cut in (0..good.len()).step_by(good.len() / 40 + 1) {
        out.push((format!("cut {cut}"), good[..cut].to_vec()));
    }
    for bit in (0..good.len() * 8).step_by(good.len() * 8 / 40 + 1) {
        let mut m = good.to_vec();
        m[bit / 8] ^= 1 << (bit % 8);
        out.push((format!("flip {bit}"), m));
    }
    for at in [0usize, 5, 100] {
        if at < good.len() {
            let mut m = good.to_vec();
            let end = (at + 4096).min(m.len());
            m[at..end].fill(0);
            out.push((format!("zero from {at}"), m));
            let mut m = good.to_vec();
            m.truncate(at);
            m.extend_from_slice(&u32::MAX.to_le_bytes());
            m.extend_from_slice(&[0xAB; 40]);
            out.push((format!("4GiB len at {at}"), m));
        }
    }
    out.push(("random".into(), pseudo_random_bytes(3000, 99)));
    out.push(("zeros".into(), vec![0; 5000]));
    out
}

fn sweep(
    checksums: &[&str],
    maxes: &[usize],
    max_len: usize,
    count: usize,
    seeds: std::ops::Range<u64>,
) {
    let mut failures = Vec::new();
    for seed in seeds {
        for checksum in checksums {
            let good = stream(checksum, &payloads(seed, count, max_len));
            for (name, bytes) in mutants(&good) {
                for &max in maxes {
                    for which in 0..DEFRAMERS {
                        for plan in PLANS {
                            let gaps = [bytes.len() / 3, bytes.len() / 2, bytes.len() / 2 + 1];
                            if let Some(failure) =
                                check_all_agree(&bytes, &gaps, checksum, max, which, plan)
                            {
                                failures.push(format!("seed {seed} {name}: {failure}"));
                                assert!(failures.len() <= 5, "{}", failures.join("\n\n"));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Small frames, small buffers: headers and payloads straddle every buffer edge.
#[test]
fn modes_agree_small_frames() {
    sweep(&["none", "crc32c"], &[64, 9, 0], 20, 12, 0..1);
}

/// Frames around the buffer sizes tried (15, 16, 17, 23, 64, 100).
#[test]
fn modes_agree_frames_around_buffer_sizes() {
    sweep(&["crc16", "xxh3"], &[200, 100, 60], 120, 6, 2..3);
}

/// Counts the bytes a source handed out.
struct Counting<R> {
    inner: R,
    taken: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken.set(self.taken.get() + n as u64);
        Ok(n)
    }
}

/// `source consumed == position + buffer().len()` after every call, with resumable errors
/// (checksum mismatches) on the way, for buffers of every size around the frames.
#[test]
fn buffer_accounts_for_every_byte_read() {
    let payloads = payloads(11, 60, 90);
    let mut good = stream("crc32", &payloads);
    // Checksum mismatches (resumable) at a few frames: flip a payload byte of frame 3, 20.
    let mut offsets = vec![0usize];
    for p in &payloads {
        offsets.push(offsets.last().unwrap() + 8 + p.len());
    }
    for frame in [3usize, 20, 41] {
        if !payloads[frame].is_empty() {
            good[offsets[frame] + 8] ^= 0x40;
        }
    }
    for size in [1usize, 16, 17, 40, 97, 98, 99, 200, 1000] {
        for pattern in [&[1usize][..], &[3, INTERRUPT, 50], &[1 << 20]] {
            for plan in PLANS {
                let taken = std::rc::Rc::new(std::cell::Cell::new(0));
                let source = Counting {
                    inner: Pattern::new(&good, pattern),
                    taken: taken.clone(),
                };
                let mut reader = StreamReader::with_buffer_size(
                    source,
                    ChecksumDeframer::new(checksum_by_name("crc32")),
                    size,
                );
                for step in 0..500 {
                    let op = plan[step % plan.len()];
                    let end = match op {
                        Op::Read => matches!(reader.read_message(), Ok(None)),
                        Op::ProcessAll(fail) => matches!(
                            reader.process_all(|p| {
                                if fail.is_some() && p.first().copied() == fail {
                                    Err(Error::validation_failed("t", "no"))
                                } else {
                                    Ok(())
                                }
                            }),
                            Ok(())
                        ),
                    };
                    assert_eq!(
                        taken.get(),
                        reader.position() + reader.buffer().len() as u64,
                        "size {size} pattern {pattern:?} plan {plan:?} step {step}"
                    );
                    if end {
                        break;
                    }
                }
                assert_eq!(reader.position(), good.len() as u64);
            }
        }
    }
}

/// In the buffered mode the source runs ahead of the frames delivered: `get_mut` and
/// `into_inner` say so, and `into_parts` gives back the bytes read ahead, so that nothing
/// after the frames read is lost. The other modes stand right after the last frame.
#[test]
fn the_bytes_after_the_frames_read_are_never_lost() {
    let good = stream(
        "none",
        &[b"header".to_vec(), b"rest-1".to_vec(), b"rest-2".to_vec()],
    );
    let mut reader = StreamReader::new(
        Cursor::new(good.clone()),
        flatstream_io::DefaultDeframer::new(),
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"header"[..]));
    let position = reader.position();
    let ahead = reader.buffer().len() as u64;
    assert_eq!(reader.get_mut().position(), position + ahead);
    let (mut cursor, mut rest) = reader.into_parts();
    cursor.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, good[position as usize..]);
    let mut reader = StreamReader::in_place(
        Cursor::new(good.clone()),
        flatstream_io::DefaultDeframer::new(),
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"header"[..]));
    assert_eq!(reader.get_mut().position(), position);
    assert_eq!(reader.into_inner().position(), position);
    let mut reader = StreamReader::unbuffered(
        Cursor::new(good.clone()),
        flatstream_io::DefaultDeframer::new(),
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"header"[..]));
    let inner_position = reader.get_mut().position();
    let cursor = reader.into_inner();
    assert_eq!(
        (inner_position, cursor.position()),
        (position, position),
        "unbuffered: the source stands after the last frame read"
    );
}

/// A `Read` over `bytes` that fails once (not `Interrupted`) when it reaches `fail_at`, then
/// reads on: a socket read that timed out, a flaky device.
struct FailsOnce<'a> {
    bytes: &'a [u8],
    pos: usize,
    fail_at: Option<usize>,
}

impl Read for FailsOnce<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.fail_at == Some(self.pos) {
            self.fail_at = None;
            return Err(io::Error::new(io::ErrorKind::TimedOut, "flaky source"));
        }
        let limit = self
            .fail_at
            .filter(|&at| at > self.pos)
            .unwrap_or(self.bytes.len());
        let n = buf.len().min(limit - self.pos);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Outcome of `process_all` to its end: payloads seen, and the result.
fn process_all_outcome(reader: &mut dyn Driven) -> (usize, String, (u64, u64)) {
    let mut seen = 0;
    let result = reader.process_all(&mut |_| {
        seen += 1;
        Ok(())
    });
    let result = match result {
        Ok(()) => "ok".to_string(),
        Err(error) => describe(&error),
    };
    (seen, result, reader.counters())
}

/// `InPlace::process_held` drops an error from `fill_buf` ("met again by the general
/// path"), but a source's error is not always met again: a one-shot I/O error is lost, and
/// `in_place(..).process_all` reads on where `read_message`, the unbuffered and the
/// buffered readers all report it.
#[test]
fn in_place_process_all_swallows_a_source_error() {
    let payloads: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 10]).collect();
    let good = stream("none", &payloads);
    let fail_at = 14 * 4; // between frames 3 and 4
    let source = || FailsOnce {
        bytes: &good,
        pos: 0,
        fail_at: Some(fail_at),
    };
    let mut buffered = StreamReader::new(source(), flatstream_io::DefaultDeframer::new());
    let expected = process_all_outcome(&mut buffered);
    let mut unbuffered = StreamReader::unbuffered(source(), flatstream_io::DefaultDeframer::new());
    assert_eq!(process_all_outcome(&mut unbuffered), expected);
    assert_eq!(expected.0, 4, "{expected:?}");
    assert!(expected.1.contains("flaky source"), "{expected:?}");
    let mut in_place = StreamReader::in_place(
        BufReader::with_capacity(14, source()),
        flatstream_io::DefaultDeframer::new(),
    );
    assert_eq!(
        process_all_outcome(&mut in_place),
        expected,
        "in_place process_all vs buffered/unbuffered process_all"
    );
}

/// The same for a source that ends for now (`Ok(0)`, a file being appended to): every other
/// reader's `process_all` returns at that end; `in_place` reads past it.
#[test]
fn in_place_process_all_reads_past_an_end_of_the_source() {
    let payloads: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 10]).collect();
    let good = stream("none", &payloads);
    let gap = [14 * 4];
    let mut buffered = StreamReader::new(
        Gappy::new(&good, &gap),
        flatstream_io::DefaultDeframer::new(),
    );
    let expected = process_all_outcome(&mut buffered);
    assert_eq!(expected, (4, "ok".to_string(), (56, 4)));
    let mut in_place = StreamReader::in_place(
        BufReader::with_capacity(14, Gappy::new(&good, &gap)),
        flatstream_io::DefaultDeframer::new(),
    );
    assert_eq!(process_all_outcome(&mut in_place), expected);
}

/// A `Read` that claims one byte more than it was given, but only for large reads (a
/// buggy wrapper with an off-by-one on its own big-read path).
struct LiesOnBigReads<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Read for LiesOnBigReads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.bytes.len() - self.pos);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        if buf.len() >= 256 && n == buf.len() {
            Ok(n + 1)
        } else {
            Ok(n)
        }
    }
}

/// "A `Read` that claims more than it was given is refused, never trusted": `Buffered::fill`
/// checks it, but `Through::read` hands a large read straight to the source and passes its
/// answer on unchecked. A frame larger than the buffer (and than 1 MiB, so the payload is
/// read by `Read::take(..).read_to_end`) then panics inside std instead of failing.
#[test]
fn a_lying_source_under_a_large_frame_is_an_error_not_a_panic() {
    let big = vec![0x5A; (1 << 20) + 1000];
    let good = stream("none", &[b"small".to_vec(), big]);
    for size in [16usize, 4096, flatstream_io::DEFAULT_BUFFER_SIZE] {
        let outcome = std::panic::catch_unwind(|| {
            let mut reader = StreamReader::with_buffer_size(
                LiesOnBigReads {
                    bytes: &good,
                    pos: 0,
                },
                flatstream_io::DefaultDeframer::new(),
                size,
            );
            let mut results = Vec::new();
            for _ in 0..3 {
                results.push(
                    reader
                        .read()
                        .map(|p| p.map(|p| p.len()))
                        .map_err(|e| e.to_string()),
                );
            }
            results
        });
        assert!(outcome.is_ok(), "buffer {size}: panicked");
    }
}

/// Same source, the unbuffered mode, for comparison (pre-existing behaviour).
#[test]
fn a_lying_source_under_a_large_frame_unbuffered() {
    let big = vec![0x5A; (1 << 20) + 1000];
    let good = stream("none", &[b"small".to_vec(), big]);
    let outcome = std::panic::catch_unwind(|| {
        let mut reader = StreamReader::unbuffered(
            LiesOnBigReads {
                bytes: &good,
                pos: 0,
            },
            flatstream_io::DefaultDeframer::new(),
        );
        (0..3)
            .map(|_| {
                reader
                    .read()
                    .map(|p| p.map(|p| p.len()))
                    .map_err(|e| e.to_string())
            })
            .collect::<Vec<_>>()
    });
    assert!(outcome.is_ok(), "unbuffered: panicked");
}

/// Counts its calls; rejects payloads starting with 0xEE.
struct CountingValidator(std::rc::Rc<std::cell::Cell<u32>>);
impl Validator for CountingValidator {
    fn validate(&self, payload: &[u8]) -> Result<()> {
        self.0.set(self.0.get() + 1);
        NoEe.validate(payload)
    }
    fn name(&self) -> &'static str {
        "counting"
    }
}

/// A validator that counts, logs or is expensive (a FlatBuffers verifier over a hostile
/// payload) is asked once about each frame, rejected ones too, in every mode: the fast path
/// that asked it reports the rejection itself, never leaving the frame to the general path
/// (`decode_frame`), which would ask again (a rejected frame was once seen 2 to 3 times).
/// Reads every message, going on after errors (the test's are all resumable).
fn read_to_end<R, D: Deframer, M: ReadMode<R>>(mut reader: StreamReader<R, D, M>) {
    while !matches!(reader.read_message(), Ok(None)) {}
}

#[test]
fn a_rejected_payload_is_validated_once() {
    let payloads: Vec<Vec<u8>> = vec![b"ok".to_vec(), vec![0xEE, 1], b"ok".to_vec()];
    let good = stream("none", &payloads);
    let count = |run: &mut dyn FnMut(CountingValidator)| {
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        run(CountingValidator(calls.clone()));
        calls.get()
    };
    let d = |v| flatstream_io::DefaultDeframer::new().with_validator(v);
    let counts = [
        (
            "unbuffered read",
            count(&mut |v| read_to_end(StreamReader::unbuffered(&good[..], d(v)))),
        ),
        (
            "buffered read",
            count(&mut |v| read_to_end(StreamReader::new(&good[..], d(v)))),
        ),
        (
            "buffered process_all",
            count(&mut |v| {
                let mut r = StreamReader::new(&good[..], d(v));
                while r.process_all(|_| Ok(())).is_err() {}
            }),
        ),
        (
            "in_place process_all",
            count(&mut |v| {
                let mut r = StreamReader::in_place(&good[..], d(v));
                while r.process_all(|_| Ok(())).is_err() {}
            }),
        ),
        (
            "slice process_all",
            count(&mut |v| {
                let mut r = SliceReader::new(&good[..], d(v));
                while r.process_all(|_| Ok(())).is_err() {}
            }),
        ),
    ];
    assert!(
        counts.iter().all(|(_, n)| *n == 3),
        "validator calls for 3 frames: {counts:?}"
    );
}

/// Frames whose length is the default buffer's, one more, one less, with a header that
/// straddles the buffer's end; `max_frame_len` at the payload, one under; short reads.
#[test]
fn frames_around_the_default_buffer_size() {
    use flatstream_io::DEFAULT_BUFFER_SIZE;
    for checksum in ["none", "xxh3"] {
        let header = 4 + checksum_by_name(checksum).size();
        let around = DEFAULT_BUFFER_SIZE - header;
        let lens = [
            around - 1,
            around,
            around + 1,
            3,
            around - 7,
            5,
            DEFAULT_BUFFER_SIZE,
            2 * DEFAULT_BUFFER_SIZE,
        ];
        let payloads: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let mut p = pseudo_random_bytes(len, i as u64 + 5);
                if let Some(first) = p.first_mut() {
                    *first = i as u8;
                }
                p
            })
            .collect();
        let good = stream(checksum, &payloads);
        for max in [around + 1, around, around - 1, 2 * DEFAULT_BUFFER_SIZE] {
            for plan in PLANS {
                let d =
                    || ChecksumDeframer::new(checksum_by_name(checksum)).with_max_frame_len(max);
                let want = drive(&mut StreamReader::unbuffered(&good[..], d()), plan);
                let got = drive(&mut StreamReader::new(&good[..], d()), plan);
                assert_eq!(got, want, "{checksum} max {max} {plan:?}");
                let got = drive(
                    &mut StreamReader::new(Pattern::new(&good, &[7000, INTERRUPT, 1]), d()),
                    plan,
                );
                assert_eq!(got, want, "{checksum} max {max} {plan:?} short");
                let got = drive(
                    &mut StreamReader::in_place(
                        BufReader::with_capacity(DEFAULT_BUFFER_SIZE, &good[..]),
                        d(),
                    ),
                    plan,
                );
                assert_eq!(got, want, "{checksum} max {max} {plan:?} in place");
            }
        }
    }
}

/// A hostile length (4 GiB - 1, and 60 MiB torn) after a run of good frames, through
/// `process_all` and `read_message`, allocates nothing beyond the buffer (and what arrived).
#[test]
fn hostile_lengths_in_a_batch_allocate_only_the_buffer() {
    use flatstream_test_support::largest_allocation_during;
    let good = stream("none", &vec![b"abc".to_vec(); 50]);
    for (declared, tail) in [(u32::MAX, 100usize), (60 << 20, 10), (60 << 20, 70_000)] {
        let mut bytes = good.clone();
        bytes.extend_from_slice(&declared.to_le_bytes());
        bytes.extend(std::iter::repeat_n(7u8, tail));
        for size in [16usize, 1000, flatstream_io::DEFAULT_BUFFER_SIZE] {
            let largest = largest_allocation_during(|| {
                let mut reader = StreamReader::with_buffer_size(
                    Pattern::new(&bytes, &[5000]),
                    flatstream_io::DefaultDeframer::new(),
                    size,
                );
                assert!(reader.process_all(|_| Ok(())).is_err());
                assert_eq!(reader.position(), good.len() as u64);
                assert_eq!(reader.frames_read(), 50);
            });
            // The buffer, or twice what arrived, or the first 8 KiB step of a payload read
            // through: never the length declared.
            assert!(
                largest <= size.max(tail.next_power_of_two() * 2).max(8192),
                "{declared} {tail} {size}: {largest}"
            );
        }
    }
}

/// A deframer that needs 20 bytes before it can tell a frame's length (a custom format's
/// longer header; the trait allows `peek_frame_len` to say `None` while "too short to
/// tell"). Otherwise the plain deframer.
struct LongPeek(ChecksumDeframer<Box<dyn flatstream_core::Checksum>>);
impl Deframer for LongPeek {
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        self.0.read_frame(reader, payload)
    }
    fn parse_frame<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Option<flatstream_core::wire::Frame<'a>>> {
        self.0.parse_frame(input)
    }
    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        if input.len() < 20 {
            Ok(None)
        } else {
            self.0.peek_frame_len(input)
        }
    }
}

/// With a buffer smaller than what `peek_frame_len` needs, `next_frame` calls `fill` on a
/// full buffer, reads 0 bytes into an empty slice, takes that for the end of the source and
/// reports a torn frame in an intact stream.
#[test]
fn a_buffer_smaller_than_the_peek_is_not_an_end_of_stream() {
    let good = stream("none", &[vec![1; 30], vec![2; 3], vec![3; 40]]);
    let d = || LongPeek(ChecksumDeframer::new(checksum_by_name("none")));
    let want = drive(&mut StreamReader::unbuffered(&good[..], d()), &[Op::Read]);
    for size in [16usize, 19, 20, 64] {
        let got = drive(
            &mut StreamReader::with_buffer_size(&good[..], d(), size),
            &[Op::Read],
        );
        assert_eq!(got, want, "buffer {size}");
    }
}

/// After an error that stops the reader, every later read is refused, however the frames
/// before it were read: parsed in the reader's buffer, in the caller's bytes, in a
/// `BufRead`'s buffer (between such frames `read_message` skips its upkeep, see
/// `Progress::upkeep_due`), or by `process_all`'s runs, which can stop the reader themselves.
#[test]
fn a_stopped_reader_stays_stopped_after_frames_read_in_place() {
    fn stays_stopped<R, M: ReadMode<R>>(
        mut reader: StreamReader<R, flatstream_io::DefaultDeframer, M>,
        mode: &str,
    ) {
        for i in 0..10u8 {
            assert_eq!(
                reader.read_message().unwrap(),
                Some(&[i; 10][..]),
                "{mode}: frame {i}"
            );
        }
        let error = reader.read_message().unwrap_err();
        assert!(error.is_torn_tail(), "{mode}: {error}");
        let stopped_at = (reader.frames_read(), reader.position());
        assert_eq!(stopped_at, (10, 140), "{mode}");
        for _ in 0..3 {
            let error = reader.read_message().unwrap_err();
            assert!(
                describe(&error).contains("stopped at an earlier error"),
                "{mode}: {error}"
            );
            assert_eq!((reader.frames_read(), reader.position()), stopped_at);
        }
        assert!(reader.messages().next().is_none(), "{mode}");
    }

    let payloads: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 10]).collect();
    let good = stream("none", &payloads);
    // Ten whole frames, then a torn one: its header says 10 bytes, 3 follow.
    let mut torn = good.clone();
    torn.extend_from_slice(&10u32.to_le_bytes());
    torn.extend_from_slice(&[9; 3]);

    let deframer = flatstream_io::DefaultDeframer::new;
    stays_stopped(
        StreamReader::new(crate::common::Opaque(torn.as_slice()), deframer()),
        "buffered",
    );
    stays_stopped(
        StreamReader::new(Cursor::new(&torn[..]), deframer()),
        "in memory",
    );
    stays_stopped(
        StreamReader::in_place(
            BufReader::new(crate::common::Opaque(torn.as_slice())),
            deframer(),
        ),
        "in place",
    );
    stays_stopped(
        StreamReader::unbuffered(torn.as_slice(), deframer()),
        "unbuffered",
    );

    // Stopped by `process_all`'s run over a `BufRead` (a source error from `fill_buf`),
    // after frames read in place by `read_message`: the next read is refused too.
    let mut reader = StreamReader::in_place(
        BufReader::with_capacity(
            14,
            FailsOnce {
                bytes: &good,
                pos: 0,
                fail_at: Some(14 * 6),
            },
        ),
        deframer(),
    );
    for i in 0..2u8 {
        assert_eq!(reader.read_message().unwrap(), Some(&[i; 10][..]));
    }
    let error = reader.process_all(|_| Ok(())).unwrap_err();
    assert!(describe(&error).contains("flaky source"), "{error}");
    let error = reader.read_message().unwrap_err();
    assert!(
        describe(&error).contains("stopped at an earlier error"),
        "{error}"
    );
}
