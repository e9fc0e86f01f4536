//! Issue 11 through the binary: recovery never destroys data, streams identify their
//! checksum, zero fill is damage, and nothing hangs on input that is not frames.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flatstream_test_support::pseudo_random_bytes;
use serde_json::Value;

use crate::{ScratchDir, flatstream, stderr};

/// An empty directory of its own for a test, removed when the test ends.
fn dir(name: &str) -> ScratchDir {
    ScratchDir::new(&format!("recovery-{name}"))
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `flatstream gen telemetry` into `dir/name` with the given checksum.
fn generate(dir: &Path, name: &str, count: u32, checksum: &str) -> PathBuf {
    let file = dir.join(name);
    let count = count.to_string();
    let output = flatstream(&[
        "gen",
        "telemetry",
        path(&file),
        "--count",
        &count,
        "-c",
        checksum,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    file
}

fn json(args: &[&str]) -> (Value, Option<i32>, String) {
    let output = flatstream(args);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{args:?}: {error}: {}", stderr(&output)));
    (report, output.status.code(), stderr(&output))
}

#[test]
fn a_flipped_length_bit_is_reported_as_damage_and_never_cut() {
    // Finding 1: bit 0 of byte 731 (frame 10's length field) of 100 000 events.
    let dir = dir("flip");
    let file = generate(&dir, "events.fs", 100_000, "crc32c");
    let mut bytes = fs::read(&file).unwrap();
    bytes[731] ^= 1;
    fs::write(&file, &bytes).unwrap();

    let (report, code, _) = json(&["verify", path(&file), "--json"]);
    assert_eq!((report["end"].as_str(), code), (Some("damaged"), Some(1)));
    assert_eq!(report["last_good_offset"], 728);
    assert_eq!(report["intact_frame_after"], 808);

    for force in [false, true] {
        let mut args = vec!["recover", path(&file), "--truncate"];
        if force {
            args.push("--force");
        }
        let output = flatstream(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains("salvage it"),
            "{}",
            stderr(&output)
        );
        assert_eq!(
            fs::read(&file).unwrap(),
            bytes,
            "{args:?}: the file is unchanged"
        );
    }
    let rescued = dir.join("rescued.fs");
    let (report, code, _) = json(&["salvage", path(&file), path(&rescued), "--json"]);
    assert_eq!((report["frames"].as_u64(), code), (Some(99_999), Some(1)));
}

#[test]
fn a_wrong_checksum_never_cuts_a_good_file_and_auto_reads_it() {
    // Finding 2: a valid one-frame file written without a checksum.
    let dir = dir("wrong-checksum");
    let file = generate(&dir, "one.fs", 1, "none");
    let original = fs::read(&file).unwrap();
    let output = flatstream(&["recover", path(&file), "-c", "xxh3", "--truncate"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("no frame before it verifies"), "{text}");
    assert!(text.contains("not cut"), "{text}");
    assert_eq!(fs::read(&file).unwrap(), original);

    // One frame read without a checksum proves nothing (a damaged checksummed frame reads
    // like that too): detection asks for -c, and nothing is cut.
    let output = flatstream(&["recover", path(&file), "--truncate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("name it with -c"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read(&file).unwrap(), original);
    // Two frames are detected, and found clean.
    let two = generate(&dir, "two.fs", 2, "none");
    let two_bytes = fs::read(&two).unwrap();
    let (report, code, _) = json(&["recover", path(&two), "--truncate", "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(report["checksum"], "none");
    assert_eq!(report["checksum_detected"], true);
    assert_eq!(report["end"], "clean");
    assert_eq!(fs::read(&two).unwrap(), two_bytes);

    // A mismatch at frame 0 with an explicit -c names the checksum that fits.
    let multi = generate(&dir, "xxh3.fs", 50, "xxh3");
    let output = flatstream(&["verify", path(&multi), "-c", "crc32c"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("try -c xxh3"),
        "{}",
        stderr(&output)
    );
    let (report, _, _) = json(&["verify", path(&multi), "-c", "crc64", "--json"]);
    assert_eq!(report["suggested_checksum"], "xxh3");
}

#[test]
fn every_algorithm_is_detected_and_said_in_json() {
    let dir = dir("detect");
    for checksum in crate::algorithms() {
        let file = generate(&dir, &format!("{checksum}.fs"), 300, checksum);
        for command in ["verify", "stats"] {
            let (report, code, _) = json(&[command, path(&file), "--json"]);
            assert_eq!(code, Some(0), "{command} {checksum}");
            assert_eq!(report["checksum"], checksum, "{command}");
            assert_eq!(report["checksum_detected"], true);
            assert_eq!(report["frames"], 300);
        }
        let output = flatstream(&["cat", path(&file), "--format", "len"]);
        assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 300);
    }
    // Bytes that are no stream: exit 2, naming every candidate.
    let noise = dir.join("noise.bin");
    fs::write(&noise, [0xffu8; 4096]).unwrap();
    let output = flatstream(&["verify", path(&noise)]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("cannot detect the checksum"), "{message}");
    for checksum in crate::algorithms() {
        assert!(message.contains(&format!("{checksum}: ")), "{message}");
    }
}

#[test]
fn zero_fill_is_damage_and_a_zero_filled_tail_is_mended_exactly() {
    // Finding 7, with the JSON ranges.
    let dir = dir("zeros");
    let file = generate(&dir, "events.fs", 1000, "crc32c");
    let original = fs::read(&file).unwrap();

    let mut tail = original.clone();
    tail.resize(original.len() + 8192, 0);
    fs::write(&file, &tail).unwrap();
    let (report, code, _) = json(&["verify", path(&file), "--json"]);
    assert_eq!(
        (report["end"].as_str(), code),
        (Some("zero_filled"), Some(1))
    );
    let end = tail.len() as u64;
    assert_eq!(
        report["zero_filled"],
        serde_json::json!([[original.len(), end]])
    );
    assert_eq!(report["frames"], 1000);
    let (report, code, _) = json(&["recover", path(&file), "--truncate", "--json"]);
    assert_eq!(
        (report["end"].as_str(), code),
        (Some("zero_filled_tail"), Some(0))
    );
    assert_eq!(fs::read(&file).unwrap(), original, "mended exactly");

    // 16 MB of zeros is not a valid stream under any checksum.
    let zeros = dir.join("zeros.bin");
    fs::write(&zeros, vec![0u8; 16_000_000]).unwrap();
    for checksum in ["crc32c", "crc16", "none"] {
        let (report, code, _) = json(&["verify", path(&zeros), "-c", checksum, "--json"]);
        assert_eq!(
            (report["end"].as_str(), code),
            (Some("zero_filled"), Some(1))
        );
        assert_eq!(report["zero_filled"], serde_json::json!([[0, 16_000_000]]));
    }
    // In the middle: damage, located where the zeros begin.
    let mut middle = original.clone();
    middle[2000..2000 + 4096].fill(0);
    fs::write(&file, &middle).unwrap();
    let output = flatstream(&["recover", path(&file), "--truncate"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(fs::read(&file).unwrap(), middle, "nothing cut");
    let rescued = dir.join("rescued.fs");
    let (report, _, _) = json(&["salvage", path(&file), path(&rescued), "--json"]);
    let zero_filled = report["zero_filled"].as_array().unwrap();
    assert_eq!(zero_filled.len(), 1, "{report}");
}

#[test]
fn verify_dev_zero_ends() {
    // Finding 7: `verify /dev/zero` used to read forever.
    let mut child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args(["verify", "/dev/zero"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A guard against a hang, not a timing assertion: it takes milliseconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("verify /dev/zero did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
}

#[test]
fn salvage_of_bytes_that_are_not_frames_is_bounded_and_says_so() {
    // Finding 5 (the work bound itself is counted in flatstream-io's tests).
    let dir = dir("noise");
    let noise = pseudo_random_bytes(4_000_000, 0x2545_f491_4f6c_dd1d);
    let input = dir.join("noise.bin");
    fs::write(&input, &noise).unwrap();
    let output = dir.join("out.fs");
    let (report, code, _) = json(&[
        "salvage",
        path(&input),
        path(&output),
        "-c",
        "crc32c",
        "--json",
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(report["frames"], 0);
    assert_eq!(report["skipped"], serde_json::json!([[0, 4_000_000]]));
    assert!(report["unchecked_candidates"].is_u64());
    assert_eq!(fs::metadata(&output).unwrap().len(), 0);
}

/// Runs `recover` with `args` on a copy of `bytes` and returns the exit code and the file
/// afterwards.
fn recover_copy(dir: &Path, bytes: &[u8], args: &[&str]) -> (Option<i32>, Vec<u8>) {
    let file = dir.join("copy.fs");
    fs::write(&file, bytes).unwrap();
    let mut all = vec!["recover", path(&file)];
    all.extend_from_slice(args);
    let output = flatstream(&all);
    (output.status.code(), fs::read(&file).unwrap())
}

#[test]
fn an_outsiders_reproducers_never_destroy_data() {
    // Each case an outside attack on this command found; each deleted intact frames or
    // passed damage as good before the fix.
    let dir = dir("attack");

    // A damaged first frame made `-c auto` guess "none"; the cut then deleted frame 1.
    let two = fs::read(generate(&dir, "two.fs", 2, "crc32c")).unwrap();
    let mut damaged = two.clone();
    damaged[0] ^= 4;
    assert_eq!(
        recover_copy(&dir, &damaged, &["--truncate"]),
        (Some(1), damaged.clone())
    );
    // ...and with --force: an intact frame follows, so nothing is cut.
    let five = fs::read(generate(&dir, "five.fs", 5, "crc32c")).unwrap();
    let mut damaged = five.clone();
    damaged[20] ^= 1;
    assert_eq!(
        recover_copy(&dir, &damaged, &["--truncate", "--force"]),
        (Some(1), damaged.clone())
    );

    // Payloads ending in zeros: a damaged first frame made the stream pass as "none".
    let hex = dir.join("z.hex");
    fs::write(
        &hex,
        "0102030405060708090a00000000\n1112131415161718191a1b00000000\n2122232425262728292a2b2c00000000\n",
    )
    .unwrap();
    let z = dir.join("z.fs");
    assert!(
        flatstream(&["pack", "-o", path(&z), path(&hex), "-c", "crc32c"])
            .status
            .success()
    );
    let mut bytes = fs::read(&z).unwrap();
    bytes[9] ^= 1;
    fs::write(&z, &bytes).unwrap();
    let (report, code, _) = json(&["verify", path(&z), "--json"]);
    assert_eq!(
        (report["checksum"].as_str(), code),
        (Some("crc32c"), Some(1))
    );
    let rescued = dir.join("z-rescued.fs");
    let (report, _, _) = json(&["salvage", path(&z), path(&rescued), "--json"]);
    assert_eq!(report["frames"], 2);

    // A wrong explicit -c never cuts: refused when the stream verifies under another.
    let one = fs::read(generate(&dir, "one.fs", 1, "crc32c")).unwrap();
    assert_eq!(
        recover_copy(&dir, &one, &["--truncate", "-c", "none"]),
        (Some(2), one.clone())
    );
    let mut crc32_zeros = fs::read(generate(&dir, "crc32.fs", 1, "crc32")).unwrap();
    crc32_zeros.resize(crc32_zeros.len() + 100, 0);
    assert_eq!(
        recover_copy(
            &dir,
            &crc32_zeros,
            &["--truncate", "-c", "crc32c", "--force"]
        ),
        (Some(2), crc32_zeros.clone())
    );
    // A one-frame crc16 file with zeros after it: detected as crc16, the zeros cut exactly.
    let crc16 = fs::read(generate(&dir, "crc16.fs", 1, "crc16")).unwrap();
    let mut zeros_after = crc16.clone();
    zeros_after.resize(crc16.len() + 4096, 0);
    assert_eq!(
        recover_copy(&dir, &zeros_after, &["--truncate"]),
        (Some(0), crc16)
    );

    // Without a checksum, a damaged first length made its own size the yardstick.
    let mut plain = fs::read(generate(&dir, "none.fs", 3000, "none")).unwrap();
    plain[2] ^= 2;
    assert_eq!(
        recover_copy(&dir, &plain, &["--truncate", "-c", "none"]),
        (Some(1), plain.clone())
    );

    // Pipes and devices: recover and salvage need a regular file (a pipe read twice was
    // "clean: 0 frames"; /dev/zero never ended).
    for args in [
        vec!["recover", "/dev/zero"],
        vec!["recover", "/dev/zero", "--truncate"],
        vec!["salvage", "/dev/zero", path(&dir.join("out.fs"))],
    ] {
        let output = flatstream(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains("needs a regular file"),
            "{}",
            stderr(&output)
        );
    }
    // A salvage that keeps nothing under the checksum given names the one that fits.
    let output = flatstream(&[
        "salvage",
        path(&dir.join("five.fs")),
        path(&dir.join("wrong.fs")),
        "-c",
        "crc32",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("try -c crc32c"),
        "{}",
        stderr(&output)
    );
    // A salvage that cannot write names the output, not the input.
    let output = flatstream(&["salvage", path(&dir.join("five.fs")), "/dev/full"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("flatstream: /dev/full"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn damaged_large_frames_of_random_bytes_keep_every_intact_frame() {
    // Frames of random-looking bytes (compressed or encrypted payloads) used to exhaust the
    // resync budget after one damaged frame: everything after the second was dropped.
    let dir = dir("large");
    let mut hex = String::new();
    for payload in pseudo_random_bytes(12 * 256 * 1024, 0x9e37_79b9_7f4a_7c15).chunks(256 * 1024) {
        for byte in payload {
            write!(hex, "{byte:02x}").unwrap();
        }
        hex.push('\n');
    }
    let lines = dir.join("big.hex");
    fs::write(&lines, hex).unwrap();
    let file = dir.join("big.fs");
    assert!(
        flatstream(&["pack", "-o", path(&file), path(&lines), "-q"])
            .status
            .success()
    );
    let clean = fs::read(&file).unwrap();
    let frame_len = 8 + 256 * 1024;
    let mut damaged = clean.clone();
    for frame in [3, 7] {
        damaged[frame * frame_len + 100] ^= 1;
    }
    fs::write(&file, &damaged).unwrap();
    let rescued = dir.join("rescued.fs");
    let (report, _, _) = json(&["salvage", path(&file), path(&rescued), "--json"]);
    assert_eq!(report["frames"], 10, "{report}");
    assert_eq!(report["unchecked_candidates"], 0, "{report}");

    // A length field flipped to run past the end: damage (the next frame is found), never
    // a tail to cut, with or without --force.
    let mut flipped = clean.clone();
    flipped[5 * frame_len + 2] ^= 0x40;
    fs::write(&file, &flipped).unwrap();
    let (report, code, _) = json(&["verify", path(&file), "--json"]);
    assert_eq!(
        (report["end"].as_str(), code),
        (Some("damaged"), Some(1)),
        "{report}"
    );
    assert_eq!(report["intact_frame_after"], 6 * frame_len, "{report}");
    assert_eq!(
        recover_copy(&dir, &flipped, &["--truncate", "--force"]),
        (Some(1), flipped.clone())
    );
}
