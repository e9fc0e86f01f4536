//! The everyday path (`StreamReader` over a `Cursor`, `StreamWriter` into a reused `Vec`)
//! beside minimal hand-written loops over the same bytes, measured one after the other for
//! each checksum and size, over a cache-resident stream (about 1 MiB of payload) and over one
//! larger than the last-level cache (64 MiB).
//!
//! Ids: `loop_read`, `loop_read_buffered` (the same job parsed out of a buffer read in
//! large pieces, as `StreamReader::new` does), `loop_read_file` (over a `BufReader<File>` of
//! the same stream), `loop_write`, `loop_write_called` (each message from a function that is
//! never inlined), `loop_write_payload` and `loop_write_file` (into a `BufWriter<File>`) are
//! the loops; `stream_*` are
//! flatstream's operations; `loop_read_again` and `loop_write_again` are controls (the loop
//! run again as a body of its own); a `_64m` suffix marks the 64 MiB stream. `cargo xtask
//! bench` divides each `stream_*` cell by its loop, and each control by the loop it repeats
//! (see `xtask/src/bench.rs`).

use std::cell::RefCell;
use std::hint::black_box;
use std::io::{Cursor, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use flatbuffers::FlatBufferBuilder;
use flatstream::{
    Checksum, ChecksumDeframer, ChecksumFramer, Crc32, Crc32c, DefaultDeframer, DefaultFramer,
    Deframer, Framer, NoChecksum, ReadMode, StreamReader, StreamSerialize, StreamWriter, Xxh3,
};
use flatstream_test_support::pseudo_random_bytes;

use crate::{Blob, configure, throughput};

const SIZES: [usize; 3] = [64, 1024, 64 * 1024];

/// Payload bytes of the cache-resident and the large stream.
const STREAMS: [(usize, &str); 2] = [(1 << 20, ""), (64 << 20, LARGE_STREAM)];

/// The suffix of the stream larger than the last-level cache.
const LARGE_STREAM: &str = "_64m";

/// One operation of a cell: its group, what one call processes, and the call.
struct Body<'a> {
    group: &'static str,
    messages: usize,
    bytes: usize,
    run: Box<dyn FnMut() -> usize + 'a>,
}

impl<'a> Body<'a> {
    fn new(
        group: &'static str,
        messages: usize,
        bytes: usize,
        run: impl FnMut() -> usize + 'a,
    ) -> Self {
        Body {
            group,
            messages,
            bytes,
            run: Box::new(run),
        }
    }
}

/// How the cells are measured: by criterion one operation after the other, or paired.
enum Runner<'c> {
    Criterion(&'c mut Criterion),
    /// Every operation of a cell in turn, round after round, keeping each one's fastest
    /// call: a burst of load on a shared machine slows whatever runs during it, and only
    /// for that round, so the best of many interleaved rounds compares like with like.
    /// With a filter, only the cells with an operation whose id contains it.
    Paired {
        records: &'c mut Vec<String>,
        filter: Option<String>,
    },
}

impl Runner<'_> {
    fn run(&mut self, suffix: &str, id: &str, bodies: &mut [Body<'_>]) {
        match self {
            Runner::Criterion(criterion) => {
                for body in bodies {
                    let mut group = configure(criterion, &format!("{}{suffix}", body.group));
                    group.throughput(throughput(body.messages, body.bytes));
                    group.bench_function(id, |b| b.iter(&mut body.run));
                    group.finish();
                }
            }
            #[allow(clippy::cast_precision_loss)] // A rate for the progress line.
            Runner::Paired { records, filter } => {
                let full_id = |body: &Body<'_>| format!("{}{suffix}/{id}", body.group);
                if let Some(filter) = filter
                    && !bodies
                        .iter()
                        .any(|body| full_id(body).contains(filter.as_str()))
                {
                    return;
                }
                // The large stream's calls leave the caches dirty with what they wrote.
                let best = paired(bodies, suffix == LARGE_STREAM);
                for (body, seconds) in bodies.iter().zip(best) {
                    records.push(format!(
                        r#"{{"id":"{}","messages":{},"bytes":{},"seconds":{seconds:e}}}"#,
                        full_id(body),
                        body.messages,
                        body.bytes
                    ));
                    eprintln!(
                        "{}{suffix}/{id}: {:.2} M msg/s",
                        body.group,
                        body.messages as f64 / seconds / 1e6
                    );
                }
            }
        }
    }
}

