//! Payloads to Arrow columns: one [`Column`] per field, nested as the schema nests.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{
    ArrayRef, BooleanBufferBuilder, DictionaryArray, Int32Array, LargeListArray, LargeStringArray,
    LargeStringBuilder, PrimitiveArray, StringArray, StructArray,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, FieldRef, Fields, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, Schema as ArrowSchema, SchemaRef, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use flatstream_inspect::{
    FieldLayout, Layout, Payload, ReadError, Scalar, ScalarValue, Schema, Shape, Table,
};

use crate::UnsupportedSchema;

/// Nesting deeper than this is refused (the FlatBuffers verifier's default).
const MAX_DEPTH: usize = 64;

/// Values of one scalar type, and which are null.
#[derive(Debug)]
enum Values {
    Bool(BooleanBufferBuilder),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Values {
    fn new(scalar: Scalar) -> Self {
        match scalar {
            Scalar::Bool => Values::Bool(BooleanBufferBuilder::new(0)),
            Scalar::I8 => Values::I8(Vec::new()),
            Scalar::U8 => Values::U8(Vec::new()),
            Scalar::I16 => Values::I16(Vec::new()),
            Scalar::U16 => Values::U16(Vec::new()),
            Scalar::I32 => Values::I32(Vec::new()),
            Scalar::U32 => Values::U32(Vec::new()),
            Scalar::I64 => Values::I64(Vec::new()),
            Scalar::U64 => Values::U64(Vec::new()),
            Scalar::F32 => Values::F32(Vec::new()),
            Scalar::F64 => Values::F64(Vec::new()),
        }
    }

    // The value was read as this column's own scalar type, so each conversion is exact.
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
    fn push(&mut self, value: ScalarValue) {
        match (self, value) {
            (Values::Bool(values), ScalarValue::Bool(value)) => values.append(value),
            (Values::I8(values), ScalarValue::Int(value)) => values.push(value as i8),
            (Values::I16(values), ScalarValue::Int(value)) => values.push(value as i16),
            (Values::I32(values), ScalarValue::Int(value)) => values.push(value as i32),
            (Values::I64(values), ScalarValue::Int(value)) => values.push(value),
            (Values::U8(values), ScalarValue::UInt(value)) => values.push(value as u8),
            (Values::U16(values), ScalarValue::UInt(value)) => values.push(value as u16),
            (Values::U32(values), ScalarValue::UInt(value)) => values.push(value as u32),
            (Values::U64(values), ScalarValue::UInt(value)) => values.push(value),
            (Values::F32(values), ScalarValue::F32(value)) => values.push(value),
            (Values::F64(values), ScalarValue::F64(value)) => values.push(value),
            (values, _) => values.push_zero(),
        }
    }

    /// The slot under a null.
    fn push_zero(&mut self) {
        match self {
            Values::Bool(values) => values.append(false),
            Values::I8(values) => values.push(0),
            Values::U8(values) => values.push(0),
            Values::I16(values) => values.push(0),
            Values::U16(values) => values.push(0),
            Values::I32(values) => values.push(0),
            Values::U32(values) => values.push(0),
            Values::I64(values) => values.push(0),
            Values::U64(values) => values.push(0),
            Values::F32(values) => values.push(0.0),
            Values::F64(values) => values.push(0.0),
        }
    }

    fn finish(&mut self, nulls: Option<arrow::buffer::NullBuffer>) -> ArrayRef {
        fn primitive<T: ArrowPrimitiveType>(
            values: &mut Vec<T::Native>,
            nulls: Option<arrow::buffer::NullBuffer>,
        ) -> ArrayRef {
            let values = ScalarBuffer::from(std::mem::take(values));
            Arc::new(PrimitiveArray::<T>::new(values, nulls))
        }
        match self {
            Values::Bool(values) => {
                Arc::new(arrow::array::BooleanArray::new(values.finish(), nulls))
            }
            Values::I8(values) => primitive::<Int8Type>(values, nulls),
            Values::U8(values) => primitive::<UInt8Type>(values, nulls),
            Values::I16(values) => primitive::<Int16Type>(values, nulls),
            Values::U16(values) => primitive::<UInt16Type>(values, nulls),
            Values::I32(values) => primitive::<Int32Type>(values, nulls),
            Values::U32(values) => primitive::<UInt32Type>(values, nulls),
            Values::I64(values) => primitive::<Int64Type>(values, nulls),
            Values::U64(values) => primitive::<UInt64Type>(values, nulls),
            Values::F32(values) => primitive::<Float32Type>(values, nulls),
            Values::F64(values) => primitive::<Float64Type>(values, nulls),
        }
    }
}

fn data_type(scalar: Scalar) -> DataType {
    match scalar {
        Scalar::Bool => DataType::Boolean,
        Scalar::I8 => DataType::Int8,
        Scalar::U8 => DataType::UInt8,
        Scalar::I16 => DataType::Int16,
        Scalar::U16 => DataType::UInt16,
        Scalar::I32 => DataType::Int32,
        Scalar::U32 => DataType::UInt32,
        Scalar::I64 => DataType::Int64,
        Scalar::U64 => DataType::UInt64,
        Scalar::F32 => DataType::Float32,
        Scalar::F64 => DataType::Float64,
    }
}

/// One column being filled, of any shape.
#[derive(Debug)]
enum Column {
    Scalar {
        scalar: Scalar,
        values: Values,
        nulls: NullBufferBuilder,
    },
    /// An enum: keys into the declared names, then names of undeclared values met in this
    /// batch (their numbers as text).
    Enum {
        scalar: Scalar,
        keys: Vec<i32>,
        nulls: NullBufferBuilder,
        declared: Vec<(i64, String)>,
        undeclared: HashMap<i64, i32>,
        undeclared_names: Vec<String>,
    },
    String(LargeStringBuilder),
    /// A table (`is_struct` false: reached through an offset) or a struct (inline).
    Object {
        is_struct: bool,
        fields: Fields,
        layouts: Vec<FieldLayout>,
        children: Vec<Column>,
        nulls: NullBufferBuilder,
    },
    /// A vector (through an offset), or a struct's fixed array (inline, `fixed_len`).
    List {
        field: FieldRef,
        element_size: usize,
        fixed_len: Option<usize>,
        offsets: Vec<i64>,
        nulls: NullBufferBuilder,
        child: Box<Column>,
    },
}

impl Column {
    /// The column for `shape`, and its Arrow type. `path` names the field for messages;
    /// `parents` are the objects it is nested in (a type inside itself is refused).
    fn new(
        layout: &Layout,
        shape: &Shape,
        path: &str,
        parents: &mut Vec<usize>,
    ) -> Result<(Column, DataType), UnsupportedSchema> {
        if parents.len() > MAX_DEPTH {
            return Err(UnsupportedSchema::new(format!("{path}: nested too deeply")));
        }
        Ok(match shape {
            Shape::Scalar(scalar, None) => (
                Column::Scalar {
                    scalar: *scalar,
                    values: Values::new(*scalar),
                    nulls: NullBufferBuilder::new(0),
                },
                data_type(*scalar),
            ),
            Shape::Scalar(scalar, Some(index)) => {
                let declared = &layout.enums[*index];
                if declared.is_union {
                    return Err(UnsupportedSchema::union(path));
                }
                (
                    Column::Enum {
                        scalar: *scalar,
                        keys: Vec::new(),
                        nulls: NullBufferBuilder::new(0),
                        declared: declared
                            .values
                            .iter()
                            .map(|(value, name, _)| (*value, name.clone()))
                            .collect(),
                        undeclared: HashMap::new(),
                        undeclared_names: Vec::new(),
                    },
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                )
            }
            Shape::String => (
                Column::String(LargeStringBuilder::new()),
                DataType::LargeUtf8,
            ),
            Shape::Table(object) | Shape::Struct(object) => {
                if parents.contains(object) {
                    return Err(UnsupportedSchema::new(format!(
                        "{path}: table `{}` contains itself, which has no Arrow type",
                        layout.objects[*object].name
                    )));
                }
                parents.push(*object);
                let mut fields = Vec::new();
                let mut children = Vec::new();
                let layouts = layout.objects[*object].fields.clone();
                for field in &layouts {
                    let child_path = format!("{path}.{}", field.name);
                    let (child, data_type) =
                        Column::new(layout, &field.shape, &child_path, parents)?;
                    fields.push(Field::new(&field.name, data_type, true));
                    children.push(child);
                }
                parents.pop();
                let fields = Fields::from(fields);
                (
                    Column::Object {
                        is_struct: matches!(shape, Shape::Struct(_)),
                        fields: fields.clone(),
                        layouts,
                        children,
                        nulls: NullBufferBuilder::new(0),
                    },
                    DataType::Struct(fields),
                )
            }
            Shape::Vector(element) | Shape::Array(element, _) => {
                let (child, data_type) =
                    Column::new(layout, element, &format!("{path}[]"), parents)?;
                let field = Arc::new(Field::new("item", data_type, true));
                let element_size = match &**element {
                    Shape::Scalar(scalar, _) => scalar.size(),
                    Shape::Struct(object) => layout.objects[*object].bytesize,
                    _ => 4,
                };
                let fixed_len = match shape {
                    Shape::Array(_, len) => Some(*len),
                    _ => None,
                };
                (
                    Column::List {
                        field: field.clone(),
                        element_size,
                        fixed_len,
                        offsets: vec![0],
                        nulls: NullBufferBuilder::new(0),
                        child: Box::new(child),
                    },
                    DataType::LargeList(field),
                )
            }
            Shape::Union(_) => return Err(UnsupportedSchema::union(path)),
            Shape::Unsupported(reason) => {
                return Err(UnsupportedSchema::new(format!("{path}: {reason}")));
            }
        })
    }

