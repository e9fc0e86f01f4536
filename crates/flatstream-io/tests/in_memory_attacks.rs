//! An outside attack on `StreamReader::new` reading bytes in memory (`&[u8]`,
//! `Cursor<&[u8]>`, `Cursor<&Vec<u8>>`) where they lie: the three kinds against the buffered
//! path (`with_buffer_size` over an opaque `Read`), `unbuffered` and `SliceReader`, over
//! good, damaged and random streams, under random call sequences (one frame, `messages`,
//! `process_all` with errors and caught panics in the closure), with the source moved by the
//! caller between calls, and with the source's state checked after every step.

use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use flatstream_core::{Checksum, Deframer, Error, Result};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DEFAULT_BUFFER_SIZE, DeframerExt, SliceReader, StreamReader,
    StreamWriter,
};

use crate::common::{
    ALGORITHMS, AnyReader, Df, Ev, Opaque, Rng, checksum_by_name, deframer, ev_err, payload_of,
    rounds, stream_of,
};

/// One step of a call sequence.
#[derive(Debug, Clone, Copy)]
enum Op {
    ReadOne,
    Messages(usize),
    ProcessAll,
    /// `process_all` whose closure returns an error at its n-th payload.
    ProcessErrAt(usize),
    /// `process_all` whose closure panics at its n-th payload (caught).
    ProcessPanicAt(usize),
}

fn random_ops(rng: &mut Rng) -> Vec<Op> {
    (0..2 + rng.below(12))
        .map(|_| match rng.below(7) {
            0 | 1 => Op::ReadOne,
            2 => Op::Messages(1 + rng.below(5)),
            3 => Op::ProcessAll,
            4 => Op::ProcessErrAt(rng.below(6)),
            _ => Op::ProcessPanicAt(rng.below(6)),
        })
        .collect()
}

/// What the invariant check needs of a reader over `stream`: the stream from `position()`
/// on must be `buffer()` followed by what the source still holds.
trait Probe {
    /// The bytes the source still yields.
    fn remainder(&self) -> Vec<u8>;
    fn unread(&self) -> Vec<u8>;
}

impl<D: Deframer> Probe for StreamReader<&[u8], D> {
    fn remainder(&self) -> Vec<u8> {
        self.get_ref().to_vec()
    }
    fn unread(&self) -> Vec<u8> {
        self.buffer().to_vec()
    }
}

fn cursor_rest<T: AsRef<[u8]>>(c: &Cursor<T>) -> Vec<u8> {
    let bytes = c.get_ref().as_ref();
    let at = usize::try_from(c.position())
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    bytes[at..].to_vec()
}

impl<D: Deframer> Probe for StreamReader<Cursor<&[u8]>, D> {
    fn remainder(&self) -> Vec<u8> {
        cursor_rest(self.get_ref())
    }
    fn unread(&self) -> Vec<u8> {
        self.buffer().to_vec()
    }
}

impl<D: Deframer> Probe for StreamReader<Cursor<&Vec<u8>>, D> {
    fn remainder(&self) -> Vec<u8> {
        cursor_rest(self.get_ref())
    }
    fn unread(&self) -> Vec<u8> {
        self.buffer().to_vec()
    }
}

impl<D: Deframer> Probe for StreamReader<Opaque<&[u8]>, D> {
    fn remainder(&self) -> Vec<u8> {
        self.get_ref().0.to_vec()
    }
    fn unread(&self) -> Vec<u8> {
        self.buffer().to_vec()
    }
}

