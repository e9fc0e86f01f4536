#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod json;
mod read;
mod schema;

use std::borrow::Cow;

use flatbuffers::VerifierOptions;
use flatbuffers_reflection::{FlatbufferError, SafeBuffer, reflection};
use flatstream_core::{Error, Validator};

pub use crate::json::JsonWriter;
pub use crate::read::{Payload, ReadError, ScalarValue, Table};
pub use crate::schema::{
    EnumLayout, FieldLayout, Layout, ObjectLayout, Scalar, Schema, SchemaError, Shape, UnionMember,
};
pub use flatstream_core;

/// Checks payloads against a [`Schema`] with the `flatbuffers-reflection` verifier: every
/// offset, vtable, string and vector of the root type and all it reaches lies inside the
/// payload, strings are UTF-8, required fields are there.
///
/// It is a [`Validator`], so it plugs into flatstream's readers
/// (`deframer.with_validator(...)`): a payload that fails is an error naming the frame and
/// its byte offset.
#[derive(Debug)]
pub struct Verifier<'s> {
    schema: reflection::Schema<'s>,
    layout: &'s Layout,
    options: VerifierOptions,
    has_unions: bool,
    root_name: &'s str,
}

impl<'s> Verifier<'s> {
    /// A verifier for payloads whose root is `schema`'s root type.
    pub fn new(schema: &'s Schema) -> Self {
        let layout = schema.layout();
        let has_unions = layout.objects.iter().any(|object| {
            object
                .fields
                .iter()
                .any(|field| matches!(field.shape, Shape::Union(_)))
        });
        Verifier {
            schema: schema.reflection(),
            layout,
            options: VerifierOptions::default(),
            has_unions,
            root_name: schema.root_name(),
        }
    }

    /// Checks one payload.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ValidationFailed`](flatstream_core::ErrorKind::ValidationFailed) from
    /// validator `schema ROOT`, saying what is wrong and where in the payload. Readers add
    /// the frame and its offset.
    pub fn verify(&self, payload: &[u8]) -> Result<(), Error> {
        if self.has_unions {
            // flatbuffers-reflection 0.1.0 looks a union's type up in the schema by index
            // without a bounds check, and panics on a type the schema does not declare: our
            // bounds-checked reader goes first and refuses such a payload.
            let mut scratch = Vec::new();
            JsonWriter::new(self.layout)
                .write(payload, &mut scratch)
                .map_err(|error| {
                    Error::validation_failed(
                        Cow::Owned(format!("schema {}", self.root_name)),
                        error.to_string(),
                    )
                })?;
        }
        SafeBuffer::new_with_options(payload, &self.schema, &self.options)
            .map(drop)
            .map_err(|error| {
                // The verifier's messages end in a blank line (its error trace).
                let reason = match &error {
                    FlatbufferError::VerificationError(invalid) => invalid.to_string(),
                    other => other.to_string(),
                };
                Error::validation_failed(
                    Cow::Owned(format!("schema {}", self.root_name)),
                    reason.trim_end().to_owned(),
                )
            })
    }
}

impl Validator for Verifier<'_> {
    fn validate(&self, payload: &[u8]) -> flatstream_core::Result<()> {
        self.verify(payload)
    }

    fn name(&self) -> &'static str {
        "schema"
    }
}
