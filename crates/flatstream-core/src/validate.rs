//! The [`Validator`] trait: an optional check of each payload.

use crate::error::Result;

/// Checks a payload before it is written or after it is read.
///
/// A failed check is reported as
/// [`ErrorKind::ValidationFailed`](crate::ErrorKind::ValidationFailed) naming the validator.
pub trait Validator {
    /// Accepts or rejects `payload`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ValidationFailed`](crate::ErrorKind::ValidationFailed) with
    /// [`name`](Self::name) and the reason, when the payload is rejected.
    fn validate(&self, payload: &[u8]) -> Result<()>;

    /// A short name for error messages, such as `"size"`.
    fn name(&self) -> &'static str;
}

impl<V: Validator + ?Sized> Validator for &V {
    #[inline]
    fn validate(&self, payload: &[u8]) -> Result<()> {
        (**self).validate(payload)
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}

impl<V: Validator + ?Sized> Validator for Box<V> {
    #[inline]
    fn validate(&self, payload: &[u8]) -> Result<()> {
        (**self).validate(payload)
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}
