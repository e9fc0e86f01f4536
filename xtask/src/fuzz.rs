//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs each cargo-fuzz target for N seconds
//! (default 60) on the nightly toolchain, seeding corpora from the wire vectors, and writes
//! executions and coverage per target to `target/fuzz-report.md`.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::process::{Step, cargo_has};
use crate::project_root;

const TARGETS: [&str; 9] = [
    "deframe",
    "validators",
    "recover",
    "salvage",
    "recovery",
    "tokio_decoder",
    "decompress_frame",
    "decompress_chunk",
    "decrypt_frame",
];

/// The targets that read a selector byte and a stream: they share the stream seeds.
const STREAM_TARGETS: [&str; 5] = ["deframe", "recover", "salvage", "recovery", "tokio_decoder"];

/// The targets that judge damage: they also get damaged copies of the vectors as seeds.
const RECOVERY_TARGETS: [&str; 3] = ["recover", "salvage", "recovery"];

/// Seeds and inputs stay small: libFuzzer mutates short inputs far faster.
const MAX_LEN: usize = 64 * 1024;

/// Seconds one input may take before libFuzzer calls it a hang (its default, 1200, is
/// longer than most runs): an input of at most `MAX_LEN` bytes takes milliseconds.
const TIMEOUT_SECONDS: u64 = 60;

/// The selector byte the targets read first, for a vector's checksum name.
fn selector(checksum: &str) -> Option<u8> {
    crate::CHECKSUMS
        .iter()
        .position(|name| *name == checksum)
        .map(|index| index as u8)
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = 60u64;
    let mut targets: Vec<String> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a value")?;
                seconds = value
                    .parse()
                    .map_err(|_| format!("--seconds: not a number: {value}"))?;
            }
            name if TARGETS.contains(&name) => targets.push(name.to_owned()),
            other => {
                return Err(format!(
                    "fuzz: unknown target or flag {other}; targets: {TARGETS:?}"
                ));
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|name| (*name).to_owned()).collect();
    }
    if !cargo_has("fuzz") {
        Step {
            title: "install cargo-fuzz",
            program: "cargo",
            args: &["install", "--locked", "cargo-fuzz"],
            env: &[],
        }
        .run()?;
    }
    let root = project_root();
    seed_corpora(&root)?;
    seed_encrypted(&root)?;
    let mut report = String::from(
        "# flatstream fuzzing report\n\n| target | seconds | executions | exec/s | coverage | features | corpus |\n|---|---|---|---|---|---|---|\n",
    );
    for target in &targets {
        println!("\n==> fuzz {target} for {seconds} s");
        let log_path = root.join(format!("target/fuzz-{target}.log"));
        std::fs::create_dir_all(root.join("target")).map_err(|error| error.to_string())?;
        let log =
            File::create(&log_path).map_err(|error| format!("{}: {error}", log_path.display()))?;
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-max_len={MAX_LEN}"))
            .arg(format!("-timeout={TIMEOUT_SECONDS}"))
            .arg("-print_final_stats=1")
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(log)
            .status()
            .map_err(|error| format!("cannot run cargo fuzz: {error}"))?;
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let result = FuzzStats::parse(&text);
        println!(
            "<== {target}: {} executions ({} /s), cov {}, ft {}, corpus {}",
            result.executions, result.per_second, result.coverage, result.features, result.corpus
        );
        let _ = writeln!(
            report,
            "| {target} | {seconds} | {} | {} | {} | {} | {} |",
            result.executions, result.per_second, result.coverage, result.features, result.corpus
        );
        if !status.success() {
            std::fs::write(root.join("target/fuzz-report.md"), &report).ok();
            return Err(format!(
                "fuzz target {target} found a failure; see {} and fuzz/artifacts/{target}/",
                log_path.display()
            ));
        }
    }
    let report_path = root.join("target/fuzz-report.md");
    std::fs::write(&report_path, report).map_err(|error| error.to_string())?;
    println!("wrote {}", report_path.display());
    Ok(())
}

