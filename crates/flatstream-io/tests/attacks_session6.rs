//! Session 6's outside attack on the stride, the counts kept in a `PlainRun`, the inlined
//! in-place path and the buffered reader's growing buffer (commits 1c71a87, 19eff8e).

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use flatstream_core::{Checksum, Error, ErrorKind, Result};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, ReadMode, SliceReader, StreamReader, StreamWriter};

use crate::common::{ALGORITHMS, ShortReads, checksum_by_name, payload_of};

type Df = ChecksumDeframer<Box<dyn Checksum>>;

fn deframer(name: &str, max: Option<usize>) -> Df {
    let d = ChecksumDeframer::new(checksum_by_name(name));
    match max {
        Some(max) => d.with_max_frame_len(max),
        None => d,
    }
}

fn stream_of(name: &str, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name(name)));
    for p in payloads {
        writer.write_payload(p).unwrap();
    }
    writer.into_inner()
}

fn header_len(name: &str) -> usize {
    4 + checksum_by_name(name).size()
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Msg(Vec<u8>),
    Err {
        tag: String,
        index: Option<u64>,
        offset: Option<u64>,
        resumable: bool,
    },
}

fn tag(error: &Error) -> String {
    match error.kind() {
        ErrorKind::Io(e) => format!("io:{:?}", e.kind()),
        ErrorKind::ChecksumMismatch { .. } => "checksum".into(),
        ErrorKind::UnexpectedEof { .. } => "eof".into(),
        ErrorKind::FrameTooLarge { .. } => "too_large".into(),
        ErrorKind::InvalidFrame { .. } => "invalid".into(),
        other => format!("{other:?}"),
    }
}

