//! JSON output: one object per payload, fields by name.
//!
//! How values print:
//!
//! | FlatBuffers | JSON |
//! | --- | --- |
//! | `bool` | `true` / `false` |
//! | integers of every width | numbers, written from the integer (`u64::MAX` prints exactly) |
//! | `float`, `double` | shortest numbers that read back to the same value; NaN and the infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON has no such numbers) |
//! | enum | the value's name as a string; a value the schema does not name, as its number |
//! | string | string |
//! | table, struct | object, fields in declaration order |
//! | vector, array | array |
//! | union | its type field by name (`"x_type": "Name"`), and its value (`"x"`) as the member prints |
//!
//! A scalar field absent from a table prints its default (as the generated accessors return
//! it); an absent optional scalar (`= null`), string, table, struct, vector or union value
//! prints `null`, so every line has the same keys. Deprecated fields are left out.

use crate::read::{Payload, ReadError, ScalarValue, Table};
use crate::schema::{Layout, Shape, UnionMember};

/// Nesting deeper than this is refused (the FlatBuffers verifier's default).
const MAX_DEPTH: usize = 64;
/// Tables, structs and vector elements visited in one payload: bounds the work when tables
/// are shared (a payload may point at one table from many places).
const MAX_NODES: usize = 1_000_000;

/// Writes payloads as JSON with a schema's [`Layout`]. Keys and enum names are escaped once,
/// here.
#[derive(Debug, Clone)]
pub struct JsonWriter<'s> {
    layout: &'s Layout,
    /// Per object, per field: `"name":`.
    keys: Vec<Vec<Vec<u8>>>,
    /// Per enum, per value (in `values` order): `"Name"`.
    names: Vec<Vec<Vec<u8>>>,
}

struct Walk<'a, 'w> {
    payload: Payload<'a>,
    out: &'w mut Vec<u8>,
    nodes: usize,
}

impl Walk<'_, '_> {
    fn enter(&mut self, depth: usize, at: usize) -> Result<(), ReadError> {
        self.nodes += 1;
        if depth > MAX_DEPTH {
            return Err(ReadError {
                offset: at,
                reason: "nested too deeply",
            });
        }
        if self.nodes > MAX_NODES {
            return Err(ReadError {
                offset: at,
                reason: "too many tables and elements",
            });
        }
        Ok(())
    }
}

impl<'s> JsonWriter<'s> {
    /// A writer for payloads of `layout`'s root type.
    pub fn new(layout: &'s Layout) -> Self {
        let keys = layout
            .objects
            .iter()
            .map(|object| {
                object
                    .fields
                    .iter()
                    .map(|field| {
                        let mut key = Vec::new();
                        write_string(&mut key, &field.name);
                        key.push(b':');
                        key
                    })
                    .collect()
            })
            .collect();
        let names = layout
            .enums
            .iter()
            .map(|declared| {
                declared
                    .values
                    .iter()
                    .map(|(_, name, _)| {
                        let mut quoted = Vec::new();
                        write_string(&mut quoted, name);
                        quoted
                    })
                    .collect()
            })
            .collect();
        JsonWriter {
            layout,
            keys,
            names,
        }
    }

