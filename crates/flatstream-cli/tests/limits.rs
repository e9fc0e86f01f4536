//! `--max-frame-len` when writing (chunks included), zero fill under encryption and
//! `recover --key-file`, and key files that are not regular files.

use serde_json::Value;

use crate::encrypt::keygen;
use crate::{ScratchDir, flatstream, flatstream_with_input, stderr};

/// What a writing command wrote under `--max-frame-len`, reading commands read under the
/// same limit, chunks included: a chunk whose uncompressed length is over the limit is
/// refused by the reader (`ChunkDecoder::with_max_chunk_len(max_frame_len)`), so the writer
/// must not write one (or must refuse, writing nothing).
#[test]
fn a_chunked_writer_never_writes_a_chunk_that_its_own_limit_refuses_when_reading() {
    let dir = ScratchDir::new("limits-chunk");
    let key = keygen(&dir, "limits-chunk.key");
    let lines = format!("{}\n", "00".repeat(50)).repeat(30);
    for keyed in [false, true] {
        let path = dir.join(format!("limits-chunk-{keyed}.fs"));
        let _ = std::fs::remove_file(&path);
        let path = path.display().to_string();
        let mut args = vec![
            "pack",
            "-o",
            &path,
            "--compress",
            "zstd",
            "--chunk",
            "1000",
            "--max-frame-len",
            "100",
        ];
        if keyed {
            args.extend(["--key-file", key.as_str()]);
        }
        let packed = flatstream_with_input(&args, lines.as_bytes());
        if !packed.status.success() {
            assert!(
                !std::path::Path::new(&path).exists(),
                "key {keyed}: a refused pack writes nothing"
            );
            continue;
        }
        let mut read = vec![
            "verify",
            &path,
            "--compress",
            "zstd",
            "--max-frame-len",
            "100",
            "--json",
        ];
        if keyed {
            read.extend(["--key-file", key.as_str()]);
        }
        let output = flatstream(&read);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["end"], "clean",
            "key {keyed}: pack wrote what verify with the same --max-frame-len refuses: {report}"
        );
    }
    // gen too: chunks of 8 KiB under a 4 KiB limit.
    let path = dir.join("limits-chunk-gen.fs");
    let _ = std::fs::remove_file(&path);
    let path = path.display().to_string();
    let generated = flatstream(&[
        "gen",
        "telemetry",
        &path,
        "--count",
        "3000",
        "--compress",
        "zstd",
        "--chunk",
        "8192",
        "--max-frame-len",
        "4096",
        "-q",
    ]);
    if generated.status.success() {
        let output = flatstream(&[
            "verify",
            &path,
            "--compress",
            "zstd",
            "--max-frame-len",
            "4096",
            "--json",
        ]);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["end"], "clean",
            "gen wrote what verify with the same --max-frame-len refuses: {report}"
        );
    } else {
        assert!(!std::path::Path::new(&path).exists());
    }
}

/// An unfinished encrypted stream with a zero-filled tail shorter than 64 bytes: the
/// scanning commands with the key call it zero fill ending the intact frames at the last
/// sealed frame, so `recover --truncate --key-file` cuts it there, and the stream then
/// verifies. Without the key nothing shows that the stream is encrypted: the zeros are
/// valid empty frames, and recover keeps them (it proves what it cuts is not good).
#[test]
fn recover_cuts_the_short_zero_filled_tail_that_verify_with_the_key_reports() {
    let dir = ScratchDir::new("limits-zero");
    let key = keygen(&dir, "limits-zero.key");
    let path = dir.join("limits-zero.fs").display().to_string();
    let _ = std::fs::remove_file(&path);
    let generated = flatstream(&[
        "gen",
        "telemetry",
        &path,
        "--count",
        "20",
        "--key-file",
        &key,
        "-q",
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let mut unfinished = std::fs::read(&path).unwrap();
    // The final frame: 8 bytes of header (CRC-32C) and 40 of sealed empty message.
    unfinished.truncate(unfinished.len() - 48);
    let end = unfinished.len();
    for zeros in [8, 16, 60] {
        let mut bytes = unfinished.clone();
        bytes.extend(std::iter::repeat_n(0, zeros));
        std::fs::write(&path, &bytes).unwrap();
        let verify = |args: &[&str]| -> Value {
            let mut all = vec![
                "verify",
                &path,
                "--json",
                "--key-file",
                &key,
                "--allow-unfinished",
            ];
            all.extend_from_slice(args);
            serde_json::from_slice(&flatstream(&all).stdout).unwrap()
        };
        let report = verify(&[]);
        assert_eq!(report["end"], "zero_filled", "{zeros} zeros: {report}");
        assert_eq!(report["last_good_offset"], end, "{zeros} zeros");
        for recover_key in [false, true] {
            std::fs::write(&path, &bytes).unwrap();
            let mut args = vec!["recover", &path, "--truncate", "--json"];
            if recover_key {
                args.extend(["--key-file", key.as_str()]);
            }
            let recovered = flatstream(&args);
            assert!(recovered.status.success(), "{}", stderr(&recovered));
            let recovered: Value = serde_json::from_slice(&recovered.stdout).unwrap();
            if recover_key {
                assert_eq!(
                    recovered["end"], "zero_filled_tail",
                    "{zeros} zeros: {recovered}"
                );
                assert_eq!(recovered["truncated"], true, "{zeros} zeros: {recovered}");
                assert_eq!(std::fs::read(&path).unwrap().len(), end, "{zeros} zeros");
                assert_eq!(verify(&[])["end"], "clean", "{zeros} zeros");
            } else {
                // Whole empty frames of 8 bytes (CRC-32C) are kept; a torn rest is cut.
                let kept = end + zeros - zeros % 8;
                assert_eq!(
                    std::fs::read(&path).unwrap(),
                    bytes[..kept],
                    "{zeros} zeros: {recovered}"
                );
            }
        }
    }
}

/// A key file that is a FIFO nobody writes to: refused as not a regular file, like
/// `/dev/zero` is, without opening it (opening a FIFO blocks until a writer opens it).
#[cfg(unix)]
#[test]
fn a_key_file_that_is_a_fifo_is_refused_without_hanging() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = ScratchDir::new("limits-fifo");
    let fifo = dir.join("limits-key.fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo")
        .arg("-m")
        .arg("600")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let stream = dir.join("limits-fifo.fs");
    std::fs::write(&stream, b"").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args(["verify", stream.to_str().unwrap(), "--key-file"])
        .arg(&fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&fifo);
    let status = status.expect("--key-file FIFO: still blocked after 10 s (File::open on a FIFO)");
    assert_eq!(status.code(), Some(2));
}
