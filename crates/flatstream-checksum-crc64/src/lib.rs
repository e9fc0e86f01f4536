#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use crc::{CRC_64_XZ, Crc, Table};

pub use flatstream_core::Checksum;

// Slice-by-16 tables, built at compile time: 16 bytes per step instead of one.
static ALGORITHM: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);

/// CRC-64/XZ: poly 0x42F0E1EBA9EA3693, reflected, init and xorout all ones: the CRC of the xz format.
///
/// Stored as 8 bytes, little-endian. Check value over ASCII `"123456789"`: `0x995DC9BBDF1939FA`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Crc64;

impl Crc64 {
    /// Creates the checksum; it holds no state.
    pub fn new() -> Self {
        Crc64
    }
}

impl Checksum for Crc64 {
    #[inline]
    fn size(&self) -> usize {
        8
    }

    #[inline]
    fn calculate(&self, payload: &[u8]) -> u64 {
        ALGORITHM.checksum(payload)
    }

    fn name(&self) -> &'static str {
        "crc64"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_over_123456789() {
        assert_eq!(Crc64::new().calculate(b"123456789"), 0x995DC9BBDF1939FA);
    }

    #[test]
    fn value_fits_the_field_width() {
        let checksum = Crc64::new();
        let bits = 8 * checksum.size();
        for len in [0, 1, 5, 100] {
            let value = checksum.calculate(&vec![0xa5; len]);
            assert!(
                bits == 64 || value >> bits == 0,
                "{value:#x} wider than {bits} bits"
            );
        }
    }
}
