//! An outside attack on `FrameBuffer` and `StreamWriter::buffered`: the same bytes as an
//! unbuffered writer at every capacity near the smallest and every payload size near the
//! room left, through every write method and the adapters (validating, bounded, observing,
//! compressing, encrypting, chunks); and sinks that write short, refuse, fail after exactly
//! k bytes, fail only on flush, lie about how much they took, panic part-way, or are a closed
//! pipe: after each, `bytes_written()` and `buffer()` must be exactly the stream's bytes in
//! order, nothing lost or written twice, and the error located.

use std::cell::RefCell;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use flatbuffers::FlatBufferBuilder;
use flatstream::compress::{ChunkWriter, CompressFramerExt, Lz4};
use flatstream::encrypt::{Cipher, EncryptingFramer, Key, StreamId};
use flatstream_core::{Error, ErrorKind, Framer, Result, Validator};
use flatstream_io::{
    ChecksumFramer, DefaultFramer, FrameBuffer, FramerExt, IntoInnerError, StreamWriter,
};
use flatstream_test_support::{allocations_during, pseudo_random_bytes};

use crate::common::{ALGORITHMS, Rng, Unrecognised, checksum_by_name, payload_of};

// ---------------------------------------------------------------------------------------
// Sinks.

/// What a [`Scripted`] sink saw: every byte it accepted, and the size of each accepted
/// write. Shared, so it can be read after the writer is dropped or has panicked.
#[derive(Debug, Default)]
struct Log {
    bytes: Vec<u8>,
    writes: Vec<usize>,
    calls: usize,
    flushes: usize,
}

/// What a [`Scripted`] sink does with one `write` call.
enum Act {
    /// Takes up to this many bytes.
    Take(usize),
    /// Fails with this kind, taking nothing.
    Fail(io::ErrorKind),
    /// Returns `Ok(0)`.
    Zero,
    /// Takes everything, and says it took this many bytes more than it was given.
    Lie(usize),
    /// Takes up to this many bytes, then panics.
    TakeThenPanic(usize),
}

type Script = Box<dyn FnMut(&Log, usize) -> Act>;

/// A sink whose every `write` does what `script(log, buf.len())` says.
struct Scripted {
    log: Rc<RefCell<Log>>,
    script: Script,
    fail_flush: Option<io::ErrorKind>,
}

impl Scripted {
    fn new(script: impl FnMut(&Log, usize) -> Act + 'static) -> (Self, Rc<RefCell<Log>>) {
        let log = Rc::new(RefCell::new(Log::default()));
        (
            Scripted {
                log: Rc::clone(&log),
                script: Box::new(script),
                fail_flush: None,
            },
            log,
        )
    }

    /// A sink that takes everything.
    fn healthy() -> (Self, Rc<RefCell<Log>>) {
        Self::new(|_, len| Act::Take(len))
    }
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripted")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let act = {
            let mut log = self.log.borrow_mut();
            log.calls += 1;
            (self.script)(&log, buf.len())
        };
        let mut log = self.log.borrow_mut();
        match act {
            Act::Take(n) => {
                let n = n.min(buf.len());
                log.bytes.extend_from_slice(&buf[..n]);
                log.writes.push(n);
                Ok(n)
            }
            Act::Fail(kind) => Err(io::Error::new(kind, "scripted failure")),
            Act::Zero => Ok(0),
            Act::Lie(extra) => {
                log.bytes.extend_from_slice(buf);
                log.writes.push(buf.len());
                Ok(buf.len() + extra)
            }
            Act::TakeThenPanic(n) => {
                let n = n.min(buf.len());
                log.bytes.extend_from_slice(&buf[..n]);
                log.writes.push(n);
                drop(log);
                panic!("the sink panicked after taking {n} bytes");
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.log.borrow_mut().flushes += 1;
        match self.fail_flush.take() {
            Some(kind) => Err(io::Error::new(kind, "scripted flush failure")),
            None => Ok(()),
        }
    }
}

/// The stream `bytes_written()` and `buffer()` say there is: the bytes the sink accepted,
/// then the buffered ones. Asserts the sink holds exactly the bytes counted.
fn accounted(buffer: &FrameBuffer<Scripted>, log: &Log, context: &str) -> Vec<u8> {
    assert_eq!(
        buffer.bytes_written(),
        log.bytes.len() as u64,
        "{context}: bytes_written() is not what the sink accepted"
    );
    let mut stream = log.bytes.clone();
    stream.extend_from_slice(buffer.buffer());
    stream
}

fn io_kind(error: &Error) -> Option<io::ErrorKind> {
    match error.kind() {
        ErrorKind::Io(e) => Some(e.kind()),
        _ => None,
    }
}

fn framer(name: &str) -> ChecksumFramer<Box<dyn flatstream_core::Checksum>> {
    ChecksumFramer::new(checksum_by_name(name))
}

// ---------------------------------------------------------------------------------------
// The same bytes as unbuffered writes.

/// Capacities at, below and just past the smallest buffer, and the sizes that straddle the
/// room a 64-byte allowance leaves.
const SMALL_CAPACITIES: [usize; 12] = [0, 1, 127, 128, 129, 130, 140, 191, 192, 193, 257, 1000];

