//! `cat --follow` and `verify --follow` on a file the test appends to: every frame printed as
//! it arrives, SIGINT and SIGTERM end with the summary and status 0, truncation and
//! replacement are status 2, a bad frame status 1 naming frame and offset.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::ScratchDir;

/// Long enough never to pass on a loaded machine; a test fails rather than hangs.
const PATIENCE: Duration = Duration::from_secs(30);

/// A frame without a checksum (`-c none`): `[u32 LE length][payload]`.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = u32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut hex, byte| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

fn append(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

/// A `flatstream` command running in the background, its standard output read line by
/// line and its standard error kept.
struct Running {
    child: Child,
    lines: Receiver<String>,
}

impl Running {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flatstream"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// The next line of standard output, which must come within [`PATIENCE`].
    fn line(&mut self) -> String {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(error) => {
                let _ = self.child.kill();
                panic!("no line of output: {error}");
            }
        }
    }

    /// The next line of standard error (read a byte at a time, so nothing after it is
    /// taken from [`finish`](Self::finish)).
    fn stderr_line(&mut self) -> String {
        let stderr = self.child.stderr.as_mut().unwrap();
        let mut line = Vec::new();
        let mut byte = [0];
        while stderr.read(&mut byte).unwrap() == 1 {
            line.push(byte[0]);
            if byte[0] == b'\n' {
                break;
            }
        }
        String::from_utf8(line).unwrap()
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id().try_into().unwrap()), signal).unwrap();
    }

    /// Waits for the command to end: its status, the rest of its standard output and its
    /// standard error.
    fn finish(mut self) -> Finished {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!("still running after {PATIENCE:?}");
            }
            thread::sleep(Duration::from_millis(5));
        };
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        Finished {
            status,
            stdout: self.lines.iter().collect(),
            stderr,
        }
    }
}

struct Finished {
    status: ExitStatus,
    /// Lines of standard output not read before the end.
    stdout: Vec<String>,
    stderr: String,
}

/// A new, empty file `dir/name`.
fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    File::create(&path).unwrap();
    path
}

#[test]
fn cat_follow_prints_frames_as_they_arrive_and_a_signal_ends_it_with_a_summary() {
    let dir = ScratchDir::new("follow-cat");
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let path = fresh(&dir, &format!("follow-cat-{signal}.fs"));
        let payloads: Vec<Vec<u8>> = (0u8..40)
            .map(|index| vec![index; usize::from(index % 9)])
            .collect();
        append(&path, &frame(&payloads[0]));
        append(&path, &frame(&payloads[1]));
        let mut running =
            Running::start(&["cat", "--follow", path.to_str().unwrap(), "-c", "none"]);
        // The frames already there, then each as it is appended: whole, or cut in two (the
        // follower waits at the torn tail).
        assert_eq!(running.line(), hex(&payloads[0]), "{signal}");
        assert_eq!(running.line(), hex(&payloads[1]), "{signal}");
        for (index, payload) in payloads.iter().enumerate().skip(2) {
            let frame = frame(payload);
            let cut = index % (frame.len() + 1);
            append(&path, &frame[..cut]);
            if index % 4 == 0 {
                thread::sleep(Duration::from_millis(2));
            }
            append(&path, &frame[cut..]);
            assert_eq!(running.line(), hex(payload), "{signal}: frame {index}");
        }
        // A frame still being written when the signal comes.
        append(&path, &frame(b"unfinished")[..7]);
        let bytes: usize = payloads.iter().map(|payload| 4 + payload.len()).sum();
        running.signal(signal);
        let finished = running.finish();
        assert_eq!(
            finished.status.code(),
            Some(0),
            "{signal}: {}",
            finished.stderr
        );
        assert!(
            finished.stdout.is_empty(),
            "{signal}: {:?}",
            finished.stdout
        );
        assert!(
            finished.stderr.contains(&format!(
                "stopped following: 40 frames, {bytes} bytes, checksum none; 7 bytes of a frame \
                 still being written after byte offset {bytes}"
            )),
            "{signal}: {}",
            finished.stderr
        );
    }
}

