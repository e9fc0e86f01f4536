//! Property tests: any payloads, any algorithm, any chunking, any single flipped byte, any
//! truncation. A fixed seed keeps CI deterministic; `PROPTEST_CASES` runs more locally.

use std::io::{self, Read};

use flatstream_core::{Checksum, Deframer, ErrorKind};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DeframerExt, SliceReader, StreamReader, StreamWriter,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use crate::common::{ALGORITHMS, checksum_by_name, drain};

fn config() -> Config {
    Config {
        // More with PROPTEST_CASES=N for a deeper local run; the seed stays fixed.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(256),
        rng_seed: RngSeed::Fixed(0x666c_6174_7374_7265),
        failure_persistence: None,
        ..Config::default()
    }
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..16)
}

fn encode(checksum: &dyn Checksum, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum));
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    writer.into_inner()
}

/// Reads everything, returning the payloads before the first error and that error.
fn read_all(
    checksum: &dyn Checksum,
    reader: impl Read,
) -> (Vec<Vec<u8>>, Option<flatstream_core::Error>) {
    let mut reader = StreamReader::new(reader, ChecksumDeframer::new(checksum));
    drain(|| {
        reader
            .read_message()
            .map(|payload| payload.map(<[u8]>::to_vec))
    })
}

/// Hands out the stream in chunks of the given sizes, in turn.
struct Chunked<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Accepts payloads that do not begin with its byte.
struct NoLeading(u8);

impl flatstream_core::Validator for NoLeading {
    fn validate(&self, payload: &[u8]) -> flatstream_core::Result<()> {
        if payload.first() == Some(&self.0) {
            Err(flatstream_core::Error::validation_failed(
                self.name(),
                format!("a leading {}", self.0),
            ))
        } else {
            Ok(())
        }
    }

    fn name(&self) -> &'static str {
        "no-leading"
    }
}