/// Payload sizes around `capacity` (raised to 128 as the buffer does): the allowance's
/// edges, a frame that exactly fills the buffer with each header width, and larger.
fn sizes_around(capacity: usize) -> Vec<usize> {
    let c = capacity.max(128);
    let mut sizes = vec![0, 1, 2, 3, 4, 63, 64, 65, 127, 128, 129];
    for below in [130, 77, 76, 66, 65, 64, 63, 13, 12, 11, 7, 6, 5, 4, 1] {
        sizes.push(c.saturating_sub(below));
    }
    for above in [0, 1, 63, 64, 65, c, 2 * c + 7] {
        sizes.push(c + above);
    }
    sizes
}

#[test]
fn buffered_agrees_with_unbuffered_at_every_size_near_the_room_left() {
    for name in ALGORITHMS {
        for capacity in SMALL_CAPACITIES {
            let context = format!("{name}, buffer {capacity}");
            let (sink, log) = Scripted::healthy();
            let mut buffered = StreamWriter::buffered(sink, framer(name), capacity);
            let mut plain = StreamWriter::new(Unrecognised::default(), framer(name));
            let mut in_vec = StreamWriter::new(Vec::new(), framer(name));
            let mut step = 0usize;
            let mut write =
                |payload: &[u8], buffered: &mut StreamWriter<FrameBuffer<Scripted>, _>| {
                    step += 1;
                    buffered.write_payload(payload).unwrap();
                    plain.write_payload(payload).unwrap();
                    in_vec.write_payload(payload).unwrap();
                    if step.is_multiple_of(7) {
                        buffered.flush().unwrap();
                    }
                    let counts = (buffered.frames_written(), buffered.position());
                    assert_eq!(
                        counts,
                        (plain.frames_written(), plain.position()),
                        "{context}"
                    );
                    let frames = buffered.get_ref();
                    assert_eq!(
                        frames.bytes_written() + frames.buffer().len() as u64,
                        buffered.position(),
                        "{context}, step {step}"
                    );
                    let stream = accounted(frames, &log.borrow(), &context);
                    assert_eq!(stream, plain.get_ref().0, "{context}, step {step}");
                    assert_eq!(stream, *in_vec.get_ref(), "{context}, step {step}");
                };
            for size in sizes_around(capacity) {
                write(&payload_of(size, size as u8), &mut buffered);
                // Then payloads one short of, exactly, and one past the room left.
                for (seed, short_by, past_by) in [(0, 1, 0), (1, 0, 0), (2, 0, 1)] {
                    let held = buffered.get_ref().buffer().len();
                    let room = buffered.get_ref().capacity().saturating_sub(held + 64);
                    let len = room.saturating_sub(short_by) + past_by;
                    write(&payload_of(len, seed), &mut buffered);
                }
            }
            buffered.flush().unwrap();
            let stream = buffered.into_inner().into_inner().unwrap();
            assert!(stream.log.borrow().writes.iter().all(|&n| n > 0));
            assert_eq!(stream.log.borrow().bytes, plain.into_inner().0, "{context}");
        }
    }
}

#[test]
fn random_mixes_agree_with_unbuffered_through_every_write_method() {
    let mut rng = Rng(0xA77A_C400_0001);
    for round in 0..6 {
        let name = ALGORITHMS[round % ALGORITHMS.len()];
        for capacity in [128, 129, 200, 333] {
            let context = format!("round {round}, {name}, buffer {capacity}");
            let (sink, log) = Scripted::healthy();
            let mut buffered = StreamWriter::buffered(sink, framer(name), capacity);
            let mut plain = StreamWriter::new(Unrecognised::default(), framer(name));
            let mut builder = FlatBufferBuilder::new();
            for _ in 0..120 {
                let len = match rng.below(6) {
                    0 => rng.below(8),
                    1 => capacity.saturating_sub(64 + rng.below(16)),
                    2 => capacity + rng.below(3),
                    3 => rng.below(3 * capacity),
                    _ => rng.below(100),
                };
                let payload = payload_of(len, rng.below(256) as u8);
                match rng.below(5) {
                    0 => {
                        let text: String = "t".repeat(len);
                        buffered.write(&text).unwrap();
                        plain.write(&text).unwrap();
                    }
                    1 => {
                        builder.reset();
                        let values = builder.create_vector(&payload);
                        builder.finish_minimal(values);
                        buffered.write_finished(&mut builder).unwrap();
                        plain.write_finished(&mut builder).unwrap();
                    }
                    2 => {
                        let batch: Vec<String> =
                            (0..rng.below(5)).map(|i| "b".repeat(len / 3 + i)).collect();
                        buffered.write_batch(&batch).unwrap();
                        plain.write_batch(&batch).unwrap();
                    }
                    3 => {
                        buffered.write_payload(&payload).unwrap();
                        plain.write_payload(&payload).unwrap();
                        buffered.flush().unwrap();
                    }
                    _ => {
                        buffered.write_payload(&payload).unwrap();
                        plain.write_payload(&payload).unwrap();
                    }
                }
                assert_eq!(buffered.position(), plain.position(), "{context}");
                assert_eq!(
                    accounted(buffered.get_ref(), &log.borrow(), &context),
                    plain.get_ref().0,
                    "{context}"
                );
            }
            buffered.finish().unwrap();
            plain.finish().unwrap();
            assert!(buffered.get_ref().buffer().is_empty(), "{context}");
            assert_eq!(log.borrow().bytes, plain.get_ref().0, "{context}");
        }
    }
}

