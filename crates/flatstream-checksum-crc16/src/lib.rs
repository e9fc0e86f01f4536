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
/// Measured with the `checksum_impl` benchmark group; the figures are in `docs/benchmarks.md`
/// ("Cut-overs").
const CUTOVER: usize = 128;

/// The table path, whatever the length. The tests compare it with the other path.
#[inline]
fn table_checksum(payload: &[u8]) -> u64 {
    u64::from(TABLE.checksum(payload))
}

/// The carry-less-multiply path, whatever the length. The tests compare it with the other path.
#[inline]
fn fast_checksum(payload: &[u8]) -> u64 {
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
        flatstream_test_support::check_paths_agree(table_checksum, fast_checksum);
    }
}
