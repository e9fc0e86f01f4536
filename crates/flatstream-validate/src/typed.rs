//! [`TypedValidator`]: the payload verifies as a given root type.

use flatbuffers::{ForwardsUOffset, InvalidFlatbuffer, Verifiable, Verifier, VerifierOptions};
use flatstream_core::{Error, Result, Validator};

/// A function that verifies a whole payload.
pub type VerifyFn = fn(&[u8]) -> std::result::Result<(), InvalidFlatbuffer>;

#[derive(Debug, Clone)]
enum Check {
    Root {
        verify: fn(&VerifierOptions, &[u8]) -> std::result::Result<(), InvalidFlatbuffer>,
        options: VerifierOptions,
    },
    Function(VerifyFn),
}

/// Accepts payloads that verify as a particular FlatBuffers root type, following every field
/// the schema declares.
///
/// ```
/// use flatstream_core::StreamSerialize;
/// use flatstream_telemetry_schema::{Event, TelemetryEvent};
/// use flatstream_validate::{TypedValidator, Validator};
///
/// let mut builder = flatbuffers::FlatBufferBuilder::new();
/// TelemetryEvent::nth(1).serialize(&mut builder)?;
///
/// let validator = TypedValidator::for_type::<Event>();
/// assert!(validator.validate(builder.finished_data()).is_ok());
/// assert!(validator.validate(&builder.finished_data()[..12]).is_err());
///
/// // Or any verification function, such as a generated `root_as_…`:
/// let custom = TypedValidator::from_verify(|payload| {
///     flatbuffers::root::<Event>(payload).map(|_| ())
/// });
/// assert!(custom.validate(builder.finished_data()).is_ok());
/// # Ok::<(), flatstream_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TypedValidator {
    check: Check,
    name: &'static str,
}

fn verify_root<T: Verifiable>(
    options: &VerifierOptions,
    payload: &[u8],
) -> std::result::Result<(), InvalidFlatbuffer> {
    let mut verifier = Verifier::new(options, payload);
    <ForwardsUOffset<T>>::run_verifier(&mut verifier, 0)
}

impl TypedValidator {
    /// Verifies payloads as root type `T` (a generated table such as `Event`), with the
    /// verifier's default limits.
    pub fn for_type<T: Verifiable + 'static>() -> Self {
        Self::for_type_with_options::<T>(VerifierOptions::default())
    }

    /// Verifies payloads as root type `T` with the given verifier limits (depth, tables,
    /// apparent size).
    pub fn for_type_with_options<T: Verifiable + 'static>(options: VerifierOptions) -> Self {
        TypedValidator {
            check: Check::Root {
                verify: verify_root::<T>,
                options,
            },
            name: short_type_name(std::any::type_name::<T>()),
        }
    }

    /// Verifies payloads with `verify`, any function that checks a whole payload.
    pub fn from_verify(verify: VerifyFn) -> Self {
        TypedValidator {
            check: Check::Function(verify),
            name: "typed",
        }
    }

    /// Names the validator in error messages (default: the root type's name, or `typed`).
    #[must_use]
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }
}

/// `my_crate::schema::Event<'_>` becomes `Event`.
fn short_type_name(full: &'static str) -> &'static str {
    let without_generics = full.split('<').next().unwrap_or(full);
    without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics)
}

impl Validator for TypedValidator {
    fn validate(&self, payload: &[u8]) -> Result<()> {
        let outcome = match &self.check {
            Check::Root { verify, options } => verify(options, payload),
            Check::Function(verify) => verify(payload),
        };
        outcome.map_err(|error| {
            // The verifier's text ends in blank lines after its error trace.
            Error::validation_failed(self.name, error.to_string().trim_end().to_owned())
        })
    }

    fn name(&self) -> &'static str {
        self.name
    }
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_are_shortened() {
        assert_eq!(short_type_name("a::b::Event<'_>"), "Event");
        assert_eq!(short_type_name("Event"), "Event");
        assert_eq!(short_type_name("&str"), "&str");
    }
}