/// Refuses payloads that begin with 0xEE.
struct NoEe;

impl Validator for NoEe {
    fn validate(&self, payload: &[u8]) -> Result<()> {
        if payload.first() == Some(&0xEE) {
            return Err(Error::validation_failed("no-ee", "begins with 0xEE"));
        }
        Ok(())
    }
    fn name(&self) -> &'static str {
        "no-ee"
    }
}

/// Payloads for the adapters: short and long, compressible and not, some refused by
/// [`NoEe`] and some over a 300-byte bound.
fn adapter_payloads() -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    for (i, len) in [
        0usize, 1, 40, 63, 64, 65, 100, 127, 128, 129, 200, 299, 300, 301, 1000, 5000,
    ]
    .into_iter()
    .enumerate()
    {
        payloads.push(payload_of(len, i as u8));
        payloads.push(pseudo_random_bytes(len, i as u64 + 1));
        payloads.push(vec![b'z'; len]);
        let mut refused = payload_of(len.max(1), 3);
        refused[0] = 0xEE;
        payloads.push(refused);
    }
    payloads
}

/// What writing a payload did: the frame's length or the error's kind and place.
#[derive(Debug, PartialEq)]
enum Outcome {
    Wrote(u64),
    Refused(String, Option<u64>, Option<u64>),
}

fn outcome<W: flatstream_io::FrameSink, F: Framer>(
    writer: &mut StreamWriter<W, F>,
    payload: &[u8],
) -> Outcome {
    let before = writer.position();
    match writer.write_payload(payload) {
        Ok(()) => Outcome::Wrote(writer.position() - before),
        Err(error) => Outcome::Refused(
            format!("{:?}", std::mem::discriminant(error.kind())),
            error.frame_index(),
            error.offset(),
        ),
    }
}

/// Writes [`adapter_payloads`] through `make()` buffered (at several capacities) and
/// unbuffered, then finishes both, and asserts the same outcomes and bytes.
fn adapter_agrees<F: Framer>(what: &str, make: impl Fn() -> F) {
    let payloads = adapter_payloads();
    let mut plain = StreamWriter::new(Unrecognised::default(), make());
    let expected: Vec<Outcome> = payloads.iter().map(|p| outcome(&mut plain, p)).collect();
    plain.finish().unwrap();
    let expected_stream = plain.into_inner().0;
    for capacity in [128, 129, 300, 1000, 6000] {
        let context = format!("{what}, buffer {capacity}");
        let (sink, log) = Scripted::healthy();
        let mut buffered = StreamWriter::buffered(sink, make(), capacity);
        for (payload, expected) in payloads.iter().zip(&expected) {
            assert_eq!(outcome(&mut buffered, payload), *expected, "{context}");
            let frames = buffered.get_ref();
            assert_eq!(
                frames.bytes_written() + frames.buffer().len() as u64,
                buffered.position(),
                "{context}: a refused frame left bytes behind"
            );
        }
        buffered.finish().unwrap();
        assert!(buffered.get_ref().buffer().is_empty());
        drop(buffered);
        assert_eq!(log.borrow().bytes, expected_stream, "{context}");
    }
}

#[test]
fn the_adapters_write_the_same_bytes_buffered() {
    adapter_agrees("validating", || framer("crc32c").with_validator(NoEe));
    adapter_agrees("bounded", || framer("xxh3").bounded(300));
    adapter_agrees("observing", || framer("crc16").observe(|_| {}));
    adapter_agrees("lz4", || framer("crc64").compressed(Lz4::new()));
    adapter_agrees("lz4, bounded", || {
        framer("crc32").compressed(Lz4::new()).bounded(300)
    });
    let key = Key::from_bytes([7; 32]);
    for cipher in [Cipher::XChaCha20Poly1305, Cipher::Aes256Gcm] {
        let encrypted =
            || EncryptingFramer::with_stream_id(framer("xxh3"), &key, cipher, StreamId([9; 16]));
        adapter_agrees("encrypting", encrypted);
        adapter_agrees("encrypting, validating", || {
            encrypted().with_validator(NoEe)
        });
        adapter_agrees("lz4, encrypting, bounded", || {
            EncryptingFramer::with_stream_id(
                framer("crc32c").bounded(400),
                &key,
                cipher,
                StreamId([3; 16]),
            )
            .compressed(Lz4::new())
        });
    }
}

