//! Crash recovery: torn tails reported and cut, damage reported and never cut, and salvage
//! keeping every intact frame on both sides of a corrupt one.

use flatstream_checksum_crc16::Crc16;
use flatstream_checksum_crc32c::Crc32c;
use flatstream_checksum_xxh3::Xxh3;
use std::io::Read;

use flatstream_core::wire::split_frame;
use flatstream_core::{Checksum, DEFAULT_MAX_FRAME_LEN, ErrorKind, FramePart, NoChecksum};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DefaultDeframer, SliceReader, StreamEnd, StreamWriter,
    Truncate, recover, recover_file, salvage, salvage_slice,
};
use flatstream_test_support::pseudo_random_bytes;
use proptest::prelude::*;

use crate::common::{ALGORITHMS, ScratchFile, checksum_by_name, data_dir, payload_of};

fn stream(count: usize) -> (Vec<u8>, Vec<usize>) {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
    let mut offsets = Vec::new();
    for i in 0..count {
        offsets.push(writer.position() as usize);
        writer
            .write_payload(&payload_of(20 + i * 7, i as u8))
            .unwrap();
    }
    offsets.push(writer.position() as usize);
    (writer.into_inner(), offsets)
}

/// A list of one skipped range (clippy reads `[a..b]` as a likely typo for a range's items).
fn one_range(range: std::ops::Range<u64>) -> Vec<std::ops::Range<u64>> {
    vec![range]
}

#[test]
fn clean_stream_recovers_as_is() {
    let (bytes, offsets) = stream(5);
    let report = recover(bytes.as_slice(), ChecksumDeframer::new(Crc32c::new())).unwrap();
    assert_eq!(report.frames, 5);
    assert_eq!(report.last_good_offset, bytes.len() as u64);
    assert_eq!(report.end, StreamEnd::CleanEof);
    assert_eq!(report.tail_len, 0);
    assert_eq!(offsets.len(), 6);
}

#[test]
fn every_truncation_is_a_torn_tail_after_the_whole_frames() {
    let (bytes, offsets) = stream(4);
    for cut in 0..bytes.len() {
        let report = recover(&bytes[..cut], ChecksumDeframer::new(Crc32c::new())).unwrap();
        let whole = offsets.iter().filter(|offset| **offset <= cut).count() - 1;
        assert_eq!(report.frames, whole as u64, "cut at {cut}");
        assert_eq!(
            report.last_good_offset, offsets[whole] as u64,
            "cut at {cut}"
        );
        let expected_end = if cut == offsets[whole] {
            StreamEnd::CleanEof
        } else {
            let into = cut - offsets[whole];
            let part = match into {
                1..4 => FramePart::Length,
                4..8 => FramePart::Checksum,
                _ => FramePart::Payload,
            };
            StreamEnd::TornTail { part }
        };
        assert_eq!(report.end, expected_end, "cut at {cut}");
        assert_eq!(report.tail_len, (cut - offsets[whole]) as u64);
    }
}

#[test]
fn corruption_inside_the_stream_is_an_error_not_a_tail() {
    let (mut bytes, offsets) = stream(5);
    bytes[offsets[2] + 10] ^= 0x40;
    let error = recover(bytes.as_slice(), ChecksumDeframer::new(Crc32c::new())).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::ChecksumMismatch { .. }));
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(2), Some(offsets[2] as u64))
    );
}

