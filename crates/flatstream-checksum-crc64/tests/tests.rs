//! Known-answer tests for flatstream-checksum-crc64.

use flatstream_checksum_crc64::Crc64;

flatstream_core::known_answer_test!(crc64_xz, Crc64::new());

// Outside attack on the carry-less-multiply short path (`src/clmul.rs`, 16 to 255 bytes on
// x86-64 with PCLMULQDQ, SSSE3 and SSE4.1) and on `flatstream_checksum_clmul::fold_to_block`
// under it: every result is compared with a CRC-64/XZ written here from its definition
// (reflected poly 0xC96C5795D7870F42, init and xorout all ones), and with the `crc` crate.

use flatstream_checksum_crc64::Checksum;
use flatstream_test_support::{ReflectedCrc, check_linearity, pseudo_random_bytes};

const POLY: u64 = 0xc96c_5795_d787_0f42;

fn reference() -> ReflectedCrc {
    ReflectedCrc::new(POLY, 64)
}

fn crc64(data: &[u8]) -> u64 {
    Crc64::new().calculate(data)
}

#[test]
fn the_reference_is_the_definition() {
    let reference = reference();
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
    assert_eq!(reference.bitwise(b"123456789"), 0x995d_c9bb_df19_39fa);
    for (len, seed) in (0..=600).zip(1u64..) {
        let data = pseudo_random_bytes(len, seed);
        let want = reference.bitwise(&data);
        assert_eq!(reference.crc(&data), want, "{len} bytes");
        assert_eq!(crc.checksum(&data), want, "crc crate, {len} bytes");
    }
}

#[test]
fn every_length_to_600_at_every_offset_to_63_matches_the_definition() {
    reference().check_every_length_and_offset(
        crc64,
        600,
        64,
        &[1, 0x9e37_79b9_7f4a_7c15, 0xdead_beef_cafe_f00d],
    );
}

#[test]
fn all_zeros_and_all_ones_at_every_length_match_the_definition() {
    let reference = reference();
    reference.check_fills(
        crc64,
        &[0x00, 0xff, 0x80, 0x01],
        &[0, 1, 7, 8, 15, 16, 63],
        600,
    );
    // Ones over exactly the initial value's 8 bytes, and a block of them: the register
    // cancels to zero there.
    for len in 16..=300 {
        let mut data = vec![0u8; len];
        for ones in [1, 7, 8, 9, 15, 16, 17, len] {
            data.fill(0);
            data[..ones.min(len)].fill(0xff);
            reference.check(crc64, &data, &format!("{ones} leading 0xff"));
            data.fill(0);
            data[len - ones.min(len)..].fill(0xff);
            reference.check(crc64, &data, &format!("{ones} trailing 0xff"));
        }
    }
}

#[test]
fn exactly_sized_allocations_match_the_definition() {
    reference().check_exact_allocations(crc64, 600, 33);
}

#[test]
fn lengths_around_the_cut_overs_match_the_definition() {
    reference().check_lengths_at_every_offset(
        crc64,
        &[
            0, 1, 7, 8, 9, 14, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 127, 128, 129, 239,
            240, 241, 254, 255, 256, 257, 271, 272, 273, 1024, 2048,
        ],
    );
}

/// Every single-bit flip of every length to 300 (the short path's 16 to 255 and both
/// cut-overs).
#[test]
fn every_single_bit_flip_of_every_short_length_changes_the_crc_as_the_definition_says() {
    reference().check_single_bit_flips(crc64, 300);
}

/// CRC-64/XZ is affine: over inputs of one length, crc(a ^ b ^ c) = crc(a) ^ crc(b) ^ crc(c).
#[test]
fn three_inputs_xored_give_the_xor_of_their_crcs_at_every_length() {
    check_linearity(crc64, 600);
}

