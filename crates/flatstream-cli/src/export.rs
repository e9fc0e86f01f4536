//! `export`: a stream as Parquet or Arrow IPC, through a binary schema.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use flatstream::NoValidator;
use flatstream::arrow::{BatchBuilder, BatchWriter, DEFAULT_BATCH_ROWS, Format};
use flatstream::inspect::Verifier;

use crate::args::Options;
use crate::failure::Failure;
use crate::inspect::SchemaArgs;
use crate::output::AtomicFile;
use crate::scan::scan;

/// A file format for `export --to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// Apache Parquet, zstd-compressed.
    Parquet,
    /// The Arrow IPC file format (Feather v2).
    Arrow,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The stream to read.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) schema: SchemaArgs,
    /// The format to write.
    #[arg(long, value_enum)]
    pub(crate) to: ExportFormat,
    /// The file to write (it appears only when the export succeeds).
    #[arg(short, long)]
    pub(crate) output: PathBuf,
    /// Rows per record batch: memory is one batch of rows, and for Parquet one row group
    /// (up to 1 Mi rows) encoded.
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS, value_name = "ROWS")]
    pub(crate) batch_rows: usize,
}

pub(crate) fn export(options: &Options, args: &ExportArgs) -> Result<(), Failure> {
    let schema = args.schema.load("export")?;
    let schema_name = Path::new(args.schema.schema.as_deref().unwrap_or("<schema>"));
    let mut builder =
        BatchBuilder::new(schema).map_err(|error| Failure::usage(schema_name, error))?;
    let format = match args.to {
        ExportFormat::Parquet => Format::Parquet,
        ExportFormat::Arrow => Format::ArrowIpc,
    };
    let output_name = &args.output;
    let not_written = || format!("{} not written", output_name.display());
    let output = AtomicFile::create(output_name, Some(&args.file))?;
    let write_failure = |error: flatstream::arrow::WriteError| Failure::usage(output_name, error);
    let mut writer = BatchWriter::new(
        BufWriter::with_capacity(1024 * 1024, output),
        builder.schema(),
        format,
    )
    .map_err(write_failure)?;
    let batch_rows = args.batch_rows.max(1);
    let file = &args.file;
    let mut rows = 0u64;
    let mut messages = 0u64;
    let mut skipped = 0u64;
    let skip_invalid = args.schema.skip_invalid;
    let verifier = Verifier::new(schema);
    let validator: Box<dyn flatstream::Validator> = if skip_invalid {
        Box::new(NoValidator)
    } else {
        Box::new(Verifier::new(schema))
    };
    let scan = scan(file, options, validator, |payload| {
        let index = messages;
        messages += 1;
        if skip_invalid && let Err(error) = verifier.verify(payload) {
            skipped += 1;
            eprintln!(
                "flatstream: {}: message {index} skipped: {error}",
                file.display()
            );
            return Ok(());
        }
        builder
            .push(payload)
            .map_err(|error| Failure::data(file, format!("message {index}: {error}")))?;
        rows += 1;
        if builder.len() >= batch_rows {
            let batch = builder
                .finish()
                .map_err(|error| Failure::usage(output_name, error))?;
            writer.write(&batch).map_err(write_failure)?;
        }
        Ok(())
    })
    .map_err(|failure| failure.context(not_written()))?;
    scan.into_result(file)
        .map_err(|failure| failure.context(not_written()))?;
    if !builder.is_empty() {
        let batch = builder
            .finish()
            .map_err(|error| Failure::usage(output_name, error))?;
        writer.write(&batch).map_err(write_failure)?;
    }
    let mut buffered = writer.finish().map_err(write_failure)?;
    buffered
        .flush()
        .map_err(|error| Failure::usage(output_name, error))?;
    buffered
        .into_inner()
        .map_err(|error| Failure::usage(output_name, error.error()))?
        .commit()?;
    let skipped_note = if skip_invalid {
        format!(", {skipped} invalid skipped")
    } else {
        String::new()
    };
    if !options.quiet {
        eprintln!(
            "flatstream: exported {rows} rows of {} to {}{skipped_note}",
            schema.root_name(),
            output_name.display()
        );
    } else if skip_invalid {
        eprintln!("flatstream: {}: {skipped} invalid skipped", file.display());
    }
    Ok(())
}