#[test]
fn recover_file_cuts_a_torn_tail_and_nothing_else() {
    let (bytes, offsets) = stream(3);
    let path = ScratchFile::new("recover-torn");
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();

    let looked = recover_file(&path, ChecksumDeframer::new(Crc32c::new()), Truncate::No).unwrap();
    assert!(!looked.truncated);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        bytes.len() as u64 - 5
    );

    let cut = recover_file(&path, ChecksumDeframer::new(Crc32c::new()), Truncate::Yes).unwrap();
    assert!(cut.truncated);
    assert_eq!(cut.frames, 2);
    assert_eq!(std::fs::read(&path).unwrap(), bytes[..offsets[2]]);
    // Recovering again finds a clean file and changes nothing.
    let again = recover_file(&path, ChecksumDeframer::new(Crc32c::new()), Truncate::Yes).unwrap();
    assert_eq!((again.end, again.truncated), (StreamEnd::CleanEof, false));

    // A corrupt frame is reported and the file is left whole.
    let mut damaged = bytes.clone();
    damaged[offsets[1] + 9] ^= 1;
    std::fs::write(&path, &damaged).unwrap();
    let error =
        recover_file(&path, ChecksumDeframer::new(Crc32c::new()), Truncate::Yes).unwrap_err();
    assert_eq!(error.frame_index(), Some(1));
    assert_eq!(std::fs::read(&path).unwrap(), damaged);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn every_torn_wire_vector_recovers_to_its_good_frames() {
    for checksum in ["crc16", "crc32c"] {
        for tear in [
            "truncated-in-length",
            "truncated-after-length",
            "truncated-in-payload",
            "truncated-in-checksum",
        ] {
            let bytes =
                std::fs::read(data_dir().join(format!("wire-vectors/{checksum}-{tear}.bin")))
                    .unwrap();
            let report = if checksum == "crc16" {
                recover(bytes.as_slice(), ChecksumDeframer::new(Crc16::new())).unwrap()
            } else {
                recover(bytes.as_slice(), ChecksumDeframer::new(Crc32c::new())).unwrap()
            };
            assert_eq!(report.frames, 8, "{checksum}-{tear}");
            assert!(
                matches!(report.end, StreamEnd::TornTail { .. }),
                "{checksum}-{tear}"
            );
            assert_eq!(
                report.last_good_offset + report.tail_len,
                bytes.len() as u64
            );
        }
    }
}

#[test]
fn salvage_keeps_every_intact_frame_around_a_corrupt_one() {
    let (mut bytes, offsets) = stream(6);
    // Corrupt the payload of frame 2 and the length of frame 4.
    bytes[offsets[2] + 12] ^= 0xff;
    bytes[offsets[4]] ^= 0x7f;
    let mut output = Vec::new();
    let report = salvage(
        bytes.as_slice(),
        ChecksumDeframer::new(Crc32c::new()),
        &mut output,
    )
    .unwrap();
    assert_eq!(report.frames, 4);
    assert_eq!(
        report.skipped,
        [
            offsets[2] as u64..offsets[3] as u64,
            offsets[4] as u64..offsets[5] as u64
        ]
    );
    assert_eq!(report.end, StreamEnd::CleanEof);
    let kept: Vec<Vec<u8>> = SliceReader::new(&output, ChecksumDeframer::new(Crc32c::new()))
        .map(|payload| payload.unwrap().to_vec())
        .collect();
    let expected: Vec<Vec<u8>> = [0, 1, 3, 5]
        .iter()
        .map(|i| payload_of(20 + i * 7, *i as u8))
        .collect();
    assert_eq!(kept, expected);
    assert_eq!(report.bytes_written, output.len() as u64);
}

#[test]
fn salvage_steps_over_garbage_between_frames() {
    let (bytes, offsets) = stream(4);
    let mut damaged = bytes[..offsets[2]].to_vec();
    damaged.extend_from_slice(&[0xff; 300]); // declares a 4 GiB frame: over any limit
    damaged.extend_from_slice(&bytes[offsets[2]..]);
    let mut output = Vec::new();
    let report =
        salvage_slice(&damaged, ChecksumDeframer::new(Crc32c::new()), &mut output).unwrap();
    assert_eq!(report.frames, 4, "{report:?}");
    assert_eq!(
        report.skipped,
        one_range(offsets[2] as u64..offsets[2] as u64 + 300)
    );
    assert_eq!(output, bytes);
}