/// The fastest seconds per call of each body, over interleaved rounds.
///
/// With `settle`, every sample starts after a read of [`SETTLE_BYTES`] of other memory, so
/// that each body begins with the caches in the same state. Without it, a body over the
/// large stream began where the body before it in the round left the last-level cache, and
/// the rotation keeps that predecessor the same in every round. This holds the start equal;
/// how much the predecessor had moved the cells was not measured apart from the code
/// layout's share (`docs/benchmarks.md`, session 9), which turned out larger.
#[allow(clippy::cast_sign_loss)] // A clamped positive count of calls.
fn paired(bodies: &mut [Body<'_>], settle: bool) -> Vec<f64> {
    const SAMPLE: Duration = Duration::from_millis(4);
    let quick = std::env::var_os("FLATSTREAM_BENCH_QUICK").is_some();
    // Calls per sample from one warm-up call each, so that a sample lasts about `SAMPLE`.
    let calls: Vec<u32> = bodies
        .iter_mut()
        .map(|body| {
            let started = Instant::now();
            black_box((body.run)());
            let once = started.elapsed().max(Duration::from_nanos(1));
            (SAMPLE.as_secs_f64() / once.as_secs_f64()).clamp(1.0, 10_000.0) as u32
        })
        .collect();
    let rounds = match (quick, calls.iter().all(|calls| *calls == 1)) {
        (true, true) => 5,
        (true, false) | (false, true) => 11,
        (false, false) => 25,
    };
    let mut best = vec![f64::INFINITY; bodies.len()];
    for round in 0..rounds {
        for turn in 0..bodies.len() {
            let index = (turn + round) % bodies.len();
            let body = &mut bodies[index];
            if settle {
                settle_caches();
            }
            let started = Instant::now();
            for _ in 0..calls[index] {
                black_box((body.run)());
            }
            let seconds = started.elapsed().as_secs_f64() / f64::from(calls[index]);
            best[index] = best[index].min(seconds);
        }
    }
    best
}

/// How much [`settle_caches`] reads: twice the last-level cache of the machines measured
/// (32 MiB).
const SETTLE_BYTES: usize = 64 << 20;

/// Reads [`SETTLE_BYTES`] of memory of its own, so that what the last body wrote is written
/// back and the caches hold none of the stream.
fn settle_caches() {
    thread_local! {
        static OTHER: Vec<u64> = vec![1; SETTLE_BYTES / 8];
    }
    OTHER.with(|other| {
        black_box(other.iter().fold(0u64, |sum, word| sum.wrapping_add(*word)));
    });
}

/// The framer and deframer users take for a checksum: `DefaultFramer` and `DefaultDeframer`
/// without one (what the README and the examples use), `ChecksumFramer` and
/// `ChecksumDeframer` with one.
trait Wired: Checksum + Copy + 'static {
    type Framer: Framer;
    type Deframer: Deframer;
    fn framer(self) -> Self::Framer;
    fn deframer(self) -> Self::Deframer;
}

impl Wired for NoChecksum {
    type Framer = DefaultFramer;
    type Deframer = DefaultDeframer;
    fn framer(self) -> DefaultFramer {
        DefaultFramer
    }
    fn deframer(self) -> DefaultDeframer {
        DefaultDeframer::new()
    }
}

macro_rules! checked {
    ($($checksum:ty),*) => {$(
        impl Wired for $checksum {
            type Framer = ChecksumFramer<$checksum>;
            type Deframer = ChecksumDeframer<$checksum>;
            fn framer(self) -> Self::Framer {
                ChecksumFramer::new(self)
            }
            fn deframer(self) -> Self::Deframer {
                ChecksumDeframer::new(self)
            }
        }
    )*};
}

checked!(Crc32, Crc32c, Xxh3);

/// The minimal read loop: `read_exact` of the header into a fixed array, `read_exact` of the
/// payload into one reused `Vec`, the checksum compared. No error location, no limit on the
/// length, no memory policy: the floor the everyday reader is held to.
///
/// Each call reads one stream from its start, as the reader it is held to does: the `Vec`
/// is made per call (as flatstream-rs 0.2.7's reader makes `Vec::new()` per reader) and
/// reused for every frame of the stream, and the reader allocates its buffer per stream.
fn loop_read<const HEADER: usize, C: Checksum, R: Read>(checksum: &C, mut source: R) -> usize {
    let mut payload = Vec::new();
    let payload = &mut payload;
    let mut total = 0usize;
    let mut header = [0u8; HEADER];
    loop {
        if let Err(error) = source.read_exact(&mut header) {
            assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
            break;
        }
        let payload_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        payload.resize(payload_len as usize, 0);
        source.read_exact(payload).unwrap();
        let mut stored = [0u8; 8];
        stored[..HEADER - 4].copy_from_slice(&header[4..]);
        assert!(
            checksum.calculate(payload) == u64::from_le_bytes(stored),
            "checksum mismatch"
        );
        total += black_box(&payload[..]).len();
    }
    total
}

