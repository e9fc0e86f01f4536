//! Schema-aware commands: `cat --format json` and `export`.

use std::path::{Path, PathBuf};

use flatstream_telemetry_schema::TelemetryEvent;
use serde_json::Value;

use super::{ScratchDir, flatstream, flatstream_with_input, stderr};

fn inspect_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../flatstream-inspect/tests/data")
        .join(name)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// `gen telemetry --count N` into `dir/name`.
fn telemetry(dir: &Path, name: &str, count: u64) -> String {
    let file = dir.join(name).display().to_string();
    let output = flatstream(&["gen", "telemetry", &file, "--count", &count.to_string()]);
    assert!(output.status.success(), "{}", stderr(&output));
    file
}

#[test]
fn cat_json_prints_every_telemetry_event_by_field_name() {
    let dir = ScratchDir::new("inspect-json");
    let file = telemetry(&dir, "json-telemetry.fs", 2_000);
    let output = flatstream(&["cat", &file, "--schema", "telemetry", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let mut count = 0;
    for (id, line) in (0u64..).zip(text.lines()) {
        let event = TelemetryEvent::nth(id);
        let printed: Value = serde_json::from_str(line).unwrap();
        let expected = serde_json::json!({
            "name": event.name,
            "id": event.id,
            "timestamp_ns": event.timestamp_ns,
            "value": event.value,
        });
        assert_eq!(printed, expected, "line {id}");
        count += 1;
    }
    assert_eq!(count, 2_000);
}

#[test]
fn cat_json_with_a_bfbs_file_prints_the_golden_line() {
    let dir = ScratchDir::new("inspect-bfbs");
    let payload = std::fs::read(inspect_data("every_type.bin")).unwrap();
    let file = dir.join("every-type.fs").display().to_string();
    let packed = flatstream_with_input(
        &["pack", "-o", &file],
        format!("{}\n", hex(&payload)).as_bytes(),
    );
    assert!(packed.status.success(), "{}", stderr(&packed));
    let schema = inspect_data("every_type.bfbs").display().to_string();
    let output = flatstream(&["cat", &file, "--schema", &schema, "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let golden = std::fs::read_to_string(inspect_data("every_type.jsonl")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), golden);
}

/// Two telemetry events, a payload that is no FlatBuffer, a third event, in `dir/name`.
fn stream_with_an_invalid_payload(dir: &Path, name: &str) -> String {
    let good = telemetry(dir, &format!("{name}-good.fs"), 3);
    let lines = flatstream(&["cat", &good]);
    let lines = String::from_utf8(lines.stdout).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    let input = format!("{}\n{}\ndeadbeef\n{}\n", lines[0], lines[1], lines[2]);
    let file = dir.join(name).display().to_string();
    let packed = flatstream_with_input(&["pack", "-o", &file], input.as_bytes());
    assert!(packed.status.success(), "{}", stderr(&packed));
    file
}

#[test]
fn an_invalid_payload_stops_cat_json_naming_frame_and_offset() {
    let dir = ScratchDir::new("inspect-invalid");
    let file = stream_with_an_invalid_payload(&dir, "json-invalid.fs");
    let output = flatstream(&["cat", &file, "--schema", "telemetry", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // The two events before it are printed.
    let message = stderr(&output);
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 2);
    assert!(
        message.contains("validation failed: schema telemetry.Event"),
        "{message}"
    );
    assert!(
        message.contains("(frame 2 at byte offset 128)"),
        "{message}"
    );
}

#[test]
fn skip_invalid_goes_on_and_counts_what_it_skipped() {
    let dir = ScratchDir::new("inspect-skip-invalid");
    let file = stream_with_an_invalid_payload(&dir, "json-skip.fs");
    let output = flatstream(&[
        "cat",
        &file,
        "--schema",
        "telemetry",
        "--format",
        "json",
        "--skip-invalid",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let message = stderr(&output);
    let printed: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ids: Vec<u64> = printed
        .iter()
        .map(|event| event["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    assert!(message.contains("message 2 skipped"), "{message}");
    assert!(
        message.contains("3 messages printed, 1 invalid skipped"),
        "{message}"
    );
}

#[test]
fn json_needs_a_schema_and_a_known_root_type() {
    let dir = ScratchDir::new("inspect-usage");
    let file = telemetry(&dir, "json-usage.fs", 1);
    let output = flatstream(&["cat", &file, "--format", "json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("needs --schema"),
        "{}",
        stderr(&output)
    );
    let output = flatstream(&[
        "cat",
        &file,
        "--schema",
        "telemetry",
        "--root-type",
        "Nope",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no table named `Nope`"),
        "{}",
        stderr(&output)
    );
    let output = flatstream(&["cat", &file, "--schema", "no-such.bfbs", "--format", "json"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let output = flatstream(&["cat", &file, "--schema", &file, "--format", "json"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not a binary schema"),
        "{}",
        stderr(&output)
    );
}

/// Every row of the exported batches equals `TelemetryEvent::nth(row)`.
fn assert_exported_telemetry(
    batches: &[flatstream::arrow::arrow::record_batch::RecordBatch],
    count: u64,
) {
    use flatstream::arrow::arrow::array::{Array, Float64Array, LargeStringArray, UInt64Array};
    let mut id = 0;
    for batch in batches {
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let names = column("name");
        let names = names.as_any().downcast_ref::<LargeStringArray>().unwrap();
        let ids = column("id");
        let ids = ids.as_any().downcast_ref::<UInt64Array>().unwrap();
        let timestamps = column("timestamp_ns");
        let timestamps = timestamps.as_any().downcast_ref::<UInt64Array>().unwrap();
        let values = column("value");
        let values = values.as_any().downcast_ref::<Float64Array>().unwrap();
        for row in 0..batch.num_rows() {
            let event = TelemetryEvent::nth(id);
            assert!(names.is_valid(row) && ids.is_valid(row), "row {id}");
            assert_eq!(names.value(row), event.name, "row {id}");
            assert_eq!(ids.value(row), event.id, "row {id}");
            assert_eq!(timestamps.value(row), event.timestamp_ns, "row {id}");
            assert_eq!(
                values.value(row).to_bits(),
                event.value.to_bits(),
                "row {id}"
            );
            id += 1;
        }
    }
    assert_eq!(id, count);
}

#[test]
fn export_to_parquet_reads_back_with_every_value_of_the_source() {
    use flatstream::arrow::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let dir = ScratchDir::new("inspect-export-parquet");
    let count = 100_000;
    let file = telemetry(&dir, "export.fs", count);
    let parquet = dir.join("export.parquet").display().to_string();
    let output = flatstream(&[
        "export",
        &file,
        "--schema",
        "telemetry",
        "--to",
        "parquet",
        "-o",
        &parquet,
        "--batch-rows",
        "30000",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("exported 100000 rows of telemetry.Event"),
        "{}",
        stderr(&output)
    );
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&parquet).unwrap()).unwrap();
    let batches: Vec<_> = reader.build().unwrap().map(Result::unwrap).collect();
    assert_exported_telemetry(&batches, count);
}

#[test]
fn export_to_arrow_ipc_reads_back_with_every_value_of_the_source() {
    let dir = ScratchDir::new("inspect-export-ipc");
    let count = 3_000;
    let file = telemetry(&dir, "export-ipc.fs", count);
    let ipc = dir.join("export.arrow").display().to_string();
    let output = flatstream(&[
        "export",
        &file,
        "--schema",
        "telemetry",
        "--to",
        "arrow",
        "-o",
        &ipc,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let reader = flatstream::arrow::arrow::ipc::reader::FileReader::try_new(
        std::fs::File::open(&ipc).unwrap(),
        None,
    )
    .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_exported_telemetry(&batches, count);
}

#[test]
fn export_of_a_stream_with_an_invalid_payload_writes_nothing() {
    let dir = ScratchDir::new("inspect-export-invalid");
    let file = stream_with_an_invalid_payload(&dir, "export-invalid.fs");
    let parquet = dir.join("export-invalid.parquet");
    let _ = std::fs::remove_file(&parquet);
    let target = parquet.display().to_string();
    let output = flatstream(&[
        "export",
        &file,
        "--schema",
        "telemetry",
        "--to",
        "parquet",
        "-o",
        &target,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("(frame 2 at byte offset 128)"),
        "{message}"
    );
    assert!(message.contains("not written"), "{message}");
    assert!(!parquet.exists());
    // With --skip-invalid the three good events are exported and the bad one counted.
    let output = flatstream(&[
        "export",
        &file,
        "--schema",
        "telemetry",
        "--to",
        "parquet",
        "-o",
        &target,
        "--skip-invalid",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("exported 3 rows of telemetry.Event"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("1 invalid skipped"),
        "{}",
        stderr(&output)
    );
    assert!(parquet.exists());
}

#[test]
fn export_refuses_a_schema_with_a_union_naming_the_field() {
    let dir = ScratchDir::new("inspect-export-union");
    let file = telemetry(&dir, "export-union.fs", 1);
    let schema = inspect_data("every_type.bfbs").display().to_string();
    let target = dir.join("export-union.parquet").display().to_string();
    let output = flatstream(&[
        "export", &file, "--schema", &schema, "--to", "parquet", "-o", &target,
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("payload_type: unions are not exported"),
        "{}",
        stderr(&output)
    );
}
