//! `--compress`, `--dict`, `--chunk` and `dict train`: compressed streams read back as
//! exactly the payloads of the uncompressed stream, and stay ordinary streams outside.

use std::path::Path;

use serde_json::Value;

use crate::{ScratchDir, flatstream, stderr};

const COUNT: &str = "5000";

fn run_ok(args: &[&str]) -> Vec<u8> {
    let output = flatstream(args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    output.stdout
}

/// The uncompressed telemetry stream, written in `dir`, and its payloads as `cat` prints
/// them.
fn plain(dir: &Path, name: &str) -> (String, Vec<u8>) {
    let path = dir.join(format!("{name}-plain.fs")).display().to_string();
    run_ok(&["gen", "telemetry", &path, "--count", COUNT]);
    let hex = run_ok(&["cat", &path]);
    assert_eq!(String::from_utf8_lossy(&hex).lines().count(), 5_000);
    (path, hex)
}

fn json(args: &[&str]) -> Value {
    serde_json::from_slice(&run_ok(args)).unwrap()
}

#[test]
fn chunked_streams_read_back_as_the_uncompressed_payloads() {
    let dir = ScratchDir::new("compress-chunked");
    let (plain_path, plain_hex) = plain(&dir, "chunked");
    let plain_len = std::fs::metadata(&plain_path).unwrap().len();
    for (codec, min_ratio) in [("zstd", 5.0), ("lz4", 2.0)] {
        let path = dir
            .join(format!("chunked-{codec}.fs"))
            .display()
            .to_string();
        let gen_args = [
            "gen",
            "telemetry",
            &path,
            "--count",
            COUNT,
            "--compress",
            codec,
            "--chunk",
            "65536",
        ];
        run_ok(&gen_args);
        // --chunk omitted: the data says it is chunked.
        assert_eq!(
            run_ok(&["cat", &path, "--compress", codec]),
            plain_hex,
            "{codec}"
        );
        assert_eq!(
            run_ok(&["cat", &path, "--compress", codec, "--chunk", "65536"]),
            plain_hex,
            "{codec}"
        );
        run_ok(&[
            "verify",
            &path,
            "--compress",
            codec,
            "--validate",
            "telemetry",
        ]);
        let stats = json(&["stats", &path, "--compress", codec, "--json"]);
        assert_eq!(stats["messages"], 5_000, "{codec}");
        assert_eq!(stats["uncompressed_bytes"], plain_len, "{codec}");
        let ratio = stats["compression_ratio"].as_f64().unwrap();
        assert!(ratio >= min_ratio, "{codec}: {ratio}");
        // Outside, an ordinary stream: every chunk verifies and recovers as a frame.
        let outer = json(&["verify", &path, "--json"]);
        assert_eq!(outer["end"], "clean");
        assert!(outer["frames"].as_u64().unwrap() < 100);
        let recovered = json(&["recover", &path, "--json"]);
        assert_eq!(recovered["end"], "clean");
    }
}

#[test]
fn per_frame_zstd_with_a_trained_dictionary_reads_back() {
    let dir = ScratchDir::new("compress-dict");
    let (plain_path, plain_hex) = plain(&dir, "dict");
    let dict = dir.join("telemetry.dict").display().to_string();
    run_ok(&["dict", "train", &plain_path, "-o", &dict, "--size", "16384"]);
    assert!(std::fs::metadata(&dict).unwrap().len() <= 16384);
    let path = dir.join("per-frame-dict.fs").display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &path,
        "--count",
        COUNT,
        "--compress",
        "zstd",
        "--dict",
        &dict,
    ]);
    assert_eq!(
        run_ok(&["cat", &path, "--compress", "zstd", "--dict", &dict]),
        plain_hex
    );
    let stats = json(&[
        "stats",
        &path,
        "--compress",
        "zstd",
        "--dict",
        &dict,
        "--json",
    ]);
    assert_eq!(stats["frames"], 5_000);
    assert!(
        stats["compression_ratio"].as_f64().unwrap() > 1.5,
        "{stats}"
    );

    // Without the dictionary: bad data, naming the frame and the dictionary it needs.
    let missing = flatstream(&["cat", &path, "--compress", "zstd", "--format", "len"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("missing zstd dictionary: the data needs dictionary")
            && stderr(&missing).contains("(frame 0 at byte offset 0)"),
        "{}",
        stderr(&missing)
    );
    // Per frame, lz4.
    let lz4 = dir.join("per-frame-lz4.fs").display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &lz4,
        "--count",
        COUNT,
        "--compress",
        "lz4",
        "--chunk",
        "0",
    ]);
    assert_eq!(run_ok(&["cat", &lz4, "--compress", "lz4"]), plain_hex);
}

