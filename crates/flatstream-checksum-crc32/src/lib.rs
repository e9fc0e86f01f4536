#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use crc::{CRC_32_ISO_HDLC, Crc, Table};

pub use flatstream_core::Checksum;

// Slice-by-16 tables, built at compile time: 16 bytes per step instead of one.
static TABLE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// Inputs shorter than this go through the table; longer ones through `crc32fast` (PCLMULQDQ, runtime-detected).
///
/// Measured with the `checksum_impl` benchmark group; the figures are in `docs/benchmarks.md`
/// ("Cut-overs").
const CUTOVER: usize = 32;

/// The table path, whatever the length. The tests compare it with the other path.
#[inline]
fn table_checksum(payload: &[u8]) -> u64 {
    u64::from(TABLE.checksum(payload))
}

/// The carry-less-multiply path, whatever the length. The tests compare it with the other path.
#[inline]
fn fast_checksum(payload: &[u8]) -> u64 {
    u64::from(crc32fast::hash(payload))
}

/// CRC-32/ISO-HDLC: poly 0x04C11DB7, reflected, init and xorout 0xFFFFFFFF: the CRC of zlib, gzip, PNG and Ethernet.
///
/// Stored as 4 bytes, little-endian. Check value over ASCII `"123456789"`: `0xCBF43926`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Crc32;

impl Crc32 {
    /// Creates the checksum; it holds no state.
    pub fn new() -> Self {
        Crc32
    }
}

impl Checksum for Crc32 {
    #[inline]
    fn size(&self) -> usize {
        4
    }

    #[inline]
    fn calculate(&self, payload: &[u8]) -> u64 {
        if payload.len() < CUTOVER {
            table_checksum(payload)
        } else {
            fast_checksum(payload)
        }
    }

    fn name(&self) -> &'static str {
        "crc32"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_over_123456789() {
        assert_eq!(Crc32::new().calculate(b"123456789"), 0xCBF43926);
    }

    #[test]
    fn both_paths_agree_at_every_size_and_alignment() {
        flatstream_test_support::check_paths_agree(table_checksum, fast_checksum);
    }
}
