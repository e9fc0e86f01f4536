//! flatstream's benchmark suite: every operation beside baselines measured in the same run.
//!
//! Benchmark ids are `<group>/<function>/<payload size>`; `cargo xtask bench` reads
//! criterion's estimates and writes `target/bench-report.md` with ratios to the baselines.
//! Each iteration processes a stream of about 1 MiB of payload (fits in L2), so `msg/s` and
//! `GB/s` come from `Throughput::ElementsAndBytes`. Set `FLATSTREAM_BENCH_QUICK=1` for short
//! measurements (the xtask's `--quick`).

#![allow(missing_docs, clippy::cast_possible_truncation)]

use std::hint::black_box;
use std::io::Read;
use std::time::Duration;

use bytes::BytesMut;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group};
use flatbuffers::FlatBufferBuilder;
use flatstream::{
    Checksum, ChecksumDeframer, ChecksumFramer, CompositeValidator, Crc16, Crc32, Crc32c, Crc64,
    Deframer, DeframerExt, FlatstreamCodec, MmapReader, NoChecksum, NoValidator, SizeValidator,
    SliceReader, StreamReader, StreamSerialize, StreamWriter, StructuralValidator, TypedValidator,
    Validator, Xxh3,
};
use flatstream_telemetry_schema::{Event, TelemetryEvent};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

mod blob;
use blob::Blob;
mod everyday;

const SIZES: [usize; 7] = [16, 64, 256, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
const STREAM_PAYLOAD_BYTES: usize = 1 << 20;

/// Runs `$body` with `$checksum` bound to each algorithm, as a concrete type.
macro_rules! for_each_checksum {
    (|$checksum:ident| $body:block) => {{
        {
            let $checksum = NoChecksum;
            $body
        }
        {
            let $checksum = Crc16::new();
            $body
        }
        {
            let $checksum = Crc32::new();
            $body
        }
        {
            let $checksum = Crc32c::new();
            $body
        }
        {
            let $checksum = Crc64::new();
            $body
        }
        {
            let $checksum = Xxh3::new();
            $body
        }
    }};
}

/// The payloads of one benchmark stream: `count` distinct payloads of `size` bytes.
fn payloads(size: usize) -> Vec<Vec<u8>> {
    let count = (STREAM_PAYLOAD_BYTES / size).max(1);
    (0..count)
        .map(|index| {
            (0..size)
                .map(|i| (i as u8).wrapping_mul(31) ^ (index as u8))
                .collect()
        })
        .collect()
}

fn stream_of<C: Checksum>(checksum: C, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum));
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    writer.into_inner()
}

fn throughput(messages: usize, bytes: usize) -> Throughput {
    Throughput::ElementsAndBytes {
        elements: messages as u64,
        bytes: bytes as u64,
    }
}

fn configure<'a>(criterion: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = criterion.benchmark_group(name);
    if std::env::var_os("FLATSTREAM_BENCH_QUICK").is_some() {
        group
            .warm_up_time(Duration::from_millis(150))
            .measurement_time(Duration::from_millis(400))
            .sample_size(10);
    } else {
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30);
    }
    group
}

fn baselines(criterion: &mut Criterion) {
    let mut group = configure(criterion, "baseline");
    for size in SIZES {
        let payloads = payloads(size);
        let stream = stream_of(NoChecksum, &payloads);
        group.throughput(throughput(payloads.len(), stream.len()));

        let mut copy = vec![0u8; stream.len()];
        group.bench_function(format!("memcpy/{size}"), |b| {
            b.iter(|| copy.copy_from_slice(black_box(&stream)));
        });

        // What users write without a library: read_exact and a fresh Vec per frame.
        group.bench_function(format!("naive_read_exact/{size}"), |b| {
            b.iter(|| {
                let mut reader = black_box(stream.as_slice());
                let mut total = 0usize;
                let mut length = [0u8; 4];
                while reader.read_exact(&mut length).is_ok() {
                    let mut payload = vec![0u8; u32::from_le_bytes(length) as usize];
                    reader.read_exact(&mut payload).unwrap();
                    total += black_box(payload).len();
                }
                total
            });
        });

        // tokio-util's length-delimited codec: the same format as our "none" frames.
        let mut codec = LengthDelimitedCodec::builder()
            .little_endian()
            .length_field_length(4)
            .max_frame_length(usize::MAX)
            .new_codec();
        let source = BytesMut::from(stream.as_slice());
        group.bench_function(format!("tokio_length_delimited_decode/{size}"), |b| {
            b.iter(|| {
                let mut buffer = source.clone();
                let mut total = 0usize;
                while let Some(frame) = codec.decode(&mut buffer).unwrap() {
                    total += black_box(&frame).len();
                }
                total
            });
        });
        let frozen: Vec<bytes::Bytes> = payloads
            .iter()
            .map(|p| bytes::Bytes::copy_from_slice(p))
            .collect();
        let mut encoded = BytesMut::with_capacity(stream.len());
        group.bench_function(format!("tokio_length_delimited_encode/{size}"), |b| {
            b.iter(|| {
                encoded.clear();
                for payload in &frozen {
                    // A clone of `Bytes` is a reference count, not a copy.
                    codec.encode(payload.clone(), &mut encoded).unwrap();
                }
                encoded.len()
            });
        });
    }
    group.finish();

    // The raw checksum over the payloads where they lie in the stream: the limit a
    // checksummed read approaches.
    let mut group = configure(criterion, "checksum");
    for size in SIZES {
        let payloads = payloads(size);
        for_each_checksum!(|checksum| {
            let stream = stream_of(checksum, &payloads);
            let header_len = 4 + checksum.size();
            let mut ranges = Vec::with_capacity(payloads.len());
            let mut offset = 0;
            for payload in &payloads {
                ranges.push(offset + header_len..offset + header_len + payload.len());
                offset += header_len + payload.len();
            }
            group.throughput(throughput(payloads.len(), stream.len()));
            group.bench_function(format!("{}/{size}", checksum.name()), |b| {
                b.iter(|| {
                    let stream = black_box(stream.as_slice());
                    ranges.iter().fold(0u64, |sum, range| {
                        sum ^ checksum.calculate(&stream[range.clone()])
                    })
                });
            });
        });
    }
    group.finish();
}

