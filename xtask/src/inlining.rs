//! `cargo xtask inlining`: builds `benches/inlining_probe.rs` in release, which calls every
//! per-message method of the everyday path from three functions of its own, and fails when
//! the binary calls one of them out of line.
//!
//! Left to `#[inline]`, LLVM kept `StreamWriter::write_finished`,
//! `SliceReader::read_message` and `TypedMessages::next` out of such loops, and they ran at
//! 0.6 to 0.7x their inlined speed (`docs/benchmarks.md`, session 18): a regression no test
//! sees and the paired bench, which calls each from one place, does not either. For
//! contributors, like `bench --check`; it needs `objdump` (binutils).

use std::collections::BTreeMap;
use std::process::Command;

use crate::process::Step;

/// The per-message methods, as `objdump -C` names them, by the end of the name: a call to
/// one of these (in `flatstream_io`) is a call per message or per frame.
const PER_MESSAGE: &[&str] = &[
    "::write",
    "::write_payload",
    "::write_finished",
    "::read_message",
    "::next",
    "::parse_plain",
    "::parse_frame",
    "::plain_frame",
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("inlining takes no arguments, got `{arg}`"));
    }
    Step {
        title: "the probe, in release",
        program: "cargo",
        args: &[
            "build",
            "--release",
            "-p",
            "flatstream-benches",
            "--example",
            "inlining_probe",
        ],
        env: &[],
    }
    .run()?;
    let probe = crate::bench::target_dir().join("release/examples/inlining_probe");
    let output = Command::new("objdump")
        .args(["-d", "-C", "--no-show-raw-insn"])
        .arg(&probe)
        .output()
        .map_err(|error| {
            format!("cannot run objdump ({error}): install binutils to look at the probe")
        })?;
    if !output.status.success() {
        return Err(format!(
            "objdump failed on {}: {}",
            probe.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let calls = out_of_line_calls(&String::from_utf8_lossy(&output.stdout));
    if calls.is_empty() {
        println!("every per-message method of the probe is inlined into its callers");
        return Ok(());
    }
    let list: Vec<String> = calls
        .iter()
        .map(|(name, count)| format!("  {count} call(s) to {name}"))
        .collect();
    Err(format!(
        "per-message methods called out of line in {}:\n{}\nmark them \
         `#[inline(always)]` (and measure: `docs/benchmarks.md`, session 18)",
        probe.display(),
        list.join("\n")
    ))
}

/// The per-message methods of `flatstream_io` that `disassembly` (`objdump -d -C`) calls,
/// with how many call sites each.
fn out_of_line_calls(disassembly: &str) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for line in disassembly.lines() {
        let Some((_, rest)) = line.split_once("call") else {
            continue;
        };
        let Some(target) = rest
            .split_once('<')
            .and_then(|(_, name)| name.strip_suffix('>'))
        else {
            continue;
        };
        let ours = target.contains("flatstream_io::") && !target.starts_with("core::ptr::");
        if ours && PER_MESSAGE.iter().any(|end| target.ends_with(end)) {
            *calls.entry(target.to_owned()).or_insert(0) += 1;
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_per_message_methods_called_and_nothing_else() {
        let disassembly = "\
   1a7c7:\tcall   1ab23 <flatstream_io::writer::StreamWriter<W,F,A>::write_finished>
   1a7d0:\tcall   20630 <flatstream_io::writer::StreamWriter<W,F,A>::attend>
   1a7e0:\tcall   20640 <flatstream_io::buffered::Buffered::next_frame>
   1a7f0:\tcall   20650 <<flatstream_io::slice::SliceReader<D> as core::iter::traits::iterator::Iterator>::next>
   1a800:\tcall   20650 <<flatstream_io::slice::SliceReader<D> as core::iter::traits::iterator::Iterator>::next>
   1a810:\tcall   20660 <core::ptr::drop_in_place<flatstream_io::writer::StreamWriter<W,F,A>::write>>
   1a820:\tcall   20670 <std::io::Write::write>
   1a830:\tjmp    1a7c7 <main+0x10>
";
        let calls = out_of_line_calls(disassembly);
        assert_eq!(
            calls.into_iter().collect::<Vec<_>>(),
            [
                (
                    "<flatstream_io::slice::SliceReader<D> as core::iter::traits::iterator::Iterator>::next"
                        .to_owned(),
                    2
                ),
                (
                    "flatstream_io::writer::StreamWriter<W,F,A>::write_finished".to_owned(),
                    1
                ),
            ]
        );
    }
}