#[test]
fn convert_and_pack_compress_and_decompress() {
    let dir = ScratchDir::new("compress-convert");
    let (plain_path, plain_hex) = plain(&dir, "convert");
    let chunked = dir.join("convert-chunked.fs").display().to_string();
    run_ok(&[
        "convert",
        &plain_path,
        &chunked,
        "--to",
        "xxh3",
        "--compress",
        "lz4",
        "--chunk",
        "4096",
    ]);
    assert_eq!(
        run_ok(&["cat", &chunked, "--compress", "lz4", "-c", "xxh3"]),
        plain_hex
    );
    let back = dir.join("convert-back.fs").display().to_string();
    run_ok(&[
        "convert",
        &chunked,
        &back,
        "--to",
        "crc32c",
        "--from-compress",
        "lz4",
    ]);
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&plain_path).unwrap()
    );

    // From a file: through pipes, the test would have to read and write at once.
    let hex_path = dir.join("packed.hex");
    std::fs::write(&hex_path, &plain_hex).unwrap();
    let packed_path = dir.join("packed-chunked.fs").display().to_string();
    run_ok(&[
        "pack",
        hex_path.to_str().unwrap(),
        "-o",
        &packed_path,
        "--compress",
        "zstd",
        "--chunk",
        "1000",
    ]);
    assert_eq!(
        run_ok(&["cat", &packed_path, "--compress", "zstd"]),
        plain_hex
    );
}

#[test]
fn a_damaged_chunk_is_bad_data_and_salvage_keeps_the_others() {
    let dir = ScratchDir::new("compress-damaged");
    let path = dir.join("damaged-chunked.fs");
    let path_text = path.display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &path_text,
        "--count",
        COUNT,
        "--compress",
        "zstd",
        "--chunk",
        "16384",
    ]);
    let mut bytes = std::fs::read(&path).unwrap();
    let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let second = 8 + first_len;
    bytes[second + 8 + 60] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let verified = flatstream(&["verify", &path_text, "--compress", "zstd"]);
    assert_eq!(verified.status.code(), Some(1));
    assert!(
        stderr(&verified).contains("checksum mismatch")
            && stderr(&verified).contains(&format!("(frame 1 at byte offset {second})")),
        "{}",
        stderr(&verified)
    );
    let rescued = dir.join("rescued-chunked.fs").display().to_string();
    let salvaged = flatstream(&["salvage", &path_text, &rescued]);
    assert_eq!(salvaged.status.code(), Some(1), "damage was found");
    let lengths = run_ok(&["cat", &rescued, "--compress", "zstd", "--format", "len"]);
    let kept = String::from_utf8_lossy(&lengths).lines().count();
    assert!(
        kept < 5_000 && kept > 4_000,
        "{kept}: only the damaged chunk is lost"
    );
}

#[test]
fn dict_needs_zstd() {
    let dir = ScratchDir::new("compress-dict-lz4");
    let (plain_path, _) = plain(&dir, "dict-lz4");
    let out = dir.join("dict-lz4.fs").display().to_string();
    let refused = flatstream(&[
        "gen",
        "telemetry",
        &out,
        "--compress",
        "lz4",
        "--dict",
        &plain_path,
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("--dict needs --compress zstd"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn a_chunk_read_with_the_wrong_codec_is_bad_data_naming_the_frame() {
    let dir = ScratchDir::new("compress-wrong-codec");
    let path = dir.join("wrong-codec.fs").display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &path,
        "--count",
        "100",
        "--compress",
        "lz4",
        "--chunk",
        "65536",
    ]);
    let output = flatstream(&["cat", &path, "--compress", "zstd"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(
            "invalid frame: chunk compressed with lz4, the reader decompresses zstd (frame 0 at byte offset 0)"
        ),
        "{}",
        stderr(&output)
    );
    let report = flatstream(&["verify", &path, "--compress", "zstd", "--json"]);
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["end"], "invalid");
    assert_eq!(report["frames"], 0);
}
