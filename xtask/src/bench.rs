//! `cargo xtask bench [--quick] [--paired] [--runs N] [--check] [FILTER]`: runs the criterion suites
//! (`benches/flatstream.rs` and `benches/compress.rs`) and writes `bench-report.md` and
//! `bench-report.json` in the target directory, each result beside the baselines measured in
//! the same run, the performance targets with what was measured, the compression modes beside
//! the uncompressed stream, and the everyday path (`stream_*`) divided by its minimal
//! hand-written loop (`loop_*`).
//!
//! A result the report needs that the run did not produce is an error naming it, unless a
//! FILTER or `--paired` chose to run only part of the suite: then the sections it lacks are
//! left out, and the report says so.
//!
//! `--runs N` runs the suite N times and reports the median of each everyday ratio; `--check`
//! then exits non-zero when one falls under [`CHECK_FLOOR`]. `--paired` measures the everyday
//! cells only, in the bench binary's own interleaved rounds, each run in a binary linked with
//! its functions in another order ([`bench_binary_with_layout`]) and with its own heap
//! placement (`FLATSTREAM_BENCH_PLACEMENT`); FILTER is then a substring
//! of the operations' ids (`stream_write_64m/xxh3/1024`): only the cells with a matching
//! operation are measured, each with its loop. Not run in CI, whose shared
//! machines are too noisy for a timing gate: it is for contributors, on a quiet machine.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::process::Step;
use crate::project_root;

/// The lowest everyday ratio `--check` accepts.
const CHECK_FLOOR: f64 = 0.9;

/// One benchmark result.
#[derive(Debug, Clone)]
struct Row {
    group: String,
    function: String,
    size: u64,
    messages_per_second: f64,
    bytes_per_second: f64,
}

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, Default)]
struct Options {
    quick: bool,
    check: bool,
    /// Measure the everyday cells paired (the bench binary's own interleaved rounds, best
    /// call of each) instead of with criterion.
    paired: bool,
    runs: usize,
    filter: Option<String>,
}

impl Options {
    /// Whether this run measures everything the report quotes: no filter, not paired.
    fn whole_suite(&self) -> bool {
        self.filter.is_none() && !self.paired
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        runs: 1,
        ..Options::default()
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--check" => options.check = true,
            "--paired" => options.paired = true,
            "--runs" => {
                options.runs = args
                    .next()
                    .and_then(|runs| runs.parse().ok())
                    .filter(|runs| *runs > 0)
                    .ok_or("bench: --runs takes a positive number")?;
            }
            other if other.starts_with('-') => return Err(format!("bench: unknown flag {other}")),
            other => options.filter = Some(other.to_owned()),
        }
    }
    Ok(options)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `target/` at the root.
pub(crate) fn target_dir() -> PathBuf {
    let root = project_root();
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir))
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let target = target_dir();
    let runs = measure(&options, &target)?;
    let rows = runs.last().cloned().unwrap_or_default();
    let everyday = everyday_medians(&runs, everyday_baseline);
    let against_buffered = everyday_medians(&runs, buffered_baseline);
    let controls = everyday_medians(&runs, control_baseline);
    let machine = machine_description();
    let mut report = Report::new(&rows);
    let mut follow_lines = Vec::new();
    if options.whole_suite() {
        let (lines, target) = follow_latency()?;
        follow_lines = lines;
        report.targets.push(target);
    }
    if options.whole_suite() && !report.missing.is_empty() {
        return Err(format!(
            "bench: the run produced no result for {} benchmark(s) the report needs: {}",
            report.missing.len(),
            report.missing.join(", ")
        ));
    }
    let mut markdown = render_markdown(
        &rows,
        &report,
        [&everyday, &against_buffered, &controls],
        &machine,
        &options,
    );
    if !follow_lines.is_empty() {
        markdown.push_str(
            "\n## Follow latency\n\n`cargo run --release -p flatstream-follow --example latency`: \
             a writer thread appends 1 000 frames, one every 2 ms; the delay from each write to \
             its delivery by a follower.\n\n```text\n",
        );
        for line in &follow_lines {
            markdown.push_str(line);
            markdown.push('\n');
        }
        markdown.push_str("```\n");
    }
    // Every table's cells: each names its loop.
    let all_cells = [
        everyday.as_slice(),
        against_buffered.as_slice(),
        controls.as_slice(),
    ]
    .concat();
    let json = render_json(&rows, &report, &all_cells, &machine, &options);
    let markdown_path = target.join("bench-report.md");
    let json_path = target.join("bench-report.json");
    std::fs::write(&markdown_path, markdown)
        .map_err(|error| format!("cannot write {}: {error}", markdown_path.display()))?;
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|error| format!("cannot write {}: {error}", json_path.display()))?;
    println!(
        "wrote {} and {}",
        markdown_path.display(),
        json_path.display()
    );
    if options.check {
        check(&everyday)?;
    }
    Ok(())
}

/// Runs the suite `options.runs` times (criterion, or the paired everyday cells): the rows of
/// each run.
fn measure(options: &Options, target: &Path) -> Result<Vec<Vec<Row>>, String> {
    let criterion_dir = target.join("criterion");
    let mut bench_args = vec![
        "bench",
        "--package",
        "flatstream-benches",
        "--bench",
        "flatstream",
        "--bench",
        "compress",
        "--bench",
        "encrypt",
        "--bench",
        "inspect",
        "--",
    ];
    if let Some(filter) = &options.filter {
        bench_args.push(filter);
    }
    let quick_env = [("FLATSTREAM_BENCH_QUICK", "1")];
    let paired_path = target.join("bench-paired.jsonl");
    let mut runs = Vec::with_capacity(options.runs);
    for run in 1..=options.runs {
        if options.paired {
            runs.push(run_paired(run, options, &paired_path)?);
            continue;
        }
        // Only this run's results go into the report.
        if criterion_dir.exists() {
            std::fs::remove_dir_all(&criterion_dir)
                .map_err(|error| format!("cannot clear {}: {error}", criterion_dir.display()))?;
        }
        let title = format!("criterion suite, run {run} of {}", options.runs);
        Step {
            title: &title,
            program: "cargo",
            args: &bench_args,
            env: if options.quick { &quick_env } else { &[] },
        }
        .run()?;
        let rows = collect(&criterion_dir)?;
        if rows.is_empty() {
            return Err(format!(
                "no benchmark results were found under {}",
                criterion_dir.display()
            ));
        }
        runs.push(rows);
    }
    Ok(runs)
}

/// Issue 16's follow target: the latency example's lines, and the median delay with change
/// notification held to 100 ms.
fn follow_latency() -> Result<(Vec<String>, Target), String> {
    println!("==> follow latency (flatstream-follow's latency example)");
    let output =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "run",
                "--quiet",
                "--release",
                "--package",
                "flatstream-follow",
                "--example",
                "latency",
                "--",
                "1000",
                "2000",
            ])
            .output()
            .map_err(|error| format!("cannot run the follow latency example: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the follow latency example failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    let median = lines
        .iter()
        .find(|line| line.trim_start().starts_with("notify"))
        .and_then(|line| line.split("median").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(parse_duration)
        .ok_or_else(|| format!("no notify median in the latency example's output: {stdout}"))?;
    let target = Target {
        description: "--follow delivers a frame within 100 ms of its write (median of 1 000)"
            .to_owned(),
        measured: format!("{:.3} ms median", median * 1e3),
        met: median <= 0.1,
    };
    Ok((lines, target))
}

/// A `Debug`-printed `Duration` (`41.2µs`, `3.1ms`, `1.2s`) in seconds.
fn parse_duration(text: &str) -> Option<f64> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ns" => 1e-9,
        "µs" | "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => return None,
    };
    number.parse::<f64>().ok().map(|value| value * scale)
}

