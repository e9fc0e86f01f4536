//! The message the benches and the inlining probe write: raw bytes as a FlatBuffer vector.

use flatbuffers::{Allocator, FlatBufferBuilder};
use flatstream::{Result, StreamSerialize};

/// A message of `len` raw bytes, serialized as a FlatBuffer vector root.
pub(crate) struct Blob<'a>(pub(crate) &'a [u8]);

impl StreamSerialize for Blob<'_> {
    fn serialize<'fbb, A: Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> Result<()> {
        let bytes = builder.create_vector(self.0);
        builder.finish_minimal(bytes);
        Ok(())
    }
}