#[test]
fn chunk_writer_over_a_frame_buffer_writes_the_same_bytes() {
    let payloads = adapter_payloads();
    for chunk_len in [1, 100, 1000, 70_000] {
        let mut plain =
            ChunkWriter::new(Vec::new(), framer("crc32c"), Lz4::new()).with_chunk_len(chunk_len);
        for (i, payload) in payloads.iter().enumerate() {
            plain.write_payload(payload).unwrap();
            // `flush` closes the open chunk: the same chunks on both sides.
            if i % 17 == 0 {
                plain.flush().unwrap();
            }
        }
        let expected = plain.finish().unwrap();
        for capacity in [128, 129, 1000, 65536] {
            let context = format!("chunks of {chunk_len}, buffer {capacity}");
            let (sink, log) = Scripted::healthy();
            let mut chunks = ChunkWriter::new(
                FrameBuffer::with_capacity(capacity, sink),
                framer("crc32c"),
                Lz4::new(),
            )
            .with_chunk_len(chunk_len);
            for (i, payload) in payloads.iter().enumerate() {
                chunks.write_payload(payload).unwrap();
                if i % 17 == 0 {
                    chunks.flush().unwrap();
                    assert!(chunks.get_ref().buffer().is_empty(), "{context}");
                }
            }
            let buffer = chunks.finish().unwrap();
            assert!(buffer.buffer().is_empty(), "{context}");
            assert_eq!(buffer.bytes_written(), expected.len() as u64, "{context}");
            drop(buffer.into_inner().unwrap());
            assert_eq!(log.borrow().bytes, expected, "{context}");
        }
    }
}

/// Writes each of `payloads` as large as the room left allows, so that frames end near the
/// capacity, asserting the buffer stays within its headroom; whether one went past the
/// capacity.
fn fill_near_capacity<W: Write, F: Framer>(
    writer: &mut StreamWriter<FrameBuffer<W>, F>,
    payloads: &[Vec<u8>],
    (capacity, headroom): (usize, usize),
) -> bool {
    let mut past_capacity = false;
    for payload in payloads {
        let held = writer.get_ref().buffer().len();
        let room = capacity.saturating_sub(held + 65).max(1);
        writer
            .write_payload(&payload[..payload.len().min(room)])
            .unwrap();
        let held = writer.get_ref().buffer().len();
        assert!(
            held <= capacity + headroom,
            "{held} bytes buffered in a buffer of {capacity}"
        );
        past_capacity |= held > capacity;
    }
    past_capacity
}

// Was `// FAILS:` (lz4 frames took the buffer past its capacity, and the `Vec` grew to twice
// its size). The buffer now allocates headroom past its capacity for framers that add more
// than its 64-byte allowance (`capacity / 64 + 256` bytes): such a frame goes into it and the
// buffer does not grow.
#[test]
fn a_compressed_frame_stays_within_the_buffers_headroom_and_allocates_nothing() {
    let capacity = 20_000;
    let headroom = capacity / 64 + 256;
    // Incompressible: lz4 makes each frame ~n/255 + 20 bytes longer than its payload.
    let payloads: Vec<Vec<u8>> = [100, 19_935, 5000, 13_000, 19_935, 19_000, 19_935, 100]
        .iter()
        .enumerate()
        .map(|(i, &len)| pseudo_random_bytes(len, i as u64 + 1))
        .collect();
    let (sink, log) = Scripted::healthy();
    let mut writer = StreamWriter::buffered(sink, framer("xxh3").compressed(Lz4::new()), capacity);
    // The case this is about happens: a frame goes past the capacity, into the headroom.
    assert!(fill_near_capacity(
        &mut writer,
        &payloads,
        (capacity, headroom)
    ));
    writer.flush().unwrap();
    let sizes = log.borrow().writes.clone();
    assert!(sizes.iter().all(|&n| n <= capacity + headroom), "{sizes:?}");
    // Into a sink that allocates nothing itself, with a compressor whose own buffers have
    // grown already (through a buffer large enough never to be near its end): the pass near
    // the capacity allocates nothing, so the buffer did not grow.
    let mut lz4 = framer("xxh3").compressed(Lz4::new());
    let mut warm = StreamWriter::buffered(io::sink(), &mut lz4, 1 << 22);
    for payload in payloads.iter().chain(&payloads) {
        warm.write_payload(payload).unwrap();
    }
    drop(warm);
    let mut writer = StreamWriter::buffered(io::sink(), &mut lz4, capacity);
    let mut past_capacity = false;
    let allocations = allocations_during(|| {
        past_capacity = fill_near_capacity(&mut writer, &payloads, (capacity, headroom));
    });
    assert!(past_capacity);
    assert_eq!(allocations, 0);
}

// ---------------------------------------------------------------------------------------
// Sinks that fail.

/// Payloads for the exhaustive failure search: short frames, frames that straddle the room
/// left, and frames too large for a 128 or 200-byte buffer (written straight to the sink).
fn failure_payloads() -> Vec<Vec<u8>> {
    [10, 100, 5, 300, 0, 60, 61, 62, 1, 200, 3, 70, 140, 2]
        .into_iter()
        .enumerate()
        .map(|(i, len)| payload_of(len, i as u8))
        .collect()
}

/// Writes `payloads` then flushes, stopping at the first error: the index of the frame it
/// named, and the error.
fn write_until_error<F: Framer>(
    writer: &mut StreamWriter<FrameBuffer<Scripted>, F>,
    payloads: &[Vec<u8>],
) -> Option<(usize, Error)> {
    for (index, payload) in payloads.iter().enumerate() {
        if let Err(error) = writer.write_payload(payload) {
            return Some((index, error));
        }
    }
    writer.flush().err().map(|error| (payloads.len(), error))
}

