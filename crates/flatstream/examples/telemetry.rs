//! Writes one million telemetry events to a file with a checksum, reads them back verifying
//! every frame and every event, and prints counts and throughput.
//!
//! ```text
//! cargo run --release --example telemetry -- [--count N] [--checksum crc32c|xxh3|none] [--path FILE]
//! ```

// Throughput figures are floating point; a u64 count beyond 2^52 loses nothing that matters.
#![allow(clippy::cast_precision_loss)]

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use flatstream::{
    Checksum, ChecksumDeframer, ChecksumFramer, ChecksumKind, Crc32c, NoChecksum, Result,
    StreamReader, StreamWriter, Xxh3,
};
use flatstream_telemetry_schema::{EventRoot, TelemetryEvent};

struct Options {
    count: u64,
    checksum: String,
    path: PathBuf,
}

fn parse_options() -> std::result::Result<Options, String> {
    let mut options = Options {
        count: 1_000_000,
        checksum: "crc32c".to_owned(),
        path: std::env::temp_dir().join("flatstream-telemetry.fstream"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--count" => {
                let text = value()?;
                options.count = text
                    .parse()
                    .map_err(|_| format!("--count: not a number: {text}"))?;
            }
            "--checksum" => options.checksum = value()?,
            "--path" => options.path = value()?.into(),
            "-h" | "--help" => {
                return Err(
                    "usage: telemetry [--count N] [--checksum crc32c|xxh3|none] [--path FILE]"
                        .to_owned(),
                );
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // Names as the facade's `ChecksumKind` takes them; each arm runs code built for that
    // algorithm (no `dyn` in the loop being timed).
    let outcome = match options.checksum.parse::<ChecksumKind>() {
        Ok(ChecksumKind::Crc32c) => run(Crc32c::new(), &options),
        Ok(ChecksumKind::Xxh3) => run(Xxh3::new(), &options),
        Ok(ChecksumKind::None) => run(NoChecksum::new(), &options),
        Ok(other) => {
            eprintln!("checksum {other} is not in this example: choose crc32c, xxh3 or none");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {}: {error}", options.path.display());
            ExitCode::FAILURE
        }
    }
}

/// Writes and reads the file; `Ok(false)` when what was read differs from what was written.
fn run<C: Checksum + Copy>(checksum: C, options: &Options) -> Result<bool> {
    println!(
        "writing {} telemetry events with {} to {}",
        options.count,
        checksum.name(),
        options.path.display()
    );

    let started = Instant::now();
    // Whole frames gathered in a 1 MiB buffer, written out as it fills.
    let file = File::create(&options.path)?;
    let mut writer = StreamWriter::buffered(file, ChecksumFramer::new(checksum), 1 << 20);
    let mut written_sum = 0.0;
    for id in 0..options.count {
        let event = TelemetryEvent::nth(id);
        written_sum += event.value;
        writer.write(&event)?;
    }
    writer.flush()?;
    let bytes = writer.position();
    let write_time = started.elapsed();
    report("wrote", options.count, bytes, write_time);

    let started = Instant::now();
    // The reader buffers the file itself: frames are parsed where they lie in its buffer.
    let mut reader = StreamReader::new(File::open(&options.path)?, ChecksumDeframer::new(checksum));
    let mut next_id = 0u64;
    let mut out_of_order = 0u64;
    let mut read_sum = 0.0;
    reader.process_typed::<EventRoot, _>(|event| {
        if event.id() != next_id || event.name() != Some(TelemetryEvent::nth(next_id).name) {
            out_of_order += 1;
        }
        next_id += 1;
        read_sum += event.value();
        Ok(())
    })?;
    let read_time = started.elapsed();
    report("read ", reader.frames_read(), reader.position(), read_time);

    let intact = reader.frames_read() == options.count
        && reader.position() == bytes
        && out_of_order == 0
        // Same additions in the same order: the sums agree to the bit when nothing was lost.
        && read_sum.to_bits() == written_sum.to_bits();
    println!(
        "verified: {} frames, {} checksums, {} events out of order, value sums {} / {}: {}",
        reader.frames_read(),
        if checksum.size() == 0 { "no" } else { "all" },
        out_of_order,
        written_sum,
        read_sum,
        if intact { "OK" } else { "MISMATCH" }
    );
    Ok(intact)
}

fn report(verb: &str, frames: u64, bytes: u64, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    println!(
        "{verb} {frames} frames, {:.1} MiB in {:.3} s: {:.2} M msg/s, {:.3} GB/s",
        bytes as f64 / (1024.0 * 1024.0),
        seconds,
        frames as f64 / seconds / 1e6,
        bytes as f64 / seconds / 1e9,
    );
}
