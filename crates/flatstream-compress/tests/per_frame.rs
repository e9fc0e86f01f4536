//! Per-frame compression composed with checksums, validators and observers.

use std::cell::RefCell;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_compress::{
    AnyCodec, Codec, CompressFramerExt, DecompressDeframerExt, ErrorKind, Lz4, Zstd,
};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DeframerExt, FramerExt, SliceReader, StreamReader,
    StreamWriter,
};
use flatstream_validate::SizeValidator;

use crate::common::{telemetry_dictionary, telemetry_payloads};

fn codecs() -> Vec<AnyCodec> {
    let dictionary = telemetry_dictionary();
    vec![
        Zstd::new(1).into(),
        Zstd::new(3).into(),
        Zstd::with_dictionary(3, dictionary)
            .expect("dictionary")
            .into(),
        Lz4::new().into(),
    ]
}

fn write_all<C: Codec>(codec: C, payloads: &[Vec<u8>]) -> Vec<u8> {
    let framer = ChecksumFramer::new(Crc32c::new()).compressed(codec);
    let mut writer = StreamWriter::new(Vec::new(), framer);
    for payload in payloads {
        writer.write_payload(payload).expect("writes");
    }
    writer.into_inner()
}

fn read_all<C: Codec>(codec: C, stream: &[u8]) -> Vec<Vec<u8>> {
    let deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(codec);
    let mut reader = StreamReader::new(stream, deframer);
    let mut payloads = Vec::new();
    while let Some(payload) = reader.read_message().expect("reads") {
        payloads.push(payload.to_vec());
    }
    payloads
}

#[test]
fn round_trips_every_codec_with_empty_and_large_payloads() {
    let mut payloads = telemetry_payloads(500);
    payloads.push(Vec::new());
    payloads.push(vec![7; 300_000]);
    payloads.push(
        (0..100_000u32)
            .map(|i| i.wrapping_mul(2_654_435_761) as u8)
            .collect(),
    );
    for codec in codecs() {
        let stream = write_all(codec.clone(), &payloads);
        assert_eq!(read_all(codec.clone(), &stream), payloads, "{codec:?}");
    }
}

#[test]
fn dictionary_makes_telemetry_payloads_at_least_twice_smaller() {
    let payloads = telemetry_payloads(20_000);
    let payload_bytes: usize = payloads.iter().map(Vec::len).sum();
    let codec = Zstd::with_dictionary(3, telemetry_dictionary()).expect("dictionary");
    let stream = write_all(codec, &payloads);
    // Each frame's header (length and crc32c) is 8 bytes, with or without compression.
    let compressed_bytes = stream.len() - 8 * payloads.len();
    assert!(
        payload_bytes >= 2 * compressed_bytes,
        "{payload_bytes} bytes to {compressed_bytes}"
    );
}

#[test]
fn checksum_covers_the_compressed_bytes_on_the_wire() {
    let payloads = telemetry_payloads(3);
    let stream = write_all(Lz4::new(), &payloads);
    // The stored bytes verify as an ordinary crc32c stream of compressed payloads.
    let mut plain = StreamReader::new(&stream[..], ChecksumDeframer::new(Crc32c::new()));
    let first = plain
        .read_message()
        .expect("verifies")
        .expect("a frame")
        .to_vec();
    assert_ne!(first, payloads[0]);
    assert_eq!(
        first.len(),
        u32::from_le_bytes(stream[..4].try_into().unwrap()) as usize
    );
    // A flipped compressed byte is a checksum mismatch, found before decompressing, and
    // the reader goes on to the next frame.
    let mut damaged = stream.clone();
    damaged[10] ^= 0x40;
    let deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(Lz4::new());
    let mut reader = StreamReader::new(&damaged[..], deframer);
    let error = reader.read_message().expect_err("damaged");
    assert!(
        matches!(error.kind(), ErrorKind::ChecksumMismatch { .. }),
        "{error}"
    );
    assert_eq!(error.frame_index(), Some(0));
    assert_eq!(
        reader.read_message().expect("next frame"),
        Some(&payloads[1][..])
    );
}

