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

/// The check that a payload is a FlatBuffer with a sound root table: another name for
/// [`StructuralValidator`], the same type. `StructuralValidator` stays the main name;
/// `TableRootValidator` says what it checks, and is the spelling the project's first
/// design used.
///
/// ```
/// use flatstream_validate::{StructuralValidator, TableRootValidator, Validator};
///
/// let validator: StructuralValidator = TableRootValidator::new();
/// assert!(validator.validate(b"not a flatbuffer").is_err());
/// ```
pub type TableRootValidator = StructuralValidator;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_root_validator_is_the_structural_validator() {
        let mut builder = flatbuffers::FlatBufferBuilder::new();
        let table = builder.start_table();
        let table = builder.end_table(table);
        builder.finish_minimal(table);
        let payload = builder.finished_data();

        let table_root = TableRootValidator::new();
        // The same type, so one converts into the other with no code at all.
        let structural: StructuralValidator = table_root.clone();
        assert_eq!(table_root, structural);
        assert!(table_root.validate(payload).is_ok());
        assert!(table_root.validate(b"not a flatbuffer").is_err());
    }
}
