#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod composite;
mod size;
mod structural;
mod typed;

pub use composite::CompositeValidator;
pub use flatstream_core::Validator;
pub use size::SizeValidator;
pub use structural::StructuralValidator;
pub use typed::{TypedValidator, VerifyFn};

/// Accepts every payload. With it, a validating reader or writer compiles to the plain one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoValidator;

impl NoValidator {
    /// The validator that accepts everything.
    pub fn new() -> Self {
        NoValidator
    }
}

impl Validator for NoValidator {
    #[inline]
    fn validate(&self, _payload: &[u8]) -> flatstream_core::Result<()> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "none"
    }
}