fn writing(criterion: &mut Criterion) {
    let mut simple = configure(criterion, "write");
    for size in SIZES {
        let payloads = payloads(size);
        for_each_checksum!(|checksum| {
            let stream_len = stream_of(checksum, &payloads).len();
            simple.throughput(throughput(payloads.len(), stream_len));
            let mut writer = StreamWriter::new(
                Vec::with_capacity(stream_len * 2),
                ChecksumFramer::new(checksum),
            );
            simple.bench_function(format!("{}/{size}", checksum.name()), |b| {
                b.iter(|| {
                    writer.get_mut().clear();
                    for payload in &payloads {
                        writer.write(&Blob(payload)).unwrap();
                    }
                    writer.get_ref().len()
                });
            });
        });
    }
    simple.finish();

    let mut expert = configure(criterion, "write_finished");
    for size in SIZES {
        let payloads = payloads(size);
        // One finished builder per distinct payload would be memory-heavy at 16 B; the
        // framing cost does not depend on the bytes, so one finished buffer is written
        // `count` times.
        let mut builder = FlatBufferBuilder::new();
        Blob(&payloads[0][..size.saturating_sub(8)])
            .serialize(&mut builder)
            .unwrap();
        let payload_len = builder.finished_data().len();
        for_each_checksum!(|checksum| {
            let stream_len = payloads.len() * (4 + checksum.size() + payload_len);
            expert.throughput(throughput(payloads.len(), stream_len));
            let mut writer = StreamWriter::new(
                Vec::with_capacity(stream_len),
                ChecksumFramer::new(checksum),
            );
            expert.bench_function(format!("{}/{size}", checksum.name()), |b| {
                b.iter(|| {
                    writer.get_mut().clear();
                    for _ in 0..payloads.len() {
                        writer.write_finished(&mut builder).unwrap();
                    }
                    writer.get_ref().len()
                });
            });
        });
    }
    expert.finish();
}

/// Benchmarks `$body` (which reads `$stream`, framed with `$checksum`, and returns a total)
/// for every payload size and checksum, as group `$group`.
macro_rules! stream_group {
    ($criterion:expr, $group:literal, |$checksum:ident, $stream:ident, $size:ident| $body:block) => {{
        let mut group = configure($criterion, $group);
        for $size in SIZES {
            let payloads = payloads($size);
            for_each_checksum!(|$checksum| {
                let $stream = stream_of($checksum, &payloads);
                group.throughput(throughput(payloads.len(), $stream.len()));
                group.bench_function(format!("{}/{}", $checksum.name(), $size), |b| {
                    b.iter(|| $body);
                });
            });
        }
        group.finish();
    }};
}

