//! Integration tests of flatstream-core's public API.

use flatstream_core::wire::{FrameHeader, LENGTH_LEN, MAX_HEADER_LEN};
use flatstream_core::{Checksum, Error, ErrorKind, FramePart, NoChecksum, StreamSerialize};

#[test]
fn header_round_trips_through_public_api() {
    let header = FrameHeader::for_payload(&NoChecksum, &[7; 300]).unwrap();
    let encoded = header.encode(NoChecksum.size());
    assert_eq!(encoded.as_bytes().len(), LENGTH_LEN);
    assert_eq!(FrameHeader::decode(encoded.as_bytes()), header);
    assert!(MAX_HEADER_LEN >= encoded.as_bytes().len());
}

#[test]
fn error_kind_matches_without_parsing_text() {
    let error = Error::unexpected_eof(FramePart::Payload, 100, 10).at_frame(3, 99);
    match error.kind() {
        ErrorKind::UnexpectedEof { part, needed, got } => {
            assert_eq!(*part, FramePart::Payload);
            assert_eq!((*needed, *got), (100, 10));
        }
        other => panic!("unexpected kind {other:?}"),
    }
    assert!(error.to_string().ends_with("(frame 3 at byte offset 99)"));
}

#[test]
fn caller_errors_are_wrapped_as_other() {
    let error = Error::other("closure gave up");
    assert!(matches!(error.kind(), ErrorKind::Other(_)));
    assert_eq!(error.to_string(), "closure gave up");
}

#[test]
fn serialize_through_reference_and_box() {
    let mut builder = flatbuffers::FlatBufferBuilder::new();
    let boxed: Box<str> = "boxed".into();
    boxed.serialize(&mut builder).unwrap();
    let first = builder.finished_data().to_vec();
    builder.reset();
    (&"boxed").serialize(&mut builder).unwrap();
    assert_eq!(builder.finished_data(), first);
}
