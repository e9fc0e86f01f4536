//! One function per command.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flatstream::compress::Zstd;
use flatstream::{
    Checksum, MappedBytes, NoValidator, StreamEnd, StructuralValidator, Truncate, TypedValidator,
    Validator, recover_file_with_progress, salvage_slice_with_progress,
};
use flatstream_telemetry_schema::{Event, TelemetryEvent};
use serde_json::json;

use crate::args::{
    CatArgs, CatFormat, ConvertArgs, DictCommand, GenCommand, Options, PackArgs, RecoverArgs,
    SalvageArgs, StatsArgs, ValidateName, VerifyArgs,
};
use crate::choose::{self, Chosen};
use crate::compression::{CompressName, CompressionArgs, MessageWriter};
use crate::encryption::EncryptionArgs;
use crate::failure::Failure;
use crate::output::{AtomicFile, STDOUT, after_printing, print};
use crate::progress::bar;
use crate::scan::scan;
use crate::sigbus::SigbusGuard;

pub(crate) fn stats(options: &Options, args: &StatsArgs) -> Result<(), Failure> {
    let mut sizes: BTreeMap<usize, u64> = BTreeMap::new();
    let mut payload_bytes = 0u64;
    let scan = scan(&args.file, options, Box::new(NoValidator), |payload| {
        *sizes.entry(payload.len()).or_default() += 1;
        payload_bytes += payload.len() as u64;
        Ok(())
    })?;
    let summary = SizeSummary::of(&sizes);
    let compression = Compression::of(options, &scan, &sizes, payload_bytes);
    if args.json {
        let printed = print(|out| {
            writeln!(
                out,
                "{}",
                json!({
                    "file": args.file.display().to_string(),
                    "checksum": scan.checksum.name(),
                    "checksum_detected": scan.checksum.detected,
                    "frames": scan.frames,
                    "frames_missing": scan.frames_missing,
                    "bytes": scan.bytes_read,
                    "payload_bytes": payload_bytes,
                    "payload_size": summary.as_ref().map(|s| json!({
                        "min": s.min, "mean": s.mean, "p50": s.p50, "p99": s.p99, "max": s.max,
                    })),
                    "messages": compression.as_ref().map(|c| c.messages),
                    "uncompressed_bytes": compression.as_ref().map(|c| c.uncompressed_bytes),
                    "compression_ratio": compression.as_ref().map(|c| c.ratio),
                    "end": scan.end(),
                    "last_good_offset": scan.last_good_offset,
                    "error": scan.error.as_ref().map(ToString::to_string),
                })
            )
        });
        return after_printing(printed, scan.reported());
    }
    let printed = print(|out| {
        writeln!(out, "file:          {}", args.file.display())?;
        writeln!(
            out,
            "checksum:      {}{}",
            scan.checksum.name(),
            detected_note(&scan)
        )?;
        writeln!(out, "frames:        {}", scan.frames)?;
        writeln!(out, "bytes:         {}", scan.bytes_read)?;
        writeln!(out, "payload bytes: {payload_bytes}")?;
        if let Some(c) = &compression {
            writeln!(out, "messages:      {}", c.messages)?;
            writeln!(
                out,
                "compression:   {:.2}x ({} bytes uncompressed, as frames with this checksum)",
                c.ratio, c.uncompressed_bytes
            )?;
        }
        if let Some(s) = &summary {
            writeln!(
                out,
                "payload size:  min {}, mean {:.1}, p50 {}, p99 {}, max {}",
                s.min, s.mean, s.p50, s.p99, s.max
            )?;
        }
        match &scan.error {
            None => writeln!(
                out,
                "end:           clean at byte offset {}",
                scan.last_good_offset
            ),
            Some(error) => writeln!(out, "end:           {}: {error}", scan.end()),
        }
    });
    after_printing(printed, scan.into_result(&args.file))
}

/// How much smaller a compressed stream is than the same messages framed uncompressed.
struct Compression {
    messages: u64,
    /// The bytes of the messages as an uncompressed stream with the same checksum.
    uncompressed_bytes: u64,
    ratio: f64,
}

