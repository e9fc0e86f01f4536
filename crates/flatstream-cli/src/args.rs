//! Command-line arguments.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use flatstream::ChecksumKind;

use crate::compression::{CompressName, CompressionArgs};
use crate::encryption::{CipherName, EncryptionArgs};

/// Look at, check, convert and mend streams of framed FlatBuffers messages.
///
/// A stream is frames back to back: [u32 LE length][checksum][payload]. Exit status: 0
/// success, 1 the data is bad (corrupt, torn, over the limit, invalid), 2 usage or I/O
/// errors.
#[derive(Debug, Parser)]
#[command(
    name = "flatstream",
    version,
    after_help = "Example:\n  flatstream gen telemetry events.fs --count 1000000\n  flatstream verify events.fs\n  flatstream stats events.fs --json"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) options: Options,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Options {
    /// The checksum the stream's frames carry. Reading commands detect it by default from the
    /// first frames (`auto`); writing commands (`gen`, `pack`) write crc32c unless told.
    #[arg(short, long, global = true, value_parser = checksum_names(), default_value = "auto")]
    pub(crate) checksum: ChecksumName,
    /// The largest payload accepted, in bytes, as it lies on the wire: a frame that declares
    /// more is bad data, a `pack` line of more than twice as many hex digits is refused, and
    /// writing commands refuse a message whose compressed or encrypted payload would be
    /// longer.
    #[arg(long, global = true, default_value_t = flatstream::DEFAULT_MAX_FRAME_LEN, value_name = "BYTES")]
    pub(crate) max_frame_len: usize,
    /// No progress bar.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) compression: CompressionArgs,
    #[command(flatten)]
    pub(crate) encryption: EncryptionArgs,
}

/// A checksum algorithm named on the command line: `auto`, or one of the names of
/// [`ChecksumKind`], the facade's one table of checksums by name (none, crc16, crc32,
/// crc32c, crc64, xxh3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChecksumName(Option<ChecksumKind>);

impl ChecksumName {
    /// The algorithm named, or `None` for `auto`.
    pub(crate) fn given(self) -> Option<ChecksumKind> {
        self.0
    }

    /// The algorithm to write with: crc32c for `auto`.
    pub(crate) fn for_writing(self) -> ChecksumKind {
        self.given().unwrap_or(ChecksumKind::Crc32c)
    }
}

