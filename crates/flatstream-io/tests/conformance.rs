//! Conformance against bytes we did not write: the wire vectors of an independent
//! implementation and the reference corpus of another implementation of this format
//! (both copied from the shared conformance set into `tests/data/wire-vectors`).

use std::collections::BTreeSet;

use flatbuffers::FlatBufferBuilder;
use flatstream_core::{Error, ErrorKind, FramePart};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, SliceReader, StreamReader, StreamWriter};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{checksum_by_name, data_dir, drain};

fn vectors_dir() -> std::path::PathBuf {
    data_dir().join("wire-vectors")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Reads a whole stream: the payloads before the first error, that error, and where the
/// reader stands. The blocking reader and the slice reader must agree exactly.
fn read_stream(
    bytes: &[u8],
    checksum: &str,
    max_frame_len: Option<usize>,
) -> (Vec<Vec<u8>>, Option<Error>, u64) {
    let checksum = checksum_by_name(checksum);
    let mut deframer = ChecksumDeframer::new(&*checksum);
    if let Some(max) = max_frame_len {
        deframer = deframer.with_max_frame_len(max);
    }
    let mut reader = StreamReader::new(bytes, deframer);
    let (payloads, error) = drain(|| {
        reader
            .read_message()
            .map(|payload| payload.map(<[u8]>::to_vec))
    });

    let mut slice = SliceReader::new(bytes, deframer);
    let (borrowed, slice_error) = drain(|| {
        slice
            .read_message()
            .map(|payload| payload.map(<[u8]>::to_vec))
    });
    assert_eq!(borrowed, payloads, "slice reader payloads differ");
    assert_eq!(
        slice_error.as_ref().map(ToString::to_string),
        error.as_ref().map(ToString::to_string),
        "slice reader error differs"
    );
    assert_eq!(slice.position(), reader.position());
    assert_eq!(slice.frames_read(), reader.frames_read());
    (payloads, error, reader.position())
}

/// Writes `payloads` with our writer.
fn write_stream(payloads: &[Vec<u8>], checksum: &str) -> Vec<u8> {
    let checksum = checksum_by_name(checksum);
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(&*checksum));
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    writer.into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            write!(hex, "{byte:02x}").unwrap();
            hex
        })
}

/// Which part a torn vector is torn in, from its name.
fn torn_part(name: &str, checksum_width: u64) -> FramePart {
    if name.ends_with("truncated-in-length") {
        FramePart::Length
    } else if name.ends_with("truncated-in-checksum") {
        FramePart::Checksum
    } else if name.ends_with("truncated-after-length") {
        // The length is whole; the next byte missing belongs to the checksum, if any.
        if checksum_width == 0 {
            FramePart::Payload
        } else {
            FramePart::Checksum
        }
    } else if name.ends_with("truncated-in-payload") {
        FramePart::Payload
    } else {
        panic!("{name}: unknown truncation")
    }
}

#[test]
fn every_wire_vector_reads_as_the_manifest_says() {
    let manifest = manifest();
    let cases = manifest["cases"].as_array().unwrap();
    let mut files_checked = BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let file = case["file"].as_str().unwrap();
        let checksum = case["checksum"].as_str().unwrap();
        let width = case["checksum_width"].as_u64().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let max_frame_len = case["max_frame_len"].as_u64().map(|max| max as usize);
        let frames = case["frames"].as_array().unwrap();
        let bytes = std::fs::read(vectors_dir().join(file)).unwrap();

        assert_eq!(
            checksum_by_name(checksum).size() as u64,
            width,
            "{name}: width"
        );
        let (payloads, error, position) = read_stream(&bytes, checksum, max_frame_len);

        // Every good frame, in order, with its exact bytes.
        assert_eq!(
            payloads.len(),
            frames.len(),
            "{name}: good frames delivered"
        );
        for (index, (payload, frame)) in payloads.iter().zip(frames).enumerate() {
            assert_eq!(
                payload.len() as u64,
                frame["len"].as_u64().unwrap(),
                "{name}: frame {index} length"
            );
            assert_eq!(
                sha256_hex(payload),
                frame["sha256"].as_str().unwrap(),
                "{name}: frame {index} sha256"
            );
        }

        // Where the last good frame ended: the error's offset, or the end of the stream.
        let good_end = error
            .as_ref()
            .map_or(position, |error| error.offset().unwrap());
        // The good frames re-written by us are the file's bytes up to there.
        let rewritten = write_stream(&payloads, checksum);
        assert_eq!(rewritten.len() as u64, good_end, "{name}: good frames end");
        assert!(
            bytes.starts_with(&rewritten),
            "{name}: our bytes differ from the vector's"
        );

        let stop_frame = case["after_frames"].as_u64().unwrap_or(frames.len() as u64);
        if expect == "ok" {
            assert!(error.is_none(), "{name}: unexpected {error:?}");
            assert_eq!(position, bytes.len() as u64, "{name}: consumed everything");
        } else {
            {
                let error = error.unwrap_or_else(|| panic!("{name}: expected {expect}"));
                assert_eq!(error.frame_index(), Some(stop_frame), "{name}: frame index");
                match (expect, error.kind()) {
                    ("truncated", ErrorKind::UnexpectedEof { part, needed, got }) => {
                        // The reader stays at the start of the torn frame.
                        assert_eq!(position, good_end, "{name}: reader position");
                        assert_eq!(*part, torn_part(name, width), "{name}: torn part");
                        assert!(got < needed, "{name}: {got} of {needed}");
                        // The torn bytes are all that is left after the last good frame.
                        let tail = bytes.len() as u64 - good_end;
                        assert!(tail < 4 + width + needed, "{name}: tail of {tail}");
                    }
                    (
                        "checksum_mismatch",
                        ErrorKind::ChecksumMismatch {
                            expected,
                            calculated,
                        },
                    ) => {
                        assert_ne!(expected, calculated, "{name}");
                    }
                    ("frame_too_large", ErrorKind::FrameTooLarge { len, max }) => {
                        assert_eq!(Some(*max as usize), max_frame_len, "{name}: limit");
                        assert!(len > max, "{name}: {len} <= {max}");
                        assert_eq!(position, good_end, "{name}: reader position");
                    }
                    (expect, kind) => panic!("{name}: expected {expect}, got {kind:?}"),
                }
            }
        }
        files_checked.insert(file.to_owned());
    }

    // Every vector file on disk is covered by the manifest, and so by this test.
    let on_disk: BTreeSet<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|file| {
            std::path::Path::new(file)
                .extension()
                .is_some_and(|extension| extension == "bin")
        })
        .collect();
    assert_eq!(files_checked, on_disk);
    // 6 cases without a checksum (no checksum to tear or corrupt), 9 for each of the five others.
    assert_eq!(files_checked.len(), 51);
}