#[test]
fn a_sink_failing_once_after_every_byte_count_loses_and_repeats_nothing() {
    let payloads = failure_payloads();
    let (expected, frame_ends) = {
        let mut plain = StreamWriter::new(Vec::new(), framer("crc32c"));
        let ends: Vec<u64> = payloads
            .iter()
            .map(|p| {
                plain.write_payload(p).unwrap();
                plain.position()
            })
            .collect();
        (plain.into_inner(), ends)
    };
    // (what the sink does at byte k, the error kind the writer reports)
    let failures: [(fn() -> Act, io::ErrorKind); 4] = [
        (
            || Act::Fail(io::ErrorKind::StorageFull),
            io::ErrorKind::StorageFull,
        ),
        (
            || Act::Fail(io::ErrorKind::WouldBlock),
            io::ErrorKind::WouldBlock,
        ),
        (
            || Act::Fail(io::ErrorKind::BrokenPipe),
            io::ErrorKind::BrokenPipe,
        ),
        (|| Act::Zero, io::ErrorKind::WriteZero),
    ];
    for capacity in [128, 200] {
        for (fail, kind) in failures {
            for k in 0..=expected.len() {
                for retry_by_drop in [false, true] {
                    let context = format!("buffer {capacity}, {kind:?} at byte {k}");
                    let mut failed = false;
                    let (sink, log) = Scripted::new(move |log, len| {
                        let room = k.saturating_sub(log.bytes.len());
                        if failed || room > 0 {
                            // Up to byte k (in pieces of up to 50), then all once failed.
                            Act::Take(if failed { len } else { room.min(50) })
                        } else {
                            failed = true;
                            fail()
                        }
                    });
                    let mut writer = StreamWriter::buffered(sink, framer("crc32c"), capacity);
                    let Some((index, error)) = write_until_error(&mut writer, &payloads) else {
                        assert_eq!(k, expected.len(), "{context}: no error");
                        assert_eq!(log.borrow().bytes, expected, "{context}");
                        continue;
                    };
                    assert_eq!(io_kind(&error), Some(kind), "{context}: {error}");
                    assert_eq!(error.frame_index(), Some(index as u64), "{context}");
                    assert_eq!(error.frame_index(), Some(writer.frames_written()));
                    assert_eq!(error.offset(), Some(writer.position()), "{context}");
                    assert!(writer.is_stopped(), "{context}");
                    let refusal = writer.write_payload(b"more").unwrap_err();
                    assert!(
                        refusal
                            .to_string()
                            .contains("stopped after an earlier i/o error"),
                        "{refusal}"
                    );

                    let buffer = writer.get_ref();
                    let reached = buffer.bytes_written() as usize;
                    assert_eq!(reached, k, "{context}: the sink took k bytes");
                    let stream = accounted(buffer, &log.borrow(), &context);
                    assert_eq!(stream, expected[..stream.len()], "{context}");
                    let held = buffer.buffer().len();
                    if held > 0 {
                        // Whole frames held: the stream stands at the last whole frame.
                        assert_eq!((reached + held) as u64, writer.position(), "{context}");
                    } else {
                        // A frame written straight to the sink failed part-way.
                        assert!(
                            (reached as u64) < frame_ends[index]
                                && reached as u64 >= writer.position(),
                            "{context}"
                        );
                    }
                    // Once the sink is back, what was held goes out, once.
                    if retry_by_drop {
                        drop(writer);
                    } else {
                        let sink = writer.into_inner().into_inner().unwrap();
                        drop(sink);
                    }
                    assert_eq!(log.borrow().bytes, stream, "{context}");
                }
            }
        }
    }
}

#[test]
fn into_inner_after_a_transient_failure_writes_the_exact_stream() {
    let payloads = failure_payloads();
    let expected = crate::common::stream_of("xxh3", &payloads);
    for capacity in [128, 4096] {
        let mut refusals = 2;
        let (sink, log) = Scripted::new(move |_, len| {
            if refusals > 0 {
                refusals -= 1;
                return Act::Fail(io::ErrorKind::WouldBlock);
            }
            Act::Take(len.min(33))
        });
        let mut writer = StreamWriter::buffered(sink, framer("xxh3"), capacity);
        // Everything is buffered, or the first write out meets `WouldBlock`.
        let mut error = None;
        for payload in &payloads[..4] {
            if let Err(e) = writer.write_payload(payload) {
                error = Some(e);
                break;
            }
        }
        let error = error.unwrap_or_else(|| writer.flush().unwrap_err());
        assert_eq!(io_kind(&error), Some(io::ErrorKind::WouldBlock));
        let position = writer.position() as usize;
        let buffer = writer.into_inner();
        // The first retry is refused too, and hands everything back.
        let refused: IntoInnerError<Scripted> = buffer.into_inner().unwrap_err();
        assert_eq!(refused.error().kind(), io::ErrorKind::WouldBlock);
        let buffer = refused.into_inner();
        assert_eq!(
            buffer.bytes_written() as usize + buffer.buffer().len(),
            position
        );
        // The second succeeds: exactly the frames written, once.
        drop(buffer.into_inner().unwrap());
        assert_eq!(
            log.borrow().bytes,
            expected[..position],
            "buffer {capacity}"
        );
    }
}