/// `fold_to_block` through its public API, for what the CRC crates do not pass: every
/// `init_len` from 0 to 8, constants tables of 1 to 20 blocks, and both a 64-bit and a 32-bit
/// polynomial. The folded block, from a register of zero, must have the raw CRC of the input
/// with its first `init_len` bytes inverted.
#[cfg(target_arch = "x86_64")]
mod fold_to_block_attack {
    use std::arch::x86_64::{__m128i, _mm_extract_epi64};

    use flatstream_checksum_clmul::{fold_to_block, has_features, reflected_fold_constants};
    use flatstream_test_support::pseudo_random_bytes;

    const FOLD64: [[i64; 2]; 20] = reflected_fold_constants(0x42f0_e1eb_a9ea_3693, 64);
    const FOLD32: [[i64; 2]; 20] = reflected_fold_constants(0x1edc_6f41, 32);

    fn bytes(block: __m128i) -> [u8; 16] {
        // SAFETY: SSE4.1 was detected (`has_features`) before any call.
        #[allow(unsafe_code)]
        let (low, high) = unsafe { (extract::<0>(block), extract::<1>(block)) };
        let mut out = [0; 16];
        out[..8].copy_from_slice(&low.to_le_bytes());
        out[8..].copy_from_slice(&high.to_le_bytes());
        out
    }

    #[target_feature(enable = "sse4.1")]
    fn extract<const LANE: i32>(block: __m128i) -> i64 {
        _mm_extract_epi64::<LANE>(block)
    }

    #[target_feature(enable = "pclmulqdq,sse2,ssse3,sse4.1")]
    fn fold(data: &[u8], constants: &[[i64; 2]], init_len: usize) -> __m128i {
        fold_to_block(data, constants, init_len)
    }

    /// The raw reflected register after `data` from zero, a bit at a time.
    fn raw(poly: u64, data: &[u8]) -> u64 {
        flatstream_test_support::bitwise_raw(poly, 0, data)
    }

    #[test]
    fn every_init_len_and_constants_length_folds_to_a_congruent_block() {
        if !has_features() {
            return;
        }
        let cases: [(&[[i64; 2]], u64); 2] = [(&FOLD64, super::POLY), (&FOLD32, 0x82f6_3b78)];
        let data = pseudo_random_bytes(16 * 20 + 3, 0x5eed);
        for (constants, poly) in cases {
            let most = constants.len();
            for blocks in 1..=most {
                let constants = &constants[..blocks];
                // Every length with the whole table; the shorter tables, around their blocks'
                // edges.
                let sampled =
                    |len: &usize| blocks == most || blocks < 4 || !(3..=13).contains(&(len % 16));
                for len in (16..=16 * blocks).filter(sampled) {
                    for init_len in 0..=8 {
                        for start in [0, 3] {
                            let input = &data[start..start + len];
                            // SAFETY: `has_features` said the CPU has them.
                            #[allow(unsafe_code)]
                            let block = bytes(unsafe { fold(input, constants, init_len) });
                            let mut inverted = input.to_vec();
                            for byte in &mut inverted[..init_len] {
                                *byte = !*byte;
                            }
                            assert_eq!(
                                raw(poly, &block),
                                raw(poly, &inverted),
                                "poly {poly:#x}, {blocks} constants, {len} bytes at {start}, \
                                 init_len {init_len}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn lengths_and_init_lens_out_of_range_panic_rather_than_fold() {
        if !has_features() {
            return;
        }
        let data = [0x5au8; 400];
        for (len, blocks, init_len) in [
            (15, 16, 8),
            (0, 16, 0),
            (257, 16, 8),
            (17, 1, 0),
            (16, 0, 0),
            (16, 1, 9),
            (100, 16, usize::MAX),
        ] {
            let result = std::panic::catch_unwind(|| {
                // SAFETY: `has_features` said the CPU has them.
                #[allow(unsafe_code)]
                unsafe {
                    fold(&data[..len], &FOLD64[..blocks], init_len)
                };
            });
            assert!(
                result.is_err(),
                "{len} bytes, {blocks} constants, init_len {init_len}: folded"
            );
        }
    }
}
