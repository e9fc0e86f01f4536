//! The codec against the blocking reader and writer.

use std::cell::Cell;

use bytes::BytesMut;
use flatstream_checksum_crc32::Crc32;
use flatstream_checksum_crc32c::Crc32c;
use flatstream_checksum_crc64::Crc64;
use flatstream_checksum_xxh3::Xxh3;
use flatstream_core::{Deframer, ErrorKind, NoChecksum, Result};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, DeframerExt, FramerExt, StreamWriter};
use flatstream_tokio::{FlatstreamCodec, FrameDecoder};
use flatstream_validate::SizeValidator;
use tokio_util::codec::{Decoder, Encoder};

use crate::common::{algorithms, checksum_by_name};

#[test]
fn encode_decode_round_trips_every_algorithm_and_size() {
    let mut sizes = vec![0, 1];
    for k in 1..=20 {
        sizes.extend([(1 << k) - 1, 1 << k, (1 << k) + 1]);
    }
    for name in algorithms() {
        let mut codec = FlatstreamCodec::from_parts(
            ChecksumFramer::new(checksum_by_name(name)),
            ChecksumDeframer::new(checksum_by_name(name)),
        );
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
fn a_validator_an_observer_and_a_bound_compose_with_the_codec() {
    let written = Cell::new(0);
    let read = Cell::new(0);
    let mut codec = FlatstreamCodec::from_parts(
        ChecksumFramer::new(Crc32c::new())
            .bounded(16)
            .with_validator(SizeValidator::at_least(2))
            .observe(|_: &[u8]| written.set(written.get() + 1)),
        ChecksumDeframer::new(Crc32c::new())
            .bounded(16)
            .with_validator(SizeValidator::at_most(8))
            .observe(|_: &[u8]| read.set(read.get() + 1)),
    );
    let mut wire = BytesMut::new();
    codec.encode(&b"short"[..], &mut wire).unwrap();
    let error = codec.encode(&b"x"[..], &mut wire).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::ValidationFailed { .. }),
        "{error}"
    );
    let error = codec.encode(&[7u8; 17][..], &mut wire).unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 17, max: 16 }
    ));
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(1), Some(13)),
        "refusals name the frame they would have been"
    );
    codec.encode(&b"twelve bytes"[..], &mut wire).unwrap();
    assert_eq!((written.get(), codec.frames_encoded()), (2, 2));
    assert_eq!(
        wire.len() as u64,
        codec.encoded_bytes(),
        "refused payloads left nothing"
    );

    assert_eq!(&codec.decode(&mut wire).unwrap().unwrap()[..], b"short");
    // Over the reading validator's 8 bytes: rejected, consumed, and decoding goes on.
    let error = codec.decode(&mut wire).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::ValidationFailed { .. }));
    assert!(error.is_resumable());
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(13)));
    assert!(wire.is_empty());
    assert_eq!((read.get(), codec.frames_decoded()), (1, 2));

    // A frame over the reading bound, from a writer without one, is refused on its length.
    let mut plain = FlatstreamCodec::new(Crc32c::new());
    plain.encode(&[1u8; 40][..], &mut wire).unwrap();
    let error = codec.decode(&mut wire).unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 40, max: 16 }
    ));
    assert_eq!(error.offset(), Some(codec.decoded_bytes()));
}

#[test]
fn the_encoder_refuses_payloads_over_its_limit() {
    let mut codec = FlatstreamCodec::new(Xxh3::new()).with_max_frame_len(8);
    let mut wire = BytesMut::new();
    codec.encode(&[1u8; 8][..], &mut wire).unwrap();
    let before = wire.clone();
    let error = codec.encode(&[1u8; 9][..], &mut wire).unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::FrameTooLarge { len: 9, max: 8 }
    ));
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(20)));
    assert_eq!(wire, before);
    // The default is the readers' default limit, 64 MiB.
    let mut codec = FlatstreamCodec::new(NoChecksum);
    let error = codec
        .encode(&vec![0u8; (64 << 20) + 1][..], &mut wire)
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::FrameTooLarge { .. }));
}

/// Counts how often the decoder asks for a frame's length.
struct CountingPeeks<'a, D> {
    inner: D,
    peeks: &'a Cell<usize>,
}

impl<D: Deframer> Deframer for CountingPeeks<'_, D> {
    fn read_frame<R: std::io::Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        self.inner.read_frame(reader, payload)
    }

    fn parse_frame<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Option<flatstream_core::wire::Frame<'a>>> {
        self.inner.parse_frame(input)
    }

    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        self.peeks.set(self.peeks.get() + 1);
        self.inner.peek_frame_len(input)
    }
}

#[test]
fn the_decoder_keeps_the_frame_length_between_calls() {
    let mut wire = BytesMut::new();
    let mut plain = FlatstreamCodec::new(Crc64::new());
    plain.encode(&[9u8; 5000][..], &mut wire).unwrap();
    let peeks = Cell::new(0);
    let mut decoder = FrameDecoder::new(CountingPeeks {
        inner: ChecksumDeframer::new(Crc64::new()),
        peeks: &peeks,
    });
    let mut buffer = BytesMut::new();
    let mut frame = None;
    for byte in &wire[..] {
        buffer.extend_from_slice(&[*byte]);
        if let Some(payload) = decoder.decode(&mut buffer).unwrap() {
            frame = Some(payload);
        }
    }
    assert_eq!(frame.expect("the frame").len(), 5000);
    // Asked at 1, 2, 3 and 4 bytes; never again over the other 5008 calls.
    assert_eq!(peeks.get(), 4);
}

#[test]
fn a_torn_frame_at_the_end_names_its_part_and_where_the_last_good_frame_ended() {
    let mut codec = FlatstreamCodec::new(Crc32::new());
    let mut wire = BytesMut::new();
    codec.encode(&b"whole"[..], &mut wire).unwrap();
    codec.encode(&b"torn!"[..], &mut wire).unwrap();
    for (cut, part) in [(15, "length"), (19, "checksum"), (24, "payload")] {
        let mut decoder = FrameDecoder::new(ChecksumDeframer::new(Crc32::new()));
        let mut buffer = BytesMut::from(&wire[..cut]);
        assert_eq!(
            &decoder.decode_eof(&mut buffer).unwrap().unwrap()[..],
            b"whole"
        );
        let error = decoder.decode_eof(&mut buffer).unwrap_err();
        assert!(error.is_torn_tail(), "{error}");
        assert!(error.to_string().contains(part), "{error}");
        assert_eq!(decoder.position(), 13);
        // Stopped: it says so rather than inventing frames.
        assert!(decoder.decode(&mut BytesMut::from(&wire[..13])).is_err());
    }
}