#[test]
fn a_flush_that_fails_after_everything_was_written_is_reported_and_loses_nothing() {
    let payloads = failure_payloads();
    let expected = crate::common::stream_of("crc64", &payloads);
    let (mut sink, log) = Scripted::healthy();
    sink.fail_flush = Some(io::ErrorKind::TimedOut);
    let mut writer = StreamWriter::buffered(sink, framer("crc64"), 128);
    for payload in &payloads {
        writer.write_payload(payload).unwrap();
    }
    let error = writer.flush().unwrap_err();
    assert_eq!(io_kind(&error), Some(io::ErrorKind::TimedOut), "{error}");
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(payloads.len() as u64), Some(expected.len() as u64))
    );
    assert!(writer.is_stopped());
    assert_eq!(writer.get_ref().bytes_written(), expected.len() as u64);
    assert!(writer.get_ref().buffer().is_empty());
    // `finish` refuses, naming the flush's error; the stream is whole all the same.
    let refusal = writer.finish().unwrap_err();
    assert!(
        refusal.to_string().contains("scripted flush failure"),
        "{refusal}"
    );
    drop(writer);
    assert_eq!(log.borrow().bytes, expected);
}

#[test]
fn many_interruptions_and_one_byte_writes_lose_nothing() {
    let payloads = failure_payloads();
    let expected = crate::common::stream_of("crc16", &payloads);
    for capacity in [128, 150, 1000] {
        let (sink, log) = Scripted::new(|log, _| {
            if log.calls % 3 != 0 {
                Act::Fail(io::ErrorKind::Interrupted)
            } else {
                Act::Take(1)
            }
        });
        let mut writer = StreamWriter::buffered(sink, framer("crc16"), capacity);
        for payload in &payloads {
            writer.write_payload(payload).unwrap();
        }
        writer.finish().unwrap();
        assert_eq!(writer.get_ref().bytes_written(), expected.len() as u64);
        drop(writer);
        let log = log.borrow();
        assert_eq!(log.bytes, expected, "buffer {capacity}");
        assert!(log.writes.iter().all(|&n| n == 1));
        assert_eq!(log.flushes, 1);
    }
}

// Was `// FAILS:` (fixed: refused as InvalidData): a sink that returns Ok(n) with n > buf.len() makes `write_out`'s `taken` pass the buffer's length, and the next `&self.frames[taken..]` panics (slice index out of range) instead of returning an error.
#[test]
fn a_sink_claiming_more_than_it_was_given_is_an_error_not_a_panic() {
    for extra in [1, 1000, usize::MAX / 2] {
        let (sink, _log) = Scripted::new(move |_, _| Act::Lie(extra));
        let mut writer = StreamWriter::buffered(sink, DefaultFramer, 128);
        writer.write_payload(b"abc").unwrap();
        writer.write_payload(b"defgh").unwrap();
        let flushed = catch_unwind(AssertUnwindSafe(|| writer.flush()));
        let Ok(result) = flushed else {
            panic!("claiming {extra} bytes too many: FrameBuffer panicked");
        };
        let error = result.unwrap_err();
        assert!(io_kind(&error).is_some(), "{error}");
        assert!(writer.is_stopped());
    }
}

// Was `// FAILS:` (fixed: `CountingWriter` refuses the count): a frame too large for the buffer goes to W through `CountingWriter`, which passed a sink's over-claim (Ok(n) with n > buf.len()) on to the framer's `write_all` / `IoSlice::advance_slices`, which panic; the wrapper could refuse it as an error (an unbuffered writer panics the same way, in std).
#[test]
fn a_sink_claiming_more_than_it_was_given_under_a_large_frame_is_an_error_not_a_panic() {
    // 200 B payloads go through two `write_all` calls, 5000 B ones through `write_vectored`.
    for len in [200, 5000] {
        let (sink, _log) = Scripted::new(|_, _| Act::Lie(1));
        let mut writer = StreamWriter::buffered(sink, DefaultFramer, 128);
        let written = catch_unwind(AssertUnwindSafe(|| {
            writer.write_payload(&payload_of(len, 1))
        }));
        let Ok(result) = written else {
            panic!("a {len} B frame to a sink claiming a byte too many: panicked");
        };
        let error = result.unwrap_err();
        assert!(io_kind(&error).is_some(), "{error}");
        assert!(writer.is_stopped());
    }
}

// Was `// FAILS:` (fixed: a guard counts what each returned write took): when W::write panics in `write_out` after earlier calls of the same write out took part of the buffer, neither `bytes_written` nor the buffer is updated (no guard like BufWriter's), so those bytes are counted as unwritten and the next write out sends them again (duplicated in the stream).
#[test]
fn a_sink_panicking_part_way_through_a_write_out_keeps_exact_counts() {
    for taken_before_panic in [1usize, 2, 7] {
        let context = format!("panic after {taken_before_panic} one-byte writes");
        let (sink, log) = Scripted::new(move |log, _| {
            // One byte a call; the call after `taken_before_panic` of them panics, once.
            if log.calls == taken_before_panic + 1 {
                Act::TakeThenPanic(0)
            } else {
                Act::Take(1)
            }
        });
        let mut writer = StreamWriter::buffered(sink, DefaultFramer, 128);
        writer.write_payload(b"abc").unwrap();
        writer.write_payload(b"defgh").unwrap();
        let expected = crate::common::stream_of("none", &[b"abc".to_vec(), b"defgh".to_vec()]);
        let panicked = catch_unwind(AssertUnwindSafe(|| writer.flush()));
        assert!(panicked.is_err());
        assert_eq!(log.borrow().bytes.len(), taken_before_panic);
        // What the buffer says reached the sink, and what it still holds, is the stream.
        let stream = accounted(writer.get_ref(), &log.borrow(), &context);
        assert_eq!(stream, expected, "{context}");
        // And writing out what is held (the sink works again) gives each byte once.
        writer.flush().unwrap();
        drop(writer);
        assert_eq!(log.borrow().bytes, expected, "{context}: bytes repeated");
    }
}

