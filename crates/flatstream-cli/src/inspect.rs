//! Schema-aware commands: `cat --format json` here; `export` shares the schema options.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use flatstream::NoValidator;
use flatstream::inspect::{JsonWriter, Schema, Verifier};

use crate::args::{CatArgs, Options};
use crate::failure::Failure;
use crate::output::STDOUT;
use crate::scan::scan;

/// Options naming the schema payloads are read with.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// The payloads' schema: a binary schema file (`flatc -b --schema x.fbs` makes x.bfbs),
    /// or `telemetry` for the schema of `gen telemetry`.
    #[arg(long, value_name = "SCHEMA")]
    pub(crate) schema: Option<String>,
    /// The payloads' root table, when not the schema's `root_type` (a name with or without
    /// its namespace).
    #[arg(long, value_name = "NAME", requires = "schema")]
    pub(crate) root_type: Option<String>,
    /// Go on past payloads that fail verification, counting them (by default the first
    /// stops the command, naming its frame and offset).
    #[arg(long, requires = "schema")]
    pub(crate) skip_invalid: bool,
}

impl SchemaArgs {
    /// The schema named, loaded for the life of the process (validators are `'static`).
    pub(crate) fn load(&self, command: &str) -> Result<&'static Schema, Failure> {
        let Some(name) = &self.schema else {
            return Err(Failure::Usage(format!(
                "{command} needs --schema (a .bfbs file, or `telemetry`)"
            )));
        };
        let (bfbs, path) = if name == "telemetry" {
            (
                flatstream_telemetry_schema::BFBS.to_vec(),
                PathBuf::from("<telemetry schema>"),
            )
        } else {
            let path = PathBuf::from(name);
            let bfbs = std::fs::read(&path).map_err(|error| Failure::usage(&path, error))?;
            (bfbs, path)
        };
        let schema = match &self.root_type {
            None => Schema::from_bfbs(bfbs),
            Some(root_type) => Schema::with_root_type(bfbs, root_type),
        }
        .map_err(|error| Failure::usage(&path, error))?;
        // One schema per run: leaked, so that its verifier can be a `Box<dyn Validator>`.
        Ok(Box::leak(Box::new(schema)))
    }
}

/// Flushes `pending` to standard output once it holds this much.
const OUTPUT_BLOCK: usize = 256 * 1024;

/// `cat --format json`: one JSON object per payload.
pub(crate) fn cat_json(options: &Options, args: &CatArgs) -> Result<(), Failure> {
    let schema = args.schema.load("--format json")?;
    let writer = JsonWriter::new(schema.layout());
    let stdout = io::stdout();
    let mut stdout = stdout.lock();
    let mut pending = Vec::with_capacity(OUTPUT_BLOCK + 64 * 1024);
    let mut messages = 0u64;
    let mut skipped = 0u64;
    let file = &args.file;
    let mut print = |payload: &[u8], index: u64, pending: &mut Vec<u8>| -> Result<(), Failure> {
        writer
            .write(payload, pending)
            .map_err(|error| Failure::data(file, format!("message {index}: {error}")))?;
        pending.push(b'\n');
        if pending.len() >= OUTPUT_BLOCK {
            stdout
                .write_all(pending)
                .map_err(|error| Failure::output(Path::new(STDOUT), &error))?;
            pending.clear();
        }
        Ok(())
    };
    let scan = if args.schema.skip_invalid {
        let verifier = Verifier::new(schema);
        scan(file, options, Box::new(NoValidator), |payload| {
            let printed = match verifier.verify(payload) {
                Ok(()) => print(payload, messages, &mut pending),
                Err(error) => {
                    skipped += 1;
                    eprintln!(
                        "flatstream: {}: message {messages} skipped: {error}",
                        file.display()
                    );
                    Ok(())
                }
            };
            messages += 1;
            printed
        })
    } else {
        scan(file, options, Box::new(Verifier::new(schema)), |payload| {
            let printed = print(payload, messages, &mut pending);
            messages += 1;
            printed
        })
    };
    // Every good payload is printed before an error is reported.
    stdout
        .write_all(&pending)
        .and_then(|()| stdout.flush())
        .map_err(|error| Failure::output(Path::new(STDOUT), &error))?;
    let scan = scan?;
    if args.schema.skip_invalid {
        eprintln!(
            "flatstream: {}: {} messages printed, {skipped} invalid skipped",
            file.display(),
            messages - skipped
        );
    }
    scan.into_result(file)
}
