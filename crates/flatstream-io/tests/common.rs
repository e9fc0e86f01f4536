//! Helpers shared by the test modules.

use std::io::{self, Read};

use flatstream_checksum_crc16::Crc16;
use flatstream_checksum_crc32::Crc32;
use flatstream_checksum_crc32c::Crc32c;
use flatstream_checksum_crc64::Crc64;
use flatstream_checksum_xxh3::Xxh3;
use flatstream_core::{Checksum, Error, NoChecksum, Result};

/// Every algorithm by its name in the wire vectors' manifest.
pub(crate) fn checksum_by_name(name: &str) -> Box<dyn Checksum> {
    match name {
        "none" => Box::new(NoChecksum),
        "crc16" => Box::new(Crc16::new()),
        "crc32" => Box::new(Crc32::new()),
        "crc32c" => Box::new(Crc32c::new()),
        "crc64" => Box::new(Crc64::new()),
        "xxh3" => Box::new(Xxh3::new()),
        other => panic!("unknown checksum {other}"),
    }
}

pub(crate) const ALGORITHMS: [&str; 6] = ["none", "crc16", "crc32", "crc32c", "crc64", "xxh3"];

/// The repository's `tests/data`.
pub(crate) fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// A `Read` that returns at most `chunk` bytes per call, and `Interrupted` before every
/// other call, as a slow pipe or a signal-heavy process would.
pub(crate) struct ShortReads<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) chunk: usize,
    pub(crate) interrupt_next: bool,
}

impl<'a> ShortReads<'a> {
    pub(crate) fn new(bytes: &'a [u8], chunk: usize) -> Self {
        ShortReads {
            bytes,
            chunk,
            interrupt_next: true,
        }
    }
}

impl Read for ShortReads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt_next = !self.interrupt_next;
        if !self.interrupt_next {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.chunk.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Deterministic, non-repeating payload bytes.
pub(crate) fn payload_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// Every payload a reader delivers before its first error, and that error (`None` after a
/// clean end). `next` is a reader's `read_message`, with the payload copied out.
pub(crate) fn drain(
    mut next: impl FnMut() -> Result<Option<Vec<u8>>>,
) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut payloads = Vec::new();
    loop {
        match next() {
            Ok(Some(payload)) => payloads.push(payload),
            Ok(None) => return (payloads, None),
            Err(error) => return (payloads, Some(error)),
        }
    }
}