/// Copies the wire vectors in as seeds, prefixed with the selector byte of their checksum.
fn seed_corpora(root: &Path) -> Result<(), String> {
    let vectors = root.join("tests/data/wire-vectors");
    let entries =
        std::fs::read_dir(&vectors).map_err(|error| format!("{}: {error}", vectors.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let Some((checksum, _)) = name.split_once('-') else {
            continue;
        };
        let is_stream = path.extension().is_some_and(|extension| extension == "bin");
        let (Some(selector), true) = (selector(checksum), is_stream) else {
            continue;
        };
        let mut bytes = std::fs::read(&path).map_err(|error| error.to_string())?;
        bytes.truncate(MAX_LEN - 1);
        // The over-limit vectors are read with the small limit.
        let selector = if name.contains("over-limit") {
            selector | 0x08
        } else {
            selector
        };
        let mut seed = vec![selector];
        seed.extend_from_slice(&bytes);
        for target in STREAM_TARGETS {
            write_seed(root, target, &format!("seed-{name}"), &seed)?;
        }
        if name.ends_with("-mixed.bin") {
            let width = checksum_width(checksum).unwrap_or(0);
            for (damage, stream) in damaged_copies(&bytes, width) {
                let mut seed = vec![selector];
                seed.extend_from_slice(&stream);
                for target in RECOVERY_TARGETS {
                    write_seed(root, target, &format!("seed-{damage}-{name}"), &seed)?;
                }
            }
        }
        // Validators see payloads: the vector's frames (without headers) are good seeds.
        if name == "none-mixed.bin" {
            let dir = root.join("fuzz/corpus/validators");
            std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
            let mut offset = 0usize;
            let mut index = 0;
            while offset + 4 <= bytes.len() {
                let len = u32::from_le_bytes([
                    bytes[offset],
                    bytes[offset + 1],
                    bytes[offset + 2],
                    bytes[offset + 3],
                ]) as usize;
                let Some(payload) = bytes.get(offset + 4..offset + 4 + len) else {
                    break;
                };
                std::fs::write(dir.join(format!("seed-payload-{index}")), payload)
                    .map_err(|error| error.to_string())?;
                offset += 4 + len;
                index += 1;
            }
        }
    }
    Ok(())
}

/// Seeds `decrypt_frame` with the encryption vectors' streams (CRC-32C framed, under the
/// key the target uses), one per cipher, each read with and without the final frame
/// required.
fn seed_encrypted(root: &Path) -> Result<(), String> {
    let dir = root.join("crates/flatstream-encrypt/tests/data");
    for (cipher, cipher_bit) in [("xchacha20poly1305", 0u8), ("aes256gcm", 1)] {
        let path = dir.join(format!("{cipher}.json"));
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        let vector: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        let hex = vector["stream"]
            .as_str()
            .ok_or_else(|| format!("{}: no stream", path.display()))?;
        let stream: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|at| u8::from_str_radix(hex.get(2 * at..2 * at + 2)?, 16).ok())
            .collect();
        for require_final in [0u8, 4] {
            let mut seed = vec![cipher_bit | 2 | require_final];
            seed.extend_from_slice(&stream);
            write_seed(
                root,
                "decrypt_frame",
                &format!("seed-{cipher}-{require_final}"),
                &seed,
            )?;
        }
    }
    Ok(())
}

fn write_seed(root: &Path, target: &str, name: &str, seed: &[u8]) -> Result<(), String> {
    let dir = root.join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
    std::fs::write(dir.join(name), seed).map_err(|error| format!("{}: {error}", dir.display()))
}

/// The checksum field's width in bytes, for a vector's checksum name.
fn checksum_width(checksum: &str) -> Option<usize> {
    match checksum {
        "none" => Some(0),
        "crc16" => Some(2),
        "crc32" | "crc32c" => Some(4),
        "crc64" | "xxh3" => Some(8),
        _ => None,
    }
}

/// The whole frames at the start of `stream` (a frame header is 4 + `width` bytes) that fit
/// in a seed with room to spare, as end offsets.
fn frame_ends(stream: &[u8], width: usize) -> Vec<usize> {
    let room = MAX_LEN - 1 - 256;
    let mut ends = Vec::new();
    let mut offset = 0usize;
    while let Some(field) = stream.get(offset..offset + 4) {
        let payload_len = u32::from_le_bytes([field[0], field[1], field[2], field[3]]) as usize;
        let end = offset + 4 + width + payload_len;
        if end > stream.len().min(room) {
            break;
        }
        ends.push(end);
        offset = end;
    }
    ends
}

/// Copies of a vector's whole frames with each kind of damage issue 11 names, so the
/// recovery targets start at every branch of the judgement rather than having to find it.
fn damaged_copies(stream: &[u8], width: usize) -> Vec<(&'static str, Vec<u8>)> {
    let ends = frame_ends(stream, width);
    // After the second frame: the vectors' first frame is empty, and recovery trusts a
    // checksum only once a frame with data has verified under it.
    let (Some(&second_end), Some(&last_end)) = (ends.get(1), ends.last()) else {
        return Vec::new();
    };
    let whole = &stream[..last_end];
    let mut copies = Vec::new();
    // A crash that left zeros after the last frame: a zero-filled tail to cut.
    let mut zero_tail = whole.to_vec();
    zero_tail.resize(whole.len() + 128, 0);
    copies.push(("zero-tail", zero_tail));
    // Zero fill with frames after it: damage, never a tail.
    let mut zero_middle = whole[..second_end].to_vec();
    zero_middle.resize(second_end + 128, 0);
    zero_middle.extend_from_slice(&whole[second_end..]);
    copies.push(("zero-middle", zero_middle));
    // A length field that runs past the end (issue 11, finding 1): intact frames follow.
    let mut long_length = whole.to_vec();
    let past_end = (whole.len() - second_end) as u32;
    long_length[second_end..second_end + 4].copy_from_slice(&past_end.to_le_bytes());
    copies.push(("long-length", long_length));
    // A crash that zeroed the end of the last frame and left zeros after it: the last frame
    // fails its checksum, and the zeros from inside it reach the end.
    let mut zero_over_end = whole.to_vec();
    let last_start = ends[ends.len() - 2];
    let zeroed_from = last_end - 32.min(last_end - last_start - 4 - width);
    zero_over_end[zeroed_from..].fill(0);
    zero_over_end.resize(whole.len() + 128, 0);
    copies.push(("zero-over-end", zero_over_end));
    // A frame torn in its payload (or its header, if the stream ends sooner): a tail to cut.
    let torn_end = stream.len().min(last_end + 4 + width + 1);
    copies.push(("torn", stream[..torn_end].to_vec()));
    copies
}

