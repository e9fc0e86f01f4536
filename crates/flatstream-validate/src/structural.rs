//! [`StructuralValidator`]: a well-formed FlatBuffer with a table root, schema unknown.

use flatbuffers::{ForwardsUOffset, InvalidFlatbuffer, Verifiable, Verifier, VerifierOptions};
use flatstream_core::{Error, Result, Validator};

/// Accepts payloads that are well-formed FlatBuffers whose root is a table, without knowing
/// the schema.
///
/// It checks what every FlatBuffer must satisfy: the root offset lies inside the payload and
/// is aligned; the root table's vtable lies inside the payload, is aligned and holds its
/// 4-byte header; the table's inline size fits in the payload; and every field the vtable
/// lists lies inside the table. (The `flatbuffers` verifier itself leaves the last two to
/// the per-field checks of a typed verifier, which cannot run without the schema.) Fields
/// cannot be followed without the schema; use a [`TypedValidator`](crate::TypedValidator)
/// for that. The `flatbuffers` verifier's limits
/// (depth, tables, apparent size) are configurable and apply to what is checked.
///
/// ```
/// use flatstream_validate::{StructuralValidator, Validator};
///
/// let mut builder = flatbuffers::FlatBufferBuilder::new();
/// let table = builder.start_table();
/// let table = builder.end_table(table);
/// builder.finish_minimal(table);
///
/// let validator = StructuralValidator::new();
/// assert!(validator.validate(builder.finished_data()).is_ok());
/// assert!(validator.validate(b"not a flatbuffer").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructuralValidator {
    options: VerifierOptions,
}

impl StructuralValidator {
    /// A validator with the `flatbuffers` verifier's default limits.
    pub fn new() -> Self {
        Self::with_options(VerifierOptions::default())
    }

    /// A validator with the given verifier limits.
    pub fn with_options(options: VerifierOptions) -> Self {
        StructuralValidator { options }
    }

    /// Sets the deepest nesting of tables allowed (default 64).
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.options.max_depth = max_depth;
        self
    }

    /// Sets the most tables a payload may hold (default 1 000 000).
    #[must_use]
    pub fn with_max_tables(mut self, max_tables: usize) -> Self {
        self.options.max_tables = max_tables;
        self
    }

    /// Sets the largest apparent size, counting shared objects each time they are reached
    /// (default 2 GiB).
    #[must_use]
    pub fn with_max_apparent_size(mut self, max_apparent_size: usize) -> Self {
        self.options.max_apparent_size = max_apparent_size;
        self
    }

    /// The verifier limits in force.
    pub fn options(&self) -> &VerifierOptions {
        &self.options
    }
}

impl Default for StructuralValidator {
    fn default() -> Self {
        Self::new()
    }
}

/// A table of unknown type: its vtable and inline size are checked, its fields are not.
struct AnyTable;

impl Verifiable for AnyTable {
    fn run_verifier(
        verifier: &mut Verifier<'_, '_>,
        position: usize,
    ) -> std::result::Result<(), InvalidFlatbuffer> {
        verifier.visit_table(position)?.finish();
        Ok(())
    }
}

/// The layout checks the verifier leaves to typed field checks: table size and field slots.
/// Runs after the verifier accepted the root offset and vtable, yet reads every byte with
/// `get` so that it cannot panic whatever it is given.
fn check_root_table_layout(payload: &[u8]) -> std::result::Result<(), String> {
    let u16_at = |pos: usize| {
        payload
            .get(pos..pos.checked_add(2)?)
            .map(|bytes| u16::from_le_bytes([bytes[0], bytes[1]]))
    };
    let u32_at = |pos: usize| {
        payload
            .get(pos..pos.checked_add(4)?)
            .map(|bytes| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let outside = || "root table lies outside the payload".to_owned();
    let table_offset = u32_at(0).ok_or_else(outside)?;
    let table = table_offset as usize;
    // The vtable lies at the table's position minus a signed 32-bit offset.
    let vtable_offset = i64::from(i32::from_le_bytes(
        u32_at(table).ok_or_else(outside)?.to_le_bytes(),
    ));
    let vtable = usize::try_from(i64::from(table_offset) - vtable_offset).map_err(|_| outside())?;
    let vtable_len = usize::from(u16_at(vtable).ok_or_else(outside)?);
    if vtable_len < 4 {
        return Err(format!(
            "vtable of {vtable_len} bytes is shorter than its 4-byte header"
        ));
    }
    let table_len = usize::from(u16_at(vtable + 2).ok_or_else(outside)?);
    if table_len < 4 {
        return Err(format!(
            "root table of {table_len} bytes cannot hold its vtable offset"
        ));
    }
    if table + table_len > payload.len() {
        return Err(format!(
            "root table of {table_len} bytes at offset {table} runs past the end of the {}-byte payload",
            payload.len()
        ));
    }
    for slot in (4..vtable_len).step_by(2) {
        let field = usize::from(u16_at(vtable + slot).ok_or_else(outside)?);
        if field != 0 && field >= table_len {
            return Err(format!(
                "field {} lies at offset {field}, outside the {table_len}-byte root table",
                slot / 2 - 2
            ));
        }
    }
    Ok(())
}

impl Validator for StructuralValidator {
    fn validate(&self, payload: &[u8]) -> Result<()> {
        let mut verifier = Verifier::new(&self.options, payload);
        <ForwardsUOffset<AnyTable>>::run_verifier(&mut verifier, 0)
            .map_err(|error| error.to_string().trim_end().to_owned())
            .and_then(|()| check_root_table_layout(payload))
            .map_err(|reason| Error::validation_failed(self.name(), reason))
    }

    fn name(&self) -> &'static str {
        "structural"
    }
}
