//! Outside attack on session 10's paths of `Crc32::calculate`: `crc32fast` for 8 to 15
//! bytes, the table for 0 to 7 and 16 to 19, the carry-less path from 20 (was 32) to 127,
//! `crc32fast` from 128. Every value is compared with a CRC-32 written here from its
//! definition.

use flatstream_checksum_crc32::{Checksum, Crc32};

/// CRC-32/ISO-HDLC, one bit at a time: reflected poly 0xEDB88320, init and xorout
/// 0xFFFFFFFF.
fn reference(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn lcg_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 23) as u8
        })
        .collect()
}

#[test]
fn reference_is_the_published_check_value() {
    assert_eq!(reference(b"123456789"), 0xCBF4_3926);
    assert_eq!(reference(b""), 0);
}

/// Every length 0..=300 at offsets 0..=15, on three fills: lengths across every boundary
/// of the paths (7/8, 15/16, 19/20, 127/128).
#[test]
fn every_length_to_300_at_16_offsets() {
    let random = lcg_bytes(316, 0xC0FF_EE11);
    for data in [random, vec![0u8; 316], vec![0xFFu8; 316]] {
        for start in 0..16 {
            for len in 0..=300 {
                let input = &data[start..start + len];
                assert_eq!(
                    Crc32::new().calculate(input),
                    u64::from(reference(input)),
                    "{len} bytes at offset {start}, first byte {:#x}",
                    data[0]
                );
            }
        }
    }
}

/// Every burst of one to 32 flipped bits in a 20 to 40 byte input (the lengths whose path
/// moved) changes the value, as a CRC-32 must, and the value stays the reference's.
#[test]
fn bursts_in_the_moved_lengths_change_the_value() {
    for len in 20..=40 {
        let data = lcg_bytes(len, len as u32);
        let clean = Crc32::new().calculate(&data);
        for start in 0..8 * len {
            for width in 1..=32usize.min(8 * len - start) {
                let mut damaged = data.clone();
                // A burst: first and last bit set, the ones between from the pattern.
                for bit in start..start + width {
                    if bit == start || bit == start + width - 1 || (bit * 7 + width) % 3 == 0 {
                        damaged[bit / 8] ^= 1 << (bit % 8);
                    }
                }
                let value = Crc32::new().calculate(&damaged);
                assert_ne!(value, clean, "{len} B, burst at bit {start} of {width}");
                if width % 8 == 1 {
                    assert_eq!(value, u64::from(reference(&damaged)), "{len} B at {start}");
                }
            }
        }
    }
}

/// Small enough for Miri (`cargo +nightly miri test -p flatstream-checksum-crc32 --test
/// attack10 -- under_miri`, with `RUSTFLAGS="-C target-feature=+pclmulqdq,+sse4.1"` to take
/// the carry-less path, and without): each length 0..=40 and 120..=130 in an allocation of
/// exactly that size, read from offsets 0..=3 to its end, so that a read past the end is an
/// error Miri reports.
#[test]
fn exact_allocations_at_the_path_boundaries_under_miri() {
    let lengths = (0..=40).chain(120..=130);
    for len in lengths {
        let data: Box<[u8]> = lcg_bytes(len, 77 + len as u32).into_boxed_slice();
        for start in 0..=3.min(len) {
            let input = &data[start..];
            assert_eq!(
                Crc32::new().calculate(input),
                u64::from(reference(input)),
                "{} bytes, allocation of {len}",
                input.len()
            );
        }
    }
}
