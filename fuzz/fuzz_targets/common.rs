//! Shared by the fuzz targets: the first input byte picks the deframer.

use flatstream::{Checksum, Crc16, Crc32, Crc32c, Crc64, NoChecksum, Xxh3};

/// Bits 0-2 of the selector pick the checksum; bit 3 a small limit (64 bytes) instead of
/// the default 64 MiB.
pub fn deframer_from(selector: u8) -> (Box<dyn Checksum>, usize) {
    let checksum: Box<dyn Checksum> = match selector % 6 {
        0 => Box::new(NoChecksum),
        1 => Box::new(Crc16::new()),
        2 => Box::new(Crc32::new()),
        3 => Box::new(Crc32c::new()),
        4 => Box::new(Crc64::new()),
        _ => Box::new(Xxh3::new()),
    };
    let limit = if selector & 0x08 != 0 { 64 } else { flatstream::DEFAULT_MAX_FRAME_LEN };
    (checksum, limit)
}
