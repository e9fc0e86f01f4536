//! Where a command's output goes: standard output, written without panicking.

use std::io::{self, Write};
use std::path::Path;

use crate::failure::Failure;

/// Names standard output in messages.
pub(crate) const STDOUT: &str = "<stdout>";

/// Writes to locked standard output with `write`, then flushes.
///
/// # Errors
///
/// A write or flush error names `<stdout>` (exit status 2); a closed pipe is
/// [`Failure::BrokenPipe`] (quiet).
pub(crate) fn print(
    write: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(|error| Failure::output(Path::new(STDOUT), &error))
}

/// The exit of a command that printed its report (`printed`) after deciding about the data
/// (`verdict`). A closed pipe does not hide bad data: the verdict stands, quietly; any other
/// error on standard output is exit status 2.
pub(crate) fn after_printing(
    printed: Result<(), Failure>,
    verdict: Result<(), Failure>,
) -> Result<(), Failure> {
    match printed {
        Ok(()) | Err(Failure::BrokenPipe) => verdict,
        Err(failure) => Err(failure),
    }
}
