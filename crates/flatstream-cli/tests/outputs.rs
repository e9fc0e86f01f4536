//! Where output goes: standard output errors are reported rather than panicking, and
//! `--json` counts the bytes actually read.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::{flatstream, flatstream_with_input, stderr, vector};

/// An empty directory of its own for a test that looks at every file left behind.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flatstream-cli-outputs-{}-{name}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs the binary with standard output going to `stdout`.
fn flatstream_to(args: &[&str], stdout: impl Into<Stdio>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn assert_no_panic(args: &[&str], output: &Output) {
    let message = stderr(output);
    assert!(
        !message.contains("panicked") && output.status.code() != Some(101),
        "{args:?}: {:?} {message}",
        output.status
    );
}

/// A CRC-32C stream of 47 frames.
fn good_stream() -> Vec<u8> {
    fs::read(vector("crc32c-mixed.bin")).unwrap()
}

#[test]
fn a_full_stdout_is_exit_2_naming_stdout() {
    let dir = fresh_dir("full");
    let file = vector("crc32c-mixed.bin");
    let out = dir.join("out.fs");
    let runs: [Vec<&str>; 7] = [
        vec!["verify", &file],
        vec!["verify", &file, "--json"],
        vec!["stats", &file],
        vec!["stats", &file, "--json"],
        vec!["recover", &file],
        vec!["cat", &file],
        vec!["gen", "telemetry", path(&out), "--count", "10"],
    ];
    for args in runs {
        let full = File::options().write(true).open("/dev/full").unwrap();
        let run = flatstream_to(&args, full);
        assert_no_panic(&args, &run);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(
            stderr(&run).starts_with("flatstream: <stdout>: "),
            "{args:?}: {}",
            stderr(&run)
        );
    }
    // The file was complete before the summary failed to print.
    let verified = flatstream(&["verify", path(&out)]);
    assert!(verified.status.success(), "{}", stderr(&verified));
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    let good = vector("crc32c-mixed.bin");
    let torn = vector("xxh3-truncated-in-payload.bin");
    let runs: [(Vec<&str>, i32); 6] = [
        (vec!["stats", &good, "--json"], 0),
        (vec!["stats", &good], 0),
        (vec!["verify", &good], 0),
        (vec!["cat", &good], 0),
        // A closed pipe does not hide bad data.
        (vec!["verify", &torn, "-c", "xxh3", "--json"], 1),
        (vec!["stats", &torn, "-c", "xxh3", "--json"], 1),
    ];
    for (args, code) in runs {
        let (reader, writer) = io::pipe().unwrap();
        // Nobody will read: every write gets EPIPE.
        drop(reader);
        let run = flatstream_to(&args, writer);
        assert_no_panic(&args, &run);
        assert_eq!(run.status.code(), Some(code), "{args:?}: {}", stderr(&run));
        assert_eq!(stderr(&run), "", "{args:?}");
    }
}

#[test]
fn json_bytes_are_the_bytes_read() {
    // Read through a pipe, whose size at open is 0.
    for (name, checksum) in [
        ("crc32c-mixed.bin", "crc32c"),
        ("xxh3-truncated-in-payload.bin", "xxh3"),
    ] {
        let stream = fs::read(vector(name)).unwrap();
        for command in ["verify", "stats"] {
            let run =
                flatstream_with_input(&[command, "/dev/stdin", "--json", "-c", checksum], &stream);
            let report: Value = serde_json::from_slice(&run.stdout)
                .unwrap_or_else(|error| panic!("{command} {name}: {error}: {}", stderr(&run)));
            assert_eq!(report["bytes"], stream.len(), "{command} {name}");
            assert!(
                report["bytes"].as_u64() >= report["last_good_offset"].as_u64(),
                "{command} {name}"
            );
        }
    }
    let stream = good_stream();
    let text = flatstream_with_input(&["verify", "/dev/stdin"], &stream);
    assert!(
        String::from_utf8_lossy(&text.stdout)
            .contains(&format!("ok: 47 frames, {} bytes", stream.len())),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
}
