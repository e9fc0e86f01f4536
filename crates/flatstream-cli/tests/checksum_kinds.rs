//! Outside attack on session 10's CLI change (frames and verifies with `ChecksumKind`, not a
//! `Box<dyn Checksum>`): every checksum, plain, compressed and encrypted, written by `gen`,
//! re-framed by `convert` to every checksum, read by `verify` and `cat`, and damaged for
//! `verify`, `recover` and `salvage`. (The same inputs were also run through the CLI of the
//! commit before, aee9638, and every exit code, output and written file compared: equal.)

#![allow(clippy::naive_bytecount, clippy::format_collect)]

use std::path::Path;

use serde_json::Value;

use super::{ScratchDir, algorithms, flatstream, stderr};

/// The checksum field's width of each name.
fn width(kind: &str) -> usize {
    match kind {
        "none" => 0,
        "crc16" => 2,
        "crc32" | "crc32c" => 4,
        "crc64" | "xxh3" => 8,
        other => panic!("unknown checksum {other}"),
    }
}

/// Each frame's offset in `stream`, frames `width` bytes of checksum wide.
fn frame_offsets(stream: &[u8], width: usize) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at + 4 <= stream.len() {
        offsets.push(at);
        let len = u32::from_le_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + width + len;
    }
    assert_eq!(at, stream.len(), "a whole stream");
    offsets
}

fn run(args: &[&str]) -> std::process::Output {
    let output = flatstream(args);
    super::assert_no_panic(args, &output);
    output
}

fn run_ok(args: &[&str]) -> std::process::Output {
    let output = run(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        stderr(&output)
    );
    output
}

/// The modes the stream is written and read in: options for every command that reads or
/// writes messages, the encrypted ones with one key made in `dir`.
fn modes(dir: &Path) -> Vec<(&'static str, Vec<String>)> {
    let key = super::encrypt::keygen(dir, "kinds.key");
    vec![
        ("plain", vec![]),
        ("zstd", vec!["--compress".into(), "zstd".into()]),
        ("lz4", vec!["--compress".into(), "lz4".into()]),
        (
            "zstd-chunk",
            vec![
                "--compress".into(),
                "zstd".into(),
                "--chunk".into(),
                "4096".into(),
            ],
        ),
        ("xchacha", vec!["--key-file".into(), key.clone()]),
        (
            "aes+zstd",
            vec![
                "--key-file".into(),
                key,
                "--cipher".into(),
                "aes256gcm".into(),
                "--compress".into(),
                "zstd".into(),
            ],
        ),
    ]
}

/// `convert`'s options saying the input is read as `mode` writes it.
fn from_options(mode: &[String]) -> Vec<&str> {
    let mut from = Vec::new();
    for pair in mode.windows(2) {
        match pair[0].as_str() {
            "--compress" => from.extend(["--from-compress", pair[1].as_str()]),
            "--key-file" => from.extend(["--from-key-file", pair[1].as_str()]),
            "--cipher" => from.extend(["--from-cipher", pair[1].as_str()]),
            _ => {}
        }
    }
    from
}

fn with<'a>(mode: &'a [String], args: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = vec!["-q"];
    all.extend(mode.iter().map(String::as_str));
    all.extend_from_slice(args);
    all
}