/// One run of the bench binary in paired mode; its results as rows.
fn run_paired(run: usize, options: &Options, path: &Path) -> Result<Vec<Row>, String> {
    let path_text = path.to_string_lossy().into_owned();
    // Each run with its own heap placement as well as its own code layout (see
    // `heap_placement` in benches/everyday.rs).
    let placement = run.to_string();
    let mut env = vec![
        ("FLATSTREAM_BENCH_PAIRED", path_text.as_str()),
        ("FLATSTREAM_BENCH_PLACEMENT", placement.as_str()),
    ];
    if options.quick {
        env.push(("FLATSTREAM_BENCH_QUICK", "1"));
    }
    // Paired, the filter is a substring of the operations' ids, not criterion's regex.
    if let Some(filter) = &options.filter {
        env.push(("FLATSTREAM_BENCH_FILTER", filter.as_str()));
    }
    let binary = bench_binary_with_layout(run)?;
    let title = format!("everyday cells paired, run {run} of {}", options.runs);
    Step {
        title: &title,
        program: &binary,
        args: &["--bench"],
        env: &env,
    }
    .run()?;
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(paired_row)
        .collect()
}

/// The bench binary, built as `cargo bench` builds it, with its functions linked in an order
/// of their own for `seed` (lld's `--shuffle-sections`), so that each paired run measures
/// another code layout and the median over the runs is not one layout's luck: where a loop
/// lies in memory moved one cell by more than 10% from build to build. Falls back to the
/// usual order when that build fails (the option is lld's; Rust links with lld on x86-64
/// Linux since 1.90).
fn bench_binary_with_layout(seed: usize) -> Result<String, String> {
    let shuffle = format!("link-arg=-Wl,--shuffle-sections=.text*={seed}");
    let build = |extra: &[&str]| {
        let mut args = vec![
            "rustc",
            "--profile",
            "bench",
            "--package",
            "flatstream-benches",
            "--bench",
            "flatstream",
            "--message-format",
            "json-render-diagnostics",
            "--",
        ];
        args.extend_from_slice(extra);
        println!(
            "\n==> bench binary, layout {seed}: cargo {}",
            args.join(" ")
        );
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(&args)
            .current_dir(project_root())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|error| format!("cannot run cargo rustc: {error}"))
    };
    let mut output = build(&["-C", &shuffle])?;
    if !output.status.success() {
        // Most likely a linker other than lld; a compile error fails again below.
        println!("the build with --shuffle-sections failed: trying the usual layout");
        output = build(&[])?;
    }
    if !output.status.success() {
        return Err(format!(
            "building the bench binary failed ({})",
            output.status
        ));
    }
    executable_of(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| "cargo rustc reported no bench executable".to_owned())
}

/// The executable a `cargo --message-format json` build reported, from its last artifact
/// that has one.
fn executable_of(messages: &str) -> Option<String> {
    messages
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .find_map(|message| message["executable"].as_str().map(str::to_owned))
}

/// A row from one line of the paired results.
fn paired_row(line: &str) -> Result<Row, String> {
    let record: Value =
        serde_json::from_str(line).map_err(|error| format!("paired result {line}: {error}"))?;
    let (Some(id), Some(messages), Some(bytes), Some(seconds)) = (
        record["id"].as_str(),
        record["messages"].as_f64(),
        record["bytes"].as_f64(),
        record["seconds"].as_f64(),
    ) else {
        return Err(format!("paired result without its fields: {line}"));
    };
    let mut parts = id.splitn(3, '/');
    let (Some(group), Some(function), Some(size)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("paired result with a bad id: {line}"));
    };
    Ok(Row {
        group: group.to_owned(),
        function: function.to_owned(),
        size: size.parse().unwrap_or(0),
        messages_per_second: messages / seconds,
        bytes_per_second: bytes / seconds,
    })
}

/// `--check`: every everyday cell at least [`CHECK_FLOOR`] of its loop.
fn check(everyday: &[EverydayCell]) -> Result<(), String> {
    if everyday.is_empty() {
        return Err("--check: no everyday cells were measured (filter `^(loop|stream)_`)".into());
    }
    let slow: Vec<String> = everyday
        .iter()
        .filter(|cell| cell.median < CHECK_FLOOR)
        .map(|cell| {
            format!(
                "{} {} {} ({}): {:.2}× {}",
                cell.operation,
                cell.checksum,
                size_label(cell.size),
                cell.stream,
                cell.median,
                cell.baseline
            )
        })
        .collect();
    if slow.is_empty() {
        println!(
            "check: all {} everyday cells ≥ {CHECK_FLOOR}× their loop",
            everyday.len()
        );
        Ok(())
    } else {
        Err(format!(
            "check: {} of {} everyday cells under {CHECK_FLOOR}× their loop:\n  {}",
            slow.len(),
            everyday.len(),
            slow.join("\n  ")
        ))
    }
}

/// One everyday cell: a `stream_*` operation over one of its loop, median over the runs.
#[derive(Debug, Clone)]
struct EverydayCell {
    operation: String,
    baseline: &'static str,
    stream: &'static str,
    checksum: String,
    size: u64,
    /// The ratio of each run, by messages per second (both count the same messages).
    ratios: Vec<f64>,
    median: f64,
}

/// A group's name without its stream's suffix, and the stream it ran over.
fn stream_of(group: &str) -> (&str, &'static str) {
    match group.strip_suffix("_64m") {
        Some(name) => (name, "64 MiB"),
        None => (group, "1 MiB"),
    }
}

/// A `stream_*` group's operation and the stream it ran over.
fn operation_of(group: &str) -> Option<(&str, &'static str)> {
    let (operation, stream) = stream_of(group);
    Some((operation.strip_prefix("stream_")?, stream))
}

/// The loop a `stream_*` group is held to, the stream it ran over, and the operation. The
/// explicitly buffered operations (`buffered_*`) are not the issue's cells: they have the
/// table of [`buffered_baseline`].
fn everyday_baseline(group: &str) -> Option<(&'static str, &'static str, &str)> {
    let (operation, stream) = operation_of(group)?;
    if operation.starts_with("buffered_") {
        return None;
    }
    let baseline = match operation {
        "write" | "write_supplied" => "loop_write",
        "write_called" | "write_called_supplied" => "loop_write_called",
        "write_payload" => "loop_write_payload",
        "write_finished" => "loop_write_same",
        "file_read_message" => "loop_read_file",
        "file_write_payload" => "loop_write_file",
        "read_message"
        | "process_all"
        | "messages"
        | "in_place_read_message"
        | "in_place_process_all" => "loop_read",
        // An operation not listed here is in no table: the bench's own test fails on it
        // (`every_operation_of_the_everyday_bench_is_held_to_a_loop`), rather than the
        // report holding a new writing operation to the read loop.
        _ => return None,
    };
    Some((baseline, stream, operation))
}

