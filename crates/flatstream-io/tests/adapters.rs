//! The validating, observing and bounding adapters, and how they compose.

use std::cell::RefCell;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_core::{ErrorKind, StreamDeserialize};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DefaultDeframer, DefaultFramer, DeframerExt, FramerExt,
    SliceReader, StreamReader, StreamWriter,
};
use flatstream_telemetry_schema::{EventRoot, TelemetryEvent};
use flatstream_validate::{SizeValidator, StructuralValidator};

fn stream_with_a_bad_frame() -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    writer.write(&TelemetryEvent::nth(1)).unwrap();
    writer.write_payload(b"not a flatbuffer at all").unwrap();
    writer.write(&TelemetryEvent::nth(3)).unwrap();
    writer.into_inner()
}

#[test]
fn reader_goes_on_after_a_rejected_frame() {
    let stream = stream_with_a_bad_frame();
    let deframer = ChecksumDeframer::new(Crc32c::new())
        .with_max_frame_len(1 << 20)
        .with_validator(StructuralValidator::new());
    let mut reader = StreamReader::new(stream.as_slice(), deframer);
    let first = reader.read_message().unwrap().unwrap().to_vec();
    let first_len = 8 + first.len() as u64;
    assert_eq!(EventRoot::from_payload(&first).unwrap().id(), 1);

    let error = reader.read_message().unwrap_err();
    match error.kind() {
        ErrorKind::ValidationFailed { validator, reason } => {
            assert_eq!(validator, "structural");
            assert_eq!(reason.trim_end(), reason, "no trailing whitespace");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(1), Some(first_len))
    );
    assert_eq!(error.frame_len(), Some(8 + 23));

    let third = reader.read_message().unwrap().unwrap();
    assert_eq!(EventRoot::from_payload(third).unwrap().id(), 3);
    assert_eq!(reader.read_message().unwrap(), None);
    assert_eq!(reader.frames_read(), 3);
    assert_eq!(reader.position(), stream.len() as u64);
}

#[test]
fn validating_writer_writes_nothing_for_a_rejected_payload() {
    let framer = DefaultFramer::new().with_validator(SizeValidator::at_most(8));
    let mut writer = StreamWriter::new(Vec::new(), framer);
    writer.write_payload(b"short").unwrap();
    let error = writer.write_payload(b"far too long").unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::ValidationFailed { .. }));
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(9)));
    assert_eq!(writer.get_ref().len(), 9);
    // Not an I/O failure: the writer goes on.
    writer.write_payload(b"ok again").unwrap();
    assert_eq!(writer.frames_written(), 2);
    assert_eq!(writer.framer().validator().max(), 8);
}

#[test]
fn outermost_adapter_acts_first() {
    let payload = [7u8; 20]; // over the bound of 10 and over the validator's 5
    let mut validator_outside = DefaultFramer::new()
        .bounded(10)
        .with_validator(SizeValidator::at_most(5));
    let mut bound_outside = DefaultFramer::new()
        .with_validator(SizeValidator::at_most(5))
        .bounded(10);
    let mut sink = Vec::new();
    let error =
        flatstream_core::Framer::frame_and_write(&mut validator_outside, &mut sink, &payload)
            .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::ValidationFailed { .. }),
        "{error:?}"
    );
    let error = flatstream_core::Framer::frame_and_write(&mut bound_outside, &mut sink, &payload)
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::FrameTooLarge { len: 20, max: 10 }),
        "{error:?}"
    );
    assert!(sink.is_empty());
}

#[test]
fn bounded_framer_refuses_oversized_payloads_before_writing() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new().bounded(4));
    writer.write_payload(b"1234").unwrap();
    let error = writer.write_payload(b"12345").unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 5, max: 4 }
    ));
    assert_eq!(error.frame_index(), Some(1));
    assert_eq!(writer.get_ref().len(), 8);
    assert_eq!(writer.framer().max_frame_len(), 4);
}

#[test]
fn default_framer_is_a_value() {
    let mut by_value = StreamWriter::new(Vec::new(), DefaultFramer);
    let mut by_new = StreamWriter::new(Vec::new(), DefaultFramer::new());
    by_value.write_payload(b"same").unwrap();
    by_new.write_payload(b"same").unwrap();
    assert_eq!(by_value.into_inner(), by_new.into_inner());
    assert_eq!(DefaultFramer, DefaultFramer::new());
    assert_eq!(std::mem::size_of::<DefaultFramer>(), 0);
}

/// A reader that hands out one byte per call, so a length field arrives in four reads.
struct ByteByByte<'a>(&'a [u8]);

