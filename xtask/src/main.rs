//! flatstream's task runner: `cargo xtask <task>`.
//!
//! Plain Rust instead of shell scripts, so it runs wherever cargo does. Each task is a
//! module; `main` only dispatches.

mod bench;
mod ci;
mod codegen;
mod fuzz;
mod inlining;
mod miri;
mod process;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  bench    [--quick] [--runs N] [--paired] [--check] [FILTER]: the criterion suites (flatstream
           and compress) and bench-report.md (.json) in the target directory; a result the
           report needs and the run lacks is an error unless FILTER or --paired ran only part
           of the suite; --paired measures the everyday
           cells in interleaved rounds instead; --check fails when the everyday path falls
           under 0.9x its minimal loop (median of the runs)
  ci       format check, clippy, tests, the facade's feature matrix (cargo-hack), docs
  fuzz     [--seconds N] [TARGET...]: each cargo-fuzz target for N seconds (nightly)
  inlining builds benches/inlining_probe.rs in release and fails when it calls a
           per-message method (write, read_message, next, parse_plain...) out of line
           (needs objdump)
  miri     the unit tests of core, io, the schema's unsafe accessors and the CRC short paths under Miri (nightly)
  codegen  regenerate the telemetry schema's Rust code with flatc (23 or later)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        Some("ci") => ci::run(&args[1..]),
        Some("codegen") => codegen::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("inlining") => inlining::run(&args[1..]),
        Some("miri") => miri::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root, from this crate's manifest directory.
/// The checksum names, in the order of the facade's `ChecksumKind::all()` with every
/// algorithm on: the fuzz targets' selector byte and the report's row order. xtask does not
/// link the library, so this is a copy; the test below holds it to the facade's table.
const CHECKSUMS: [&str; 6] = ["none", "crc16", "crc32", "crc32c", "crc64", "xxh3"];

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::project_root;

    /// The README's quick start and CI must name the same test command.
    #[test]
    fn checksum_names_are_the_facades() {
        let kinds: Vec<&str> = flatstream::ChecksumKind::all()
            .iter()
            .map(|kind| kind.name())
            .collect();
        assert_eq!(kinds, super::CHECKSUMS);
    }

    #[test]
    fn readme_and_ci_run_the_same_test_command() {
        let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
        let ci = std::fs::read_to_string(project_root().join(".ci/run")).unwrap();
        assert!(
            readme.contains("cargo xtask ci"),
            "README lost its test command"
        );
        assert!(
            ci.lines().any(|line| line.trim() == "cargo xtask ci"),
            ".ci/run does not run `cargo xtask ci`"
        );
        assert!(
            readme.contains("cargo run --release --example telemetry"),
            "README lost its main command"
        );
    }
}
