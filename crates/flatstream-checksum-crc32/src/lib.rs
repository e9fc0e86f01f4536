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

/// Inputs shorter than this go through [`short_checksum`] (the table, or `crc32fast` from 8
/// to 15 bytes); longer ones through this crate's carry-less path (20 to 127 bytes on x86-64
/// with PCLMULQDQ, SSSE3 and SSE4.1) or `crc32fast` (PCLMULQDQ, runtime-detected). The table
/// runs fast only near a multiple of 16 bytes (16 to 19 B lead the carry-less path, 20 B is
/// even, 24 B runs 0.62× and 28 B 0.42× of it).
///
/// Measured with the `checksum_impl` benchmark group and through `StreamReader`; the
/// figures are in `docs/benchmarks.md` ("Cut-overs").
const CUTOVER: usize = 20;

/// The table path, whatever the length. The tests compare it with the other paths.
#[inline]
fn table_checksum(payload: &[u8]) -> u64 {
    u64::from(TABLE.checksum(payload))
}

/// Inputs under [`CUTOVER`]: `crc32fast` from 8 to 15 bytes (its table is 1.4 to 2.0× this
/// crate's there, where ours goes a byte a step), the table otherwise (up to 0.70× as fast
/// in `crc32fast`: at 1 to 4 and at 16 to 19 bytes).
///
/// Never inlined: inlined, the table's code sat in every caller's per-frame loop, where 64 B
/// payloads never take it, and `read_message` over 64 B frames ran 0.95× the minimal read
/// loop against 1.03× out of line. Inputs under [`CUTOVER`] pay a call.
#[inline(never)]
fn short_checksum(payload: &[u8]) -> u64 {
    if (8..16).contains(&payload.len()) {
        u64::from(crc32fast::hash(payload))
    } else {
        table_checksum(payload)
    }
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
            short_checksum(payload)
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

    #[test]
    fn the_path_under_the_cut_over_agrees_with_the_table_at_every_size_and_alignment() {
        flatstream_test_support::check_paths_agree(short_checksum, table_checksum);
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
    // The fold constants stop at 127 bytes: the short path refuses other lengths itself
    // rather than trusting its callers (with a masked index, 129 bytes gave a wrong CRC).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_short_path_refuses_lengths_outside_16_to_127_under_miri() {
        let data = [0x5a; 300];
        for len in [0, 1, 15, 128, 129, 200, 300] {
            assert_eq!(clmul::crc32(&data[..len]), None, "{len} bytes");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_short_path_agrees_with_the_table_under_miri() {
        let lengths: Vec<usize> = (clmul::MIN_LEN..clmul::MAX_LEN).collect();
        // On a CPU with the features (every x86-64 CI machine), and under Miri built with
        // them, every input takes the path.
        flatstream_test_support::check_short_path(
            |input| clmul::crc32(input).map(u64::from),
            table_checksum,
            &lengths,
            &[0, 1, 2, 3],
            cfg!(target_feature = "pclmulqdq") || std::arch::is_x86_feature_detected!("pclmulqdq"),
        );
    }

    // Outside attack on the carry-less path (`clmul`): 16 to 19 bytes reach it only here
    // (`calculate` takes its short path below 20), so these call it directly. The integration
    // tests (`tests/clmul_attacks.rs`) attack it through `calculate`.

    /// CRC-32/ISO-HDLC from its definition, one bit at a time.
    fn bitwise_crc32(data: &[u8]) -> u32 {
        flatstream_test_support::bitwise_crc32(0xedb8_8320, data)
    }

    /// Whether this process takes the carry-less path (the CPU, or Miri's flags, have it).
    #[cfg(target_arch = "x86_64")]
    fn short_path_expected() -> bool {
        cfg!(all(target_feature = "pclmulqdq", target_feature = "sse4.1"))
            || (std::arch::is_x86_feature_detected!("pclmulqdq")
                && std::arch::is_x86_feature_detected!("sse4.1"))
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_short_path_at_every_length_it_takes_and_every_offset_to_63() {
        let data = flatstream_test_support::pseudo_random_bytes(64 + 128, 0x6a09_e667_f3bc_c908);
        let mut taken = 0;
        for start in 0..64 {
            for len in clmul::MIN_LEN..clmul::MAX_LEN {
                let input = &data[start..start + len];
                if let Some(crc) = clmul::crc32(input) {
                    assert_eq!(crc, bitwise_crc32(input), "{len} bytes at {start}");
                    taken += 1;
                }
            }
        }
        if short_path_expected() {
            assert_eq!(taken, 64 * (clmul::MAX_LEN - clmul::MIN_LEN));
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_short_path_on_zeros_ones_and_every_single_bit() {
        for len in clmul::MIN_LEN..clmul::MAX_LEN {
            for fill in [0x00, 0xff] {
                let data = vec![fill; len];
                if let Some(crc) = clmul::crc32(&data) {
                    assert_eq!(crc, crc32fast::hash(&data), "{len} bytes of {fill:#x}");
                }
            }
            let mut data = vec![0u8; len];
            for bit in 0..8 * len {
                data[bit / 8] = 1 << (bit % 8);
                if let Some(crc) = clmul::crc32(&data) {
                    assert_eq!(crc, crc32fast::hash(&data), "{len} bytes, bit {bit} set");
                }
                data[bit / 8] = 0;
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_short_path_when_the_initial_value_spills_into_the_second_block() {
        // First blocks of 1 to 3 bytes (17 to 19, 33 to 35, ... 113 to 115 bytes), with
        // 0xFF in the first bytes (cancelling the initial value to zeros) and without.
        let tail = flatstream_test_support::pseudo_random_bytes(128, 0xbb67_ae85_84ca_a73b);
        for len in (clmul::MIN_LEN + 1..clmul::MAX_LEN).filter(|len| (len - 1) % 16 < 3) {
            for pattern in 0u32..16 {
                let mut data = tail[..len].to_vec();
                for (i, byte) in data[..4].iter_mut().enumerate() {
                    if pattern & (1 << i) != 0 {
                        *byte = 0xff;
                    }
                }
                if let Some(crc) = clmul::crc32(&data) {
                    assert_eq!(
                        crc,
                        bitwise_crc32(&data),
                        "{len} bytes, {:02x?}",
                        &data[..4]
                    );
                }
            }
        }
    }

    // Small enough for Miri, with the short path's features (it takes the path) or without
    // them (it falls back to `crc32fast`), and on other targets (`calculate` alone): edge
    // lengths in allocations of exactly their size, so a read past the end is an error.
    #[test]
    fn edge_lengths_in_exact_allocations_under_miri() {
        let lengths = [
            0, 1, 4, 15, 16, 17, 18, 19, 20, 31, 32, 33, 34, 35, 36, 47, 48, 49, 63, 64, 65, 80,
            112, 113, 114, 115, 116, 126, 127, 128, 129,
        ];
        #[cfg(target_arch = "x86_64")]
        let mut taken = 0;
        for len in lengths {
            let data: Box<[u8]> = (0..len)
                .map(|i| (i * 73 + len) as u8 ^ 0xa5)
                .collect::<Vec<_>>()
                .into_boxed_slice();
            let want = bitwise_crc32(&data);
            assert_eq!(
                Crc32::new().calculate(&data),
                u64::from(want),
                "{len} bytes"
            );
            assert_eq!(
                fast_checksum(&data),
                u64::from(want),
                "{len} bytes, fast path"
            );
            #[cfg(target_arch = "x86_64")]
            if (clmul::MIN_LEN..clmul::MAX_LEN).contains(&len)
                && let Some(crc) = clmul::crc32(&data)
            {
                assert_eq!(crc, want, "{len} bytes, carry-less");
                taken += 1;
            }
        }
        #[cfg(target_arch = "x86_64")]
        if short_path_expected() {
            let in_range = lengths
                .iter()
                .filter(|len| (clmul::MIN_LEN..clmul::MAX_LEN).contains(len))
                .count();
            assert_eq!(taken, in_range);
        }
    }
}