impl std::io::Read for ByteByByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some((first, rest)) = self.0.split_first() else {
            return Ok(0);
        };
        match buf.first_mut() {
            Some(slot) => {
                *slot = *first;
                self.0 = rest;
                Ok(1)
            }
            None => Ok(0),
        }
    }
}

#[test]
fn bounded_deframer_reads_frames_within_the_bound() {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    for payload in [&b"1234"[..], b"", b"12"] {
        writer.write_payload(payload).unwrap();
    }
    let stream = writer.into_inner();
    let deframer = ChecksumDeframer::new(Crc32c::new()).bounded(4);
    assert_eq!(deframer.max_frame_len(), 4);

    let sliced: Vec<&[u8]> = SliceReader::new(&stream, deframer)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sliced, [&b"1234"[..], b"", b"12"]);

    let mut reader = StreamReader::new(ByteByByte(&stream), deframer);
    let mut read = Vec::new();
    while let Some(payload) = reader.read_message().unwrap() {
        read.push(payload.to_vec());
    }
    assert_eq!(read, [b"1234".to_vec(), b"".to_vec(), b"12".to_vec()]);
}

#[test]
fn bounded_deframer_refuses_a_long_frame_before_reading_its_payload() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"1234").unwrap();
    writer.write_payload(b"12345").unwrap();
    let stream = writer.into_inner();

    // In place: the second frame is refused where it starts.
    let mut sliced = SliceReader::new(&stream, DefaultDeframer::new().bounded(4));
    assert_eq!(sliced.next().unwrap().unwrap(), b"1234");
    let error = sliced.next().unwrap().unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::FrameTooLarge { len: 5, max: 4 }),
        "{error:?}"
    );
    assert_eq!(error.frame_index(), Some(1));
    assert_eq!(error.offset(), Some(8));

    // Through `Read`, with the length field split over four reads: the same error.
    let mut reader = StreamReader::new(ByteByByte(&stream), DefaultDeframer::new().bounded(4));
    assert_eq!(reader.read_message().unwrap().unwrap(), b"1234");
    let error = reader.read_message().unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::FrameTooLarge { len: 5, max: 4 }),
        "{error:?}"
    );
    assert_eq!(error.frame_index(), Some(1));

    // A length of 4 GiB - 1 with no payload behind it: refused by its length, not torn,
    // and nothing was sized for it.
    let hostile = u32::MAX.to_le_bytes();
    let mut reader = StreamReader::new(&hostile[..], DefaultDeframer::new().bounded(1 << 20));
    let error = reader.read_message().unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::FrameTooLarge {
                len: 0xFFFF_FFFF,
                max: 0x10_0000
            }
        ),
        "{error:?}"
    );
    assert!(reader.buffer_capacity() < 1 << 20);
}

#[test]
fn the_tighter_of_two_bounds_applies() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"123456").unwrap();
    let stream = writer.into_inner();
    let inner_tighter = DefaultDeframer::new().with_max_frame_len(4).bounded(8);
    let error = SliceReader::new(&stream, inner_tighter)
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 6, max: 4 }
    ));
    let outer_tighter = DefaultDeframer::new().with_max_frame_len(8).bounded(4);
    let error = SliceReader::new(&stream, outer_tighter)
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 6, max: 4 }
    ));
}

#[test]
fn observers_see_exactly_the_frames_that_passed() {
    let written = RefCell::new(Vec::new());
    let framer = DefaultFramer::new()
        .with_validator(SizeValidator::at_most(5))
        .observe(|payload: &[u8]| written.borrow_mut().push(payload.to_vec()));
    let mut writer = StreamWriter::new(Vec::new(), framer);
    writer.write_payload(b"one").unwrap();
    writer.write_payload(b"too long").unwrap_err();
    writer.write_payload(b"three").unwrap();
    let stream = writer.into_inner();
    assert_eq!(*written.borrow(), [b"one".to_vec(), b"three".to_vec()]);

    let mut seen = Vec::new();
    let deframer = DefaultDeframer::new()
        .with_validator(SizeValidator::at_most(3))
        .observe(|payload: &[u8]| seen.push(payload.to_vec()));
    let mut reader = StreamReader::new(stream.as_slice(), deframer);
    assert!(reader.read_message().unwrap().is_some());
    assert!(reader.read_message().is_err()); // "three" is over 3 bytes
    assert_eq!(reader.read_message().unwrap(), None);
    drop(reader);
    assert_eq!(seen, [b"one".to_vec()]);
}