/// `parse_plain` (the readers' per-frame path, which then skips `decode_frame`) says "this
/// frame" exactly when `decode_frame` would return it borrowed from the input, with the same
/// payload and length; "rejected" exactly when `decode_frame` would reject that whole frame
/// for a validator, with the same error and frame length; and "ask the general path" for
/// everything else.
fn plain_agrees_with_decode(
    deframer: &mut impl Deframer,
    input: &[u8],
) -> Result<(), TestCaseError> {
    let plain = deframer.parse_plain(input);
    let mut scratch = Vec::new();
    let decoded = deframer.decode_frame(input, &mut scratch);
    let borrowed = |decoded: &flatstream_core::Result<Option<flatstream_core::wire::Frame<'_>>>| {
        decoded.as_ref().ok().and_then(Option::as_ref).map(|frame| {
            (
                frame.payload.as_ptr().addr() - input.as_ptr().addr(),
                frame.payload.len(),
                frame.len,
            )
        })
    };
    let len = input.len();
    match (&plain, &decoded) {
        (Ok(Some(frame)), _) => prop_assert_eq!(
            Some((frame.payload.start, frame.payload.len(), frame.len)),
            borrowed(&decoded),
            "input of {} bytes",
            len
        ),
        (Err(rejected), Err(error)) => {
            let by_validator = matches!(rejected.kind(), ErrorKind::ValidationFailed { .. });
            prop_assert!(by_validator, "{}", rejected);
            prop_assert_eq!(
                rejected.to_string(),
                error.to_string(),
                "input of {} bytes",
                len
            );
            prop_assert_eq!(rejected.frame_len(), error.frame_len());
            prop_assert!(rejected.frame_len().is_some_and(|n| n as usize <= len));
        }
        (Err(rejected), Ok(_)) => {
            prop_assert!(
                false,
                "rejected on the plain path only: {rejected}, {len} bytes"
            );
        }
        (Ok(None), _) => {
            prop_assert_eq!(borrowed(&decoded), None, "input of {} bytes", len);
            let validator_rejected = decoded
                .as_ref()
                .is_err_and(|error| matches!(error.kind(), ErrorKind::ValidationFailed { .. }));
            prop_assert!(
                !validator_rejected,
                "input of {} bytes: {:?}",
                len,
                decoded.err()
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_plain_path_agrees_with_the_general_one(
        payloads in payloads(),
        algorithm in 0..ALGORITHMS.len(),
        position in any::<prop::sample::Index>(),
        mask in 0u8..=255,
        limit in 0usize..400,
        noise in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let checksum = checksum_by_name(ALGORITHMS[algorithm]);
        let mut stream = encode(&*checksum, &payloads);
        if !stream.is_empty() {
            let at = position.index(stream.len());
            stream[at] ^= mask;
        }
        // Every suffix that starts a frame, every cut of the first frame, and noise.
        for start in 0..stream.len().min(64) {
            let input = &stream[start..];
            plain_agrees_with_decode(&mut ChecksumDeframer::new(&*checksum), input)?;
            plain_agrees_with_decode(
                &mut ChecksumDeframer::new(&*checksum).with_max_frame_len(limit),
                input,
            )?;
            // A validator, alone and nested (bounded too): its verdict on the plain path is
            // `decode_frame`'s.
            let noise_byte = noise.first().copied().unwrap_or(1);
            plain_agrees_with_decode(
                &mut ChecksumDeframer::new(&*checksum).with_validator(NoLeading(0)),
                input,
            )?;
            plain_agrees_with_decode(
                &mut ChecksumDeframer::new(&*checksum)
                    .bounded(limit)
                    .with_validator(NoLeading(noise_byte))
                    .with_validator(NoLeading(0)),
                input,
            )?;
            // A bound's plain path: a length over it is left to the general path.
            plain_agrees_with_decode(&mut ChecksumDeframer::new(&*checksum).bounded(limit), input)?;
        }
        for cut in 0..stream.len().min(400) {
            plain_agrees_with_decode(&mut ChecksumDeframer::new(&*checksum), &stream[..cut])?;
        }
        plain_agrees_with_decode(&mut ChecksumDeframer::new(&*checksum), &noise)?;
    }

    #[test]
    fn any_payloads_any_algorithm_any_chunking_read_back_exactly(
        payloads in payloads(),
        algorithm in 0..ALGORITHMS.len(),
        sizes in prop::collection::vec(1usize..64, 1..8),
    ) {
        let checksum = checksum_by_name(ALGORITHMS[algorithm]);
        let stream = encode(&*checksum, &payloads);
        let (read, error) = read_all(&*checksum, Chunked { bytes: &stream, sizes, turn: 0 });
        prop_assert!(error.is_none(), "{error:?}");
        prop_assert_eq!(&read, &payloads);
        let sliced: Vec<Vec<u8>> = SliceReader::new(&stream, ChecksumDeframer::new(&*checksum))
            .map(|payload| payload.unwrap().to_vec())
            .collect();
        prop_assert_eq!(sliced, payloads);
    }

    #[test]
    fn a_flipped_byte_never_yields_a_wrong_payload(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..200), 1..10),
        algorithm in 1..ALGORITHMS.len(),
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let checksum = checksum_by_name(ALGORITHMS[algorithm]);
        let mut stream = encode(&*checksum, &payloads);
        let at = position.index(stream.len());
        stream[at] ^= mask;
        let (read, error) = read_all(&*checksum, stream.as_slice());
        // Everything delivered is a true payload, in order; the damage ends in an error.
        prop_assert!(read.len() <= payloads.len());
        prop_assert_eq!(&read[..], &payloads[..read.len()]);
        prop_assert!(error.is_some(), "flip at {} of {} went unnoticed", at, stream.len());
    }

    #[test]
    fn truncation_anywhere_gives_the_whole_frames_and_a_torn_tail(
        payloads in payloads(),
        algorithm in 0..ALGORITHMS.len(),
    ) {
        let checksum = checksum_by_name(ALGORITHMS[algorithm]);
        let stream = encode(&*checksum, &payloads);
        let mut boundaries = vec![0usize];
        for payload in &payloads {
            boundaries.push(boundaries.last().unwrap() + 4 + checksum.size() + payload.len());
        }
        for cut in 0..=stream.len() {
            let (read, error) = read_all(&*checksum, &stream[..cut]);
            let whole = boundaries.iter().filter(|boundary| **boundary <= cut).count() - 1;
            prop_assert_eq!(&read[..], &payloads[..whole]);
            if boundaries.contains(&cut) {
                prop_assert!(error.is_none());
            } else {
                let error = error.expect("a torn tail");
                prop_assert!(matches!(error.kind(), ErrorKind::UnexpectedEof { .. }), "{:?}", error);
                prop_assert_eq!(error.offset(), Some(boundaries[whole] as u64));
            }
        }
    }
}
