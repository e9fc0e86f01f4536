//! `keygen`, `--key-file`, `--cipher`, `--allow-unfinished` and `convert --from-key-file`:
//! encrypted streams read back as exactly the plain payloads, and every refusal is clear.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::{ScratchDir, flatstream, stderr};

fn run_ok(args: &[&str]) -> Vec<u8> {
    let output = flatstream(args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    output.stdout
}

/// `keygen` into `dir/name`: the path of the new key file.
pub(crate) fn keygen(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let path = path.display().to_string();
    run_ok(&["keygen", "-o", &path]);
    path
}

fn key_hex(path: &str) -> String {
    use std::fmt::Write as _;
    std::fs::read(path)
        .unwrap()
        .iter()
        .fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

fn plain_hex(dir: &Path, name: &str, count: &str) -> Vec<u8> {
    let path = dir.join(format!("{name}-plain.fs")).display().to_string();
    run_ok(&["gen", "telemetry", &path, "--count", count]);
    run_ok(&["cat", &path])
}

#[test]
fn keygen_writes_32_bytes_readable_by_the_owner_only_and_never_overwrites() {
    let dir = ScratchDir::new("encrypt-keygen");
    let key = keygen(&dir, "keygen.key");
    let metadata = std::fs::metadata(&key).unwrap();
    assert_eq!(metadata.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    }
    let before = std::fs::read(&key).unwrap();
    let again = flatstream(&["keygen", "-o", &key]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read(&key).unwrap(), before, "not overwritten");
    assert_ne!(std::fs::read(keygen(&dir, "keygen-2.key")).unwrap(), before);
}

#[test]
fn encrypted_streams_read_back_as_the_plain_payloads() {
    let dir = ScratchDir::new("encrypt-read-back");
    let plain = plain_hex(&dir, "encrypted", "3000");
    let key = keygen(&dir, "encrypted.key");
    for cipher in ["xchacha20poly1305", "aes256gcm"] {
        for compression in [&[][..], &["--compress", "zstd", "--chunk", "65536"][..]] {
            let path = dir
                .join(format!("encrypted-{cipher}-{}.fs", compression.len()))
                .display()
                .to_string();
            let mut gen_args = vec![
                "gen",
                "telemetry",
                &path,
                "--count",
                "3000",
                "--key-file",
                &key,
                "--cipher",
                cipher,
            ];
            gen_args.extend_from_slice(compression);
            run_ok(&gen_args);
            let mut cat_args = vec!["cat", &path, "--key-file", &key, "--cipher", cipher];
            cat_args.extend_from_slice(compression);
            // --chunk omitted: the first frame, decrypted, says the stream is chunked.
            cat_args.retain(|arg| *arg != "--chunk" && *arg != "65536");
            assert_eq!(run_ok(&cat_args), plain, "{cipher} {compression:?}");
            // Without the key the frames are ordinary frames: they verify, and hold no
            // plaintext.
            let verified: Value =
                serde_json::from_slice(&run_ok(&["verify", &path, "--json"])).unwrap();
            assert_eq!(verified["end"], "clean", "{cipher}");
            let file_len = std::fs::metadata(&path).unwrap().len();
            assert_eq!(verified["last_good_offset"], file_len, "{cipher}");
            // With the key too, the final frame included.
            let mut stats_args = vec!["stats", &path, "--json", "--key-file", &key];
            stats_args.extend_from_slice(&["--cipher", cipher]);
            stats_args.extend_from_slice(compression);
            let stats: Value = serde_json::from_slice(&run_ok(&stats_args)).unwrap();
            assert_eq!(stats["end"], "clean", "{cipher}");
            assert_eq!(stats["last_good_offset"], file_len, "{cipher}");
            let raw = run_ok(&["cat", &path, "--format", "raw"]);
            assert!(!raw.windows(6).any(|window| window == b"engine"));
        }
    }
}

#[test]
fn the_key_file_can_come_from_the_environment() {
    let dir = ScratchDir::new("encrypt-environment");
    let plain = plain_hex(&dir, "environment", "100");
    let key = keygen(&dir, "environment.key");
    let path = dir.join("environment.fs").display().to_string();
    let with_env = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_flatstream"))
            .args(args)
            .env("FLATSTREAM_KEY_FILE", &key)
            .output()
            .unwrap()
    };
    assert!(
        with_env(&["gen", "telemetry", &path, "--count", "100"])
            .status
            .success()
    );
    let read = with_env(&["cat", &path]);
    assert!(read.status.success(), "{}", stderr(&read));
    assert_eq!(read.stdout, plain);
    // Without it the payloads are ciphertext.
    assert_ne!(run_ok(&["cat", &path]), plain);
}

#[test]
fn a_wrong_key_fails_at_frame_0_and_never_prints_a_key() {
    let dir = ScratchDir::new("encrypt-wrong-key");
    let key = keygen(&dir, "wrong-1.key");
    let other = keygen(&dir, "wrong-2.key");
    let path = dir.join("wrong.fs").display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &path,
        "--count",
        "10",
        "--key-file",
        &key,
    ]);
    for args in [
        vec!["cat", &path, "--key-file", &other],
        vec!["cat", &path, "--key-file", &key, "--cipher", "aes256gcm"],
    ] {
        let output = flatstream(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let message = stderr(&output);
        assert!(
            message.contains("authentication failed")
                && message.contains("frame 0 at byte offset 0"),
            "{message}"
        );
        for key in [&key, &other] {
            assert!(!message.contains(&key_hex(key)[..16]), "{message}");
        }
    }
}

