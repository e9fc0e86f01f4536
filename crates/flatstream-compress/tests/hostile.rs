//! Hostile and damaged input: refused with an error that names the frame (and message).

use flatstream_compress::chunk::{CHUNK_HEADER_LEN, ChunkHeader};
use flatstream_compress::{
    ChunkReader, ChunkWriter, Codec, DecompressDeframerExt, ErrorKind, Lz4, Zstd,
};
use flatstream_io::{DefaultDeframer, DefaultFramer, StreamReader, StreamWriter};

use crate::common::{telemetry_dictionary, telemetry_payloads};

/// A stream of `payloads` as they are, no checksum: damage is not caught by a checksum.
fn plain_stream(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
    for payload in payloads {
        writer.write_payload(payload).expect("writes");
    }
    writer.into_inner()
}

fn compressed_with<C: Codec>(mut codec: C, payload: &[u8]) -> Vec<u8> {
    let mut compressed = Vec::new();
    codec
        .compress(payload, &mut compressed)
        .expect("compresses");
    compressed
}

/// Reads every frame, returning each payload or error message.
fn outcomes<C: Codec>(
    codec: C,
    max_frame_len: usize,
    stream: &[u8],
) -> Vec<Result<Vec<u8>, String>> {
    let deframer = DefaultDeframer::new()
        .decompressed(codec)
        .with_max_frame_len(max_frame_len);
    let mut reader = StreamReader::new(stream, deframer);
    let mut outcomes = Vec::new();
    loop {
        match reader.read_message() {
            Ok(Some(payload)) => outcomes.push(Ok(payload.to_vec())),
            Ok(None) => return outcomes,
            Err(error) => {
                let resumable = error.frame_len().is_some();
                outcomes.push(Err(error.to_string()));
                if !resumable {
                    return outcomes;
                }
            }
        }
    }
}

#[test]
fn oversized_declared_length_is_refused_and_reading_goes_on() {
    let big = vec![1; 10_000];
    let zstd = plain_stream(&[
        compressed_with(Zstd::new(3), &big),
        compressed_with(Zstd::new(3), b"after"),
    ]);
    let lz4 = plain_stream(&[
        compressed_with(Lz4::new(), &big),
        compressed_with(Lz4::new(), b"after"),
    ]);
    for results in [
        outcomes(Zstd::new(3), 9_999, &zstd),
        outcomes(Lz4::new(), 9_999, &lz4),
    ] {
        let error = results[0].as_ref().expect_err("too large");
        assert_eq!(
            error,
            "frame too large: declared payload length 10000 exceeds the limit of 9999 bytes \
             (frame 0 at byte offset 0)"
        );
        assert_eq!(results[1], Ok(b"after".to_vec()));
    }
}

#[test]
fn lz4_length_of_4_gib_is_refused() {
    let mut hostile = u32::MAX.to_le_bytes().to_vec();
    hostile.extend_from_slice(&[0; 16]);
    let results = outcomes(Lz4::new(), 1 << 20, &plain_stream(&[hostile]));
    let error = results[0].as_ref().expect_err("refused");
    assert!(
        error.starts_with("frame too large: declared payload length 4294967295"),
        "{error}"
    );
}

#[test]
fn corrupt_compressed_bytes_are_errors_naming_the_frame() {
    let payloads = telemetry_payloads(3);
    for codec in ["zstd", "lz4"] {
        let mut frames: Vec<Vec<u8>> = payloads
            .iter()
            .map(|payload| match codec {
                "zstd" => compressed_with(Zstd::new(3), payload),
                _ => compressed_with(Lz4::new(), payload),
            })
            .collect();
        let damaged = &mut frames[1];
        let last = damaged.len() - 1;
        damaged[last] ^= 0xa5;
        damaged[last - 3] ^= 0x5a;
        let damaged_len = damaged.len();
        let stream = plain_stream(&frames);
        let results = match codec {
            "zstd" => outcomes(Zstd::new(3), 1 << 20, &stream),
            _ => outcomes(Lz4::new(), 1 << 20, &stream),
        };
        assert_eq!(results.len(), 3, "{codec}: {results:?}");
        assert_eq!(results[0], Ok(payloads[0].clone()));
        // lz4 may decode damaged literals into other bytes: what it must not do is panic,
        // or hand out more or fewer bytes than declared.
        match &results[1] {
            Err(error) => assert!(
                error.starts_with(&format!("invalid frame: corrupt {codec} data"))
                    && error.contains(&format!("(frame 1 at byte offset {})", 4 + frames[0].len())),
                "{codec}: {error}"
            ),
            Ok(payload) => assert_eq!(payload.len(), payloads[1].len(), "{codec}"),
        }
        assert_eq!(
            results[2],
            Ok(payloads[2].clone()),
            "{codec} after {damaged_len}"
        );
    }
}

