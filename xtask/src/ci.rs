//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use crate::process::{Step, cargo_has};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("ci takes no arguments, got `{arg}`"));
    }
    // cargo-deny's default features fetch advisory databases over git and TLS, which our
    // machines cannot reach anyway: without them it compiles in about a third of the time
    // (3.5 min against about 9 on the 2-core CI machine) and checks licenses, bans and
    // sources the same.
    let installs: [(&str, &[&str]); 2] = [
        ("hack", &["install", "--locked", "cargo-hack"]),
        (
            "deny",
            &["install", "--locked", "cargo-deny", "--no-default-features"],
        ),
    ];
    for (tool, args) in installs {
        if !cargo_has(tool) {
            Step {
                title: "install",
                program: "cargo",
                args,
                env: &[],
            }
            .run()?;
        }
    }
    let steps = [
        Step {
            title: "format",
            program: "cargo",
            args: &["fmt", "--all", "--", "--check"],
            env: &[],
        },
        Step {
            title: "clippy",
            program: "cargo",
            args: &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
            env: &[],
        },
        Step {
            title: "test",
            program: "cargo",
            args: &["test", "--workspace", "--all-features"],
            env: &[],
        },
        // Each feature of the facade on its own (and none, and the defaults): a user who
        // picks one checksum must get a crate that builds, passes its tests and its docs.
        Step {
            title: "feature matrix",
            program: "cargo",
            args: &["hack", "test", "--each-feature", "--package", "flatstream"],
            env: &[],
        },
        // Licenses, bans and sources only: the advisory database cannot be downloaded on our
        // machines (no network beyond the package registries). Users run the advisories
        // check with `cargo deny check` where it can be fetched.
        Step {
            title: "cargo deny",
            program: "cargo",
            args: &["deny", "check", "licenses", "bans", "sources"],
            env: &[],
        },
        Step {
            title: "docs",
            program: "cargo",
            args: &["doc", "--workspace", "--no-deps", "--all-features"],
            env: &[("RUSTDOCFLAGS", "-D warnings")],
        },
    ];
    let mut timings = Vec::new();
    for step in &steps {
        timings.push((step.title, step.run()?));
    }
    // Miri comes from rustup, not from crates.io: where it cannot be installed, say so
    // loudly rather than fail every other check with it.
    if crate::miri::ensure_installed().is_ok() {
        let started = std::time::Instant::now();
        crate::miri::run(&[])?;
        timings.push(("miri", started.elapsed().as_secs_f64()));
    } else {
        println!(
            "\n!!! SKIPPED miri: `rustup component add --toolchain nightly miri rust-src` failed"
        );
    }
    println!("\nci passed:");
    for (title, seconds) in timings {
        println!("  {title:<16} {seconds:>6.1} s");
    }
    Ok(())
}