/// The minimal *buffered* read loop: the source read in pieces into one buffer of
/// `flatstream_io::DEFAULT_BUFFER_SIZE` bytes, every frame lying whole there parsed where it
/// lies (the length read, the checksum compared), the torn tail moved to the front before the
/// next read. The floor of any reader that reads a `Read` source in large pieces, as a file
/// wants: the job of `StreamReader::new`, without its limits, errors, counts or policy. Only
/// for streams whose frames fit the buffer.
fn loop_read_buffered<const HEADER: usize, C: Checksum, R: Read>(
    checksum: &C,
    mut source: R,
) -> usize {
    // Per call, as the reader's.
    let mut buffer = vec![0u8; flatstream::DEFAULT_BUFFER_SIZE];
    let mut total = 0usize;
    let (mut start, mut end) = (0usize, 0usize);
    loop {
        loop {
            let held = &buffer[start..end];
            if held.len() < HEADER {
                break;
            }
            let payload_len = u32::from_le_bytes([held[0], held[1], held[2], held[3]]) as usize;
            if held.len() - HEADER < payload_len {
                break;
            }
            let payload = &held[HEADER..HEADER + payload_len];
            let mut stored = [0u8; 8];
            stored[..HEADER - 4].copy_from_slice(&held[4..HEADER]);
            assert!(
                checksum.calculate(payload) == u64::from_le_bytes(stored),
                "checksum mismatch"
            );
            total += black_box(payload).len();
            start += HEADER + payload_len;
        }
        buffer.copy_within(start..end, 0);
        end -= start;
        start = 0;
        let read = source.read(&mut buffer[end..]).unwrap();
        if read == 0 {
            assert_eq!(end, 0, "the stream ends in a torn frame");
            break;
        }
        end += read;
    }
    total
}

/// The minimal write loop: for each payload, `builder.reset()`, serialize, `finish`, and two
/// `write_all`s (header, then data) into `output`, cleared first. Returns the bytes written.
fn loop_write<const HEADER: usize, C: Checksum>(
    checksum: &C,
    builder: &mut FlatBufferBuilder<'static>,
    payloads: &[&[u8]],
    output: &RefCell<Vec<u8>>,
) -> usize {
    let mut out = output.borrow_mut();
    out.clear();
    for payload in payloads {
        loop_write_step::<HEADER, C>(checksum, builder, payload, &mut out);
    }
    black_box(&*out).len()
}

/// The minimal write loop's work for one payload: inlined into `loop_write`'s loop always,
/// and into `loop_write_one`, which is never inlined.
#[allow(clippy::inline_always)]
#[inline(always)]
fn loop_write_step<const HEADER: usize, C: Checksum>(
    checksum: &C,
    builder: &mut FlatBufferBuilder<'static>,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    builder.reset();
    Blob(payload).serialize(builder).unwrap();
    let data = builder.finished_data();
    out.write_all(&loop_header::<HEADER, C>(checksum, data))
        .unwrap();
    out.write_all(data).unwrap();
}

/// One message of `loop_write_called`: `loop_write`'s work for one payload, in a function
/// that is never inlined, as the function a program writes each message from often is not.
#[inline(never)]
fn loop_write_one<const HEADER: usize, C: Checksum>(
    checksum: &C,
    builder: &mut FlatBufferBuilder<'static>,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    loop_write_step::<HEADER, C>(checksum, builder, payload, out);
}

/// One message of `stream_write_called`: `StreamWriter::write` in a function that is never
/// inlined (whether `write` is inlined into it is the compiler's choice, as in a program).
#[inline(never)]
fn stream_write_one<F: Framer>(writer: &mut StreamWriter<Vec<u8>, F>, payload: &[u8]) {
    writer.write(&Blob(payload)).unwrap();
}

