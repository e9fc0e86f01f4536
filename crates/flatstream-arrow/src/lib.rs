#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batches;
mod columns;
mod write;

use std::fmt;

pub use crate::batches::{DEFAULT_BATCH_ROWS, RecordBatches};
pub use crate::columns::BatchBuilder;
pub use crate::write::{BatchWriter, Format, WriteError};
pub use arrow;
pub use flatstream_inspect;
pub use parquet;

/// A schema whose root type has no Arrow form here: a union, a vector of unions, or a table
/// that contains itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedSchema {
    message: String,
}

impl UnsupportedSchema {
    pub(crate) fn new(message: String) -> Self {
        UnsupportedSchema { message }
    }

    pub(crate) fn union(path: &str) -> Self {
        UnsupportedSchema::new(format!(
            "{path}: unions are not exported (Parquet has no union type); export a root \
             type without them (--root-type), or read the payloads as JSON"
        ))
    }
}

impl fmt::Display for UnsupportedSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UnsupportedSchema {}
