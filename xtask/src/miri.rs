//! `cargo xtask miri`: the unit tests of the crates that hold `unsafe` code, or that every
//! other crate builds on, under Miri (nightly).
//!
//! - `flatstream-telemetry-schema`: its generated accessors follow offsets with `unsafe`;
//!   `flatstream-validate`'s hostile-input tests (every bit flip, every truncation, huge
//!   vtables, deep nesting) drive those accessors and the `flatbuffers` verifier, so they
//!   run whole.
//! - `flatstream-core` and `flatstream-io`: the wire parser and the engines; `io`'s one
//!   `unsafe` call maps a file, which Miri cannot do, so its `mmap` feature stays off.
//!
//! - `flatstream-checksum-crc32`, `-crc64` and `-crc32c`: their short-input paths (x86-64:
//!   carry-less multiply, the SSE4.2 `crc32` instruction), built with the CPU features they
//!   need (Miri reports only the features a build enables), through their tests named
//!   `..._under_miri`, sized for it; the crates' other tests run every length to 69 000
//!   bytes, minutes under Miri.
//!
//! Integration tests (megabytes of conformance vectors, a counting allocator) would take
//! hours under Miri's interpreter; the unit tests exercise the same code on small inputs.

use crate::process::Step;

/// Unit tests of [`CRATES`] left to the test step: safe code only, and minutes under Miri.
///
/// - `a_large_frame_with_damage_after_it_is_found_last` (`flatstream-io`'s recovery module,
///   which holds no `unsafe`): its 70 000-byte frame must lie over the search's 64 KiB floor,
///   and walking it took 122 s of the 241 s `io`'s unit tests ran under Miri (CI class).
///   The module's other tests, on small inputs, still run under Miri.
const SKIPPED: [&str; 1] =
    ["recovery::resync::tests::a_large_frame_with_damage_after_it_is_found_last"];

const CRATES: [&str; 3] = [
    "flatstream-core",
    "flatstream-io",
    "flatstream-telemetry-schema",
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("miri takes no arguments, got `{arg}`"));
    }
    ensure_installed()?;
    Step {
        title: "miri setup",
        program: "cargo",
        args: &["+nightly", "miri", "setup"],
        env: &[],
    }
    .run()?;
    for krate in CRATES {
        let mut args = vec![krate, "--lib", "--"];
        for name in SKIPPED {
            args.extend(["--skip", name]);
        }
        miri_test(krate, &args, &[])?;
    }
    miri_test(
        "flatstream-checksum-crc32 (PCLMULQDQ path)",
        &["flatstream-checksum-crc32", "--lib", "--", "under_miri"],
        &[("RUSTFLAGS", "-C target-feature=+pclmulqdq,+sse4.1")],
    )?;
    miri_test(
        "flatstream-checksum-crc64 (PCLMULQDQ path)",
        &["flatstream-checksum-crc64", "--lib", "--", "under_miri"],
        &[("RUSTFLAGS", "-C target-feature=+pclmulqdq,+sse4.1")],
    )?;
    miri_test(
        "flatstream-checksum-crc32c (SSE4.2 path)",
        &["flatstream-checksum-crc32c", "--lib", "--", "under_miri"],
        &[("RUSTFLAGS", "-C target-feature=+sse4.2")],
    )?;
    miri_test("flatstream-validate", &["flatstream-validate"], &[])?;
    Ok(())
}

/// `cargo +nightly miri test --package` and `args`, as a step titled `title`.
fn miri_test(title: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let mut all = vec!["+nightly", "miri", "test", "--package"];
    all.extend_from_slice(args);
    Step {
        title,
        program: "cargo",
        args: &all,
        env,
    }
    .run()
    .map(drop)
}

/// Whether `cargo +nightly miri` runs.
pub(crate) fn available() -> bool {
    std::process::Command::new("cargo")
        .args(["+nightly", "miri", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Installs Miri and the standard library's source for the nightly toolchain if missing.
pub(crate) fn ensure_installed() -> Result<(), String> {
    if available() {
        return Ok(());
    }
    Step {
        title: "install miri",
        program: "rustup",
        args: &[
            "component",
            "add",
            "--toolchain",
            "nightly",
            "miri",
            "rust-src",
        ],
        env: &[],
    }
    .run()
    .map(|_| ())
}
