//! `cargo xtask miri`: the unit tests of the crates that hold `unsafe` code, or that every
//! other crate builds on, under Miri (nightly).
//!
//! - `flatstream-telemetry-schema`: its generated accessors follow offsets with `unsafe`.
//! - `flatstream-core` and `flatstream-io`: the wire parser and the engines; `io`'s one
//!   `unsafe` call maps a file, which Miri cannot do, so its `mmap` feature stays off.
//!
//! Integration tests (megabytes of conformance vectors, a counting allocator) would take
//! hours under Miri's interpreter; the unit tests exercise the same code on small inputs.

use crate::process::Step;

const CRATES: [&str; 3] = [
    "flatstream-core",
    "flatstream-io",
    "flatstream-telemetry-schema",
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("miri takes no arguments, got `{arg}`"));
    }
    Step {
        title: "miri setup",
        program: "cargo",
        args: &["+nightly", "miri", "setup"],
        env: &[],
    }
    .run()?;
    for krate in CRATES {
        Step {
            title: krate,
            program: "cargo",
            args: &["+nightly", "miri", "test", "--package", krate, "--lib"],
            env: &[],
        }
        .run()?;
    }
    Ok(())
}
