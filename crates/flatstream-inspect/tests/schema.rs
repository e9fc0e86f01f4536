//! Loading binary schemas.

use flatstream_inspect::{JsonWriter, Schema, Verifier};

use crate::data;

#[test]
fn the_root_type_comes_from_the_schema() {
    let schema = Schema::from_bfbs(data("every_type.bfbs")).unwrap();
    assert_eq!(schema.root_name(), "test.Everything");
    let schema = Schema::from_bfbs(flatstream_telemetry_schema::BFBS.to_vec()).unwrap();
    assert_eq!(schema.root_name(), "telemetry.Event");
}

#[test]
fn an_unknown_root_type_names_the_tables() {
    let error = Schema::with_root_type(data("every_type.bfbs"), "Nope").unwrap_err();
    assert_eq!(
        error.to_string(),
        "no table named `Nope` in the schema (tables: test.Everything, test.Inner, test.Other)"
    );
    // Structs are not root types.
    assert!(Schema::with_root_type(data("every_type.bfbs"), "Vec3").is_err());
}

#[test]
fn bytes_that_are_not_a_schema_are_refused() {
    let error = Schema::from_bfbs(b"not a schema".to_vec()).unwrap_err();
    assert!(
        error.to_string().starts_with("not a binary schema (.bfbs)"),
        "{error}"
    );
    // A telemetry payload is a FlatBuffer, but not a schema.
    let error = Schema::from_bfbs(data("every_type.bin")).unwrap_err();
    assert!(
        error.to_string().starts_with("not a binary schema"),
        "{error}"
    );
}

#[test]
fn damaged_schemas_are_refused_or_load_and_read_payloads_but_never_panic() {
    let bfbs = data("every_type.bfbs");
    let payload = data("every_type.bin");
    let mut loaded = 0;
    for at in 0..bfbs.len() {
        for byte in [0x00, 0x01, 0x7f, 0xff] {
            let mut copy = bfbs.clone();
            copy[at] = byte;
            if let Ok(schema) = Schema::from_bfbs(copy) {
                loaded += 1;
                let _ = Verifier::new(&schema).verify(&payload);
                let _ = JsonWriter::new(schema.layout()).write(&payload, &mut Vec::new());
            }
        }
    }
    assert!(loaded > 0);
}
