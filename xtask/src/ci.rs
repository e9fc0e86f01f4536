//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use crate::process::{Step, cargo_has};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("ci takes no arguments, got `{arg}`"));
    }
    if !cargo_has("hack") {
        Step {
            title: "install cargo-hack",
            program: "cargo",
            args: &["install", "--locked", "cargo-hack"],
            env: &[],
        }
        .run()?;
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
    println!("\nci passed:");
    for (title, seconds) in timings {
        println!("  {title:<16} {seconds:>6.1} s");
    }
    Ok(())
}
