//! Reading a whole stream: the loop shared by `stats`, `verify`, `cat` and `convert`.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use flatstream::{ChecksumDeframer, DeframerExt, Error, ErrorKind, StreamReader, Validator};

use crate::args::Options;
use crate::failure::Failure;
use crate::progress::{ProgressRead, bar};

/// What reading a stream found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Intact frames before the first bad one (or all of them).
    pub(crate) frames: u64,
    /// Bytes read from the file: all of it when the stream is clean, at least up to the
    /// first bad frame otherwise (reading goes ahead in 256 KiB blocks). Never less than
    /// `last_good_offset`, even when the file grew after it was opened.
    pub(crate) bytes_read: u64,
    /// One past the last intact frame.
    pub(crate) last_good_offset: u64,
    /// The first bad frame, if any.
    pub(crate) error: Option<Error>,
}

impl Scan {
    /// The outcome's name in `--json` output.
    pub(crate) fn end(&self) -> &'static str {
        match self.error.as_ref().map(Error::kind) {
            None => "clean",
            Some(ErrorKind::UnexpectedEof { .. }) => "torn_tail",
            Some(ErrorKind::ChecksumMismatch { .. }) => "checksum_mismatch",
            Some(ErrorKind::FrameTooLarge { .. }) => "frame_too_large",
            Some(ErrorKind::ValidationFailed { .. }) => "validation_failed",
            Some(_) => "invalid",
        }
    }

    /// Exit status 1, without a further message, when the bad frame's error was printed in
    /// the report (`--json`).
    pub(crate) fn reported(&self) -> Result<(), Failure> {
        match self.error {
            Some(_) => Err(Failure::already_reported()),
            None => Ok(()),
        }
    }

    /// Exit status 1 with the error's message when the stream was bad; 2 for I/O errors.
    pub(crate) fn into_result(self, file: &Path) -> Result<(), Failure> {
        match &self.error {
            None => Ok(()),
            Some(error) => Err(Failure::from_error(file, error)),
        }
    }
}

/// Reads every frame of `path` up to the first bad one, handing each payload to
/// `on_payload`.
pub(crate) fn scan(
    path: &Path,
    options: &Options,
    validator: Box<dyn Validator>,
    mut on_payload: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<Scan, Failure> {
    let file = File::open(path).map_err(|error| Failure::usage(path, error))?;
    // The length at open sizes the bar only: the file may grow while it is read.
    let file_len = file
        .metadata()
        .map_err(|error| Failure::usage(path, error))?
        .len();
    let progress = ProgressRead::new(file, bar(file_len, options.quiet));
    let deframer = ChecksumDeframer::new(options.checksum.checksum())
        .with_max_frame_len(options.max_frame_len)
        .with_validator(validator);
    let mut reader = StreamReader::new(BufReader::with_capacity(256 * 1024, progress), deframer);
    let error = loop {
        match reader.read_message() {
            Ok(Some(payload)) => on_payload(payload)?,
            Ok(None) => break None,
            Err(error) => break Some(error),
        }
    };
    if let Some(error) = &error
        && let ErrorKind::Io(_) = error.kind()
    {
        return Err(Failure::from_error(path, error));
    }
    let (frames, last_good_offset) = match &error {
        Some(error) => (
            error.frame_index().unwrap_or(0),
            error.offset().unwrap_or(0),
        ),
        None => (reader.frames_read(), reader.position()),
    };
    Ok(Scan {
        frames,
        bytes_read: reader.get_ref().get_ref().bytes_read(),
        last_good_offset,
        error,
    })
}
