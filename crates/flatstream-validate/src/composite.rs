//! [`CompositeValidator`]: all of several validators.

use std::fmt;

use flatstream_core::{Error, ErrorKind, Result, Validator};

/// Accepts a payload only if every validator it holds accepts it, checked in the order they
/// were added; a rejection names the validator and its place in the list.
///
/// ```
/// use flatstream_validate::{CompositeValidator, SizeValidator, StructuralValidator, Validator};
///
/// let validator = CompositeValidator::new()
///     .with(SizeValidator::new(4..=1 << 20)) // cheap check first
///     .with(StructuralValidator::new());
/// let error = validator.validate(&[1, 2]).unwrap_err();
/// assert!(error.to_string().starts_with("validation failed: size:"), "{error}");
/// assert!(error.to_string().ends_with("(check 1 of 2)"), "{error}");
/// ```
#[derive(Default)]
pub struct CompositeValidator {
    validators: Vec<Box<dyn Validator + Send + Sync>>,
}

impl CompositeValidator {
    /// A composite that accepts everything until validators are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `validator` after the ones already held.
    #[must_use]
    pub fn with(mut self, validator: impl Validator + Send + Sync + 'static) -> Self {
        self.push(validator);
        self
    }

    /// Adds `validator` after the ones already held.
    pub fn push(&mut self, validator: impl Validator + Send + Sync + 'static) {
        self.validators.push(Box::new(validator));
    }

    /// How many validators it holds.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }
}

impl fmt::Debug for CompositeValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.validators.iter().map(Validator::name))
            .finish()
    }
}

impl Validator for CompositeValidator {
    fn validate(&self, payload: &[u8]) -> Result<()> {
        let count = self.validators.len();
        for (index, validator) in self.validators.iter().enumerate() {
            if let Err(error) = validator.validate(payload) {
                let place = format!("(check {} of {count})", index + 1);
                return Err(match error.into_kind() {
                    ErrorKind::ValidationFailed { validator, reason } => {
                        Error::validation_failed(validator, format!("{reason} {place}"))
                    }
                    other => Error::validation_failed(
                        validator.name(),
                        format!("{} {place}", Error::new(other)),
                    ),
                });
            }
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "composite"
    }
}