impl Compression {
    /// `None` when the stream was read without decompressing.
    #[allow(clippy::cast_precision_loss)] // A ratio for display.
    fn of(
        options: &Options,
        scan: &crate::scan::Scan,
        sizes: &BTreeMap<usize, u64>,
        payload_bytes: u64,
    ) -> Option<Self> {
        if options.compression.compress == CompressName::None {
            return None;
        }
        let messages: u64 = sizes.values().sum();
        let header_len = (flatstream::wire::LENGTH_LEN + scan.checksum.kind.size()) as u64;
        let uncompressed_bytes = messages * header_len + payload_bytes;
        Some(Compression {
            messages,
            uncompressed_bytes,
            ratio: uncompressed_bytes as f64 / scan.last_good_offset.max(1) as f64,
        })
    }
}

/// " (detected)" when the checksum was detected rather than given, and what it was assumed
/// to be when the stream held no frame to detect it from.
fn detected_note(scan: &crate::scan::Scan) -> &'static str {
    match (scan.checksum.detected, scan.checksum.assumed) {
        (_, true) => " (assumed: no whole frame to detect it from)",
        (true, false) => " (detected)",
        (false, false) => "",
    }
}

/// Payload sizes: exact, from a histogram of every size seen.
struct SizeSummary {
    min: usize,
    mean: f64,
    p50: usize,
    p99: usize,
    max: usize,
}

impl SizeSummary {
    #[allow(clippy::cast_precision_loss)] // A mean for display.
    fn of(sizes: &BTreeMap<usize, u64>) -> Option<Self> {
        let count: u64 = sizes.values().sum();
        if count == 0 {
            return None;
        }
        let total: u128 = sizes
            .iter()
            .map(|(size, n)| *size as u128 * u128::from(*n))
            .sum();
        // Nearest rank: the smallest size with at least ceil(p * count) frames at or below it.
        let percentile = |per_mille: u64| {
            let rank = (count * per_mille).div_ceil(1000).max(1);
            let mut seen = 0;
            sizes
                .iter()
                .find(|(_, n)| {
                    seen += **n;
                    seen >= rank
                })
                .map_or(0, |(size, _)| *size)
        };
        Some(SizeSummary {
            min: *sizes.keys().next()?,
            mean: total as f64 / count as f64,
            p50: percentile(500),
            p99: percentile(990),
            max: *sizes.keys().next_back()?,
        })
    }
}