// Was `// FAILS:` (fixed: counted as each write returns): a panic in W::write while a frame too large for the buffer goes straight to W loses `CountingWriter`'s count: `bytes_written()` stays below what the sink accepted.
#[test]
fn a_sink_panicking_part_way_through_a_large_frame_keeps_an_exact_count() {
    let (sink, log) = Scripted::new(|log, len| {
        if log.bytes.len() >= 30 {
            Act::TakeThenPanic(5)
        } else {
            Act::Take(len.min(10))
        }
    });
    let mut writer = StreamWriter::buffered(sink, DefaultFramer, 128);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        writer.write_payload(&payload_of(1000, 1))
    }));
    assert!(panicked.is_err());
    // The header (4), three writes of 10, then 5 before the panic.
    assert_eq!(log.borrow().bytes.len(), 39);
    // Counted: every write that returned (the header and three of 10). The 5 bytes the
    // panicking call took are in the sink, but no call said so: nothing can count them.
    assert_eq!(
        writer.get_ref().bytes_written(),
        34,
        "bytes_written() after a panic in a frame written straight to the sink"
    );
}

// Was `// FAILS:` (fixed: the flag is raised around calls into W only): the `panicked` flag was raised around the whole framer call of a frame written straight to W, so a panic in the *framer* (here an observer, after W took the whole frame) leaves it set; frames buffered afterwards are then silently dropped by Drop, though W never panicked.
#[test]
fn a_panicking_observer_does_not_make_drop_lose_later_frames() {
    let (sink, log) = Scripted::healthy();
    let framer = DefaultFramer.observe(|payload: &[u8]| {
        assert!(payload.len() < 1000, "the observer refuses large payloads");
    });
    let mut writer = StreamWriter::buffered(sink, framer, 128);
    let large = payload_of(1000, 1);
    let panicked = catch_unwind(AssertUnwindSafe(|| writer.write_payload(&large)));
    assert!(panicked.is_err());
    // The large frame reached the sink whole; the sink never panicked.
    assert_eq!(log.borrow().bytes.len(), 1004);
    writer.write_payload(b"after").unwrap();
    drop(writer);
    let mut expected = crate::common::stream_of("none", &[large]);
    expected.extend_from_slice(b"\x05\0\0\0after");
    assert_eq!(
        log.borrow().bytes,
        expected,
        "the frame after the panic was lost"
    );
}

#[test]
fn after_a_sink_panic_drop_writes_nothing_but_into_parts_returns_the_frames() {
    let (sink, log) = Scripted::new(|log, _| {
        if log.calls == 1 {
            Act::TakeThenPanic(0)
        } else {
            Act::Take(usize::MAX)
        }
    });
    let mut writer = StreamWriter::buffered(sink, DefaultFramer, 128);
    writer.write_payload(b"abc").unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| writer.flush())).is_err());
    // The frames are not lost to a caller who asks for them.
    let (sink, frames) = writer.into_inner().into_parts();
    assert_eq!(frames, b"\x03\0\0\0abc");
    drop(sink);
    assert!(log.borrow().bytes.is_empty());
    assert_eq!(log.borrow().calls, 1, "written again after the panic");
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_is_a_located_broken_pipe_error_not_a_panic() {
    let (reader, pipe) = io::pipe().unwrap();
    drop(reader);
    let mut writer = StreamWriter::buffered(pipe, framer("crc32c"), 256);
    writer.write_payload(b"first").unwrap();
    // A frame too large for the buffer: the buffer, then the frame, go to the pipe.
    let error = writer.write_payload(&payload_of(300, 1)).unwrap_err();
    assert_eq!(io_kind(&error), Some(io::ErrorKind::BrokenPipe), "{error}");
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(13)));
    assert_eq!(writer.get_ref().bytes_written(), 0);
    assert_eq!(writer.get_ref().buffer().len(), 13);
    drop(writer); // Ignores the error again.

    let (reader, pipe) = io::pipe().unwrap();
    drop(reader);
    let mut writer = StreamWriter::buffered(pipe, framer("crc32c"), 256);
    writer.write_payload(b"first").unwrap();
    let error = writer.finish().unwrap_err();
    assert_eq!(io_kind(&error), Some(io::ErrorKind::BrokenPipe), "{error}");
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(13)));
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_under_a_large_frame_is_located_and_counted() {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut writer = StreamWriter::buffered(file, framer("xxh3"), 128);
    let error = writer.write_payload(&payload_of(5000, 1)).unwrap_err();
    assert_eq!(io_kind(&error), Some(io::ErrorKind::StorageFull), "{error}");
    assert_eq!((error.frame_index(), error.offset()), (Some(0), Some(0)));
    assert_eq!(writer.get_ref().bytes_written(), 0);
    let refusal = writer.write_payload(b"x").unwrap_err();
    assert!(writer.is_stopped(), "{refusal}");
}