#[test]
fn mixed_vectors_decode_the_same_payloads_under_every_checksum() {
    let reference = std::fs::read(vectors_dir().join("none-mixed.bin")).unwrap();
    let (expected, error, _) = read_stream(&reference, "none", None);
    assert!(error.is_none());
    assert_eq!(expected.len(), 47);
    assert_eq!(expected.last().unwrap().len(), 1_048_583);
    for checksum in ["crc16", "crc32", "crc32c", "crc64", "xxh3"] {
        let bytes = std::fs::read(vectors_dir().join(format!("{checksum}-mixed.bin"))).unwrap();
        let (payloads, error, _) = read_stream(&bytes, checksum, None);
        assert!(error.is_none(), "{checksum}: {error:?}");
        assert_eq!(payloads, expected, "{checksum}");
        assert_eq!(
            write_stream(&payloads, checksum),
            bytes,
            "{checksum}: written bytes"
        );
    }
}

#[test]
fn mixed_vector_over_a_smaller_limit_stops_at_the_big_frame() {
    let bytes = std::fs::read(vectors_dir().join("crc32c-mixed.bin")).unwrap();
    let (payloads, error, position) = read_stream(&bytes, "crc32c", Some(1 << 20));
    assert_eq!(payloads.len(), 46);
    let error = error.unwrap();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge {
            len: 1_048_583,
            max: 1_048_576
        }
    ));
    assert_eq!(error.offset(), Some(position));
}

/// The reference corpus names its checksums as that implementation does.
fn corpus_checksum(prefix: &str) -> &'static str {
    match prefix {
        "default" => "none",
        "crc16" => "crc16",
        "crc32" => "crc32",
        "xxhash64" => "xxh3",
        other => panic!("unknown corpus checksum {other}"),
    }
}

/// The payload each corpus file carries, built independently of the file.
fn corpus_payload(kind: &str) -> Vec<u8> {
    match kind {
        "empty" => Vec::new(),
        "small" => b"abc".to_vec(),
        // A FlatBuffer whose root is a vector of 1024 zero bytes.
        "medium" => {
            let mut builder = FlatBufferBuilder::new();
            let zeros = builder.create_vector(&[0u8; 1024]);
            builder.finish_minimal(zeros);
            builder.finished_data().to_vec()
        }
        other => panic!("unknown corpus payload {other}"),
    }
}

#[test]
fn reference_corpus_reads_and_writes_byte_for_byte() {
    let dir = vectors_dir().join("reference-corpus");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let (prefix, kind) = stem.split_once('_').unwrap();
        let checksum = corpus_checksum(prefix);
        let text = std::fs::read_to_string(&path).unwrap();
        let hex: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = flatstream_test_support::decode_hex(&hex).unwrap();

        let (payloads, error, _) = read_stream(&bytes, checksum, None);
        assert!(error.is_none(), "{stem}: {error:?}");
        let expected = corpus_payload(kind);
        assert_eq!(payloads, std::slice::from_ref(&expected), "{stem}: payload");
        assert_eq!(
            write_stream(&payloads, checksum),
            bytes,
            "{stem}: written bytes"
        );

        // Also through the expert path: a finished builder straight to the writer.
        if kind == "medium" {
            let mut builder = FlatBufferBuilder::new();
            let zeros = builder.create_vector(&[0u8; 1024]);
            builder.finish_minimal(zeros);
            let checksum = checksum_by_name(checksum);
            let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(&*checksum));
            writer.write_finished(&mut builder).unwrap();
            assert_eq!(writer.into_inner(), bytes, "{stem}: write_finished");
        }
        checked += 1;
    }
    assert_eq!(checked, 12);
}
