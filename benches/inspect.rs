//! Looking inside captures (issue 16): `cat --format json` and `export --to parquet` as the
//! library runs them, on telemetry events, CRC-32C framed.
//!
//! Benchmark ids are `inspect/json/<events>` (each payload verified by the reflection
//! verifier, then written as one JSON line into a reused buffer) and
//! `inspect/parquet/<events>` (record batches of 65 536 rows written as zstd Parquet into
//! memory); throughput counts events and the stream's bytes. `cargo xtask bench` holds them
//! to issue 16's targets (≥ 500 k and ≥ 1 M events/s). `FLATSTREAM_BENCH_QUICK=1` shortens
//! the measurements.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flatstream::arrow::{BatchWriter, Format, RecordBatches};
use flatstream::inspect::{JsonWriter, Schema, Verifier};
use flatstream::{ChecksumDeframer, ChecksumFramer, Crc32c, SliceReader, StreamWriter};
use flatstream_telemetry_schema::{BFBS, TelemetryEvent};

/// Events in the stream: about 7.5 MB.
const EVENTS: u64 = 100_000;

fn stream() -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    for id in 0..EVENTS {
        writer.write(&TelemetryEvent::nth(id)).unwrap();
    }
    writer.into_inner()
}

fn inspect(criterion: &mut Criterion) {
    let stream = stream();
    let schema = Schema::from_bfbs(BFBS.to_vec()).unwrap();
    let quick = std::env::var_os("FLATSTREAM_BENCH_QUICK").is_some();
    let mut group = criterion.benchmark_group("inspect");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if quick { 300 } else { 1000 }))
        .measurement_time(Duration::from_secs(if quick { 2 } else { 5 }))
        .throughput(Throughput::ElementsAndBytes {
            elements: EVENTS,
            bytes: stream.len() as u64,
        });

    let verifier = Verifier::new(&schema);
    let json = JsonWriter::new(schema.layout());
    let mut lines = Vec::with_capacity(512 * 1024);
    group.bench_function(format!("json/{EVENTS}"), |b| {
        b.iter(|| {
            let mut written = 0;
            SliceReader::new(black_box(&stream), ChecksumDeframer::new(Crc32c::new()))
                .process_all(|payload| {
                    verifier.verify(payload)?;
                    json.write(payload, &mut lines)
                        .map_err(flatstream::Error::other)?;
                    lines.push(b'\n');
                    // As `cat` does: written out (here, dropped) in blocks of 256 KiB.
                    if lines.len() >= 256 * 1024 {
                        written += black_box(&lines).len();
                        lines.clear();
                    }
                    Ok(())
                })
                .unwrap();
            written + lines.len()
        });
    });

    group.bench_function(format!("parquet/{EVENTS}"), |b| {
        b.iter(|| {
            let batches = RecordBatches::new(
                black_box(stream.as_slice()),
                ChecksumDeframer::new(Crc32c::new()),
                &schema,
            )
            .unwrap();
            let mut parquet =
                BatchWriter::new(Vec::new(), batches.schema(), Format::Parquet).unwrap();
            for batch in batches {
                parquet.write(&batch.unwrap()).unwrap();
            }
            parquet.finish().unwrap().len()
        });
    });
    group.finish();
}

criterion_group!(benches, inspect);
criterion_main!(benches);