    fn push_null(&mut self) {
        match self {
            Column::Scalar { values, nulls, .. } => {
                values.push_zero();
                nulls.append_null();
            }
            Column::Enum { keys, nulls, .. } => {
                keys.push(0);
                nulls.append_null();
            }
            Column::String(builder) => builder.append_null(),
            Column::Object {
                children, nulls, ..
            } => {
                for child in children {
                    child.push_null();
                }
                nulls.append_null();
            }
            Column::List { offsets, nulls, .. } => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                nulls.append_null();
            }
        }
    }

    fn push_scalar(&mut self, value: ScalarValue) {
        match self {
            Column::Scalar { values, nulls, .. } => {
                values.push(value);
                nulls.append_non_null();
            }
            Column::Enum {
                keys,
                nulls,
                declared,
                undeclared,
                undeclared_names,
                ..
            } => {
                let number = value.as_enum_value();
                let key = number
                    .and_then(|number| declared.binary_search_by_key(&number, |(v, _)| *v).ok())
                    .map_or_else(
                        || {
                            let number = number.unwrap_or(i64::MAX);
                            let next = declared.len() + undeclared_names.len();
                            *undeclared.entry(number).or_insert_with(|| {
                                undeclared_names.push(number.to_string());
                                i32::try_from(next).unwrap_or(i32::MAX)
                            })
                        },
                        |at| i32::try_from(at).unwrap_or(i32::MAX),
                    );
                keys.push(key);
                nulls.append_non_null();
            }
            other => other.push_null(),
        }
    }