/// The header of the minimal write loop.
fn loop_header<const HEADER: usize, C: Checksum>(checksum: &C, payload: &[u8]) -> [u8; HEADER] {
    let mut header = [0u8; HEADER];
    header[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[4..].copy_from_slice(&checksum.calculate(payload).to_le_bytes()[..HEADER - 4]);
    header
}

/// Runs every cell for one checksum whose header is `HEADER` bytes wide.
fn cells<const HEADER: usize, C: Wired>(
    runner: &mut Runner<'_>,
    checksum: C,
    suffix: &str,
    size: usize,
    source: &[u8],
) {
    assert_eq!(HEADER, 4 + checksum.size());
    let id = format!("{}/{size}", checksum.name());
    // Held while the cell's bodies are made and run: the writers, builders and buffers
    // allocated from here on lie elsewhere for each placement seed.
    let _placement = heap_placement(&format!("{id}{suffix}"));
    let payloads: Vec<&[u8]> = source.chunks_exact(size).collect();
    let mut stream = Vec::with_capacity(payloads.len() * (HEADER + size));
    for payload in &payloads {
        stream.extend_from_slice(&loop_header::<HEADER, C>(&checksum, payload));
        stream.extend_from_slice(payload);
    }
    runner.run(
        suffix,
        &id,
        &mut read_bodies::<HEADER, C>(checksum, size, &stream),
    );
    // The same stream from a file (in the page cache): the everyday reader as users call it
    // on a capture, beside the minimal loop over a `BufReader<File>`.
    let path = std::env::temp_dir().join(format!(
        "flatstream-everyday-{}-{}-{size}{suffix}.fs",
        std::process::id(),
        checksum.name()
    ));
    std::fs::write(&path, &stream).expect("cannot write the bench's stream file");
    runner.run(
        suffix,
        &id,
        &mut file_bodies::<HEADER, C>(checksum, size, stream.len(), &path),
    );
    let _ = std::fs::remove_file(&path);
    drop(stream);
    runner.run(
        suffix,
        &id,
        &mut write_bodies::<HEADER, C>(checksum, size, &payloads),
    );
    runner.run(
        suffix,
        &id,
        &mut called_write_bodies::<HEADER, C>(checksum, &payloads),
    );
    runner.run(
        suffix,
        &id,
        &mut file_write_bodies::<HEADER, C>(checksum, size, &payloads),
    );
}

/// Every payload of `reader` by `read_message`: their lengths, summed through `black_box`.
/// Inlined always, as the bodies' own code was before it was shared.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn each_message<R, D: Deframer, M: ReadMode<R>>(
    mut reader: StreamReader<R, D, M>,
) -> usize {
    let mut total = 0usize;
    while let Some(payload) = reader.read_message().unwrap() {
        total += black_box(payload).len();
    }
    total
}

/// The same through `process_all`.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn every_message<R, D: Deframer, M: ReadMode<R>>(
    mut reader: StreamReader<R, D, M>,
) -> usize {
    let mut total = 0usize;
    reader
        .process_all(|payload| {
            total += black_box(payload).len();
            Ok(())
        })
        .unwrap();
    total
}

/// The reading operations of one checksum and size, over `stream`.
fn read_bodies<const HEADER: usize, C: Wired>(
    checksum: C,
    size: usize,
    stream: &[u8],
) -> Vec<Body<'_>> {
    let count = stream.len() / (HEADER + size);
    let bytes = stream.len();
    vec![
        Body::new("loop_read", count, bytes, move || {
            loop_read::<HEADER, C, _>(&checksum, Cursor::new(black_box(stream)))
        }),
        Body::new("loop_read_buffered", count, bytes, move || {
            loop_read_buffered::<HEADER, C, _>(&checksum, Cursor::new(black_box(stream)))
        }),
        Body::new("stream_read_message", count, bytes, move || {
            let cursor = Cursor::new(black_box(stream));
            each_message(StreamReader::new(cursor, checksum.deframer()))
        }),
        Body::new("stream_process_all", count, bytes, move || {
            let cursor = Cursor::new(black_box(stream));
            every_message(StreamReader::new(cursor, checksum.deframer()))
        }),
        Body::new("stream_messages", count, bytes, move || {
            let cursor = Cursor::new(black_box(stream));
            let mut reader = StreamReader::new(cursor, checksum.deframer());
            let mut messages = reader.messages();
            let mut total = 0usize;
            while let Some(payload) = messages.next() {
                total += black_box(payload.unwrap()).len();
            }
            total
        }),
        // `new` reads a cursor over bytes in memory where they lie; these read it through
        // the buffer, as `new` reads a file or socket (the buffered loop's table).
        Body::new("stream_buffered_read_message", count, bytes, move || {
            let cursor = Cursor::new(black_box(stream));
            each_message(StreamReader::with_buffer_size(
                cursor,
                checksum.deframer(),
                flatstream::DEFAULT_BUFFER_SIZE,
            ))
        }),
        Body::new("stream_buffered_process_all", count, bytes, move || {
            let cursor = Cursor::new(black_box(stream));
            every_message(StreamReader::with_buffer_size(
                cursor,
                checksum.deframer(),
                flatstream::DEFAULT_BUFFER_SIZE,
            ))
        }),
        // The `BufRead` fast path: frames parsed where they lie in the cursor's buffer.
        Body::new("stream_in_place_read_message", count, bytes, move || {
            let cursor = Cursor::new(black_box(stream));
            each_message(StreamReader::in_place(cursor, checksum.deframer()))
        }),
        Body::new("stream_in_place_process_all", count, bytes, move || {
            let cursor = Cursor::new(black_box(stream));
            every_message(StreamReader::in_place(cursor, checksum.deframer()))
        }),
        // The control: the same loop function called again from a body of its own, last in
        // the round. How far it lands from `loop_read` is how far the method's own noise
        // moves a cell (the order in the round, the body's code and data around the call).
        Body::new("loop_read_again", count, bytes, move || {
            loop_read::<HEADER, C, _>(&checksum, Cursor::new(black_box(stream)))
        }),
    ]
}

