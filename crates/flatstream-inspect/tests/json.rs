//! JSON output compared with golden lines.

use flatstream_inspect::{JsonWriter, Schema, Verifier};

use crate::data;

fn json_of(schema: &Schema, payload: &[u8]) -> String {
    Verifier::new(schema).verify(payload).unwrap();
    let mut line = Vec::new();
    JsonWriter::new(schema.layout())
        .write(payload, &mut line)
        .unwrap();
    String::from_utf8(line).unwrap()
}

#[test]
fn every_type_prints_as_the_golden_line() {
    let schema = Schema::from_bfbs(data("every_type.bfbs")).unwrap();
    let line = json_of(&schema, &data("every_type.bin"));
    println!("{line}");
    let golden = String::from_utf8(data("every_type.jsonl")).unwrap();
    assert_eq!(line, golden.trim_end(), "every_type.jsonl");
}

#[test]
fn every_type_golden_line_is_json_with_exact_64_bit_integers() {
    let golden = String::from_utf8(data("every_type.jsonl")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&golden).unwrap();
    assert_eq!(value["u64"].as_u64(), Some(u64::MAX));
    assert_eq!(value["i64"].as_i64(), Some(i64::MIN));
    // 2^53 + 1: the first integer an f64 cannot hold.
    assert_eq!(value["big"].as_u64(), Some(9_007_199_254_740_993));
    assert_eq!(value["not_a_number"], "NaN");
    assert_eq!(value["color"], "Blue");
    assert_eq!(value["payload"]["note"], "in a union");
}

#[test]
fn telemetry_events_print_their_fields_by_name() {
    use flatstream_core::StreamSerialize;
    use flatstream_telemetry_schema::{BFBS, TelemetryEvent};

    let schema = Schema::from_bfbs(BFBS.to_vec()).unwrap();
    for id in [0, 1, 999, 1_000_001, u64::MAX / 1_000_000] {
        let event = TelemetryEvent::nth(id);
        let mut builder = flatbuffers::FlatBufferBuilder::new();
        event.serialize(&mut builder).unwrap();
        let line = json_of(&schema, builder.finished_data());
        let expected = serde_json::json!({
            "name": event.name,
            "id": event.id,
            "timestamp_ns": event.timestamp_ns,
            "value": event.value,
        });
        let printed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(printed, expected, "event {id}");
    }
}

#[test]
fn a_root_type_given_by_name_replaces_the_schemas() {
    let schema = Schema::with_root_type(data("every_type.bfbs"), "Inner").unwrap();
    assert_eq!(schema.root_name(), "test.Inner");
    let mut builder = flatbuffers::FlatBufferBuilder::new();
    let label = builder.create_string("alone");
    let table = builder.start_table();
    builder.push_slot_always(4, label);
    builder.push_slot(6, 7.5f64, 1.5);
    let table = builder.end_table(table);
    builder.finish_minimal(table);
    let line = json_of(&schema, builder.finished_data());
    assert_eq!(line, r#"{"label":"alone","weight":7.5}"#);
}

#[test]
fn a_payload_of_another_type_fails_verification_and_never_panics() {
    let schema = Schema::from_bfbs(data("every_type.bfbs")).unwrap();
    let verifier = Verifier::new(&schema);
    let writer = JsonWriter::new(schema.layout());
    let payload = data("every_type.bin");
    let mut line = Vec::new();
    // Every truncation, and every byte set to a few values: errors, never a panic; and a
    // payload the verifier passes always prints.
    let mut damaged = Vec::new();
    for len in 0..payload.len() {
        damaged.push(payload[..len].to_vec());
    }
    for at in 0..payload.len() {
        for byte in [0x00, 0x01, 0x7f, 0x80, 0xff, payload[at] ^ 0x04] {
            let mut copy = payload.clone();
            copy[at] = byte;
            damaged.push(copy);
        }
    }
    let mut passed = 0;
    for copy in &damaged {
        line.clear();
        if verifier.verify(copy).is_ok() {
            passed += 1;
            writer
                .write(copy, &mut line)
                .expect("a verified payload prints");
            serde_json::from_slice::<serde_json::Value>(&line).expect("valid JSON");
        } else {
            let _ = writer.write(copy, &mut line);
        }
    }
    // Flipped scalar bytes still verify; offsets and lengths mostly do not.
    assert!(passed > 0 && passed < damaged.len(), "{passed}");
}