    /// A table's field: `at` is where its slot is, `None` when it is absent.
    fn push_field(
        &mut self,
        payload: Payload<'_>,
        at: Option<usize>,
        field: &FieldLayout,
        depth: usize,
    ) -> Result<(), ReadError> {
        match (self, at) {
            (column @ (Column::Scalar { .. } | Column::Enum { .. }), None) => {
                if field.optional {
                    column.push_null();
                } else {
                    let scalar = match column {
                        Column::Scalar { scalar, .. } | Column::Enum { scalar, .. } => *scalar,
                        _ => Scalar::U8,
                    };
                    column.push_scalar(ScalarValue::default_of(
                        scalar,
                        field.default_integer,
                        field.default_real,
                    ));
                }
                Ok(())
            }
            (column, None) => {
                column.push_null();
                Ok(())
            }
            (column, Some(at)) => column.push_at(payload, at, depth),
        }
    }

    /// A value whose slot is at `at`: scalars and structs inline, strings, tables and
    /// vectors through the offset there.
    fn push_at(&mut self, payload: Payload<'_>, at: usize, depth: usize) -> Result<(), ReadError> {
        if depth > MAX_DEPTH {
            return Err(ReadError {
                offset: at,
                reason: "nested too deeply",
            });
        }
        match self {
            Column::Scalar { scalar, .. } | Column::Enum { scalar, .. } => {
                let value = payload.scalar(at, *scalar)?;
                self.push_scalar(value);
            }
            Column::String(builder) => {
                builder.append_value(payload.string(payload.deref(at)?)?);
            }
            Column::Object {
                is_struct,
                layouts,
                children,
                nulls,
                ..
            } => {
                if *is_struct {
                    for (child, field) in children.iter_mut().zip(layouts.iter()) {
                        child.push_at(payload, at + usize::from(field.offset), depth + 1)?;
                    }
                } else {
                    let table = payload.table(payload.deref(at)?)?;
                    push_table(children, layouts, payload, table, depth + 1)?;
                }
                nulls.append_non_null();
            }
            Column::List {
                element_size,
                fixed_len,
                offsets,
                nulls,
                child,
                ..
            } => {
                let (start, len) = match fixed_len {
                    Some(len) => (at, *len),
                    None => payload.vector(payload.deref(at)?, *element_size)?,
                };
                for index in 0..len {
                    child.push_at(payload, start + index * *element_size, depth + 1)?;
                }
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last + i64::try_from(len).unwrap_or(i64::MAX));
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            Column::Scalar { values, nulls, .. } => values.finish(nulls.finish()),
            Column::Enum {
                keys,
                nulls,
                declared,
                undeclared,
                undeclared_names,
                ..
            } => {
                let keys =
                    Int32Array::new(ScalarBuffer::from(std::mem::take(keys)), nulls.finish());
                let names = declared
                    .iter()
                    .map(|(_, name)| name.as_str())
                    .chain(undeclared_names.iter().map(String::as_str));
                let values: ArrayRef = Arc::new(StringArray::from_iter_values(names));
                undeclared.clear();
                undeclared_names.clear();
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values)?)
            }
            Column::String(builder) => {
                let array: LargeStringArray = builder.finish();
                Arc::new(array)
            }
            Column::Object {
                fields,
                children,
                nulls,
                ..
            } => {
                let len = nulls.len();
                let arrays = children
                    .iter_mut()
                    .map(Column::finish)
                    .collect::<Result<Vec<_>, _>>()?;
                Arc::new(StructArray::try_new_with_length(
                    fields.clone(),
                    arrays,
                    nulls.finish(),
                    len,
                )?)
            }
            Column::List {
                field,
                offsets,
                nulls,
                child,
                ..
            } => {
                let offsets =
                    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(LargeListArray::try_new(
                    field.clone(),
                    offsets,
                    child.finish()?,
                    nulls.finish(),
                )?)
            }
        })
    }
}