/// Reading `path`: the minimal loop over a `BufReader<File>` (std's 8 KiB buffer), and
/// `StreamReader::new` over the `File` itself (its own 64 KiB buffer).
fn file_bodies<const HEADER: usize, C: Wired>(
    checksum: C,
    size: usize,
    stream_len: usize,
    path: &std::path::Path,
) -> Vec<Body<'_>> {
    let count = stream_len / (HEADER + size);
    let open = move || std::fs::File::open(path).expect("cannot open the bench's stream file");
    vec![
        Body::new("loop_read_file", count, stream_len, move || {
            loop_read::<HEADER, C, _>(&checksum, std::io::BufReader::new(open()))
        }),
        Body::new("stream_file_read_message", count, stream_len, move || {
            each_message(StreamReader::new(open(), checksum.deframer()))
        }),
    ]
}

/// Writing to a file as users do, through a `BufWriter` of [`FILE_WRITE_BUFFER`] bytes made
/// per call (a writer per capture), flushed at the end: the minimal loop's two `write_all`s
/// into it, and `StreamWriter::write_payload` into it. The file is `/dev/null`, opened once,
/// so that the pass measures the path to the file and not the disk.
fn file_write_bodies<'a, const HEADER: usize, C: Wired>(
    checksum: C,
    size: usize,
    payloads: &'a [&'a [u8]],
) -> Vec<Body<'a>> {
    let count = payloads.len();
    let written_len = count * (HEADER + size);
    let null = Rc::new(std::fs::File::create("/dev/null").expect("cannot open /dev/null"));
    let loop_null = Rc::clone(&null);
    vec![
        Body::new("loop_write_file", count, written_len, move || {
            let mut out = std::io::BufWriter::with_capacity(FILE_WRITE_BUFFER, &*loop_null);
            for payload in payloads {
                out.write_all(&loop_header::<HEADER, C>(&checksum, payload))
                    .unwrap();
                out.write_all(payload).unwrap();
            }
            out.flush().unwrap();
            count
        }),
        Body::new("stream_file_write_payload", count, written_len, move || {
            let mut writer = StreamWriter::buffered(&*null, checksum.framer(), FILE_WRITE_BUFFER);
            for payload in payloads {
                writer.write_payload(payload).unwrap();
            }
            writer.flush().unwrap();
            black_box(writer.frames_written()) as usize
        }),
    ]
}

/// The `BufWriter` size of [`file_write_bodies`].
const FILE_WRITE_BUFFER: usize = 64 << 10;

/// A writer's pass over the shared output buffer, lent to it for the pass.
fn lent<F: flatstream::Framer>(
    output: &RefCell<Vec<u8>>,
    writer: &mut StreamWriter<Vec<u8>, F>,
    pass: impl FnOnce(&mut StreamWriter<Vec<u8>, F>),
) -> usize {
    let mut buffer = output.borrow_mut();
    std::mem::swap(writer.get_mut(), &mut buffer);
    writer.get_mut().clear();
    pass(writer);
    let len = black_box(writer.get_ref()).len();
    std::mem::swap(writer.get_mut(), &mut buffer);
    len
}

