//! Crash recovery: torn tails reported and cut, damage reported and never cut, and salvage
//! keeping every intact frame on both sides of a corrupt one.

use flatstream_checksum_crc16::Crc16;
use flatstream_checksum_crc32c::Crc32c;
use flatstream_checksum_xxh3::Xxh3;
use flatstream_core::{ErrorKind, FramePart, NoChecksum};
use flatstream_io::{
    ChecksumDeframer, ChecksumFramer, DefaultDeframer, SliceReader, StreamEnd, StreamWriter,
    Truncate, recover, recover_file, salvage, salvage_slice,
};

use crate::common::{data_dir, payload_of};

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

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("flatstream-{name}-{}", std::process::id()))
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
    let path = temp_path("recover-torn");
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
