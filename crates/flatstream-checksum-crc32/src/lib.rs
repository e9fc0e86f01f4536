#![doc = include_str!("../README.md")]
// `deny` rather than `forbid`: the `clmul` module (x86-64) calls its carry-less-multiply
// functions after checking the CPU for their features, one `unsafe` call argued there.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use crc::{CRC_32_ISO_HDLC, Crc, Table};

#[cfg(target_arch = "x86_64")]
mod clmul;

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
    #[cfg(target_arch = "x86_64")]
    if let Some(crc) = clmul::crc32(payload) {
        return u64::from(crc);
    }
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

    /// `crc32fast`, whatever the length: the reference for the short carry-less path.
    fn crc32fast_checksum(payload: &[u8]) -> u64 {
        u64::from(crc32fast::hash(payload))
    }

    #[test]
    fn the_short_path_agrees_with_crc32fast_at_every_size_and_alignment() {
        flatstream_test_support::check_paths_agree(fast_checksum, crc32fast_checksum);
    }

    // Small enough for Miri, which runs it with the CPU features the short path needs
    // (`cargo xtask miri`): every length it takes, at four alignments, against the table.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_short_path_agrees_with_the_table_under_miri() {
        let data: Vec<u8> = (0..clmul::MAX_LEN + 3)
            .map(|i| (i * 151 + 7) as u8 ^ (i >> 3) as u8)
            .collect();
        let mut taken = 0;
        for len in clmul::MIN_LEN..clmul::MAX_LEN {
            for start in 0..4 {
                let input = &data[start..start + len];
                if let Some(crc) = clmul::crc32(input) {
                    assert_eq!(
                        u64::from(crc),
                        table_checksum(input),
                        "{len} bytes at {start}"
                    );
                    taken += 1;
                }
            }
        }
        // On a CPU with the features (every x86-64 CI machine), and under Miri built with
        // them, every input took the path.
        if cfg!(target_feature = "pclmulqdq") || std::arch::is_x86_feature_detected!("pclmulqdq") {
            assert_eq!(taken, 4 * (clmul::MAX_LEN - clmul::MIN_LEN));
        }
    }
}
