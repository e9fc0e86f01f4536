//! [`MmapReader`] and [`MappedBytes`]: a file read in place through a read-only memory map,
//! or read into memory (feature `mmap`).
//!
//! The one `unsafe` call of this crate lives here. Mapping a file is sound only while no one
//! truncates or rewrites it, which this code cannot check, so the constructors that map are
//! themselves `unsafe fn`s with that contract in their `# Safety` section, as in memmap2 and
//! ripgrep; [`MmapReader::read`] is the safe alternative.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use flatstream_core::{Deframer, Result};
use memmap2::Mmap;

use crate::SliceReader;

/// The bytes of a file mapped read-only into memory, with no deframer attached: for callers
/// that want the bytes themselves (a salvage over the whole file, a checksum detection).
///
/// Made by the `unsafe` [`MappedBytes::map`]; see its `# Safety` section.
#[derive(Debug)]
pub struct MappedBytes {
    map: Mmap,
}

impl MappedBytes {
    /// Maps the file at `path` read-only. An empty file maps to an empty slice.
    ///
    /// # Safety
    ///
    /// The file must not be truncated or modified, by this process or any other, while the
    /// returned value (or anything borrowing its bytes) is alive. Truncating it makes reading
    /// the lost pages crash the process (`SIGBUS` on Unix); rewriting it changes bytes under
    /// slices already handed out, which Rust assumes immutable. Use [`std::fs::read`] or
    /// [`MmapReader::read`] when that cannot be promised (a file still being written).
    ///
    /// # Errors
    ///
    /// The error of opening or mapping the file.
    pub unsafe fn map(path: impl AsRef<Path>) -> Result<Self> {
        let file = File::open(path)?;
        // SAFETY: the map is read-only and private to this value, and nothing in this crate
        // writes through it. That the file is not truncated or modified while mapped is the
        // caller's promise, the `# Safety` contract of this `unsafe fn`. memmap2 handles the
        // zero-length case.
        let map = unsafe { Mmap::map(&file)? };
        #[cfg(unix)]
        {
            // A hint for read-ahead; failing to give it costs nothing but speed.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        Ok(MappedBytes { map })
    }

    /// The mapped bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.map
    }
}

impl AsRef<[u8]> for MappedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

/// Where an [`MmapReader`]'s bytes live.
#[derive(Debug)]
enum Contents {
    Mapped(MappedBytes),
    Read(Vec<u8>),
}

/// A whole file held in memory, read frame by frame with a [`SliceReader`]: payloads borrow
/// the file's bytes. [`MmapReader::map`] maps the file (no read calls, no copies, payloads
/// straight from the page cache; `unsafe`, see its `# Safety`); [`MmapReader::read`] reads it
/// into memory once (safe, for any file). Both give the same [`as_bytes`](Self::as_bytes)
/// and [`reader`](Self::reader).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use flatstream_io::{DefaultDeframer, DefaultFramer, MmapReader, StreamWriter};
///
/// let path = std::env::temp_dir().join(format!("flatstream-mmap-doc-{}", std::process::id()));
/// let mut writer = StreamWriter::new(std::fs::File::create(&path)?, DefaultFramer::new());
/// writer.write_payload(b"mapped")?;
/// drop(writer);
///
/// // SAFETY: this example created the file and nothing else truncates or writes it while
/// // `map` is alive.
/// let map = unsafe { MmapReader::map(&path, DefaultDeframer::new())? };
/// let payloads: Vec<&[u8]> = map.reader().collect::<Result<_, _>>()?;
/// assert_eq!(payloads, [&b"mapped"[..]]);
///
/// // The safe spelling reads the file instead; the same frames come out.
/// let read = MmapReader::read(&path, DefaultDeframer::new())?;
/// assert_eq!(read.as_bytes(), map.as_bytes());
/// # drop(map);
/// # std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
///
/// For files that are still being written (a live capture), use
/// [`StreamReader::from_path`](crate::StreamReader::from_path), which reads through a buffer
/// and sees a torn tail as a torn tail.
#[derive(Debug)]
pub struct MmapReader<D> {
    contents: Contents,
    deframer: D,
}

impl<D: Deframer> MmapReader<D> {
    /// Maps the file at `path` read-only; frames are read with `deframer`.
    ///
    /// # Safety
    ///
    /// The same contract as [`MappedBytes::map`]: the file must not be truncated or modified,
    /// by this process or any other, while the returned reader (or any payload borrowed from
    /// it) is alive.
    ///
    /// # Errors
    ///
    /// The error of opening or mapping the file.
    pub unsafe fn map(path: impl AsRef<Path>, deframer: D) -> Result<Self> {
        // SAFETY: this function's own `# Safety` contract is `MappedBytes::map`'s.
        let bytes = unsafe { MappedBytes::map(path)? };
        Ok(MmapReader {
            contents: Contents::Mapped(bytes),
            deframer,
        })
    }

    /// Reads the whole file at `path` into memory; frames are read with `deframer`. Safe for
    /// any file: later changes to the file do not reach the bytes already read.
    ///
    /// # Errors
    ///
    /// The error of opening or reading the file.
    pub fn read(path: impl AsRef<Path>, deframer: D) -> Result<Self> {
        let bytes = std::fs::read(path)?;
        Ok(MmapReader {
            contents: Contents::Read(bytes),
            deframer,
        })
    }

    /// Whether the bytes are a memory map ([`map`](Self::map)) rather than a copy
    /// ([`read`](Self::read)).
    pub fn is_mapped(&self) -> bool {
        matches!(self.contents, Contents::Mapped(_))
    }

    /// The file's bytes, mapped or read.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.contents {
            Contents::Mapped(bytes) => bytes.as_bytes(),
            Contents::Read(bytes) => bytes,
        }
    }
}

impl<D: Deframer + Clone> MmapReader<D> {
    /// A reader of the file's frames; each payload borrows the file's bytes.
    pub fn reader(&self) -> SliceReader<'_, D> {
        SliceReader::new(self.as_bytes(), self.deframer.clone())
    }
}
