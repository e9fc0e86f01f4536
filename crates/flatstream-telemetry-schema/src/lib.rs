#![doc = include_str!("../README.md")]
// Not `forbid(unsafe_code)`: the FlatBuffers accessors in `telemetry_generated` follow
// offsets with `unsafe`, as all generated FlatBuffers code does. They are reached only
// through `EventRoot`, which verifies the buffer first.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Generated code follows flatc's conventions, not our lints; allowed here so that
// regenerating the file keeps them.
#[allow(
    unsafe_code,
    dead_code,
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    elided_lifetimes_in_paths,
    clippy::all,
    clippy::pedantic
)]
mod telemetry_generated;

use flatbuffers::{Allocator, FlatBufferBuilder};
use flatstream_core::{Result, StreamDeserialize, StreamSerialize, verified_root};

pub use telemetry_generated::telemetry::{Event, EventArgs, EventBuilder};

/// The schema this crate's accessors implement.
pub const SCHEMA: &str = include_str!("../schema/telemetry.fbs");

/// Measurement names used by [`TelemetryEvent::nth`].
pub const NAMES: [&str; 8] = [
    "engine.temp",
    "engine.rpm",
    "battery.volts",
    "battery.amps",
    "gps.lat",
    "gps.lon",
    "imu.accel_z",
    "cabin.pressure",
];

/// One telemetry event as an application holds it before serializing it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TelemetryEvent<'a> {
    /// What was measured.
    pub name: &'a str,
    /// Sequence number in the stream.
    pub id: u64,
    /// When, in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The measurement.
    pub value: f64,
}

impl TelemetryEvent<'static> {
    /// The `id`-th event of a deterministic sample stream: names cycle through [`NAMES`],
    /// timestamps advance by 1 µs, values by 0.25 modulo 250.
    pub fn nth(id: u64) -> Self {
        TelemetryEvent {
            name: NAMES[(id % NAMES.len() as u64) as usize],
            id,
            timestamp_ns: 1_764_000_000_000_000_000 + id * 1_000,
            #[allow(clippy::cast_precision_loss)] // id % 1000 is exact in an f64.
            value: (id % 1_000) as f64 * 0.25,
        }
    }
}

impl StreamSerialize for TelemetryEvent<'_> {
    fn serialize<'fbb, A: Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> Result<()> {
        let name = builder.create_string(self.name);
        let event = Event::create(
            builder,
            &EventArgs {
                name: Some(name),
                id: self.id,
                timestamp_ns: self.timestamp_ns,
                value: self.value,
            },
        );
        builder.finish(event, None);
        Ok(())
    }
}

/// Marker for payloads whose root is a telemetry [`Event`]: the payload is verified, then
/// read in place.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventRoot;

impl<'a> StreamDeserialize<'a> for EventRoot {
    type Root = Event<'a>;

    fn from_payload(payload: &'a [u8]) -> Result<Event<'a>> {
        verified_root::<Event<'_>>(payload)
    }
}

impl Event<'_> {
    /// Copies the fields out into a [`TelemetryEvent`] borrowing the same payload.
    pub fn to_telemetry_event(&self) -> TelemetryEvent<'_> {
        TelemetryEvent {
            name: self.name().unwrap_or(""),
            id: self.id(),
            timestamp_ns: self.timestamp_ns(),
            value: self.value(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_round_trips_through_a_builder() {
        let mut builder = FlatBufferBuilder::new();
        let event = TelemetryEvent::nth(42);
        event.serialize(&mut builder).unwrap();
        let root = EventRoot::from_payload(builder.finished_data()).unwrap();
        assert_eq!(root.to_telemetry_event(), event);
        assert_eq!(root.name(), Some("battery.volts"));
    }

    #[test]
    fn schema_names_every_field() {
        for field in [
            "name: string",
            "id: ulong",
            "timestamp_ns: ulong",
            "value: double",
        ] {
            assert!(SCHEMA.contains(field), "{field}");
        }
    }
}