/// The buffered reader reading through its buffer (`buffered_*`: `with_buffer_size` over
/// the same cursor, as `new` reads a file) held to the minimal *buffered* loop (the floor of
/// any reader that reads its source in large pieces): a table beside the issue's.
fn buffered_baseline(group: &str) -> Option<(&'static str, &'static str, &str)> {
    let (operation, stream) = operation_of(group)?;
    operation
        .starts_with("buffered_")
        .then_some(("loop_read_buffered", stream, operation))
}

/// The controls (`loop_read_again`, `loop_write_again`: a loop run again as a body of its
/// own) held to the loop they repeat: how far the method alone moves a cell, in the same run.
fn control_baseline(group: &str) -> Option<(&'static str, &'static str, &str)> {
    let (operation, stream) = stream_of(group);
    let baseline = match operation {
        "loop_read_again" => "loop_read",
        "loop_write_again" => "loop_write",
        _ => return None,
    };
    Some((baseline, stream, operation))
}

/// Every everyday cell of every run, each `stream_*` group held to the loop `baseline_of`
/// names, with the median ratio over the runs.
fn everyday_medians(
    runs: &[Vec<Row>],
    baseline_of: fn(&str) -> Option<(&'static str, &'static str, &str)>,
) -> Vec<EverydayCell> {
    let mut cells: BTreeMap<(String, String, u64, &'static str), EverydayCell> = BTreeMap::new();
    for rows in runs {
        let index = index(rows);
        for row in rows {
            let Some((baseline, stream, operation)) = baseline_of(&row.group) else {
                continue;
            };
            let baseline_group = if stream == "64 MiB" {
                format!("{baseline}_64m")
            } else {
                baseline.to_owned()
            };
            let Some(loop_row) =
                index.get(&(baseline_group.as_str(), row.function.as_str(), row.size))
            else {
                continue;
            };
            let ratio = row.messages_per_second / loop_row.messages_per_second;
            cells
                .entry((operation.to_owned(), row.function.clone(), row.size, stream))
                .or_insert_with(|| EverydayCell {
                    operation: operation.to_owned(),
                    baseline,
                    stream,
                    checksum: row.function.clone(),
                    size: row.size,
                    ratios: Vec::new(),
                    median: 0.0,
                })
                .ratios
                .push(ratio);
        }
    }
    let mut cells: Vec<EverydayCell> = cells.into_values().collect();
    for cell in &mut cells {
        cell.median = median(&cell.ratios);
    }
    cells
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => sorted[len / 2],
        len => f64::midpoint(sorted[len / 2 - 1], sorted[len / 2]),
    }
}

/// Reads every `<group>/<function>/<size>/new/` result criterion wrote.
fn collect(criterion_dir: &Path) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let mut pending = vec![criterion_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name == "new") {
                    if let Some(row) = read_result(&path)? {
                        rows.push(row);
                    }
                } else {
                    pending.push(path);
                }
            }
        }
    }
    rows.sort_by(|a, b| (&a.group, &a.function, a.size).cmp(&(&b.group, &b.function, b.size)));
    Ok(rows)
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}

fn read_result(dir: &Path) -> Result<Option<Row>, String> {
    let benchmark = read_json(&dir.join("benchmark.json"))?;
    let estimates = read_json(&dir.join("estimates.json"))?;
    let Some(full_id) = benchmark["full_id"].as_str() else {
        return Ok(None);
    };
    let (Some(elements), Some(bytes)) = (
        benchmark["throughput"]["ElementsAndBytes"]["elements"].as_f64(),
        benchmark["throughput"]["ElementsAndBytes"]["bytes"].as_f64(),
    ) else {
        return Ok(None);
    };
    let Some(nanoseconds) = estimates["median"]["point_estimate"].as_f64() else {
        return Ok(None);
    };
    // Ids are `group/function/size`.
    let mut parts = full_id.splitn(3, '/');
    let (Some(group), Some(function), Some(size)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let seconds = nanoseconds * 1e-9;
    Ok(Some(Row {
        group: group.to_owned(),
        function: function.to_owned(),
        size: size.parse().unwrap_or(0),
        messages_per_second: elements / seconds,
        bytes_per_second: bytes / seconds,
    }))
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {rustc}")
}

/// Results by `(group, function, size)`.
type Index<'a> = BTreeMap<(&'a str, &'a str, u64), &'a Row>;

fn index(rows: &[Row]) -> Index<'_> {
    rows.iter()
        .map(|row| ((row.group.as_str(), row.function.as_str(), row.size), row))
        .collect()
}

/// The ratios of a row to the baselines of its size.
fn ratios(row: &Row, index: &Index<'_>) -> BTreeMap<&'static str, f64> {
    let mut ratios = BTreeMap::new();
    let mut put = |name: &'static str, baseline: Option<&&Row>, bytes: bool| {
        if let Some(baseline) = baseline {
            let value = if bytes {
                row.bytes_per_second / baseline.bytes_per_second
            } else {
                row.messages_per_second / baseline.messages_per_second
            };
            ratios.insert(name, value);
        }
    };
    let is_read = matches!(
        row.group.as_str(),
        "read_message" | "process_all" | "slice" | "mmap" | "codec_decode"
    );
    let is_write = matches!(
        row.group.as_str(),
        "write" | "write_finished" | "codec_encode"
    );
    if is_read || is_write {
        put("memcpy", index.get(&("baseline", "memcpy", row.size)), true);
        if row.function != "none" {
            put(
                "checksum",
                index.get(&("checksum", row.function.as_str(), row.size)),
                true,
            );
        }
    }
    if is_read {
        put(
            "tokio",
            index.get(&("baseline", "tokio_length_delimited_decode", row.size)),
            false,
        );
        put(
            "naive",
            index.get(&("baseline", "naive_read_exact", row.size)),
            false,
        );
    }
    if is_write {
        put(
            "tokio",
            index.get(&("baseline", "tokio_length_delimited_encode", row.size)),
            false,
        );
    }
    // Against the same frames read without an adapter (`plain`); before that row existed,
    // against `NoValidator` through the adapter (`none`).
    if row.group == "read_validated" && row.function != "plain" {
        let plain = index.get(&("read_validated", "plain", row.size));
        let unvalidated = plain.or_else(|| index.get(&("read_validated", "none", row.size)));
        if row.function != "none" || plain.is_some() {
            put("unvalidated", unvalidated, false);
        }
    }
    ratios
}

/// One performance target: what it asks, what was measured, whether it holds.
#[derive(Debug)]
struct Target {
    description: String,
    measured: String,
    met: bool,
}

/// Results by id that remembers every id it was asked for and did not have.
struct Lookup<'a> {
    index: Index<'a>,
    missing: RefCell<BTreeSet<String>>,
}