fn reading(criterion: &mut Criterion) {
    stream_group!(criterion, "read_message", |checksum, stream, size| {
        let deframer = ChecksumDeframer::new(checksum);
        everyday::each_message(StreamReader::with_payload_capacity(
            black_box(stream.as_slice()),
            deframer,
            size,
        ))
    });
    stream_group!(criterion, "process_all", |checksum, stream, size| {
        let deframer = ChecksumDeframer::new(checksum);
        everyday::every_message(StreamReader::with_payload_capacity(
            black_box(stream.as_slice()),
            deframer,
            size,
        ))
    });
    stream_group!(criterion, "slice", |checksum, stream, _size| {
        let mut reader = SliceReader::new(black_box(&stream), ChecksumDeframer::new(checksum));
        let mut total = 0usize;
        while let Some(payload) = reader.read_message().unwrap() {
            total += black_box(payload).len();
        }
        total
    });

    // The same streams from a file in the page cache, through a memory map.
    let directory = std::env::temp_dir().join(format!("flatstream-bench-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let mut mapped = configure(criterion, "mmap");
    for size in SIZES {
        let payloads = payloads(size);
        for_each_checksum!(|checksum| {
            let stream = stream_of(checksum, &payloads);
            let path = directory.join(format!("{}-{size}", checksum.name()));
            std::fs::write(&path, &stream).unwrap();
            // SAFETY: this benchmark wrote the file and nothing changes it while mapped.
            let map = unsafe { MmapReader::map(&path, ChecksumDeframer::new(checksum)) }.unwrap();
            mapped.throughput(throughput(payloads.len(), stream.len()));
            // The safe alternative the map has to beat: the same file through a buffer.
            mapped.bench_function(format!("from_path_{}/{size}", checksum.name()), |b| {
                b.iter(|| {
                    let mut reader =
                        StreamReader::from_path(&path, ChecksumDeframer::new(checksum)).unwrap();
                    let mut total = 0usize;
                    while let Some(payload) = reader.read_message().unwrap() {
                        total += black_box(payload).len();
                    }
                    total
                });
            });
            mapped.bench_function(format!("{}/{size}", checksum.name()), |b| {
                b.iter(|| {
                    let mut reader = map.reader();
                    let mut total = 0usize;
                    while let Some(payload) = reader.read_message().unwrap() {
                        total += black_box(payload).len();
                    }
                    total
                });
            });
        });
    }
    mapped.finish();
    let _ = std::fs::remove_dir_all(&directory);
}

fn bench_with<V: Validator>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    stream: &[u8],
    validator: impl Fn() -> V,
    size: usize,
) {
    bench_deframer(group, name, stream, size, || {
        ChecksumDeframer::new(Crc32c::new()).with_validator(validator())
    });
}

/// `process_all` over `stream` with the deframer `deframer` makes.
fn bench_deframer<D: Deframer>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    stream: &[u8],
    size: usize,
    deframer: impl Fn() -> D,
) {
    group.bench_function(format!("{name}/{size}"), |b| {
        b.iter(|| {
            everyday::every_message(StreamReader::with_payload_capacity(
                black_box(stream),
                deframer(),
                256,
            ))
        });
    });
}

/// Our tokio codec beside `LengthDelimitedCodec` (the `baseline` group) on the same frames.
fn codec(criterion: &mut Criterion) {
    stream_group!(criterion, "codec_decode", |checksum, stream, _size| {
        // The copy into the read buffer is part of decoding, as a socket read would be.
        let mut buffer = BytesMut::from(black_box(stream.as_slice()));
        let mut codec = FlatstreamCodec::new(checksum);
        let mut total = 0usize;
        while let Some(frame) = codec.decode(&mut buffer).unwrap() {
            total += black_box(&frame).len();
        }
        total
    });

    let mut encode = configure(criterion, "codec_encode");
    for size in SIZES {
        let payloads = payloads(size);
        let frozen: Vec<bytes::Bytes> = payloads
            .iter()
            .map(|p| bytes::Bytes::copy_from_slice(p))
            .collect();
        for_each_checksum!(|checksum| {
            let stream_len = stream_of(checksum, &payloads).len();
            encode.throughput(throughput(payloads.len(), stream_len));
            let mut codec = FlatstreamCodec::new(checksum);
            let mut encoded = BytesMut::with_capacity(stream_len);
            encode.bench_function(format!("{}/{size}", checksum.name()), |b| {
                b.iter(|| {
                    encoded.clear();
                    for payload in &frozen {
                        codec.encode(payload.clone(), &mut encoded).unwrap();
                    }
                    encoded.len()
                });
            });
        });
    }
    encode.finish();
}