pub(crate) fn verify(options: &Options, args: &VerifyArgs) -> Result<(), Failure> {
    if args.follow {
        return crate::follow::verify(options, args);
    }
    let validator: Box<dyn Validator> = match args.validate {
        None => Box::new(NoValidator),
        Some(ValidateName::Structural) => Box::new(StructuralValidator::new()),
        Some(ValidateName::Telemetry) => {
            Box::new(TypedValidator::for_type::<Event<'static>>().named("telemetry"))
        }
    };
    let scan = scan(&args.file, options, validator, |_| Ok(()))?;
    if args.json {
        let printed = print(|out| {
            writeln!(
                out,
                "{}",
                json!({
                    "checksum": scan.checksum.name(),
                    "checksum_detected": scan.checksum.detected,
                    "frames": scan.frames,
                    "frames_missing": scan.frames_missing,
                    "bytes": scan.bytes_read,
                    "end": scan.end(),
                    "last_good_offset": scan.last_good_offset,
                    "zero_filled": scan.zero_filled.iter().collect::<Vec<_>>(),
                    "intact_frame_after": scan.intact_after,
                    "suggested_checksum": scan.suggested.map(flatstream::ChecksumKind::name),
                    "error": scan.error.as_ref().map(ToString::to_string),
                })
            )
        });
        return after_printing(printed, scan.reported());
    }
    let printed = if scan.error.is_none() {
        print(|out| {
            writeln!(
                out,
                "{}: ok: {} frames, {} bytes, checksum {}{}{}",
                args.file.display(),
                scan.frames,
                scan.bytes_read,
                scan.checksum.name(),
                detected_note(&scan),
                match scan.frames_missing {
                    0 => String::new(),
                    missing => format!("; {missing} frames missing (read past: --accept-gaps)"),
                }
            )
        })
    } else {
        Ok(())
    };
    after_printing(printed, scan.into_result(&args.file))
}

pub(crate) fn cat(options: &Options, args: &CatArgs) -> Result<(), Failure> {
    if args.follow {
        return crate::follow::cat(options, args);
    }
    if args.format == CatFormat::Json {
        return crate::inspect::cat_json(options, args);
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut hex = String::new();
    let scan = scan(&args.file, options, Box::new(NoValidator), |payload| {
        print_payload(&mut out, args.format, &mut hex, payload)
            .map_err(|error| Failure::output(Path::new(STDOUT), &error))
    })?;
    // Every good frame is printed before the error is reported.
    out.flush()
        .map_err(|error| Failure::output(Path::new(STDOUT), &error))?;
    scan.into_result(&args.file)
}

/// Prints one payload as `cat --format` says; `hex` is a reused line buffer. JSON is
/// printed through the schema (`inspect::cat_json`, and `follow::cat`), never here.
pub(crate) fn print_payload(
    out: &mut impl Write,
    format: CatFormat,
    hex: &mut String,
    payload: &[u8],
) -> io::Result<()> {
    match format {
        CatFormat::Hex => {
            hex.clear();
            for byte in payload {
                use std::fmt::Write as _;
                let _ = write!(hex, "{byte:02x}");
            }
            writeln!(out, "{hex}")
        }
        CatFormat::Len => writeln!(out, "{}", payload.len()),
        CatFormat::Raw => out.write_all(payload),
        CatFormat::Json => Err(io::Error::other("JSON needs the schema's writer")),
    }
}

pub(crate) fn pack(options: &Options, args: &PackArgs) -> Result<(), Failure> {
    let input_name = args
        .input
        .clone()
        .unwrap_or_else(|| PathBuf::from("<stdin>"));
    let checksum = options.checksum.for_writing();
    let Some(output_name) = &args.output else {
        let input = open_lines(args.input.as_deref())?;
        let stdout = Path::new(STDOUT);
        let mut writer = MessageWriter::new(
            io::stdout().lock(),
            256 * 1024,
            checksum,
            &options.compression,
            &options.encryption,
            options.max_frame_len,
            stdout,
        )?;
        let outcome = pack_lines(
            input,
            &input_name,
            options.max_frame_len,
            &mut writer,
            stdout,
        );
        // Standard output cannot be taken back: what was packed before a bad line is a valid
        // stream, so flush it either way; only a whole input gets an encrypted stream's
        // final frame. After a write error (a closed pipe, a full disk) the writer is
        // stopped: the outcome already names that error, and a flush would only be refused.
        if outcome.is_ok() {
            writer
                .finish()
                .map_err(|error| Failure::from_write_error(stdout, &error))?;
        } else if !writer.is_stopped() {
            writer
                .flush()
                .map_err(|error| Failure::from_write_error(stdout, &error))?;
        }
        return outcome.map_err(|failure| failure.context("the lines before it were written"));
    };
    let output = AtomicFile::create(output_name, args.input.as_deref())?;
    let input = open_lines(args.input.as_deref())?;
    let mut writer = MessageWriter::new(
        output,
        256 * 1024,
        checksum,
        &options.compression,
        &options.encryption,
        options.max_frame_len,
        output_name,
    )?;
    let not_written = || format!("{} not written", output_name.display());
    pack_lines(
        input,
        &input_name,
        options.max_frame_len,
        &mut writer,
        output_name,
    )
    .map_err(|failure| failure.context(not_written()))?;
    writer
        .finish()
        .map_err(|error| Failure::from_write_error(output_name, &error))?
        .into_inner()
        .map_err(|error| Failure::usage(output_name, error.error()))?
        .commit()
}

/// The hex lines of `path`, or of standard input.
fn open_lines(path: Option<&Path>) -> Result<Box<dyn BufRead>, Failure> {
    Ok(match path {
        Some(path) => Box::new(BufReader::new(
            File::open(path).map_err(|error| Failure::usage(path, error))?,
        )),
        None => Box::new(io::stdin().lock()),
    })
}

fn pack_lines<W: Write>(
    mut input: Box<dyn BufRead>,
    input_name: &Path,
    max_frame_len: usize,
    writer: &mut MessageWriter<W>,
    output_name: &Path,
) -> Result<(), Failure> {
    // Two hex digits a byte, and a line ending of up to two bytes (CR LF): a longer line is
    // refused after reading no more than this, whatever its length.
    let max_line_len = (max_frame_len as u64).saturating_mul(2).saturating_add(2);
    let mut line = Vec::new();
    let mut payload = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let read = input
            .by_ref()
            .take(max_line_len.saturating_add(1))
            .read_until(b'\n', &mut line)
            .map_err(|error| Failure::usage(input_name, error))?;
        if read == 0 {
            return Ok(());
        }
        line_no += 1;
        let bad_line = |reason: String| {
            Failure::Data(format!(
                "{}: line {line_no}: {reason}",
                input_name.display()
            ))
        };
        if line.len() as u64 > max_line_len {
            return Err(bad_line(format!(
                "longer than {} hex digits, over --max-frame-len {max_frame_len}",
                (max_frame_len as u64).saturating_mul(2)
            )));
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        decode_hex(text, &mut payload).map_err(bad_line)?;
        if payload.len() > max_frame_len {
            return Err(bad_line(format!(
                "a payload of {} bytes, over --max-frame-len {max_frame_len}",
                payload.len()
            )));
        }
        // An I/O error is the output's; anything else refused this line's payload (the
        // error says how, and where on the wire).
        writer.write_payload(&payload).map_err(|error| {
            let failure = Failure::from_write_error(output_name, &error);
            match error.kind() {
                flatstream::ErrorKind::Io(_) => failure,
                _ => failure.context(format_args!("line {line_no} of {}", input_name.display())),
            }
        })?;
    }
}

/// Decodes a line of hex digits (either case) into `out`.
fn decode_hex(text: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", text.len()));
    }
    let digit = |column: usize, byte: u8| match byte {
        b'0'..=b'9' => Ok(byte - b'0'),
        b'a'..=b'f' => Ok(byte - b'a' + 10),
        b'A'..=b'F' => Ok(byte - b'A' + 10),
        _ => Err(format!(
            "invalid hex digit {:?} at column {}",
            char::from(byte),
            column + 1
        )),
    };
    for (index, pair) in text.chunks_exact(2).enumerate() {
        out.push(digit(2 * index, pair[0])? << 4 | digit(2 * index + 1, pair[1])?);
    }
    Ok(())
}

pub(crate) fn recover(options: &Options, args: &RecoverArgs) -> Result<(), Failure> {
    require_regular_file(&args.file, "recover")?;
    let checksum = choose::for_file(options.checksum, &args.file, options.max_frame_len)?;
    // A checksum assumed because no frame is whole under any says nothing of what the file
    // is: a file that is not a stream at all (a few bytes of text, compressed data whose
    // first bytes read as a length past its end) reads as one torn frame. Nothing is cut on
    // that assumption, not even with --force: naming the checksum says the file is a stream.
    if args.truncate && checksum.assumed {
        return Err(Failure::usage(
            &args.file,
            "not cutting anything: no frame is whole under any checksum, so the checksum \
             cannot be detected (the file may not be a stream at all); name it with -c to cut \
             a torn first frame",
        ));
    }
    if args.truncate
        && !checksum.detected
        && let Some(kind) = choose::contradiction(&args.file, checksum.kind, options.max_frame_len)
    {
        return Err(Failure::usage(
            &args.file,
            format_args!(
                "not cutting anything: the stream's frames verify under {kind}, not {} (-c); \
                 run with -c {kind}, or -c auto",
                checksum.name()
            ),
        ));
    }
    let truncate = match (args.truncate, args.force) {
        (false, _) => Truncate::No,
        (true, false) => Truncate::Yes,
        (true, true) => Truncate::Force,
    };
    let file_len = std::fs::metadata(&args.file).map_or(0, |metadata| metadata.len());
    if options.encryption.key_file.is_some()
        && let Some(report) = zero_tail_under_key(options, &args.file, file_len, truncate)?
    {
        let printed = print(|out| write_recovery(out, args, checksum, &report));
        let verdict = if report.truncated {
            Ok(())
        } else {
            Err(Failure::already_reported())
        };
        return after_printing(printed, verdict);
    }
    let progress = bar(file_len, options.quiet);
    let report = recover_file_with_progress(
        &args.file,
        checksum.deframer(options.max_frame_len),
        truncate,
        |read| progress.set_position(read),
    );
    progress.finish_and_clear();
    let report = report.map_err(|error| {
        let failure = Failure::from_error(&args.file, &error);
        match choose::suggestion(&args.file, checksum, options.max_frame_len) {
            Some(kind) if error.frame_index() == Some(0) => failure.context(format!(
                "the stream's first frames verify under {kind}: try -c {kind}, or -c auto"
            )),
            _ => failure,
        }
    })?;
    let printed = print(|out| write_recovery(out, args, checksum, &report));
    let verdict = if report.tail_len > 0 && !report.truncated {
        Err(Failure::already_reported())
    } else {
        Ok(())
    };
    after_printing(printed, verdict)
}

/// `recover` given the key: a zero-filled tail of an encrypted stream, which the recovery
/// engine (which reads no key) keeps as empty frames when it is shorter than
/// `ZERO_FILL_MIN_LEN`, cut where the scanning commands with the key say the intact frames end.
///
/// The proof is in the data: every frame before the zeros decrypted and authenticated, and
/// an empty frame cannot be a sealed payload (each carries a 40-byte header and tag), so
/// the zeros from there to the end of the file are no frames of this stream. `None` when
/// the stream has no such tail: the engine judges it.
fn zero_tail_under_key(
    options: &Options,
    path: &Path,
    file_len: u64,
    truncate: Truncate,
) -> Result<Option<flatstream::RecoveryReport>, Failure> {
    // Only a file that ends in a zero byte can end in zero fill: any other is left to the
    // engine without a second pass over it.
    let last = file_len.saturating_sub(1);
    if file_len == 0 || crate::scan::zeros_to_end(path, last).is_none() {
        return Ok(None);
    }
    let scan = scan(path, options, Box::new(NoValidator), |_| Ok(()))?;
    let Some([start, end]) = scan.zero_filled else {
        return Ok(None);
    };
    if end != file_len || scan.last_good_offset != start {
        return Ok(None);
    }
    let truncated = !matches!(truncate, Truncate::No);
    if truncated {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|error| Failure::usage(path, error))?;
        // The file must still be the one scanned: cut only zeros.
        if file
            .metadata()
            .map_err(|error| Failure::usage(path, error))?
            .len()
            != file_len
        {
            return Err(Failure::usage(
                path,
                "the file changed while it was read; not cutting",
            ));
        }
        file.set_len(start)
            .and_then(|()| file.sync_all())
            .map_err(|error| Failure::usage(path, error))?;
    }
    Ok(Some(flatstream::RecoveryReport {
        frames: scan.frames,
        last_good_offset: start,
        end: StreamEnd::ZeroFilledTail,
        tail_len: end - start,
        unproven: None,
        unchecked_candidates: 0,
        truncated,
    }))
}

