//! Known-answer tests for flatstream-checksum-crc32c.

use flatstream_checksum_crc32c::Crc32c;

flatstream_core::known_answer_test!(crc32c_iscsi, Crc32c::new());

// Outside attack on the SSE4.2 short path (`src/sse42.rs`, below 416 bytes on x86-64) and
// the cut-overs around it (31/32, 415/416): every result is compared with a CRC-32C written
// here from its definition (reflected poly 0x82F63B78, init and xorout 0xFFFFFFFF), and
// with the `crc` crate's bytewise implementation.

use flatstream_checksum_crc32c::Checksum;
use flatstream_test_support::{ReflectedCrc, bitwise_crc32, check_linearity, pseudo_random_bytes};

const POLY: u32 = 0x82f6_3b78;

fn reference() -> ReflectedCrc {
    ReflectedCrc::new(u64::from(POLY), 32)
}

fn crc32c(data: &[u8]) -> u64 {
    let value = Crc32c::new().calculate(data);
    assert!(
        u32::try_from(value).is_ok(),
        "{value:#x} is wider than 32 bits"
    );
    value
}

#[test]
fn the_reference_is_the_definition() {
    let reference = reference();
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    assert_eq!(reference.crc(b"123456789"), 0xe306_9283);
    for (len, seed) in (0..=600).zip(1u64..) {
        let data = pseudo_random_bytes(len, seed);
        let want = bitwise_crc32(POLY, &data);
        assert_eq!(reference.crc(&data), u64::from(want), "{len} bytes");
        assert_eq!(crc.checksum(&data), want, "crc crate, {len} bytes");
    }
}

#[test]
fn every_length_to_600_at_every_offset_to_63_matches_the_definition() {
    reference().check_every_length_and_offset(
        crc32c,
        600,
        64,
        &[1, 0x9e37_79b9_7f4a_7c15, 0xdead_beef_cafe_f00d],
    );
}

#[test]
fn all_zeros_and_all_ones_at_every_length_match_the_definition() {
    reference().check_fills(
        crc32c,
        &[0x00, 0xff, 0x80, 0x01],
        &[0, 1, 7, 8, 15, 63],
        600,
    );
}

#[test]
fn exactly_sized_allocations_match_the_definition() {
    // The slices' last bytes, to the allocation's very end, up to 16 cut off.
    reference().check_exact_allocations(crc32c, 600, 17);
}

#[test]
fn lengths_around_the_cut_overs_match_the_definition() {
    reference().check_lengths_at_every_offset(
        crc32c,
        &[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 30, 31, 32, 33, 63, 64, 65, 414, 415, 416,
            417, 418, 423, 424, 447, 448, 449, 1023, 1024, 1025, 2048,
        ],
    );
}

/// Every single-bit flip of every short-path length (and past its end, to 440 bytes).
#[test]
fn every_single_bit_flip_of_every_short_length_changes_the_crc_as_the_definition_says() {
    reference().check_single_bit_flips(crc32c, 440);
}

/// CRC-32C is affine: over inputs of one length, crc(a ^ b ^ c) = crc(a) ^ crc(b) ^ crc(c).
#[test]
fn three_inputs_xored_give_the_xor_of_their_crcs_at_every_length() {
    check_linearity(crc32c, 600);
}
