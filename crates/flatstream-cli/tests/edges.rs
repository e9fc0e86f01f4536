//! Edges the damage campaign of session 5 found: runs of empty frames that read as zero
//! fill, tiny and torn-at-the-start files under detection, a salvage search whose budget
//! one damaged region could spend, and an input that shrinks under salvage's map.

use std::path::PathBuf;

use crate::{flatstream, flatstream_with_input, stderr};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flatstream-cli-edges-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

/// A payload of zero bytes that is a frame of 64 zero bytes after its length (no checksum,
/// or CRC-16/XMODEM, whose checksum of zeros is 0) reads as zero fill too: refused.
#[test]
fn pack_refuses_a_payload_of_zeros_that_reads_as_zero_fill() {
    let dir = dir("zero-payload");
    for (checksum, refused_len, written_len) in [("none", 64, 63), ("crc16", 62, 61)] {
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

/// A file of at most 12 bytes (a stream whose only frame was torn, or a whole small frame)
/// is "detected" as CRC-32C whatever it holds, so naming the right checksum with -c makes
/// `recover --truncate` refuse with status 2 and a false claim that "the stream's frames
/// verify under crc32c" (no frame verifies under crc32c). A valid 10-byte `-c none` stream
/// is refused the same way, so `recover --truncate` fails on a clean stream.
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

/// The same false claim for a torn stream named with the right checksum: a file holding the
/// first 10 bytes of an XXH3 frame (a writer that died in its first frame) is refused by
/// `recover --truncate -c xxh3` with status 2, "the stream's frames verify under crc32c",
/// and `verify -c xxh3` gives the same false advice.
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
    for delay_ms in [30, 100] {
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
/// array of small little-endian u32 values, as any index or table holds) makes `salvage`
/// skip everything from the block to the end of the file: the 13,000-odd intact frames
/// after the block are not copied, the report just counts "candidate frames after damage
/// [that] were too costly to check". Reading the length field at every byte offset of such
/// data yields ~16,000 candidates of up to 76 KiB each, which spend the whole checksum
/// budget before the search reaches the real frames (72-byte ones, cheap to check). The
/// library's doc of `SalvageReport::unchecked_candidates` says the budget only ever leaves
/// out candidates "larger than both 64 KiB and twice the largest frame seen".
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
    let input = dir.join("damaged.fs");
    let output = dir.join("salvaged.fs");
    std::fs::write(&input, &damaged).unwrap();
    let salvaged = flatstream(&[
        "salvage",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "-c",
        "crc32c",
        "--json",
    ]);
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

/// A stream torn inside its first frame is bad data (status 1) when the file is at most 12
/// bytes long, but a usage error (status 2, "cannot detect the checksum") when it is 13 or
/// more bytes, under the default `-c auto`; and `verify --json` then prints no JSON object
/// at all, though `--json` promises one. The same damage (a writer that died in its first
/// frame) should get the same status at any length.
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
        // Nothing is cut on an assumed checksum: over a header's length the file may not be
        // a stream at all (status 2, "name it with -c"); up to it, a torn tail after no
        // frame is not proven (status 1). Named and forced, the torn frame is cut.
        let path = torn.to_str().unwrap();
        let auto = flatstream(&["recover", path, "--truncate"]);
        let expected = if cut <= 12 { 1 } else { 2 };
        assert_eq!(auto.status.code(), Some(expected), "{}", stderr(&auto));
        if cut > 12 {
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
