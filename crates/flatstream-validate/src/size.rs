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
        if len < self.min {
            Err(Error::validation_failed(
                self.name(),
                format!(
                    "payload of {len} bytes is under the minimum of {}",
                    self.min
                ),
            ))
        } else if len > self.max {
            Err(Error::validation_failed(
                self.name(),
                format!("payload of {len} bytes is over the maximum of {}", self.max),
            ))
        } else {
            Ok(())
        }
    }

    fn name(&self) -> &'static str {
        "size"
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
