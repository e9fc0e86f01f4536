//! The sample sessions in the READMEs are what the commands print.
//!
//! Every ```` ```console ```` block of the repository README and of this crate's README is a
//! session: a line `$ flatstream ARGS` runs the built binary with `ARGS` (split on spaces) in a
//! fresh directory, and the lines up to the next `$` are its standard output followed by its
//! standard error, compared line for line. Nothing is tolerated: none of the quoted commands
//! prints a timing or another value that varies between runs, so a stale sample fails.
//!
//! The damaged inputs the READMEs describe are made from `events.fs` (which the session
//! writes with `gen`) just before the first command that names them: `capture.fs` is
//! `events.fs` without its last 30 bytes, `damaged.fs` is `events.fs` with the lowest bit of
//! byte 600 flipped.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::ScratchDir;

/// One `$ flatstream ...` line of a session and the lines it should print.
struct Step {
    args: Vec<String>,
    expected: Vec<String>,
}

/// The sessions of every `console` block in `markdown`.
fn console_sessions(markdown: &str) -> Vec<Vec<Step>> {
    let mut sessions = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```console" {
            continue;
        }
        let mut steps: Vec<Step> = Vec::new();
        for line in lines.by_ref() {
            if line.trim() == "```" {
                break;
            }
            if let Some(command) = line.strip_prefix("$ ") {
                let mut words = command.split_whitespace().map(str::to_owned);
                assert_eq!(
                    words.next().as_deref(),
                    Some("flatstream"),
                    "a README session runs only flatstream: {line:?}"
                );
                steps.push(Step {
                    args: words.collect(),
                    expected: Vec::new(),
                });
            } else {
                let step = steps
                    .last_mut()
                    .unwrap_or_else(|| panic!("output before any command: {line:?}"));
                step.expected.push(line.to_owned());
            }
        }
        sessions.push(steps);
    }
    sessions
}

/// Makes `capture.fs` and `damaged.fs` from `events.fs` when `args` names them.
fn prepare_inputs(dir: &Path, args: &[String]) {
    let events = dir.join("events.fs");
    for (name, damage) in [
        ("capture.fs", cut_tail as fn(Vec<u8>) -> Vec<u8>),
        ("damaged.fs", flip_bit),
    ] {
        let target = dir.join(name);
        if args.iter().any(|arg| arg == name) && !target.exists() {
            let bytes = fs::read(&events)
                .unwrap_or_else(|_| panic!("{name} is made from events.fs: gen it first"));
            fs::write(target, damage(bytes)).unwrap();
        }
    }
}

fn cut_tail(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.truncate(bytes.len() - 30);
    bytes
}

fn flip_bit(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes[600] ^= 1;
    bytes
}

/// An empty directory of its own for one console session, removed when it is dropped.
fn session_dir(readme: &str, index: usize) -> ScratchDir {
    ScratchDir::new(&format!("readme-{readme}-{index}"))
}

fn check_sessions(readme: &str, path: &Path) {
    let markdown = fs::read_to_string(path).unwrap();
    let sessions = console_sessions(&markdown);
    assert!(!sessions.is_empty(), "{readme}: no console block");
    for (index, steps) in sessions.iter().enumerate() {
        let dir = session_dir(readme, index);
        for step in steps {
            prepare_inputs(&dir, &step.args);
            let output = Command::new(env!("CARGO_BIN_EXE_flatstream"))
                .args(&step.args)
                .current_dir(&dir)
                .output()
                .unwrap();
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let printed: Vec<&str> = printed.lines().collect();
            assert_eq!(
                printed,
                step.expected,
                "{readme}, console block {index}: `flatstream {}` printed something else",
                step.args.join(" ")
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn readme_console_blocks_are_what_the_commands_print() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    check_sessions("repository", &manifest.join("../../README.md"));
    check_sessions("cli", &manifest.join("README.md"));
}

#[test]
fn a_session_is_read_as_commands_and_their_lines() {
    let sessions = console_sessions(
        "text\n```console\n$ flatstream a b\none\ntwo\n$ flatstream c\n```\n```sh\n$ x\n```\n",
    );
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].len(), 2);
    assert_eq!(sessions[0][0].args, ["a", "b"]);
    assert_eq!(sessions[0][0].expected, ["one", "two"]);
    assert!(sessions[0][1].expected.is_empty());
}