impl<'a> Lookup<'a> {
    fn new(rows: &'a [Row]) -> Self {
        Lookup {
            index: index(rows),
            missing: RefCell::new(BTreeSet::new()),
        }
    }

    fn get(&self, group: &str, function: &str, size: u64) -> Option<&'a Row> {
        let row = self.index.get(&(group, function, size)).copied();
        if row.is_none() {
            self.missing
                .borrow_mut()
                .insert(format!("{group}/{function}/{size}"));
        }
        row
    }

    /// The one row of `group`/`function` whatever its size (the compression suite has one
    /// stream size).
    fn only(&self, group: &str, function: &str) -> Option<&'a Row> {
        let mut rows = self
            .index
            .iter()
            .filter(|((g, f, _), _)| *g == group && *f == function)
            .map(|(_, row)| *row);
        let row = rows.next();
        if row.is_none() {
            self.missing
                .borrow_mut()
                .insert(format!("{group}/{function}"));
        }
        row
    }

    fn into_missing(self) -> Vec<String> {
        self.missing.into_inner().into_iter().collect()
    }
}

/// The sections of the report computed from one run's rows, and what they lacked.
struct Report {
    targets: Vec<Target>,
    compression: Vec<CompressionRow>,
    /// Ids (`group/function/size`) a section needed that the run did not produce.
    missing: Vec<String>,
}

impl Report {
    fn new(rows: &[Row]) -> Self {
        let lookup = Lookup::new(rows);
        let targets = targets(&lookup);
        let compression = compression(&lookup);
        Report {
            targets,
            compression,
            missing: lookup.into_missing(),
        }
    }
}

/// The fastest of the readers at `checksum` and `size`; needs all of them measured.
fn best_read<'a>(
    lookup: &Lookup<'a>,
    checksum: &str,
    size: u64,
) -> Option<(&'static str, &'a Row)> {
    let reads: Vec<(&'static str, Option<&Row>)> = ["read_message", "process_all", "slice", "mmap"]
        .into_iter()
        .map(|group| (group, lookup.get(group, checksum, size)))
        .collect();
    if reads.iter().any(|(_, row)| row.is_none()) {
        return None;
    }
    reads
        .into_iter()
        .filter_map(|(group, row)| row.map(|row| (group, row)))
        .max_by(|a, b| a.1.bytes_per_second.total_cmp(&b.1.bytes_per_second))
}

/// The targets whose results were all measured; `lookup` records the ids of the others.
#[allow(clippy::too_many_lines)] // One list of targets, read top to bottom.
fn targets(lookup: &Lookup<'_>) -> Vec<Target> {
    let mut targets = Vec::new();
    let gb = |row: &Row| row.bytes_per_second / 1e9;
    // Every checksum but none.
    for &checksum in &crate::CHECKSUMS[1..] {
        for size in [65_536, 1_048_576] {
            let read = best_read(lookup, checksum, size);
            let raw = lookup.get("checksum", checksum, size);
            if let (Some((group, read)), Some(raw)) = (read, raw) {
                let ratio = read.bytes_per_second / raw.bytes_per_second;
                targets.push(Target {
                    description: format!(
                        "{checksum} read of {} KiB frames ≥ 0.8× the raw checksum",
                        size / 1024
                    ),
                    measured: format!(
                        "{ratio:.2}× ({group} {:.2} GB/s, raw {:.2} GB/s)",
                        gb(read),
                        gb(raw)
                    ),
                    met: ratio >= 0.8,
                });
            }
        }
    }
    for checksum in ["crc32c", "xxh3"] {
        if let Some((group, row)) = best_read(lookup, checksum, 64) {
            targets.push(Target {
                description: format!("{checksum} read of 64 B frames ≥ 100 M msg/s"),
                measured: format!("{:.1} M msg/s ({group})", row.messages_per_second / 1e6),
                met: row.messages_per_second >= 100e6,
            });
        }
    }
    if let Some((group, row)) = best_read(lookup, "crc16", 65_536) {
        targets.push(Target {
            description: "crc16 read of 64 KiB frames ≥ 5 GB/s".to_owned(),
            measured: format!("{:.2} GB/s ({group})", gb(row)),
            met: gb(row) >= 5.0,
        });
    }
    if let (Some(slice), Some(stream)) = (
        lookup.get("slice", "none", 64),
        lookup.get("read_message", "none", 64),
    ) {
        let ratio = slice.messages_per_second / stream.messages_per_second;
        targets.push(Target {
            description: "slice reader, no checksum, 64 B ≥ 1.3× StreamReader".to_owned(),
            measured: format!("{ratio:.2}×"),
            met: ratio >= 1.3,
        });
    }
    for checksum in ["none", "crc32c", "xxh3"] {
        for size in [64, 65_536] {
            if let (Some(mapped), Some(slice)) = (
                lookup.get("mmap", checksum, size),
                lookup.get("slice", checksum, size),
            ) {
                let ratio = mapped.bytes_per_second / slice.bytes_per_second;
                targets.push(Target {
                    description: format!(
                        "mmap reader {checksum}, {} within 10% of the slice reader",
                        size_label(size)
                    ),
                    measured: format!("{ratio:.2}×"),
                    met: ratio >= 0.9,
                });
            }
        }
    }
    for checksum in ["none", "crc32c", "xxh3"] {
        for size in [64, 65_536] {
            let buffered = format!("from_path_{checksum}");
            if let (Some(mapped), Some(buffered)) = (
                lookup.get("mmap", checksum, size),
                lookup.get("mmap", &buffered, size),
            ) {
                let ratio = mapped.bytes_per_second / buffered.bytes_per_second;
                targets.push(Target {
                    description: format!(
                        "mmap reader {checksum}, {} faster than StreamReader::from_path (the unsafe pays)",
                        size_label(size)
                    ),
                    measured: format!("{ratio:.2}×"),
                    met: ratio > 1.0,
                });
            }
        }
    }
    for size in [1024, 16_384, 65_536, 1_048_576] {
        for checksum in ["none", "crc32c", "xxh3"] {
            if let (Some(write), Some(copy)) = (
                lookup.get("write_finished", checksum, size),
                lookup.get("baseline", "memcpy", size),
            ) {
                let ratio = write.bytes_per_second / copy.bytes_per_second;
                targets.push(Target {
                    description: format!(
                        "write_finished {checksum}, {} KiB ≥ 0.5× memcpy",
                        size / 1024
                    ),
                    measured: format!("{ratio:.2}×"),
                    met: ratio >= 0.5,
                });
            }
        }
    }
    encryption_targets(lookup, &mut targets);
    inspect_targets(lookup, &mut targets);
    targets
}

/// Issue 15's targets, from `benches/encrypt.rs`: each cipher's write and read of 64 KiB
/// and 64 B payloads, beside the unencrypted path of the same run.
fn encryption_targets(lookup: &Lookup<'_>, targets: &mut Vec<Target>) {
    for (cipher, bulk_gb) in [("aes256gcm", 1.0), ("xchacha20poly1305", 0.8)] {
        for direction in ["write", "read"] {
            let group = format!("encrypt_{direction}");
            if let (Some(bulk), Some(plain)) = (
                lookup.get(&group, cipher, 65_536),
                lookup.get(&group, "plain", 65_536),
            ) {
                let gb = bulk.bytes_per_second / 1e9;
                targets.push(Target {
                    description: format!(
                        "{cipher} {direction} of 64 KiB payloads ≥ {bulk_gb} GB/s"
                    ),
                    measured: format!(
                        "{gb:.2} GB/s (unencrypted {:.1} GB/s)",
                        plain.bytes_per_second / 1e9
                    ),
                    met: gb >= bulk_gb,
                });
            }
            if let (Some(small), Some(plain)) = (
                lookup.get(&group, cipher, 64),
                lookup.get(&group, "plain", 64),
            ) {
                let millions = small.messages_per_second / 1e6;
                targets.push(Target {
                    description: format!("{cipher} {direction} of 64 B payloads ≥ 2 M msg/s"),
                    measured: format!(
                        "{millions:.2} M msg/s (unencrypted {:.1} M)",
                        plain.messages_per_second / 1e6
                    ),
                    met: millions >= 2.0,
                });
            }
        }
    }
}

/// Issue 16's targets, from `benches/inspect.rs`: JSON lines and Parquet export of
/// telemetry events, each payload verified against the schema.
fn inspect_targets(lookup: &Lookup<'_>, targets: &mut Vec<Target>) {
    for (function, description, floor) in [
        (
            "json",
            "cat --format json (verify + JSON) ≥ 500 k events/s",
            0.5e6,
        ),
        ("parquet", "export to Parquet ≥ 1 M events/s", 1e6),
    ] {
        if let Some(row) = lookup.only("inspect", function) {
            targets.push(Target {
                description: description.to_owned(),
                measured: format!("{:.2} M events/s", row.messages_per_second / 1e6),
                met: row.messages_per_second >= floor,
            });
        }
    }
}

/// The modes of `benches/compress.rs`, by benchmark function, with their labels; the first
/// is the uncompressed stream the others are compared with.
const COMPRESSION_MODES: [(&str, &str); 6] = [
    ("uncompressed", "uncompressed"),
    (
        "frame_zstd3_dict16k",
        "per frame, zstd 3, 16 KiB dictionary",
    ),
    ("frame_lz4", "per frame, lz4"),
    ("chunk64k_zstd1", "64 KiB chunks, zstd 1"),
    ("chunk64k_zstd3", "64 KiB chunks, zstd 3"),
    ("chunk64k_lz4", "64 KiB chunks, lz4"),
];

/// One compression mode: its stream's size against the uncompressed one, and its rates.
#[derive(Debug)]
struct CompressionRow {
    label: &'static str,
    /// Uncompressed stream bytes over this mode's (above 1: smaller).
    ratio: f64,
    write_messages_per_second: f64,
    read_messages_per_second: f64,
}

/// The compression table. `benches/compress.rs` gives each mode the bytes of its own stream
/// as throughput, so bytes over messages is that stream's size per message, and the ratio
/// comes from the same run's results.
fn compression(lookup: &Lookup<'_>) -> Vec<CompressionRow> {
    let measured: Vec<Option<(&str, &Row, &Row)>> = COMPRESSION_MODES
        .iter()
        .map(|(function, label)| {
            let write = lookup.only("compress_write", function);
            let read = lookup.only("compress_read", function);
            Some((*label, write?, read?))
        })
        .collect();
    let Some(Some((_, plain, _))) = measured.first() else {
        return Vec::new();
    };
    let bytes_per_message = |row: &Row| row.bytes_per_second / row.messages_per_second;
    let plain_bytes = bytes_per_message(plain);
    measured
        .iter()
        .flatten()
        .map(|(label, write, read)| CompressionRow {
            label,
            ratio: plain_bytes / bytes_per_message(write),
            write_messages_per_second: write.messages_per_second,
            read_messages_per_second: read.messages_per_second,
        })
        .collect()
}

fn ratio_label(ratio: f64) -> String {
    if ratio >= 1.005 {
        format!("{ratio:.2}× smaller")
    } else if ratio <= 0.995 {
        format!("{:.2}× larger", 1.0 / ratio)
    } else {
        "1.00×".to_owned()
    }
}

fn format_rate(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.2} G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.1} M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

