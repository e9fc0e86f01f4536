//! Known-answer tests for flatstream-checksum-crc32c.

use flatstream_checksum_crc32c::Crc32c;

flatstream_core::known_answer_test!(crc32c_iscsi, Crc32c::new());

// Outside attack on the SSE4.2 short path (`src/sse42.rs`, below 416 bytes on x86-64) and
// the cut-overs around it (31/32, 415/416): every result is compared with a CRC-32C written
// here from its definition (reflected poly 0x82F63B78, init and xorout 0xFFFFFFFF), and
// with the `crc` crate's bytewise implementation.

use flatstream_checksum_crc32c::Checksum;
use flatstream_test_support::{bitwise_crc32, pseudo_random_bytes};

const POLY: u32 = 0x82f6_3b78;

/// CRC-32C a byte at a time, its table built from the bit-by-bit step.
struct Reference([u32; 256]);

impl Reference {
    fn new() -> Self {
        let mut table = [0; 256];
        for (byte, entry) in (0u32..).zip(table.iter_mut()) {
            *entry = Self::step_bits(byte);
        }
        Reference(table)
    }

    fn step_bits(mut register: u32) -> u32 {
        for _ in 0..8 {
            register = if register & 1 == 1 {
                (register >> 1) ^ POLY
            } else {
                register >> 1
            };
        }
        register
    }

    /// The register after `data` from `register`, no initial value or final xor.
    fn raw(&self, register: u32, data: &[u8]) -> u32 {
        data.iter().fold(register, |register, &byte| {
            (register >> 8) ^ self.0[usize::from((register as u8) ^ byte)]
        })
    }

    fn crc(&self, data: &[u8]) -> u32 {
        !self.raw(u32::MAX, data)
    }
}

fn crc32c(data: &[u8]) -> u32 {
    let value = Crc32c::new().calculate(data);
    u32::try_from(value).unwrap_or_else(|_| panic!("{value:#x} is wider than 32 bits"))
}

fn check(reference: &Reference, data: &[u8], case: &str) {
    let got = crc32c(data);
    let want = reference.crc(data);
    assert_eq!(
        got,
        want,
        "{case}: {} bytes: got {got:#010x}, want {want:#010x}",
        data.len()
    );
}

#[test]
fn the_reference_is_the_definition() {
    let reference = Reference::new();
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    assert_eq!(reference.crc(b"123456789"), 0xe306_9283);
    for (len, seed) in (0..=600).zip(1u64..) {
        let data = pseudo_random_bytes(len, seed);
        let want = bitwise_crc32(POLY, &data);
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
            for start in [0, 1, 7, 8, 15, 63] {
                let input = &data[start..start + len];
                check(&reference, input, &format!("fill {fill:#04x} at {start}"));
                assert_eq!(crc32c(input), bitwise_crc32(POLY, input));
            }
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
        // The slice's last bytes, to the allocation's very end.
        for cut in 0..len.min(17) {
            check(&reference, &exact[cut..], "tail of an exact vec");
        }
    }
}

#[test]
fn lengths_around_the_cut_overs_match_the_definition() {
    let reference = Reference::new();
    let data = pseudo_random_bytes(2048 + 64, 0x1234_5678);
    for len in [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 30, 31, 32, 33, 63, 64, 65, 414, 415, 416, 417,
        418, 423, 424, 447, 448, 449, 1023, 1024, 1025, 2048,
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

/// Every single-bit flip of every short-path length (and past its end, to 440 bytes): the
/// change in the CRC is the raw CRC of the lone bit followed by the bytes after it,
/// precomputed from the reference, and the unflipped input is checked directly.
#[test]
fn every_single_bit_flip_of_every_short_length_changes_the_crc_as_the_definition_says() {
    const MAX: usize = 440;
    let reference = Reference::new();
    // DELTA[z][bit]: the raw register (from zero) after the byte `1 << bit` then `z` zeros.
    let mut delta = vec![[0u32; 8]; MAX];
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
        let base = crc32c(&input);
        assert_eq!(base, reference.crc(&input), "{len} bytes unflipped");
        for byte in 0..len {
            for (bit, &want) in delta[len - 1 - byte].iter().enumerate() {
                input[byte] ^= 1 << bit;
                let got = crc32c(&input) ^ base;
                input[byte] ^= 1 << bit;
                assert_eq!(
                    got, want,
                    "{len} bytes, bit {bit} of byte {byte} flipped: the CRC changed by \
                     {got:#010x}, not {want:#010x}"
                );
            }
        }
    }
}

/// CRC-32C is affine: over inputs of one length, crc(a ^ b ^ c) = crc(a) ^ crc(b) ^ crc(c).
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
                crc32c(&xored),
                crc32c(a) ^ crc32c(b) ^ crc32c(c),
                "{len} bytes at {start}"
            );
            let zeros = vec![0; len];
            let ones = vec![0xff; len];
            let inverse: Vec<u8> = a.iter().map(|x| !x).collect();
            assert_eq!(
                crc32c(&inverse),
                crc32c(a) ^ crc32c(&ones) ^ crc32c(&zeros),
                "{len} bytes at {start}, inverted"
            );
        }
    }
}
