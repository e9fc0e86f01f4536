//! The [`Checksum`] trait and [`NoChecksum`], and [`CpuCheck`] for checksum crates' fast
//! paths.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, Result};

/// A checksum over a frame's payload.
///
/// The value is stored little-endian in the frame, [`size()`](Checksum::size) bytes wide,
/// right after the length field. Implementations are stateless: `calculate` takes `&self`
/// and the same input always gives the same value.
pub trait Checksum {
    /// The width of the checksum field on the wire: 0, 2, 4 or 8 bytes.
    fn size(&self) -> usize;

    /// The checksum of `payload`, in the low `size()` bytes of the result, the bits above
    /// them zero: a frame stores only `size()` bytes, and the default
    /// [`verify`](Checksum::verify) compares the whole value, so a checksum with bits set
    /// above its width writes streams that never verify.
    fn calculate(&self, payload: &[u8]) -> u64;

    /// A short lowercase name for messages and command lines, such as `"crc32c"`.
    fn name(&self) -> &'static str;

    /// Checks `payload` against the checksum `expected` that was stored in its frame.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ChecksumMismatch`](crate::ErrorKind::ChecksumMismatch) with both values
    /// when they differ.
    #[inline]
    fn verify(&self, expected: u64, payload: &[u8]) -> Result<()> {
        let calculated = self.calculate(payload);
        if calculated == expected {
            Ok(())
        } else {
            Err(Error::checksum_mismatch(expected, calculated))
        }
    }
}

impl<C: Checksum + ?Sized> Checksum for &C {
    #[inline]
    fn size(&self) -> usize {
        (**self).size()
    }

    #[inline]
    fn calculate(&self, payload: &[u8]) -> u64 {
        (**self).calculate(payload)
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }

    #[inline]
    fn verify(&self, expected: u64, payload: &[u8]) -> Result<()> {
        (**self).verify(expected, payload)
    }
}

impl<C: Checksum + ?Sized> Checksum for Box<C> {
    #[inline]
    fn size(&self) -> usize {
        (**self).size()
    }

    #[inline]
    fn calculate(&self, payload: &[u8]) -> u64 {
        (**self).calculate(payload)
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }

    #[inline]
    fn verify(&self, expected: u64, payload: &[u8]) -> Result<()> {
        (**self).verify(expected, payload)
    }
}

/// No checksum: a zero-width field, so frames are `[length][payload]`.
///
/// Reading and writing with it costs nothing beyond the length field; it detects torn
/// frames but not corrupted bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoChecksum;

impl NoChecksum {
    /// Creates the no-op checksum.
    pub fn new() -> Self {
        NoChecksum
    }
}

impl Checksum for NoChecksum {
    #[inline]
    fn size(&self) -> usize {
        0
    }

    #[inline]
    fn calculate(&self, _payload: &[u8]) -> u64 {
        0
    }

    fn name(&self) -> &'static str {
        "none"
    }

    #[inline]
    fn verify(&self, _expected: u64, _payload: &[u8]) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    struct Sum8;

    impl Checksum for Sum8 {
        fn size(&self) -> usize {
            1
        }
        fn calculate(&self, payload: &[u8]) -> u64 {
            u64::from(
                payload
                    .iter()
                    .fold(0u8, |sum, byte| sum.wrapping_add(*byte)),
            )
        }
        fn name(&self) -> &'static str {
            "sum8"
        }
    }

    #[test]
    fn verify_reports_both_values_on_mismatch() {
        let error = Sum8.verify(7, &[1, 2, 3]).unwrap_err();
        match error.kind() {
            ErrorKind::ChecksumMismatch {
                expected,
                calculated,
            } => {
                assert_eq!(*expected, 7);
                assert_eq!(*calculated, 6);
            }
            other => panic!("unexpected kind {other:?}"),
        }
        assert!(Sum8.verify(6, &[1, 2, 3]).is_ok());
    }

    #[test]
    fn references_delegate() {
        let by_ref = &Sum8;
        assert_eq!(by_ref.calculate(&[250, 10]), 4);
        assert_eq!(by_ref.name(), "sum8");
    }

    #[test]
    fn boxed_trait_objects_are_checksums() {
        let chosen_at_run_time: Box<dyn Checksum> = Box::new(Sum8);
        assert_eq!(chosen_at_run_time.size(), 1);
        assert!(chosen_at_run_time.verify(3, &[1, 2]).is_ok());
    }

    #[test]
    fn no_checksum_is_zero_width_and_always_verifies() {
        assert_eq!(NoChecksum::new().size(), 0);
        assert!(NoChecksum.verify(12345, b"anything").is_ok());
    }
}

/// A fact about the CPU that a checksum crate's fast path depends on (such as "has SSE4.2"),
/// found once and then read with one relaxed load.
///
/// `std::arch::is_x86_feature_detected!` is a call into `std` for every check, which the
/// per-message path of a checksum over a 64-byte payload notices (measured in
/// `flatstream-checksum-crc32`: 7% at 64 B). Racing threads may each run `detect`; they
/// store the same answer, so the race is harmless.
///
/// ```
/// use flatstream_core::CpuCheck;
///
/// static FAST: CpuCheck = CpuCheck::new();
/// fn detect() -> bool {
///     true // `std::arch::is_x86_feature_detected!("sse4.2")`, say
/// }
/// assert!(FAST.holds(detect));
/// assert!(FAST.holds(|| unreachable!("asked once")));
/// ```
#[derive(Debug)]
pub struct CpuCheck(AtomicU8);

impl CpuCheck {
    /// Not checked yet.
    pub const fn new() -> Self {
        CpuCheck(AtomicU8::new(UNKNOWN))
    }

    /// Whether the fact holds: `detect`'s answer, asked the first time only.
    #[inline]
    pub fn holds(&self, detect: impl FnOnce() -> bool) -> bool {
        match self.0.load(Ordering::Relaxed) {
            HOLDS => true,
            DOES_NOT_HOLD => false,
            _ => self.detect(detect),
        }
    }

    #[cold]
    #[inline(never)]
    fn detect(&self, detect: impl FnOnce() -> bool) -> bool {
        let holds = detect();
        self.0
            .store(if holds { HOLDS } else { DOES_NOT_HOLD }, Ordering::Relaxed);
        holds
    }
}

impl Default for CpuCheck {
    fn default() -> Self {
        Self::new()
    }
}

const UNKNOWN: u8 = 0;
const HOLDS: u8 = 1;
const DOES_NOT_HOLD: u8 = 2;