fn size_label(size: u64) -> String {
    match size {
        0 => "mixed".to_owned(),
        size if size >= 1 << 20 && size % (1 << 20) == 0 => format!("{} MiB", size >> 20),
        size if size >= 1024 && size % 1024 == 0 => format!("{} KiB", size >> 10),
        size => format!("{size} B"),
    }
}

/// The tables beside the issue's: the buffered reader against the buffered loop, and the
/// controls.
fn render_side_tables(
    out: &mut String,
    against_buffered: &[EverydayCell],
    controls: &[EverydayCell],
) {
    if !against_buffered.is_empty() {
        let _ = writeln!(
            out,
            "### The buffered reader against the minimal buffered loop\n"
        );
        let _ = writeln!(
            out,
            "`StreamReader::new` reads a file or socket in 64 KiB pieces through its own \
             buffer (and bytes in memory where they lie). That path, `buffered_*` \
             (`StreamReader::with_buffer_size(cursor, deframer, DEFAULT_BUFFER_SIZE)` over the \
             same bytes), is held to `loop_read_buffered`: the same job done that way by hand (one \
             buffer of `DEFAULT_BUFFER_SIZE` bytes, each frame whole there parsed where it \
             lies, the checksum compared, the torn tail moved to the front before the next \
             read), with none of the reader's limits, errors, counts or policy. Where the \
             table above is under 1× and this one is not, the cost is reading in large pieces \
             rather than the reader's own work.\n"
        );
        render_everyday_table(out, against_buffered);
    }
    if !controls.is_empty() {
        let _ = writeln!(out, "### The same loop twice (controls)\n");
        let _ = writeln!(
            out,
            "`loop_read_again` and `loop_write_again` call the loop function of \
             `loop_read` and `loop_write` again, from a body of their own run last in the \
             round (`loop_write_again`'s builder placed at the same page offset). The same \
             code over the same bytes: how far one of these lands from 1× is how far the \
             method alone moves a cell of the tables above in this run.\n"
        );
        render_everyday_table(out, controls);
    }
}