#[test]
fn a_key_file_of_the_wrong_size_or_too_open_a_mode_is_refused() {
    let dir = ScratchDir::new("encrypt-refused-key");
    let path = dir.join("refused.fs").display().to_string();
    let short = dir.join("short.key");
    std::fs::write(&short, [7; 31]).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let output = flatstream(&[
        "gen",
        "telemetry",
        &path,
        "--key-file",
        short.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("a key file holds exactly 32 bytes, this one 31"),
        "{}",
        stderr(&output)
    );
    assert!(!std::path::Path::new(&path).exists(), "nothing written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = keygen(&dir, "open.key");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o640)).unwrap();
        let output = flatstream(&["gen", "telemetry", &path, "--key-file", &open]);
        assert_eq!(output.status.code(), Some(2));
        let message = stderr(&output);
        assert!(
            message.contains("key file mode 0640 lets other users read it")
                && message.contains("chmod 600"),
            "{message}"
        );
        assert!(!message.contains(&key_hex(&open)[..16]), "{message}");
    }
}

#[test]
fn a_stream_cut_at_a_frame_boundary_is_bad_unless_unfinished_is_allowed() {
    let dir = ScratchDir::new("encrypt-cut");
    let key = keygen(&dir, "cut.key");
    let path = dir.join("cut-whole.fs").display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &path,
        "--count",
        "50",
        "--key-file",
        &key,
    ]);
    let whole = std::fs::read(&path).unwrap();
    // The first 20 frames, found by walking the length fields (CRC-32C: 8-byte headers).
    let mut offset = 0;
    for _ in 0..20 {
        offset += 8 + u32::from_le_bytes(whole[offset..offset + 4].try_into().unwrap()) as usize;
    }
    let cut = dir.join("cut.fs").display().to_string();
    std::fs::write(&cut, &whole[..offset]).unwrap();
    let output = flatstream(&["verify", &cut, "--key-file", &key, "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["end"], "out_of_sequence");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("without its final frame"),
        "{report}"
    );
    assert_eq!(report["frames"], 20);
    run_ok(&["verify", &cut, "--key-file", &key, "--allow-unfinished"]);
    // Without the key nothing can tell: the frames are whole.
    run_ok(&["verify", &cut]);
}

