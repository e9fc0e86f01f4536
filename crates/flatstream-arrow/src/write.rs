//! Writing batches as Parquet (zstd) or Arrow IPC.

use std::io::Write;

use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// A file format for record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet, zstd-compressed (level 3): what DuckDB, Spark and warehouses read.
    Parquet,
    /// The Arrow IPC file format (Feather v2), uncompressed.
    ArrowIpc,
}

/// Why writing batches failed.
#[derive(Debug)]
pub struct WriteError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl From<parquet::errors::ParquetError> for WriteError {
    fn from(error: parquet::errors::ParquetError) -> Self {
        WriteError(Box::new(error))
    }
}

impl From<arrow::error::ArrowError> for WriteError {
    fn from(error: arrow::error::ArrowError) -> Self {
        WriteError(Box::new(error))
    }
}

/// Writes record batches of one schema to `W` as Parquet or Arrow IPC.
pub struct BatchWriter<W: Write + Send> {
    inner: Inner<W>,
}

enum Inner<W: Write + Send> {
    Parquet(ArrowWriter<W>),
    ArrowIpc(FileWriter<W>),
}

impl<W: Write + Send> std::fmt::Debug for BatchWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let format = match self.inner {
            Inner::Parquet(_) => Format::Parquet,
            Inner::ArrowIpc(_) => Format::ArrowIpc,
        };
        f.debug_struct("BatchWriter")
            .field("format", &format)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> BatchWriter<W> {
    /// Starts a file of `format` with `schema` on `sink`.
    ///
    /// # Errors
    ///
    /// When the schema cannot be written in that format, or writing fails.
    pub fn new(sink: W, schema: SchemaRef, format: Format) -> Result<Self, WriteError> {
        let inner = match format {
            Format::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .build();
                Inner::Parquet(ArrowWriter::try_new(sink, schema, Some(properties))?)
            }
            Format::ArrowIpc => Inner::ArrowIpc(FileWriter::try_new(sink, &schema)?),
        };
        Ok(BatchWriter { inner })
    }

    /// Writes one batch.
    ///
    /// # Errors
    ///
    /// When encoding or writing fails.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), WriteError> {
        match &mut self.inner {
            Inner::Parquet(writer) => writer.write(batch)?,
            Inner::ArrowIpc(writer) => writer.write(batch)?,
        }
        Ok(())
    }

    /// Ends the file (Parquet's footer, the IPC file's) and returns the sink.
    ///
    /// # Errors
    ///
    /// When writing fails.
    pub fn finish(self) -> Result<W, WriteError> {
        Ok(match self.inner {
            Inner::Parquet(writer) => writer.into_inner()?,
            Inner::ArrowIpc(mut writer) => {
                writer.finish()?;
                writer.into_inner()?
            }
        })
    }
}