/// The parser of a checksum name: `auto` or a [`ChecksumKind`] name, which clap lists in
/// `--help` and in the error for any other word.
fn checksum_names() -> impl TypedValueParser<Value = ChecksumName> {
    let names =
        std::iter::once("auto").chain(ChecksumKind::all().iter().copied().map(ChecksumKind::name));
    clap::builder::PossibleValuesParser::new(names).map(|name| ChecksumName(name.parse().ok()))
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Count frames and bytes, and summarise payload sizes.
    #[command(
        after_help = "Example:\n  flatstream stats capture.fs\n  flatstream stats capture.fs --json -c xxh3"
    )]
    Stats(StatsArgs),
    /// Read every frame and say whether the stream is intact.
    #[command(
        after_help = "Example:\n  flatstream verify capture.fs\n  flatstream verify capture.fs --json --validate structural"
    )]
    Verify(VerifyArgs),
    /// Print each frame's payload: one hex line (or length) per frame, or raw bytes.
    #[command(
        after_help = "Example:\n  flatstream cat capture.fs | head\n  flatstream cat capture.fs --format len\n  flatstream cat events.fs --schema telemetry --format json | head"
    )]
    Cat(CatArgs),
    /// Make a stream from hex lines, one payload per line (the reverse of `cat`).
    ///
    /// A line over --max-frame-len is refused after reading no more of it than the limit.
    /// With -o, a bad line leaves no output file; to standard output, the lines before it
    /// have been written.
    #[command(
        after_help = "Example:\n  flatstream cat in.fs | flatstream pack -o copy.fs\n  printf '616263\\n\\n' | flatstream pack -c none > two-frames.fs"
    )]
    Pack(PackArgs),
    /// Find where the intact frames end; with --truncate, cut a torn tail off.
    #[command(
        after_help = "Example:\n  flatstream recover capture.fs\n  flatstream recover capture.fs --truncate"
    )]
    Recover(RecoverArgs),
    /// Copy every intact frame to a new file, stepping over damaged bytes.
    #[command(after_help = "Example:\n  flatstream salvage damaged.fs rescued.fs")]
    Salvage(SalvageArgs),
    /// Re-frame a stream with another checksum, verifying the source as it goes.
    #[command(after_help = "Example:\n  flatstream convert old.fs new.fs --from crc32 --to xxh3")]
    Convert(ConvertArgs),
    /// Write the payloads as Parquet or Arrow IPC, read with a binary schema.
    #[command(
        after_help = "Example:\n  flatstream export events.fs --schema telemetry --to parquet -o events.parquet"
    )]
    Export(crate::export::ExportArgs),
    /// Write sample data.
    #[command(subcommand)]
    Gen(GenCommand),
    /// zstd dictionaries for --compress zstd --dict.
    #[command(subcommand)]
    Dict(DictCommand),
    /// Make a key for --key-file: 32 random bytes from the operating system, in a new file
    /// of mode 0600.
    #[command(
        after_help = "Example:\n  flatstream keygen -o capture.key\n  flatstream gen telemetry events.fs --key-file capture.key\n  flatstream cat events.fs --key-file capture.key"
    )]
    Keygen(KeygenArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the key (a new file: an existing one is never overwritten).
    #[arg(short, long)]
    pub(crate) output: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DictCommand {
    /// Train a zstd dictionary on a stream's payloads (decompressed as --compress says).
    #[command(
        after_help = "Example:\n  flatstream dict train events.fs -o events.dict\n  flatstream gen telemetry small.fs --compress zstd --dict events.dict"
    )]
    Train(DictTrainArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DictTrainArgs {
    /// The stream whose payloads are the samples.
    pub(crate) input: PathBuf,
    /// Where to write the dictionary.
    #[arg(short, long)]
    pub(crate) output: PathBuf,
    /// The dictionary's largest size in bytes (16 KiB suits small messages).
    #[arg(long, default_value_t = 16 * 1024, value_name = "BYTES")]
    pub(crate) size: usize,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// The stream to read.
    pub(crate) file: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A validator for `verify --validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ValidateName {
    /// Every payload is a well-formed FlatBuffer with a table root.
    Structural,
    /// Every payload is a telemetry `Event` (the schema of `gen telemetry`).
    Telemetry,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The stream to read.
    pub(crate) file: PathBuf,
    /// Print one JSON object: `frames`, `bytes`, `end`, `last_good_offset`, `error`.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also check every payload.
    #[arg(long, value_enum)]
    pub(crate) validate: Option<ValidateName>,
    /// Keep reading as another process appends to the file, until SIGINT or SIGTERM; then
    /// print the summary and exit 0. A file truncated or replaced underneath is exit 2.
    #[arg(long)]
    pub(crate) follow: bool,
}

/// How `cat` prints a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CatFormat {
    /// Lowercase hex, one line per frame (an empty payload is an empty line).
    Hex,
    /// The payload's length in bytes, one line per frame.
    Len,
    /// The payloads' bytes, back to back.
    Raw,
    /// One JSON object per payload (JSON Lines), fields by name: needs --schema.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct CatArgs {
    /// The stream to read.
    pub(crate) file: PathBuf,
    /// How to print each payload.
    #[arg(long, value_enum, default_value_t = CatFormat::Hex)]
    pub(crate) format: CatFormat,
    /// Keep printing frames as another process appends them, until SIGINT or SIGTERM; then
    /// print a summary to standard error and exit 0. A file truncated or replaced
    /// underneath is exit 2.
    #[arg(long)]
    pub(crate) follow: bool,
    #[command(flatten)]
    pub(crate) schema: crate::inspect::SchemaArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PackArgs {
    /// Hex lines to read (standard input when absent).
    pub(crate) input: Option<PathBuf>,
    /// The stream to write (standard output when absent).
    #[arg(short, long)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RecoverArgs {
    /// The stream to examine.
    pub(crate) file: PathBuf,
    /// Cut a torn or zero-filled tail off the file (and sync it), when the data proves the
    /// tail holds no intact frame. Nothing else is ever changed.
    #[arg(long)]
    pub(crate) truncate: bool,
    /// With --truncate: cut the tail even when the data cannot prove it holds no intact
    /// frame (no checksum, no frame before it verifies, too costly to search). Never when an
    /// intact frame follows: that is damage for `salvage`.
    #[arg(long, requires = "truncate")]
    pub(crate) force: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SalvageArgs {
    /// The damaged stream: a regular file, which salvage maps into memory, so it must not
    /// change (be truncated or written) while salvage runs.
    pub(crate) input: PathBuf,
    /// Where to write the intact frames (a new file; the input is never changed).
    pub(crate) output: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    /// The stream to read.
    pub(crate) input: PathBuf,
    /// The stream to write.
    pub(crate) output: PathBuf,
    /// The input's checksum (detected by default; `-c` names it too).
    #[arg(long, value_parser = checksum_names(), default_value = "auto")]
    pub(crate) from: ChecksumName,
    /// The output's checksum.
    #[arg(long, value_parser = checksum_names())]
    pub(crate) to: ChecksumName,
    /// How the input is compressed (--compress and its options say how the output is).
    #[arg(long, value_enum, default_value_t = CompressName::None)]
    pub(crate) from_compress: CompressName,
    /// The input's zstd dictionary.
    #[arg(long, value_name = "FILE")]
    pub(crate) from_dict: Option<PathBuf>,
    /// The input's key file, when it is encrypted (--key-file and --cipher say how the
    /// output is); `none` says the input is plain. `FLATSTREAM_KEY_FILE` names it too, as it
    /// does --key-file: with the variable set, both sides use the key (a plain input is then
    /// bad data, not silently encrypted twice) unless `--from-key-file none` is given.
    #[arg(long, env = "FLATSTREAM_KEY_FILE", value_name = "FILE")]
    pub(crate) from_key_file: Option<PathBuf>,
    /// The input's cipher, with --from-key-file.
    #[arg(long, value_enum, default_value_t = CipherName::Xchacha20poly1305)]
    pub(crate) from_cipher: CipherName,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GenCommand {
    /// Telemetry events (name, id, timestamp, value), the schema of the examples.
    #[command(
        after_help = "Example:\n  flatstream gen telemetry events.fs --count 1000000 -c xxh3"
    )]
    Telemetry(GenTelemetryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GenTelemetryArgs {
    /// The stream to write.
    pub(crate) output: PathBuf,
    /// How many events.
    #[arg(long, default_value_t = 1000)]
    pub(crate) count: u64,
}