#[test]
fn wrong_or_missing_dictionary_is_named() {
    let payload = &telemetry_payloads(1)[0];
    let ours = Zstd::with_dictionary(3, telemetry_dictionary()).expect("dictionary");
    let other_samples: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| format!("other sample {i} {}", i * 7919).into_bytes())
        .collect();
    let other = Zstd::with_dictionary(3, Zstd::train(&other_samples, 4096).expect("trains"))
        .expect("dictionary");
    let stream = plain_stream(&[compressed_with(ours.clone(), payload)]);

    let wrong = outcomes(other, 1 << 20, &stream);
    let error = wrong[0].as_ref().expect_err("wrong dictionary");
    assert!(
        error.starts_with("invalid frame: wrong zstd dictionary: the data needs dictionary"),
        "{error}"
    );
    assert!(error.ends_with("(frame 0 at byte offset 0)"), "{error}");

    let missing = outcomes(Zstd::new(3), 1 << 20, &stream);
    let error = missing[0].as_ref().expect_err("missing dictionary");
    assert!(
        error.starts_with("invalid frame: missing zstd dictionary: the data needs dictionary"),
        "{error}"
    );

    assert_eq!(outcomes(ours, 1 << 20, &stream), [Ok(payload.clone())]);
}

#[test]
fn a_dictionary_without_an_id_is_refused() {
    assert!(Zstd::with_dictionary(3, vec![1u8; 1000]).is_err());
}

/// A chunked stream with no checksum, and the offsets of its chunks.
fn chunked_stream(payloads: &[Vec<u8>], chunk_len: usize) -> (Vec<u8>, Vec<usize>) {
    let mut writer =
        ChunkWriter::new(Vec::new(), DefaultFramer::new(), Lz4::new()).with_chunk_len(chunk_len);
    for payload in payloads {
        writer.write_payload(payload).expect("writes");
    }
    let stream = writer.finish().expect("finishes");
    let mut offsets = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        offsets.push(at);
        at += 4 + u32::from_le_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
    }
    (stream, offsets)
}

fn chunk_outcomes(stream: &[u8], max_chunk_len: usize) -> Vec<Result<(u64, Vec<u8>), String>> {
    let mut reader = ChunkReader::new(stream, DefaultDeframer::new(), Lz4::new())
        .with_max_chunk_len(max_chunk_len);
    let mut outcomes = Vec::new();
    loop {
        match reader.read_message() {
            Ok(Some(message)) => {
                let message = message.to_vec();
                outcomes.push(Ok((reader.message_index(), message)));
            }
            Ok(None) => return outcomes,
            Err(error) => {
                let fatal = error.is_torn_tail();
                outcomes.push(Err(error.to_string()));
                if fatal || outcomes.len() > 10_000 {
                    return outcomes;
                }
            }
        }
    }
}

fn set_count(stream: &mut [u8], chunk_offset: usize, count: u32) {
    let at = chunk_offset + 4 + 16;
    stream[at..at + 4].copy_from_slice(&count.to_le_bytes());
}

