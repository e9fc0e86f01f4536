//! Compression on telemetry events: write and read msg/s for per-frame zstd with a 16 KiB
//! dictionary, per-frame lz4, chunked zstd (levels 1 and 3) and chunked lz4 (64 KiB
//! chunks), beside the uncompressed stream in the same run. All streams are CRC-32C framed.
//!
//! Benchmark ids are `compress_write/<mode>/<events>` and `compress_read/<mode>/<events>`;
//! throughput counts messages and the bytes of that mode's stream (what is on the wire), so
//! bytes over messages in the results is each stream's size and `cargo xtask bench` reports
//! the size ratios from the same run. They are also printed once at the start (they do not
//! vary between runs). `FLATSTREAM_BENCH_QUICK=1` shortens the measurements.

#![allow(missing_docs, clippy::cast_precision_loss)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flatbuffers::FlatBufferBuilder;
use flatstream::compress::{
    AnyCodec, ChunkReader, ChunkWriter, CompressFramerExt, DecompressDeframerExt, Lz4, Zstd,
};
use flatstream::{
    ChecksumDeframer, ChecksumFramer, Crc32c, StreamReader, StreamSerialize, StreamWriter,
};
use flatstream_telemetry_schema::TelemetryEvent;

#[path = "group.rs"]
mod group;

use group::configure;

/// Events per stream: about 3.4 MB of payload, 52 chunks of 64 KiB.
const EVENTS: u64 = 50_000;
const CHUNK_LEN: usize = 64 * 1024;

fn events(ids: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    let mut builder = FlatBufferBuilder::new();
    ids.map(|id| {
        builder.reset();
        TelemetryEvent::nth(id).serialize(&mut builder).unwrap();
        builder.finished_data().to_vec()
    })
    .collect()
}

/// How a stream is compressed.
#[derive(Clone)]
enum Mode {
    Plain,
    PerFrame(AnyCodec),
    Chunked(AnyCodec),
}

fn modes() -> Vec<(&'static str, Mode)> {
    // Trained on other events than those measured.
    let dictionary = Zstd::train(&events(1_000_000..1_020_000), 16 * 1024).unwrap();
    vec![
        ("uncompressed", Mode::Plain),
        (
            "frame_zstd3_dict16k",
            Mode::PerFrame(Zstd::with_dictionary(3, dictionary).unwrap().into()),
        ),
        ("frame_lz4", Mode::PerFrame(Lz4::new().into())),
        ("chunk64k_zstd1", Mode::Chunked(Zstd::new(1).into())),
        ("chunk64k_zstd3", Mode::Chunked(Zstd::new(3).into())),
        ("chunk64k_lz4", Mode::Chunked(Lz4::new().into())),
    ]
}

fn write_stream(mode: &mut Mode, payloads: &[Vec<u8>], out: Vec<u8>) -> Vec<u8> {
    let framer = ChecksumFramer::new(Crc32c::new());
    match mode {
        Mode::Plain => {
            let mut writer = StreamWriter::new(out, framer);
            for payload in payloads {
                writer.write_payload(payload).unwrap();
            }
            writer.into_inner()
        }
        Mode::PerFrame(codec) => {
            let mut writer = StreamWriter::new(out, framer.compressed(&mut *codec));
            for payload in payloads {
                writer.write_payload(payload).unwrap();
            }
            writer.into_inner()
        }
        Mode::Chunked(codec) => {
            let mut writer = ChunkWriter::new(out, framer, &mut *codec).with_chunk_len(CHUNK_LEN);
            for payload in payloads {
                writer.write_payload(payload).unwrap();
            }
            writer.finish().unwrap()
        }
    }
}

/// Reads every message and returns the bytes seen (so nothing is optimised away).
fn read_stream(mode: &mut Mode, stream: &[u8]) -> usize {
    let deframer = ChecksumDeframer::new(Crc32c::new());
    let mut bytes = 0;
    match mode {
        Mode::Plain => {
            let mut reader = StreamReader::new(stream, deframer);
            while let Some(payload) = reader.read_message().unwrap() {
                bytes += payload.len();
            }
        }
        Mode::PerFrame(codec) => {
            let mut reader = StreamReader::new(stream, deframer.decompressed(&mut *codec));
            while let Some(payload) = reader.read_message().unwrap() {
                bytes += payload.len();
            }
        }
        Mode::Chunked(codec) => {
            let mut reader = ChunkReader::new(stream, deframer, &mut *codec);
            while let Some(payload) = reader.read_message().unwrap() {
                bytes += payload.len();
            }
        }
    }
    bytes
}

fn compression(criterion: &mut Criterion) {
    let payloads = events(0..EVENTS);
    let mut modes = modes();
    let plain_len = write_stream(&mut Mode::Plain, &payloads, Vec::new()).len();
    println!("\ncompression of {EVENTS} telemetry events, CRC-32C framed:");
    println!("{:<22} {:>12} {:>8}", "mode", "bytes", "ratio");
    let streams: Vec<Vec<u8>> = modes
        .iter_mut()
        .map(|(name, mode)| {
            let stream = write_stream(mode, &payloads, Vec::new());
            println!(
                "{name:<22} {:>12} {:>7.2}x",
                stream.len(),
                plain_len as f64 / stream.len() as f64
            );
            stream
        })
        .collect();
    // Each mode's own stream size: the report's ratios come from it.
    let throughput = |stream: &Vec<u8>| Throughput::ElementsAndBytes {
        elements: EVENTS,
        bytes: stream.len() as u64,
    };

    let mut group = configure(criterion, "compress_write");
    for ((name, mode), stream) in modes.iter_mut().zip(&streams) {
        group.throughput(throughput(stream));
        let mut out = Vec::with_capacity(stream.len());
        group.bench_function(format!("{name}/{EVENTS}"), |b| {
            b.iter(|| {
                out.clear();
                out = write_stream(mode, black_box(&payloads), std::mem::take(&mut out));
                out.len()
            });
        });
    }
    group.finish();

    let mut group = configure(criterion, "compress_read");
    for ((name, mode), stream) in modes.iter_mut().zip(&streams) {
        group.throughput(throughput(stream));
        group.bench_function(format!("{name}/{EVENTS}"), |b| {
            b.iter(|| read_stream(mode, black_box(stream)));
        });
    }
    group.finish();
}

criterion_group!(benches, compression);
criterion_main!(benches);
