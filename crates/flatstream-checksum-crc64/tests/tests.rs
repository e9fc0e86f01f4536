//! Known-answer tests for flatstream-checksum-crc64.

use flatstream_checksum_crc64::Crc64;

flatstream_core::known_answer_test!(crc64_xz, Crc64::new());

// Outside attack on the carry-less-multiply short path (`src/clmul.rs`, 16 to 255 bytes on
// x86-64 with PCLMULQDQ, SSSE3 and SSE4.1) and on `flatstream_checksum_clmul::fold_to_block`
// under it: every result is compared with a CRC-64/XZ written here from its definition
// (reflected poly 0xC96C5795D7870F42, init and xorout all ones), and with the `crc` crate.

use flatstream_checksum_crc64::Checksum;
use flatstream_test_support::pseudo_random_bytes;

const POLY: u64 = 0xc96c_5795_d787_0f42;

/// The register after `data` from `register`, a bit at a time, no initial value or final xor.
fn bitwise_raw(mut register: u64, data: &[u8]) -> u64 {
    for &byte in data {
        register ^= u64::from(byte);
        for _ in 0..8 {
            register = if register & 1 == 1 {
                (register >> 1) ^ POLY
            } else {
                register >> 1
            };
        }
    }
    register
}

fn bitwise(data: &[u8]) -> u64 {
    !bitwise_raw(u64::MAX, data)
}

/// CRC-64/XZ a byte at a time, its table built from the bit-by-bit step.
struct Reference([u64; 256]);

impl Reference {
    fn new() -> Self {
        let mut table = [0; 256];
        for (byte, entry) in (0u8..=255).zip(table.iter_mut()) {
            *entry = bitwise_raw(0, &[byte]);
        }
        Reference(table)
    }

    fn raw(&self, register: u64, data: &[u8]) -> u64 {
        data.iter().fold(register, |register, &byte| {
            (register >> 8) ^ self.0[usize::from((register as u8) ^ byte)]
        })
    }

    fn crc(&self, data: &[u8]) -> u64 {
        !self.raw(u64::MAX, data)
    }
}

fn crc64(data: &[u8]) -> u64 {
    Crc64::new().calculate(data)
}

fn check(reference: &Reference, data: &[u8], case: &str) {
    let got = crc64(data);
    let want = reference.crc(data);
    assert_eq!(
        got,
        want,
        "{case}: {} bytes: got {got:#018x}, want {want:#018x}",
        data.len()
    );
}

#[test]
fn the_reference_is_the_definition() {
    let reference = Reference::new();
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
    assert_eq!(bitwise(b"123456789"), 0x995d_c9bb_df19_39fa);
    for (len, seed) in (0..=600).zip(1u64..) {
        let data = pseudo_random_bytes(len, seed);
        let want = bitwise(&data);
        assert_eq!(reference.crc(&data), want, "{len} bytes");
        assert_eq!(crc.checksum(&data), want, "crc crate, {len} bytes");
    }
}

#[test]
fn every_length_to_600_at_every_offset_to_63_matches_the_definition() {
    let reference = Reference::new();
    for seed in [1, 0x9e37_79b9_7f4a_7c15, 0xdead_beef_cafe_f00d] {
        let data = pseudo_random_bytes(600 + 64, seed);
        for len in 0..=600 {
            for start in 0..64 {
                check(
                    &reference,
                    &data[start..start + len],
                    &format!("seed {seed:#x} offset {start}"),
                );
            }
        }
    }
}

#[test]
fn all_zeros_and_all_ones_at_every_length_match_the_definition() {
    let reference = Reference::new();
    for fill in [0x00, 0xff, 0x80, 0x01] {
        let data = vec![fill; 600 + 64];
        for len in 0..=600 {
            for start in [0, 1, 7, 8, 15, 16, 63] {
                let input = &data[start..start + len];
                check(&reference, input, &format!("fill {fill:#04x} at {start}"));
            }
        }
    }
    // Ones over exactly the initial value's 8 bytes, and a block of them: the register
    // cancels to zero there.
    for len in 16..=300 {
        let mut data = vec![0u8; len];
        for ones in [1, 7, 8, 9, 15, 16, 17, len] {
            data.fill(0);
            data[..ones.min(len)].fill(0xff);
            check(&reference, &data, &format!("{ones} leading 0xff"));
            data.fill(0);
            data[len - ones.min(len)..].fill(0xff);
            check(&reference, &data, &format!("{ones} trailing 0xff"));
        }
    }
}

