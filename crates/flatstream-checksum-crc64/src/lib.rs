#![doc = include_str!("../README.md")]
// `deny` rather than `forbid`: the `clmul` module (x86-64) calls its carry-less-multiply
// function after checking the CPU for its features, one `unsafe` call argued there.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use crc::{CRC_64_XZ, Crc, Table};

pub use flatstream_core::Checksum;

// Slice-by-16 tables, built at compile time: 16 bytes per step instead of one.
static TABLE: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);

#[cfg(target_arch = "x86_64")]
mod clmul;

/// Inputs shorter than this go through the table; longer ones through `crc-fast` (carry-less multiply, runtime-detected).
///
/// Measured with the `checksum_impl` benchmark group; the figures are in `docs/benchmarks.md`
/// ("Cut-overs").
const CUTOVER: usize = 64;

/// The table path, whatever the length. The tests compare it with the other path.
#[inline]
fn table_checksum(payload: &[u8]) -> u64 {
    TABLE.checksum(payload)
}

/// The carry-less-multiply path, whatever the length. The tests compare it with the other path.
#[inline]
fn fast_checksum(payload: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, payload)
}

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
        // 16 to 255 bytes: carry-less multiply, on x86-64 with PCLMULQDQ and SSE4.1.
        #[cfg(target_arch = "x86_64")]
        if let Some(crc) = clmul::crc64(payload) {
            return crc;
        }
        if payload.len() < CUTOVER {
            table_checksum(payload)
        } else {
            fast_checksum(payload)
        }
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
    fn both_paths_agree_at_every_size_and_alignment() {
        flatstream_test_support::check_paths_agree(table_checksum, fast_checksum);
    }

    /// What `Crc64` computes, whatever path it takes.
    fn checksum(payload: &[u8]) -> u64 {
        Crc64::new().calculate(payload)
    }

    #[test]
    fn every_path_agrees_with_the_table_at_every_size_and_alignment() {
        flatstream_test_support::check_paths_agree(checksum, table_checksum);
    }

    // Small enough for Miri, which runs it with the CPU features the short path needs
    // (`cargo xtask miri`): every length it takes, at two alignments, against the table;
    // the test above runs every length at four.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_short_path_agrees_with_the_table_under_miri() {
        let lengths: Vec<usize> = (clmul::MIN_LEN..clmul::MAX_LEN).collect();
        // On a CPU with the features (every x86-64 CI machine), and under Miri built with
        // them, every input takes the path.
        flatstream_test_support::check_short_path(
            clmul::crc64,
            table_checksum,
            &lengths,
            &[0, 3],
            cfg!(target_feature = "pclmulqdq") || std::arch::is_x86_feature_detected!("pclmulqdq"),
        );
    }

    // The fold constants stop at 255 bytes: the short path refuses other lengths itself.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_short_path_refuses_lengths_outside_16_to_255_under_miri() {
        let data = [0x5a; 600];
        for len in [0, 1, 15, 256, 257, 300, 600] {
            assert_eq!(clmul::crc64(&data[..len]), None, "{len} bytes");
        }
    }
}
