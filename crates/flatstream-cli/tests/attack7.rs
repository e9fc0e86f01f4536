//! Attack 7 on salvage's resync passes: a large frame whose payload holds frames, found
//! only through its inner frames (dropped silently, its inner frames copied as the
//! stream's own), the same under CRC-16 for an unconfirmed frame of any size, and the
//! `chain_end` walk that makes salvage quadratic in the number of damaged regions.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flatstream::{Checksum, ChecksumKind};
use serde_json::Value;

use crate::{flatstream, stderr};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flatstream-cli-attack7-{}-{name}",
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

/// A piece of the damaged input: an intact frame's payload, or raw bytes.
enum Part {
    Frame(Vec<u8>),
    Raw(Vec<u8>),
}

/// Builds `parts`, salvages them, and returns the intact payloads, the salvaged ones and
/// the JSON report.
fn salvage_parts(
    name: &str,
    checksum: &str,
    parts: &[Part],
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Value) {
    let dir = dir(name);
    let mut bytes = Vec::new();
    let mut intact = Vec::new();
    for part in parts {
        match part {
            Part::Frame(payload) => {
                bytes.extend(frame(checksum, payload));
                intact.push(payload.clone());
            }
            Part::Raw(raw) => bytes.extend_from_slice(raw),
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
        "{checksum}: {}",
        stderr(&salvaged)
    );
    let report: Value = serde_json::from_slice(&salvaged.stdout).unwrap();
    let written = payloads(checksum, &std::fs::read(&output).unwrap());
    (intact, written, report)
}

fn small_frames(seed: u64, count: usize) -> Vec<Part> {
    (0..count)
        .map(|index| Part::Frame(noise(seed + index as u64, 100)))
        .collect()
}

/// A stream of `count` 100-byte frames under `checksum`, as one payload.
fn inner_stream(checksum: &str, seed: u64, count: u64) -> Vec<u8> {
    (0..count)
        .flat_map(|index| frame(checksum, &noise(seed + index, 100)))
        .collect()
}

/// Every intact payload, in order, and nothing else.
fn assert_kept_every_intact_frame(
    what: &str,
    intact: &[Vec<u8>],
    written: &[Vec<u8>],
    report: &Value,
) {
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
        invented == 0 && missing.is_empty(),
        "{what}: missing intact frames of sizes {missing:?} and {invented} invented frames, \
         report {report}"
    );
    assert_eq!(written, intact, "{what}: report {report}");
}

/// A large frame whose payload is a stream of 800 small frames (84 KiB or so), after
/// damage (50 bytes of 0xee), then ONE intact 100-byte frame, then a frame whose length
/// field has its top bit flipped, then intact frames. The frame after the large one makes
/// the chain of headers from the inner frames run one frame past the large frame's end,
/// so `chain_end` is not where the large frame ends and the last pass skips it; the first
/// passes skip it because its next two headers are not both plausible. Salvage drops the
/// intact outer frame without counting it (`unchecked_candidates` and
/// `unconfirmed_candidates` 0) and copies its 800 inner frames as the stream's own.
/// Under every checksum.
#[test]
fn salvage_keeps_a_nested_large_frame_followed_by_a_frame_then_a_flipped_length() {
    for checksum in ["crc16", "crc32", "crc32c", "crc64", "xxh3"] {
        let mut parts = small_frames(10, 10);
        parts.push(Part::Raw(vec![0xee; 50]));
        parts.push(Part::Frame(inner_stream(checksum, 1000, 800)));
        parts.push(Part::Frame(noise(7, 100)));
        let mut flipped = frame(checksum, &noise(8, 100));
        flipped[3] ^= 0x80;
        parts.push(Part::Raw(flipped));
        parts.extend(small_frames(300, 10));
        let (intact, written, report) = salvage_parts("nested-flip", checksum, &parts);
        assert_kept_every_intact_frame(checksum, &intact, &written, &report);
    }
}

/// A large frame that holds a stream somewhere inside its payload (1000 bytes before it,
/// 777 after, as a message with a byte vector holding a stream), between two damaged
/// regions (50 bytes of 0xee before, 20 bytes of 0xff after): the chain from the inner
/// frames breaks inside the payload, not where the large frame ends, so it is skipped
/// silently and the 800 inner frames copied.
#[test]
fn salvage_keeps_a_large_frame_with_a_stream_embedded_in_its_payload() {
    for checksum in ["crc32", "xxh3"] {
        let mut outer = noise(1, 1000);
        outer.extend(inner_stream(checksum, 2000, 800));
        outer.extend(noise(2, 777));
        let mut parts = small_frames(20, 10);
        parts.push(Part::Raw(vec![0xee; 50]));
        parts.push(Part::Frame(outer));
        parts.push(Part::Raw(vec![0xff; 20]));
        parts.extend(small_frames(400, 10));
        let (intact, written, report) = salvage_parts("embedded", checksum, &parts);
        assert_kept_every_intact_frame(checksum, &intact, &written, &report);
    }
}

