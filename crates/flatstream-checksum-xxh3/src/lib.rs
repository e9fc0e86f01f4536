#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use flatstream_core::Checksum;

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
        xxhash_rust::xxh3::xxh3_64(payload)
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
    fn value_fits_the_field_width() {
        let checksum = Xxh3::new();
        let bits = 8 * checksum.size();
        for len in [0, 1, 5, 100] {
            let value = checksum.calculate(&vec![0xa5; len]);
            assert!(
                bits == 64 || value >> bits == 0,
                "{value:#x} wider than {bits} bits"
            );
        }
    }
}