#[test]
fn frames_lost_to_salvage_read_as_missing_not_as_tampering() {
    let dir = ScratchDir::new("encrypt-salvaged");
    let key = keygen(&dir, "salvaged.key");
    let path = dir.join("salvaged-in.fs").display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &path,
        "--count",
        "100",
        "--key-file",
        &key,
    ]);
    let mut damaged = std::fs::read(&path).unwrap();
    for byte in &mut damaged[2000..2300] {
        *byte = 0xa5;
    }
    std::fs::write(&path, &damaged).unwrap();
    let salvaged = dir.join("salvaged-out.fs").display().to_string();
    let output = flatstream(&["salvage", &path, &salvaged]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let output = flatstream(&["cat", &salvaged, "--key-file", &key]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("frames missing before this one") && !message.contains("authentication"),
        "{message}"
    );
    // Told that frames are known lost, it reads every frame salvage kept.
    let output = flatstream(&[
        "cat",
        &salvaged,
        "--key-file",
        &key,
        "--accept-gaps",
        "--format",
        "len",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let kept = String::from_utf8(output.stdout).unwrap().lines().count();
    assert!((90..100).contains(&kept), "{kept} of 100 frames read");
    // And says how many it read past: the frames salvage could not keep.
    let output = flatstream(&[
        "verify",
        &salvaged,
        "--key-file",
        &key,
        "--accept-gaps",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["frames"].as_u64().unwrap(), kept as u64);
    assert_eq!(
        report["frames_missing"].as_u64().unwrap(),
        100 - kept as u64
    );
    let output = flatstream(&["verify", &salvaged, "--key-file", &key, "--accept-gaps"]);
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains(&format!("{} frames missing", 100 - kept)),
        "the text report names the gap"
    );
}

#[test]
fn the_key_file_variable_keys_both_sides_of_convert() {
    let dir = ScratchDir::new("encrypt-convert-env");
    let key = keygen(&dir, "convert-env.key");
    let encrypted = dir.join("convert-env-in.fs").display().to_string();
    let output_path = dir.join("convert-env-out.fs").display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &encrypted,
        "--count",
        "20",
        "--key-file",
        &key,
    ]);
    // With FLATSTREAM_KEY_FILE set, the input is decrypted and the output encrypted anew:
    // never encrypted twice (each message would then be another message's ciphertext).
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args(["convert", &encrypted, &output_path, "--to", "crc32c"])
        .env("FLATSTREAM_KEY_FILE", &key)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = flatstream(&["cat", &output_path, "--key-file", &key, "--format", "len"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lengths = String::from_utf8(output.stdout).unwrap();
    assert_eq!(lengths.lines().count(), 20);
    assert!(
        lengths
            .lines()
            .all(|len| len.parse::<usize>().unwrap() < 80),
        "{lengths}"
    );

    // A plain input, with the variable set: `--from-key-file none` says so.
    let plain = dir.join("convert-env-plain.fs").display().to_string();
    let encrypted_again = dir.join("convert-env-plain-out.fs").display().to_string();
    run_ok(&["gen", "telemetry", &plain, "--count", "20"]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args([
            "convert",
            &plain,
            &encrypted_again,
            "--to",
            "crc32c",
            "--from-key-file",
            "none",
        ])
        .env("FLATSTREAM_KEY_FILE", &key)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = flatstream(&[
        "cat",
        &encrypted_again,
        "--key-file",
        &key,
        "--format",
        "len",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().lines().count(),
        20
    );
}

#[test]
fn convert_decrypts_encrypts_and_rekeys() {
    let dir = ScratchDir::new("encrypt-convert");
    let plain = plain_hex(&dir, "convert-encrypted", "200");
    let plain_path = dir.join("convert-encrypted-plain.fs").display().to_string();
    let first = keygen(&dir, "convert-1.key");
    let second = keygen(&dir, "convert-2.key");
    let encrypted = dir.join("convert-encrypted.fs").display().to_string();
    let rekeyed = dir.join("convert-rekeyed.fs").display().to_string();
    let decrypted = dir.join("convert-decrypted.fs").display().to_string();
    run_ok(&[
        "convert",
        &plain_path,
        &encrypted,
        "--to",
        "xxh3",
        "--key-file",
        &first,
    ]);
    run_ok(&[
        "convert",
        &encrypted,
        &rekeyed,
        "--to",
        "crc32c",
        "--from-key-file",
        &first,
        "--key-file",
        &second,
        "--cipher",
        "aes256gcm",
    ]);
    assert_eq!(
        run_ok(&[
            "cat",
            &rekeyed,
            "--key-file",
            &second,
            "--cipher",
            "aes256gcm"
        ]),
        plain
    );
    run_ok(&[
        "convert",
        &rekeyed,
        &decrypted,
        "--to",
        "crc32c",
        "--from-key-file",
        &second,
        "--from-cipher",
        "aes256gcm",
    ]);
    assert_eq!(
        std::fs::read(&decrypted).unwrap(),
        std::fs::read(&plain_path).unwrap()
    );
}

/// `--max-frame-len` is one limit on both sides: the payload on the wire. A writing command
/// refuses a message whose encrypted payload (40 bytes more) would exceed it, so it never
/// writes a stream that the same option then refuses to read.
#[test]
fn a_writer_never_writes_a_frame_that_its_own_limit_refuses_when_reading() {
    let dir = ScratchDir::new("encrypt-limit");
    let key = keygen(&dir, "limit.key");
    let hex = |len: usize| "ab".repeat(len);
    let path = dir.join("limit.fs").display().to_string();
    let pack_encrypted = |lines: &str| {
        let args = [
            "pack",
            "-o",
            &path,
            "--max-frame-len",
            "100",
            "--key-file",
            &key,
        ];
        crate::flatstream_with_input(&args, lines.as_bytes())
    };
    // 60 bytes seal to exactly 100 on the wire: written, and read back under the same limit.
    let lines = format!("{}\n{}\n", hex(60), hex(10));
    let packed = pack_encrypted(&lines);
    assert!(packed.status.success(), "{}", stderr(&packed));
    let read = run_ok(&["cat", &path, "--max-frame-len", "100", "--key-file", &key]);
    assert_eq!(read, lines.as_bytes());
    // 61 bytes would be 101 on the wire: refused when writing, naming the limit, and
    // nothing is written.
    let _ = std::fs::remove_file(&path);
    let refused = pack_encrypted(&format!("{}\n{}\n", hex(10), hex(61)));
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(message.contains("as it goes on the wire"), "{message}");
    assert!(
        message.contains("101") && message.contains("100"),
        "{message}"
    );
    assert!(
        !std::path::Path::new(&path).exists(),
        "a refused pack writes nothing"
    );
    // Unencrypted, the limit and the message length agree: 100 bytes are written and read.
    let lines = format!("{}\n", hex(100));
    let packed = crate::flatstream_with_input(
        &["pack", "-o", &path, "--max-frame-len", "100"],
        lines.as_bytes(),
    );
    assert!(packed.status.success(), "{}", stderr(&packed));
    assert_eq!(
        run_ok(&["cat", &path, "--max-frame-len", "100"]),
        lines.as_bytes()
    );
}

/// An unfinished encrypted stream whose tail the file system zero-filled is diagnosed as
/// zero fill with the key as without it (an empty frame cannot be a sealed payload), not as
/// a payload too short to open.
#[test]
fn a_zero_filled_tail_is_zero_fill_with_the_key_too() {
    let dir = ScratchDir::new("encrypt-zero-fill");
    let key = keygen(&dir, "zero-fill.key");
    let path = dir.join("zero-fill.fs").display().to_string();
    run_ok(&[
        "gen",
        "telemetry",
        &path,
        "--count",
        "100",
        "--key-file",
        &key,
    ]);
    let mut bytes = std::fs::read(&path).unwrap();
    // The final frame: an 8-byte header (CRC-32C) and 40 bytes of sealed empty message.
    let end = bytes.len() - 48;
    bytes.truncate(end);
    bytes.extend_from_slice(&[0; 4096]);
    std::fs::write(&path, &bytes).unwrap();
    for with_key in [false, true] {
        let mut args = vec!["verify", &path, "--json"];
        if with_key {
            args.extend_from_slice(&["--key-file", &key]);
        }
        let output = flatstream(&args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["end"], "zero_filled", "key: {with_key}: {report}");
        assert_eq!(report["frames"], 100, "key: {with_key}");
        assert_eq!(report["last_good_offset"], end, "key: {with_key}");
        assert_eq!(
            report["zero_filled"],
            serde_json::json!([[end, end + 4096]]),
            "key: {with_key}"
        );
    }
}
