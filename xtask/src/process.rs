//! Running cargo and friends, with timing.

use std::process::Command;
use std::time::Instant;

use crate::project_root;

/// A command to run from the workspace root.
pub(crate) struct Step<'a> {
    pub(crate) title: &'a str,
    pub(crate) program: &'a str,
    pub(crate) args: &'a [&'a str],
    pub(crate) env: &'a [(&'a str, &'a str)],
}

impl Step<'_> {
    /// Runs the step, echoing it, and fails with its title if it fails.
    pub(crate) fn run(&self) -> Result<f64, String> {
        println!(
            "\n==> {}: {} {}",
            self.title,
            self.program,
            self.args.join(" ")
        );
        let started = Instant::now();
        let status = Command::new(self.program)
            .args(self.args)
            .envs(self.env.iter().copied())
            .current_dir(project_root())
            .status()
            .map_err(|error| format!("{}: cannot run {}: {error}", self.title, self.program))?;
        let seconds = started.elapsed().as_secs_f64();
        if status.success() {
            println!("<== {} ok in {seconds:.1} s", self.title);
            Ok(seconds)
        } else {
            Err(format!(
                "{} failed ({status}) after {seconds:.1} s",
                self.title
            ))
        }
    }
}

/// Whether `cargo <subcommand> --version` works.
pub(crate) fn cargo_has(subcommand: &str) -> bool {
    Command::new("cargo")
        .args([subcommand, "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}
