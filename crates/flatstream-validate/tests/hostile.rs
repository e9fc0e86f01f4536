//! Every validator accepts what it should and rejects damaged, hostile and wrong-type
//! FlatBuffers with an error, never a panic.

use flatbuffers::{FlatBufferBuilder, VerifierOptions};
use flatstream_core::{ErrorKind, StreamDeserialize, StreamSerialize, Validator};
use flatstream_telemetry_schema::{Event, EventRoot, TelemetryEvent};
use flatstream_validate::{
    CompositeValidator, NoValidator, SizeValidator, StructuralValidator, TypedValidator,
};

use crate::schema::{Many, Node, nested_nodes, shared_leaves};

fn event_payload(id: u64) -> Vec<u8> {
    let mut builder = FlatBufferBuilder::new();
    TelemetryEvent::nth(id).serialize(&mut builder).unwrap();
    builder.finished_data().to_vec()
}

/// The FlatBuffer of another type: a vector of 1024 zero bytes at the root.
fn vector_payload() -> Vec<u8> {
    let mut builder = FlatBufferBuilder::new();
    let zeros = builder.create_vector(&[0u8; 1024]);
    builder.finish_minimal(zeros);
    builder.finished_data().to_vec()
}

fn validators() -> Vec<(&'static str, Box<dyn Validator>)> {
    vec![
        ("none", Box::new(NoValidator)),
        ("size", Box::new(SizeValidator::new(1..=4096))),
        ("structural", Box::new(StructuralValidator::new())),
        ("typed", Box::new(TypedValidator::for_type::<Event<'_>>())),
        (
            "composite",
            Box::new(
                CompositeValidator::new()
                    .with(SizeValidator::at_least(4))
                    .with(StructuralValidator::new())
                    .with(TypedValidator::for_type::<Event<'_>>()),
            ),
        ),
    ]
}

fn assert_rejected_by(validator: &dyn Validator, payload: &[u8], expected_name: &str) {
    let error = validator
        .validate(payload)
        .expect_err("payload should be rejected");
    match error.kind() {
        ErrorKind::ValidationFailed { validator, reason } => {
            assert_eq!(validator, expected_name, "{reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected ValidationFailed, got {other:?}"),
    }
}

#[test]
fn every_validator_accepts_a_real_event() {
    let payload = event_payload(3);
    for (name, validator) in validators() {
        assert!(validator.validate(&payload).is_ok(), "{name}");
    }
}

#[test]
fn typed_validator_rejects_every_truncation_into_the_data() {
    let payload = event_payload(12345);
    let typed = TypedValidator::for_type::<Event<'_>>();
    // The shortest prefix that still verifies: only trailing alignment padding (zeros after
    // the string's terminator) may be cut.
    let shortest = (0..=payload.len())
        .find(|len| typed.validate(&payload[..*len]).is_ok())
        .unwrap();
    assert!(
        payload.len() - shortest < 4,
        "{shortest} of {}",
        payload.len()
    );
    assert!(payload[shortest..].iter().all(|byte| *byte == 0));
    for len in 0..shortest {
        assert_rejected_by(&typed, &payload[..len], "Event");
    }
    // The schema-less check never panics on them, and rejects every cut into the root table.
    let structural = StructuralValidator::new();
    let root = u32::from_le_bytes(payload[..4].try_into().unwrap()) as usize;
    for len in 0..payload.len() {
        let outcome = structural.validate(&payload[..len]);
        if len < root + 4 {
            assert!(outcome.is_err(), "{len}");
        }
    }
}

#[test]
fn single_bit_flips_are_rejected_or_read_safely() {
    let payload = event_payload(77);
    let typed = TypedValidator::for_type::<Event<'_>>();
    let all = validators();
    let (mut accepted, mut rejected) = (0, 0);
    for index in 0..payload.len() {
        for bit in 0..8 {
            let mut flipped = payload.clone();
            flipped[index] ^= 1 << bit;
            // Every validator answers (a panic would fail the test).
            let answers: Vec<bool> = all
                .iter()
                .map(|(_, v)| v.validate(&flipped).is_ok())
                .collect();
            assert!(answers[0], "NoValidator accepts everything");
            if typed.validate(&flipped).is_ok() {
                // A flip the verifier cannot see (in a scalar value, not the structure):
                // reading every field through the verified view is still safe.
                let root = EventRoot::from_payload(&flipped).unwrap();
                let event = root.to_telemetry_event();
                assert!(event.name.len() <= flipped.len());
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
    }
    // Flips in offsets and lengths are structural and caught; flips in scalar values are
    // only detectable by a checksum.
    assert!(
        rejected > 0 && accepted > 0,
        "{rejected} rejected, {accepted} accepted"
    );
}

#[test]
fn wrong_root_type_is_rejected() {
    let typed = TypedValidator::for_type::<Event<'_>>();
    assert_rejected_by(&typed, &vector_payload(), "Event");
    // A string is not a table either, for the schema-less check.
    let mut builder = FlatBufferBuilder::new();
    "not a table".serialize(&mut builder).unwrap();
    assert_rejected_by(&typed, builder.finished_data(), "Event");
    assert_rejected_by(&StructuralValidator::new(), &vector_payload(), "structural");
}

#[test]
fn offsets_outside_the_buffer_are_rejected() {
    let mut payload = event_payload(1);
    // The root offset points far past the end.
    payload[..4].copy_from_slice(&0xffff_ff00u32.to_le_bytes());
    for (name, validator) in validators() {
        if matches!(name, "none" | "size") {
            continue;
        }
        assert!(validator.validate(&payload).is_err(), "{name}");
    }
    // The root table's vtable offset points before the start of the buffer.
    let mut payload = event_payload(1);
    let root = u32::from_le_bytes(payload[..4].try_into().unwrap()) as usize;
    payload[root..root + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    assert_rejected_by(&StructuralValidator::new(), &payload, "structural");
    assert_rejected_by(&TypedValidator::for_type::<Event<'_>>(), &payload, "Event");
}

#[test]
fn vtable_claiming_huge_sizes_is_rejected() {
    let payload = event_payload(9);
    let root = u32::from_le_bytes(payload[..4].try_into().unwrap());
    let at = root as usize;
    let vtable_offset = i32::from_le_bytes(payload[at..at + 4].try_into().unwrap());
    let vtable = usize::try_from(i64::from(root) - i64::from(vtable_offset)).unwrap();

    // The vtable says it is 65534 bytes long.
    let mut long_vtable = payload.clone();
    long_vtable[vtable..vtable + 2].copy_from_slice(&0xfffeu16.to_le_bytes());
    // The table says its inline part is 65535 bytes long.
    let mut huge_table = payload.clone();
    huge_table[vtable + 2..vtable + 4].copy_from_slice(&0xffffu16.to_le_bytes());
    // The `name` field's slot points 65000 bytes into the table.
    let mut huge_field = payload.clone();
    huge_field[vtable + 4..vtable + 6].copy_from_slice(&65000u16.to_le_bytes());

    let typed = TypedValidator::for_type::<Event<'_>>();
    assert_rejected_by(&typed, &long_vtable, "Event");
    assert_rejected_by(&typed, &huge_field, "Event");
    // The `flatbuffers` verifier checks fields, not the table's declared inline size, so a
    // typed check lets `huge_table` through; every field it reads is still bounds-checked.
    if typed.validate(&huge_table).is_ok() {
        let event = EventRoot::from_payload(&huge_table).unwrap();
        assert_eq!(event.id(), 9);
    }
    // The schema-less check knows the layout rules and rejects all three.
    let structural = StructuralValidator::new();
    for damaged in [&long_vtable, &huge_table, &huge_field] {
        assert_rejected_by(&structural, damaged, "structural");
    }
    let error = structural.validate(&huge_table).unwrap_err().to_string();
    assert!(error.contains("runs past the end"), "{error}");
}

#[test]
fn deep_nesting_stops_at_the_depth_limit() {
    let shallow = nested_nodes(10);
    let deep = nested_nodes(200);
    let typed = TypedValidator::for_type::<Node>();
    assert!(typed.validate(&shallow).is_ok());
    assert_rejected_by(&typed, &deep, "Node");
    let error = typed.validate(&deep).unwrap_err().to_string();
    assert!(error.contains("depth limit"), "{error}");

    let strict = TypedValidator::for_type_with_options::<Node>(VerifierOptions {
        max_depth: 5,
        ..VerifierOptions::default()
    });
    assert_rejected_by(&strict, &shallow, "Node");
}

#[test]
fn shared_objects_count_against_the_table_and_size_limits() {
    let payload = shared_leaves(5000);
    assert!(
        TypedValidator::for_type::<Many>()
            .validate(&payload)
            .is_ok()
    );
    let few_tables = TypedValidator::for_type_with_options::<Many>(VerifierOptions {
        max_tables: 1000,
        ..VerifierOptions::default()
    });
    let error = few_tables.validate(&payload).unwrap_err().to_string();
    assert!(error.contains("Too many tables"), "{error}");

    // Each visit of the shared leaf counts again towards the apparent size.
    let small_tree = TypedValidator::for_type_with_options::<Many>(VerifierOptions {
        max_apparent_size: 10_000,
        ..VerifierOptions::default()
    });
    let error = small_tree.validate(&payload).unwrap_err().to_string();
    assert!(error.contains("too large"), "{error}");
    // The schema-less check applies the same limits to what it visits: the root's vtable.
    let tiny = StructuralValidator::new().with_max_apparent_size(2);
    assert_rejected_by(&tiny, &event_payload(1), "structural");
    assert_eq!(tiny.options().max_apparent_size, 2);
    let no_tables = StructuralValidator::new().with_max_tables(0);
    assert_rejected_by(&no_tables, &event_payload(1), "structural");
}

#[test]
fn custom_verification_function_is_used_and_named() {
    let even_length = TypedValidator::from_verify(|payload| {
        if payload.len() % 2 == 0 {
            Ok(())
        } else {
            Err(flatbuffers::InvalidFlatbuffer::ApparentSizeTooLarge)
        }
    })
    .named("even");
    assert!(even_length.validate(&[0; 4]).is_ok());
    assert_rejected_by(&even_length, &[0; 3], "even");
}

#[test]
fn composite_checks_in_order_and_names_the_one_that_failed() {
    let composite = CompositeValidator::new()
        .with(SizeValidator::at_most(8))
        .with(StructuralValidator::new());
    assert_eq!(composite.len(), 2);
    // Too long and not a FlatBuffer: the size check, first, is the one reported.
    let error = composite.validate(&[0xff; 100]).unwrap_err().to_string();
    assert!(error.contains("size: payload of 100 bytes"), "{error}");
    assert!(error.ends_with("(check 1 of 2)"), "{error}");
    // Short enough but not a FlatBuffer: the second reports.
    let error = composite.validate(&[0xff; 4]).unwrap_err().to_string();
    assert!(error.contains("structural:"), "{error}");
    assert!(error.ends_with("(check 2 of 2)"), "{error}");

    let reversed = CompositeValidator::new()
        .with(StructuralValidator::new())
        .with(SizeValidator::at_most(8));
    let error = reversed.validate(&[0xff; 100]).unwrap_err().to_string();
    assert!(error.contains("structural:"), "{error}");
    assert!(CompositeValidator::new().validate(b"anything").is_ok());
    assert_eq!(format!("{reversed:?}"), r#"["structural", "size"]"#);
}