/// `recover`'s report, as JSON or text.
fn write_recovery(
    out: &mut impl Write,
    args: &RecoverArgs,
    checksum: Chosen,
    report: &flatstream::RecoveryReport,
) -> io::Result<()> {
    let (end, torn_part) = match report.end {
        StreamEnd::CleanEof => ("clean", None),
        StreamEnd::TornTail { part } => ("torn_tail", Some(part.to_string())),
        StreamEnd::ZeroFilledTail => ("zero_filled_tail", None),
    };
    if args.json {
        return writeln!(
            out,
            "{}",
            json!({
                "checksum": checksum.name(),
                "checksum_detected": checksum.detected,
                "frames": report.frames,
                "last_good_offset": report.last_good_offset,
                "end": end,
                "torn_part": torn_part,
                "tail_len": report.tail_len,
                "unproven": report.unproven,
                "unchecked_candidates": report.unchecked_candidates,
                "truncated": report.truncated,
            })
        );
    }
    let file = args.file.display();
    let what = match (&report.end, &torn_part) {
        (StreamEnd::CleanEof, _) => {
            return writeln!(
                out,
                "{file}: clean: {} frames, ending at byte offset {} (checksum {})",
                report.frames,
                report.last_good_offset,
                checksum.name()
            );
        }
        (_, Some(part)) => format!("a torn tail in the {part}"),
        _ => "a zero-filled tail (space the file system allocated but never wrote)".to_owned(),
    };
    writeln!(
        out,
        "{file}: {what}: {} bytes after {} intact frames, which end at byte offset {} (checksum {})",
        report.tail_len,
        report.frames,
        report.last_good_offset,
        checksum.name()
    )?;
    match (&report.unproven, report.truncated) {
        (_, true) => writeln!(
            out,
            "  cut off; the file now holds the {} intact frames, {} bytes",
            report.frames, report.last_good_offset
        ),
        (Some(reason), false) => writeln!(
            out,
            "  not proven free of intact frames: {reason}\n  {}",
            match (report.unchecked_candidates > 0, args.truncate) {
                (true, _) => {
                    "not cut, not even with --force (one of the frames not checked may be \
                         intact); salvage copies every frame that verifies"
                }
                (false, true) => {
                    "not cut; --force cuts it anyway, or salvage copies what verifies"
                }
                (false, false) => "run with --truncate --force to cut it anyway, or salvage",
            }
        ),
        (None, false) => writeln!(
            out,
            "  nothing intact follows; run with --truncate to cut it off"
        ),
    }
}

