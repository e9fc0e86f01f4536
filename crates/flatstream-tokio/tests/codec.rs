//! The codec against the blocking reader and writer.

use std::path::Path;

use bytes::BytesMut;
use flatstream_checksum_crc16::Crc16;
use flatstream_checksum_crc32::Crc32;
use flatstream_checksum_crc32c::Crc32c;
use flatstream_checksum_crc64::Crc64;
use flatstream_checksum_xxh3::Xxh3;
use flatstream_core::{Checksum, ErrorKind, NoChecksum};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamReader, StreamWriter};
use flatstream_tokio::FlatstreamCodec;
use serde_json::Value;
use tokio_util::codec::{Decoder, Encoder};

fn checksum_by_name(name: &str) -> Box<dyn Checksum + Send + Sync> {
    match name {
        "none" => Box::new(NoChecksum),
        "crc16" => Box::new(Crc16::new()),
        "crc32" => Box::new(Crc32::new()),
        "crc32c" => Box::new(Crc32c::new()),
        "crc64" => Box::new(Crc64::new()),
        "xxh3" => Box::new(Xxh3::new()),
        other => panic!("unknown checksum {other}"),
    }
}

const ALGORITHMS: [&str; 6] = ["none", "crc16", "crc32", "crc32c", "crc64", "xxh3"];

fn vectors() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/wire-vectors")
}

/// A deterministic stream of chunk sizes from 1 to 1000 bytes.
fn chunk_sizes(seed: u64) -> impl Iterator<Item = usize> {
    let mut state = seed | 1;
    std::iter::from_fn(move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Some((state % 1000) as usize + 1)
    })
}

/// Feeds `bytes` to the decoder in the given chunks, then ends the stream.
fn decode_chunked(
    codec: &mut FlatstreamCodec<Box<dyn Checksum + Send + Sync>>,
    bytes: &[u8],
    seed: u64,
) -> (Vec<Vec<u8>>, Option<flatstream_core::Error>) {
    let mut buffer = BytesMut::new();
    let mut payloads = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunk_sizes(seed);
    loop {
        let take = sizes.next().unwrap().min(rest.len());
        buffer.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        let at_end = rest.is_empty();
        loop {
            let decoded = if at_end {
                codec.decode_eof(&mut buffer)
            } else {
                codec.decode(&mut buffer)
            };
            match decoded {
                Ok(Some(payload)) => payloads.push(payload.to_vec()),
                Ok(None) => break,
                Err(error) => return (payloads, Some(error)),
            }
        }
        if at_end {
            return (payloads, None);
        }
    }
}

#[test]
fn decoder_in_random_chunks_matches_the_blocking_reader_on_every_vector() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("manifest.json")).unwrap())
            .unwrap();
    for (case_index, case) in manifest["cases"].as_array().unwrap().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let bytes = std::fs::read(vectors().join(case["file"].as_str().unwrap())).unwrap();
        let limit = case["max_frame_len"]
            .as_u64()
            .map_or(64 << 20, |max| max as usize);
        let checksum = case["checksum"].as_str().unwrap();

        let mut reader = StreamReader::new(
            bytes.as_slice(),
            ChecksumDeframer::new(checksum_by_name(checksum)).with_max_frame_len(limit),
        );
        let mut expected = Vec::new();
        let expected_error = loop {
            match reader.read_message() {
                Ok(Some(payload)) => expected.push(payload.to_vec()),
                Ok(None) => break None,
                Err(error) => break Some(error),
            }
        };
        for seed in [1, 7, case_index as u64 + 100] {
            let mut codec =
                FlatstreamCodec::new(checksum_by_name(checksum)).with_max_frame_len(limit);
            let (payloads, error) = decode_chunked(&mut codec, &bytes, seed);
            assert_eq!(payloads, expected, "{name} seed {seed}");
            assert_eq!(
                error.as_ref().map(ToString::to_string),
                expected_error.as_ref().map(ToString::to_string),
                "{name} seed {seed}"
            );
        }
    }
}

