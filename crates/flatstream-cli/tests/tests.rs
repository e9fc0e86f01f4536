//! The built `flatstream` binary, run over the wire vectors and over hostile input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;

use serde_json::Value;

mod checksum_kinds;
mod compress;
mod edges;
mod encrypt;
mod follow;
mod frame_buffer_outputs;
mod inspect;
mod limits;
mod outputs;
mod readme;
mod recovery;
mod resync;

/// Every checksum name the command takes, from the facade's one table.
fn algorithms() -> impl Iterator<Item = &'static str> {
    flatstream::ChecksumKind::all()
        .iter()
        .map(|kind| kind.name())
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/wire-vectors")
}

fn manifest() -> Value {
    serde_json::from_str(&std::fs::read_to_string(vectors().join("manifest.json")).unwrap())
        .unwrap()
}

fn flatstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args(args)
        .output()
        .unwrap()
}

fn flatstream_with_input(args: &[&str], input: &[u8]) -> Output {
    let (child, feeder) = spawn_with_input(args, Stdio::piped(), input.to_vec());
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    output
}

/// The binary started with `args` and `stdout`, its standard error piped, and `input` fed to
/// its standard input from a thread, so that a large output is read while the input is
/// still being written (writing all of it first deadlocks once the output fills its pipe).
/// The thread returns its `write_all`: an error when the child stopped reading.
fn spawn_with_input(
    args: &[&str],
    stdout: Stdio,
    input: Vec<u8>,
) -> (Child, JoinHandle<std::io::Result<()>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    (child, feeder)
}

/// Asserts the binary did not panic (no panic message, not Rust's panic exit status 101).
fn assert_no_panic(args: &[&str], output: &Output) {
    let message = stderr(output);
    assert!(
        !message.contains("panicked") && output.status.code() != Some(101),
        "{args:?}: {:?} {message}",
        output.status
    );
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) use flatstream_test_support::ScratchDir;

fn vector(name: &str) -> String {
    vectors().join(name).display().to_string()
}

#[test]
fn verify_json_reports_every_vector_as_its_manifest_says() {
    for case in manifest()["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let file = vector(case["file"].as_str().unwrap());
        let checksum = case["checksum"].as_str().unwrap();
        let limit = case["max_frame_len"]
            .as_u64()
            .unwrap_or(64 << 20)
            .to_string();
        let output = flatstream(&[
            "verify",
            &file,
            "--json",
            "-c",
            checksum,
            "--max-frame-len",
            &limit,
        ]);
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{name}: {error}: {}", stderr(&output)));
        let expected_end = match case["expect"].as_str().unwrap() {
            "ok" => "clean",
            "truncated" => "torn_tail",
            other => other,
        };
        assert_eq!(report["end"], expected_end, "{name}");
        let good_frames = case["frames"].as_array().unwrap().len() as u64;
        assert_eq!(report["frames"], good_frames, "{name}");
        assert_eq!(
            report["bytes"],
            std::fs::metadata(&file).unwrap().len(),
            "{name}"
        );
        let clean = expected_end == "clean";
        assert_eq!(report["error"].is_null(), clean, "{name}");
        assert_eq!(output.status.code(), Some(i32::from(!clean)), "{name}");
        if !clean {
            let error = report["error"].as_str().unwrap();
            assert!(
                error.contains(&format!(
                    "frame {good_frames} at byte offset {}",
                    report["last_good_offset"]
                )),
                "{name}: {error}"
            );
        }
    }
}

#[test]
fn cat_then_pack_reproduces_every_good_stream() {
    for checksum in algorithms() {
        for kind in ["mixed", "empty-stream"] {
            let file = vector(&format!("{checksum}-{kind}.bin"));
            let hex = flatstream(&["cat", &file, "-c", checksum]);
            assert!(hex.status.success(), "{checksum}-{kind}: {}", stderr(&hex));
            let packed = flatstream_with_input(&["pack", "-c", checksum], &hex.stdout);
            assert!(
                packed.status.success(),
                "{checksum}-{kind}: {}",
                stderr(&packed)
            );
            assert_eq!(
                packed.stdout,
                std::fs::read(&file).unwrap(),
                "{checksum}-{kind}"
            );
        }
    }
}

#[test]
fn convert_round_trips_across_every_pair_of_algorithms() {
    let dir = ScratchDir::new("convert");
    for from in algorithms() {
        for to in algorithms() {
            let out = dir.join(format!("convert-{from}-{to}.bin"));
            let output = flatstream(&[
                "convert",
                &vector(&format!("{from}-mixed.bin")),
                out.to_str().unwrap(),
                "--from",
                from,
                "--to",
                to,
            ]);
            assert!(output.status.success(), "{from}->{to}: {}", stderr(&output));
            // Every mixed vector holds the same payloads, so the result is the other vector.
            assert_eq!(
                std::fs::read(&out).unwrap(),
                std::fs::read(vector(&format!("{to}-mixed.bin"))).unwrap(),
                "{from}->{to}"
            );
            std::fs::remove_file(&out).unwrap();
        }
    }
}