/// Runs `ops` on `reader`, recording events; after each step, checks that the stream from
/// `position()` on is the unread bytes then the source's (`check`).
fn run_ops<T: AnyReader + Probe>(
    reader: &mut T,
    ops: &[Op],
    stream: &[u8],
    check: bool,
    what: &str,
) -> Vec<Ev> {
    let mut events = Vec::new();
    let mut stopped = false;
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::ReadOne => match reader.next_payload() {
                Ok(Some(p)) => events.push(Ev::Msg(p)),
                Ok(None) => events.push(Ev::End),
                Err(e) => {
                    stopped |= !e.is_resumable();
                    events.push(ev_err(&e));
                }
            },
            Op::Messages(n) => {
                for _ in 0..n {
                    match reader.next_payload() {
                        Ok(Some(p)) => events.push(Ev::Msg(p)),
                        Ok(None) => {
                            events.push(Ev::End);
                            break;
                        }
                        Err(e) => {
                            stopped |= !e.is_resumable();
                            events.push(ev_err(&e));
                            break;
                        }
                    }
                }
            }
            Op::ProcessAll | Op::ProcessErrAt(_) | Op::ProcessPanicAt(_) => {
                let mut seen = 0usize;
                let mut got = Vec::new();
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    reader.process(&mut |p| {
                        got.push(p.to_vec());
                        seen += 1;
                        match *op {
                            Op::ProcessErrAt(n) if seen == n + 1 => {
                                Err(Error::invalid_frame("closure says no"))
                            }
                            Op::ProcessPanicAt(n) if seen == n + 1 => panic!("closure panics"),
                            _ => Ok(()),
                        }
                    })
                }));
                events.extend(got.into_iter().map(Ev::Msg));
                match outcome {
                    Ok(Ok(())) => events.push(Ev::End),
                    Ok(Err(e)) => {
                        stopped |= !e.is_resumable();
                        events.push(ev_err(&e));
                    }
                    Err(_) => events.push(Ev::Panicked),
                }
            }
        }
        let (frames, position) = reader.counts();
        events.push(Ev::Counts(frames, position, 0));
        let from = usize::try_from(position).unwrap().min(stream.len());
        // The documented exception: a frame larger than the buffer, torn past it.
        let far = stream.len() - from >= 4
            && u32::from_le_bytes(stream[from..from + 4].try_into().unwrap()) as usize + 12
                > DEFAULT_BUFFER_SIZE;
        if check && !(stopped && far) {
            let mut held = reader.unread();
            held.extend(reader.remainder());
            if held != stream[from..] {
                eprintln!(
                    "events so far: {:?}",
                    events
                        .iter()
                        .map(|e| match e {
                            Ev::Msg(p) => format!("msg{}", p.len()),
                            other => format!("{other:?}"),
                        })
                        .collect::<Vec<_>>()
                );
                eprintln!(
                    "stream head {:?}",
                    &stream[from..(from + 16).min(stream.len())]
                );
            }
            assert!(
                held == stream[from..],
                "{what}: after step {step} ({op:?}), the stream from position {position} \
                 ({} bytes) is not unread ({} bytes) + source ({} bytes); ops {ops:?}",
                stream.len() - from,
                reader.unread().len(),
                reader.remainder().len(),
            );
        }
    }
    events
}

/// A random stream, good or damaged in one of many ways.
fn random_stream(rng: &mut Rng, name: &str) -> (Vec<u8>, Option<usize>) {
    let frames = rng.below(40);
    let payloads: Vec<Vec<u8>> = (0..frames)
        .map(|i| {
            let len = match rng.below(10) {
                0 => 0,
                1 => 900 + rng.below(400),
                2 => 3000 + rng.below(3000),
                _ => rng.below(90),
            };
            payload_of(len, i as u8)
        })
        .collect();
    let mut stream = stream_of(name, &payloads);
    let max = match rng.below(5) {
        0 => Some(rng.below(200)),
        _ => None,
    };
    match rng.below(9) {
        0 => {}
        1 if !stream.is_empty() => {
            let at = rng.below(stream.len());
            stream[at] ^= 1 << rng.below(8);
        }
        2 if !stream.is_empty() => {
            let at = rng.below(stream.len());
            stream.truncate(at);
        }
        3 => {
            let n = rng.below(300);
            stream.extend(std::iter::repeat_n(0u8, n));
        }
        4 => {
            let n = rng.below(2000);
            stream.extend((0..n).map(|_| rng.next() as u8));
        }
        5 => {
            // An oversized length in the middle.
            let cut = rng.below(stream.len() + 1);
            let mut tail = stream.split_off(cut);
            stream.extend_from_slice(&(u32::MAX - rng.below(1000) as u32).to_le_bytes());
            stream.append(&mut tail);
        }
        6 => {
            stream = (0..rng.below(3000)).map(|_| rng.next() as u8).collect();
        }
        7 if !stream.is_empty() => {
            for _ in 0..3 {
                let at = rng.below(stream.len());
                stream[at] ^= 1 << rng.below(8);
            }
        }
        _ => {
            let n = rng.below(10);
            stream.extend(std::iter::repeat_n(0u8, n));
        }
    }
    (stream, max)
}