#[test]
fn zero_filled_damage_reads_as_empty_frames_under_a_crc_but_not_under_xxh3() {
    // Every CRC here maps the empty payload to 0, so zeros are valid empty frames: a
    // property of the format, documented, and kept visible by this test.
    let (bytes, offsets) = stream(3);
    let mut damaged = bytes[..offsets[1]].to_vec();
    damaged.extend_from_slice(&[0u8; 80]);
    damaged.extend_from_slice(&bytes[offsets[1]..]);
    let frames = SliceReader::new(&damaged, ChecksumDeframer::new(Crc32c::new())).count();
    assert_eq!(frames, 3 + 10);

    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Xxh3::new()));
    writer.write_payload(b"before the hole").unwrap();
    let hole_at = writer.position() as usize;
    writer.write_payload(b"after the hole").unwrap();
    let clean = writer.into_inner();
    let mut damaged = clean[..hole_at].to_vec();
    damaged.extend_from_slice(&[0u8; 96]);
    damaged.extend_from_slice(&clean[hole_at..]);
    let mut output = Vec::new();
    let report = salvage_slice(&damaged, ChecksumDeframer::new(Xxh3::new()), &mut output).unwrap();
    assert_eq!(report.frames, 2);
    assert_eq!(
        report.skipped,
        one_range(hole_at as u64..hole_at as u64 + 96)
    );
    assert_eq!(output, clean);
}

#[test]
fn crc16_resync_needs_the_next_frame_intact_too() {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc16::new()));
    let mut offsets = Vec::new();
    for i in 0..5u8 {
        offsets.push(writer.position() as usize);
        writer.write_payload(&payload_of(30, i)).unwrap();
    }
    let mut bytes = writer.into_inner();
    bytes[offsets[1] + 10] ^= 1;
    let mut output = Vec::new();
    let report = salvage_slice(&bytes, ChecksumDeframer::new(Crc16::new()), &mut output).unwrap();
    assert_eq!(report.frames, 4);
    assert_eq!(
        report.skipped,
        one_range(offsets[1] as u64..offsets[2] as u64)
    );
}

#[test]
fn salvage_reports_a_torn_tail_and_refuses_to_guess_without_a_checksum() {
    let (bytes, offsets) = stream(3);
    let mut output = Vec::new();
    let report = salvage_slice(
        &bytes[..bytes.len() - 3],
        ChecksumDeframer::new(Crc32c::new()),
        &mut output,
    )
    .unwrap();
    assert_eq!(report.frames, 2);
    assert_eq!(
        report.end,
        StreamEnd::TornTail {
            part: FramePart::Payload
        }
    );
    assert_eq!(output, bytes[..offsets[2]]);

    let mut plain = StreamWriter::new(Vec::new(), flatstream_io::DefaultFramer::new());
    plain.write_payload(b"one").unwrap();
    plain.write_payload(b"two").unwrap();
    let mut plain = plain.into_inner();
    // Intact streams copy fine without a checksum...
    let mut output = Vec::new();
    let report = salvage_slice(&plain, ChecksumDeframer::new(NoChecksum), &mut output).unwrap();
    assert_eq!((report.frames, output.as_slice()), (2, plain.as_slice()));
    // ...but damage cannot be stepped over.
    plain[0] = 0xff;
    let error = salvage_slice(
        &plain,
        ChecksumDeframer::new(NoChecksum).with_max_frame_len(100),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::InvalidFrame { .. }));
    assert!(error.to_string().contains("without a checksum"), "{error}");
    let _ = DefaultDeframer::new();
}

// ---- Issue 11: recovery never destroys data ----

/// A stream of `count` frames under `checksum`, with the frame offsets and payloads.
fn stream_under(checksum: &dyn Checksum, count: usize) -> (Vec<u8>, Vec<usize>, Vec<Vec<u8>>) {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum));
    let mut offsets = Vec::new();
    let mut payloads = Vec::new();
    for i in 0..count {
        offsets.push(writer.position() as usize);
        let payload = payload_of(40 + (i * 13) % 90, (i % 250) as u8 + 1);
        writer.write_payload(&payload).unwrap();
        payloads.push(payload);
    }
    offsets.push(writer.position() as usize);
    (writer.into_inner(), offsets, payloads)
}