    /// Appends the payload as one JSON object (no line ending) to `out`; on an error, `out`
    /// is left as it was.
    ///
    /// The payload should have passed [`Verifier`](crate::Verifier); one that did not is
    /// still read safely, with an error where it goes wrong.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when the payload's offsets lead outside it, a union's type is not in
    /// the schema, or it nests too deeply.
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), ReadError> {
        let start = out.len();
        let mut walk = Walk {
            payload: Payload::new(payload),
            out,
            nodes: 0,
        };
        let result = walk
            .payload
            .root()
            .and_then(|root| self.table(&mut walk, root, self.layout.root, 0));
        if result.is_err() {
            walk.out.truncate(start);
        }
        result
    }

    fn table(
        &self,
        walk: &mut Walk<'_, '_>,
        table: Table,
        object: usize,
        depth: usize,
    ) -> Result<(), ReadError> {
        walk.enter(depth, table.pos)?;
        let payload = walk.payload;
        walk.out.push(b'{');
        for (index, field) in self.layout.objects[object].fields.iter().enumerate() {
            if index > 0 {
                walk.out.push(b',');
            }
            walk.out.extend_from_slice(&self.keys[object][index]);
            let at = payload.field(table, field.offset)?;
            match (&field.shape, at) {
                (Shape::Scalar(scalar, enum_index), Some(at)) => {
                    let value = payload.scalar(at, *scalar)?;
                    self.scalar(walk.out, value, *enum_index);
                }
                (Shape::Scalar(_, _), None) if field.optional => null(walk.out),
                (Shape::Scalar(scalar, enum_index), None) => {
                    let value =
                        ScalarValue::default_of(*scalar, field.default_integer, field.default_real);
                    self.scalar(walk.out, value, *enum_index);
                }
                (Shape::String, Some(at)) => {
                    write_string(walk.out, payload.string(payload.deref(at)?)?);
                }
                (Shape::Table(child), Some(at)) => {
                    let child_table = payload.table(payload.deref(at)?)?;
                    self.table(walk, child_table, *child, depth + 1)?;
                }
                (Shape::Struct(child), Some(at)) => self.structure(walk, at, *child, depth + 1)?,
                (Shape::Vector(element), Some(at)) => {
                    self.vector(walk, payload.deref(at)?, element, depth + 1)?;
                }
                (Shape::Union(union), Some(at)) => {
                    let type_at = match field.union_type_offset {
                        Some(slot) => payload.field(table, slot)?,
                        None => None,
                    };
                    let member_type = match type_at {
                        Some(type_at) => payload.scalar(type_at, crate::Scalar::U8)?,
                        None => ScalarValue::UInt(0),
                    };
                    let member = member_type
                        .as_enum_value()
                        .and_then(|value| self.layout.enums[*union].find(value))
                        .ok_or(ReadError {
                            offset: at,
                            reason: "union type not in the schema",
                        })?
                        .1;
                    let value_at = payload.deref(at)?;
                    match member {
                        UnionMember::None => null(walk.out),
                        UnionMember::String => write_string(walk.out, payload.string(value_at)?),
                        UnionMember::Table(child) => {
                            let child_table = payload.table(value_at)?;
                            self.table(walk, child_table, child, depth + 1)?;
                        }
                        UnionMember::Struct(child) => {
                            self.structure(walk, value_at, child, depth + 1)?;
                        }
                    }
                }
                _ => null(walk.out),
            }
        }
        walk.out.push(b'}');
        Ok(())
    }

    fn structure(
        &self,
        walk: &mut Walk<'_, '_>,
        pos: usize,
        object: usize,
        depth: usize,
    ) -> Result<(), ReadError> {
        walk.enter(depth, pos)?;
        walk.out.push(b'{');
        for (index, field) in self.layout.objects[object].fields.iter().enumerate() {
            if index > 0 {
                walk.out.push(b',');
            }
            walk.out.extend_from_slice(&self.keys[object][index]);
            let at = pos + usize::from(field.offset);
            match &field.shape {
                Shape::Array(element, len) => {
                    walk.out.push(b'[');
                    let size = self.inline_size(element);
                    for i in 0..*len {
                        if i > 0 {
                            walk.out.push(b',');
                        }
                        self.inline(walk, at + i * size, element, depth + 1)?;
                    }
                    walk.out.push(b']');
                }
                shape => self.inline(walk, at, shape, depth + 1)?,
            }
        }
        walk.out.push(b'}');
        Ok(())
    }

    /// The size of a value stored inline (in a struct or a vector of structs or scalars).
    fn inline_size(&self, shape: &Shape) -> usize {
        match shape {
            Shape::Scalar(scalar, _) => scalar.size(),
            Shape::Struct(object) => self.layout.objects[*object].bytesize,
            _ => 4,
        }
    }

    /// A scalar or struct stored inline at `at`.
    fn inline(
        &self,
        walk: &mut Walk<'_, '_>,
        at: usize,
        shape: &Shape,
        depth: usize,
    ) -> Result<(), ReadError> {
        match shape {
            Shape::Scalar(scalar, enum_index) => {
                let value = walk.payload.scalar(at, *scalar)?;
                self.scalar(walk.out, value, *enum_index);
                Ok(())
            }
            Shape::Struct(object) => self.structure(walk, at, *object, depth),
            _ => {
                null(walk.out);
                Ok(())
            }
        }
    }

    fn vector(
        &self,
        walk: &mut Walk<'_, '_>,
        pos: usize,
        element: &Shape,
        depth: usize,
    ) -> Result<(), ReadError> {
        walk.enter(depth, pos)?;
        let payload = walk.payload;
        let size = self.inline_size(element);
        let (start, len) = payload.vector(pos, size)?;
        walk.out.push(b'[');
        for i in 0..len {
            if i > 0 {
                walk.out.push(b',');
            }
            let at = start + i * size;
            match element {
                Shape::String => write_string(walk.out, payload.string(payload.deref(at)?)?),
                Shape::Table(object) => {
                    walk.nodes += 1;
                    let table = payload.table(payload.deref(at)?)?;
                    self.table(walk, table, *object, depth + 1)?;
                }
                inline => {
                    walk.nodes += 1;
                    if walk.nodes > MAX_NODES {
                        return Err(ReadError {
                            offset: at,
                            reason: "too many tables and elements",
                        });
                    }
                    self.inline(walk, at, inline, depth + 1)?;
                }
            }
        }
        walk.out.push(b']');
        Ok(())
    }

    fn scalar(&self, out: &mut Vec<u8>, value: ScalarValue, enum_index: Option<usize>) {
        if let Some(enum_index) = enum_index
            && let Some(position) = value
                .as_enum_value()
                .and_then(|value| self.layout.enums[enum_index].position(value))
        {
            out.extend_from_slice(&self.names[enum_index][position]);
            return;
        }
        write_scalar(out, value);
    }
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

/// A scalar as a JSON value: integers exactly, floats shortest, NaN and infinities as
/// strings.
pub(crate) fn write_scalar(out: &mut Vec<u8>, value: ScalarValue) {
    match value {
        ScalarValue::Bool(true) => out.extend_from_slice(b"true"),
        ScalarValue::Bool(false) => out.extend_from_slice(b"false"),
        ScalarValue::Int(value) => {
            out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
        ScalarValue::UInt(value) => {
            out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
        ScalarValue::F32(value) if value.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
        }
        ScalarValue::F64(value) if value.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
        }
        ScalarValue::F32(value) => write_non_finite(out, f64::from(value)),
        ScalarValue::F64(value) => write_non_finite(out, value),
    }
}

fn write_non_finite(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(if value.is_nan() {
        b"\"NaN\""
    } else if value > 0.0 {
        b"\"Infinity\""
    } else {
        b"\"-Infinity\""
    });
}

/// A JSON string: quotes, backslashes and control characters escaped.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..at]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        plain_from = at + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}