/// The three in-memory kinds and the buffered path over an opaque `Read` agree on every
/// event (payloads, errors with index, offset and resumability, counts, panics) under random
/// call sequences, and each stands where documented after every step.
/// Runs `ops` over `stream` through the buffered path (the reference: an `Opaque` source,
/// which the reader cannot recognise) and through each in-memory kind `new` recognises
/// (`&[u8]`, `Cursor<&[u8]>`, `Cursor<&Vec<u8>>`), asserting that every kind sees what the
/// buffered path sees; returns the reference.
fn kinds_agree_with_buffered(
    stream: &Vec<u8>,
    d: &dyn Fn() -> Df,
    ops: &[Op],
    what: &str,
) -> Vec<Ev> {
    let reference = run_ops(
        &mut StreamReader::with_buffer_size(Opaque(&stream[..]), d(), DEFAULT_BUFFER_SIZE),
        ops,
        stream,
        true,
        &format!("{what} buffered"),
    );
    for (kind, events) in [
        (
            "&[u8]",
            run_ops(
                &mut StreamReader::new(&stream[..], d()),
                ops,
                stream,
                true,
                &format!("{what} &[u8]"),
            ),
        ),
        (
            "Cursor<&[u8]>",
            run_ops(
                &mut StreamReader::new(Cursor::new(&stream[..]), d()),
                ops,
                stream,
                true,
                &format!("{what} Cursor<&[u8]>"),
            ),
        ),
        (
            "Cursor<&Vec<u8>>",
            run_ops(
                &mut StreamReader::new(Cursor::new(stream), d()),
                ops,
                stream,
                true,
                &format!("{what} Cursor<&Vec<u8>>"),
            ),
        ),
    ] {
        assert_eq!(events, reference, "{what} {kind} vs buffered; ops {ops:?}");
    }
    reference
}

#[test]
fn in_memory_kinds_agree_with_the_buffered_path_under_random_call_sequences() {
    let mut rng = Rng(0x7A11_AC47_0000_0001);
    for round in 0..rounds(80) {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let (stream, max) = random_stream(&mut rng, name);
        let ops = random_ops(&mut rng);
        let d = || deframer(name, max);
        let what = format!(
            "round {round} ({name}, max {max:?}, {} bytes)",
            stream.len()
        );
        let reference = kinds_agree_with_buffered(&stream, &d, &ops, &what);
        let vec = run_ops(
            &mut StreamReader::with_payload_capacity(Cursor::new(&stream), d(), 7),
            &ops,
            &stream,
            true,
            &format!("{what} Cursor<&Vec<u8>>"),
        );
        assert_eq!(vec, reference, "{what} Cursor<&Vec<u8>>; ops {ops:?}");
        // A deframer by `&mut` forwards `parse_plain`: read in place too.
        let mut borrowed = d();
        let by_ref = run_ops(
            &mut StreamReader::new(&stream[..], &mut borrowed),
            &ops,
            &stream,
            true,
            &format!("{what} &mut deframer"),
        );
        assert_eq!(by_ref, reference, "{what} &mut deframer; ops {ops:?}");
    }
}

