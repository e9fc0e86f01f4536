//! Findings of attack session 6: salvage's resynchronisation losing intact frames silently
//! (or inventing frames), salvage dropping intact frames of an undamaged CRC-16 stream,
//! checksum detection reading a CRC-32 stream as "none", `convert` ignoring `-c`, and
//! `recover --truncate` cutting a small file that is not a stream.

use std::path::{Path, PathBuf};

use flatstream::{Checksum, ChecksumKind};
use serde_json::Value;

use crate::{flatstream, flatstream_with_input, stderr};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flatstream-cli-attack6-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn kind(name: &str) -> ChecksumKind {
    name.parse().unwrap()
}

/// One frame on the wire: length, checksum (little-endian, its width), payload.
fn frame(checksum: &str, payload: &[u8]) -> Vec<u8> {
    let checksum = kind(checksum).checksum();
    let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&checksum.calculate(payload).to_le_bytes()[..checksum.size()]);
    bytes.extend_from_slice(payload);
    bytes
}

/// Deterministic bytes that are no frame (xorshift).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The payloads of a clean stream.
fn payloads(checksum: &str, bytes: &[u8]) -> Vec<Vec<u8>> {
    let header = 4 + kind(checksum).checksum().size();
    let mut out = Vec::new();
    let mut at = 0;
    while at + header <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(bytes[at + header..at + header + len].to_vec());
        at += header + len;
    }
    assert_eq!(at, bytes.len(), "salvage output is a clean stream");
    out
}

/// Builds `parts` (a frame's payload, or raw damage), salvages it, and returns the intact
/// payloads, the salvaged ones and the JSON report.
fn salvage_parts(
    name: &str,
    checksum: &str,
    parts: &[(bool, Vec<u8>)],
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Value) {
    let dir = dir(name);
    let mut bytes = Vec::new();
    let mut intact = Vec::new();
    for (is_frame, part) in parts {
        if *is_frame {
            bytes.extend(frame(checksum, part));
            intact.push(part.clone());
        } else {
            bytes.extend_from_slice(part);
        }
    }
    let input = dir.join("damaged.fs");
    let output = dir.join("salvaged.fs");
    std::fs::write(&input, &bytes).unwrap();
    let salvaged = flatstream(&[
        "salvage",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "-c",
        checksum,
        "--json",
        "-q",
    ]);
    assert!(
        matches!(salvaged.status.code(), Some(0 | 1)),
        "{}",
        stderr(&salvaged)
    );
    let report: Value = serde_json::from_slice(&salvaged.stdout).unwrap();
    let written = payloads(checksum, &std::fs::read(&output).unwrap());
    (intact, written, report)
}

fn small_frames(seed: u64, count: usize) -> Vec<(bool, Vec<u8>)> {
    (0..count)
        .map(|index| (true, noise(seed + index as u64, 100)))
        .collect()
}

/// Every intact payload, in order, and nothing else; or the loss was announced.
fn assert_kept_every_intact_frame(intact: &[Vec<u8>], written: &[Vec<u8>], report: &Value) {
    let missing: Vec<usize> = intact
        .iter()
        .filter(|payload| !written.contains(payload))
        .map(Vec::len)
        .collect();
    let invented = written
        .iter()
        .filter(|payload| !intact.contains(payload))
        .count();
    assert!(
        invented == 0 && (missing.is_empty() || report["unchecked_candidates"] != 0),
        "missing intact frames of sizes {missing:?} and {invented} invented frames, \
         report {report}"
    );
    assert_eq!(written, intact, "report {report}");
}

