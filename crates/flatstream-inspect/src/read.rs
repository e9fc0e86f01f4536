//! Reading a payload's tables, vectors and scalars with a bounds check at every step.
//!
//! Every read goes through [`Payload`], which returns a [`ReadError`] rather than reading
//! out of bounds: a payload the verifier passed is read as it says, and one it did not see
//! (or a bug here) is an error, never undefined behaviour or a panic.

use std::fmt;

use crate::schema::Scalar;

/// Where and why reading a payload failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadError {
    /// The byte offset in the payload.
    pub offset: usize,
    /// What was being read.
    pub reason: &'static str,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at payload offset {}", self.reason, self.offset)
    }
}

impl std::error::Error for ReadError {}

/// A scalar as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarValue {
    /// A `bool`.
    Bool(bool),
    /// A signed integer of any width.
    Int(i64),
    /// An unsigned integer of any width.
    UInt(u64),
    /// A `float`, kept as such so that it prints as the shortest `f32`.
    F32(f32),
    /// A `double`.
    F64(f64),
}

impl ScalarValue {
    /// The value as `i64`, for enum lookups (an unsigned value past `i64::MAX` matches none).
    pub fn as_enum_value(self) -> Option<i64> {
        match self {
            ScalarValue::Bool(value) => Some(i64::from(value)),
            ScalarValue::Int(value) => Some(value),
            ScalarValue::UInt(value) => i64::try_from(value).ok(),
            ScalarValue::F32(_) | ScalarValue::F64(_) => None,
        }
    }

    /// A field's default: `integer` for integers, bools and enums, `real` for floats.
    pub fn default_of(scalar: Scalar, integer: i64, real: f64) -> ScalarValue {
        match scalar {
            Scalar::Bool => ScalarValue::Bool(integer != 0),
            Scalar::I8 | Scalar::I16 | Scalar::I32 | Scalar::I64 => ScalarValue::Int(integer),
            // The schema stores an unsigned default in the i64's bits.
            Scalar::U8 | Scalar::U16 | Scalar::U32 | Scalar::U64 => {
                ScalarValue::UInt(integer.cast_unsigned())
            }
            #[allow(clippy::cast_possible_truncation)] // A float field's default is an f32.
            Scalar::F32 => ScalarValue::F32(real as f32),
            Scalar::F64 => ScalarValue::F64(real),
        }
    }
}

/// A payload, read with bounds checks.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    bytes: &'a [u8],
}

/// A table found in a payload: its position and its vtable's.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Where the table starts.
    pub pos: usize,
    vtable: usize,
    vtable_len: u16,
}

impl<'a> Payload<'a> {
    /// Wraps a payload's bytes.
    pub fn new(bytes: &'a [u8]) -> Self {
        Payload { bytes }
    }

    fn array<const N: usize>(self, at: usize) -> Result<[u8; N], ReadError> {
        at.checked_add(N)
            .and_then(|end| self.bytes.get(at..end))
            .and_then(|slice| slice.try_into().ok())
            .ok_or(ReadError {
                offset: at,
                reason: "read past the end of the payload",
            })
    }

    fn u16(self, at: usize) -> Result<u16, ReadError> {
        self.array(at).map(u16::from_le_bytes)
    }

    fn u32(self, at: usize) -> Result<u32, ReadError> {
        self.array(at).map(u32::from_le_bytes)
    }

    /// Follows the unsigned offset stored at `at`.
    ///
    /// # Errors
    ///
    /// When the offset lies outside the payload.
    pub fn deref(self, at: usize) -> Result<usize, ReadError> {
        let offset = self.u32(at)? as usize;
        at.checked_add(offset).ok_or(ReadError {
            offset: at,
            reason: "offset overflows",
        })
    }

    /// The root table.
    ///
    /// # Errors
    ///
    /// When the payload is too short or its offsets point outside it.
    pub fn root(self) -> Result<Table, ReadError> {
        let pos = self.deref(0)?;
        self.table(pos)
    }