/// A table's fields into their columns.
fn push_table(
    children: &mut [Column],
    layouts: &[FieldLayout],
    payload: Payload<'_>,
    table: Table,
    depth: usize,
) -> Result<(), ReadError> {
    for (child, field) in children.iter_mut().zip(layouts) {
        let at = payload.field(table, field.offset)?;
        child.push_field(payload, at, field, depth)?;
    }
    Ok(())
}

/// Turns payloads into Arrow [`RecordBatch`]es: one row per payload, one column per field
/// of the root table.
///
/// Memory is the rows pushed since the last [`finish`](Self::finish): call it every N rows
/// ([`RecordBatches`](crate::RecordBatches) does).
#[derive(Debug)]
pub struct BatchBuilder {
    arrow_schema: SchemaRef,
    layouts: Vec<FieldLayout>,
    columns: Vec<Column>,
    rows: usize,
}

impl BatchBuilder {
    /// A builder for payloads of `schema`'s root type.
    ///
    /// # Errors
    ///
    /// [`UnsupportedSchema`] when the root type reaches a union (Parquet has no union type;
    /// a clear refusal rather than a lossy encoding), a vector of unions, or a table that
    /// contains itself.
    pub fn new(schema: &Schema) -> Result<Self, UnsupportedSchema> {
        let layout = schema.layout();
        let root = &layout.objects[layout.root];
        let mut parents = vec![layout.root];
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for field in &root.fields {
            let (column, data_type) = Column::new(layout, &field.shape, &field.name, &mut parents)?;
            fields.push(Field::new(&field.name, data_type, true));
            columns.push(column);
        }
        Ok(BatchBuilder {
            arrow_schema: Arc::new(ArrowSchema::new(fields)),
            layouts: root.fields.clone(),
            columns,
            rows: 0,
        })
    }

    /// The Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.arrow_schema.clone()
    }

    /// Rows pushed since the last batch.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was pushed since the last batch.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one payload as a row. The payload should have passed
    /// [`Verifier`](flatstream_inspect::Verifier); one that did not is still read safely.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when the payload's offsets lead outside it; the builder is then
    /// unusable for the current batch (some columns may hold the row, others not), so stop.
    pub fn push(&mut self, payload: &[u8]) -> Result<(), ReadError> {
        let payload = Payload::new(payload);
        let root = payload.root()?;
        push_table(&mut self.columns, &self.layouts, payload, root, 0)?;
        self.rows += 1;
        Ok(())
    }

    /// The rows pushed since the last batch, as a batch; the builder starts a new one.
    ///
    /// # Errors
    ///
    /// An [`ArrowError`] when the columns do not make a batch (a bug, not bad data).
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns = self
            .columns
            .iter_mut()
            .map(Column::finish)
            .collect::<Result<Vec<_>, _>>()?;
        let rows = std::mem::take(&mut self.rows);
        RecordBatch::try_new_with_options(
            self.arrow_schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}
