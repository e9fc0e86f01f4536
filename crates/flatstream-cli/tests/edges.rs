//! Edges the damage campaign of session 5 found: runs of empty frames that read as zero
//! fill, tiny and torn-at-the-start files under detection, a salvage search whose budget
//! one damaged region could spend, and an input that shrinks under salvage's map.

use std::path::{Path, PathBuf};
use std::process::Output;

use flatstream::{Checksum, ChecksumKind};
use serde_json::Value;

use crate::{ScratchDir, flatstream, flatstream_with_input, stderr};

/// An empty directory of its own for a test, removed when the test ends.
pub(crate) fn dir(name: &str) -> ScratchDir {
    ScratchDir::new(&format!("edges-{name}"))
}

/// `pack` writes `lines` (hex, one payload a line) with `checksum` to `path`.
fn pack(path: &std::path::Path, checksum: &str, lines: &str) {
    let packed = flatstream_with_input(
        &["pack", "-c", checksum, "-o", path.to_str().unwrap()],
        lines.as_bytes(),
    );
    assert!(packed.status.success(), "{}", stderr(&packed));
}

/// The most empty payloads in a row each checksum's frames allow before they are 64 zero
/// bytes, which the reading commands report as zero fill: 4-byte headers (none) 15, 6-byte
/// (CRC-16) 10, 8-byte (CRC-32, CRC-32C) 7, 12-byte (CRC-64) 5.
const MOST_EMPTY: [(&str, usize); 5] = [
    ("none", 15),
    ("crc16", 10),
    ("crc32", 7),
    ("crc32c", 7),
    ("crc64", 5),
];

