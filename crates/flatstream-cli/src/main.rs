//! `flatstream`: look at, check, convert and mend streams of framed FlatBuffers messages.
//!
//! Exit status: 0 success, 1 the data is bad (corrupt, torn, over the limit, invalid),
//! 2 usage or I/O errors. Every failure message names the file, and for bad data the frame
//! index and byte offset.

// `deny` rather than `forbid`: `salvage` maps its input (`commands::salvage`, one
// `unsafe` call with its SAFETY comment) and handles SIGBUS while it reads the map
// (`sigbus`). Everything else is safe code.
#![deny(unsafe_code)]

mod args;
mod choose;
mod commands;
mod compression;
mod encryption;
mod export;
mod failure;
mod follow;
mod inspect;
mod maybe;
mod output;
mod progress;
mod scan;
mod sigbus;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Stats(args) => commands::stats(&cli.options, args),
        Command::Verify(args) => commands::verify(&cli.options, args),
        Command::Cat(args) => commands::cat(&cli.options, args),
        Command::Pack(args) => commands::pack(&cli.options, args),
        Command::Recover(args) => commands::recover(&cli.options, args),
        Command::Salvage(args) => commands::salvage(&cli.options, args),
        Command::Convert(args) => commands::convert(&cli.options, args),
        Command::Export(args) => export::export(&cli.options, args),
        Command::Gen(args) => commands::generate(&cli.options, args),
        Command::Dict(args) => commands::dict(&cli.options, args),
        Command::Keygen(args) => encryption::keygen(&args.output).and_then(|()| {
            crate::output::print(|out| {
                use std::io::Write as _;
                writeln!(
                    out,
                    "wrote a {}-byte key to {} (mode 0600)",
                    flatstream::encrypt::KEY_LEN,
                    args.output.display()
                )
            })
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
