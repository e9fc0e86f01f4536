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

/// The same schema compiled to a binary schema (`flatc -b --schema telemetry.fbs`), for
/// schema-aware tools (`flatstream cat --schema telemetry --format json`, the Arrow export).
///
/// Committed, so that building needs no flatc; a test checks that it declares what
/// [`SCHEMA`] does.
pub const BFBS: &[u8] = include_bytes!("../schema/telemetry.bfbs");

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

    /// A table's name and its `(field, type)` pairs.
    type DeclaredTable = (String, Vec<(String, String)>);

    /// `(table, [(field, type)])` of each table the `.fbs` text declares, in order, and the
    /// root type: enough of the grammar for this schema (tables of scalar and string fields).
    fn parse_fbs(text: &str) -> (Vec<DeclaredTable>, Option<String>) {
        let mut tables = Vec::new();
        let mut root = None;
        let mut current: Option<DeclaredTable> = None;
        for line in text.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            if let Some(rest) = line.strip_prefix("table ") {
                let name = rest.trim_end_matches('{').trim().to_owned();
                current = Some((name, Vec::new()));
            } else if line.starts_with('}') {
                tables.extend(current.take());
            } else if let Some(rest) = line.strip_prefix("root_type ") {
                root = Some(rest.trim_end_matches(';').trim().to_owned());
            } else if let (Some((_, fields)), Some((name, ty))) =
                (&mut current, line.split_once(':'))
            {
                let ty = ty.trim().trim_end_matches(';').trim();
                fields.push((name.trim().to_owned(), ty.to_owned()));
            }
        }
        (tables, root)
    }

    /// The `.fbs` spelling of a reflection base type.
    fn fbs_type_name(base_type: flatbuffers_reflection::reflection::BaseType) -> &'static str {
        use flatbuffers_reflection::reflection::BaseType;
        match base_type {
            BaseType::Bool => "bool",
            BaseType::Byte => "byte",
            BaseType::UByte => "ubyte",
            BaseType::Short => "short",
            BaseType::UShort => "ushort",
            BaseType::Int => "int",
            BaseType::UInt => "uint",
            BaseType::Long => "long",
            BaseType::ULong => "ulong",
            BaseType::Float => "float",
            BaseType::Double => "double",
            BaseType::String => "string",
            _ => "(not a scalar or string)",
        }
    }

    #[test]
    fn bfbs_declares_what_the_fbs_declares() {
        let bfbs = flatbuffers_reflection::reflection::root_as_schema(BFBS).unwrap();
        let (tables, root) = parse_fbs(SCHEMA);
        assert_eq!(tables.len(), 1, "{tables:?}");
        let namespace = "telemetry.";
        let objects: Vec<_> = bfbs.objects().iter().collect();
        assert_eq!(objects.len(), tables.len());
        for (table, fields) in &tables {
            let object = objects
                .iter()
                .find(|object| object.name() == format!("{namespace}{table}"))
                .unwrap_or_else(|| panic!("table {table} missing from the .bfbs"));
            assert!(!object.is_struct());
            let mut compiled: Vec<_> = object.fields().iter().collect();
            // The .bfbs lists fields by name; ids are declaration order.
            compiled.sort_by_key(flatbuffers_reflection::reflection::Field::id);
            let compiled: Vec<(String, String)> = compiled
                .iter()
                .map(|field| {
                    let ty = fbs_type_name(field.type_().base_type());
                    (field.name().to_owned(), ty.to_owned())
                })
                .collect();
            assert_eq!(&compiled, fields, "table {table}");
        }
        let root_table = bfbs.root_table().expect("the .bfbs names a root type");
        assert_eq!(
            Some(root_table.name().to_owned()),
            root.map(|root| format!("{namespace}{root}"))
        );
    }

    #[test]
    fn bfbs_reads_a_generated_payload() {
        let schema = flatbuffers_reflection::reflection::root_as_schema(BFBS).unwrap();
        let mut builder = FlatBufferBuilder::new();
        let event = TelemetryEvent::nth(1_234_567);
        event.serialize(&mut builder).unwrap();
        let payload =
            flatbuffers_reflection::SafeBuffer::new(builder.finished_data(), &schema).unwrap();
        let root = payload.get_root();
        assert_eq!(root.get_field_string("name").unwrap(), Some(event.name));
        assert_eq!(root.get_field_integer::<u64>("id").unwrap(), Some(event.id));
        assert_eq!(
            root.get_field_integer::<u64>("timestamp_ns").unwrap(),
            Some(event.timestamp_ns)
        );
        assert_eq!(
            root.get_field_float::<f64>("value").unwrap(),
            Some(event.value)
        );
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
