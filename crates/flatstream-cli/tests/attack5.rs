//! Attack 5: reproductions of defects found by damaging streams the way the world does.
//! Each test asserts the correct behaviour, so it fails until the defect is fixed.

use std::path::PathBuf;

use crate::{flatstream, flatstream_with_input, stderr};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flatstream-cli-attack5-{}-{name}",
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

/// A stream that `pack` writes without complaint (one message, then eight empty messages,
/// which the format allows and `cat --format hex` prints as empty lines) is read back by
/// `verify` as zero-filled damage, and `recover --truncate` deletes the eight good empty
/// frames with exit status 0. A repair tool must never delete frames the writer wrote; and a
/// stream the tool's own writer produced must verify.
#[test]
fn recover_truncate_keeps_empty_frames_that_pack_wrote() {
    let dir = dir("empty-frames");
    for (checksum, empties) in [("crc32c", 8), ("crc32", 8), ("crc16", 16), ("none", 16)] {
        let path = dir.join(format!("{checksum}.fs"));
        let mut lines = String::from("6162\n");
        lines.push_str(&"\n".repeat(empties));
        pack(&path, checksum, &lines);
        let written = std::fs::read(&path).unwrap();
        let p = path.to_str().unwrap();

        let cut = flatstream(&["recover", p, "-c", checksum, "--truncate"]);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            written,
            "{checksum}: recover --truncate deleted good empty frames: {}",
            stderr(&cut)
        );
        let out = dir.join(format!("{checksum}-salvaged.fs"));
        let _ = flatstream(&["salvage", p, out.to_str().unwrap(), "-c", checksum]);
        assert_eq!(
            std::fs::read(&out).unwrap_or_default(),
            written,
            "{checksum}: salvage dropped good empty frames"
        );
        let verify = flatstream(&["verify", p, "-c", checksum]);
        assert!(
            verify.status.success(),
            "{checksum}: the stream pack just wrote must verify: {}",
            stderr(&verify)
        );
    }
}

/// The same in the middle of a stream: salvage drops the empty frames between two messages,
/// all of which `pack` wrote.
#[test]
fn salvage_keeps_empty_frames_between_messages() {
    let dir = dir("empty-middle");
    let path = dir.join("mid.fs");
    pack(&path, "crc32c", &format!("6162\n{}6364\n", "\n".repeat(8)));
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
    let out = flatstream(&["recover", clean.to_str().unwrap(), "-c", "none", "--truncate"]);
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
    let out = flatstream(&["recover", torn.to_str().unwrap(), "-c", "xxh3", "--truncate"]);
    let message = stderr(&out);
    assert!(
        !message.contains("verify under crc32c"),
        "no frame verifies under crc32c in a 10-byte torn file: {message}"
    );
    assert_ne!(out.status.code(), Some(2), "bad data, not a usage error: {message}");
    let verify = flatstream(&["verify", torn.to_str().unwrap(), "-c", "xxh3"]);
    assert!(
        !stderr(&verify).contains("verify under crc32c"),
        "{}",
        stderr(&verify)
    );
}

/// `salvage` maps its input into memory; when the input shrinks while salvage runs (a log
/// rotated or truncated by its writer, the world's way of damaging a file that is being
/// repaired) the process dies of SIGBUS (exit 135 in a shell) instead of stopping with an
/// error naming the frame and offset, and leaves its temporary file
/// `.NAME.flatstream-tmp-PID-N` beside the output, which the README says a failed run never
/// does. `verify`, `stats`, `convert` and `recover` stop cleanly in the same race.
#[test]
fn salvage_survives_its_input_shrinking_underneath() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let dir = dir("shrink");
    let original = dir.join("original.fs");
    let generated = flatstream(&[
        "gen",
        "telemetry",
        original.to_str().unwrap(),
        "--count",
        "1500000",
        "-c",
        "crc32c",
        "-q",
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let input = dir.join("in.fs");
    let output = dir.join("out.fs");
    let mut signals = Vec::new();
    for delay_ms in [20, 50, 100, 200] {
        std::fs::copy(&original, &input).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
            .args([
                "salvage",
                input.to_str().unwrap(),
                output.to_str().unwrap(),
                "-q",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&input)
            .unwrap()
            .set_len(1000)
            .unwrap();
        let result = child.wait_with_output().unwrap();
        if let Some(signal) = result.status.signal() {
            signals.push((delay_ms, signal));
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("flatstream-tmp"))
        .collect();
    assert!(
        signals.is_empty(),
        "salvage was killed by a signal (delay ms, signal): {signals:?}"
    );
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
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
    for cut in [12, 13, 30, 55] {
        std::fs::write(&torn, &bytes[..cut]).unwrap();
        let verify = flatstream(&["verify", torn.to_str().unwrap(), "--json"]);
        assert_eq!(verify.status.code(), Some(1), "cut at {cut}: {}", stderr(&verify));
        let report: serde_json::Value = serde_json::from_slice(&verify.stdout)
            .unwrap_or_else(|error| panic!("cut at {cut}: no JSON ({error}): {}", stderr(&verify)));
        assert_eq!(report["end"], "torn_tail", "cut at {cut}");
    }
}
