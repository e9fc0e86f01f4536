//! Where output goes and what it says: files appear whole or not at all and never over the
//! input, standard output errors are reported rather than panicking, `pack` reads a line no
//! further than its limit, and `--json` counts the bytes read.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{ScratchDir, assert_no_panic, flatstream, flatstream_with_input, stderr, vector};

/// An empty directory of its own for a test that looks at every file left behind, removed
/// when the test ends.
fn fresh_dir(name: &str) -> ScratchDir {
    ScratchDir::new(&format!("outputs-{name}"))
}

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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

/// A CRC-32C stream of 47 frames.
fn good_stream() -> Vec<u8> {
    fs::read(vector("crc32c-mixed.bin")).unwrap()
}

#[test]
fn an_output_that_is_the_input_is_refused_and_the_input_is_unchanged() {
    let dir = fresh_dir("same-file");
    let original = good_stream();
    let input = dir.join("in.fs");
    let hex_input = dir.join("in.hex");
    let hex = b"616263\n\n";
    for link in ["hard", "symbolic", "dotted"] {
        fs::write(&input, &original).unwrap();
        fs::write(&hex_input, hex).unwrap();
        let (output, hex_output) = match link {
            "hard" => {
                let output = dir.join("hard.fs");
                let hex_output = dir.join("hard.hex");
                let _ = fs::remove_file(&output);
                let _ = fs::remove_file(&hex_output);
                fs::hard_link(&input, &output).unwrap();
                fs::hard_link(&hex_input, &hex_output).unwrap();
                (output, hex_output)
            }
            "symbolic" => {
                let output = dir.join("soft.fs");
                let hex_output = dir.join("soft.hex");
                let _ = fs::remove_file(&output);
                let _ = fs::remove_file(&hex_output);
                std::os::unix::fs::symlink(&input, &output).unwrap();
                std::os::unix::fs::symlink(&hex_input, &hex_output).unwrap();
                (output, hex_output)
            }
            _ => (dir.join(".").join("in.fs"), dir.join(".").join("in.hex")),
        };
        let runs: [Vec<&str>; 3] = [
            vec![
                "convert",
                path(&input),
                path(&output),
                "--from",
                "crc32c",
                "--to",
                "xxh3",
            ],
            vec!["salvage", path(&input), path(&output)],
            vec!["pack", path(&hex_input), "-o", path(&hex_output)],
        ];
        for args in runs {
            let run = flatstream(&args);
            assert_no_panic(&args, &run);
            assert_eq!(
                run.status.code(),
                Some(2),
                "{link}: {args:?}: {}",
                stderr(&run)
            );
            assert!(
                stderr(&run).contains("is the input"),
                "{link}: {args:?}: {}",
                stderr(&run)
            );
            assert_eq!(fs::read(&input).unwrap(), original, "{link}: {args:?}");
            assert_eq!(fs::read(&hex_input).unwrap(), hex, "{link}: {args:?}");
        }
    }
    assert!(
        !entries(&dir)
            .iter()
            .any(|name| name.contains("flatstream-tmp")),
        "{:?}",
        entries(&dir)
    );
}

#[test]
fn a_failed_run_leaves_no_output_and_no_temporary_file() {
    let dir = fresh_dir("failed");
    let corrupt = vector("crc32-corrupt-payload.bin");
    let out = dir.join("out.fs");
    let convert = flatstream(&[
        "convert",
        &corrupt,
        path(&out),
        "--from",
        "crc32",
        "--to",
        "xxh3",
    ]);
    assert_eq!(convert.status.code(), Some(1), "{}", stderr(&convert));
    assert!(
        stderr(&convert).contains("checksum mismatch") && stderr(&convert).contains("not written"),
        "{}",
        stderr(&convert)
    );
    assert_eq!(entries(&dir), Vec::<String>::new(), "corrupt input");

    let bad_hex = dir.join("bad.hex");
    fs::write(&bad_hex, b"6162\nzz\n").unwrap();
    let pack = flatstream(&["pack", path(&bad_hex), "-o", path(&out), "-c", "none"]);
    assert_eq!(pack.status.code(), Some(1), "{}", stderr(&pack));
    assert!(stderr(&pack).contains("line 2"), "{}", stderr(&pack));
    assert_eq!(entries(&dir), ["bad.hex"], "a bad hex line");

    let missing = dir.join("no-such-directory").join("out.fs");
    let runs: [Vec<&str>; 4] = [
        vec![
            "convert",
            &corrupt,
            path(&missing),
            "--from",
            "crc32",
            "--to",
            "xxh3",
        ],
        vec!["salvage", &corrupt, path(&missing), "-c", "crc32"],
        vec!["pack", path(&bad_hex), "-o", path(&missing)],
        vec!["gen", "telemetry", path(&missing), "--count", "10"],
    ];
    for args in runs {
        let run = flatstream(&args);
        assert_no_panic(&args, &run);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(
            stderr(&run).contains(path(&missing)),
            "{args:?}: {}",
            stderr(&run)
        );
    }
    assert_eq!(entries(&dir), ["bad.hex"], "a missing directory");
}