/// The first position at or after `from` where a frame with a payload that is neither empty
/// nor all zero bytes verifies: what recovery must never cut.
fn verifying_frame_from(input: &[u8], from: usize, checksum: &dyn Checksum) -> Option<usize> {
    (from..input.len()).find(|&at| {
        matches!(
            split_frame(&input[at..], checksum, DEFAULT_MAX_FRAME_LEN),
            Ok(Some(frame)) if frame.payload.iter().any(|byte| *byte != 0)
        )
    })
}

/// Asserts the invariant: if `recover` would cut (`Truncate::Yes`), nothing it cuts is a
/// frame that verifies; and `recover_file` leaves the file as `recover` says.
fn assert_recover_keeps_every_verifying_frame(input: &[u8], checksum: &dyn Checksum, what: &str) {
    let Ok(report) = recover(input, ChecksumDeframer::new(checksum)) else {
        return; // Reported as damage: nothing is cut.
    };
    assert_eq!(
        report.last_good_offset + report.tail_len,
        input.len() as u64,
        "{what}"
    );
    if report.tail_len > 0 && report.unproven.is_none() {
        let cut = report.last_good_offset as usize;
        if checksum.size() == 0 {
            // Without a checksum any bytes "verify": the promise is that a zero-filled tail
            // is zeros (after at most the length field of a frame they zeroed), and a torn
            // one no longer than a header and twice a typical payload before it.
            if report.end == StreamEnd::ZeroFilledTail {
                let zeros_from = (cut + 4).min(input.len());
                assert!(
                    input[zeros_from..].iter().all(|byte| *byte == 0),
                    "{what}: {report:?}"
                );
                return;
            }
            let mut sizes: Vec<usize> =
                SliceReader::new(&input[..cut], ChecksumDeframer::new(checksum))
                    .map(|payload| payload.unwrap().len())
                    .collect();
            sizes.sort_unstable();
            // Twice the upper bound of the median payload's power-of-two size class.
            let typical = sizes
                .get(sizes.len().saturating_sub(1) / 2)
                .map_or(0, |median| {
                    (1usize << (usize::BITS - median.leading_zeros())) - 1
                });
            assert!(
                report.tail_len as usize <= 4 + 2 * typical,
                "{what}: {report:?}"
            );
            return;
        }
        assert_eq!(
            verifying_frame_from(input, cut, checksum),
            None,
            "{what}: recover would cut a verifying frame: {report:?}"
        );
    }
}

#[test]
fn a_length_field_flipped_to_run_past_the_end_is_damage_not_a_torn_tail() {
    // Finding 1: bit 0 of a length field becomes a length past the end (under the limit).
    let (mut bytes, offsets, _) = stream_under(&Crc32c::new(), 200);
    bytes[offsets[3] + 2] ^= 0x01; // +65 536 bytes: past the end of a 16 KiB stream
    let error = recover(bytes.as_slice(), ChecksumDeframer::new(Crc32c::new())).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::InvalidFrame { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("salvage"), "{error}");
    assert!(
        error.to_string().contains(&format!(
            "intact frame begins at byte offset {}",
            offsets[4]
        )),
        "{error}"
    );
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(3), Some(offsets[3] as u64))
    );
    let path = ScratchFile::new("flipped-length");
    std::fs::write(&path, &bytes).unwrap();
    assert!(recover_file(&path, ChecksumDeframer::new(Crc32c::new()), Truncate::Force).is_err());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the file is unchanged"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn every_flipped_length_bit_under_every_checksum_keeps_every_verifying_frame() {
    // The damage campaign of finding 1, exhaustive over the length fields' bits.
    for name in ALGORITHMS {
        let checksum = checksum_by_name(name);
        let (bytes, offsets, _) = stream_under(&*checksum, 24);
        for frame in 0..24 {
            for bit in 0..32 {
                let mut damaged = bytes.clone();
                damaged[offsets[frame] + bit / 8] ^= 1 << (bit % 8);
                assert_recover_keeps_every_verifying_frame(
                    &damaged,
                    &*checksum,
                    &format!("{name}: frame {frame} length bit {bit}"),
                );
            }
        }
    }
}