/// `gen telemetry` with every checksum in every mode verifies; `convert --to` every checksum
/// gives a stream that verifies with the new checksum detected and `cat`s to the same
/// payloads; `cat --format len` gives 300 lines.
#[test]
fn gen_verify_convert_cat_round_trip_for_every_checksum_and_mode() {
    let dir = ScratchDir::new("kinds-round-trip");
    for (mode_name, mode) in modes(&dir) {
        for kind in algorithms() {
            let what = format!("{mode_name}, {kind}");
            let source = dir
                .join(format!("kinds-{mode_name}-{kind}.fs"))
                .display()
                .to_string();
            let _ = std::fs::remove_file(&source);
            run_ok(&with(
                &mode,
                &["-c", kind, "gen", "telemetry", "--count", "300", &source],
            ));
            let verify = run_ok(&with(&mode, &["verify", "--json", &source]));
            let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
            assert_eq!(report["checksum"], kind, "{what}");
            assert_eq!(report["end"], "clean", "{what}");
            let lens = run_ok(&with(&mode, &["cat", "--format", "len", &source]));
            assert_eq!(
                lens.stdout.iter().filter(|&&b| b == b'\n').count(),
                300,
                "{what}"
            );
            let hex = run_ok(&with(&mode, &["cat", &source])).stdout;
            // To the next algorithm in the list (the last to the first), so that every one
            // is a target once per mode without 36 conversions a mode.
            let all: Vec<&str> = algorithms().collect();
            let to = all[(all.iter().position(|name| *name == kind).unwrap() + 1) % all.len()];
            {
                let converted = dir
                    .join(format!("kinds-{mode_name}-{kind}-to-{to}.fs"))
                    .display()
                    .to_string();
                let _ = std::fs::remove_file(&converted);
                let mut convert = with(&mode, &["convert", "--to", to, &source, &converted]);
                let at = convert.iter().position(|arg| *arg == "convert").unwrap() + 1;
                convert.splice(at..at, from_options(&mode));
                run_ok(&convert);
                let verify = run_ok(&with(&mode, &["verify", "--json", &converted]));
                let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
                assert_eq!(report["checksum"], to, "{what} to {to}");
                let again = run_ok(&with(&mode, &["cat", &converted])).stdout;
                assert!(again == hex, "{what} to {to}: other payloads");
                std::fs::remove_file(&converted).unwrap();
            }
            std::fs::remove_file(&source).unwrap();
        }
    }
}

/// Plain streams of one payload of each length 0..=40 (`pack`; CRC-32's every short path),
/// every checksum: a flipped payload bit in frame `k` fails `verify` (exit 1) naming frame
/// `k` and its offset, for every checksum but none; `salvage` keeps the other 40 frames.
#[test]
fn a_flipped_payload_bit_in_a_packed_stream_is_named_by_frame_and_offset() {
    let lines: String = (0..=40usize)
        .map(|len| {
            let payload: Vec<u8> = (0..len).map(|i| (i * 37 + len * 11) as u8).collect();
            payload
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                + "\n"
        })
        .collect();
    let dir = ScratchDir::new("kinds-flipped-bit");
    let hex = dir.join("kinds-lines.hex");
    std::fs::write(&hex, &lines).unwrap();
    let hex = hex.display().to_string();
    for kind in algorithms() {
        let packed = dir
            .join(format!("kinds-packed-{kind}.fs"))
            .display()
            .to_string();
        let _ = std::fs::remove_file(&packed);
        run_ok(&["-q", "-c", kind, "pack", &hex, "-o", &packed]);
        assert_eq!(
            run_ok(&["-q", "cat", &packed]).stdout,
            lines.as_bytes(),
            "{kind}"
        );
        let stream = std::fs::read(&packed).unwrap();
        let offsets = frame_offsets(&stream, width(kind));
        assert_eq!(offsets.len(), 41, "{kind}");
        for frame in [1usize, 8, 9, 15, 16, 19, 20, 21, 27, 40] {
            for bit in [0usize, 5, 8 * frame - 1] {
                let mut damaged = stream.clone();
                damaged[offsets[frame] + 4 + width(kind) + bit / 8] ^= 1 << (bit % 8);
                let path = dir
                    .join(format!("kinds-damaged-{kind}.fs"))
                    .display()
                    .to_string();
                std::fs::write(&path, &damaged).unwrap();
                let what = format!("{kind}, frame {frame}, bit {bit}");
                let output = run(&["-q", "-c", kind, "verify", &path]);
                if kind == "none" {
                    assert_eq!(output.status.code(), Some(0), "{what}");
                    continue;
                }
                assert_eq!(output.status.code(), Some(1), "{what}");
                let message = stderr(&output);
                assert!(message.contains("checksum mismatch"), "{what}: {message}");
                assert!(
                    message.contains(&format!(
                        "(frame {frame} at byte offset {})",
                        offsets[frame]
                    )),
                    "{what}: {message}"
                );
                let salvaged = dir
                    .join(format!("kinds-salvaged-{kind}.fs"))
                    .display()
                    .to_string();
                let _ = std::fs::remove_file(&salvaged);
                let output = run(&["-q", "-c", kind, "salvage", "--json", &path, &salvaged]);
                let report: Value = serde_json::from_slice(&output.stdout).unwrap();
                assert_eq!(report["frames"], 40, "{what}: {report}");
                let kept = run_ok(&["-q", "-c", kind, "cat", "--format", "len", &salvaged]);
                let expected: String = (0..=40)
                    .filter(|&len| len != frame)
                    .map(|len| format!("{len}\n"))
                    .collect();
                assert_eq!(String::from_utf8_lossy(&kept.stdout), expected, "{what}");
                std::fs::remove_file(&salvaged).unwrap();
            }
        }
        std::fs::remove_file(&packed).unwrap();
    }
}