/// The same, against `unbuffered` and `SliceReader` (one frame at a time, then `process_all`).
#[test]
fn in_memory_kinds_agree_with_unbuffered_and_the_slice_reader() {
    let mut rng = Rng(0x7A11_AC47_0000_0002);
    for round in 0..rounds(80) {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let (stream, max) = random_stream(&mut rng, name);
        let d = || deframer(name, max);
        let drain = |reader: &mut dyn AnyReader| {
            let mut events = Vec::new();
            for _ in 0..10_000 {
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
            let (f, p) = reader.counts();
            events.push(Ev::Counts(f, p, 0));
            events
        };
        let reference = drain(&mut SliceReader::new(&stream[..], d()));
        assert_eq!(
            drain(&mut StreamReader::unbuffered(&stream[..], d())),
            reference,
            "round {round}: unbuffered"
        );
        assert_eq!(
            drain(&mut StreamReader::new(&stream[..], d())),
            reference,
            "round {round}: new(&[u8])"
        );
        assert_eq!(
            drain(&mut StreamReader::new(Cursor::new(&stream[..]), d())),
            reference,
            "round {round}: new(Cursor<&[u8]>)"
        );
        assert_eq!(
            drain(&mut StreamReader::new(Cursor::new(&stream), d())),
            reference,
            "round {round}: new(Cursor<&Vec<u8>>)"
        );
    }
}

/// A step of a call sequence that moves the source between calls.
#[derive(Debug, Clone, Copy)]
enum Move {
    Op(Op),
    /// Set the cursor's position (re-slice the slice) to this offset of the stream.
    Seek(u64),
}

/// Runs `moves` on two readers over the same kind of source, `a` (`new`) and `b`
/// (`unbuffered`), moving both sources alike when `a` holds nothing (so both stand right
/// after the last frame delivered); every event must agree.
fn moves_agree<R, Da: Deframer, Db: Deframer>(
    a: &mut StreamReader<R, Da>,
    b: &mut StreamReader<R, Db, flatstream_io::Copying>,
    moves: &[Move],
    seek: impl Fn(&mut R, u64),
    stream: &[u8],
    what: &str,
) where
    R: Read,
    StreamReader<R, Da>: Probe,
{
    for (step, m) in moves.iter().enumerate() {
        match *m {
            Move::Seek(to) => {
                if a.buffer().is_empty() {
                    seek(a.get_mut(), to);
                    seek(b.get_mut(), to);
                }
            }
            Move::Op(op) => {
                let ea = run_ops(a, &[op], stream, false, what);
                let eb = run_ops_plain(b, &[op]);
                assert_eq!(ea, eb, "{what}: step {step} {m:?}; moves {moves:?}");
            }
        }
    }
}

/// `run_ops` without the invariant check (for `unbuffered`).
fn run_ops_plain<T: AnyReader>(reader: &mut T, ops: &[Op]) -> Vec<Ev> {
    struct NoProbe<'r, T>(&'r mut T);
    impl<T: AnyReader> AnyReader for NoProbe<'_, T> {
        fn next_payload(&mut self) -> Result<Option<Vec<u8>>> {
            self.0.next_payload()
        }
        fn process(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
            self.0.process(f)
        }
        fn counts(&self) -> (u64, u64) {
            self.0.counts()
        }
    }
    impl<T> Probe for NoProbe<'_, T> {
        fn remainder(&self) -> Vec<u8> {
            Vec::new()
        }
        fn unread(&self) -> Vec<u8> {
            Vec::new()
        }
    }
    run_ops(&mut NoProbe(reader), ops, &[], false, "")
}

fn random_moves(rng: &mut Rng, boundaries: &[usize], len: usize) -> Vec<Move> {
    (0..4 + rng.below(14))
        .map(|_| match rng.below(5) {
            0 => Move::Seek(match rng.below(6) {
                0 => rng.below(len + 1) as u64,
                1 => (len + rng.below(10)) as u64,
                2 => u64::MAX - rng.below(3) as u64,
                _ => boundaries[rng.below(boundaries.len())] as u64,
            }),
            _ => Move::Op(random_ops(rng)[0]),
        })
        .collect()
}

/// The caller moves the source between calls (`get_mut`: a cursor's `set_position`, a
/// slice re-sliced), back, forward, into a frame, past the end: `new` reads on from where
/// the source stands, as `unbuffered` does.
#[test]
fn a_source_moved_between_calls_is_read_from_where_it_stands() {
    let mut rng = Rng(0x7A11_AC47_0000_0003);
    for round in 0..rounds(80) {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let (stream, max) = random_stream(&mut rng, name);
        let d = || deframer(name, max);
        // Frame boundaries of the good prefix.
        let mut boundaries = vec![0];
        let mut probe = SliceReader::new(&stream[..], d());
        while let Ok(Some(_)) = probe.read_message() {
            boundaries.push(probe.position() as usize);
        }
        let moves = random_moves(&mut rng, &boundaries, stream.len());
        let what = format!(
            "round {round} ({name}, max {max:?}, {} bytes)",
            stream.len()
        );
        moves_agree(
            &mut StreamReader::new(Cursor::new(&stream[..]), d()),
            &mut StreamReader::unbuffered(Cursor::new(&stream[..]), d()),
            &moves,
            Cursor::set_position,
            &stream,
            &format!("{what} Cursor<&[u8]>"),
        );
        moves_agree(
            &mut StreamReader::new(Cursor::new(&stream), d()),
            &mut StreamReader::unbuffered(Cursor::new(&stream), d()),
            &moves,
            Cursor::set_position,
            &stream,
            &format!("{what} Cursor<&Vec<u8>>"),
        );
        let whole = &stream[..];
        moves_agree(
            &mut StreamReader::new(whole, d()),
            &mut StreamReader::unbuffered(whole, d()),
            &moves,
            |s, to| *s = &whole[usize::try_from(to).unwrap_or(usize::MAX).min(whole.len())..],
            &stream,
            &format!("{what} &[u8]"),
        );
    }
}

