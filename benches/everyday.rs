//! The everyday path (`StreamReader` over a `Cursor`, `StreamWriter` into a reused `Vec`)
//! beside minimal hand-written loops over the same bytes, measured one after the other for
//! each checksum and size, over a cache-resident stream (about 1 MiB of payload) and over one
//! larger than the last-level cache (64 MiB).
//!
//! Ids: `loop_read`, `loop_write` and `loop_write_payload` are the loops; `stream_*` are
//! flatstream's operations; a `_64m` suffix marks the 64 MiB stream. `cargo xtask bench`
//! divides each `stream_*` cell by its loop (see `xtask/src/bench.rs`).

use std::hint::black_box;
use std::io::{Cursor, Read, Write};

use criterion::Criterion;
use flatbuffers::FlatBufferBuilder;
use flatstream::{
    Checksum, ChecksumDeframer, ChecksumFramer, Crc32, Crc32c, NoChecksum, StreamReader,
    StreamSerialize, StreamWriter, Xxh3,
};

use crate::{Blob, configure, throughput};

/// Benchmarks a body as `(group, messages, bytes, body)`, the group suffixed by the stream.
type Bench<'a> = dyn FnMut(&str, usize, usize, &mut dyn FnMut() -> usize) + 'a;

const SIZES: [usize; 3] = [64, 1024, 64 * 1024];

/// Payload bytes of the cache-resident and the large stream.
const STREAMS: [(usize, &str); 2] = [(1 << 20, ""), (64 << 20, "_64m")];

