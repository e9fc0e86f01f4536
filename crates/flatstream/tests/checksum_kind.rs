//! Outside attack on session 10's changes, through the facade only: CRC-32's short paths
//! (`crc32fast` from 8 to 15 bytes, the table under 20, the carry-less path from 20 to 127),
//! and `ChecksumKind` as a `Checksum` in place of a `Box<dyn Checksum>`.

#[cfg(feature = "crc32")]
use std::io::{Cursor, Write};

use flatstream::{
    Checksum, ChecksumDeframer, ChecksumFramer, ChecksumKind, NoChecksum, StreamReader,
    StreamWriter,
};
#[cfg(feature = "crc32")]
use flatstream::{ErrorKind, SliceReader};

/// CRC-32/ISO-HDLC from its definition, written here: reflected poly 0xEDB88320, init and
/// xorout 0xFFFFFFFF, one bit at a time.
#[cfg(feature = "crc32")]
fn reference_crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Bytes no SIMD path has seen in its own tests (a different generator from test-support's).
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            // An LCG's high byte.
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

#[cfg(feature = "crc32")]
#[test]
fn crc32_check_value_and_reference_agree() {
    assert_eq!(reference_crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(
        flatstream::Crc32::new().calculate(b"123456789"),
        0xCBF4_3926
    );
}

/// Every length 0..=300 at alignments 0..16 of an over-aligned buffer, on random, zero and
/// 0xFF data: the path boundaries (7/8, 15/16, 19/20, 127/128) all lie inside.
#[cfg(feature = "crc32")]
#[test]
fn crc32_calculate_matches_the_reference_at_every_length_to_300_and_16_alignments() {
    let crc = flatstream::Crc32::new();
    let random = bytes(300 + 16, 0x1234_5678);
    for fill in [None, Some(0x00u8), Some(0xFF)] {
        let data = match fill {
            None => random.clone(),
            Some(b) => vec![b; 300 + 16],
        };
        for start in 0..16 {
            for len in 0..=300 {
                let input = &data[start..start + len];
                assert_eq!(
                    crc.calculate(input),
                    u64::from(reference_crc32(input)),
                    "{len} bytes at offset {start}, fill {fill:?}"
                );
            }
        }
    }
}

/// Exact-size heap allocations (a read past the end would be seen by Miri or `ASan`), and
/// every single-bit input of every short length: the 8..=15 and 16..=19 paths.
#[cfg(feature = "crc32")]
#[test]
fn crc32_short_lengths_in_exact_allocations_and_every_single_bit() {
    let crc = flatstream::Crc32::new();
    for len in 0..=40 {
        let data: Box<[u8]> = bytes(len, len as u32 + 7).into_boxed_slice();
        assert_eq!(
            crc.calculate(&data),
            u64::from(reference_crc32(&data)),
            "{len} B"
        );
        let mut one = vec![0u8; len].into_boxed_slice();
        for bit in 0..8 * len {
            one[bit / 8] = 1 << (bit % 8);
            assert_eq!(
                crc.calculate(&one),
                u64::from(reference_crc32(&one)),
                "{len} B, bit {bit}"
            );
            one[bit / 8] = 0;
        }
    }
}

/// `ChecksumKind::Crc32` and the `&dyn` / `Box` forms give the same values as `Crc32`.
#[cfg(feature = "crc32")]
#[test]
fn crc32_through_the_kind_matches_the_reference() {
    let kind = ChecksumKind::Crc32;
    let data = bytes(300 + 8, 99);
    for start in [0, 1, 3, 5] {
        for len in 0..=300 {
            let input = &data[start..start + len];
            let want = u64::from(reference_crc32(input));
            assert_eq!(kind.calculate(input), want, "{len} B at {start}");
            let by_ref: &ChecksumKind = &kind;
            assert_eq!(
                Checksum::calculate(&by_ref, input),
                want,
                "{len} B at {start}, by ref"
            );
            assert_eq!(
                kind.checksum().calculate(input),
                want,
                "{len} B at {start}, boxed"
            );
        }
    }
}

/// The readers under test: each reads `stream` with `deframer` to the end or the first
/// error, returning the payloads read and the error.
#[cfg(feature = "crc32")]
mod readers {
    use super::*;
    use flatstream::Deframer;

    pub(super) type Outcome = (Vec<Vec<u8>>, Option<flatstream::Error>);

    pub(super) const NAMES: [&str; 4] = [
        "StreamReader::new(Cursor)",
        "StreamReader::new(File)",
        "StreamReader::in_place",
        "SliceReader",
    ];

    use flatstream_test_support::drain;

    pub(super) fn read_all<D: Deframer + Clone>(
        which: usize,
        stream: &[u8],
        deframer: D,
    ) -> Outcome {
        match which {
            0 => {
                let mut r = StreamReader::new(Cursor::new(stream), deframer);
                drain(|| r.read_message().map(|p| p.map(<[u8]>::to_vec)))
            }
            1 => {
                // Removed with its directory when dropped, also when an `unwrap` fails.
                let path = flatstream_test_support::ScratchFile::new("checksum-kind.fs");
                std::fs::File::create(&*path)
                    .unwrap()
                    .write_all(stream)
                    .unwrap();
                let file = std::fs::File::open(&*path).unwrap();
                let mut r = StreamReader::new(file, deframer);
                let out = drain(|| r.read_message().map(|p| p.map(<[u8]>::to_vec)));
                drop(r);
                std::fs::remove_file(&*path).unwrap();
                out
            }
            2 => {
                let mut r = StreamReader::in_place(Cursor::new(stream), deframer);
                drain(|| r.read_message().map(|p| p.map(<[u8]>::to_vec)))
            }
            _ => {
                let mut r = SliceReader::new(stream, deframer);
                drain(|| r.read_message().map(|p| p.map(<[u8]>::to_vec)))
            }
        }
    }
}

/// One payload of each length 0..=40 (random bytes), framed with `checksum`; returns the
/// stream, the payloads and each frame's offset.
#[cfg(feature = "crc32")]
fn framed_0_to_40<C: Checksum>(checksum: C) -> (Vec<u8>, Vec<Vec<u8>>, Vec<usize>) {
    let payloads: Vec<Vec<u8>> = (0..=40).map(|len| bytes(len, 1000 + len as u32)).collect();
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum));
    let mut offsets = Vec::new();
    let mut at = 0;
    for payload in &payloads {
        offsets.push(at);
        writer.write_payload(payload).unwrap();
        at += 4 + 4 + payload.len();
    }
    let stream = writer.into_inner();
    assert_eq!(stream.len(), at);
    (stream, payloads, offsets)
}