/// `recover` and `salvage` work on a regular file: they read it more than once (detection,
/// then the scan), `recover` may truncate it and `salvage` maps it.
fn require_regular_file(path: &Path, command: &str) -> Result<(), Failure> {
    let metadata = std::fs::metadata(path).map_err(|error| Failure::usage(path, error))?;
    if metadata.is_file() {
        Ok(())
    } else {
        Err(Failure::usage(
            path,
            format_args!(
                "{command} needs a regular file (it reads the file more than once); copy a \
                 pipe or device to a file first"
            ),
        ))
    }
}

pub(crate) fn salvage(options: &Options, args: &SalvageArgs) -> Result<(), Failure> {
    require_regular_file(&args.input, "salvage")?;
    // Before the input is mapped: the output must not be the input, and only a new
    // temporary file is created, so nothing truncates the mapped input (that was SIGBUS).
    let output = AtomicFile::create(&args.output, Some(&args.input))?;
    // An input that shrinks under the map, or whose storage fails a read, raises SIGBUS
    // when the lost pages are read: an I/O error exit that removes the temporary output,
    // not a crash. Installed before the map, dropped after it.
    let _sigbus = SigbusGuard::install(output.temporary_path()).ok();
    // SAFETY: mapping is sound only while the input is not truncated or modified. This
    // command checked above that it is a regular file (not a device or pipe that changes
    // under the map), creates only a new temporary file that is not the input (so nothing
    // here writes it), and documents (README, `salvage --help`) that the input must not
    // change while salvage runs; an input truncated by someone else anyway raises SIGBUS,
    // which `_sigbus` turns into an error exit.
    #[allow(unsafe_code)]
    let map = unsafe { MappedBytes::map(&args.input) }
        .map_err(|error| Failure::from_error(&args.input, &error))?;
    let input = map.as_bytes();
    let checksum = match Chosen::given(options.checksum) {
        Some(chosen) => chosen,
        None => choose::detect_in(&args.input, input, options.max_frame_len)?,
    };
    let mut output = BufWriter::with_capacity(256 * 1024, output);
    let progress = bar(input.len() as u64, options.quiet);
    let report = salvage_slice_with_progress(
        input,
        checksum.deframer(options.max_frame_len),
        &mut output,
        |position| progress.set_position(position),
    );
    progress.finish_and_clear();
    let report = report.map_err(|error| match error.kind() {
        // The input is mapped: an I/O error is the output's.
        flatstream::ErrorKind::Io(_) => Failure::from_error(&args.output, &error),
        _ if checksum.kind == flatstream::ChecksumKind::None => {
            Failure::from_error(&args.input, &error)
                .context("if the stream has a checksum, name it with -c".to_owned())
        }
        _ => Failure::from_error(&args.input, &error),
    })?;
    output
        .into_inner()
        .map_err(|error| Failure::usage(&args.output, error.error()))?
        .commit()?;
    let torn = matches!(report.end, StreamEnd::TornTail { .. });
    let printed = print(|out| write_salvage(out, args, checksum, &report));
    let verdict = if report.skipped.is_empty() && !torn {
        Ok(())
    } else if report.frames == 0
        && let Some(kind) = choose::suggestion(&args.input, checksum, options.max_frame_len)
    {
        // Nothing verified under the checksum given: say which one the stream has.
        Err(Failure::data(
            &args.input,
            format_args!(
                "no frame verifies under {checksum}; the stream's frames verify under {kind}: try -c {kind}, or -c auto",
                checksum = checksum.name()
            ),
        ))
    } else {
        Err(Failure::already_reported())
    };
    after_printing(printed, verdict)
}