/// libFuzzer's closing statistics.
#[derive(Debug, Default, PartialEq, Eq)]
struct FuzzStats {
    executions: u64,
    per_second: u64,
    coverage: u64,
    features: u64,
    corpus: u64,
}

impl FuzzStats {
    fn parse(log: &str) -> Self {
        let mut stats = FuzzStats::default();
        for line in log.lines() {
            if let Some(value) = line.strip_prefix("stat::number_of_executed_units:") {
                stats.executions = value.trim().parse().unwrap_or(0);
            } else if let Some(value) = line.strip_prefix("stat::average_exec_per_sec:") {
                stats.per_second = value.trim().parse().unwrap_or(0);
            } else if line.starts_with('#')
                && line.split_whitespace().nth(1).is_some_and(|event| {
                    matches!(event, "INITED" | "NEW" | "REDUCE" | "pulse" | "DONE")
                })
            {
                let mut words = line.split_whitespace();
                let number = |word: Option<&str>| -> u64 {
                    word.and_then(|word| word.split('/').next())
                        .and_then(|word| word.parse().ok())
                        .unwrap_or(0)
                };
                while let Some(word) = words.next() {
                    match word {
                        "cov:" => stats.coverage = number(words.next()),
                        "ft:" => stats.features = number(words.next()),
                        "corp:" => stats.corpus = number(words.next()),
                        _ => {}
                    }
                }
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_closing_statistics() {
        let log = "#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #123456\tDONE   cov: 812 ft: 3001 corp: 240/18Kb lim: 4096 exec/s: 4115 rss: 60Mb\n\
                   stat::number_of_executed_units: 123456\n\
                   stat::average_exec_per_sec:     4115\n";
        assert_eq!(
            FuzzStats::parse(log),
            FuzzStats {
                executions: 123_456,
                per_second: 4115,
                coverage: 812,
                features: 3001,
                corpus: 240
            }
        );
    }

    #[test]
    fn damaged_copies_keep_the_frames_around_the_damage() {
        // Three frames with a 2-byte checksum field: payloads of 1, 2 and 3 bytes.
        let mut stream = Vec::new();
        for payload_len in 1..=3u32 {
            stream.extend_from_slice(&payload_len.to_le_bytes());
            stream.extend_from_slice(&[0xcc; 2]);
            stream.extend(std::iter::repeat_n(0xaa, payload_len as usize));
        }
        stream.extend_from_slice(&[9, 0, 0, 0, 0xcc, 0xcc, 0xaa, 0xaa]); // torn
        assert_eq!(frame_ends(&stream, 2), [7, 15, 24]);
        let copies = damaged_copies(&stream, 2);
        let names: Vec<&str> = copies.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "zero-tail",
                "zero-middle",
                "long-length",
                "zero-over-end",
                "torn"
            ]
        );
        assert_eq!(copies[0].1.len(), 24 + 128);
        assert_eq!(&copies[1].1[15..15 + 128], &[0; 128]);
        assert_eq!(&copies[1].1[15 + 128..], &stream[15..24]);
        assert_eq!(&copies[2].1[15..19], &9u32.to_le_bytes());
        // The last frame's 3-byte payload zeroed, then 128 zeros.
        assert_eq!(&copies[3].1[..21], &stream[..21]);
        assert!(copies[3].1[21..].iter().all(|byte| *byte == 0));
        assert_eq!(copies[3].1.len(), 24 + 128);
        // The header (4 + 2 bytes) and one payload byte of the torn frame.
        assert_eq!(copies[4].1, stream[..31]);
    }

    #[test]
    fn selectors_match_the_targets() {
        assert_eq!(selector("none"), Some(0));
        assert_eq!(selector("xxh3"), Some(5));
        assert_eq!(selector("default"), None);
    }

    #[test]
    fn widths_are_the_facades() {
        for kind in flatstream::ChecksumKind::all() {
            assert_eq!(
                checksum_width(kind.name()),
                Some(kind.checksum().size()),
                "{kind}"
            );
        }
    }
}