fn render_markdown(
    rows: &[Row],
    report: &Report,
    [everyday, against_buffered, controls]: [&[EverydayCell]; 3],
    machine: &str,
    options: &Options,
) -> String {
    let index = index(rows);
    let mut out = String::new();
    let _ = writeln!(out, "# flatstream benchmark report\n");
    let _ = writeln!(
        out,
        "Machine: {machine}. Mode: {}. Each row is the median of one criterion run; ratios \
         compare rows of this run only (× memcpy and × checksum by bytes/s, × tokio and \
         × naive by messages/s).\n",
        if options.quick { "quick" } else { "full" }
    );
    if !report.missing.is_empty() {
        let _ = writeln!(
            out,
            "This run measured part of the suite (a filter or `--paired`): what needs the \
             {} results it did not produce is left out.\n",
            report.missing.len()
        );
    }
    if !everyday.is_empty() {
        render_everyday(&mut out, everyday, options);
    }
    render_side_tables(&mut out, against_buffered, controls);
    if !report.compression.is_empty() {
        render_compression(&mut out, &report.compression);
    }
    if !report.targets.is_empty() {
        let _ = writeln!(out, "## Targets\n");
        let _ = writeln!(out, "| target | measured | met |\n|---|---|---|");
        for target in &report.targets {
            let met = if target.met { "yes" } else { "**no**" };
            let _ = writeln!(
                out,
                "| {} | {} | {met} |",
                target.description, target.measured
            );
        }
    }
    let _ = writeln!(out, "\n## Results\n");
    let _ = writeln!(
        out,
        "| operation | checksum | size | msg/s | GB/s | × memcpy | × checksum | × tokio | × naive | × unvalidated |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for row in rows {
        let ratios = ratios(row, &index);
        let ratio = |name: &str| {
            ratios
                .get(name)
                .map_or(String::new(), |value| format!("{value:.2}"))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.3} | {} | {} | {} | {} | {} |",
            row.group,
            row.function,
            // The compression suite's last id part counts events, not bytes.
            if row.group.starts_with("compress_") {
                format!("{} events", row.size)
            } else {
                size_label(row.size)
            },
            format_rate(row.messages_per_second),
            row.bytes_per_second / 1e9,
            ratio("memcpy"),
            ratio("checksum"),
            ratio("tokio"),
            ratio("naive"),
            ratio("unvalidated"),
        );
    }
    out
}

/// The compression table: each mode beside the uncompressed stream of the same run.
fn render_compression(out: &mut String, compression: &[CompressionRow]) {
    let _ = writeln!(out, "## Compression\n");
    let _ = writeln!(
        out,
        "`benches/compress.rs`: telemetry events (`flatstream-telemetry-schema`), CRC-32C \
         framed; size of each stream against the uncompressed one, and messages/s writing \
         and reading it.\n"
    );
    let _ = writeln!(
        out,
        "| mode | size vs uncompressed | write msg/s | read msg/s |\n|---|---|---|---|"
    );
    for row in compression {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.label,
            ratio_label(row.ratio),
            format_rate(row.write_messages_per_second),
            format_rate(row.read_messages_per_second),
        );
    }
    let _ = writeln!(out);
}

/// The everyday table: one row per operation, checksum and size, a column per stream.
fn render_everyday(out: &mut String, everyday: &[EverydayCell], options: &Options) {
    let runs = options.runs;
    let method = if options.paired {
        "Paired: in each run every operation of a cell runs in turn, round after round \
         (about 4 ms a sample), and each keeps its fastest call; over the 64 MiB stream \
         each sample starts after a read of 64 MiB of other memory, so that no operation \
         begins in the caches the one before it left. Each run's binary is linked with its \
         functions in another order (lld `--shuffle-sections`, seeded with the run's \
         number) and allocates at other places (`FLATSTREAM_BENCH_PLACEMENT`, the run's \
         number, shifts what each cell allocates below the allocator's mapping threshold), \
         so the median is over code layouts and heap placements, not one layout's luck."
    } else {
        "Criterion: each operation of a cell right after the others, median of its samples."
    };
    let _ = writeln!(out, "## Everyday path against minimal loops\n");
    let _ = writeln!(
        out,
        "`stream_*` over its minimal hand-written loop on the same bytes, by messages/s; \
         median of {runs} run(s), the runs in brackets. {method} \
         `loop_read`: `read_exact` of the header into a fixed array and of the payload into \
         one `Vec` reused for every frame, checksum compared (each call reads the stream \
         from its start: the loop makes its `Vec`, the buffered loop and the reader their \
         buffers, per call); `loop_read_file`: the same over a \
         `BufReader<File>` of the stream (page cache), beside `file_read_message`, \
         `StreamReader::new` over the `File`. `loop_write`: `builder.reset()`, serialize, \
         finish, two `write_all`s into a reused `Vec`, beside `write` and \
         `write_supplied` (`write` into one builder supplied with `with_builder`, placed as \
         the loop's, reset before each message as the loop's is); `loop_write_called`: the \
         same, each message from a function that is never inlined, beside `write_called`, \
         `StreamWriter::write` each message from such a function (where a program's \
         per-message function is not inlined, as in a larger program it often is not), and \
         `write_called_supplied`, the same into two builders supplied with \
         `with_builders`, each placed as the loop's. `loop_write_payload`: the same \
         without the builder, for `write_payload`; `loop_write_same`: one finished builder's \
         data (`finished_data`) written again and again, for `write_finished`, which does \
         that through the writer, out of the same builder. `loop_write`'s builder holds its \
         data at the same byte of its page as the writer's own builder (where it lies moved \
         the same loop by up to 1.27×). `loop_write_file`: the two `write_all`s into a 64 KiB \
         `BufWriter` over `/dev/null` made per call and flushed, beside \
         `file_write_payload`, `StreamWriter::buffered` over the same file. \
         Every other writing operation writes into the same buffer. `--check` fails \
         under {CHECK_FLOOR}×.\n"
    );
    render_everyday_table(out, everyday);
}

/// The rows of an everyday table: one per operation, checksum and size, a column per stream.
fn render_everyday_table(out: &mut String, everyday: &[EverydayCell]) {
    let _ = writeln!(
        out,
        "| operation | loop | checksum | size | 1 MiB stream | 64 MiB stream |\n|---|---|---|---|---|---|"
    );
    let mut keys: Vec<(&str, &str, u64)> = everyday
        .iter()
        .map(|cell| (cell.operation.as_str(), cell.checksum.as_str(), cell.size))
        .collect();
    keys.sort_by_key(|(operation, checksum, size)| {
        (operation_order(operation), *size, checksum_order(checksum))
    });
    keys.dedup();
    for (operation, checksum, size) in keys {
        let cell_of = |stream: &str| {
            everyday.iter().find(|cell| {
                cell.operation == operation
                    && cell.checksum == checksum
                    && cell.size == size
                    && cell.stream == stream
            })
        };
        let show = |cell: Option<&EverydayCell>| match cell {
            None => String::new(),
            Some(cell) if cell.ratios.len() > 1 => {
                let runs: Vec<String> = cell.ratios.iter().map(|r| format!("{r:.2}")).collect();
                format!("{:.2}× [{}]", cell.median, runs.join(", "))
            }
            Some(cell) => format!("{:.2}×", cell.median),
        };
        let baseline = cell_of("1 MiB")
            .or_else(|| cell_of("64 MiB"))
            .map_or("", |cell| cell.baseline);
        let _ = writeln!(
            out,
            "| {operation} | {baseline} | {checksum} | {} | {} | {} |",
            size_label(size),
            show(cell_of("1 MiB")),
            show(cell_of("64 MiB")),
        );
    }
    let _ = writeln!(out);
}

fn operation_order(operation: &str) -> usize {
    [
        "read_message",
        "process_all",
        "messages",
        "in_place_read_message",
        "in_place_process_all",
        "write",
        "write_supplied",
        "write_called",
        "write_called_supplied",
        "write_finished",
        "write_payload",
        "loop_read_again",
        "loop_write_again",
    ]
    .iter()
    .position(|known| *known == operation)
    .unwrap_or(usize::MAX)
}