/// A cursor that stands past its end, far past it, at `u64::MAX`: the end, no panic, as
/// through the buffer; and moved back, it reads from there.
#[test]
fn a_cursor_past_its_end_is_at_the_end() {
    let stream = stream_of("crc32c", &[payload_of(10, 1), payload_of(20, 2)]);
    for at in [
        stream.len() as u64,
        stream.len() as u64 + 1,
        1 << 40,
        u64::MAX / 2,
        u64::MAX - 1,
        u64::MAX,
    ] {
        let mut cursor = Cursor::new(&stream[..]);
        cursor.set_position(at);
        let mut reader = StreamReader::new(cursor, deframer("crc32c", None));
        assert_eq!(reader.read_message().unwrap(), None, "at {at}");
        reader.process_all(|_| panic!("no frames")).unwrap();
        assert_eq!((reader.frames_read(), reader.position()), (0, 0));
        assert_eq!(reader.get_ref().position(), at, "the cursor is not moved");
        reader.get_mut().set_position(0);
        assert_eq!(reader.read_message().unwrap(), Some(&payload_of(10, 1)[..]));
        reader.get_mut().set_position(at);
        assert_eq!(reader.read_message().unwrap(), None);
        reader.get_mut().set_position(18);
        assert_eq!(reader.read_message().unwrap(), Some(&payload_of(20, 2)[..]));
        assert_eq!(reader.position(), 18 + 28);

        let mut cursor = Cursor::new(&stream);
        cursor.set_position(at);
        let mut reader = StreamReader::new(cursor, deframer("crc32c", None));
        let mut messages = reader.messages();
        assert!(messages.next().is_none());
    }
}

/// Frames larger than the reader's buffer (which the buffered path reads through into the
/// payload buffer) lie whole in memory and are read where they lie: the same payloads,
/// errors and counts, good, bit-flipped, torn, over a limit, and the source where it should
/// be (except the documented case of such a frame torn past the buffer).
#[test]
fn frames_larger_than_the_buffer_agree() {
    let mut rng = Rng(0x7A11_AC47_0000_0004);
    for round in 0..12 {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let payloads: Vec<Vec<u8>> = (0..=rng.below(4))
            .map(|i| {
                let len = match rng.below(3) {
                    0 => rng.below(100),
                    1 => DEFAULT_BUFFER_SIZE - 12 + rng.below(24),
                    _ => 70_000 + rng.below(100_000),
                };
                payload_of(len, i as u8)
            })
            .collect();
        let mut stream = stream_of(name, &payloads);
        let max = match rng.below(3) {
            0 => Some(66_000 + rng.below(60_000)),
            _ => None,
        };
        match rng.below(4) {
            0 => {
                let at = rng.below(stream.len());
                stream[at] ^= 1 << rng.below(8);
            }
            1 => {
                let at = rng.below(stream.len());
                stream.truncate(at);
            }
            _ => {}
        }
        let d = || deframer(name, max);
        let ops = random_ops(&mut rng);
        let what = format!(
            "round {round} ({name}, max {max:?}, {} bytes)",
            stream.len()
        );
        kinds_agree_with_buffered(&stream, &d, &ops, &what);
    }
}

/// A deframer that transforms payloads (each byte XOR 0x5A, into the scratch buffer) and
/// keeps `parse_plain`'s default: over bytes in memory every frame goes through the buffer.
struct Xor(Df);

