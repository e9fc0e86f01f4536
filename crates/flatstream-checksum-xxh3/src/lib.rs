#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use flatstream_core::Checksum;

/// Inputs shorter than this go through `xxhash-rust` (SSE2, inlined); longer ones through
/// `twox-hash`, which picks AVX2 at run time.
///
/// Measured with the `checksum_impl` group of `benches/` (one run on a 2-core Xeon with
/// AVX-512): at 128 B xxhash-rust runs 27.6 GB/s against twox-hash's 24.5; at 256 B
/// twox-hash leads 17.8 to 15.6, at 1 KiB 31.5 to 25.7 and at 1 MiB 47.7 to 29.6.
pub const CUTOVER: usize = 256;

/// The small-input path, whatever the length. Public so tests can compare both paths.
#[doc(hidden)]
#[inline]
pub fn small_input_checksum(payload: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(payload)
}

/// The large-input path, whatever the length. Public so tests can compare both paths.
#[doc(hidden)]
#[inline]
pub fn large_input_checksum(payload: &[u8]) -> u64 {
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
        flatstream_core::dev::check_paths_agree(small_input_checksum, large_input_checksum);
    }

    #[test]
    fn values_fit_the_field_width() {
        flatstream_core::dev::check_values_fit_width(&Xxh3::new());
    }
}