#[test]
fn a_wrong_checksum_never_cuts_a_good_file() {
    // Finding 2: a valid one-frame file without a checksum, recovered as XXH3.
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(NoChecksum));
    writer
        .write_payload(b"a valid frame written without a checksum")
        .unwrap();
    let bytes = writer.into_inner();
    let report = recover(bytes.as_slice(), ChecksumDeframer::new(Xxh3::new())).unwrap();
    assert!(matches!(report.end, StreamEnd::TornTail { .. }));
    let reason = report.unproven.expect("the tail is not proven");
    assert!(reason.contains("no frame before it verifies"), "{reason}");

    let path = ScratchFile::new("wrong-checksum");
    std::fs::write(&path, &bytes).unwrap();
    let report = recover_file(&path, ChecksumDeframer::new(Xxh3::new()), Truncate::Yes).unwrap();
    assert!(!report.truncated);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was cut");
    // Forcing is the caller's explicit decision.
    let forced = recover_file(&path, ChecksumDeframer::new(Xxh3::new()), Truncate::Force).unwrap();
    assert!(forced.truncated);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn without_a_checksum_a_tail_longer_than_any_frame_is_not_cut() {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(NoChecksum));
    for _ in 0..8 {
        writer.write_payload(&[7; 10]).unwrap();
    }
    let mut bytes = writer.into_inner();
    // A torn frame that declares 100 bytes and has 40: longer than any payload before it.
    bytes.extend_from_slice(&100u32.to_le_bytes());
    bytes.extend_from_slice(&[9; 40]);
    let report = recover(bytes.as_slice(), ChecksumDeframer::new(NoChecksum)).unwrap();
    assert_eq!((report.frames, report.tail_len), (8, 44));
    assert!(report.unproven.unwrap().contains("without a checksum"));
    // A short torn tail is cut: it is no longer than a header and a payload like those before.
    let short = &bytes[..bytes.len() - 35];
    let report = recover(short, ChecksumDeframer::new(NoChecksum)).unwrap();
    assert_eq!((report.tail_len, report.unproven), (9, None));
    // Too few frames before it to say what a frame of this stream looks like: not proven.
    let few = &bytes[14 * 4..bytes.len() - 35];
    let report = recover(few, ChecksumDeframer::new(NoChecksum)).unwrap();
    assert_eq!((report.frames, report.tail_len), (4, 9));
    assert!(report.unproven.unwrap().contains("fewer than 8 frames"));
}