#[test]
fn exactly_sized_allocations_match_the_definition() {
    let reference = Reference::new();
    for len in 0..=600 {
        let boxed: Box<[u8]> = pseudo_random_bytes(len, 77 + len as u64).into_boxed_slice();
        check(&reference, &boxed, "boxed");
        let mut exact = Vec::with_capacity(len);
        exact.extend((0..len).map(|i| (i * 131 + len) as u8));
        assert_eq!(exact.capacity(), len);
        check(&reference, &exact, "exact vec");
        for cut in 0..len.min(33) {
            check(&reference, &exact[cut..], "tail of an exact vec");
        }
    }
}

#[test]
fn lengths_around_the_cut_overs_match_the_definition() {
    let reference = Reference::new();
    let data = pseudo_random_bytes(2048 + 64, 0x1234_5678);
    for len in [
        0, 1, 7, 8, 9, 14, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 127, 128, 129, 239, 240,
        241, 254, 255, 256, 257, 271, 272, 273, 1024, 2048,
    ] {
        for start in 0..64 {
            check(
                &reference,
                &data[start..start + len],
                &format!("offset {start}"),
            );
        }
    }
}

/// Every single-bit flip of every length to 300 (the short path's 16 to 255 and both
/// cut-overs): the change in the CRC is the raw CRC of the lone bit followed by the bytes
/// after it, precomputed from the reference; the unflipped input is checked directly.
#[test]
fn every_single_bit_flip_of_every_short_length_changes_the_crc_as_the_definition_says() {
    const MAX: usize = 300;
    let reference = Reference::new();
    let mut delta = vec![[0u64; 8]; MAX];
    for bit in 0..8 {
        let mut register = reference.raw(0, &[1 << bit]);
        for entry in &mut delta {
            entry[bit] = register;
            register = reference.raw(register, &[0]);
        }
    }
    let data = pseudo_random_bytes(MAX, 0x0bad_5eed);
    let mut input = Vec::with_capacity(MAX);
    for len in 0..MAX {
        input.clear();
        input.extend_from_slice(&data[..len]);
        let base = crc64(&input);
        assert_eq!(base, reference.crc(&input), "{len} bytes unflipped");
        for byte in 0..len {
            for (bit, &want) in delta[len - 1 - byte].iter().enumerate() {
                input[byte] ^= 1 << bit;
                let got = crc64(&input) ^ base;
                input[byte] ^= 1 << bit;
                assert_eq!(
                    got, want,
                    "{len} bytes, bit {bit} of byte {byte} flipped: the CRC changed by \
                     {got:#018x}, not {want:#018x}"
                );
            }
        }
    }
}

/// CRC-64/XZ is affine: over inputs of one length, crc(a ^ b ^ c) = crc(a) ^ crc(b) ^ crc(c).
#[test]
fn three_inputs_xored_give_the_xor_of_their_crcs_at_every_length() {
    let a = pseudo_random_bytes(600 + 8, 3);
    let b = pseudo_random_bytes(600 + 8, 5);
    let c = pseudo_random_bytes(600 + 8, 7);
    for len in 0..=600 {
        for start in [0, 1, 5, 8] {
            let (a, b, c) = (
                &a[start..start + len],
                &b[..len],
                &c[8 - start..8 - start + len],
            );
            let xored: Vec<u8> = a
                .iter()
                .zip(b)
                .zip(c)
                .map(|((a, b), c)| a ^ b ^ c)
                .collect();
            assert_eq!(
                crc64(&xored),
                crc64(a) ^ crc64(b) ^ crc64(c),
                "{len} bytes at {start}"
            );
            let zeros = vec![0; len];
            let ones = vec![0xff; len];
            let inverse: Vec<u8> = a.iter().map(|x| !x).collect();
            assert_eq!(
                crc64(&inverse),
                crc64(a) ^ crc64(&ones) ^ crc64(&zeros),
                "{len} bytes at {start}, inverted"
            );
        }
    }
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
        let mut register = 0u64;
        for &byte in data {
            register ^= u64::from(byte);
            for _ in 0..8 {
                register = if register & 1 == 1 {
                    (register >> 1) ^ poly
                } else {
                    register >> 1
                };
            }
        }
        register
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
