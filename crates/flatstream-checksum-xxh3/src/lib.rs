#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use flatstream_core::Checksum;

/// Inputs shorter than this go through `xxhash-rust` (SSE2, inlined); longer ones through
/// `twox-hash`, which picks AVX2 at run time.
///
/// Measured with the `checksum_impl` benchmark group; the figures are in `docs/benchmarks.md`
/// ("Cut-overs").
const CUTOVER: usize = 256;

/// The small-input path, whatever the length. The tests compare it with the other path.
#[inline]
fn small_input_checksum(payload: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(payload)
}

/// The large-input path, whatever the length. The tests compare it with the other path.
#[inline]
fn large_input_checksum(payload: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(payload)
}

/// XXH3-64: XXH3 with 64-bit output and seed 0, from the xxHash family; a fast hash, not a CRC.
///
/// Stored as 8 bytes, little-endian. Check value over ASCII `"123456789"`: `0x72DCB18B67A17DFF`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Xxh3;

/// The name another implementation of this format gives this checksum.
///
/// Its frames store XXH3-64 with seed 0 (not the older XXH64), so `XxHash64` and [`Xxh3`]
/// are the same type and read each other's streams.
pub type XxHash64 = Xxh3;

impl Xxh3 {
    /// Creates the checksum; it holds no state.
    pub fn new() -> Self {
        Xxh3
    }
}

impl Checksum for Xxh3 {
    #[inline]
    fn size(&self) -> usize {
        8
    }

    #[inline]
    fn calculate(&self, payload: &[u8]) -> u64 {
        if payload.len() < CUTOVER {
            small_input_checksum(payload)
        } else {
            large_input_checksum(payload)
        }
    }

    fn name(&self) -> &'static str {
        "xxh3"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_over_123456789() {
        assert_eq!(Xxh3::new().calculate(b"123456789"), 0x72DCB18B67A17DFF);
    }

    #[test]
    fn both_paths_agree_at_every_size_and_alignment() {
        flatstream_test_support::check_paths_agree(small_input_checksum, large_input_checksum);
    }
}