#[test]
fn verify_follow_detects_the_checksum_once_frames_arrive_and_reports_ok_on_sigterm() {
    let dir = ScratchDir::new("follow-verify");
    let events = dir.join("follow-verify-events.fs");
    let generated = crate::flatstream(&[
        "gen",
        "telemetry",
        events.to_str().unwrap(),
        "--count",
        "300",
        "-c",
        "xxh3",
    ]);
    assert!(generated.status.success(), "{}", crate::stderr(&generated));
    let stream = std::fs::read(&events).unwrap();
    for json in [false, true] {
        let path = fresh(&dir, &format!("follow-verify-{json}.fs"));
        let mut args = vec![
            "verify",
            "--follow",
            path.to_str().unwrap(),
            "--validate",
            "telemetry",
        ];
        if json {
            args.push("--json");
        }
        let mut running = Running::start(&args);
        // An empty file: the checksum cannot be told yet (said once, after the signal
        // handler is in place).
        assert!(
            running
                .stderr_line()
                .contains("waiting for the first frames to detect the checksum"),
            "json {json}"
        );
        for piece in stream.chunks(1000) {
            append(&path, piece);
        }
        // Everything written before the signal is verified before the summary.
        running.signal(Signal::SIGTERM);
        let finished = running.finish();
        assert_eq!(
            finished.status.code(),
            Some(0),
            "json {json}: {}",
            finished.stderr
        );
        let report = finished.stdout.join("\n");
        if json {
            let report: serde_json::Value = serde_json::from_str(&report).unwrap();
            assert_eq!(report["frames"], 300);
            assert_eq!(report["bytes"], stream.len());
            assert_eq!(report["checksum"], "xxh3");
            assert_eq!(report["end"], "stopped");
            assert!(report["error"].is_null());
        } else {
            assert!(
                report.contains(&format!(
                    "ok: 300 frames, {} bytes, checksum xxh3 (detected); stopped following",
                    stream.len()
                )),
                "{report}"
            );
        }
    }
}

#[test]
fn a_file_truncated_or_replaced_under_follow_is_exit_2() {
    let dir = ScratchDir::new("follow-changed");
    for change in ["truncated", "replaced", "removed"] {
        let path = fresh(&dir, &format!("follow-{change}.fs"));
        append(&path, &frame(b"first"));
        let mut running = Running::start(&[
            "cat",
            "--follow",
            path.to_str().unwrap(),
            "-c",
            "none",
            "--format",
            "len",
        ]);
        assert_eq!(running.line(), "5", "{change}");
        match change {
            "truncated" => OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(2)
                .unwrap(),
            "replaced" => {
                let replacement = path.with_extension("new");
                std::fs::write(&replacement, frame(b"other")).unwrap();
                std::fs::rename(&replacement, &path).unwrap();
            }
            _ => std::fs::remove_file(&path).unwrap(),
        }
        let finished = running.finish();
        assert_eq!(
            finished.status.code(),
            Some(2),
            "{change}: {}",
            finished.stderr
        );
        let expected = if change == "truncated" {
            "file truncated underneath the reader: it is 2 bytes long, 9 bytes were read (frame 1 at byte offset 9); stopped following"
        } else {
            "file replaced underneath the reader"
        };
        assert!(
            finished
                .stderr
                .starts_with(&format!("flatstream: {}: ", path.display()))
                && finished.stderr.contains(expected),
            "{change}: {}",
            finished.stderr
        );
    }
}

#[test]
fn a_bad_frame_under_follow_is_exit_1_naming_frame_and_offset() {
    let dir = ScratchDir::new("follow-bad");
    let path = fresh(&dir, "follow-bad.fs");
    let good = crate::flatstream_with_input(&["pack", "-c", "crc32c"], b"6162\n6364\n");
    std::fs::write(&path, &good.stdout).unwrap();
    let running = Running::start(&[
        "verify",
        "--follow",
        path.to_str().unwrap(),
        "-c",
        "crc32c",
        "--json",
    ]);
    // Damaged: the payload of a frame appended later no longer matches its checksum.
    let mut damaged = crate::flatstream_with_input(&["pack", "-c", "crc32c"], b"6566\n").stdout;
    *damaged.last_mut().unwrap() ^= 1;
    thread::sleep(Duration::from_millis(50));
    append(&path, &damaged);
    let finished = running.finish();
    assert_eq!(finished.status.code(), Some(1), "{}", finished.stderr);
    let report: serde_json::Value = serde_json::from_str(&finished.stdout.join("\n")).unwrap();
    assert_eq!(report["frames"], 2);
    assert_eq!(report["end"], "bad_frame");
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with("checksum mismatch") && error.ends_with("(frame 2 at byte offset 20)"),
        "{error}"
    );
}