// ---------------------------------------------------------------------------------------
// Drop, allocation, API.

#[test]
fn dropping_without_flush_writes_every_frame_once() {
    let payloads = failure_payloads();
    for capacity in [128, 200, 100_000] {
        let expected = crate::common::stream_of("crc32", &payloads);
        let (sink, log) = Scripted::new(|_, len| Act::Take(len.min(7)));
        let mut writer = StreamWriter::buffered(sink, framer("crc32"), capacity);
        for payload in &payloads {
            writer.write_payload(payload).unwrap();
        }
        drop(writer);
        assert_eq!(log.borrow().bytes, expected, "buffer {capacity}");
        // `forget` writes nothing, as promised by nothing but honest to check.
        let (sink, log) = Scripted::healthy();
        let mut writer = StreamWriter::buffered(sink, framer("crc32"), capacity);
        writer.write_payload(b"lost").unwrap();
        std::mem::forget(writer);
        assert!(log.borrow().bytes.is_empty());
    }
}

#[test]
fn alternating_buffered_and_straight_frames_allocate_nothing() {
    let sizes = [1usize, 63, 64, 65, 200, 5000, 0, 30, 127, 128, 129, 900];
    let payloads: Vec<Vec<u8>> = sizes.iter().map(|&n| payload_of(n, n as u8)).collect();
    for capacity in [128, 129, 1000] {
        for name in ALGORITHMS {
            // Takes at most 50 bytes a call: write outs end part-way, and the rest is moved
            // to the front of the buffer.
            let (sink, log) = Scripted::new(|_, len| Act::Take(len.min(50)));
            let mut writer = StreamWriter::buffered(sink, framer(name), capacity);
            for payload in &payloads {
                writer.write_payload(payload).unwrap();
            }
            // `Scripted` itself records every write: keep its log's vectors from growing.
            log.borrow_mut().bytes.reserve(4 << 20);
            log.borrow_mut().writes.reserve(1 << 20);
            let count = allocations_during(|| {
                for _ in 0..100 {
                    for payload in &payloads {
                        writer.write_payload(payload).unwrap();
                    }
                }
                writer.flush().unwrap();
            });
            assert_eq!(count, 0, "{name}, buffer {capacity}");
        }
    }
}

#[test]
fn into_inner_error_is_a_usable_error() {
    let (sink, log) = Scripted::new(|log, len| {
        if log.calls == 1 {
            Act::Take(3)
        } else if log.calls == 2 {
            Act::Fail(io::ErrorKind::ConnectionReset)
        } else {
            Act::Take(len)
        }
    });
    let mut writer = StreamWriter::new(FrameBuffer::with_capacity(128, sink), DefaultFramer);
    writer.write_payload(b"hello").unwrap();
    let refused = writer.into_inner().into_inner().unwrap_err();
    assert_eq!(refused.error().kind(), io::ErrorKind::ConnectionReset);
    let shown = refused.to_string();
    assert!(
        shown.contains("6 bytes left unwritten after 3 written"),
        "{shown}"
    );
    let debug = format!("{refused:?}");
    assert!(
        debug.contains("buffered: 6") && debug.contains("bytes_written: 3"),
        "{debug}"
    );
    let source = std::error::Error::source(&refused).unwrap().to_string();
    assert_eq!(source, "scripted failure");
    // Into a flatstream error: the I/O kind survives.
    let error = Error::from(refused);
    assert_eq!(io_kind(&error), Some(io::ErrorKind::ConnectionReset));
    // Converting dropped the buffer, whose drop wrote the rest out (once): the sink has the
    // whole frame, although the caller holds an error saying it did not.
    assert_eq!(log.borrow().bytes, b"\x05\0\0\0hello");
}

#[test]
fn a_frame_buffer_reports_itself_consistently() {
    let (sink, _log) = Scripted::healthy();
    let mut buffer = FrameBuffer::with_capacity(129, sink);
    assert_eq!(buffer.capacity(), 129);
    assert!(buffer.buffer().is_empty());
    assert_eq!(buffer.bytes_written(), 0);
    buffer.get_mut().fail_flush = Some(io::ErrorKind::Other);
    let mut writer = StreamWriter::new(buffer, DefaultFramer);
    writer.write_payload(b"abc").unwrap();
    assert_eq!(writer.get_ref().buffer(), b"\x03\0\0\0abc");
    // The buffer's flush failed after it wrote everything out: nothing is held.
    writer.flush().unwrap_err();
    assert!(writer.get_ref().buffer().is_empty());
    assert_eq!(writer.get_ref().bytes_written(), 7);
    let debug = format!("{:?}", FrameBuffer::with_capacity(1, Vec::<u8>::new()));
    assert!(debug.contains("capacity: 128"), "{debug}");
    assert!(debug.contains("inner: Some([])"), "{debug}");
}
