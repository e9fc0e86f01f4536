//! Every reader mode agrees (buffered at many sizes, in place, unbuffered, slice; one frame at
//! a time, `messages()` and `process_all`) on patterned, damaged and random streams, on
//! sources that misbehave or end and go on, and around failing closures. Written by an
//! outside attack on the stride, the counts `process_all` keeps in registers, the inlined
//! in-place path and the buffered reader's growing buffer; the five defects it found are
//! fixed, and their tests say what was wrong.

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use flatstream_core::{Checksum, Error};
use flatstream_io::{ReadMode, SliceReader, StreamReader};

use crate::common::{
    ALGORITHMS, AnyReader, Df, Ev, Rng, ShortReads, checksum_by_name, deframer, ev_err, payload_of,
    read_via_fill_buf, rounds, stream_of, tag,
};

fn header_len(name: &str) -> usize {
    4 + checksum_by_name(name).size()
}

/// The PRNG seed, or `FLATSTREAM_TEST_SEED` mixed in.
fn seed(default: u64) -> u64 {
    std::env::var("FLATSTREAM_TEST_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(default, |s| default ^ s.wrapping_mul(0x9E37_79B9_7F4A_7C15))
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
fn by_read(mut reader: impl AnyReader) -> Outcome {
    let mut events = Vec::new();
    for _ in 0..CAP {
        match reader.next_payload() {
            Ok(Some(p)) => events.push(Ev::Msg(p)),
            Ok(None) => break,
            Err(e) => {
                events.push(ev_err(&e));
                if !e.is_resumable() {
                    break;
                }
            }
        }
    }
    outcome(events, &reader)
}

/// The events and the reader's counts.
fn outcome(events: Vec<Ev>, reader: &impl AnyReader) -> Outcome {
    let (frames, position) = reader.counts();
    Outcome {
        events,
        frames,
        position,
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
    outcome(events, &reader)
}

/// `process_all`, called again after each resumable error.
fn by_process(mut reader: impl AnyReader) -> Outcome {
    let mut events = Vec::new();
    for _ in 0..CAP {
        match reader.process(&mut |p| {
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
    outcome(events, &reader)
}

/// Every reader mode over `stream`, each compared with `SliceReader::read_message`.
fn all_modes_agree(stream: &[u8], name: &str, max: Option<usize>, what: &str) {
    let d = || deframer(name, max);
    let reference = by_read(SliceReader::new(stream, d()));
    let mut outcomes: Vec<(String, Outcome)> = vec![
        (
            "slice process_all".into(),
            by_process(SliceReader::new(stream, d())),
        ),
        (
            "unbuffered read".into(),
            by_read(StreamReader::unbuffered(stream, d())),
        ),
        ("new read".into(), by_read(StreamReader::new(stream, d()))),
        (
            "new messages".into(),
            by_messages(StreamReader::new(stream, d())),
        ),
        (
            "new process".into(),
            by_process(StreamReader::new(stream, d())),
        ),
        (
            "in_place slice read".into(),
            by_read(StreamReader::in_place(stream, d())),
        ),
        (
            "in_place slice process".into(),
            by_process(StreamReader::in_place(stream, d())),
        ),
    ];
    for size in [16usize, 23, 100, 1023, 1024, 1025, 4096, 5000, 70_000] {
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
            by_read(StreamReader::in_place(
                BufReader::with_capacity(cap, stream),
                d(),
            )),
        ));
        outcomes.push((
            format!("bufreader {cap} process"),
            by_process(StreamReader::in_place(
                BufReader::with_capacity(cap, stream),
                d(),
            )),
        ));
    }
    for chunk in [1usize, 5, 1023, 1024, 4095, 4096] {
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
    let pool = [
        0usize, 0, 1, 4, 8, 12, 64, 100, 1012, 1016, 1020, 1024, 4084, 4088, 4092, 4096, 5000,
    ];
    let mut last = pool[rng.below(pool.len())];
    while sizes.len() < count {
        match rng.below(5) {
            0 => {
                // A run of the same size.
                for _ in 0..=rng.below(8) {
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

/// Payloads of the sizes [`sizes_pattern`] draws, each of its own bytes.
fn patterned_payloads(rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    sizes_pattern(rng, count)
        .iter()
        .enumerate()
        .map(|(i, &n)| payload_of(n, i as u8))
        .collect()
}

fn mutate(rng: &mut Rng, stream: &mut Vec<u8>, frame_starts: &[usize], hl: usize) {
    if stream.is_empty() {
        return;
    }
    // Frames still whole enough to hold a header (after an earlier truncation).
    let frame_starts: Vec<usize> = frame_starts
        .iter()
        .copied()
        .filter(|&at| at + hl <= stream.len())
        .collect();
    let frame_starts = &frame_starts[..];
    if frame_starts.is_empty() {
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
        // A frame's length set to the previous frame's payload length (+/- header).
        2 if frame_starts.len() >= 2 => {
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
        // A checksum corrupted on a frame whose length equals the previous one's.
        6 if hl > 4 => {
            let i = rng.below(frame_starts.len());
            let at = frame_starts[i] + 4;
            stream[at] ^= 0x5a;
        }
        _ => {}
    }
}

#[test]
fn every_mode_agrees_on_patterned_and_damaged_streams() {
    let mut rng = Rng(seed(0x5eed_0006_dead_beef));
    for round in 0..rounds(60) {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let count = rng.below(30) + 1;
        let payloads = patterned_payloads(&mut rng, count);
        let clean = stream_of(name, &payloads);
        let hl = header_len(name);
        let mut starts = Vec::new();
        let mut at = 0;
        for n in payloads.iter().map(Vec::len) {
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
        all_modes_agree(
            &stream,
            name,
            max,
            &format!(
                "round {round} sizes {:?}",
                payloads.iter().map(Vec::len).collect::<Vec<_>>()
            ),
        );
    }
}

#[test]
fn every_mode_agrees_on_random_bytes() {
    let mut rng = Rng(seed(0x1234_5678_9abc_def1));
    for round in 0..rounds(60) {
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

/// Streams whose total length sits at the first buffer's 1 KiB edge (or 4 KiB, a common
/// `BufReader` size), and frames straddling those.
#[test]
fn streams_around_the_first_buffer_edge() {
    for name in ["none", "crc32c"] {
        let hl = header_len(name);
        for total in [
            1023usize,
            1024,
            1025,
            1024 + hl,
            4095,
            4096,
            4097,
            4096 + hl,
            8192,
            8193,
            65_600,
            65_601,
            70_000,
        ] {
            // One frame of the whole length; two frames whose boundary is at an edge +/- 1.
            let one = vec![payload_of(total - hl, 1)];
            all_modes_agree(
                &stream_of(name, &one),
                name,
                None,
                &format!("one frame {total}"),
            );
            for split in [1018usize, 1023, 1024, 1025, 4090, 4095, 4096, 4097] {
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
        let mut payloads: Vec<Vec<u8>> = (0..200u8).map(|i| payload_of(60, i)).collect();
        payloads.push(payload_of(9000, 9));
        payloads.extend((0..5u8).map(|i| payload_of(60, i)));
        all_modes_agree(
            &stream_of(name, &payloads),
            name,
            None,
            "runs across the growth",
        );
    }
}

/// Where each message of `stream` lies, by `SliceReader::read_message`: (payload, frame
/// index, offset, position after it); resumable errors stepped over.
fn reference_messages(stream: &[u8], d: Df) -> Vec<(Vec<u8>, u64, u64, u64)> {
    let mut reader = SliceReader::new(stream, d);
    let mut out = Vec::new();
    loop {
        let (frames, position) = (reader.frames_read(), reader.position());
        match reader.read_message() {
            Ok(Some(p)) => out.push((p.to_vec(), frames, position, reader.position())),
            Err(e) if e.is_resumable() => {}
            Ok(None) | Err(_) => break,
        }
    }
    out
}

/// `process_all` whose closure returns an error at the messages in `refuse` and panics at
/// those in `panic_at` (ordinals of delivered messages); each refusal must be located at its
/// frame and each panic leave the reader after its frame; every message once, in order.
fn check_closure_failures(
    mut reader: impl AnyReader,
    reference: &[(Vec<u8>, u64, u64, u64)],
    refuse: &[usize],
    panic_at: &[usize],
    what: &str,
) {
    let mut delivered: Vec<Vec<u8>> = Vec::new();
    for _ in 0..10_000 {
        let before = delivered.len();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            reader.process(&mut |p| {
                let ordinal = delivered.len();
                delivered.push(p.to_vec());
                if refuse.contains(&ordinal) {
                    return Err(Error::invalid_frame("refused by the caller"));
                }
                assert!(!panic_at.contains(&ordinal), "the closure panics");
                Ok(())
            })
        }));
        match outcome {
            Ok(Ok(())) => break,
            Ok(Err(e)) => {
                if tag(&e) == "invalid" && e.to_string().contains("refused by the caller") {
                    let ordinal = delivered.len() - 1;
                    let (_, index, offset, end) = &reference[ordinal];
                    assert_eq!(
                        (e.frame_index(), e.offset(), e.is_resumable()),
                        (Some(*index), Some(*offset), true),
                        "{what}: refusal at message {ordinal}"
                    );
                    assert_eq!(
                        reader.counts(),
                        (index + 1, *end),
                        "{what}: counts after the refusal at message {ordinal}"
                    );
                } else if !e.is_resumable() {
                    break;
                }
            }
            Err(_) => {
                assert!(delivered.len() > before, "{what}: panic before any message");
                let ordinal = delivered.len() - 1;
                let (_, index, _, end) = &reference[ordinal];
                assert_eq!(
                    reader.counts(),
                    (index + 1, *end),
                    "{what}: counts after the panic at message {ordinal}"
                );
            }
        }
    }
    let expected: Vec<Vec<u8>> = reference.iter().map(|r| r.0.clone()).collect();
    assert_eq!(delivered.len(), expected.len(), "{what}: message count");
    assert!(delivered == expected, "{what}: messages differ");
}

fn closure_failures_everywhere(stream: &[u8], name: &str, refuse: &[usize], panic_at: &[usize]) {
    let d = || deframer(name, None);
    let reference = reference_messages(stream, d());
    let what = format!("{name} refuse {refuse:?} panic {panic_at:?}");
    check_closure_failures(
        StreamReader::new(stream, d()),
        &reference,
        refuse,
        panic_at,
        &format!("new {what}"),
    );
    for size in [16usize, 100, 4096, 5000] {
        check_closure_failures(
            StreamReader::with_buffer_size(stream, d(), size),
            &reference,
            refuse,
            panic_at,
            &format!("buffer {size} {what}"),
        );
    }
    for chunk in [1usize, 4096] {
        check_closure_failures(
            StreamReader::new(ShortReads::new(stream, chunk), d()),
            &reference,
            refuse,
            panic_at,
            &format!("new short {chunk} {what}"),
        );
    }
    check_closure_failures(
        StreamReader::in_place(stream, d()),
        &reference,
        refuse,
        panic_at,
        &format!("in_place {what}"),
    );
    for cap in [1usize, 64, 4096] {
        check_closure_failures(
            StreamReader::in_place(BufReader::with_capacity(cap, stream), d()),
            &reference,
            refuse,
            panic_at,
            &format!("bufreader {cap} {what}"),
        );
    }
    check_closure_failures(
        StreamReader::unbuffered(stream, d()),
        &reference,
        refuse,
        panic_at,
        &format!("unbuffered {what}"),
    );
    check_closure_failures(
        SliceReader::new(stream, d()),
        &reference,
        refuse,
        panic_at,
        &format!("slice {what}"),
    );
}

/// Errors and panics from the `process_all` closure at the first frame of a run, the last
/// frame held, right after the 1 KiB first buffer grows, and at random places.
#[test]
fn closure_errors_and_panics_leave_every_reader_after_their_frame() {
    for name in ["none", "crc16", "xxh3"] {
        let hl = header_len(name);
        // 60 frames of 64 B: the 1 KiB first buffer ends inside frame 1024 / (64 + hl).
        let mut payloads: Vec<Vec<u8>> = (0..60u8).map(|i| payload_of(64, i)).collect();
        payloads.push(payload_of(6000, 1));
        payloads.extend((0..10u8).map(|i| payload_of(usize::from(i % 3), i)));
        let stream = stream_of(name, &payloads);
        let edge = 1024 / (64 + hl);
        for k in [0usize, 1, edge - 1, edge, edge + 1, 59, 60, 61, 70] {
            closure_failures_everywhere(&stream, name, &[k], &[]);
            closure_failures_everywhere(&stream, name, &[], &[k]);
        }
        closure_failures_everywhere(&stream, name, &[0, 2, edge], &[1, edge + 1, 60]);
        // A bad checksum among them.
        if name != "none" {
            let mut damaged = stream.clone();
            damaged[(64 + hl) * 3 + hl] ^= 1;
            closure_failures_everywhere(&damaged, name, &[2], &[3, 4]);
        }
    }
    let mut rng = Rng(77);
    for _ in 0..20 {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let payloads = patterned_payloads(&mut rng, 25);
        let stream = stream_of(name, &payloads);
        let refuse = [rng.below(25), rng.below(25)];
        let panic_at: Vec<usize> = [rng.below(25), rng.below(25)]
            .into_iter()
            .filter(|k| !refuse.contains(k))
            .collect();
        closure_failures_everywhere(&stream, name, &refuse, &panic_at);
    }
}

/// `buffer()` and `into_parts()` after every message, across the growth of the first buffer.
#[test]
fn buffer_and_into_parts_hold_exactly_the_unread_bytes() {
    for name in ["none", "crc32"] {
        let hl = header_len(name);
        let mut payloads: Vec<Vec<u8>> = (0..70u8).map(|i| payload_of(60, i)).collect();
        payloads.push(payload_of(1024 - hl, 1));
        payloads.push(payload_of(4096 - hl, 1));
        payloads.push(payload_of(9000, 2));
        payloads.push(payload_of(70_000, 3));
        payloads.extend((0..5u8).map(|i| payload_of(usize::from(i), i)));
        let stream = stream_of(name, &payloads);
        for size in [16usize, 100, 4096, 4097, 65_600, 200_000] {
            for chunk in [1usize, 3, 4096, usize::MAX] {
                let source = ShortReads::new(&stream, chunk);
                let mut reader = StreamReader::with_buffer_size(source, deframer(name, None), size);
                let mut n = 0;
                loop {
                    match reader.read_message() {
                        Ok(Some(p)) => assert_eq!(p, &payloads[n][..]),
                        _ => break,
                    }
                    n += 1;
                    let position = reader.position() as usize;
                    let mut rest = reader.buffer().to_vec();
                    rest.extend_from_slice(reader.get_ref().bytes);
                    assert!(
                        rest == stream[position..],
                        "size {size} chunk {chunk} after message {n}: buffer() {} bytes",
                        reader.buffer().len()
                    );
                }
                assert!(
                    n >= payloads.len(),
                    "size {size} chunk {chunk}: {n} messages"
                );
                let position = reader.position() as usize;
                let (source, unread) = reader.into_parts();
                let mut rest = unread;
                rest.extend_from_slice(source.bytes);
                assert!(
                    rest == stream[position..],
                    "size {size} chunk {chunk}: into_parts"
                );
            }
        }
    }
}

/// A `BufRead` over another whose `fill_buf` fails once, at the given call, with `kind`.
struct FailsOnce<B> {
    inner: B,
    calls: usize,
    fail_at: usize,
    kind: io::ErrorKind,
}

impl<B: BufRead> Read for FailsOnce<B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_via_fill_buf(self, buf)
    }
}

impl<B: BufRead> BufRead for FailsOnce<B> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.calls += 1;
        if self.calls == self.fail_at {
            return Err(self.kind.into());
        }
        self.inner.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}

/// The same source failure under `read_message` of each mode: the in-place reader's first
/// `fill_buf` of a frame fails with an I/O error (a socket's timeout, a disk error).
// Was (fixed): in_place's inlined fast path drops the error of its first fill_buf (`Err(_) => None`)
// and read_general calls fill_buf again: the error is never reported, unlike every other mode.
#[test]
fn an_io_error_from_fill_buf_is_reported_by_the_in_place_reader() {
    let payloads: Vec<Vec<u8>> = (0..3).map(|i| payload_of(10, i)).collect();
    let stream = stream_of("crc32c", &payloads);
    for kind in [
        io::ErrorKind::TimedOut,
        io::ErrorKind::Other,
        io::ErrorKind::WouldBlock,
    ] {
        let source = || FailsOnce {
            inner: &stream[..],
            calls: 0,
            fail_at: 1,
            kind,
        };
        // Unbuffered and buffered over the same failing source: the error, at frame 0.
        let mut unbuffered = StreamReader::unbuffered(source(), deframer("crc32c", None));
        let error = unbuffered.read_message().unwrap_err();
        assert_eq!(tag(&error), format!("io:{kind:?}"));
        let mut buffered = StreamReader::new(source(), deframer("crc32c", None));
        let error = buffered.read_message().unwrap_err();
        assert_eq!(tag(&error), format!("io:{kind:?}"));
        let mut reader = StreamReader::in_place(source(), deframer("crc32c", None));
        let outcome = reader.read_message().map(|p| p.map(<[u8]>::to_vec));
        assert!(
            matches!(&outcome, Err(e) if tag(e) == format!("io:{kind:?}")),
            "{kind:?}: in_place read_message gave {outcome:?}, the other modes the error"
        );
    }
}

/// The in-place reader's second `fill_buf` (the payload borrowed again) returning
/// `Interrupted`, which every reader retries elsewhere.
// Was (fixed): the second fill_buf in InPlace::read_frame (fast path and read_general) uses `?`: an
// Interrupted there stops the reader with an I/O error (older than this change, kept by it).
#[test]
fn interrupted_from_the_second_fill_buf_is_retried_by_the_in_place_reader() {
    let payloads: Vec<Vec<u8>> = (0..3).map(|i| payload_of(10, i)).collect();
    let stream = stream_of("none", &payloads);
    let source = FailsOnce {
        inner: &stream[..],
        calls: 0,
        fail_at: 2,
        kind: io::ErrorKind::Interrupted,
    };
    let mut reader = StreamReader::in_place(source, deframer("none", None));
    let mut got = Vec::new();
    loop {
        match reader.read_message() {
            Ok(Some(p)) => got.push(p.to_vec()),
            Ok(None) => break,
            Err(e) => panic!("after {} messages: {e}", got.len()),
        }
    }
    assert_eq!(got, payloads);
}

/// A source that ends for now and grows: frames appended whole, or torn then completed.
struct Growing {
    data: Rc<RefCell<Vec<u8>>>,
    pos: usize,
    chunk: usize,
}

impl Read for Growing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let data = self.data.borrow();
        let n = (data.len() - self.pos).min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn a_growing_source_is_read_on_after_each_end() {
    for name in ["none", "crc64"] {
        let payloads: Vec<Vec<u8>> = (0..120)
            .map(|i| payload_of([60usize, 60, 0, 4000, 9000, 60][i % 6], i as u8))
            .collect();
        let stream = stream_of(name, &payloads);
        let hl = header_len(name);
        let mut ends = Vec::new();
        let mut at = 0;
        for p in &payloads {
            at += hl + p.len();
            ends.push(at);
        }
        for chunk in [1usize, 4096, 100_000] {
            for step in [1usize, 5, 17] {
                let shared = Rc::new(RefCell::new(Vec::new()));
                let d = || deframer(name, None);
                let grow = |reader_data: &Rc<RefCell<Vec<u8>>>, upto: usize| {
                    let mut data = reader_data.borrow_mut();
                    let len = data.len();
                    data.extend_from_slice(&stream[len..upto]);
                };
                let mut buffered = StreamReader::new(
                    Growing {
                        data: shared.clone(),
                        pos: 0,
                        chunk,
                    },
                    d(),
                );
                let mut sized = StreamReader::with_buffer_size(
                    Growing {
                        data: shared.clone(),
                        pos: 0,
                        chunk,
                    },
                    d(),
                    4097,
                );
                let mut in_place = StreamReader::in_place(
                    BufReader::with_capacity(
                        5000,
                        Growing {
                            data: shared.clone(),
                            pos: 0,
                            chunk,
                        },
                    ),
                    d(),
                );
                let mut got = [Vec::new(), Vec::new(), Vec::new()];
                let mut i = 0;
                while i < payloads.len() {
                    i = (i + step).min(payloads.len());
                    grow(&shared, ends[i - 1]);
                    for (which, got) in got.iter_mut().enumerate() {
                        loop {
                            let next = match which {
                                0 => buffered.read_message(),
                                1 => sized.read_message(),
                                _ => in_place.read_message(),
                            };
                            match next {
                                Ok(Some(p)) => got.push(p.to_vec()),
                                Ok(None) => break,
                                Err(e) => {
                                    panic!("{name} chunk {chunk} step {step} reader {which}: {e}")
                                }
                            }
                        }
                        assert_eq!(
                            got.len(),
                            i,
                            "{name} chunk {chunk} step {step} reader {which}"
                        );
                    }
                }
                for got in &got {
                    assert!(got == &payloads);
                }
                assert_eq!(buffered.position() as usize, stream.len());
                assert_eq!(in_place.position() as usize, stream.len());
            }
        }
    }
}

/// `into_parts()` after the reader stopped at a torn tail or an oversized length: the stream
/// from `position()` on should be the bytes given back, then the source's (so that a reader
/// of a file being appended to can start again from there).
// Was (fixed): the buffered reader hands the bytes of the frame it stopped in to the deframer's
// `read_frame` (read_through), which consumes them: `into_parts()` gives back 0 of the 6
// torn bytes (or 12-22 of a 26-byte oversized tail) though `position()` stays before them.
#[test]
fn into_parts_after_a_torn_or_oversized_tail_keeps_its_bytes() {
    let name = "none";
    let payloads: Vec<Vec<u8>> = (0..3u8).map(|i| payload_of(60, i)).collect();
    let clean = stream_of(name, &payloads);
    for tail in [
        &b"\x05\0\0\0ab"[..],
        &b"\x05\0"[..],
        &b"trailing bytes not a frame"[..],
    ] {
        let mut stream = clean.clone();
        stream.extend_from_slice(tail);
        for size in [16usize, 4096, 65_600] {
            for chunk in [1usize, 4096] {
                let mut reader = StreamReader::with_buffer_size(
                    ShortReads::new(&stream, chunk),
                    deframer(name, None),
                    size,
                );
                let mut n = 0;
                let error = loop {
                    match reader.read_message() {
                        Ok(Some(_)) => n += 1,
                        Ok(None) => panic!("no error"),
                        Err(e) => break e,
                    }
                };
                assert_eq!(n, 3);
                assert!(!error.is_resumable());
                let position = reader.position() as usize;
                assert_eq!(position, clean.len());
                let (source, unread) = reader.into_parts();
                let mut rest = unread.clone();
                rest.extend_from_slice(source.bytes);
                assert!(
                    rest == stream[position..],
                    "tail {:?}, buffer {size}, reads of {chunk}: {} after {}: into_parts gave {} \
                     bytes back and the source holds {}, of the {} after position()",
                    String::from_utf8_lossy(tail),
                    tag(&error),
                    position,
                    unread.len(),
                    source.bytes.len(),
                    tail.len()
                );
            }
        }
    }
}

/// A source that ends once (a terminal's Ctrl-D, a pipe read to its end before the next
/// writer): its pieces, each given in full, an empty piece being one `Ok(0)`.
struct EndsOnce {
    pieces: Vec<Vec<u8>>,
    reads_after_end: usize,
}

impl Read for EndsOnce {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(piece) = self.pieces.first_mut() else {
            self.reads_after_end += 1;
            return Ok(0);
        };
        let n = piece.len().min(buf.len());
        buf[..n].copy_from_slice(&piece[..n]);
        piece.drain(..n);
        if piece.is_empty() || n == 0 {
            self.pieces.remove(0);
        }
        Ok(n)
    }
}

/// What `read_message` gives, `None` included, until two `None`s in a row.
fn reads_with_ends<R, M: ReadMode<R>>(reader: &mut StreamReader<R, Df, M>) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    for _ in 0..100 {
        match reader.read_message() {
            Ok(p) => out.push(p.map(<[u8]>::to_vec)),
            Err(e) => panic!("{e}"),
        }
        if out.len() >= 2 && out[out.len() - 1].is_none() && out[out.len() - 2].is_none() {
            break;
        }
    }
    out
}

/// The end of a source that ends once is reported as `Ok(None)` by every mode, and the
/// source is not read again at that end.
// Was (fixed): in_place's fast path calls fill_buf, gets the empty buffer of the end, and falls to
// read_general, which calls fill_buf again: a BufReader reads its source a second time, past
// the end, so the `Ok(None)` is lost (the next piece's frame is returned instead); the reader
// before this change, `unbuffered` and `new` report it.
#[test]
fn the_in_place_reader_does_not_read_past_an_end() {
    let name = "crc32";
    let first: Vec<Vec<u8>> = (0..2).map(|i| payload_of(20, i)).collect();
    let second: Vec<Vec<u8>> = (2..4).map(|i| payload_of(30, i)).collect();
    let pieces = || {
        vec![
            stream_of(name, &first),
            Vec::new(),
            stream_of(name, &second),
        ]
    };
    let mut expected: Vec<Option<Vec<u8>>> = first.iter().cloned().map(Some).collect();
    expected.push(None);
    expected.extend(second.iter().cloned().map(Some));
    expected.extend([None, None]);

    let mut buffered = StreamReader::new(
        EndsOnce {
            pieces: pieces(),
            reads_after_end: 0,
        },
        deframer(name, None),
    );
    assert_eq!(reads_with_ends(&mut buffered), expected, "new");
    let mut unbuffered = StreamReader::unbuffered(
        EndsOnce {
            pieces: pieces(),
            reads_after_end: 0,
        },
        deframer(name, None),
    );
    assert_eq!(reads_with_ends(&mut unbuffered), expected, "unbuffered");
    let mut in_place = StreamReader::in_place(
        BufReader::new(EndsOnce {
            pieces: pieces(),
            reads_after_end: 0,
        }),
        deframer(name, None),
    );
    assert_eq!(
        reads_with_ends(&mut in_place),
        expected,
        "in_place over a BufReader"
    );
    // At the final end: one read of the source per `read_message`, as the other modes.
    assert_eq!(
        in_place.get_ref().get_ref().reads_after_end,
        buffered.get_ref().reads_after_end,
        "reads of the source after its end"
    );
}

/// At the end of the stream each `read_message` reads the source once, as `new` does.
// Was (fixed): in_place (over a BufReader) reads the source twice per `read_message` at the end
// (the fast path's fill_buf, then read_general's): a source that blocks after its end (a
// terminal after Ctrl-D) blocks there.
#[test]
fn the_in_place_reader_reads_an_ended_source_once_per_call() {
    let name = "none";
    let payloads: Vec<Vec<u8>> = (0..3).map(|i| payload_of(20, i)).collect();
    let stream = stream_of(name, &payloads);
    let mut in_place = StreamReader::in_place(
        BufReader::new(EndsOnce {
            pieces: vec![stream.clone()],
            reads_after_end: 0,
        }),
        deframer(name, None),
    );
    let mut buffered = StreamReader::new(
        EndsOnce {
            pieces: vec![stream],
            reads_after_end: 0,
        },
        deframer(name, None),
    );
    for _ in 0..3 {
        assert!(in_place.read_message().unwrap().is_some());
        assert!(buffered.read_message().unwrap().is_some());
    }
    assert_eq!(buffered.read_message().unwrap(), None);
    assert_eq!(in_place.read_message().unwrap(), None);
    assert_eq!(buffered.get_ref().reads_after_end, 1, "new");
    assert_eq!(
        in_place.get_ref().get_ref().reads_after_end,
        1,
        "in_place: reads past the end"
    );
}

/// A `BufRead` that keeps the letter of the contract loosely: each `fill_buf` shows a
/// random non-empty prefix of what is left (so a second look without a consume may be
/// shorter or longer), now and then from a second copy of the bytes (another address), or
/// fails with `Interrupted` or `WouldBlock`.
struct Wobbly {
    a: Vec<u8>,
    b: Vec<u8>,
    pos: usize,
    rng: Rng,
}

impl Read for Wobbly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_via_fill_buf(self, buf)
    }
}

impl BufRead for Wobbly {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self.rng.below(20) {
            0 => return Err(io::ErrorKind::Interrupted.into()),
            1 => return Err(io::ErrorKind::WouldBlock.into()),
            _ => {}
        }
        let left = self.a.len() - self.pos;
        let len = if left == 0 {
            0
        } else {
            1 + self.rng.below(left)
        };
        let len = if self.rng.below(3) == 0 { left } else { len };
        let copy = if self.rng.below(6) == 0 {
            &self.b
        } else {
            &self.a
        };
        Ok(&copy[self.pos..self.pos + len])
    }
    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.a.len());
    }
}

/// Whatever the `BufRead` does, the in-place reader gives an error or the right payload for
/// the frame it says it read, never another, and never panics.
#[test]
fn a_wobbly_bufread_gives_errors_or_right_payloads() {
    let mut rng = Rng(seed(0xb0b));
    for round in 0..rounds(60) * 5 {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let count = 1 + rng.below(20);
        let payloads = patterned_payloads(&mut rng, count);
        let stream = stream_of(name, &payloads);
        let source = Wobbly {
            a: stream.clone(),
            b: stream.clone(),
            pos: 0,
            rng: Rng(rng.next() | 1),
        };
        let mut reader = StreamReader::in_place(source, deframer(name, None));
        if rng.below(2) == 0 {
            for _ in 0..1000 {
                let index = reader.frames_read() as usize;
                match reader.read_message() {
                    Ok(Some(p)) => {
                        assert!(p == &payloads[index][..], "round {round}: frame {index}");
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert!(!e.is_resumable(), "round {round}: {e}");
                        break;
                    }
                }
            }
        } else {
            let mut index = reader.frames_read() as usize;
            let _ = reader.process_all(|p| {
                assert!(p == &payloads[index][..], "round {round}: frame {index}");
                index += 1;
                Ok(())
            });
            assert_eq!(index as u64, reader.frames_read(), "round {round}");
        }
        let position = reader.position() as usize;
        let ends: Vec<usize> = std::iter::once(0)
            .chain(payloads.iter().scan(0, |at, p| {
                *at += header_len(name) + p.len();
                Some(*at)
            }))
            .collect();
        assert_eq!(
            ends[reader.frames_read() as usize],
            position,
            "round {round}"
        );
    }
}

/// A `Read` that returns random amounts (often exactly the room it was given, so the 1 KiB
/// first buffer fills at odd moments), with `Interrupted` now and then.
struct Jumpy<'a> {
    bytes: &'a [u8],
    rng: Rng,
}

impl Read for Jumpy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rng.below(10) == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let most = buf.len().min(self.bytes.len());
        let n = match self.rng.below(4) {
            0 => most,
            1 => most.min(1 + self.rng.below(16)),
            _ => {
                if most == 0 {
                    0
                } else {
                    1 + self.rng.below(most)
                }
            }
        };
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// The buffered reader over random read sizes and buffer sizes: every payload right, and
/// `buffer()` then the source's rest is the stream from `position()` on, after every call.
#[test]
fn jumpy_reads_into_a_growing_buffer() {
    let mut rng = Rng(seed(0x6a75_6d70));
    for round in 0..rounds(60) * 2 {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let count = 1 + rng.below(40);
        let payloads = patterned_payloads(&mut rng, count);
        let stream = stream_of(name, &payloads);
        let size = [16usize, 64, 1023, 1024, 1025, 4096, 8000, 65_600][rng.below(8)];
        let source = Jumpy {
            bytes: &stream,
            rng: Rng(rng.next() | 1),
        };
        let mut reader = StreamReader::with_buffer_size(source, deframer(name, None), size);
        let use_process = rng.below(2) == 0;
        if use_process {
            let mut index = 0;
            reader
                .process_all(|p| {
                    assert!(p == &payloads[index][..], "round {round}: frame {index}");
                    index += 1;
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(index, payloads.len(), "round {round}");
        } else {
            for (index, expected) in payloads.iter().enumerate() {
                let p = reader
                    .read_message()
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
                assert!(
                    p == Some(&expected[..]),
                    "round {round} size {size}: frame {index}"
                );
                let position = reader.position() as usize;
                let mut rest = reader.buffer().to_vec();
                rest.extend_from_slice(reader.get_ref().bytes);
                assert!(
                    rest == stream[position..],
                    "round {round} size {size}: after frame {index}"
                );
            }
            assert_eq!(reader.read_message().unwrap(), None, "round {round}");
        }
        assert_eq!(reader.position() as usize, stream.len(), "round {round}");
    }
}