#[test]
fn convert_stops_at_a_bad_frame_and_writes_nothing() {
    let dir = ScratchDir::new("convert-bad");
    let out = dir.join("convert-bad.bin");
    let output = flatstream(&[
        "convert",
        &vector("crc32-corrupt-payload.bin"),
        out.to_str().unwrap(),
        "--from",
        "crc32",
        "--to",
        "xxh3",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("checksum mismatch")
            && stderr(&output).contains("not written (salvage copies the intact frames)"),
        "{}",
        stderr(&output)
    );
    assert!(
        !out.exists(),
        "a stream lacking the input's tail is not written"
    );
}

#[test]
fn recover_truncate_leaves_exactly_the_good_frames_of_every_torn_vector() {
    let dir = ScratchDir::new("recover-torn");
    for case in manifest()["cases"].as_array().unwrap() {
        if case["expect"] != "truncated" {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let checksum = case["checksum"].as_str().unwrap();
        let original = std::fs::read(vector(case["file"].as_str().unwrap())).unwrap();
        let copy = dir.join(format!("{name}.bin"));
        std::fs::write(&copy, &original).unwrap();
        let path = copy.to_str().unwrap();

        let looked = flatstream(&["recover", path, "-c", checksum, "--json"]);
        assert_eq!(
            looked.status.code(),
            Some(1),
            "{name}: a torn tail left in place is bad data"
        );
        let report: Value = serde_json::from_slice(&looked.stdout).unwrap();
        assert_eq!(report["end"], "torn_tail", "{name}");

        let cut = flatstream(&["recover", path, "-c", checksum, "--truncate"]);
        assert!(cut.status.success(), "{name}: {}", stderr(&cut));
        let good_end = report["last_good_offset"].as_u64().unwrap() as usize;
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            original[..good_end],
            "{name}"
        );
        let verified = flatstream(&["verify", path, "-c", checksum, "--json"]);
        let verified: Value = serde_json::from_slice(&verified.stdout).unwrap();
        assert_eq!(
            verified["frames"].as_u64(),
            Some(case["frames"].as_array().unwrap().len() as u64),
            "{name}"
        );
        assert_eq!(verified["end"], "clean", "{name}");
        std::fs::remove_file(&copy).unwrap();
    }
}

#[test]
fn recover_refuses_to_cut_corruption() {
    let dir = ScratchDir::new("recover-corrupt");
    let copy = dir.join("recover-corrupt.bin");
    let original = std::fs::read(vector("crc64-corrupt-payload.bin")).unwrap();
    std::fs::write(&copy, &original).unwrap();
    let output = flatstream(&[
        "recover",
        copy.to_str().unwrap(),
        "-c",
        "crc64",
        "--truncate",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("frame 8 at byte offset"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read(&copy).unwrap(), original, "nothing was cut");
}

#[test]
fn salvage_keeps_the_frames_on_both_sides_of_a_corrupt_one() {
    let source = std::fs::read(vector("crc32c-mixed.bin")).unwrap();
    // Find frame 20's offset by walking the lengths, and damage its payload.
    let mut offset = 0usize;
    for _ in 0..20 {
        let len = u32::from_le_bytes(source[offset..offset + 4].try_into().unwrap()) as usize;
        offset += 8 + len;
    }
    let frame_20_len =
        8 + u32::from_le_bytes(source[offset..offset + 4].try_into().unwrap()) as usize;
    let mut damaged = source.clone();
    damaged[offset + 8] ^= 0xff;
    let dir = ScratchDir::new("salvage");
    let input = dir.join("salvage-in.bin");
    let output_path = dir.join("salvage-out.bin");
    std::fs::write(&input, &damaged).unwrap();
    let output = flatstream(&[
        "salvage",
        input.to_str().unwrap(),
        output_path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "damage was found: {}",
        stderr(&output)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["frames"], 46);
    assert_eq!(
        report["skipped"],
        serde_json::json!([[offset, offset + frame_20_len]])
    );
    let mut expected = source[..offset].to_vec();
    expected.extend_from_slice(&source[offset + frame_20_len..]);
    assert_eq!(std::fs::read(&output_path).unwrap(), expected);
    assert_eq!(
        std::fs::read(&input).unwrap(),
        damaged,
        "the input is never changed"
    );
    let refused = flatstream(&["salvage", input.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn gen_telemetry_writes_events_that_verify_and_count() {
    let dir = ScratchDir::new("gen");
    let path = dir.join("gen.bin");
    let path = path.to_str().unwrap();
    let output = flatstream(&["gen", "telemetry", path, "--count", "2500", "-c", "xxh3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let verified = flatstream(&["verify", path, "-c", "xxh3", "--validate", "telemetry"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    let stats = flatstream(&["stats", path, "-c", "xxh3", "--json"]);
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["frames"], 2500);
    assert_eq!(stats["end"], "clean");
    assert!(stats["payload_size"]["min"].as_u64().unwrap() > 0);
    // The wrong checksum is bad data, not a crash.
    let wrong = flatstream(&["verify", path, "-c", "crc32c"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("frame 0 at byte offset 0"),
        "{}",
        stderr(&wrong)
    );
}

#[test]
fn cat_lengths_and_raw_bytes() {
    let lengths = flatstream(&[
        "cat",
        &vector("crc16-mixed.bin"),
        "-c",
        "crc16",
        "--format",
        "len",
    ]);
    let text = String::from_utf8(lengths.stdout).unwrap();
    let sizes: Vec<u64> = text.lines().map(|line| line.parse().unwrap()).collect();
    let expected: Vec<u64> = manifest()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|case| case["name"] == "crc16-mixed")
        .unwrap()["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|frame| frame["len"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, expected);
    let raw = flatstream(&[
        "cat",
        &vector("none-mixed.bin"),
        "-c",
        "none",
        "--format",
        "raw",
    ]);
    assert_eq!(raw.stdout.len() as u64, expected.iter().sum::<u64>());
    // A bad stream: every good frame first, then status 1.
    let torn = flatstream(&[
        "cat",
        &vector("xxh3-truncated-in-payload.bin"),
        "-c",
        "xxh3",
        "--format",
        "len",
    ]);
    assert_eq!(torn.status.code(), Some(1));
    assert_eq!(String::from_utf8(torn.stdout).unwrap().lines().count(), 8);
}

#[test]
fn pack_names_a_bad_line_and_keeps_what_came_before() {
    let packed = flatstream_with_input(&["pack", "-c", "none"], b"6162\n\nzz\n63\n");
    assert_eq!(packed.status.code(), Some(1));
    assert!(
        stderr(&packed).contains("line 3: invalid hex digit 'z'"),
        "{}",
        stderr(&packed)
    );
    assert_eq!(packed.stdout, [2, 0, 0, 0, b'a', b'b', 0, 0, 0, 0]);
}

#[test]
fn hostile_input_never_panics() {
    let dir = ScratchDir::new("hostile");
    let garbage = dir.join("garbage.bin");
    let pseudo_random = flatstream_test_support::pseudo_random_bytes(5000, 0x2545_f491_4f6c_dd1d);
    std::fs::write(&garbage, &pseudo_random).unwrap();
    let empty = dir.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let huge_length = dir.join("huge.bin");
    std::fs::write(&huge_length, [0xff, 0xff, 0xff, 0xff, 1, 2, 3]).unwrap();
    let out = dir.join("hostile-out.bin");
    let out = out.to_str().unwrap();
    let mut files: Vec<String> = vec![
        garbage.display().to_string(),
        empty.display().to_string(),
        huge_length.display().to_string(),
        "/nonexistent/flatstream".to_owned(),
        std::env::temp_dir().display().to_string(),
    ];
    files.extend(
        [
            "crc32-corrupt-checksum.bin",
            "none-length-over-limit.bin",
            "crc64-truncated-in-length.bin",
        ]
        .map(vector),
    );
    for file in &files {
        for checksum in ["none", "crc32c", "xxh3"] {
            let runs: Vec<Vec<&str>> = vec![
                vec!["stats", file, "-c", checksum],
                vec!["stats", file, "-c", checksum, "--json"],
                vec!["verify", file, "-c", checksum, "--validate", "structural"],
                vec!["cat", file, "-c", checksum],
                vec!["recover", file, "-c", checksum],
                vec!["salvage", file, out, "-c", checksum],
                vec!["convert", file, out, "--from", checksum, "--to", "crc16"],
                vec!["pack", file, "-o", out, "-c", checksum],
            ];
            for args in runs {
                let output = flatstream(&args);
                let code = output.status.code();
                let message = stderr(&output);
                assert!(matches!(code, Some(0..=2)), "{args:?}: {code:?} {message}");
                assert!(!message.contains("panicked"), "{args:?}: {message}");
                if code != Some(0)
                    && !args.contains(&"--json")
                    && args[0] != "recover"
                    && args[0] != "salvage"
                {
                    assert!(message.starts_with("flatstream: "), "{args:?}: {message:?}");
                }
            }
        }
    }
    let usage = flatstream(&["verify"]);
    assert_eq!(usage.status.code(), Some(2));
    let version = flatstream(&["--version"]);
    assert!(
        String::from_utf8(version.stdout)
            .unwrap()
            .starts_with("flatstream ")
    );
}