/// The body `name`: `writer.write` of every payload, into `output` lent to the writer.
fn written<'a, F: flatstream::Framer + 'a>(
    name: &'static str,
    mut writer: StreamWriter<Vec<u8>, F>,
    output: Rc<RefCell<Vec<u8>>>,
    payloads: &'a [&'a [u8]],
    written_len: usize,
) -> Body<'a> {
    Body::new(name, payloads.len(), written_len, move || {
        lent(&output, &mut writer, |writer| {
            for payload in payloads {
                writer.write(&Blob(payload)).unwrap();
            }
        })
    })
}

/// The writing operations of one checksum and size. All write into one output buffer, lent
/// to each in turn, so that no operation gains or loses by the pages it writes (measured:
/// with a buffer each, the same code differed by up to 30% on the 64 MiB stream).
///
/// The builders are placed alike too. Where a builder's finished data lies in its page
/// decides how fast the same code copies through it: the minimal loop at 1 KiB ran at 25.7 M
/// msg/s with its data at byte 3160 of a page and 32.5 M msg/s at byte 504, each of twelve
/// builders per offset within 2% (`docs/benchmarks.md`). So `loop_write`'s builder is put
/// at the page offset where `stream_write`'s own builder holds its data, and
/// `loop_write_same` and `stream_write_finished` read one and the same builder.
fn write_bodies<'a, const HEADER: usize, C: Wired>(
    checksum: C,
    size: usize,
    payloads: &'a [&'a [u8]],
) -> Vec<Body<'a>> {
    let count = payloads.len();
    let writer = || StreamWriter::new(Vec::new(), checksum.framer());
    let (mut simple, mut expert, mut raw) = (writer(), writer(), writer());
    // `simple`'s two builders, each twice: after its first message the writer may move a
    // builder (so that small messages do not straddle a page). The probe notes where the
    // second holds its data; the loop's builders are placed alike (same byte of the page).
    let probe = Probe::new(payloads[0]);
    for _ in 0..4 {
        simple.write(&probe).unwrap();
    }
    let mut builder = builder_placed_at(&probe);
    let mut again_builder = builder_placed_at(&probe);
    // One builder supplied with `with_builder`, placed alike, reset before each message.
    let single =
        StreamWriter::with_builder(Vec::new(), checksum.framer(), builder_placed_at(&probe));
    let written_len = count * (HEADER + builder.finished_data().len());
    // Ready payloads: the loop without the builder, against `write_payload`; and one
    // finished builder written `count` times (`write_finished`), against the same loop
    // writing that one payload `count` times (its bytes stay in cache, unlike `count`
    // distinct payloads), out of the same builder.
    let payload_written_len = count * (HEADER + size);
    let mut finished = FlatBufferBuilder::new();
    Blob(&payloads[0][..size - 8])
        .serialize(&mut finished)
        .unwrap();
    assert_eq!(finished.finished_data().len(), size);
    let finished = Rc::new(RefCell::new(finished));
    let finished_loop = Rc::clone(&finished);
    let output = Rc::new(RefCell::new(Vec::<u8>::with_capacity(
        written_len.max(payload_written_len),
    )));
    let [loop_out, simple_out, single_out, payload_out] = [0; 4].map(|_| Rc::clone(&output));
    let [raw_out, finished_out, again_out] = [0; 3].map(|_| Rc::clone(&output));
    let finished_out_loop = Rc::clone(&output);
    vec![
        Body::new("loop_write", count, written_len, move || {
            loop_write::<HEADER, C>(&checksum, &mut builder, payloads, &loop_out)
        }),
        written("stream_write", simple, simple_out, payloads, written_len),
        written(
            "stream_write_supplied",
            single,
            single_out,
            payloads,
            written_len,
        ),
        Body::new(
            "loop_write_payload",
            count,
            payload_written_len,
            move || {
                let mut out = payload_out.borrow_mut();
                out.clear();
                for payload in payloads {
                    out.write_all(&loop_header::<HEADER, C>(&checksum, payload))
                        .unwrap();
                    out.write_all(payload).unwrap();
                }
                black_box(&*out).len()
            },
        ),
        Body::new(
            "stream_write_payload",
            count,
            payload_written_len,
            move || {
                lent(&raw_out, &mut raw, |raw| {
                    for payload in payloads {
                        raw.write_payload(payload).unwrap();
                    }
                })
            },
        ),
        Body::new("loop_write_same", count, payload_written_len, move || {
            let same = finished_loop.borrow();
            let mut out = finished_out_loop.borrow_mut();
            out.clear();
            for _ in 0..count {
                let data = black_box(&*same).finished_data();
                out.write_all(&loop_header::<HEADER, C>(&checksum, data))
                    .unwrap();
                out.write_all(data).unwrap();
            }
            black_box(&*out).len()
        }),
        Body::new(
            "stream_write_finished",
            count,
            payload_written_len,
            move || {
                let mut finished = finished.borrow_mut();
                lent(&finished_out, &mut expert, |expert| {
                    for _ in 0..count {
                        expert.write_finished(&mut finished).unwrap();
                    }
                })
            },
        ),
        // The control, as `loop_read_again`: `loop_write` again, its builder placed alike.
        Body::new("loop_write_again", count, written_len, move || {
            loop_write::<HEADER, C>(&checksum, &mut again_builder, payloads, &again_out)
        }),
    ]
}