#[test]
fn what_cannot_be_followed_is_exit_2_at_once() {
    let directory = std::env::temp_dir();
    for file in [
        "/nonexistent/flatstream",
        "/dev/null",
        directory.to_str().unwrap(),
    ] {
        for command in ["cat", "verify"] {
            let output = crate::flatstream(&[command, "--follow", file]);
            assert_eq!(output.status.code(), Some(2), "{command} {file}");
            assert!(
                crate::stderr(&output).starts_with(&format!("flatstream: {file}: ")),
                "{command} {file}: {}",
                crate::stderr(&output)
            );
        }
    }
}

#[test]
fn verify_follow_reads_an_encrypted_stream_past_its_final_frame() {
    let dir = ScratchDir::new("follow-encrypted");
    let key = dir.join("follow-encrypted.key");
    let _ = std::fs::remove_file(&key);
    let key = key.to_str().unwrap();
    let made = crate::flatstream(&["keygen", "-o", key]);
    assert!(made.status.success(), "{}", crate::stderr(&made));
    let events = dir.join("follow-encrypted-events.fs");
    let events = events.to_str().unwrap();
    let generated = crate::flatstream(&[
        "gen",
        "telemetry",
        events,
        "--count",
        "50",
        "--key-file",
        key,
    ]);
    assert!(generated.status.success(), "{}", crate::stderr(&generated));
    let stream = std::fs::read(events).unwrap();

    let path = fresh(&dir, "follow-encrypted.fs");
    let mut running = Running::start(&[
        "verify",
        "--follow",
        path.to_str().unwrap(),
        "--key-file",
        key,
    ]);
    assert!(
        running
            .stderr_line()
            .contains("waiting for the first frames")
    );
    for piece in stream.chunks(100) {
        append(&path, piece);
    }
    running.signal(Signal::SIGTERM);
    let finished = running.finish();
    assert_eq!(finished.status.code(), Some(0), "{}", finished.stderr);
    assert!(
        finished.stdout.join("\n").contains(&format!(
            "ok: 50 frames, {} bytes, checksum crc32c (detected); stopped following",
            stream.len()
        )),
        "{:?} {}",
        finished.stdout,
        finished.stderr
    );
}

/// `-c auto` under `--follow`, on three files an attack found it mishandled: a first frame
/// that declares more than the limit (it waited for ever, then said "ok" on SIGTERM), a valid
/// stream whose first frame is over 1 MiB (refused: the prefix stopped at 1 MiB), and a file
/// too short to tell (on SIGTERM it claimed a detected checksum).
#[test]
fn follow_detection_judges_what_it_can_and_says_what_it_could_not() {
    let dir = ScratchDir::new("follow-detect");
    // Over the limit: every checksum reads the same length field, so bad data at once.
    let oversized = fresh(&dir, "follow-detect-oversized.fs");
    append(
        &oversized,
        &[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    let finished = Running::start(&["verify", "--follow", oversized.to_str().unwrap()]).finish();
    assert_eq!(finished.status.code(), Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("frame 0 at byte offset 0"),
        "{}",
        finished.stderr
    );

    // A 2 MiB first frame, then a small one: detected from a larger prefix.
    let large = fresh(&dir, "follow-detect-large.fs");
    let path = large.to_str().unwrap();
    let mut writer = flatstream::StreamWriter::new(
        Vec::new(),
        flatstream::ChecksumFramer::new(flatstream::Crc32c::new()),
    );
    writer.write_payload(&vec![0xab; 2 << 20]).unwrap();
    writer.write_payload(&[0, 0xff]).unwrap();
    append(&large, &writer.into_inner());
    let mut running = Running::start(&["cat", "--follow", path, "--format", "len"]);
    assert_eq!(running.line(), (2 << 20).to_string());
    assert_eq!(running.line(), "2");
    running.signal(Signal::SIGTERM);
    let finished = running.finish();
    assert_eq!(finished.status.code(), Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("2 frames") && finished.stderr.contains("checksum crc32c"),
        "{}",
        finished.stderr
    );

    // Three bytes: nothing to detect from yet; a signal says so rather than naming a checksum.
    let short = fresh(&dir, "follow-detect-short.fs");
    append(&short, &[1, 0, 0]);
    let mut running = Running::start(&["verify", "--follow", short.to_str().unwrap()]);
    assert!(
        running
            .stderr_line()
            .contains("waiting for the first frames")
    );
    running.signal(Signal::SIGTERM);
    let finished = running.finish();
    assert_eq!(finished.status.code(), Some(0), "{}", finished.stderr);
    assert!(
        finished
            .stdout
            .join("\n")
            .contains("before the checksum could be detected (3 bytes"),
        "{:?}",
        finished.stdout
    );
}
