//! A stream read as an iterator of record batches.

use std::io::Read;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use flatstream_core::{Deframer, Error};
use flatstream_inspect::{Schema, Verifier};
use flatstream_io::{DeframerExt, StreamReader, ValidatingDeframer};

use crate::{BatchBuilder, UnsupportedSchema};

/// Rows per batch unless told otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// The record batches of a stream: every payload verified against the schema, then read
/// into a row; a batch every `batch_rows` rows, and one for the rest at the end.
///
/// Memory: one batch of rows and the reader's buffer, whatever the stream's length.
///
/// ```text
///  stream  [frame 0][frame 1] ... [frame 65535][frame 65536] ...
///  batches └──────── batch 0 (65 536 rows) ──┘└── batch 1 ...
/// ```
#[derive(Debug)]
pub struct RecordBatches<'s, R, D> {
    reader: StreamReader<R, ValidatingDeframer<D, Verifier<'s>>>,
    builder: BatchBuilder,
    batch_rows: usize,
    done: bool,
    failed: bool,
}

impl<'s, R: Read, D: Deframer> RecordBatches<'s, R, D> {
    /// Reads `reader` with `deframer`, payloads of `schema`'s root type, in batches of
    /// [`DEFAULT_BATCH_ROWS`].
    ///
    /// # Errors
    ///
    /// [`UnsupportedSchema`] when the root type has no Arrow form here (see
    /// [`BatchBuilder::new`]).
    pub fn new(reader: R, deframer: D, schema: &'s Schema) -> Result<Self, UnsupportedSchema> {
        Ok(RecordBatches {
            reader: StreamReader::new(reader, deframer.with_validator(Verifier::new(schema))),
            builder: BatchBuilder::new(schema)?,
            batch_rows: DEFAULT_BATCH_ROWS,
            done: false,
            failed: false,
        })
    }

    /// Rows per batch (default [`DEFAULT_BATCH_ROWS`]; at least 1).
    #[must_use]
    pub fn with_batch_rows(mut self, batch_rows: usize) -> Self {
        self.batch_rows = batch_rows.max(1);
        self
    }

    /// The batches' Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        self.builder.schema()
    }

    /// The reader, for its position and frame count.
    pub fn reader(&self) -> &StreamReader<R, ValidatingDeframer<D, Verifier<'s>>> {
        &self.reader
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        while self.builder.len() < self.batch_rows {
            let (frame, offset) = (self.reader.frames_read(), self.reader.position());
            let Some(payload) = self.reader.read_message()? else {
                self.done = true;
                break;
            };
            if let Err(error) = self.builder.push(payload) {
                return Err(
                    Error::validation_failed("arrow", error.to_string()).at_frame(frame, offset)
                );
            }
        }
        if self.builder.is_empty() {
            return Ok(None);
        }
        self.builder.finish().map(Some).map_err(Error::other)
    }
}

impl<R: Read, D: Deframer> Iterator for RecordBatches<'_, R, D> {
    type Item = Result<RecordBatch, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || (self.done && self.builder.is_empty()) {
            return None;
        }
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => None,
            Err(error) => {
                // A bad frame ends the batches (flatstream's `salvage` copies the intact
                // frames past damage); the rows before it in this batch are dropped with it.
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}
