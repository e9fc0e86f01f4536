//! The progress bar: on stderr, for commands that move more than 64 MiB, when stderr is a
//! terminal and `--quiet` was not given.

use std::io::{IsTerminal, Read};

use indicatif::{ProgressBar, ProgressStyle};

/// Work below this many bytes finishes too fast to need a bar.
const THRESHOLD: u64 = 64 * 1024 * 1024;

/// A bar for `total` bytes, or a hidden one.
pub(crate) fn bar(total: u64, quiet: bool) -> ProgressBar {
    if quiet || total <= THRESHOLD || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Counts the bytes read through it, and shows them on a bar.
pub(crate) struct ProgressRead<R> {
    inner: R,
    bar: ProgressBar,
    bytes_read: u64,
}

impl<R> ProgressRead<R> {
    pub(crate) fn new(inner: R, bar: ProgressBar) -> Self {
        ProgressRead {
            inner,
            bar,
            bytes_read: 0,
        }
    }

    /// The bytes read through it so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}

impl<R: Read> Read for ProgressRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes_read += n as u64;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

impl<R> Drop for ProgressRead<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
