//! Shared by the fuzz targets: the first input byte picks the deframer.

use flatstream::{Checksum, ChecksumKind};

/// The selector modulo the number of algorithms picks the checksum, in `ChecksumKind::all()`'s
/// order (none, crc16, crc32, crc32c, crc64, xxh3: `cargo xtask fuzz` writes seeds for it);
/// bit 3 a small limit (64 bytes) instead of the default 64 MiB.
pub fn deframer_from(selector: u8) -> (Box<dyn Checksum>, usize) {
    let kinds = ChecksumKind::all();
    let checksum: Box<dyn Checksum> = kinds[usize::from(selector) % kinds.len()].checksum();
    let limit = if selector & 0x08 != 0 { 64 } else { flatstream::DEFAULT_MAX_FRAME_LEN };
    (checksum, limit)
}
