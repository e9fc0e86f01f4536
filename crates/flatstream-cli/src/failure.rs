//! How a command fails: bad data (exit 1) or usage and I/O (exit 2), with its message.

use std::fmt::Display;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use flatstream::{Error, ErrorKind};

/// A command's failure.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The data is bad: exit status 1. The message was printed already when empty.
    Data(String),
    /// Usage or I/O: exit status 2.
    Usage(String),
    /// Standard output was closed (`| head`): stop quietly.
    BrokenPipe,
}

impl Failure {
    /// Bad data in `file`; the flatstream error carries frame and offset.
    pub(crate) fn data(file: &Path, error: impl Display) -> Self {
        Failure::Data(format!("{}: {error}", file.display()))
    }

    /// Bad data whose report (JSON or a summary) was already printed: exit status 1, no
    /// further message.
    pub(crate) fn already_reported() -> Self {
        Failure::Data(String::new())
    }

    /// A usage or I/O problem with `file`.
    pub(crate) fn usage(file: &Path, error: impl Display) -> Self {
        Failure::Usage(format!("{}: {error}", file.display()))
    }

    /// Classifies a flatstream error about `file`: I/O is exit 2, the rest is bad data.
    pub(crate) fn from_error(file: &Path, error: &Error) -> Self {
        match error.kind() {
            ErrorKind::Io(io_error) if io_error.kind() == io::ErrorKind::BrokenPipe => {
                Failure::BrokenPipe
            }
            ErrorKind::Io(_) => Failure::usage(file, error),
            _ => Failure::data(file, error),
        }
    }

    /// [`from_error`](Self::from_error) for an error from writing frames: a payload refused
    /// by the limit is said to be measured as written.
    pub(crate) fn from_write_error(file: &Path, error: &Error) -> Self {
        let failure = Self::from_error(file, error);
        match error.kind() {
            ErrorKind::FrameTooLarge { .. } => failure.context(
                "when writing, a payload is held to --max-frame-len as it goes on the wire: \
                 compressed, and 40 bytes longer when encrypted",
            ),
            _ => failure,
        }
    }

    /// A failure writing to standard output or to a file.
    pub(crate) fn output(target: &Path, error: &io::Error) -> Self {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::usage(target, error)
        }
    }

    /// The same failure with `note` after its message (say what became of the output).
    pub(crate) fn context(self, note: impl Display) -> Self {
        match self {
            Failure::Data(message) if !message.is_empty() => {
                Failure::Data(format!("{message}; {note}"))
            }
            Failure::Usage(message) => Failure::Usage(format!("{message}; {note}")),
            other => other,
        }
    }

    pub(crate) fn report(self) -> ExitCode {
        match self {
            Failure::Data(message) => {
                if !message.is_empty() {
                    eprintln!("flatstream: {message}");
                }
                ExitCode::from(1)
            }
            Failure::Usage(message) => {
                eprintln!("flatstream: {message}");
                ExitCode::from(2)
            }
            Failure::BrokenPipe => ExitCode::SUCCESS,
        }
    }
}