#[test]
fn a_zero_filled_tail_is_cut_exactly() {
    // Finding 7: a crash that left zeros after the last frame, under every algorithm.
    for name in ALGORITHMS {
        let checksum = checksum_by_name(name);
        let (bytes, offsets, _) = stream_under(&*checksum, 10);
        for zeros in [64, 100, 4096, 300_000] {
            let mut damaged = bytes.clone();
            damaged.resize(bytes.len() + zeros, 0);
            let report = recover(damaged.as_slice(), ChecksumDeframer::new(&*checksum)).unwrap();
            assert_eq!(report.end, StreamEnd::ZeroFilledTail, "{name} {zeros}");
            assert_eq!(
                (report.frames, report.last_good_offset, report.tail_len),
                (10, bytes.len() as u64, zeros as u64),
                "{name} {zeros}"
            );
            assert_eq!(report.unproven, None);
        }
        // Zeros that begin inside the last frame: it fails (or is torn), then zeros follow.
        let mut damaged = bytes[..offsets[9] + 9].to_vec();
        damaged.resize(bytes.len() + 4096, 0);
        let report = recover(damaged.as_slice(), ChecksumDeframer::new(&*checksum)).unwrap();
        if name == "none" {
            // Nothing fails without a checksum: the zeroed frame reads as a frame.
            assert_eq!(report.end, StreamEnd::ZeroFilledTail, "{name}");
        } else {
            assert_eq!(
                (report.end, report.last_good_offset),
                (StreamEnd::ZeroFilledTail, offsets[9] as u64),
                "{name}"
            );
        }
        let path = ScratchFile::new(&format!("zero-tail-{name}"));
        let mut damaged = bytes.clone();
        damaged.resize(bytes.len() + 4096, 0);
        std::fs::write(&path, &damaged).unwrap();
        let report = recover_file(&path, ChecksumDeframer::new(&*checksum), Truncate::Yes).unwrap();
        assert!(report.truncated);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{name}: mended exactly"
        );
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn zero_fill_inside_the_stream_is_damage() {
    for name in ["none", "crc16", "crc32c", "crc64"] {
        let checksum = checksum_by_name(name);
        let (bytes, offsets, _) = stream_under(&*checksum, 10);
        let mut damaged = bytes.clone();
        damaged[offsets[4]..offsets[4] + 128].fill(0);
        let error = recover(damaged.as_slice(), ChecksumDeframer::new(&*checksum)).unwrap_err();
        // Without a checksum the zeroed frames may also read as a bad length further on;
        // with one, the zeros are reported where they begin.
        if name != "none" {
            assert!(
                matches!(error.kind(), ErrorKind::ZeroFilled { .. }),
                "{name}: {error}"
            );
            assert_eq!(error.offset(), Some(offsets[4] as u64), "{name}");
        }
    }
    // 100 MB of zeros is not a valid stream (finding 7), and is judged without holding it.
    let zeros = std::io::repeat(0).take(100_000_000);
    let report = recover(zeros, ChecksumDeframer::new(Crc32c::new())).unwrap();
    assert_eq!(
        (report.end, report.frames, report.last_good_offset),
        (StreamEnd::ZeroFilledTail, 0, 0)
    );
}

#[test]
fn crc16_salvage_never_invents_frames_from_zero_fill() {
    // Finding 6: CRC-16/XMODEM of any run of zeros is 0.
    let (bytes, offsets, payloads) = stream_under(&Crc16::new(), 120);
    for block in 0..4 {
        let mut damaged = bytes.clone();
        let start = 1000 + block * 1777;
        damaged[start..start + 4096].fill(0);
        let mut output = Vec::new();
        let report =
            salvage_slice(&damaged, ChecksumDeframer::new(Crc16::new()), &mut output).unwrap();
        assert!(!report.zero_filled.is_empty(), "{report:?}");
        for payload in SliceReader::new(&output, ChecksumDeframer::new(Crc16::new())) {
            let payload = payload.unwrap();
            assert!(
                payloads.iter().any(|written| written == payload),
                "block {block}: salvage invented a {}-byte frame",
                payload.len()
            );
        }
        // Every frame wholly outside the zeroed block is kept.
        let outside = offsets
            .windows(2)
            .filter(|frame| frame[1] <= start || frame[0] >= start + 4096)
            .count() as u64;
        assert_eq!(report.frames, outside, "block {block}");
    }
}

/// A checksum that counts the bytes it is asked to checksum.
struct Counting<C> {
    inner: C,
    bytes: std::cell::Cell<u64>,
}

impl<C: Checksum> Checksum for Counting<C> {
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn calculate(&self, payload: &[u8]) -> u64 {
        self.bytes.set(self.bytes.get() + payload.len() as u64);
        self.inner.calculate(payload)
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

#[test]
fn salvage_work_is_linear_in_the_input_whatever_the_input() {
    // Finding 5: on bytes that are not frames, resync used to checksum up to max_frame_len
    // bytes per position. Count the work instead of timing it: what is checksummed stays
    // within the budgets (64 MiB five times, plus 56 bytes per input byte).
    let random = pseudo_random_bytes(8_000_000, 0x9e37_79b9_7f4a_7c15);
    let ones = vec![0xff; 1_000_000];
    let zeros = vec![0u8; 1_000_000];
    for input in [&random, &ones, &zeros] {
        let counting = Counting {
            inner: Crc32c::new(),
            bytes: std::cell::Cell::new(0),
        };
        let report = salvage_slice(
            input,
            ChecksumDeframer::new(&counting),
            &mut std::io::sink(),
        )
        .unwrap();
        assert_eq!(report.frames, 0);
        let bound = 5 * 64 * 1024 * 1024 + 56 * input.len() as u64;
        assert!(
            counting.bytes.get() <= bound,
            "{} bytes",
            counting.bytes.get()
        );
    }
    // Real damage is unaffected: every frame outside the damaged span is kept.
    let (bytes, offsets, _) = stream_under(&Crc32c::new(), 500);
    let mut damaged = bytes.clone();
    damaged[offsets[100]..offsets[100] + 3000].copy_from_slice(&random[..3000]);
    let mut output = Vec::new();
    let report =
        salvage_slice(&damaged, ChecksumDeframer::new(Crc32c::new()), &mut output).unwrap();
    let outside = offsets
        .windows(2)
        .filter(|frame| frame[1] <= offsets[100] || frame[0] >= offsets[100] + 3000)
        .count() as u64;
    assert_eq!((report.frames, report.unchecked_candidates), (outside, 0));
}

/// One way the world damages a file.
#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, bit: u8 },
    ZeroBlock { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
}

impl Damage {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut damaged = bytes.to_vec();
        if damaged.is_empty() {
            return damaged;
        }
        match self {
            Damage::Flip { at, bit } => damaged[at % bytes.len()] ^= 1 << bit,
            Damage::ZeroBlock { at, len } => {
                let at = at % bytes.len();
                let end = (at + len).min(bytes.len());
                damaged[at..end].fill(0);
            }
            Damage::Insert {
                at,
                bytes: inserted,
            } => {
                let at = at % bytes.len();
                damaged.splice(at..at, inserted.iter().copied());
            }
            Damage::Delete { at, len } => {
                let at = at % bytes.len();
                let end = (at + len).min(bytes.len());
                damaged.drain(at..end);
            }
        }
        damaged
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0..8u8).prop_map(|(at, bit)| Damage::Flip { at, bit }),
        (any::<usize>(), 1..5000usize).prop_map(|(at, len)| Damage::ZeroBlock { at, len }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Damage::Insert { at, bytes }),
        (any::<usize>(), 1..64usize).prop_map(|(at, len)| Damage::Delete { at, len }),
    ]
}

/// An empty payload, or one with at least one non-zero byte, as every FlatBuffer has: under
/// CRC-16/XMODEM a payload of zero bytes has checksum 0 whatever its length, so streams of
/// them misread after damage still verify (documented in docs/reliability.md).
fn payload_with_data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..200).prop_filter("all zero", |payload| {
        payload.is_empty() || payload.iter().any(|byte| *byte != 0)
    })
}