/// `salvage`'s report, as JSON or text.
fn write_salvage(
    out: &mut impl Write,
    args: &SalvageArgs,
    checksum: Chosen,
    report: &flatstream::SalvageReport,
) -> io::Result<()> {
    let torn = matches!(report.end, StreamEnd::TornTail { .. });
    let pairs = |ranges: &[std::ops::Range<u64>]| -> Vec<[u64; 2]> {
        ranges
            .iter()
            .map(|range| [range.start, range.end])
            .collect()
    };
    if args.json {
        return writeln!(
            out,
            "{}",
            json!({
                "checksum": checksum.name(),
                "checksum_detected": checksum.detected,
                "frames": report.frames,
                "bytes_written": report.bytes_written,
                "skipped": pairs(&report.skipped),
                "zero_filled": pairs(&report.zero_filled),
                "unchecked_candidates": report.unchecked_candidates,
                "unconfirmed_candidates": report.unconfirmed_candidates,
                "end": if torn { "torn_tail" } else { "clean" },
                "input_len": report.input_len,
            })
        );
    }
    writeln!(
        out,
        "{}: kept {} frames ({} bytes) in {} (checksum {})",
        args.input.display(),
        report.frames,
        report.bytes_written,
        args.output.display(),
        checksum.name()
    )?;
    for range in &report.skipped {
        let zeros: u64 = report
            .zero_filled
            .iter()
            .filter(|zeros| zeros.start >= range.start && zeros.end <= range.end)
            .map(|zeros| zeros.end - zeros.start)
            .sum();
        writeln!(
            out,
            "  skipped damaged bytes {}..{} ({} bytes{})",
            range.start,
            range.end,
            range.end - range.start,
            if zeros > 0 {
                format!(", {zeros} of them zero-filled")
            } else {
                String::new()
            }
        )?;
    }
    if report.unchecked_candidates > 0 {
        writeln!(
            out,
            "  {} candidate frames after damage were too costly to check; frames among them, if any, were not kept",
            report.unchecked_candidates
        )?;
    }
    if report.unconfirmed_candidates > 0 {
        writeln!(
            out,
            "  {} frames after damage verified under {} but were not followed by an intact frame; a 2-byte checksum matches by chance once in 65 536, so they were not kept",
            report.unconfirmed_candidates,
            checksum.name()
        )?;
    }
    if torn {
        writeln!(out, "  the input ends in a torn frame")?;
    }
    Ok(())
}

