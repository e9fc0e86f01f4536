//! [`SizeValidator`]: payload length within bounds.

use std::ops::RangeInclusive;

use flatstream_core::{Error, Result, Validator};

/// Accepts payloads whose length lies in a range of bytes.
///
/// ```
/// use flatstream_validate::{SizeValidator, Validator};
///
/// let validator = SizeValidator::new(8..=1024);
/// assert!(validator.validate(&[0; 8]).is_ok());
/// let error = validator.validate(&[0; 2000]).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "validation failed: size: payload of 2000 bytes is over the maximum of 1024"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeValidator {
    min: usize,
    max: usize,
}

impl SizeValidator {
    /// Accepts lengths in `range`. An empty range (`10..=5`) rejects every payload.
    pub fn new(range: RangeInclusive<usize>) -> Self {
        SizeValidator {
            min: *range.start(),
            max: *range.end(),
        }
    }

    /// Accepts payloads of at most `max` bytes.
    pub fn at_most(max: usize) -> Self {
        Self::new(0..=max)
    }

    /// Accepts payloads of at least `min` bytes.
    pub fn at_least(min: usize) -> Self {
        Self::new(min..=usize::MAX)
    }

    /// The smallest accepted length.
    pub fn min(&self) -> usize {
        self.min
    }

    /// The largest accepted length.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Default for SizeValidator {
    /// Accepts every length.
    fn default() -> Self {
        Self::new(0..=usize::MAX)
    }
}

impl Validator for SizeValidator {
    #[inline]
    fn validate(&self, payload: &[u8]) -> Result<()> {
        let len = payload.len();
        if len < self.min || len > self.max {
            return Err(self.refusal(len));
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "size"
    }
}

impl SizeValidator {
    /// The error for a payload of `len` bytes outside the range. Out of line, so that the
    /// `format!` calls are not inlined into the readers' per-frame loops with `validate`:
    /// validated `SliceReader` loops ran faster so (`docs/benchmarks.md`, session 20).
    #[cold]
    #[inline(never)]
    fn refusal(&self, len: usize) -> Error {
        let reason = if len < self.min {
            format!(
                "payload of {len} bytes is under the minimum of {}",
                self.min
            )
        } else {
            format!("payload of {len} bytes is over the maximum of {}", self.max)
        };
        Error::validation_failed(self.name(), reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        let validator = SizeValidator::new(2..=4);
        assert!(validator.validate(&[0; 1]).is_err());
        assert!(validator.validate(&[0; 2]).is_ok());
        assert!(validator.validate(&[0; 4]).is_ok());
        assert!(validator.validate(&[0; 5]).is_err());
    }

    #[test]
    fn each_refusal_says_which_bound_the_payload_missed() {
        let validator = SizeValidator::new(2..=4);
        let under = validator.validate(&[0; 1]).unwrap_err().to_string();
        assert_eq!(
            under,
            "validation failed: size: payload of 1 bytes is under the minimum of 2"
        );
        let over = validator.validate(&[0; 5]).unwrap_err().to_string();
        assert_eq!(
            over,
            "validation failed: size: payload of 5 bytes is over the maximum of 4"
        );
        // An empty range: a length between its ends is under the minimum.
        let empty = SizeValidator::new(10..=std::hint::black_box(5));
        let error = empty.validate(&[0; 7]).unwrap_err().to_string();
        assert!(
            error.ends_with("payload of 7 bytes is under the minimum of 10"),
            "{error}"
        );
    }

    #[test]
    fn empty_range_rejects_everything() {
        // Built from a computed range, as a misconfigured caller would.
        let (min, max) = (10, std::hint::black_box(5));
        let validator = SizeValidator::new(min..=max);
        for len in [0, 5, 7, 10, 100] {
            assert!(validator.validate(&vec![0; len]).is_err(), "{len}");
        }
    }

    #[test]
    fn one_sided_constructors() {
        assert!(SizeValidator::at_most(3).validate(&[]).is_ok());
        assert!(SizeValidator::at_most(3).validate(&[0; 4]).is_err());
        assert!(SizeValidator::at_least(3).validate(&[0; 2]).is_err());
        assert_eq!(SizeValidator::default().max(), usize::MAX);
    }
}