/// `pack` once wrote eight empty CRC-32C frames in a row, which `verify` then called
/// zero-filled damage and `recover --truncate` cut off with status 0: the tools' own output
/// must verify. Now `pack` refuses the empty line that would make the run (status 1, the
/// line named, nothing written), and a stream with the most it allows verifies and comes
/// through `recover --truncate` and `salvage` whole.
#[test]
fn pack_writes_no_run_of_empty_frames_that_reads_as_zero_fill() {
    let dir = dir("empty-frames");
    for (checksum, most) in MOST_EMPTY {
        let path = dir.join(format!("{checksum}.fs"));
        let too_many = format!("6162\n{}", "\n".repeat(most + 1));
        let refused = flatstream_with_input(
            &["pack", "-c", checksum, "-o", path.to_str().unwrap()],
            too_many.as_bytes(),
        );
        assert_eq!(refused.status.code(), Some(1), "{checksum}");
        assert!(
            stderr(&refused).contains(&format!("line {} of ", most + 2))
                && stderr(&refused).contains("zero fill"),
            "{checksum}: {}",
            stderr(&refused)
        );
        assert!(!path.exists(), "{checksum}: nothing written");

        pack(
            &path,
            checksum,
            &format!("6162\n{}6364\n{}", "\n".repeat(most), "\n".repeat(most)),
        );
        let written = std::fs::read(&path).unwrap();
        let p = path.to_str().unwrap();
        let verify = flatstream(&["verify", p, "-c", checksum]);
        assert!(verify.status.success(), "{checksum}: {}", stderr(&verify));
        let cut = flatstream(&["recover", p, "-c", checksum, "--truncate"]);
        assert!(cut.status.success(), "{checksum}: {}", stderr(&cut));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            written,
            "{checksum}: nothing cut"
        );
        let out = dir.join(format!("{checksum}-salvaged.fs"));
        let salvaged = flatstream(&["salvage", p, out.to_str().unwrap(), "-c", checksum]);
        assert!(
            salvaged.status.success(),
            "{checksum}: {}",
            stderr(&salvaged)
        );
        assert_eq!(
            std::fs::read(&out).unwrap(),
            written,
            "{checksum}: all kept"
        );
    }
    // XXH3's checksum of no bytes is not zero: empty frames are never zero fill.
    let path = dir.join("xxh3.fs");
    pack(&path, "xxh3", &"\n".repeat(100));
    // (Detection needs a frame with data: name it.)
    let verify = flatstream(&["verify", path.to_str().unwrap(), "-c", "xxh3"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

/// A payload of zeros that reads as zero fill is refused too: without a checksum from 64
/// zero bytes, under CRC-16/XMODEM (whose checksum of zeros is 0) from a 64-byte frame.
#[test]
fn pack_refuses_a_payload_of_zeros_that_reads_as_zero_fill() {
    let dir = dir("zero-payload");
    // Without a checksum 64 zero bytes of payload; under CRC-16 a frame of 64 bytes (length,
    // zero checksum, 58 zero bytes).
    for (checksum, refused_len, written_len) in [("none", 64, 63), ("crc16", 58, 57)] {
        let path = dir.join(format!("{checksum}.fs"));
        let line = |len: usize| format!("{}\n", "00".repeat(len));
        let refused = flatstream_with_input(
            &["pack", "-c", checksum, "-o", path.to_str().unwrap()],
            line(refused_len).as_bytes(),
        );
        assert_eq!(
            refused.status.code(),
            Some(1),
            "{checksum}: {}",
            stderr(&refused)
        );
        pack(&path, checksum, &line(written_len));
        let verify = flatstream(&["verify", path.to_str().unwrap(), "-c", checksum]);
        assert!(verify.status.success(), "{checksum}: {}", stderr(&verify));
    }
}

/// Empty frames between two messages, as many as `pack` allows: salvage keeps every one.
#[test]
fn salvage_keeps_empty_frames_between_messages() {
    let dir = dir("empty-middle");
    let path = dir.join("mid.fs");
    pack(&path, "crc32c", &format!("6162\n{}6364\n", "\n".repeat(7)));
    let written = std::fs::read(&path).unwrap();
    let out = dir.join("out.fs");
    let salvaged = flatstream(&[
        "salvage",
        path.to_str().unwrap(),
        out.to_str().unwrap(),
        "-c",
        "crc32c",
    ]);
    assert_eq!(salvaged.status.code(), Some(0), "{}", stderr(&salvaged));
    assert_eq!(std::fs::read(&out).unwrap(), written);
}

/// A file of at most 12 bytes used to be "detected" as CRC-32C whatever it held, so naming
/// the right checksum made `recover --truncate` refuse (status 2) with a false claim that
/// "the stream's frames verify under crc32c". A clean 10-byte `-c none` stream passes.
#[test]
fn recover_truncate_on_a_tiny_file_does_not_claim_another_checksum_fits() {
    let dir = dir("tiny");
    // A clean stream: one 2-byte message and one empty one, no checksum (10 bytes).
    let clean = dir.join("clean.fs");
    pack(&clean, "none", "6162\n\n");
    let bytes = std::fs::read(&clean).unwrap();
    assert_eq!(bytes.len(), 10);
    let out = flatstream(&[
        "recover",
        clean.to_str().unwrap(),
        "-c",
        "none",
        "--truncate",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(&clean).unwrap(), bytes);
}

/// The same false claim, gone, for a torn stream named with the right checksum: the first
/// 10 bytes of an XXH3 frame (a writer that died in its first frame) under `recover
/// --truncate -c xxh3` and `verify -c xxh3`.
#[test]
fn a_torn_tiny_xxh3_stream_is_not_said_to_verify_under_crc32c() {
    let dir = dir("tiny-torn");
    // A torn XXH3 stream: the first 10 bytes of a frame (length 48, 6 of the 8 checksum bytes).
    let torn = dir.join("torn.fs");
    std::fs::write(&torn, [48, 0, 0, 0, 0x66, 0x40, 0x8c, 0x05, 0x8d, 0x06]).unwrap();
    let out = flatstream(&[
        "recover",
        torn.to_str().unwrap(),
        "-c",
        "xxh3",
        "--truncate",
    ]);
    let message = stderr(&out);
    assert!(
        !message.contains("verify under crc32c"),
        "no frame verifies under crc32c in a 10-byte torn file: {message}"
    );
    assert_ne!(
        out.status.code(),
        Some(2),
        "bad data, not a usage error: {message}"
    );
    let verify = flatstream(&["verify", torn.to_str().unwrap(), "-c", "xxh3"]);
    assert!(
        !stderr(&verify).contains("verify under crc32c"),
        "{}",
        stderr(&verify)
    );
}

/// `salvage` maps its input: when the file shrinks while salvage reads it (a writer truncating
/// or rotating it), reading the lost pages raises SIGBUS. That was a crash (exit 135 in a
/// shell) that left the temporary output `.NAME.flatstream-tmp-PID-N` beside the target;
/// now it is an I/O error exit (status 2) that says so and removes the temporary file. The
/// input: a sparse file of 1 GiB of zeros (no disk space, seconds to scan), truncated
/// while salvage scans it.
#[test]
fn salvage_survives_its_input_shrinking_underneath() {
    use std::process::Stdio;
    use std::time::Duration;

    let dir = dir("shrink");
    let input = dir.join("in.fs");
    let output = dir.join("out.fs");
    // Salvage scans the 1 GiB for seconds (4.6 s in a release build here); it has mapped
    // the file long before these delays end, and is still reading it.
    for delay_ms in [300, 1000] {
        let file = std::fs::File::create(&input).unwrap();
        file.set_len(1 << 30).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_flatstream"))
            .args([
                "salvage",
                input.to_str().unwrap(),
                output.to_str().unwrap(),
                "-c",
                "crc32c",
                "-q",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        file.set_len(1000).unwrap();
        let result = child.wait_with_output().unwrap();
        let message = stderr(&result);
        assert_eq!(result.status.code(), Some(2), "{delay_ms} ms: {message}");
        assert!(
            message.contains("SIGBUS") && message.contains("shrank"),
            "{message}"
        );
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["in.fs"],
            "{delay_ms} ms: no output, no temporary file"
        );
    }
}

/// One 64 KiB block of a 1.5 MB CRC-32C stream overwritten with foreign binary data (an
/// array of small little-endian u32 values, as any index or table holds) used to make
/// `salvage` skip everything from the block to the end: the length field read at every byte
/// of such data gives some 16 000 candidates of up to 76 KiB, which spent the whole budget
/// before the search reached the real 72-byte frames. Frames like the ones seen now have a
/// budget of their own: every intact frame after the block is copied.
#[test]
fn salvage_keeps_the_frames_after_a_block_of_small_integers() {
    let dir = dir("small-ints");
    let original = dir.join("original.fs");
    let generated = flatstream(&[
        "gen",
        "telemetry",
        original.to_str().unwrap(),
        "--count",
        "20000",
        "-c",
        "crc32c",
        "-q",
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let original = std::fs::read(&original).unwrap();
    // Frame boundaries of the original (CRC-32C: 8-byte header).
    let mut frames = Vec::new();
    let mut at = 0;
    while at < original.len() {
        let len = u32::from_le_bytes(original[at..at + 4].try_into().unwrap()) as usize;
        frames.push(at..at + 8 + len);
        at += 8 + len;
    }
    let (start, end) = (409_600, 409_600 + 65_536);
    let mut damaged = original.clone();
    for (index, word) in damaged[start..end].chunks_exact_mut(4).enumerate() {
        word.copy_from_slice(&((index as u32 * 7919) % 300).to_le_bytes());
    }
    let intact: Vec<&[u8]> = frames
        .iter()
        .filter(|frame| frame.end <= start || frame.start >= end)
        .map(|frame| &original[frame.clone()])
        .collect();
    let (salvaged, output) = salvage_bytes(&dir, &damaged, "crc32c");
    assert_eq!(salvaged.status.code(), Some(1), "{}", stderr(&salvaged));
    let expected: Vec<u8> = intact.concat();
    let written = std::fs::read(&output).unwrap();
    assert_eq!(
        written.len(),
        expected.len(),
        "salvage lost intact frames: {}",
        String::from_utf8_lossy(&salvaged.stdout)
    );
    assert_eq!(written, expected);
}

/// A stream torn inside its first frame used to be bad data (status 1) at 12 bytes or
/// fewer but a usage error (status 2, "cannot detect the checksum", and no JSON) from 13
/// on, under the default `-c auto`. Torn under every header width, it is bad data at any
/// length, with the JSON report; `recover --truncate` cuts it only when `-c` names the
/// checksum (and `--force`: no frame before it shows the checksum is the stream's).
#[test]
fn a_stream_torn_in_its_first_frame_is_bad_data_at_any_length() {
    let dir = dir("torn-first");
    let original = dir.join("original.fs");
    pack(&original, "crc32c", &format!("{}\n61\n", "ab".repeat(48)));
    let bytes = std::fs::read(&original).unwrap();
    let torn = dir.join("torn.fs");
    // Up to 51 bytes the 56-byte frame is torn under every header width; from 52 it is
    // whole under a narrower header (no checksum: 4 bytes, CRC-16: 6), where it is a frame
    // that fails or is followed by a torn length: which checksum the stream has cannot be
    // told, and detection says so (status 2).
    for cut in [12, 13, 30, 51] {
        std::fs::write(&torn, &bytes[..cut]).unwrap();
        let verify = flatstream(&["verify", torn.to_str().unwrap(), "--json"]);
        assert_eq!(
            verify.status.code(),
            Some(1),
            "cut at {cut}: {}",
            stderr(&verify)
        );
        let report: serde_json::Value = serde_json::from_slice(&verify.stdout)
            .unwrap_or_else(|error| panic!("cut at {cut}: no JSON ({error}): {}", stderr(&verify)));
        assert_eq!(report["end"], "torn_tail", "cut at {cut}");
        assert_eq!(
            (
                report["frames"].as_u64(),
                report["last_good_offset"].as_u64()
            ),
            (Some(0), Some(0))
        );
        // Nothing is cut on an assumed checksum (the file may not be a stream): status 2,
        // "name it with -c". Named and forced, the torn frame is cut.
        let path = torn.to_str().unwrap();
        for force in [false, true] {
            let mut args = vec!["recover", path, "--truncate"];
            if force {
                args.push("--force");
            }
            let auto = flatstream(&args);
            assert_eq!(auto.status.code(), Some(2), "{}", stderr(&auto));
            assert!(
                stderr(&auto).contains("name it with -c"),
                "{}",
                stderr(&auto)
            );
        }
        assert_eq!(std::fs::read(&torn).unwrap(), &bytes[..cut], "nothing cut");
        let forced = flatstream(&["recover", path, "-c", "crc32c", "--truncate", "--force"]);
        assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
        assert_eq!(std::fs::read(&torn).unwrap().len(), 0);
    }
    // From 52 bytes on, it cannot be told.
    std::fs::write(&torn, &bytes[..55]).unwrap();
    let verify = flatstream(&["verify", torn.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(2), "{}", stderr(&verify));
}

pub(crate) fn kind(name: &str) -> ChecksumKind {
    name.parse().unwrap()
}

/// One frame on the wire: length, checksum (little-endian, its width), payload.
pub(crate) fn frame(checksum: &str, payload: &[u8]) -> Vec<u8> {
    let checksum = kind(checksum).checksum();
    let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&checksum.calculate(payload).to_le_bytes()[..checksum.size()]);
    bytes.extend_from_slice(payload);
    bytes
}

/// Deterministic bytes that are no frame (xorshift).
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
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
pub(crate) fn payloads(checksum: &str, bytes: &[u8]) -> Vec<Vec<u8>> {
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

/// Writes `bytes` as `damaged.fs` in `dir` and salvages it under `checksum` to
/// `salvaged.fs` (`--json -q`): the command's output and the salvaged file's path.
pub(crate) fn salvage_bytes(dir: &Path, bytes: &[u8], checksum: &str) -> (Output, PathBuf) {
    let input = dir.join("damaged.fs");
    let output = dir.join("salvaged.fs");
    std::fs::write(&input, bytes).unwrap();
    let salvaged = flatstream(&[
        "salvage",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "-c",
        checksum,
        "--json",
        "-q",
    ]);
    (salvaged, output)
}

/// Builds `parts` (a frame's payload, or raw damage), salvages it, and returns the intact
/// payloads, the salvaged ones and the JSON report.
pub(crate) fn salvage_parts(
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
    let (salvaged, output) = salvage_bytes(&dir, &bytes, checksum);
    assert!(
        matches!(salvaged.status.code(), Some(0 | 1)),
        "{}",
        stderr(&salvaged)
    );
    let report: Value = serde_json::from_slice(&salvaged.stdout).unwrap();
    let written = payloads(checksum, &std::fs::read(&output).unwrap());
    (intact, written, report)
}

pub(crate) fn small_frames(seed: u64, count: usize) -> Vec<(bool, Vec<u8>)> {
    (0..count)
        .map(|index| (true, noise(seed + index as u64, 100)))
        .collect()
}

/// Every intact payload, in order, and nothing else, with nothing left unchecked.
pub(crate) fn assert_kept_every_intact_frame(
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
        "missing intact frames of sizes {missing:?} and {invented} invented frames, \
         report {report}"
    );
    assert_eq!(written, intact, "report {report}");
    assert_eq!(
        (
            &report["unchecked_candidates"],
            &report["unconfirmed_candidates"]
        ),
        (&Value::from(0), &Value::from(0))
    );
}

/// A 200 KiB frame after one damaged region and followed by another (20 bytes of 0xff, as
/// any overwritten block leaves) used to be dropped with `unchecked_candidates` 0: a
/// candidate over 64 KiB was checked only when its chain of headers landed on the anchor or
/// its next two headers were plausible. Salvage's last pass now checks it.
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

/// Two 100 KiB frames in a row between damaged regions (both used to be lost, silently).
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
/// message), between two damaged regions: salvage used to drop the intact outer frame and
/// copy the 800 frames of its payload as if they were the stream's. The outer frame ends
/// exactly where the chain of headers from the inner frames breaks: its last pass finds it.
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

/// CRC-16: an intact frame between two damaged regions was dropped silently (a resync
/// point must be followed by another intact frame, a chance match being 1 in 65 536). It is
/// still not kept, but the report says so: `unconfirmed_candidates`, and a line of text.
#[test]
fn salvage_says_which_crc16_frames_it_could_not_confirm() {
    let mut parts = small_frames(11, 20);
    parts.push((false, vec![0xee; 50]));
    let lone = noise(5000, 100);
    parts.push((true, lone.clone()));
    parts.push((false, vec![0xff; 20]));
    parts.extend(small_frames(400, 20));
    let (intact, written, report) = salvage_parts("crc16-lone", "crc16", &parts);
    let missing: Vec<&Vec<u8>> = intact.iter().filter(|p| !written.contains(p)).collect();
    assert_eq!(missing, [&lone], "{report}");
    assert_eq!(
        written.len(),
        intact.len() - 1,
        "nothing invented: {report}"
    );
    assert_eq!(report["unconfirmed_candidates"], 1, "{report}");
}

/// An undamaged CRC-16 stream that `verify` passes used to lose frames under `salvage`
/// (status 1): a payload of one zero byte (or ten), whose CRC-16/XMODEM is 0, was taken for
/// zero fill, and so was every empty message written with `--compress lz4 -c crc16` (lz4
/// makes it 5 zero bytes). Zero fill starts at 64 zero bytes after the length, as readers
/// and writers see it.
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

/// `pack -c crc32` of one payload of 62 zero bytes: `verify` (auto) used to say "ok: 2
/// frames, checksum none (detected)", reading the CRC as payload, and `convert --to crc16`
/// rewrote it with status 0 as those two wrong frames. A frame of zeros whose checksum is
/// not zero is evidence for detection now.
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
/// takes) used to be ignored silently, the input's checksum detected instead (status 0). It
/// names the input's checksum now, so the CRC-32 frames fail under CRC-16.
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

/// `recover --truncate` under `-c auto` used to cut a 3-byte text file ("hi\n") to nothing
/// with status 0, and with `--force` a 7-byte binary file, assuming a stream torn in its
/// first frame. Nothing is cut on an assumed checksum.
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