/// Intact streams of CRC-32 frames of 0..=40 bytes read back whole by every reader, framed
/// with `Crc32` or `ChecksumKind::Crc32` and read with either: the same bytes, and each
/// frame's stored checksum is the reference CRC of its payload.
#[cfg(feature = "crc32")]
#[test]
fn crc32_streams_of_0_to_40_byte_payloads_read_back_by_every_reader() {
    let (stream, payloads, offsets) = framed_0_to_40(flatstream::Crc32::new());
    let (by_kind, _, _) = framed_0_to_40(ChecksumKind::Crc32);
    assert_eq!(stream, by_kind);
    for (payload, &at) in payloads.iter().zip(&offsets) {
        let stored = u32::from_le_bytes(stream[at + 4..at + 8].try_into().unwrap());
        assert_eq!(stored, reference_crc32(payload), "{} B", payload.len());
    }
    for which in 0..4 {
        let (got, error) = readers::read_all(
            which,
            &stream,
            ChecksumDeframer::new(flatstream::Crc32::new()),
        );
        assert!(error.is_none(), "{}: {error:?}", readers::NAMES[which]);
        assert_eq!(got, payloads, "{}", readers::NAMES[which]);
        let (got, error) =
            readers::read_all(which, &stream, ChecksumDeframer::new(ChecksumKind::Crc32));
        assert!(
            error.is_none(),
            "{} by kind: {error:?}",
            readers::NAMES[which]
        );
        assert_eq!(got, payloads, "{} by kind", readers::NAMES[which]);
    }
}