fn proptest_config() -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(256),
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x7265_636f_7665_7279),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    /// For any stream, any single damage and any algorithm: `recover` never would cut a frame
    /// that verifies, and salvage keeps only frames that were written.
    #[test]
    fn any_single_damage_keeps_every_verifying_frame(
        algorithm in 0..ALGORITHMS.len(),
        payloads in prop::collection::vec(payload_with_data(), 0..40),
        damage in damage(),
    ) {
        let name = ALGORITHMS[algorithm];
        let checksum = checksum_by_name(name);
        let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(&*checksum));
        for payload in &payloads {
            writer.write_payload(payload).unwrap();
        }
        let damaged = damage.apply(&writer.into_inner());
        assert_recover_keeps_every_verifying_frame(&damaged, &*checksum, &format!("{name} {damage:?}"));
        if checksum.size() > 0 {
            let mut output = Vec::new();
            salvage_slice(&damaged, ChecksumDeframer::new(&*checksum), &mut output).unwrap();
            for payload in SliceReader::new(&output, ChecksumDeframer::new(&*checksum)) {
                let payload = payload.unwrap();
                // An empty frame is indistinguishable from fewer than 64 zero bytes (under
                // 64 they are not zero fill), so only payloads with data are checked.
                prop_assert!(
                    payload.is_empty() || payloads.iter().any(|written| written.as_slice() == payload),
                    "{} {:?}: salvage kept a frame that was never written", name, damage
                );
            }
        }
    }
}