/// The minimal read loop: `read_exact` of the header into a fixed array, `read_exact` of the
/// payload into one reused `Vec`, the checksum compared. No error location, no limit on the
/// length, no memory policy: the floor the everyday reader is held to.
fn loop_read<const HEADER: usize, C: Checksum>(
    checksum: &C,
    mut source: Cursor<&[u8]>,
    payload: &mut Vec<u8>,
) -> usize {
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

/// The header of the minimal write loop.
fn loop_header<const HEADER: usize, C: Checksum>(checksum: &C, payload: &[u8]) -> [u8; HEADER] {
    let mut header = [0u8; HEADER];
    header[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[4..].copy_from_slice(&checksum.calculate(payload).to_le_bytes()[..HEADER - 4]);
    header
}

/// Runs every cell for one checksum whose header is `HEADER` bytes wide.
fn cells<const HEADER: usize, C: Checksum + Copy>(
    criterion: &mut Criterion,
    checksum: C,
    payload_bytes: usize,
    suffix: &str,
    size: usize,
    source: &[u8],
) {
    assert_eq!(HEADER, 4 + checksum.size());
    let name = checksum.name();
    let payloads: Vec<&[u8]> = source.chunks_exact(size).collect();
    let count = payloads.len();
    debug_assert_eq!(count * size, payload_bytes);
    let mut stream = Vec::with_capacity(count * (HEADER + size));
    for payload in &payloads {
        stream.extend_from_slice(&loop_header::<HEADER, C>(&checksum, payload));
        stream.extend_from_slice(payload);
    }
    let id = format!("{name}/{size}");
    let mut bench =
        |group: &str, elements: usize, bytes: usize, body: &mut dyn FnMut() -> usize| {
            let mut group = configure(criterion, &format!("{group}{suffix}"));
            group.throughput(throughput(elements, bytes));
            group.bench_function(&id, |b| b.iter(&mut *body));
            group.finish();
        };
    read_cells::<HEADER, C>(&mut bench, checksum, size, &stream);
    drop(stream);
    write_cells::<HEADER, C>(&mut bench, checksum, size, &payloads);
}

/// The reading cells of one checksum and size, over `stream`.
fn read_cells<const HEADER: usize, C: Checksum + Copy>(
    bench: &mut Bench<'_>,
    checksum: C,
    size: usize,
    stream: &[u8],
) {
    let count = stream.len() / (HEADER + size);
    let mut payload = Vec::with_capacity(size);
    bench("loop_read", count, stream.len(), &mut || {
        loop_read::<HEADER, C>(&checksum, Cursor::new(black_box(stream)), &mut payload)
    });
    bench("stream_read_message", count, stream.len(), &mut || {
        let cursor = Cursor::new(black_box(stream));
        let mut reader = StreamReader::new(cursor, ChecksumDeframer::new(checksum));
        let mut total = 0usize;
        while let Some(payload) = reader.read_message().unwrap() {
            total += black_box(payload).len();
        }
        total
    });
    bench("stream_process_all", count, stream.len(), &mut || {
        let cursor = Cursor::new(black_box(stream));
        let mut reader = StreamReader::new(cursor, ChecksumDeframer::new(checksum));
        let mut total = 0usize;
        reader
            .process_all(|payload| {
                total += black_box(payload).len();
                Ok(())
            })
            .unwrap();
        total
    });
    bench("stream_messages", count, stream.len(), &mut || {
        let cursor = Cursor::new(black_box(stream));
        let mut reader = StreamReader::new(cursor, ChecksumDeframer::new(checksum));
        let mut messages = reader.messages();
        let mut total = 0usize;
        while let Some(payload) = messages.next() {
            total += black_box(payload.unwrap()).len();
        }
        total
    });
    // The `BufRead` fast path: frames parsed where they lie in the cursor's buffer.
    bench(
        "stream_in_place_read_message",
        count,
        stream.len(),
        &mut || {
            let cursor = Cursor::new(black_box(stream));
            let mut reader = StreamReader::in_place(cursor, ChecksumDeframer::new(checksum));
            let mut total = 0usize;
            while let Some(payload) = reader.read_message().unwrap() {
                total += black_box(payload).len();
            }
            total
        },
    );
    bench(
        "stream_in_place_process_all",
        count,
        stream.len(),
        &mut || {
            let cursor = Cursor::new(black_box(stream));
            let mut reader = StreamReader::in_place(cursor, ChecksumDeframer::new(checksum));
            let mut total = 0usize;
            reader
                .process_all(|payload| {
                    total += black_box(payload).len();
                    Ok(())
                })
                .unwrap();
            total
        },
    );
}

/// The writing cells of one checksum and size.
fn write_cells<const HEADER: usize, C: Checksum + Copy>(
    bench: &mut Bench<'_>,
    checksum: C,
    size: usize,
    payloads: &[&[u8]],
) {
    let count = payloads.len();
    // Writing: serialized in a builder, as `StreamWriter::write` does.
    let mut builder = FlatBufferBuilder::new();
    Blob(payloads[0]).serialize(&mut builder).unwrap();
    let written_len = count * (HEADER + builder.finished_data().len());
    let mut out: Vec<u8> = Vec::with_capacity(written_len);
    bench("loop_write", count, written_len, &mut || {
        out.clear();
        for payload in payloads {
            builder.reset();
            Blob(payload).serialize(&mut builder).unwrap();
            let data = builder.finished_data();
            out.write_all(&loop_header::<HEADER, C>(&checksum, data))
                .unwrap();
            out.write_all(data).unwrap();
        }
        black_box(&out).len()
    });
    let mut writer = StreamWriter::new(
        Vec::with_capacity(written_len),
        ChecksumFramer::new(checksum),
    );
    bench("stream_write", count, written_len, &mut || {
        writer.get_mut().clear();
        for payload in payloads {
            writer.write(&Blob(payload)).unwrap();
        }
        black_box(writer.get_ref()).len()
    });

    // Writing ready payloads: the loop without the builder, against `write_payload` and
    // `write_finished` (one finished builder written `count` times, the framing cost does
    // not depend on the bytes).
    let payload_written_len = count * (HEADER + size);
    bench(
        "loop_write_payload",
        count,
        payload_written_len,
        &mut || {
            out.clear();
            for payload in payloads {
                out.write_all(&loop_header::<HEADER, C>(&checksum, payload))
                    .unwrap();
                out.write_all(payload).unwrap();
            }
            black_box(&out).len()
        },
    );
    bench(
        "stream_write_payload",
        count,
        payload_written_len,
        &mut || {
            writer.get_mut().clear();
            for payload in payloads {
                writer.write_payload(payload).unwrap();
            }
            black_box(writer.get_ref()).len()
        },
    );
    builder.reset();
    Blob(&payloads[0][..size - 8])
        .serialize(&mut builder)
        .unwrap();
    assert_eq!(builder.finished_data().len(), size);
    bench(
        "stream_write_finished",
        count,
        payload_written_len,
        &mut || {
            writer.get_mut().clear();
            for _ in 0..count {
                writer.write_finished(&mut builder).unwrap();
            }
            black_box(writer.get_ref()).len()
        },
    );
}

pub(crate) fn everyday(criterion: &mut Criterion) {
    for (payload_bytes, suffix) in STREAMS {
        // Distinct bytes for every payload of the stream, generated once per stream size.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let source: Vec<u8> = (0..payload_bytes)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for size in SIZES {
            cells::<4, _>(criterion, NoChecksum, payload_bytes, suffix, size, &source);
            cells::<8, _>(
                criterion,
                Crc32::new(),
                payload_bytes,
                suffix,
                size,
                &source,
            );
            cells::<8, _>(
                criterion,
                Crc32c::new(),
                payload_bytes,
                suffix,
                size,
                &source,
            );
            cells::<12, _>(criterion, Xxh3::new(), payload_bytes, suffix, size, &source);
        }
    }
}
