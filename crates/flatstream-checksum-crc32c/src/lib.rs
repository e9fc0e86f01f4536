#![doc = include_str!("../README.md")]
// `deny` rather than `forbid`: the `sse42` module (x86-64) calls its `crc32`-instruction
// function after checking the CPU for SSE4.2, one `unsafe` call argued there.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use crc::{CRC_32_ISCSI, Crc, Table};

pub use flatstream_core::Checksum;

// Slice-by-16 tables, built at compile time: 16 bytes per step instead of one.
static TABLE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

#[cfg(target_arch = "x86_64")]
mod sse42;

/// Inputs shorter than this go through the table; longer ones through `crc-fast` (SSE4.2 `crc32` and carry-less multiply, runtime-detected).
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
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, payload)
}

/// CRC-32C (Castagnoli): poly 0x1EDC6F41, reflected, init and xorout 0xFFFFFFFF: the CRC of iSCSI, ext4, SCTP and LevelDB.
///
/// Stored as 4 bytes, little-endian. Check value over ASCII `"123456789"`: `0xE3069283`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Crc32c;

impl Crc32c {
    /// Creates the checksum; it holds no state.
    pub fn new() -> Self {
        Crc32c
    }
}

impl Checksum for Crc32c {
    #[inline]
    fn size(&self) -> usize {
        4
    }

    #[inline]
    fn calculate(&self, payload: &[u8]) -> u64 {
        // Short inputs: the `crc32` instruction, eight bytes a step, on x86-64 with SSE4.2.
        #[cfg(target_arch = "x86_64")]
        if payload.len() < sse42::MAX_LEN
            && let Some(crc) = sse42::crc32c(payload)
        {
            return u64::from(crc);
        }
        if payload.len() < CUTOVER {
            table_checksum(payload)
        } else {
            fast_checksum(payload)
        }
    }

    fn name(&self) -> &'static str {
        "crc32c"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_over_123456789() {
        assert_eq!(Crc32c::new().calculate(b"123456789"), 0xE3069283);
    }

    #[test]
    fn both_paths_agree_at_every_size_and_alignment() {
        flatstream_test_support::check_paths_agree(table_checksum, fast_checksum);
    }

    /// What `Crc32c` computes, whatever path it takes.
    fn checksum(payload: &[u8]) -> u64 {
        Crc32c::new().calculate(payload)
    }

    #[test]
    fn every_path_agrees_with_the_table_at_every_size_and_alignment() {
        flatstream_test_support::check_paths_agree(checksum, table_checksum);
    }

    // Small enough for Miri, which runs it with SSE4.2 enabled (`cargo xtask miri`): every
    // length to 40 (each tail of the 8-byte steps) and a sample of the longer ones the
    // instruction path takes, at four alignments, against the table. (The test above runs
    // every length.)
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_instruction_path_agrees_with_the_table_under_miri() {
        let lengths: Vec<usize> = (0..40)
            .chain((40..sse42::MAX_LEN).step_by(13))
            .chain([sse42::MAX_LEN - 1])
            .collect();
        // On a CPU with SSE4.2 (every x86-64 CI machine), and under Miri built with it,
        // every input takes the path.
        flatstream_test_support::check_short_path(
            |input| sse42::crc32c(input).map(u64::from),
            table_checksum,
            &lengths,
            &[0, 1, 2, 3],
            cfg!(target_feature = "sse4.2") || std::arch::is_x86_feature_detected!("sse4.2"),
        );
    }
}