    /// The table at `pos`.
    ///
    /// # Errors
    ///
    /// When its vtable lies outside the payload.
    pub fn table(self, pos: usize) -> Result<Table, ReadError> {
        let soffset = i64::from(i32::from_le_bytes(self.array(pos)?));
        let vtable = i64::try_from(pos)
            .ok()
            .and_then(|pos| pos.checked_sub(soffset))
            .and_then(|vtable| usize::try_from(vtable).ok())
            .ok_or(ReadError {
                offset: pos,
                reason: "vtable offset out of range",
            })?;
        let vtable_len = self.u16(vtable)?;
        Ok(Table {
            pos,
            vtable,
            vtable_len,
        })
    }

    /// Where the field in vtable slot `slot` of `table` is, or `None` when it is absent.
    ///
    /// # Errors
    ///
    /// When the vtable is cut short.
    pub fn field(self, table: Table, slot: u16) -> Result<Option<usize>, ReadError> {
        if slot.saturating_add(2) > table.vtable_len {
            return Ok(None);
        }
        match self.u16(table.vtable + usize::from(slot))? {
            0 => Ok(None),
            offset => Ok(Some(table.pos + usize::from(offset))),
        }
    }

    /// The scalar at `at`.
    ///
    /// # Errors
    ///
    /// When it lies outside the payload.
    pub fn scalar(self, at: usize, scalar: Scalar) -> Result<ScalarValue, ReadError> {
        Ok(match scalar {
            Scalar::Bool => ScalarValue::Bool(self.array::<1>(at)?[0] != 0),
            Scalar::I8 => ScalarValue::Int(i64::from(i8::from_le_bytes(self.array(at)?))),
            Scalar::U8 => ScalarValue::UInt(u64::from(self.array::<1>(at)?[0])),
            Scalar::I16 => ScalarValue::Int(i64::from(i16::from_le_bytes(self.array(at)?))),
            Scalar::U16 => ScalarValue::UInt(u64::from(self.u16(at)?)),
            Scalar::I32 => ScalarValue::Int(i64::from(i32::from_le_bytes(self.array(at)?))),
            Scalar::U32 => ScalarValue::UInt(u64::from(self.u32(at)?)),
            Scalar::I64 => ScalarValue::Int(i64::from_le_bytes(self.array(at)?)),
            Scalar::U64 => ScalarValue::UInt(u64::from_le_bytes(self.array(at)?)),
            Scalar::F32 => ScalarValue::F32(f32::from_le_bytes(self.array(at)?)),
            Scalar::F64 => ScalarValue::F64(f64::from_le_bytes(self.array(at)?)),
        })
    }

    /// The string at `pos` (its length field).
    ///
    /// # Errors
    ///
    /// When it lies outside the payload or is not UTF-8.
    pub fn string(self, pos: usize) -> Result<&'a str, ReadError> {
        let (start, len) = self.vector(pos, 1)?;
        std::str::from_utf8(&self.bytes[start..start + len]).map_err(|_| ReadError {
            offset: pos,
            reason: "string is not UTF-8",
        })
    }

    /// The vector at `pos` (its length field) of elements `element_size` bytes wide: where
    /// its first element is, and how many there are.
    ///
    /// # Errors
    ///
    /// When its elements do not all lie inside the payload.
    pub fn vector(self, pos: usize, element_size: usize) -> Result<(usize, usize), ReadError> {
        let len = self.u32(pos)? as usize;
        let start = pos + 4;
        let fits = len
            .checked_mul(element_size)
            .and_then(|size| start.checked_add(size))
            .is_some_and(|end| end <= self.bytes.len());
        if fits {
            Ok((start, len))
        } else {
            Err(ReadError {
                offset: pos,
                reason: "vector runs past the end of the payload",
            })
        }
    }
}
