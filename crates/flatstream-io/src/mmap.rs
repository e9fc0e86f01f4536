//! [`MmapReader`]: a file read in place through a read-only memory map (feature `mmap`).
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use flatstream_core::{Deframer, Result};
use memmap2::Mmap;

use crate::SliceReader;

/// A file mapped read-only into memory, read frame by frame with a [`SliceReader`]: no
/// read calls, no copies, payloads borrowed straight from the page cache.
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
/// let map = MmapReader::open(&path, DefaultDeframer::new())?;
/// let payloads: Vec<&[u8]> = map.reader().collect::<Result<_, _>>()?;
/// assert_eq!(payloads, [&b"mapped"[..]]);
/// # drop(map);
/// # std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
///
/// **The file must not change while it is mapped.** Another process truncating it makes
/// reading the lost pages crash this one (`SIGBUS` on Unix), and one rewriting it changes
/// bytes under payloads already handed out. That is the contract of every memory-mapped
/// reader; for files that are still being written (a live capture), use
/// [`StreamReader::from_path`](crate::StreamReader::from_path), which reads through a
/// buffer and sees a torn tail as a torn tail.
#[derive(Debug)]
pub struct MmapReader<D> {
    map: Mmap,
    deframer: D,
}

impl<D: Deframer> MmapReader<D> {
    /// Maps the file at `path` read-only.
    ///
    /// # Errors
    ///
    /// The error of opening or mapping the file.
    pub fn open(path: impl AsRef<Path>, deframer: D) -> Result<Self> {
        let file = File::open(path)?;
        // SAFETY: the map is read-only and private to this value, and nothing in this
        // crate writes through it. Soundness then rests on the file not being truncated or
        // modified while mapped, which `MmapReader`'s documentation makes the caller's
        // contract, as every memory-mapped reader must. Empty files map to an empty slice
        // (memmap2 handles the zero-length case).
        let map = unsafe { Mmap::map(&file)? };
        #[cfg(unix)]
        {
            // A hint for read-ahead; failing to give it costs nothing but speed.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        Ok(MmapReader { map, deframer })
    }

    /// The mapped bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.map
    }
}

impl<D: Deframer + Clone> MmapReader<D> {
    /// A reader of the mapped frames; each payload borrows the map.
    pub fn reader(&self) -> SliceReader<'_, D> {
        SliceReader::new(&self.map, self.deframer.clone())
    }
}