fn ev_err(error: &Error) -> Ev {
    Ev::Err {
        tag: tag(error),
        index: error.frame_index(),
        offset: error.offset(),
        resumable: error.is_resumable(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    events: Vec<Ev>,
    frames: u64,
    position: u64,
}

const CAP: usize = 200_000;

/// `read_message` until the end or an error that stops the reader; resumable errors are
/// recorded and stepped over.
fn by_read<R, M: ReadMode<R>>(mut reader: StreamReader<R, Df, M>) -> Outcome {
    let mut events = Vec::new();
    for _ in 0..CAP {
        match reader.read_message() {
            Ok(Some(p)) => events.push(Ev::Msg(p.to_vec())),
            Ok(None) => break,
            Err(e) => {
                events.push(ev_err(&e));
                if !e.is_resumable() {
                    break;
                }
            }
        }
    }
    Outcome {
        events,
        frames: reader.frames_read(),
        position: reader.position(),
    }
}

/// `messages()` until it ends.
fn by_messages<R, M: ReadMode<R>>(mut reader: StreamReader<R, Df, M>) -> Outcome {
    let mut events = Vec::new();
    {
        let mut messages = reader.messages();
        for _ in 0..CAP {
            match messages.next() {
                Some(Ok(p)) => events.push(Ev::Msg(p.to_vec())),
                Some(Err(e)) => events.push(ev_err(&e)),
                None => break,
            }
        }
    }
    Outcome {
        events,
        frames: reader.frames_read(),
        position: reader.position(),
    }
}

/// `process_all`, called again after each resumable error.
fn by_process<R, M: ReadMode<R>>(mut reader: StreamReader<R, Df, M>) -> Outcome {
    let mut events = Vec::new();
    for _ in 0..CAP {
        match reader.process_all(|p| {
            events.push(Ev::Msg(p.to_vec()));
            Ok(())
        }) {
            Ok(()) => break,
            Err(e) => {
                events.push(ev_err(&e));
                if !e.is_resumable() {
                    break;
                }
            }
        }
    }
    Outcome {
        events,
        frames: reader.frames_read(),
        position: reader.position(),
    }
}

fn slice_by_read(stream: &[u8], d: Df) -> Outcome {
    let mut reader = SliceReader::new(stream, d);
    let mut events = Vec::new();
    for _ in 0..CAP {
        match reader.read_message() {
            Ok(Some(p)) => events.push(Ev::Msg(p.to_vec())),
            Ok(None) => break,
            Err(e) => {
                events.push(ev_err(&e));
                if !e.is_resumable() {
                    break;
                }
            }
        }
    }
    Outcome {
        events,
        frames: reader.frames_read(),
        position: reader.position(),
    }
}

fn slice_by_process(stream: &[u8], d: Df) -> Outcome {
    let mut reader = SliceReader::new(stream, d);
    let mut events = Vec::new();
    for _ in 0..CAP {
        match reader.process_all(|p| {
            events.push(Ev::Msg(p.to_vec()));
            Ok(())
        }) {
            Ok(()) => break,
            Err(e) => {
                events.push(ev_err(&e));
                if !e.is_resumable() {
                    break;
                }
            }
        }
    }
    Outcome {
        events,
        frames: reader.frames_read(),
        position: reader.position(),
    }
}

/// Every reader mode over `stream`, each compared with `SliceReader::read_message`.
fn all_modes_agree(stream: &[u8], name: &str, max: Option<usize>, what: &str) {
    let d = || deframer(name, max);
    let reference = slice_by_read(stream, d());
    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
    outcomes.push(("slice process_all".into(), slice_by_process(stream, d())));
    outcomes.push(("unbuffered read".into(), by_read(StreamReader::unbuffered(stream, d()))));
    outcomes.push(("new read".into(), by_read(StreamReader::new(stream, d()))));
    outcomes.push(("new messages".into(), by_messages(StreamReader::new(stream, d()))));
    outcomes.push(("new process".into(), by_process(StreamReader::new(stream, d()))));
    outcomes.push(("in_place slice read".into(), by_read(StreamReader::in_place(stream, d()))));
    outcomes.push((
        "in_place slice process".into(),
        by_process(StreamReader::in_place(stream, d())),
    ));
    for size in [16usize, 23, 100, 4095, 4096, 4097, 5000, 70_000] {
        outcomes.push((
            format!("buffer {size} read"),
            by_read(StreamReader::with_buffer_size(stream, d(), size)),
        ));
        outcomes.push((
            format!("buffer {size} process"),
            by_process(StreamReader::with_buffer_size(stream, d(), size)),
        ));
    }
    for cap in [1usize, 7, 64, 4096, 4097] {
        outcomes.push((
            format!("bufreader {cap} read"),
            by_read(StreamReader::in_place(BufReader::with_capacity(cap, stream), d())),
        ));
        outcomes.push((
            format!("bufreader {cap} process"),
            by_process(StreamReader::in_place(BufReader::with_capacity(cap, stream), d())),
        ));
    }
    for chunk in [1usize, 5, 4095, 4096] {
        outcomes.push((
            format!("new short {chunk} read"),
            by_read(StreamReader::new(ShortReads::new(stream, chunk), d())),
        ));
        outcomes.push((
            format!("new short {chunk} process"),
            by_process(StreamReader::new(ShortReads::new(stream, chunk), d())),
        ));
        outcomes.push((
            format!("bufreader 300 over short {chunk} process"),
            by_process(StreamReader::in_place(
                BufReader::with_capacity(300, ShortReads::new(stream, chunk)),
                d(),
            )),
        ));
    }
    for (mode, outcome) in outcomes {
        assert_eq!(
            outcome, reference,
            "{what}: {mode} differs from SliceReader::read_message ({name}, max {max:?})"
        );
    }
}

/// Payload sizes in the patterns the stride meets: runs, alternations, zeros, changes.
fn sizes_pattern(rng: &mut Rng, count: usize) -> Vec<usize> {
    let mut sizes = Vec::with_capacity(count);
    let pool = [0usize, 0, 1, 4, 8, 12, 64, 100, 4084, 4088, 4092, 4096, 5000];
    let mut last = pool[rng.below(pool.len())];
    while sizes.len() < count {
        match rng.below(5) {
            0 => {
                // A run of the same size.
                for _ in 0..rng.below(8) + 1 {
                    sizes.push(last);
                }
            }
            1 => {
                // Alternate two sizes.
                let other = pool[rng.below(pool.len())];
                for i in 0..rng.below(6) + 2 {
                    sizes.push(if i % 2 == 0 { last } else { other });
                }
                last = other;
            }
            2 => {
                last = rng.below(200);
                sizes.push(last);
            }
            _ => {
                last = pool[rng.below(pool.len())];
                sizes.push(last);
            }
        }
    }
    sizes.truncate(count);
    sizes
}

fn mutate(rng: &mut Rng, stream: &mut Vec<u8>, frame_starts: &[usize], hl: usize) {
    if stream.is_empty() {
        return;
    }
    match rng.below(8) {
        0 => {
            // Bit flip anywhere.
            let at = rng.below(stream.len());
            stream[at] ^= 1 << rng.below(8);
        }
        1 => {
            // Torn tail.
            let keep = rng.below(stream.len());
            stream.truncate(keep);
        }
        2 => {
            // A frame's length set to the previous frame's payload length (+/- header).
            if frame_starts.len() >= 2 {
                let i = 1 + rng.below(frame_starts.len() - 1);
                let prev = frame_starts[i - 1];
                let prev_len = u32::from_le_bytes(stream[prev..prev + 4].try_into().unwrap());
                let new = match rng.below(3) {
                    0 => prev_len,
                    1 => prev_len.wrapping_add(hl as u32),
                    _ => prev_len.wrapping_sub(hl as u32),
                };
                let at = frame_starts[i];
                stream[at..at + 4].copy_from_slice(&new.to_le_bytes());
            }
        }
        3 => {
            // Huge length.
            let i = rng.below(frame_starts.len());
            let at = frame_starts[i];
            let huge = [u32::MAX, 0x7fff_ffff, 1 << 26, (1 << 26) + 1, 70_000][rng.below(5)];
            stream[at..at + 4].copy_from_slice(&huge.to_le_bytes());
        }
        4 => {
            // Zeros over a region.
            let at = rng.below(stream.len());
            let len = rng.below(64).min(stream.len() - at);
            stream[at..at + len].fill(0);
        }
        5 => {
            // Random bytes appended.
            for _ in 0..rng.below(40) {
                stream.push(rng.next() as u8);
            }
        }
        6 => {
            // A checksum corrupted on a frame whose length equals the previous one's.
            if hl > 4 {
                let i = rng.below(frame_starts.len());
                let at = frame_starts[i] + 4;
                stream[at] ^= 0x5a;
            }
        }
        _ => {}
    }
}

#[test]
fn every_mode_agrees_on_patterned_and_damaged_streams() {
    let mut rng = Rng(0x5eed_0006_dead_beef);
    for round in 0..60 {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let count = rng.below(30) + 1;
        let sizes = sizes_pattern(&mut rng, count);
        let payloads: Vec<Vec<u8>> =
            sizes.iter().enumerate().map(|(i, &n)| payload_of(n, i as u8)).collect();
        let clean = stream_of(name, &payloads);
        let hl = header_len(name);
        let mut starts = Vec::new();
        let mut at = 0;
        for &n in &sizes {
            starts.push(at);
            at += hl + n;
        }
        let max = match rng.below(4) {
            0 => Some([0usize, 4, 64, 100, 4096][rng.below(5)]),
            _ => None,
        };
        let mut stream = clean.clone();
        let mutations = rng.below(3);
        for _ in 0..mutations {
            mutate(&mut rng, &mut stream, &starts, hl);
        }
        all_modes_agree(&stream, name, max, &format!("round {round} sizes {sizes:?}"));
    }
}

#[test]
fn every_mode_agrees_on_random_bytes() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for round in 0..60 {
        let name = ALGORITHMS[rng.below(2)];
        let len = rng.below(300);
        let mut stream: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Small lengths, so that some frames parse.
        let mut at = 0;
        while at + 4 <= stream.len() {
            let n = rng.below(12) as u32;
            stream[at..at + 4].copy_from_slice(&n.to_le_bytes());
            at += 4 + n as usize + if name == "none" { 0 } else { 2 };
            if rng.below(5) == 0 {
                break;
            }
        }
        all_modes_agree(&stream, name, None, &format!("random round {round}"));
    }
}

/// Streams whose total length sits at the first buffer's 4 KiB edge, and frames straddling it.
#[test]
fn streams_around_the_first_buffer_edge() {
    for name in ["none", "crc32c"] {
        let hl = header_len(name);
        for total in [4095usize, 4096, 4097, 4096 + hl, 8192, 8193, 65_600, 65_601, 70_000] {
            // One frame of the whole length; two frames whose boundary is at 4096 +/- 1.
            let one = vec![payload_of(total - hl, 1)];
            all_modes_agree(&stream_of(name, &one), name, None, &format!("one frame {total}"));
            for split in [4090usize, 4095, 4096, 4097] {
                if split > hl && total > split + hl {
                    let two = vec![payload_of(split - hl, 2), payload_of(total - split - hl, 3)];
                    let s = stream_of(name, &two);
                    assert_eq!(s.len(), total);
                    all_modes_agree(&s, name, None, &format!("two frames {total} at {split}"));
                    let mut torn = s.clone();
                    torn.pop();
                    all_modes_agree(&torn, name, None, &format!("torn {total} at {split}"));
                }
            }
        }
        // Many equal frames across the growth, then a different size.
        let mut payloads: Vec<Vec<u8>> = (0..200).map(|i| payload_of(60, i as u8)).collect();
        payloads.push(payload_of(9000, 9));
        payloads.extend((0..5).map(|i| payload_of(60, i as u8)));
        all_modes_agree(&stream_of(name, &payloads), name, None, "runs across 4 KiB");
    }
}