pub(crate) fn convert(options: &Options, args: &ConvertArgs) -> Result<(), Failure> {
    // `-c`, which names the checksum of what every other command reads, names the input's
    // here too; `--from` says the same, and the two may not disagree.
    let from = match (args.from.given(), options.checksum.given()) {
        (Some(from), Some(named)) if from != named => {
            return Err(Failure::usage(
                &args.input,
                format_args!(
                    "-c {} and --from {} name different checksums for the input",
                    named.name(),
                    from.name()
                ),
            ));
        }
        (None, Some(_)) => options.checksum,
        _ => args.from,
    };
    let output = AtomicFile::create(&args.output, Some(&args.input))?;
    let mut writer = MessageWriter::new(
        output,
        256 * 1024,
        args.to.for_writing(),
        &options.compression,
        &options.encryption,
        options.max_frame_len,
        &args.output,
    )?;
    let reading = Options {
        checksum: from,
        max_frame_len: options.max_frame_len,
        quiet: options.quiet,
        compression: CompressionArgs {
            compress: args.from_compress,
            dict: args.from_dict.clone(),
            ..CompressionArgs::none()
        },
        encryption: EncryptionArgs {
            key_file: args
                .from_key_file
                .clone()
                .filter(|path| path.as_os_str() != "none"),
            cipher: args.from_cipher,
            allow_unfinished: options.encryption.allow_unfinished,
            accept_gaps: options.encryption.accept_gaps,
        },
    };
    let scan = scan(&args.input, &reading, Box::new(NoValidator), |payload| {
        writer
            .write_payload(payload)
            .map_err(|error| Failure::from_write_error(&args.output, &error))
    })?;
    if scan.error.is_some() {
        // A converted stream that silently lacks the input's tail is worse than none.
        return scan.into_result(&args.input).map_err(|failure| {
            failure.context(format!(
                "{} not written (salvage copies the intact frames)",
                args.output.display()
            ))
        });
    }
    writer
        .finish()
        .map_err(|error| Failure::from_write_error(&args.output, &error))?
        .into_inner()
        .map_err(|error| Failure::usage(&args.output, error.error()))?
        .commit()?;
    print(|out| {
        writeln!(
            out,
            "{}: {} frames from {} to {} in {}",
            args.input.display(),
            scan.frames,
            scan.checksum.name(),
            args.to.for_writing().name(),
            args.output.display()
        )
    })
}