/// A 200 KiB frame after one damaged region and followed by another (20 bytes of 0xff, as
/// any overwritten block leaves): salvage skips the intact large frame, with
/// `unchecked_candidates` 0. Its candidate is over 64 KiB, so it is checked only when its
/// chain of headers lands on the anchor or its next two headers are plausible; the damage
/// after it is neither, and the frame is dropped without being checked or counted.
#[test]
fn salvage_keeps_a_large_frame_between_two_damaged_regions() {
    let mut parts = small_frames(1, 20);
    parts.push((false, vec![0xee; 50]));
    parts.push((true, noise(99, 200 * 1024)));
    parts.push((false, vec![0xff; 20]));
    parts.extend(small_frames(100, 20));
    let (intact, written, report) = salvage_parts("large-between", "crc32", &parts);
    assert_kept_every_intact_frame(&intact, &written, &report);

    // Damage at the very start (nothing seen yet) then the large frame, then damage.
    let parts = vec![
        (false, noise(3, 30)),
        (true, noise(4, 200 * 1024)),
        (false, vec![0xff; 8]),
        (true, noise(5, 100)),
        (true, noise(6, 100)),
    ];
    let (intact, written, report) = salvage_parts("large-at-start", "crc32", &parts);
    assert_kept_every_intact_frame(&intact, &written, &report);
}

/// Two 100 KiB frames in a row between damaged regions: both lost, silently.
#[test]
fn salvage_keeps_two_large_frames_before_damage() {
    let mut parts = small_frames(7, 20);
    parts.push((false, vec![0xee; 50]));
    parts.push((true, noise(8, 100 * 1024)));
    parts.push((true, noise(9, 100 * 1024)));
    parts.push((false, vec![0xff; 20]));
    parts.extend(small_frames(200, 20));
    let (intact, written, report) = salvage_parts("two-large", "crc32c", &parts);
    assert_kept_every_intact_frame(&intact, &written, &report);
}

/// A large frame whose payload is itself a stream of small frames (a stream stored in a
/// message), between two damaged regions: salvage drops the intact outer frame and copies
/// the 800 frames of its payload as if they were the stream's: 800 invented frames.
#[test]
fn salvage_does_not_invent_frames_from_the_payload_of_a_frame_it_skips() {
    let inner: Vec<u8> = (0..800)
        .flat_map(|index| frame("crc32", &noise(1000 + index, 100)))
        .collect();
    let mut parts = small_frames(10, 20);
    parts.push((false, vec![0xee; 50]));
    parts.push((true, inner));
    parts.push((false, vec![0xff; 20]));
    parts.extend(small_frames(300, 20));
    let (intact, written, report) = salvage_parts("nested", "crc32", &parts);
    assert_kept_every_intact_frame(&intact, &written, &report);
}

/// CRC-16: an intact frame between two damaged regions is dropped silently (a resync point
/// must be followed by another intact frame), unchecked_candidates 0.
#[test]
fn salvage_keeps_a_crc16_frame_between_two_damaged_regions() {
    let mut parts = small_frames(11, 20);
    parts.push((false, vec![0xee; 50]));
    parts.push((true, noise(5000, 100)));
    parts.push((false, vec![0xff; 20]));
    parts.extend(small_frames(400, 20));
    let (intact, written, report) = salvage_parts("crc16-lone", "crc16", &parts);
    assert_kept_every_intact_frame(&intact, &written, &report);
}

/// An undamaged CRC-16 stream that `pack` writes and `verify` passes (status 0) loses
/// frames under `salvage` (status 1, "skipped damaged bytes"): a payload of one zero byte
/// (or ten), whose CRC-16/XMODEM is 0, is taken for zero fill and never copied. The same
/// happens to every empty message written with `--compress lz4 -c crc16` (lz4 makes it 5
/// zero bytes).
#[test]
fn salvage_keeps_crc16_frames_of_zero_bytes_that_verify() {
    let dir = dir("crc16-zero");
    for (lines, extra) in [
        ("6162\n00\n6364\n00000000000000000000\n6566\n", None),
        ("6162\n\n6364\n", Some("lz4")),
    ] {
        let input = dir.join("clean.fs");
        let output = dir.join("salvaged.fs");
        let _ = std::fs::remove_file(&output);
        let mut args = vec!["pack", "-c", "crc16", "-o", input.to_str().unwrap()];
        if let Some(codec) = extra {
            args.extend(["--compress", codec]);
        }
        let packed = flatstream_with_input(&args, lines.as_bytes());
        assert!(packed.status.success(), "{}", stderr(&packed));
        let verified = flatstream(&["verify", input.to_str().unwrap(), "-c", "crc16"]);
        assert!(verified.status.success(), "{}", stderr(&verified));
        let salvaged = flatstream(&[
            "salvage",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "-c",
            "crc16",
            "-q",
        ]);
        assert_eq!(
            salvaged.status.code(),
            Some(0),
            "{extra:?}: {}",
            String::from_utf8_lossy(&salvaged.stdout)
        );
        assert_eq!(
            std::fs::read(&output).unwrap(),
            std::fs::read(&input).unwrap(),
            "{extra:?}: an undamaged stream comes through salvage whole"
        );
    }
}

