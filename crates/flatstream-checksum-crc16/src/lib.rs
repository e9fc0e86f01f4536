#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use crc::{CRC_16_XMODEM, Crc, Table};

pub use flatstream_core::Checksum;

// Slice-by-16 tables, built at compile time: 16 bytes per step instead of one.
static ALGORITHM: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_XMODEM);

/// CRC-16/XMODEM: poly 0x1021, init 0, not reflected, xorout 0: the CRC of XMODEM and many serial protocols.
///
/// Stored as 2 bytes, little-endian. Check value over ASCII `"123456789"`: `0x31C3`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Crc16;

impl Crc16 {
    /// Creates the checksum; it holds no state.
    pub fn new() -> Self {
        Crc16
    }
}

impl Checksum for Crc16 {
    #[inline]
    fn size(&self) -> usize {
        2
    }

    #[inline]
    fn calculate(&self, payload: &[u8]) -> u64 {
        u64::from(ALGORITHM.checksum(payload))
    }

    fn name(&self) -> &'static str {
        "crc16"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_over_123456789() {
        assert_eq!(Crc16::new().calculate(b"123456789"), 0x31C3);
    }

    #[test]
    fn value_fits_the_field_width() {
        let checksum = Crc16::new();
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
