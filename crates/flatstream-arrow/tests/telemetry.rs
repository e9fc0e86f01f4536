//! Telemetry events through Parquet and Arrow IPC, every value compared with the source.

use arrow::array::{Array, Float64Array, LargeStringArray, UInt64Array};
use arrow::record_batch::RecordBatch;
use flatstream_arrow::{BatchWriter, Format, RecordBatches, arrow, parquet};
use flatstream_core::StreamSerialize;
use flatstream_inspect::Schema;
use flatstream_io::DefaultDeframer;
use flatstream_telemetry_schema::{BFBS, TelemetryEvent};

use crate::stream_of;

fn telemetry_stream(count: u64) -> Vec<u8> {
    let payloads: Vec<Vec<u8>> = (0..count)
        .map(|id| {
            let mut builder = flatbuffers::FlatBufferBuilder::new();
            TelemetryEvent::nth(id).serialize(&mut builder).unwrap();
            builder.finished_data().to_vec()
        })
        .collect();
    stream_of(payloads.iter().map(Vec::as_slice))
}

/// Every row of `batches`, in order, equals `TelemetryEvent::nth(row)`.
fn assert_telemetry(batches: &[RecordBatch], count: u64) {
    let mut id = 0u64;
    for batch in batches {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        let names = column("name")
            .as_any()
            .downcast_ref::<LargeStringArray>()
            .unwrap();
        let ids = column("id").as_any().downcast_ref::<UInt64Array>().unwrap();
        let timestamps = column("timestamp_ns")
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap();
        let values = column("value")
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        for row in 0..batch.num_rows() {
            let event = TelemetryEvent::nth(id);
            assert!(!names.is_null(row) && !values.is_null(row), "row {id}");
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
fn parquet_round_trip_holds_every_telemetry_value() {
    let count = 150_000;
    let stream = telemetry_stream(count);
    let schema = Schema::from_bfbs(BFBS.to_vec()).unwrap();
    let batches = RecordBatches::new(stream.as_slice(), DefaultDeframer::new(), &schema).unwrap();
    let mut writer = BatchWriter::new(Vec::new(), batches.schema(), Format::Parquet).unwrap();
    let mut sizes = Vec::new();
    for batch in batches {
        let batch = batch.unwrap();
        sizes.push(batch.num_rows());
        writer.write(&batch).unwrap();
    }
    assert_eq!(sizes, [65_536, 65_536, 18_928]);
    let file = bytes::Bytes::from(writer.finish().unwrap());

    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let metadata = reader.metadata().clone();
    // The writer gathers batches into row groups of up to 1 Mi rows (parquet's default).
    assert_eq!(metadata.num_row_groups(), 1);
    assert_eq!(metadata.file_metadata().num_rows(), 150_000);
    let compression = metadata.row_group(0).column(0).compression();
    assert!(
        matches!(compression, parquet::basic::Compression::ZSTD(_)),
        "{compression:?}"
    );
    let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
    assert_telemetry(&read, count);
}

#[test]
fn arrow_ipc_round_trip_holds_every_telemetry_value() {
    let count = 5_000;
    let stream = telemetry_stream(count);
    let schema = Schema::from_bfbs(BFBS.to_vec()).unwrap();
    let batches = RecordBatches::new(stream.as_slice(), DefaultDeframer::new(), &schema)
        .unwrap()
        .with_batch_rows(1_000);
    let mut writer = BatchWriter::new(Vec::new(), batches.schema(), Format::ArrowIpc).unwrap();
    for batch in batches {
        let batch = batch.unwrap();
        assert!(batch.num_rows() <= 1_000);
        writer.write(&batch).unwrap();
    }
    let file = writer.finish().unwrap();
    let reader = arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(file), None).unwrap();
    let read: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(read.len(), 5);
    assert_telemetry(&read, count);
}

#[test]
fn a_payload_that_fails_verification_ends_the_batches_naming_frame_and_offset() {
    let mut good = Vec::new();
    for id in 0..3 {
        let mut builder = flatbuffers::FlatBufferBuilder::new();
        TelemetryEvent::nth(id).serialize(&mut builder).unwrap();
        good.push(builder.finished_data().to_vec());
    }
    let bad = [0xde, 0xad, 0xbe, 0xef].as_slice();
    let stream = stream_of([
        good[0].as_slice(),
        good[1].as_slice(),
        bad,
        good[2].as_slice(),
    ]);
    let schema = Schema::from_bfbs(BFBS.to_vec()).unwrap();
    let mut batches =
        RecordBatches::new(stream.as_slice(), DefaultDeframer::new(), &schema).unwrap();
    let error = batches.next().unwrap().unwrap_err();
    assert_eq!(error.frame_index(), Some(2));
    let offset = 2 * 4 + good[0].len() + good[1].len();
    assert_eq!(error.offset(), Some(offset as u64));
    assert!(
        error.to_string().contains("schema telemetry.Event"),
        "{error}"
    );
    assert!(batches.next().is_none());
}