#[test]
fn an_existing_output_is_replaced_only_on_success() {
    let dir = fresh_dir("replace");
    let out = dir.join("out.fs");
    let previous = b"the previous contents";
    fs::write(&out, previous).unwrap();

    let failed = flatstream(&[
        "convert",
        &vector("crc32-corrupt-payload.bin"),
        path(&out),
        "--from",
        "crc32",
        "--to",
        "xxh3",
    ]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(fs::read(&out).unwrap(), previous, "after a failed convert");

    let failed = flatstream_with_input(&["pack", "-o", path(&out)], b"00\nnot hex\n");
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(fs::read(&out).unwrap(), previous, "after a failed pack");
    assert_eq!(entries(&dir), ["out.fs"]);

    let converted = flatstream(&[
        "convert",
        &vector("crc32-mixed.bin"),
        path(&out),
        "--from",
        "crc32",
        "--to",
        "xxh3",
    ]);
    assert!(converted.status.success(), "{}", stderr(&converted));
    assert_eq!(
        fs::read(&out).unwrap(),
        fs::read(vector("xxh3-mixed.bin")).unwrap()
    );
    assert_eq!(entries(&dir), ["out.fs"]);
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
fn pack_refuses_a_line_over_max_frame_len_naming_it() {
    // Four bytes fit, with either line ending; five do not, caught either by the line's
    // length (with its ending, over 2 * 4 + 2 bytes) or by the payload's.
    for (last_line, reason) in [
        (&b"0102030405\n"[..], "longer than 8 hex digits"),
        (b"0102030405", "a payload of 5 bytes"),
    ] {
        let mut input = b"01020304\r\n\n".to_vec();
        input.extend_from_slice(last_line);
        let packed = flatstream_with_input(&["pack", "-c", "none", "--max-frame-len", "4"], &input);
        assert_eq!(packed.status.code(), Some(1), "{}", stderr(&packed));
        assert!(
            stderr(&packed).contains(&format!("line 3: {reason}, over --max-frame-len 4")),
            "{}",
            stderr(&packed)
        );
        assert_eq!(packed.stdout, [4, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0]);
    }
}

#[test]
fn pack_stops_reading_a_line_at_its_limit() {
    // 64 MiB of hex digits and no line ending: a reader that reads the whole line first
    // takes all of it; a bounded one stops after 2 * 16 + 2 bytes and exits, closing the
    // pipe while most of it is still unwritten.
    const TOTAL: usize = 64 << 20;
    let mut child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
        .args(["pack", "-c", "none", "--max-frame-len", "16"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let chunk = vec![b'0'; 64 * 1024];
        let mut written = 0;
        while written < TOTAL {
            match stdin.write(&chunk) {
                Ok(n) => written += n,
                Err(_) => break,
            }
        }
        written
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let mut message = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut message)
        .unwrap();
    let status = child.wait().unwrap();
    let written = feeder.join().unwrap();
    assert_eq!(status.code(), Some(1), "{message}");
    assert!(
        message.contains("<stdin>: line 1: longer than 32 hex digits"),
        "{message}"
    );
    assert!(stdout.is_empty());
    assert!(
        written < TOTAL / 4,
        "read {written} of {TOTAL} bytes of one line"
    );
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

#[test]
fn an_interrupted_run_leaves_no_temporary_file() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let dir = fresh_dir(&format!("interrupted-{signal}"));
        let out = dir.join("events.fs");
        let mut child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
            .args([
                "gen",
                "telemetry",
                path(&out),
                "--count",
                "1000000000",
                "-q",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while entries(&dir).is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no temporary file"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        kill(Pid::from_raw(child.id().try_into().unwrap()), signal).unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("{signal}: still running");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut message = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut message)
            .unwrap();
        assert_eq!(status.code(), Some(130), "{signal}: {status:?} {message}");
        assert!(
            message.contains(&format!("interrupted: {} not written", path(&out))),
            "{signal}: {message}"
        );
        assert_eq!(entries(&dir), Vec::<String>::new(), "{signal}");
    }
}