/// Damaged telemetry streams of every checksum in every mode: a flipped length bit, a zeroed
/// 4 KiB block and cuts fail `verify` with exit 1, and what `salvage` and
/// `recover --truncate` leave verifies (`--accept-gaps` where frames of an encrypted stream
/// were dropped).
#[test]
fn damaged_streams_fail_verify_and_what_salvage_and_recover_leave_verifies() {
    let dir = ScratchDir::new("kinds-damaged");
    for (mode_name, mode) in modes(&dir) {
        let encrypted = mode.iter().any(|arg| arg == "--key-file");
        for kind in algorithms() {
            let what = format!("{mode_name}, {kind}");
            let source = dir
                .join(format!("kinds-d-{mode_name}-{kind}.fs"))
                .display()
                .to_string();
            let _ = std::fs::remove_file(&source);
            run_ok(&with(
                &mode,
                &["-c", kind, "gen", "telemetry", "--count", "400", &source],
            ));
            let stream = std::fs::read(&source).unwrap();
            let offsets = frame_offsets(&stream, width(kind));
            let mid = offsets[offsets.len() / 2];
            let mut damages: Vec<(String, Vec<u8>)> = Vec::new();
            let mut flipped = stream.clone();
            flipped[mid + 3] ^= 0x01; // a length over 16 MiB: over the remaining bytes
            damages.push(("length bit".into(), flipped));
            let mut zeroed = stream.clone();
            let end = (4096 + 4096).min(zeroed.len());
            zeroed[4096..end].fill(0);
            damages.push(("zeroed 4 KiB".into(), zeroed));
            for cut in [mid + 1, mid + 5, stream.len() - 1] {
                damages.push((format!("cut at {cut}"), stream[..cut].to_vec()));
            }
            for (damage, bytes) in damages {
                let what = format!("{what}, {damage}");
                let path = dir
                    .join(format!("kinds-d-{mode_name}-{kind}-bad.fs"))
                    .display()
                    .to_string();
                std::fs::write(&path, &bytes).unwrap();
                let output = run(&with(&mode, &["-c", kind, "verify", &path]));
                assert_eq!(output.status.code(), Some(1), "{what}: {}", stderr(&output));
                let salvaged = dir
                    .join(format!("kinds-d-{mode_name}-{kind}-salvaged.fs"))
                    .display()
                    .to_string();
                let _ = std::fs::remove_file(&salvaged);
                let output = run(&["-q", "-c", kind, "salvage", &path, &salvaged]);
                assert!(
                    matches!(output.status.code(), Some(0 | 1)),
                    "{what}: {}",
                    stderr(&output)
                );
                if std::path::Path::new(&salvaged).exists() {
                    let mut read = with(&mode, &["-c", kind, "verify", &salvaged]);
                    if encrypted {
                        read.insert(1, "--accept-gaps");
                        read.insert(1, "--allow-unfinished");
                    }
                    // Without a checksum, salvage cannot tell a damaged payload: it may
                    // keep one that fails to decompress.
                    if kind != "none" {
                        run_ok(&read);
                    }
                    std::fs::remove_file(&salvaged).unwrap();
                } else {
                    // Without a checksum, salvage cannot resynchronise past a bad length.
                    assert_eq!((kind, output.status.code()), ("none", Some(1)), "{what}");
                }
                if damage.starts_with("cut") {
                    let output =
                        run(&["-q", "-c", kind, "recover", "--truncate", "--force", &path]);
                    assert!(
                        matches!(output.status.code(), Some(0 | 1)),
                        "{what}: {}",
                        stderr(&output)
                    );
                    let whole = offsets.iter().rev().find(|&&at| at < bytes.len()).unwrap();
                    assert_eq!(
                        std::fs::metadata(&path).unwrap().len() as usize,
                        *whole,
                        "{what}"
                    );
                    let mut read = with(&mode, &["-c", kind, "verify", &path]);
                    if encrypted {
                        read.insert(1, "--allow-unfinished");
                    }
                    run_ok(&read);
                }
                std::fs::remove_file(&path).unwrap();
            }
            std::fs::remove_file(&source).unwrap();
        }
    }
}