/// Every single bit of every payload and checksum field flipped, in turn: each reader gives
/// the frames before it, then a checksum mismatch naming that frame's index and offset
/// (`frame_index`, `offset`, and the message), with the stored and calculated values.
#[cfg(feature = "crc32")]
#[test]
fn crc32_every_flipped_payload_or_checksum_bit_is_a_mismatch_naming_frame_and_offset() {
    let (stream, payloads, offsets) = framed_0_to_40(flatstream::Crc32::new());
    let mut checked = 0;
    for (index, (payload, &at)) in payloads.iter().zip(&offsets).enumerate() {
        // The checksum field and the payload: bytes at + 4 .. at + 8 + len.
        for byte in at + 4..at + 8 + payload.len() {
            for bit in 0..8 {
                let mut damaged = stream.clone();
                damaged[byte] ^= 1 << bit;
                let stored = u32::from_le_bytes(damaged[at + 4..at + 8].try_into().unwrap());
                let calculated = reference_crc32(&damaged[at + 8..at + 8 + payload.len()]);
                for which in 0..4 {
                    for by_kind in [false, true] {
                        let (got, error) = if by_kind {
                            readers::read_all(
                                which,
                                &damaged,
                                ChecksumDeframer::new(ChecksumKind::Crc32),
                            )
                        } else {
                            readers::read_all(
                                which,
                                &damaged,
                                ChecksumDeframer::new(flatstream::Crc32::new()),
                            )
                        };
                        let what = format!(
                            "{}{}, frame {index} ({} B), byte {byte} bit {bit}",
                            readers::NAMES[which],
                            if by_kind { " by kind" } else { "" },
                            payload.len()
                        );
                        let error = error.unwrap_or_else(|| panic!("{what}: no error"));
                        assert_eq!(got, payloads[..index], "{what}");
                        match error.kind() {
                            ErrorKind::ChecksumMismatch {
                                expected,
                                calculated: c,
                            } => {
                                assert_eq!(*expected, u64::from(stored), "{what}");
                                assert_eq!(*c, u64::from(calculated), "{what}");
                            }
                            other => panic!("{what}: {other:?}"),
                        }
                        assert_eq!(error.frame_index(), Some(index as u64), "{what}");
                        assert_eq!(error.offset(), Some(at as u64), "{what}");
                        assert_eq!(
                            error.frame_len(),
                            Some((8 + payload.len()) as u64),
                            "{what}"
                        );
                        let message = error.to_string();
                        assert!(
                            message.ends_with(&format!("(frame {index} at byte offset {at})")),
                            "{what}: {message}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 8 * (41 * 4 + (0..=40).sum::<usize>()) * 8);
}

/// The concrete type of each kind, boxed, for comparison with the kind itself.
fn concrete(kind: ChecksumKind) -> Box<dyn Checksum> {
    match kind.name() {
        "none" => Box::new(NoChecksum),
        #[cfg(feature = "crc16")]
        "crc16" => Box::new(flatstream::Crc16::new()),
        #[cfg(feature = "crc32")]
        "crc32" => Box::new(flatstream::Crc32::new()),
        #[cfg(feature = "crc32c")]
        "crc32c" => Box::new(flatstream::Crc32c::new()),
        #[cfg(feature = "crc64")]
        "crc64" => Box::new(flatstream::Crc64::new()),
        #[cfg(feature = "xxh3")]
        "xxh3" => Box::new(flatstream::Xxh3::new()),
        other => panic!("a kind this test does not know: {other}"),
    }
}

/// For every kind compiled in: the frames `ChecksumFramer::new(kind)` writes are byte for
/// byte those of `ChecksumFramer::new(<the concrete type>)`, at payload lengths 0..=300,
/// and each reads the other's stream.
#[test]
fn every_kind_frames_exactly_as_its_concrete_type() {
    let payloads: Vec<Vec<u8>> = (0..=300)
        .map(|len| bytes(len, 7 * len as u32 + 1))
        .collect();
    for &kind in ChecksumKind::all() {
        let mut by_kind = StreamWriter::new(Vec::new(), ChecksumFramer::new(kind));
        let mut by_type = StreamWriter::new(Vec::new(), ChecksumFramer::new(concrete(kind)));
        let mut by_ref = StreamWriter::new(Vec::new(), ChecksumFramer::new(&kind));
        for payload in &payloads {
            by_kind.write_payload(payload).unwrap();
            by_type.write_payload(payload).unwrap();
            by_ref.write_payload(payload).unwrap();
        }
        let (by_kind, by_type, by_ref) = (
            by_kind.into_inner(),
            by_type.into_inner(),
            by_ref.into_inner(),
        );
        assert_eq!(by_kind, by_type, "{kind}");
        assert_eq!(by_ref, by_type, "{kind}");
        for (stream, deframer_is_kind) in [(&by_type, true), (&by_kind, false)] {
            let mut got = Vec::new();
            let outcome = if deframer_is_kind {
                StreamReader::new(&stream[..], ChecksumDeframer::new(kind)).process_all(|p| {
                    got.push(p.to_vec());
                    Ok(())
                })
            } else {
                StreamReader::new(&stream[..], ChecksumDeframer::new(concrete(kind))).process_all(
                    |p| {
                        got.push(p.to_vec());
                        Ok(())
                    },
                )
            };
            outcome.unwrap();
            assert_eq!(got, payloads, "{kind}");
        }
    }
}

/// `Checksum` for `ChecksumKind` agrees with the concrete type on size, name and value, and
/// with `ChecksumKind::checksum()`.
#[test]
fn every_kind_agrees_with_its_concrete_type_and_its_box() {
    let data = bytes(600, 3);
    for &kind in ChecksumKind::all() {
        let c = concrete(kind);
        let boxed = kind.checksum();
        assert_eq!(Checksum::size(&kind), c.size(), "{kind}");
        assert_eq!(Checksum::name(&kind), c.name(), "{kind}");
        assert_eq!(boxed.name(), c.name(), "{kind}");
        for start in [0, 1, 2, 3] {
            for len in 0..=500 {
                let input = &data[start..start + len];
                assert_eq!(
                    kind.calculate(input),
                    c.calculate(input),
                    "{kind} {len} B at {start}"
                );
            }
        }
        // Values fit the width, so the default `verify` accepts what `calculate` gave.
        let value = kind.calculate(&data);
        assert!(kind.verify(value, &data).is_ok(), "{kind}");
    }
}

// Found by this attack, fixed: `impl Checksum for ChecksumKind` did not override `verify`,
// so `ChecksumKind::None` took the trait's default (stored == calculated, i.e. 0) while
// `NoChecksum::verify`, and `ChecksumKind::None.checksum()` (the `Box` it replaces), accept
// any stored value. On a stream the stored value of a 0-byte field is always 0, so readers
// agreed; a direct caller of `verify` (as `Box<dyn Checksum>` users were) saw
// `Err(ChecksumMismatch)` where the `Box` gave `Ok`.
#[test]
fn every_kinds_verify_is_its_concrete_types_verify() {
    let data = bytes(64, 11);
    for &kind in ChecksumKind::all() {
        for stored in [
            0u64,
            1,
            0xdead_beef,
            u64::MAX,
            concrete(kind).calculate(&data),
        ] {
            assert_eq!(
                kind.verify(stored, &data).is_ok(),
                concrete(kind).verify(stored, &data).is_ok(),
                "{kind}, stored {stored:#x}"
            );
            assert_eq!(
                kind.verify(stored, &data).is_ok(),
                kind.checksum().verify(stored, &data).is_ok(),
                "{kind}, stored {stored:#x}, against its Box"
            );
        }
    }
}

/// A user's code from before this change, with `Checksum` in scope, still compiles and
/// means the same: `kind.name()` on a `ChecksumKind` and on a `&ChecksumKind` (from
/// `all().iter()`), `kind.checksum().size()`, and generic code bound by `Checksum` taking
/// a `Box` of a kind's checksum.
#[test]
fn code_with_checksum_in_scope_calling_name_and_size_still_compiles_and_agrees() {
    fn width<C: Checksum>(checksum: C) -> usize {
        checksum.size()
    }
    for kind in ChecksumKind::all() {
        let by_ref: &str = kind.name();
        let by_value: &str = (*kind).name();
        let copied = *kind;
        assert_eq!(by_ref, by_value);
        assert_eq!(copied.name(), by_value);
        assert_eq!(kind.to_string(), by_value);
        assert_eq!(by_value.parse::<ChecksumKind>().unwrap(), *kind);
        let size = kind.checksum().size();
        assert_eq!(kind.size(), size);
        assert_eq!((*kind).size(), size);
        assert_eq!(width(kind.checksum()), size);
        assert_eq!(width(*kind), size);
        assert_eq!(width(kind), size);
    }
    // As users wrote it before; clippy now suggests `Checksum::name` here (the trait's method
    // is the one this picks for a `&ChecksumKind` when `Checksum` is in scope).
    #[allow(clippy::redundant_closure_for_method_calls)]
    let names: Vec<&str> = ChecksumKind::all().iter().map(|kind| kind.name()).collect();
    assert_eq!(names[0], "none");
}