/// CRC-16: a 31 KiB frame whose payload is a stream of 300 small frames, between two
/// damaged regions. The outer frame is not confirmed (damage follows it), so it is counted
/// in `unconfirmed_candidates` (fine) but the search then goes on INTO its payload and
/// copies its 300 inner frames as the stream's own: frames that were never written to this
/// stream.
#[test]
fn salvage_does_not_copy_the_frames_inside_an_unconfirmed_crc16_frame() {
    let inner: Vec<Vec<u8>> = (0..300).map(|index| noise(3000 + index, 100)).collect();
    let outer: Vec<u8> = inner
        .iter()
        .flat_map(|payload| frame("crc16", payload))
        .collect();
    let mut parts = small_frames(30, 10);
    parts.push(Part::Raw(vec![0xee; 50]));
    parts.push(Part::Frame(outer.clone()));
    parts.push(Part::Raw(vec![0xff; 20]));
    parts.extend(small_frames(500, 10));
    let (_intact, written, report) = salvage_parts("crc16-nested", "crc16", &parts);
    let copied_inner = written
        .iter()
        .filter(|payload| inner.contains(payload))
        .count();
    assert_eq!(
        copied_inner, 0,
        "{copied_inner} frames from inside the unconfirmed outer frame copied, report {report}"
    );
    assert!(
        written.contains(&outer) || report["unconfirmed_candidates"].as_u64() >= Some(1),
        "{report}"
    );
}

/// 160 000 frames of 16-byte payloads (3.8 MB), every other one with a damaged checksum
/// byte: 80 000 damaged regions. After each, the last pass computes `chain_end` from the
/// frame found, walking the chain of headers to the end of the input (checksum damage does
/// not break it): O(regions × frames), 10.7 s in release for 3.8 MB, 46 s for 7.7 MB
/// (quadratic). Salvage must cost O(input): well under 5 s here.
#[test]
fn salvage_of_many_damaged_regions_is_linear() {
    let dir = dir("many-regions");
    let mut bytes = Vec::new();
    for index in 0..160_000u64 {
        let mut framed = frame("crc32", &noise(index + 1, 16));
        if index % 2 == 1 {
            *framed.last_mut().unwrap() ^= 0x55;
        }
        bytes.extend(framed);
    }
    let input = dir.join("damaged.fs");
    let output = dir.join("salvaged.fs");
    std::fs::write(&input, &bytes).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args([
            "salvage",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "-c",
            "crc32",
            "-q",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(5) {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let status =
        status.expect("salvage of 3.8 MB with 80 000 damaged regions: still running after 5 s");
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        payloads("crc32", &std::fs::read(&output).unwrap()).len(),
        80_000
    );
}

/// CRC-16: a block of 200 zero bytes that begins right after a 20-byte frame's length field
/// (the length survives, checksum and payload are zeroed, and so is what follows). The
/// frame now reads as a 20-byte payload of zeros whose CRC-16/XMODEM is 0: salvage copies
/// it, a frame that was never written (the original payload was not zeros), although the
/// zeros run on far past 64 bytes after the length, which is zero fill by salvage's own
/// rule. Salvage must not write a frame of zeros here.
#[test]
fn salvage_does_not_copy_a_crc16_frame_that_a_zeroed_block_left() {
    let originals: Vec<Vec<u8>> = (0..30).map(|index| noise(7000 + index, 20)).collect();
    let mut bytes: Vec<u8> = originals.iter().flat_map(|p| frame("crc16", p)).collect();
    let frame_len = 4 + 2 + 20;
    let start = 10 * frame_len + 4;
    bytes[start..start + 200].fill(0);
    let dir = dir("crc16-zeroed");
    let input = dir.join("damaged.fs");
    let output = dir.join("salvaged.fs");
    std::fs::write(&input, &bytes).unwrap();
    let salvaged = flatstream(&[
        "salvage",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "-c",
        "crc16",
        "--json",
        "-q",
    ]);
    assert_eq!(salvaged.status.code(), Some(1), "{}", stderr(&salvaged));
    let written = payloads("crc16", &std::fs::read(&output).unwrap());
    let invented: Vec<&Vec<u8>> = written.iter().filter(|p| !originals.contains(p)).collect();
    assert!(
        invented.is_empty(),
        "invented frames {invented:?}, report {}",
        String::from_utf8_lossy(&salvaged.stdout)
    );
}

/// Without a checksum: 20 frames of 100 bytes, the second-to-last one's length with bit 7
/// flipped (100 -> 228), so it runs past the end and the tail (208 bytes) holds the last
/// frame whole. `recover --truncate` calls the 208 bytes a torn tail, with `unproven` null
/// (the tail is shorter than a header and twice a typical payload), and cuts them with
/// status 0: the intact last frame is gone. Nothing can prove the tail holds no frame
/// here; recover must not cut it without `--force`.
#[test]
fn recover_truncate_does_not_cut_an_intact_frame_after_a_flipped_length_without_a_checksum() {
    let mut bytes = Vec::new();
    for index in 0..20u64 {
        let mut framed = frame("none", &noise(9000 + index, 100));
        if index == 18 {
            framed[0] ^= 0x80;
        }
        bytes.extend(framed);
    }
    let dir = dir("none-flip");
    let path = dir.join("stream.fs");
    std::fs::write(&path, &bytes).unwrap();
    let cut = flatstream(&[
        "recover",
        path.to_str().unwrap(),
        "-c",
        "none",
        "--truncate",
        "--json",
    ]);
    let after = std::fs::read(&path).unwrap();
    assert!(
        after.len() == bytes.len(),
        "cut to {} of {} bytes (the last frame, intact, began at {}): {}",
        after.len(),
        bytes.len(),
        19 * 104,
        String::from_utf8_lossy(&cut.stdout)
    );
}