fn validating(criterion: &mut Criterion) {
    // Real telemetry events, CRC-32C framed, read with each validator.
    let events: Vec<Vec<u8>> = (0..10_000)
        .map(|id| {
            let mut builder = FlatBufferBuilder::new();
            TelemetryEvent::nth(id).serialize(&mut builder).unwrap();
            builder.finished_data().to_vec()
        })
        .collect();
    let stream = stream_of(Crc32c::new(), &events);
    let mut group = configure(criterion, "read_validated");
    group.throughput(throughput(events.len(), stream.len()));
    let size = 0; // telemetry events of mixed length
    // The same frames without an adapter, and with a bound on their length only.
    bench_deframer(&mut group, "plain", &stream, size, || {
        ChecksumDeframer::new(Crc32c::new())
    });
    bench_deframer(&mut group, "bounded", &stream, size, || {
        ChecksumDeframer::new(Crc32c::new()).bounded(1 << 20)
    });
    bench_with(&mut group, "none", &stream, || NoValidator, size);
    bench_with(
        &mut group,
        "size",
        &stream,
        || SizeValidator::at_most(1024),
        size,
    );
    bench_with(
        &mut group,
        "structural",
        &stream,
        StructuralValidator::new,
        size,
    );
    bench_with(
        &mut group,
        "typed",
        &stream,
        TypedValidator::for_type::<Event<'static>>,
        size,
    );
    bench_with(
        &mut group,
        "composite",
        &stream,
        || {
            CompositeValidator::new()
                .with(SizeValidator::at_most(1024))
                .with(TypedValidator::for_type::<Event<'static>>())
        },
        size,
    );
    group.finish();
}

/// Candidate implementations of each checksum, over the same buffers: the measurements
/// behind each checksum crate's choice and cut-over.
fn checksum_implementations(criterion: &mut Criterion) {
    use crc::{CRC_16_XMODEM, CRC_32_ISCSI, CRC_32_ISO_HDLC, CRC_64_XZ, Crc as TableCrc, Table};
    use crc_fast::CrcAlgorithm;
    static CRC16_TABLE: TableCrc<u16, Table<16>> = TableCrc::<u16, Table<16>>::new(&CRC_16_XMODEM);
    static CRC32_TABLE: TableCrc<u32, Table<16>> =
        TableCrc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);
    static CRC32C_TABLE: TableCrc<u32, Table<16>> = TableCrc::<u32, Table<16>>::new(&CRC_32_ISCSI);
    static CRC64_TABLE: TableCrc<u64, Table<16>> = TableCrc::<u64, Table<16>>::new(&CRC_64_XZ);

    let mut group = configure(criterion, "checksum_impl");
    for size in [
        8usize,
        16,
        20,
        24,
        32,
        64,
        128,
        256,
        512,
        1024,
        4096,
        16384,
        65536,
        1 << 20,
    ] {
        let count = (STREAM_PAYLOAD_BYTES / size).max(1);
        let buffer: Vec<u8> = (0..count * size)
            .map(|i| (i as u8).wrapping_mul(131))
            .collect();
        group.throughput(throughput(count, buffer.len()));
        let mut bench = |name: &str, function: &dyn Fn(&[u8]) -> u64| {
            group.bench_function(format!("{name}/{size}"), |b| {
                b.iter(|| {
                    black_box(&buffer)
                        .chunks_exact(size)
                        .fold(0u64, |sum, chunk| sum ^ function(chunk))
                });
            });
        };
        bench("crc16_table16", &|data| {
            u64::from(CRC16_TABLE.checksum(data))
        });
        bench("crc16_crc_fast", &|data| {
            crc_fast::checksum(CrcAlgorithm::Crc16Xmodem, data)
        });
        bench("crc32_table16", &|data| {
            u64::from(CRC32_TABLE.checksum(data))
        });
        bench("crc32_crc_fast", &|data| {
            crc_fast::checksum(CrcAlgorithm::Crc32IsoHdlc, data)
        });
        bench("crc32_crc32fast", &|data| u64::from(crc32fast::hash(data)));
        // The crate as users call it: its own carry-less path from 20 to 127 bytes.
        bench("crc32_flatstream", &|data| Crc32::new().calculate(data));
        bench("crc32c_table16", &|data| {
            u64::from(CRC32C_TABLE.checksum(data))
        });
        bench("crc32c_crc_fast", &|data| {
            crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, data)
        });
        bench("crc32c_crc32c", &|data| u64::from(crc32c::crc32c(data)));
        bench("crc64_table16", &|data| CRC64_TABLE.checksum(data));
        bench("crc64_crc_fast", &|data| {
            crc_fast::checksum(CrcAlgorithm::Crc64Xz, data)
        });
        bench("xxh3_xxhash_rust", &|data| xxhash_rust::xxh3::xxh3_64(data));
        bench("xxh3_twox_hash", &|data| {
            twox_hash::XxHash3_64::oneshot(data)
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    everyday::everyday,
    baselines,
    writing,
    reading,
    codec,
    validating,
    checksum_implementations
);
// `criterion_main!` with one addition: the paired mode of the everyday cells.
fn main() {
    if let Some(path) = std::env::var_os(everyday::PAIRED_ENV) {
        everyday::paired_to_file(std::path::Path::new(&path));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
