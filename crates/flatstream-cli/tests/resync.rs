//! Salvage's search after damage, from a third outsider attack: a large frame whose payload
//! holds frames (it was dropped silently and its inner frames copied as the stream's own),
//! the same under CRC-16 for an unconfirmed frame, a zeroed block that leaves a CRC-16
//! frame of zeros; and `recover` without a checksum cutting an intact frame after a flipped
//! length field. (The chain walk that made salvage quadratic in the number of damaged
//! regions is counted, not timed, in `flatstream-io`'s `recovery::resync::tests`.)

use crate::edges::{
    assert_kept_every_intact_frame, dir, frame, noise, payloads, salvage_bytes, salvage_parts,
    small_frames,
};
use crate::{flatstream, stderr};

/// A stream of `count` 100-byte frames under `checksum`, as one payload.
fn inner_stream(checksum: &str, seed: u64, count: u64) -> Vec<u8> {
    (0..count)
        .flat_map(|index| frame(checksum, &noise(seed + index, 100)))
        .collect()
}

/// A large frame whose payload is a stream of 800 small frames (84 KiB or so), after
/// damage (50 bytes of 0xee), then one intact 100-byte frame, then a frame whose length
/// field has its top bit flipped, then intact frames. The chain of headers from the inner
/// frames runs one frame past the large frame's end, so salvage's last pass, which took
/// only a frame ending exactly where that chain broke, used to skip it silently and copy
/// its 800 inner frames as the stream's own. It now takes a frame ending anywhere on the
/// chain. Under every checksum.
#[test]
fn salvage_keeps_a_nested_large_frame_followed_by_a_frame_then_a_flipped_length() {
    for checksum in ["crc16", "crc32", "crc32c", "crc64", "xxh3"] {
        let mut parts = small_frames(10, 10);
        parts.push((false, vec![0xee; 50]));
        parts.push((true, inner_stream(checksum, 1000, 800)));
        parts.push((true, noise(7, 100)));
        let mut flipped = frame(checksum, &noise(8, 100));
        flipped[3] ^= 0x80;
        parts.push((false, flipped));
        parts.extend(small_frames(300, 10));
        let (intact, written, report) = salvage_parts("nested-flip", checksum, &parts);
        assert_kept_every_intact_frame(&intact, &written, &report);
    }
}

/// CRC-16: a 31 KiB frame whose payload is a stream of 300 small frames, between two
/// damaged regions. Damage follows it, so it used to be unconfirmed, and the search went on
/// into its payload and copied its 300 inner frames as the stream's own. A payload that is
/// frames end to end confirms it (a chance match never is).
#[test]
fn salvage_does_not_copy_the_frames_inside_an_unconfirmed_crc16_frame() {
    let inner: Vec<Vec<u8>> = (0..300).map(|index| noise(3000 + index, 100)).collect();
    let outer: Vec<u8> = inner
        .iter()
        .flat_map(|payload| frame("crc16", payload))
        .collect();
    let mut parts = small_frames(30, 10);
    parts.push((false, vec![0xee; 50]));
    parts.push((true, outer.clone()));
    parts.push((false, vec![0xff; 20]));
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

/// CRC-16: a block of 200 zero bytes that begins right after a 20-byte frame's length field
/// (the length survives, checksum and payload are zeroed, and so is what follows). The
/// frame reads as a 20-byte payload of zeros whose CRC-16/XMODEM is 0, and salvage used to
/// copy it. The zeros run on for 64 bytes from its checksum field: zero fill.
#[test]
fn salvage_does_not_copy_a_crc16_frame_that_a_zeroed_block_left() {
    let originals: Vec<Vec<u8>> = (0..30).map(|index| noise(7000 + index, 20)).collect();
    let mut bytes: Vec<u8> = originals.iter().flat_map(|p| frame("crc16", p)).collect();
    let frame_len = 4 + 2 + 20;
    let start = 10 * frame_len + 4;
    bytes[start..start + 200].fill(0);
    let dir = dir("crc16-zeroed");
    let (salvaged, output) = salvage_bytes(&dir, &bytes, "crc16");
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
/// frame whole. `recover --truncate` used to cut the 208 bytes as a torn tail with status
/// 0. Headers of frames of typical size run exactly to the end from inside the tail: not
/// proven, so nothing is cut without `--force`.
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