impl Deframer for Xor {
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        let len = self.0.read_frame(reader, payload)?;
        for b in payload.iter_mut() {
            *b ^= 0x5A;
        }
        Ok(len)
    }
    fn parse_frame<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Option<flatstream_core::wire::Frame<'a>>> {
        self.0.parse_frame(input)
    }
    fn decode_frame<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<flatstream_core::wire::Frame<'a>>> {
        let Some(frame) = self.0.parse_frame(input)? else {
            return Ok(None);
        };
        scratch.clear();
        scratch.extend(frame.payload.iter().map(|b| b ^ 0x5A));
        Ok(Some(flatstream_core::wire::Frame {
            payload: &scratch[..],
            len: frame.len,
        }))
    }
    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        self.0.peek_frame_len(input)
    }
}

/// Adapters (validating, observing, bounded) and a transforming deframer over the three
/// kinds agree with the buffered path, under random call sequences.
#[test]
fn adapters_and_transforming_deframers_agree() {
    struct NoSevens;
    impl flatstream_core::Validator for NoSevens {
        fn validate(&self, payload: &[u8]) -> Result<()> {
            if payload.first() == Some(&7) {
                Err(Error::invalid_frame("seven"))
            } else {
                Ok(())
            }
        }
        fn name(&self) -> &'static str {
            "no sevens"
        }
    }
    let mut rng = Rng(0x7A11_AC47_0000_0005);
    for round in 0..rounds(80) {
        let name = ALGORITHMS[rng.below(ALGORITHMS.len())];
        let (stream, max) = random_stream(&mut rng, name);
        let ops = random_ops(&mut rng);
        let bound = 1 + rng.below(400);
        let what = format!("round {round} ({name}, max {max:?}, bound {bound})");
        macro_rules! agree {
            ($label:expr, $make:expr) => {{
                let reference = run_ops(
                    &mut StreamReader::with_buffer_size(
                        Opaque(&stream[..]),
                        $make,
                        DEFAULT_BUFFER_SIZE,
                    ),
                    &ops,
                    &stream,
                    true,
                    &what,
                );
                let a = run_ops(
                    &mut StreamReader::new(&stream[..], $make),
                    &ops,
                    &stream,
                    true,
                    &what,
                );
                let b = run_ops(
                    &mut StreamReader::new(Cursor::new(&stream[..]), $make),
                    &ops,
                    &stream,
                    true,
                    &what,
                );
                let c = run_ops(
                    &mut StreamReader::new(Cursor::new(&stream), $make),
                    &ops,
                    &stream,
                    true,
                    &what,
                );
                assert_eq!(a, reference, "{what} {} &[u8]; ops {ops:?}", $label);
                assert_eq!(b, reference, "{what} {} Cursor<&[u8]>; ops {ops:?}", $label);
                assert_eq!(
                    c, reference,
                    "{what} {} Cursor<&Vec<u8>>; ops {ops:?}",
                    $label
                );
            }};
        }
        agree!("validating", deframer(name, max).with_validator(NoSevens));
        agree!("bounded", deframer(name, max).bounded(bound));
        agree!("observer", deframer(name, max).observe(|_: &[u8]| {}));
        agree!("xor", Xor(deframer(name, max)));
    }
}

