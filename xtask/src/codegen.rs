//! `cargo xtask codegen`: regenerates the telemetry schema's Rust code with `flatc`.

use std::path::Path;
use std::process::Command;

use crate::project_root;

/// The first `flatc` whose generated Rust matches the `flatbuffers` 25 crate (its `Follow`
/// became `unsafe` in 23.x).
const MIN_FLATC_MAJOR: u32 = 23;

const SCHEMA: &str = "crates/flatstream-telemetry-schema/schema/telemetry.fbs";
const OUTPUT_DIR: &str = "crates/flatstream-telemetry-schema/src";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("codegen takes no arguments, got `{arg}`"));
    }
    let flatc = std::env::var("FLATC").unwrap_or_else(|_| "flatc".to_owned());
    let output = Command::new(&flatc)
        .arg("--version")
        .output()
        .map_err(|error| format!("cannot run `{flatc}` ({error}); install flatc {MIN_FLATC_MAJOR} or later, or set FLATC"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = parse_major(&version)
        .ok_or_else(|| format!("cannot read a version from `{flatc} --version`: {version:?}"))?;
    if major < MIN_FLATC_MAJOR {
        return Err(format!(
            "{version} generates code for the {major}.x flatbuffers crate, not the 25.x one we \
             build against; install flatc {MIN_FLATC_MAJOR} or later. The committed \
             telemetry_generated.rs is hand-written in flatc's shape until then."
        ));
    }
    let root = project_root();
    let status = Command::new(&flatc)
        .args(["--rust", "-o"])
        .arg(root.join(OUTPUT_DIR))
        .arg(root.join(SCHEMA))
        .status()
        .map_err(|error| format!("cannot run {flatc}: {error}"))?;
    if !status.success() {
        return Err(format!("{flatc} failed ({status})"));
    }
    let generated = Path::new(OUTPUT_DIR).join("telemetry_generated.rs");
    println!("regenerated {} with {version}", generated.display());
    Ok(())
}

/// `flatc version 25.2.10` gives 25.
fn parse_major(version: &str) -> Option<u32> {
    version
        .split_whitespace()
        .last()?
        .split('.')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::parse_major;

    #[test]
    fn reads_the_major_version() {
        assert_eq!(parse_major("flatc version 25.2.10"), Some(25));
        assert_eq!(parse_major("flatc version 2.0.8"), Some(2));
        assert_eq!(parse_major("nonsense"), None);
    }

    #[test]
    fn schema_path_exists() {
        assert!(super::project_root().join(super::SCHEMA).is_file());
    }
}