#[test]
fn fuzz_regressions_keep_every_verifying_frame() {
    // Inputs the `recovery` fuzz target found; the first byte picks the checksum as in
    // `fuzz/fuzz_targets/common.rs` (bit 3, a 64-byte limit, does not matter here).
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/recovery");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let Some((&selector, stream)) = data.split_first() else {
            continue;
        };
        let checksum = checksum_by_name(ALGORITHMS[usize::from(selector % 6)]);
        assert_recover_keeps_every_verifying_frame(stream, &*checksum, &path.display().to_string());
        seen += 1;
    }
    assert!(seen >= 2, "the regression inputs are there");
}

/// Frames of `payloads` under `checksum`, with their offsets.
fn frames_of(checksum: &dyn Checksum, payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(checksum));
    let mut offsets = Vec::new();
    for payload in payloads {
        offsets.push(writer.position() as usize);
        writer.write_payload(payload).unwrap();
    }
    offsets.push(writer.position() as usize);
    (writer.into_inner(), offsets)
}

#[test]
fn salvage_keeps_a_large_frame_after_a_damaged_large_frame() {
    // A second outside attack: a damaged 1 MiB frame of random bytes exhausted the budget
    // before the intact 8 MiB frame after it was checked. Its chain of headers lands on the
    // next small frame, so it is checked first now; so is one landing on the end.
    for tail in [&b"tail frame payload"[..], &[]] {
        let mut payloads = vec![
            pseudo_random_bytes(1 << 20, 1),
            pseudo_random_bytes(8 << 20, 2),
        ];
        if !tail.is_empty() {
            payloads.push(tail.to_vec());
        }
        let (mut bytes, offsets) = frames_of(&Crc32c::new(), &payloads);
        bytes[100] ^= 1;
        let mut output = Vec::new();
        let report =
            salvage_slice(&bytes, ChecksumDeframer::new(Crc32c::new()), &mut output).unwrap();
        assert_eq!(report.frames, payloads.len() as u64 - 1, "{report:?}");
        assert_eq!(report.skipped, one_range(0..offsets[1] as u64));
        assert_eq!(output, bytes[offsets[1]..]);
    }
}

#[test]
fn frames_of_zero_payloads_with_their_own_checksum_are_intact() {
    // Under CRC-32C a payload of zeros has a checksum that is not zero: a real frame, kept
    // by salvage and never cut by recover.
    let mut payloads = vec![b"first".to_vec()];
    payloads.extend(std::iter::repeat_n(vec![0u8; 16], 3));
    payloads.push(b"last".to_vec());
    let (bytes, offsets) = frames_of(&Crc32c::new(), &payloads);
    let mut damaged = bytes.clone();
    damaged[offsets[0] + 9] ^= 1; // the first frame's payload
    let mut output = Vec::new();
    let report =
        salvage_slice(&damaged, ChecksumDeframer::new(Crc32c::new()), &mut output).unwrap();
    assert_eq!(report.frames, 4, "{report:?}");
    // A length run past the end, then zero-payload frames: damage, not a tail to cut.
    let mut flipped = bytes.clone();
    flipped[offsets[0] + 1] ^= 0x10;
    assert!(recover(flipped.as_slice(), ChecksumDeframer::new(Crc32c::new())).is_err());
}

#[test]
fn without_a_checksum_a_zero_payload_is_not_zero_fill() {
    // A second outside attack: under "none", a damaged length made frames of zero payloads
    // read as a zero-filled tail, cut without --force.
    let mut payloads = vec![vec![0xaa; 20]];
    payloads.push([&[0xbb][..], &[0; 200][..]].concat());
    payloads.push([&[0xcc][..], &[0; 202][..]].concat());
    let (mut bytes, _) = frames_of(&NoChecksum, &payloads);
    bytes[1] ^= 1;
    let report = recover(bytes.as_slice(), ChecksumDeframer::new(NoChecksum)).unwrap();
    assert!(
        report.end != StreamEnd::ZeroFilledTail || report.unproven.is_some(),
        "{report:?}"
    );
}