/// Bytes in memory read where they lie allocate nothing at all, whatever the frame sizes
/// (frames larger than the buffer too), for each kind and each way of reading; after a
/// frame that went through the buffer (a checksum mismatch), steady state allocates
/// nothing again.
#[test]
fn reading_in_memory_allocates_nothing() {
    use flatstream_test_support::allocations_during;
    for name in ALGORITHMS {
        let payloads: Vec<Vec<u8>> = (0..3000)
            .map(|i| {
                payload_of(
                    [0, 1, 64, 1000, 70_000][i % 5] * usize::from(i % 97 != 0),
                    i as u8,
                )
            })
            .collect();
        let stream = stream_of(name, &payloads);
        let checksum = checksum_by_name(name);
        let d = || ChecksumDeframer::new(&*checksum);
        let mut bytes = 0usize;
        let count = allocations_during(|| {
            let mut reader = StreamReader::new(&stream[..], d());
            while let Some(p) = reader.read_message().unwrap() {
                bytes += p.len();
            }
            let mut reader = StreamReader::new(Cursor::new(&stream[..]), d());
            let mut messages = reader.messages();
            while let Some(p) = messages.next() {
                bytes += p.unwrap().len();
            }
            let mut reader = StreamReader::new(Cursor::new(&stream), d());
            reader
                .process_all(|p| {
                    bytes += p.len();
                    Ok(())
                })
                .unwrap();
        });
        assert!(bytes > 0);
        assert_eq!(count, 0, "{name}: allocations reading bytes in memory");

        // A mismatch early: once the buffer is set up, nothing more.
        let mut damaged = stream.clone();
        if checksum.size() == 0 {
            continue;
        }
        let at = {
            let mut probe = SliceReader::new(&stream[..], d());
            probe.read_message().unwrap();
            probe.read_message().unwrap();
            probe.position() as usize + 4 + checksum.size()
        };
        damaged[at] ^= 1;
        let mut reader = StreamReader::new(Cursor::new(&damaged[..]), d());
        for _ in 0..2 {
            reader.read_message().unwrap();
        }
        assert!(reader.read_message().is_err());
        for _ in 0..100 {
            reader.read_message().unwrap();
        }
        let count = allocations_during(|| {
            reader.process_all(|_| Ok(())).unwrap();
        });
        assert_eq!(reader.frames_read(), 3000);
        assert_eq!(count, 0, "{name}: allocations after a mismatch");
    }
}

/// `process_typed` and `typed_messages` over the three kinds agree with the buffered path:
/// strings, payloads that are not strings (rejected, resumable), a torn tail; the stream
/// laid at an odd address too (payloads borrow the caller's bytes there).
#[test]
fn typed_reading_agrees() {
    fn typed_messages<R: Read>(mut reader: StreamReader<R, Df>) -> Vec<Ev> {
        let mut events = Vec::new();
        let mut messages = reader.typed_messages::<str>();
        while let Some(next) = messages.next() {
            events.push(match next {
                Ok(text) => Ev::Msg(text.as_bytes().to_vec()),
                Err(e) => ev_err(&e),
            });
        }
        events.push(Ev::Counts(reader.frames_read(), reader.position(), 0));
        events
    }
    fn typed<R: Read>(mut reader: StreamReader<R, Df>) -> Vec<Ev> {
        let mut events = Vec::new();
        for _ in 0..100 {
            let mut got = Vec::new();
            let outcome = reader.process_typed::<str, _>(|text| {
                got.push(Ev::Msg(text.as_bytes().to_vec()));
                Ok(())
            });
            events.extend(got);
            events.push(Ev::Counts(reader.frames_read(), reader.position(), 0));
            match outcome {
                Ok(()) => break,
                Err(e) => {
                    events.push(ev_err(&e));
                    if !e.is_resumable() {
                        break;
                    }
                }
            }
        }
        events
    }
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name("crc32")));
    for i in 0..40u32 {
        if i % 7 == 3 {
            writer.write_payload(&[0xff; 3]).unwrap();
        } else {
            writer.write(&*format!("message {i}")).unwrap();
        }
    }
    let mut stream = writer.into_inner();
    stream.extend_from_slice(&[9, 0, 0]);
    // At an odd address.
    let mut odd = vec![0u8];
    odd.extend_from_slice(&stream);
    let stream = &odd[1..];
    let d = || deframer("crc32", None);
    let reference = typed(StreamReader::with_buffer_size(
        Opaque(stream),
        d(),
        DEFAULT_BUFFER_SIZE,
    ));
    assert!(reference.len() > 40);
    assert_eq!(typed(StreamReader::new(stream, d())), reference);
    assert_eq!(
        typed(StreamReader::new(Cursor::new(stream), d())),
        reference
    );
    let owned = stream.to_vec();
    assert_eq!(
        typed(StreamReader::new(Cursor::new(&owned), d())),
        reference
    );
    let reference = typed_messages(StreamReader::with_buffer_size(
        Opaque(stream),
        d(),
        DEFAULT_BUFFER_SIZE,
    ));
    assert_eq!(typed_messages(StreamReader::new(stream, d())), reference);
    assert_eq!(
        typed_messages(StreamReader::new(Cursor::new(stream), d())),
        reference
    );
    assert_eq!(
        typed_messages(StreamReader::new(Cursor::new(&owned), d())),
        reference
    );
}