#[test]
fn validators_and_observers_outside_see_the_uncompressed_payload() {
    let payloads = telemetry_payloads(10);
    let seen_writing = RefCell::new(Vec::new());
    let framer = ChecksumFramer::new(Crc32c::new())
        .compressed(Zstd::new(3))
        .with_validator(SizeValidator::at_least(1))
        .observe(|payload: &[u8]| seen_writing.borrow_mut().push(payload.to_vec()));
    let mut writer = StreamWriter::new(Vec::new(), framer);
    for payload in &payloads {
        writer.write_payload(payload).expect("writes");
    }
    assert!(
        writer.write_payload(b"").is_err(),
        "the validator sees the raw payload"
    );
    let stream = writer.into_inner();
    assert_eq!(*seen_writing.borrow(), payloads);

    let mut seen_reading = Vec::new();
    let deframer = ChecksumDeframer::new(Crc32c::new())
        .decompressed(Zstd::new(3))
        .with_validator(SizeValidator::at_most(payloads[0].len() + 64))
        .observe(|payload: &[u8]| seen_reading.push(payload.to_vec()));
    let mut reader = StreamReader::new(&stream[..], deframer);
    while reader.read_message().expect("reads").is_some() {}
    drop(reader);
    assert_eq!(seen_reading, payloads);
}

#[test]
fn parse_in_place_is_refused_with_a_reason() {
    use flatstream_core::Deframer;
    let stream = write_all(Lz4::new(), &telemetry_payloads(1));
    let mut deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(Lz4::new());
    let error = deframer.parse_frame(&stream).expect_err("cannot borrow");
    assert!(error.to_string().contains("process_all"), "{error}");
}

/// Every reader of bytes in memory decompresses through `decode_frame`: the in-place
/// `StreamReader` (whatever the buffer size, so frames lie wholly in it, straddle it, or
/// are bigger than it) and `SliceReader::process_all`, with payloads that compress and
/// payloads that grow (lz4 of noise), each equal to what the copying reader returns.
#[test]
fn every_reader_of_bytes_in_memory_decompresses() {
    let mut payloads = telemetry_payloads(300);
    payloads.push(Vec::new());
    payloads.push(
        (0..5_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    );
    payloads.extend(telemetry_payloads(20));
    for codec in codecs() {
        let stream = write_all(codec.clone(), &payloads);
        assert_eq!(read_all(codec.clone(), &stream), payloads, "{codec:?}");
        for capacity in [16, 100, 4096, 1 << 20] {
            let deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(codec.clone());
            let source = std::io::BufReader::with_capacity(capacity, &stream[..]);
            let mut reader = StreamReader::in_place(source, deframer);
            let mut read = Vec::new();
            while let Some(payload) = reader.read_message().expect("reads in place") {
                read.push(payload.to_vec());
            }
            assert_eq!(read, payloads, "{codec:?}, buffer of {capacity}");
            assert_eq!(reader.position(), stream.len() as u64);
        }
        let deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(codec.clone());
        let mut reader = SliceReader::new(&stream, deframer);
        let mut read = Vec::new();
        reader
            .process_all(|payload| {
                read.push(payload.to_vec());
                Ok(())
            })
            .expect("reads the slice");
        assert_eq!(read, payloads, "{codec:?}");
        assert_eq!(reader.frames_read(), payloads.len() as u64);
    }
}

/// Corrupt compressed bytes under a valid checksum are an error at that frame in the
/// in-memory readers too, and reading goes on with the next frame.
#[test]
fn a_frame_that_does_not_decompress_is_located_and_stepped_over_in_memory() {
    let payloads = telemetry_payloads(3);
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    let good = write_all(Lz4::new(), &payloads[..1]);
    writer.write_payload(b"\xff\xff\xff\xff not lz4").unwrap();
    let mut stream = good.clone();
    let bad_len = writer.into_inner();
    stream.extend_from_slice(&bad_len);
    stream.extend_from_slice(&good);
    let deframer = ChecksumDeframer::new(Crc32c::new()).decompressed(Lz4::new());
    let mut reader = StreamReader::in_place(&stream[..], deframer);
    assert_eq!(reader.read_message().unwrap(), Some(&payloads[0][..]));
    let error = reader.read_message().unwrap_err();
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(1), Some(good.len() as u64))
    );
    assert!(error.is_resumable(), "{error}");
    assert_eq!(reader.read_message().unwrap(), Some(&payloads[0][..]));
    assert_eq!(reader.read_message().unwrap(), None);
}