#[test]
fn message_count_mismatch_names_chunk_and_message() {
    let payloads = telemetry_payloads(300);
    let (stream, offsets) = chunked_stream(&payloads, 4096);
    let header = ChunkHeader::decode(&stream[offsets[1] + 4..]).expect("header");
    let count = header.message_count;

    let mut more = stream.clone();
    set_count(&mut more, offsets[1], count + 1);
    let results = chunk_outcomes(&more, 1 << 20);
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        *errors[0],
        format!(
            "invalid frame: message {} missing: chunk ends after {count} messages, its header \
             says {} (frame 1 at byte offset {})",
            header.first_message_index + u64::from(count),
            count + 1,
            offsets[1]
        )
    );
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        300,
        "every message still read"
    );

    let mut fewer = stream.clone();
    set_count(&mut fewer, offsets[1], count - 1);
    let results = chunk_outcomes(&fewer, 1 << 20);
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(
        *errors[0],
        format!(
            "invalid frame: chunk holds more inner frames than its message count of {} (after \
             message {}) (frame 1 at byte offset {})",
            count - 1,
            header.first_message_index + u64::from(count) - 2,
            offsets[1]
        )
    );
    // The messages after the damaged chunk keep their original indexes.
    let after: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|(i, _)| *i)
        .collect();
    assert!(after.contains(&(header.first_message_index + u64::from(count))));
    assert!(!after.contains(&(header.first_message_index + u64::from(count) - 1)));
}

#[test]
fn torn_inner_frame_names_the_message() {
    let payloads = telemetry_payloads(10);
    let mut writer = ChunkWriter::new(Vec::new(), DefaultFramer::new(), Lz4::new());
    for payload in &payloads {
        writer.write_payload(payload).expect("writes");
    }
    let good = writer.finish().expect("finishes");
    // Rebuild the chunk with its last inner frame cut short.
    let header = ChunkHeader::decode(&good[4..]).expect("header");
    let mut inner = Vec::new();
    Lz4::new()
        .decompress(&good[4 + CHUNK_HEADER_LEN..], &mut inner, 1 << 20)
        .expect("decompresses");
    inner.truncate(inner.len() - 5);
    let header = ChunkHeader {
        uncompressed_len: inner.len() as u32,
        ..header
    };
    let mut payload = header.encode().to_vec();
    Lz4::new()
        .compress(&inner, &mut payload)
        .expect("compresses");
    let stream = plain_stream(&[payload]);
    let results = chunk_outcomes(&stream, 1 << 20);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 9);
    let error = results[9].as_ref().expect_err("torn");
    assert!(
        error.starts_with("invalid frame: message 9 (message 9 of the chunk): unexpected end of stream in the payload"),
        "{error}"
    );
    assert!(error.ends_with("(frame 0 at byte offset 0)"), "{error}");
}

#[test]
fn oversized_chunk_is_refused_before_decompressing() {
    let payloads = telemetry_payloads(2000);
    let (stream, _) = chunked_stream(&payloads, 64 * 1024);
    let results = chunk_outcomes(&stream, 1000);
    let error = results[0].as_ref().expect_err("too large");
    assert!(
        error.starts_with("frame too large: declared payload length"),
        "{error}"
    );
    assert!(
        error.ends_with("exceeds the limit of 1000 bytes (frame 0 at byte offset 0)"),
        "{error}"
    );
}

#[test]
fn not_a_chunk_and_wrong_codec_are_named() {
    let stream = plain_stream(&[b"plain payload, no marker".to_vec()]);
    let results = chunk_outcomes(&stream, 1 << 20);
    assert_eq!(
        results,
        [Err(
            "invalid frame: not a chunk: no chunk marker (frame 0 at byte offset 0)".to_string()
        )]
    );
    let mut writer = ChunkWriter::new(Vec::new(), DefaultFramer::new(), Zstd::new(1));
    writer.write_payload(b"zstd").expect("writes");
    let stream = writer.finish().expect("finishes");
    let results = chunk_outcomes(&stream, 1 << 20);
    assert_eq!(
        results,
        [Err("invalid frame: chunk compressed with zstd, the reader decompresses lz4 (frame 0 at byte offset 0)".to_string())]
    );
}

#[test]
fn per_frame_oversize_error_keeps_the_frame_too_large_kind() {
    let stream = plain_stream(&[compressed_with(Lz4::new(), &[0; 100])]);
    let deframer = DefaultDeframer::new()
        .decompressed(Lz4::new())
        .with_max_frame_len(10);
    let mut reader = StreamReader::new(&stream[..], deframer);
    let error = reader.read_message().expect_err("too large");
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 100, max: 10 }
    ));
    assert_eq!(error.frame_index(), Some(0));
}
