//! Payloads and streams shared by the tests.

use flatbuffers::FlatBufferBuilder;
use flatstream_compress::Zstd;
use flatstream_core::StreamSerialize;
use flatstream_telemetry_schema::TelemetryEvent;

/// The payloads of `count` telemetry events, as `gen telemetry` writes them.
pub(crate) fn telemetry_payloads(count: u64) -> Vec<Vec<u8>> {
    let mut builder = FlatBufferBuilder::new();
    (0..count)
        .map(|index| {
            builder.reset();
            TelemetryEvent::nth(index)
                .serialize(&mut builder)
                .expect("serializes");
            builder.finished_data().to_vec()
        })
        .collect()
}

/// A 16 KiB zstd dictionary trained on telemetry events.
pub(crate) fn telemetry_dictionary() -> Vec<u8> {
    Zstd::train(&telemetry_payloads(20_000), 16 * 1024).expect("trains")
}
