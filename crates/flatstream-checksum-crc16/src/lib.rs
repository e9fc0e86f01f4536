#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use crc::{CRC_16_XMODEM, Crc, Table};

pub use flatstream_core::Checksum;

// Slice-by-16 tables, built at compile time: 16 bytes per step instead of one.
static TABLE: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_XMODEM);

/// Inputs shorter than this go through the table; longer ones through `crc-fast` (carry-less multiply, runtime-detected).
///
/// Measured with the `checksum_impl` group of `benches/` (one run on a 2-core Xeon with
/// AVX-512): at 64 B the table runs 5.1 GB/s against crc-fast's 2.5; at 128 B they are even (5.2 and 5.5); at 256 B crc-fast is 1.7× faster and at 64 KiB 12× (64 GB/s).
pub const CUTOVER: usize = 128;

/// The table path, whatever the length. Public so tests can compare both paths.
#[doc(hidden)]
#[inline]
pub fn table_checksum(payload: &[u8]) -> u64 {
    u64::from(TABLE.checksum(payload))
}

/// The carry-less-multiply path, whatever the length. Public so tests can compare both paths.
#[doc(hidden)]
#[inline]
pub fn fast_checksum(payload: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc16Xmodem, payload)
}

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
        if payload.len() < CUTOVER {
            table_checksum(payload)
        } else {
            fast_checksum(payload)
        }
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
    fn both_paths_agree_at_every_size_and_alignment() {
        flatstream_core::dev::check_paths_agree(table_checksum, fast_checksum);
    }

    #[test]
    fn values_fit_the_field_width() {
        flatstream_core::dev::check_values_fit_width(&Crc16::new());
    }
}