fn checksum_order(checksum: &str) -> usize {
    crate::CHECKSUMS
        .iter()
        .position(|known| *known == checksum)
        .unwrap_or(usize::MAX)
}

fn render_json(
    rows: &[Row],
    report: &Report,
    everyday: &[EverydayCell],
    machine: &str,
    options: &Options,
) -> Value {
    let index = index(rows);
    let results: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "operation": row.group,
                "checksum": row.function,
                "size": row.size,
                "messages_per_second": row.messages_per_second,
                "bytes_per_second": row.bytes_per_second,
                "ratios": ratios(row, &index),
            })
        })
        .collect();
    let targets: Vec<Value> = report
        .targets
        .iter()
        .map(|target| json!({"target": target.description, "measured": target.measured, "met": target.met}))
        .collect();
    let compression: Vec<Value> = report
        .compression
        .iter()
        .map(|row| {
            json!({
                "mode": row.label,
                "ratio": row.ratio,
                "write_messages_per_second": row.write_messages_per_second,
                "read_messages_per_second": row.read_messages_per_second,
            })
        })
        .collect();
    let everyday: Vec<Value> = everyday
        .iter()
        .map(|cell| {
            json!({
                "operation": cell.operation,
                "baseline": cell.baseline,
                "stream": cell.stream,
                "checksum": cell.checksum,
                "size": cell.size,
                "ratios": cell.ratios,
                "median": cell.median,
            })
        })
        .collect();
    json!({
        "machine": machine,
        "quick": options.quick,
        "paired": options.paired,
        "runs": options.runs,
        "targets": targets,
        "compression": compression,
        "missing": report.missing,
        "results": results,
        "everyday": everyday,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_everyday_bench_is_held_to_a_loop() {
        let source = include_str!("../../benches/everyday.rs");
        let groups: std::collections::BTreeSet<&str> = source
            .split('"')
            .filter(|text| {
                text.starts_with("stream_")
                    && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
            .collect();
        assert!(groups.len() >= 15, "{groups:?}");
        for group in groups {
            for group in [group.to_owned(), format!("{group}_64m")] {
                assert!(
                    everyday_baseline(&group).is_some() || buffered_baseline(&group).is_some(),
                    "{group} is held to no loop: add its operation to everyday_baseline"
                );
            }
        }
    }

    fn row(group: &str, function: &str, size: u64, messages: f64, bytes: f64) -> Row {
        Row {
            group: group.to_owned(),
            function: function.to_owned(),
            size,
            messages_per_second: messages,
            bytes_per_second: bytes,
        }
    }

    #[test]
    fn ratios_compare_rows_of_the_same_size() {
        let rows = vec![
            row("baseline", "memcpy", 64, 100.0, 1000.0),
            row("checksum", "crc32c", 64, 50.0, 400.0),
            row("baseline", "naive_read_exact", 64, 10.0, 100.0),
            row("read_message", "crc32c", 64, 40.0, 300.0),
            row("read_message", "crc32c", 128, 40.0, 300.0),
        ];
        let index = index(&rows);
        let ratios = ratios(&rows[3], &index);
        assert!((ratios["memcpy"] - 0.3).abs() < 1e-9);
        assert!((ratios["checksum"] - 0.75).abs() < 1e-9);
        assert!((ratios["naive"] - 4.0).abs() < 1e-9);
        assert!(!ratios.contains_key("tokio"));
        assert!(super::ratios(&rows[4], &index).is_empty());
    }

    #[test]
    fn validated_reads_compare_with_the_plain_deframer_or_else_no_validator() {
        let rows = vec![
            row("read_validated", "plain", 0, 100.0, 1000.0),
            row("read_validated", "none", 0, 80.0, 800.0),
            row("read_validated", "size", 0, 50.0, 500.0),
        ];
        let index = index(&rows);
        assert!((ratios(&rows[1], &index)["unvalidated"] - 0.8).abs() < 1e-9);
        assert!((ratios(&rows[2], &index)["unvalidated"] - 0.5).abs() < 1e-9);
        assert!(ratios(&rows[0], &index).is_empty());
        // A report from before the `plain` row: against `none`, which has no ratio itself.
        let older = index_without_plain(&rows);
        assert!((ratios(&rows[2], &older)["unvalidated"] - 0.625).abs() < 1e-9);
        assert!(ratios(&rows[1], &older).is_empty());
    }

    fn index_without_plain(rows: &[Row]) -> Index<'_> {
        let mut index = index(rows);
        index.remove(&("read_validated", "plain", 0));
        index
    }

    #[test]
    fn everyday_cells_divide_by_their_loop_and_take_the_median() {
        let run = |read: f64| {
            vec![
                row("loop_read", "crc32c", 64, 100.0, 1.0),
                row("stream_read_message", "crc32c", 64, read, 1.0),
                row("loop_write_same_64m", "none", 1024, 50.0, 1.0),
                row("stream_write_finished_64m", "none", 1024, 40.0, 1.0),
                row("stream_write_64m", "none", 1024, 40.0, 1.0),
            ]
        };
        let runs = vec![run(80.0), run(120.0), run(95.0)];
        let cells = everyday_medians(&runs, everyday_baseline);
        assert_eq!(cells.len(), 2, "{cells:?}");
        let read = cells
            .iter()
            .find(|c| c.operation == "read_message")
            .unwrap();
        assert_eq!(read.baseline, "loop_read");
        assert_eq!(read.stream, "1 MiB");
        assert!((read.median - 0.95).abs() < 1e-9);
        let write = cells
            .iter()
            .find(|c| c.operation == "write_finished")
            .unwrap();
        assert_eq!(
            (write.baseline, write.stream),
            ("loop_write_same", "64 MiB")
        );
        assert!((write.median - 0.8).abs() < 1e-9);
        // A file read is held to the loop over a `BufReader<File>`.
        let file = everyday_baseline("stream_file_read_message_64m").unwrap();
        assert_eq!(file, ("loop_read_file", "64 MiB", "file_read_message"));
        let file_write = everyday_baseline("stream_file_write_payload").unwrap();
        assert_eq!(
            file_write,
            ("loop_write_file", "1 MiB", "file_write_payload")
        );
        // `write` into one supplied builder is held to the loop, as `write` is.
        assert_eq!(
            everyday_baseline("stream_write_supplied"),
            Some(("loop_write", "1 MiB", "write_supplied"))
        );
        // `write` from a function never inlined, into the writer's own builders or two
        // supplied ones, is held to the minimal loop written the same way.
        for operation in ["write_called", "write_called_supplied"] {
            let group = format!("stream_{operation}_64m");
            assert_eq!(
                everyday_baseline(&group),
                Some(("loop_write_called", "64 MiB", operation))
            );
        }
        assert!(check(&cells).is_err());
        assert!(check(&cells[..0]).is_err());
        assert!(check(std::slice::from_ref(read)).is_ok());
    }

    #[test]
    fn the_buffered_reader_is_also_held_to_the_buffered_loop() {
        let rows = vec![
            row("loop_read_64m", "none", 64, 100.0, 1.0),
            row("loop_read_buffered_64m", "none", 64, 50.0, 1.0),
            row("stream_process_all_64m", "none", 64, 60.0, 1.0),
            row("stream_buffered_process_all_64m", "none", 64, 60.0, 1.0),
            row("stream_in_place_process_all_64m", "none", 64, 120.0, 1.0),
            row("loop_write", "none", 64, 10.0, 1.0),
            row("stream_write", "none", 64, 10.0, 1.0),
        ];
        let runs = vec![rows];
        let issue = everyday_medians(&runs, everyday_baseline);
        assert_eq!(issue.len(), 3, "{issue:?}");
        let buffered = everyday_medians(&runs, buffered_baseline);
        // Only the reader through its buffer: not `new` over the cursor (read where the
        // bytes lie), not in place, not the writer; and it is not one of the issue's cells.
        assert_eq!(buffered.len(), 1, "{buffered:?}");
        assert_eq!(
            (buffered[0].operation.as_str(), buffered[0].baseline),
            ("buffered_process_all", "loop_read_buffered")
        );
        assert!(everyday_baseline("stream_buffered_process_all_64m").is_none());
        assert!((buffered[0].median - 1.2).abs() < 1e-9);
        // The buffered loop is a baseline, never a cell of its own.
        assert!(everyday_baseline("loop_read_buffered").is_none());
    }

    #[test]
    fn the_controls_are_held_to_the_loop_they_repeat_and_to_nothing_else() {
        let rows = vec![
            row("loop_read_64m", "xxh3", 64, 100.0, 1.0),
            row("loop_read_again_64m", "xxh3", 64, 90.0, 1.0),
            row("loop_write", "none", 1024, 10.0, 1.0),
            row("loop_write_again", "none", 1024, 11.0, 1.0),
            row("stream_write", "none", 1024, 10.0, 1.0),
        ];
        let runs = vec![rows];
        let controls = everyday_medians(&runs, control_baseline);
        assert_eq!(controls.len(), 2, "{controls:?}");
        let read = controls
            .iter()
            .find(|c| c.operation == "loop_read_again")
            .unwrap();
        assert_eq!((read.baseline, read.stream), ("loop_read", "64 MiB"));
        assert!((read.median - 0.9).abs() < 1e-9);
        let write = controls
            .iter()
            .find(|c| c.operation == "loop_write_again")
            .unwrap();
        assert!((write.median - 1.1).abs() < 1e-9);
        // Not issue cells, and `--check` never sees them: the issue's cells are the same
        // without them.
        let issue = everyday_medians(&runs, everyday_baseline);
        assert_eq!(issue.len(), 1, "{issue:?}");
        assert!(control_baseline("stream_write").is_none());
        assert!(control_baseline("loop_write").is_none());
    }

    #[test]
    fn the_bench_executable_is_read_from_cargos_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","executable":null,"target":{"name":"dep"}}"#,
            "\n",
            "not json\n",
            r#"{"reason":"compiler-artifact","executable":"/t/release/deps/flatstream-1"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
            "\n",
        );
        assert_eq!(
            executable_of(messages).as_deref(),
            Some("/t/release/deps/flatstream-1")
        );
        assert_eq!(executable_of(r#"{"reason":"build-finished"}"#), None);
    }

    #[test]
    fn durations_print_by_debug_parse_back() {
        assert_eq!(parse_duration("41.5µs"), Some(41.5e-6));
        assert_eq!(parse_duration("3ms"), Some(3e-3));
        assert_eq!(parse_duration("1.25s"), Some(1.25));
        assert_eq!(parse_duration("fast"), None);
    }

    #[test]
    fn paired_lines_become_rows() {
        let row = paired_row(
            r#"{"id":"stream_write_64m/xxh3/1024","messages":1000,"bytes":2000,"seconds":2e-3}"#,
        )
        .unwrap();
        assert_eq!(
            (row.group.as_str(), row.function.as_str(), row.size),
            ("stream_write_64m", "xxh3", 1024)
        );
        assert!((row.messages_per_second - 500_000.0).abs() < 1e-6);
        assert!(paired_row(r#"{"id":"x"}"#).is_err());
    }

    #[test]
    fn compression_ratios_come_from_each_streams_bytes() {
        let mut rows = Vec::new();
        for (index, (function, _)) in COMPRESSION_MODES.iter().enumerate() {
            // Messages at 1000/s; stream bytes per message 100, 50, 25, ...
            let bytes_per_message = 100.0 / f64::from(1u32 << index);
            rows.push(row(
                "compress_write",
                function,
                50_000,
                1000.0,
                1000.0 * bytes_per_message,
            ));
            rows.push(row(
                "compress_read",
                function,
                50_000,
                2000.0,
                2000.0 * bytes_per_message,
            ));
        }
        let report = Report::new(&rows);
        // Only the targets' results are missing here.
        assert!(
            !report.missing.iter().any(|id| id.starts_with("compress_")),
            "{:?}",
            report.missing
        );
        let table = &report.compression;
        assert_eq!(table.len(), COMPRESSION_MODES.len());
        assert_eq!(table[0].label, "uncompressed");
        assert!((table[0].ratio - 1.0).abs() < 1e-9);
        assert!((table[2].ratio - 4.0).abs() < 1e-9);
        assert!((table[5].read_messages_per_second - 2000.0).abs() < 1e-9);
        assert_eq!(ratio_label(table[2].ratio), "4.00× smaller");
        assert_eq!(ratio_label(0.98), "1.02× larger");
    }

    #[test]
    fn a_missing_group_is_named_not_reported_as_not_measured() {
        let rows = vec![
            row("slice", "none", 64, 200.0, 1.0),
            row("compress_write", "uncompressed", 50_000, 1.0, 1.0),
        ];
        let report = Report::new(&rows);
        // The slice target needs `read_message/none/64`; compression needs every mode read.
        assert!(report.missing.contains(&"read_message/none/64".to_owned()));
        assert!(
            report
                .missing
                .contains(&"compress_read/uncompressed".to_owned())
        );
        assert!(
            report
                .missing
                .contains(&"compress_write/chunk64k_lz4".to_owned())
        );
        assert!(report.targets.is_empty());
        assert!(report.compression.is_empty());
        let options = parse(&[]).unwrap();
        assert!(
            options.whole_suite(),
            "without a filter the run must be whole"
        );
        assert!(!parse(&["slice/".to_owned()]).unwrap().whole_suite());
    }

    #[test]
    fn flags_parse() {
        let args: Vec<String> = ["--quick", "--runs", "3", "--check", "^loop"]
            .iter()
            .map(ToString::to_string)
            .collect();
        let options = parse(&args).unwrap();
        assert!(options.quick && options.check);
        assert_eq!(options.runs, 3);
        assert_eq!(options.filter.as_deref(), Some("^loop"));
        assert!(parse(&["--runs".to_owned(), "0".to_owned()]).is_err());
    }

    #[test]
    fn labels_sizes_readably() {
        assert_eq!(size_label(64), "64 B");
        assert_eq!(size_label(16_384), "16 KiB");
        assert_eq!(size_label(1_048_576), "1 MiB");
        assert_eq!(format_rate(123_456_789.0), "123.5 M");
    }
}