/// `pack -c crc32` of one payload of 62 zero bytes: `verify` (auto) says "ok: 2 frames,
/// checksum none (detected)", reading the CRC as payload and inventing an empty frame; and
/// `convert --to crc16` rewrites it with status 0 as those two wrong frames (the checksum
/// bytes now payload), where `--from crc32` refuses (the payload would be zero fill under
/// CRC-16).
#[test]
fn detection_does_not_read_a_crc32_stream_of_zero_payloads_as_none() {
    let dir = dir("zeros-none");
    let input = dir.join("zeros.fs");
    let packed = flatstream_with_input(
        &["pack", "-c", "crc32", "-o", input.to_str().unwrap()],
        format!("{}\n", "00".repeat(62)).as_bytes(),
    );
    assert!(packed.status.success(), "{}", stderr(&packed));
    let verified = flatstream(&["verify", input.to_str().unwrap(), "--json"]);
    let report = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(
        !report.contains("\"none\""),
        "a crc32 stream detected as none: {report}"
    );
    let output = dir.join("converted.fs");
    let converted = flatstream(&[
        "convert",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--to",
        "crc16",
        "-q",
    ]);
    if converted.status.success() {
        let got = payloads("crc16", &std::fs::read(&output).unwrap());
        assert_eq!(got, vec![vec![0u8; 62]], "convert altered the payloads");
    }
}

/// `convert -c crc16` on a CRC-32 stream: `-c` (the global option every reading command
/// takes) is silently ignored and the input's checksum detected instead, status 0. It
/// should be honoured as `--from`, or refused as a usage error (status 2).
#[test]
fn convert_does_not_ignore_the_checksum_it_is_given() {
    let dir = dir("convert-c");
    let input = dir.join("in.fs");
    let output = dir.join("out.fs");
    let packed = flatstream_with_input(
        &["pack", "-c", "crc32", "-o", input.to_str().unwrap()],
        b"6162\n6364\n",
    );
    assert!(packed.status.success(), "{}", stderr(&packed));
    let converted = flatstream(&[
        "convert",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "-c",
        "crc16",
        "--to",
        "xxh3",
        "-q",
    ]);
    assert_ne!(
        converted.status.code(),
        Some(0),
        "-c crc16 ignored: {}",
        String::from_utf8_lossy(&converted.stdout)
    );
}

/// `recover --truncate` under `-c auto` cuts a 3-byte text file ("hi\n") to nothing with
/// status 0, and with `--force` a 7-byte binary file: a file no longer than a header is cut
/// on the assumption that it is a stream torn in its first frame. Nothing may be cut from a
/// file that is not a stream.
#[test]
fn recover_does_not_cut_a_small_file_that_is_not_a_stream() {
    let dir = dir("tiny");
    for (contents, force) in [(&b"hi\n"[..], false), (&b"\x05\0\0\0abc"[..], true)] {
        let path: &Path = &dir.join("file");
        std::fs::write(path, contents).unwrap();
        let mut args = vec!["recover", path.to_str().unwrap(), "--truncate", "-q"];
        if force {
            args.push("--force");
        }
        let recovered = flatstream(&args);
        assert_eq!(
            std::fs::read(path).unwrap(),
            contents,
            "cut with status {:?}: {}",
            recovered.status.code(),
            String::from_utf8_lossy(&recovered.stdout)
        );
    }
}