pub(crate) fn generate(options: &Options, command: &GenCommand) -> Result<(), Failure> {
    let GenCommand::Telemetry(args) = command;
    let output = AtomicFile::create(&args.output, None)?;
    let mut writer = MessageWriter::new(
        output,
        1024 * 1024,
        options.checksum.for_writing(),
        &options.compression,
        &options.encryption,
        options.max_frame_len,
        &args.output,
    )?;
    // About 75 bytes an event: a bar from roughly 900 000 events.
    let progress = bar(args.count.saturating_mul(75), options.quiet);
    for id in 0..args.count {
        writer
            .write(&TelemetryEvent::nth(id))
            .map_err(|error| Failure::from_write_error(&args.output, &error))?;
        if id % 65_536 == 0 {
            progress.set_position(writer.position());
        }
    }
    progress.finish_and_clear();
    let bytes_before_end = writer.position();
    writer
        .finish()
        .map_err(|error| Failure::from_write_error(&args.output, &error))?
        .into_inner()
        .map_err(|error| Failure::usage(&args.output, error.error()))?
        .commit()?;
    // With the open chunk and an encrypted stream's final frame, which come at the end.
    let bytes = std::fs::metadata(&args.output)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map_or(bytes_before_end, |metadata| metadata.len());
    print(|out| {
        writeln!(
            out,
            "wrote {} telemetry events, {bytes} bytes, checksum {}, to {}",
            args.count,
            options.checksum.for_writing().name(),
            args.output.display()
        )
    })
}

/// How many bytes of samples `dict train` keeps: zstd's trainer works on them in memory,
/// and more than this does not make a better dictionary.
const MAX_SAMPLE_BYTES: usize = 64 << 20;

pub(crate) fn dict(options: &Options, command: &DictCommand) -> Result<(), Failure> {
    let DictCommand::Train(args) = command;
    let mut samples: Vec<Vec<u8>> = Vec::new();
    let mut sample_bytes = 0usize;
    let scan = scan(&args.input, options, Box::new(NoValidator), |payload| {
        if sample_bytes < MAX_SAMPLE_BYTES {
            sample_bytes += payload.len();
            samples.push(payload.to_vec());
        }
        Ok(())
    })?;
    scan.into_result(&args.input)?;
    let dictionary =
        Zstd::train(&samples, args.size).map_err(|error| Failure::usage(&args.input, error))?;
    let mut output = AtomicFile::create(&args.output, Some(&args.input))?;
    output
        .write_all(&dictionary)
        .map_err(|error| Failure::usage(&args.output, error))?;
    output.commit()?;
    print(|out| {
        writeln!(
            out,
            "trained a {} byte zstd dictionary on {} payloads of {}, to {}",
            dictionary.len(),
            samples.len(),
            args.input.display(),
            args.output.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lines_decode_in_either_case() {
        let mut out = Vec::new();
        decode_hex(b"00fFa1", &mut out).unwrap();
        assert_eq!(out, [0, 255, 0xa1]);
        decode_hex(b"", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(
            decode_hex(b"abc", &mut out).unwrap_err(),
            "odd number of hex digits (3)"
        );
        assert_eq!(
            decode_hex(b"00zz", &mut out).unwrap_err(),
            "invalid hex digit 'z' at column 3"
        );
    }

    #[test]
    fn size_summary_uses_nearest_rank() {
        let sizes: BTreeMap<usize, u64> = [(10, 98), (20, 1), (1000, 1)].into_iter().collect();
        let summary = SizeSummary::of(&sizes).unwrap();
        assert_eq!(
            (summary.min, summary.p50, summary.p99, summary.max),
            (10, 10, 20, 1000)
        );
        assert!((summary.mean - 20.0).abs() < 1e-9);
        assert!(SizeSummary::of(&BTreeMap::new()).is_none());
    }
}