/// `loop_write` and `StreamWriter::write` with each message written from a function of its
/// own that is never inlined (`loop_write_called`, `stream_write_called`), into one output
/// buffer, the loop's builder placed as `write_bodies` places `loop_write`'s; and `write` so
/// into two builders supplied with `with_builders` (`stream_write_called_supplied`), each
/// placed as the loop's.
fn called_write_bodies<'a, const HEADER: usize, C: Wired>(
    checksum: C,
    payloads: &'a [&'a [u8]],
) -> Vec<Body<'a>> {
    let count = payloads.len();
    let mut writer = StreamWriter::new(Vec::new(), checksum.framer());
    // Each of its two builders twice, so that both are where they stay.
    let probe = Probe::new(payloads[0]);
    for _ in 0..4 {
        writer.write(&probe).unwrap();
    }
    let mut builder = builder_placed_at(&probe);
    let supplied = StreamWriter::with_builders(
        Vec::new(),
        checksum.framer(),
        builder_placed_at(&probe),
        builder_placed_at(&probe),
    );
    let written_len = count * (HEADER + builder.finished_data().len());
    let output = Rc::new(RefCell::new(Vec::<u8>::with_capacity(written_len)));
    // `write` of each payload from `stream_write_one`, into the shared output.
    let called = |name, mut writer: StreamWriter<Vec<u8>, C::Framer>| {
        let out = Rc::clone(&output);
        Body::new(name, count, written_len, move || {
            lent(&out, &mut writer, |writer| {
                for payload in payloads {
                    stream_write_one(writer, payload);
                }
            })
        })
    };
    let (writer_body, supplied_body) = (
        called("stream_write_called", writer),
        called("stream_write_called_supplied", supplied),
    );
    vec![
        Body::new("loop_write_called", count, written_len, move || {
            let mut out = output.borrow_mut();
            out.clear();
            for payload in payloads {
                loop_write_one::<HEADER, C>(&checksum, &mut builder, payload, &mut out);
            }
            black_box(&*out).len()
        }),
        writer_body,
        supplied_body,
    ]
}

/// A `Blob` that notes where the builder it is serialized in put its finished data, and how
/// long that data is.
struct Probe<'a> {
    payload: &'a [u8],
    data: std::cell::Cell<(usize, usize)>,
}

impl<'a> Probe<'a> {
    fn new(payload: &'a [u8]) -> Self {
        Probe {
            payload,
            data: std::cell::Cell::new((0, 0)),
        }
    }
}

impl StreamSerialize for Probe<'_> {
    fn serialize<'fbb, A: flatbuffers::Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> flatstream::Result<()> {
        Blob(self.payload).serialize(builder)?;
        let data = builder.finished_data();
        self.data.set((data.as_ptr().addr(), data.len()));
        Ok(())
    }
}

/// The page size the placement of [`write_bodies`] works in.
const PAGE: usize = 4096;