#[test]
fn encode_decode_round_trips_every_algorithm_and_size() {
    let mut sizes = vec![0, 1];
    for k in 1..=20 {
        sizes.extend([(1 << k) - 1, 1 << k, (1 << k) + 1]);
    }
    for name in ALGORITHMS {
        let mut codec = FlatstreamCodec::new(checksum_by_name(name));
        let mut wire = BytesMut::new();
        let payloads: Vec<Vec<u8>> = sizes
            .iter()
            .map(|len| (0..*len).map(|i: usize| i.wrapping_mul(7) as u8).collect())
            .collect();
        for payload in &payloads {
            codec.encode(payload.as_slice(), &mut wire).unwrap();
        }
        // The codec writes what the blocking writer writes.
        let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum_by_name(name)));
        for payload in &payloads {
            writer.write_payload(payload).unwrap();
        }
        assert_eq!(&wire[..], writer.get_ref().as_slice(), "{name}");
        let mut decoded = Vec::new();
        while let Some(payload) = codec.decode_eof(&mut wire).unwrap() {
            decoded.push(payload.to_vec());
        }
        assert_eq!(decoded, payloads, "{name}");
        assert_eq!(codec.frames_decoded(), payloads.len() as u64);
        assert_eq!(codec.decoded_bytes(), codec.encoded_bytes());
    }
}

#[test]
fn limit_is_checked_before_reserving() {
    let mut codec = FlatstreamCodec::new(Crc32c::new()).with_max_frame_len(1024);
    let mut buffer = BytesMut::from(&[0xff, 0xff, 0xff, 0x7f][..]);
    let error = codec.decode(&mut buffer).unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { max: 1024, .. }
    ));
    assert!(buffer.capacity() < 1 << 20, "{}", buffer.capacity());
}

#[test]
fn torn_frame_at_end_of_stream_is_reported() {
    let mut codec = FlatstreamCodec::new(Crc32c::new());
    let mut wire = BytesMut::new();
    codec.encode(&b"whole"[..], &mut wire).unwrap();
    codec.encode(&b"torn!"[..], &mut wire).unwrap();
    wire.truncate(wire.len() - 2);
    assert_eq!(&codec.decode_eof(&mut wire).unwrap().unwrap()[..], b"whole");
    let error = codec.decode_eof(&mut wire).unwrap_err();
    assert!(error.is_torn_tail());
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(13)));
}

#[test]
fn builders_and_bytes_encode_like_slices() {
    let mut builder = flatbuffers::FlatBufferBuilder::new();
    let text = builder.create_string("built");
    builder.finish(text, None);
    let mut codec = FlatstreamCodec::new(Xxh3::new());
    let mut wire = BytesMut::new();
    codec.encode(&builder, &mut wire).unwrap();
    codec
        .encode(bytes::Bytes::from_static(b"static"), &mut wire)
        .unwrap();
    let first = codec.decode(&mut wire).unwrap().unwrap();
    assert_eq!(flatbuffers::root::<&str>(&first).unwrap(), "built");
    assert_eq!(&codec.decode(&mut wire).unwrap().unwrap()[..], b"static");
}

#[test]
fn validator_rejects_without_stopping_the_decoder() {
    let mut codec = FlatstreamCodec::new(Crc32c::new())
        .with_validator(flatstream_validate::SizeValidator::at_most(4));
    let mut wire = BytesMut::new();
    assert!(
        codec.encode(&b"too long"[..], &mut wire).is_err(),
        "rejected payloads are not encoded"
    );
    assert!(wire.is_empty());
    // Frames written by an unvalidated encoder are checked on decode.
    let mut plain = FlatstreamCodec::new(Crc32c::new());
    plain.encode(&b"long payload"[..], &mut wire).unwrap();
    plain.encode(&b"ok"[..], &mut wire).unwrap();
    let error = codec.decode(&mut wire).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::ValidationFailed { .. }));
    assert_eq!(&codec.decode(&mut wire).unwrap().unwrap()[..], b"ok");
    assert_eq!(codec.frames_decoded(), 2);
}
