//! Every FlatBuffers type to its Arrow type, values checked through a Parquet round trip.

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use flatstream_arrow::{BatchBuilder, BatchWriter, Format, arrow, parquet};
use flatstream_inspect::{Schema, Verifier};

use crate::data;

/// Each column of row 0 as `name: type = value`.
fn describe(batch: &RecordBatch) -> Vec<String> {
    let options = FormatOptions::default().with_null("null");
    batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let value = ArrayFormatter::try_new(column, &options)
                .unwrap()
                .value(0)
                .to_string();
            // Escaped, so that the golden file holds no control characters.
            format!(
                "{}: {} = {}",
                field.name(),
                field.data_type(),
                value.escape_debug()
            )
        })
        .collect()
}

#[test]
fn every_type_but_unions_maps_to_arrow_and_survives_parquet() {
    let schema = Schema::from_bfbs(data("no_union.bfbs")).unwrap();
    let payload = data("no_union.bin");
    Verifier::new(&schema).verify(&payload).unwrap();
    let mut builder = BatchBuilder::new(&schema).unwrap();
    builder.push(&payload).unwrap();
    let batch = builder.finish().unwrap();
    let described = describe(&batch);
    for line in &described {
        println!("{line}");
    }
    let golden = String::from_utf8(data("no_union.arrow.txt")).unwrap();
    assert_eq!(
        described.join("\n"),
        golden.trim_end(),
        "no_union.arrow.txt"
    );

    let mut writer = BatchWriter::new(Vec::new(), batch.schema(), Format::Parquet).unwrap();
    writer.write(&batch).unwrap();
    let file = bytes::Bytes::from(writer.finish().unwrap());
    let read: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .map(Result::unwrap)
            .collect();
    assert_eq!(read.len(), 1);
    assert_eq!(describe(&read[0]), described);
}

#[test]
fn unions_are_refused_with_a_clear_message() {
    let schema = Schema::from_bfbs(data("every_type.bfbs")).unwrap();
    let error = BatchBuilder::new(&schema).unwrap_err().to_string();
    assert!(error.contains("unions are not exported"), "{error}");
    assert!(error.starts_with("payload"), "{error}");
}

#[test]
fn a_table_without_unions_in_a_schema_with_them_exports() {
    let schema = Schema::with_root_type(data("every_type.bfbs"), "Inner").unwrap();
    let builder = BatchBuilder::new(&schema).unwrap();
    let fields: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|field| format!("{}: {}", field.name(), field.data_type()))
        .collect();
    assert_eq!(fields, ["label: LargeUtf8", "weight: Float64"]);
}

#[test]
fn damaged_payloads_are_errors_never_panics() {
    let schema = Schema::from_bfbs(data("no_union.bfbs")).unwrap();
    let verifier = Verifier::new(&schema);
    let payload = data("no_union.bin");
    let mut damaged: Vec<Vec<u8>> = (0..payload.len())
        .map(|len| payload[..len].to_vec())
        .collect();
    for at in 0..payload.len() {
        for byte in [0x00, 0x01, 0x7f, 0x80, 0xff, payload[at] ^ 0x04] {
            let mut copy = payload.clone();
            copy[at] = byte;
            damaged.push(copy);
        }
    }
    let mut passed = 0;
    for copy in &damaged {
        let mut builder = BatchBuilder::new(&schema).unwrap();
        if verifier.verify(copy).is_ok() {
            passed += 1;
            builder.push(copy).expect("a verified payload makes a row");
            assert_eq!(builder.finish().unwrap().num_rows(), 1);
        } else if builder.push(copy).is_ok() {
            // Read safely even unverified; the row is whole.
            assert_eq!(builder.finish().unwrap().num_rows(), 1);
        }
    }
    assert!(passed > 0 && passed < damaged.len(), "{passed}");
}