/// A builder that holds the probe's payload serialized with its finished data at the byte
/// of its page where the probe's last builder put it, and room to build any payload of that
/// length again in place.
fn builder_placed_at(probe: &Probe<'_>) -> FlatBufferBuilder<'static> {
    let (data_at, data_len) = probe.data.get();
    let page_offset = data_at % PAGE;
    // The builder builds back to front from the end of its buffer: the data begins
    // `data_len` bytes before the end, so the end is chosen within one page of room.
    let room = 2 * data_len + 64;
    let mut buffer = vec![0u8; room + PAGE];
    let start = buffer.as_ptr().addr() + room - data_len;
    buffer.truncate(room + (page_offset + PAGE - start % PAGE) % PAGE);
    let mut builder = FlatBufferBuilder::from_vec(buffer);
    Blob(probe.payload).serialize(&mut builder).unwrap();
    assert_eq!(builder.finished_data().as_ptr().addr() % PAGE, page_offset);
    builder
}

/// Every cell, for both streams, each size and each checksum.
fn all_cells(runner: &mut Runner<'_>) {
    for (payload_bytes, suffix) in STREAMS {
        // Distinct bytes for every payload of the stream, generated once per stream size.
        let source = pseudo_random_bytes(payload_bytes, 0x9e37_79b9_7f4a_7c15);
        for size in SIZES {
            cells::<4, _>(runner, NoChecksum, suffix, size, &source);
            cells::<8, _>(runner, Crc32::new(), suffix, size, &source);
            cells::<8, _>(runner, Crc32c::new(), suffix, size, &source);
            cells::<12, _>(runner, Xxh3::new(), suffix, size, &source);
        }
    }
}

/// The criterion group: each operation of a cell right after the others.
pub(crate) fn everyday(criterion: &mut Criterion) {
    // Paired mode measures these cells itself (see `main`).
    if std::env::var_os(PAIRED_ENV).is_none() {
        all_cells(&mut Runner::Criterion(criterion));
    }
}

/// Set to a file path, the bench binary measures the everyday cells paired (see
/// [`Runner::Paired`]) instead of running criterion, and writes one JSON object per line:
/// `id` (`group/checksum/size`), `messages`, `bytes` and the fastest `seconds` per call.
pub(crate) const PAIRED_ENV: &str = "FLATSTREAM_BENCH_PAIRED";

/// Set beside [`PAIRED_ENV`] to a number, the seed of [`heap_placement`]; unset or 0, the
/// heap is left as it lies (the placement of every run before session 13).
pub(crate) const PLACEMENT_ENV: &str = "FLATSTREAM_BENCH_PLACEMENT";

/// Allocations of sizes drawn from the seed in [`PLACEMENT_ENV`] and `cell`, to be held
/// while a cell's bodies are made and run, so that what they allocate (a writer inside its
/// boxed closure, its builder's buffer, a reader's buffer) lies at other byte offsets of its
/// pages for other seeds.
///
/// Without it every run of a cell allocates at the same offsets (the allocator's choices
/// depend on the sequence of requests alone, and address randomisation moves whole pages),
/// so the median over runs was the median over code layouts of one placement. Allocations
/// the allocator maps whole pages for (the 64 MiB streams and outputs) are not moved.
/// Measured on the CI class (session 13): with `StreamWriter`'s builder moved onto cache
/// lines of its own, `write` at 64 B went from 0.91x to 0.95 to 1.02x the loop with one
/// placement, and to 0.93 to 1.00x against 0.92 to 0.98x with placements varied: most of
/// that gain was where this one placement put the fields.
fn heap_placement(cell: &str) -> Vec<Vec<u8>> {
    let seed: u64 = std::env::var(PLACEMENT_ENV)
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0);
    if seed == 0 {
        return Vec::new();
    }
    // FNV-1a over the cell's id from the seed, made odd: xorshift needs a non-zero seed.
    let cell_seed = cell
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64 ^ seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
        | 1;
    // Sizes of 16 B to 4 KiB in steps of 16, in the size classes small allocations share:
    // one drawn byte each.
    pseudo_random_bytes(8, cell_seed)
        .into_iter()
        .map(|byte| vec![0u8; 16 * (1 + usize::from(byte))])
        .collect()
}

/// Set beside [`PAIRED_ENV`], only the cells with an operation whose id contains it are
/// measured (`cargo xtask bench --paired stream_write_64m/xxh3` passes its filter here).
pub(crate) const PAIRED_FILTER_ENV: &str = "FLATSTREAM_BENCH_FILTER";

/// Paired mode: every everyday cell (or those [`PAIRED_FILTER_ENV`] selects), written to
/// the file `PAIRED_ENV` names.
pub(crate) fn paired_to_file(path: &std::path::Path) {
    let mut records = Vec::new();
    let filter = std::env::var(PAIRED_FILTER_ENV).ok();
    all_cells(&mut Runner::Paired {
        records: &mut records,
        filter,
    });
    std::fs::write(path, records.join("\n") + "\n").expect("cannot write the paired results");
}
