#![doc = include_str!("../README.md")]
// `deny`, not `forbid`: the counting allocator of the allocation tests (`alloc`) implements
// `GlobalAlloc`, which is `unsafe`; nothing else is.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod alloc;
mod crc_reference;
mod scratch;

pub use alloc::{
    CountingAllocator, allocations, allocations_during, largest_allocation_during, live_bytes,
};
pub use crc_reference::{ReflectedCrc, bitwise_raw, check_linearity};
pub use scratch::{ScratchDir, ScratchFile};

/// A reflected 32-bit CRC with initial value and final xor 0xFFFFFFFF, from its definition,
/// one bit at a time: the reference the short paths of the CRC-32 crates are checked against.
/// `reflected_poly` is the polynomial bit-reversed: 0xEDB88320 for CRC-32/ISO-HDLC,
/// 0x82F63B78 for CRC-32C.
///
/// ```
/// use flatstream_test_support::bitwise_crc32;
///
/// assert_eq!(bitwise_crc32(0xedb8_8320, b"123456789"), 0xcbf4_3926);
/// assert_eq!(bitwise_crc32(0x82f6_3b78, b"123456789"), 0xe306_9283);
/// ```
pub fn bitwise_crc32(reflected_poly: u32, data: &[u8]) -> u32 {
    let register = bitwise_raw(u64::from(reflected_poly), u64::from(u32::MAX), data);
    // A 32-bit register stays within 32 bits: the polynomial and the initial value do.
    #[allow(clippy::cast_possible_truncation)]
    let register = register as u32;
    !register
}

/// Checks that two implementations of one checksum agree at every length from 0 to 1100
/// bytes, around the powers of two up to 64 KiB, and at four alignments: the test behind
/// every size-adaptive checksum's cut-over.
///
/// # Panics
///
/// On the first input where they differ, naming its length and offset.
pub fn check_paths_agree(small_inputs: fn(&[u8]) -> u64, large_inputs: fn(&[u8]) -> u64) {
    let data = pseudo_random_bytes(70_000, 0x2545_f491_4f6c_dd1d);
    let mut lengths: Vec<usize> = (0..=1100).collect();
    lengths.extend([4095, 4096, 4097, 16_383, 16_384, 65_535, 65_536, 69_000]);
    for len in lengths {
        for start in [0, 1, 3, 7] {
            let Some(input) = data.get(start..start + len) else {
                continue;
            };
            assert_eq!(
                small_inputs(input),
                large_inputs(input),
                "paths disagree on {len} bytes at offset {start}"
            );
        }
    }
}

/// Checks a checksum's CPU-specific short path against its reference at each of `lengths`
/// and each offset in `starts`: every input the path takes (`Some`) must agree, and when
/// `path_available` (the CPU, or Miri's build, has its features) it must take every one.
/// Small enough for Miri with the lengths the checksum crates give it.
///
/// # Panics
///
/// On an input where the two disagree, naming its length and offset; when the path was
/// available and refused an input.
pub fn check_short_path(
    short_path: impl Fn(&[u8]) -> Option<u64>,
    reference: fn(&[u8]) -> u64,
    lengths: &[usize],
    starts: &[usize],
    path_available: bool,
) {
    let longest = lengths.iter().max().copied().unwrap_or(0);
    let furthest = starts.iter().max().copied().unwrap_or(0);
    // The same bytes the crates' own loops used before they shared this one.
    let data: Vec<u8> = (0..longest + furthest)
        .map(|i| (i * 151 + 7) as u8 ^ (i >> 3) as u8)
        .collect();
    let mut taken = 0;
    for &len in lengths {
        for &start in starts {
            let input = &data[start..start + len];
            if let Some(crc) = short_path(input) {
                assert_eq!(crc, reference(input), "{len} bytes at {start}");
                taken += 1;
            }
        }
    }
    if path_available {
        assert_eq!(
            taken,
            lengths.len() * starts.len(),
            "the path refused inputs it should take"
        );
    }
}

/// Decodes lowercase or uppercase hex with no separators; `None` for an odd length or a
/// character that is not a hex digit.
pub fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Every item `next` gives before its first error, and that error (`None` after a clean
/// end): a reader's `read_message`, with the payload copied out, drained.
///
/// # Errors
///
/// None of its own: the first error `next` returns is returned beside the items.
pub fn drain<T, E>(mut next: impl FnMut() -> Result<Option<T>, E>) -> (Vec<T>, Option<E>) {
    let mut items = Vec::new();
    loop {
        match next() {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, None),
            Err(error) => return (items, Some(error)),
        }
    }
}

/// `len` bytes of xorshift64 output from `seed`: random-looking (incompressible, no short
/// period), and the same on every run and machine.
///
/// # Panics
///
/// When `seed` is zero, which xorshift maps to zeros forever.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    assert_ne!(seed, 0, "xorshift needs a non-zero seed");
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_hex_of_either_case_and_refuses_the_rest() {
        assert_eq!(decode_hex("00fFa1").unwrap(), [0, 0xff, 0xa1]);
        assert_eq!(decode_hex("").unwrap(), b"");
        assert!(decode_hex("abc").is_none());
        assert!(decode_hex("zz").is_none());
    }

    #[test]
    fn pseudo_random_bytes_repeat_for_a_seed_and_differ_between_seeds() {
        let first = pseudo_random_bytes(1000, 1);
        assert_eq!(first, pseudo_random_bytes(1000, 1));
        assert_ne!(first, pseudo_random_bytes(1000, 2));
        // Every byte value shows up: no short period, no stuck bits.
        let mut seen = [false; 256];
        for byte in pseudo_random_bytes(10_000, 7) {
            seen[usize::from(byte)] = true;
        }
        assert!(seen.iter().all(|seen| *seen));
    }

    #[test]
    #[should_panic(expected = "paths disagree on 1 bytes at offset 0")]
    fn disagreeing_paths_name_the_length() {
        check_paths_agree(|_| 0, |input| input.len() as u64 % 2);
    }
}
