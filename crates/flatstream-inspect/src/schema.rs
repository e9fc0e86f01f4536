//! Loading a binary schema: checking it, choosing the root type, and compiling each table,
//! struct and enum into the [`Layout`] that the readers walk.

use std::fmt;

use flatbuffers::FlatBufferBuilder;
use flatbuffers_reflection::reflection::{
    self, BaseType, EnumArgs, EnumValArgs, FieldArgs, ObjectArgs, SchemaArgs, TypeArgs,
};

/// Why a binary schema cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    message: String,
}

impl SchemaError {
    fn new(message: impl Into<String>) -> Self {
        SchemaError {
            message: message.into(),
        }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SchemaError {}

/// A fixed-width value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// `bool`, one byte.
    Bool,
    /// `byte` (`int8`).
    I8,
    /// `ubyte` (`uint8`); also a union's type field.
    U8,
    /// `short` (`int16`).
    I16,
    /// `ushort` (`uint16`).
    U16,
    /// `int` (`int32`).
    I32,
    /// `uint` (`uint32`).
    U32,
    /// `long` (`int64`).
    I64,
    /// `ulong` (`uint64`).
    U64,
    /// `float` (`float32`).
    F32,
    /// `double` (`float64`).
    F64,
}

impl Scalar {
    fn of(base_type: BaseType) -> Option<Scalar> {
        Some(match base_type {
            BaseType::Bool => Scalar::Bool,
            BaseType::Byte => Scalar::I8,
            BaseType::UByte | BaseType::UType => Scalar::U8,
            BaseType::Short => Scalar::I16,
            BaseType::UShort => Scalar::U16,
            BaseType::Int => Scalar::I32,
            BaseType::UInt => Scalar::U32,
            BaseType::Long => Scalar::I64,
            BaseType::ULong => Scalar::U64,
            BaseType::Float => Scalar::F32,
            BaseType::Double => Scalar::F64,
            _ => return None,
        })
    }

    /// Its width in bytes.
    pub fn size(self) -> usize {
        match self {
            Scalar::Bool | Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::I64 | Scalar::U64 | Scalar::F64 => 8,
        }
    }

    /// Whether it is `float` or `double`.
    pub fn is_float(self) -> bool {
        matches!(self, Scalar::F32 | Scalar::F64)
    }
}

/// The shape of a field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A scalar; with `Some(index)` into [`Layout::enums`] when it is an enum (or a union's
    /// type field).
    Scalar(Scalar, Option<usize>),
    /// A UTF-8 string.
    String,
    /// A table, by index into [`Layout::objects`].
    Table(usize),
    /// A struct, by index into [`Layout::objects`].
    Struct(usize),
    /// A vector of the element shape (a scalar, string, table or struct).
    Vector(Box<Shape>),
    /// A fixed-length array inside a struct: element shape and length.
    Array(Box<Shape>, usize),
    /// A union's value, by index into [`Layout::enums`]; its type is the field before it.
    Union(usize),
    /// What this crate does not read (such as a vector of unions), with the reason.
    Unsupported(&'static str),
}

/// One field of a table or struct.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldLayout {
    /// Its name in the schema.
    pub name: String,
    /// The field's id (declaration order).
    pub id: u16,
    /// In a table: the vtable slot (`4 + 2 * id`); in a struct: the byte offset in the struct.
    pub offset: u16,
    /// What it holds.
    pub shape: Shape,
    /// The default of an integer, bool or enum field, as the schema gives it.
    pub default_integer: i64,
    /// The default of a float field.
    pub default_real: f64,
    /// Declared `= null`: an absent value is null, not the default.
    pub optional: bool,
    /// For a union's value field: the vtable slot of its type field.
    pub union_type_offset: Option<u16>,
}

/// A table or struct.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectLayout {
    /// Its fully qualified name (`namespace.Name`).
    pub name: String,
    /// A struct (inline, fixed size) rather than a table.
    pub is_struct: bool,
    /// A struct's size in bytes.
    pub bytesize: usize,
    /// Its fields in declaration order, deprecated ones left out.
    pub fields: Vec<FieldLayout>,
}

/// What a union member holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnionMember {
    /// `NONE`, or a type this crate cannot name.
    None,
    /// A table, by index into [`Layout::objects`].
    Table(usize),
    /// A struct, by index into [`Layout::objects`].
    Struct(usize),
    /// A string.
    String,
}

/// An enum or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumLayout {
    /// Its fully qualified name.
    pub name: String,
    /// A union rather than an enum.
    pub is_union: bool,
    /// `(value, name, member)`, sorted by value; `member` is [`UnionMember::None`] for enums.
    pub values: Vec<(i64, String, UnionMember)>,
}

impl EnumLayout {
    /// The index in `values` of `value`, if the schema declares it.
    pub fn position(&self, value: i64) -> Option<usize> {
        self.values
            .binary_search_by_key(&value, |(v, _, _)| *v)
            .ok()
    }

    /// The name and member of `value`, if the schema declares it.
    pub fn find(&self, value: i64) -> Option<(&str, UnionMember)> {
        self.values
            .binary_search_by_key(&value, |(v, _, _)| *v)
            .ok()
            .map(|at| (self.values[at].1.as_str(), self.values[at].2))
    }
}

/// Every table, struct and enum of a schema, compiled for reading payloads.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Tables and structs, in the schema's order (so indices match the schema's).
    pub objects: Vec<ObjectLayout>,
    /// Enums and unions, in the schema's order.
    pub enums: Vec<EnumLayout>,
    /// The root table, by index into `objects`.
    pub root: usize,
}

/// A binary schema (`.bfbs`, from `flatc -b --schema`) with its root type chosen.
///
/// Loading checks the schema's own structure (a FlatBuffer of `reflection.Schema`) and that
/// every type it refers to exists, so that reading payloads with it cannot go out of bounds
/// of the schema.
#[derive(Debug, Clone)]
pub struct Schema {
    bfbs: Vec<u8>,
    layout: Layout,
}

impl Schema {
    /// Loads a binary schema whose root type is the one it declares (`root_type`).
    ///
    /// # Errors
    ///
    /// When the bytes are not a binary schema, a type index is out of range, or the schema
    /// declares no root type (give one with [`Schema::with_root_type`]).
    pub fn from_bfbs(bfbs: Vec<u8>) -> Result<Schema, SchemaError> {
        Self::load(bfbs, None)
    }

    /// Loads a binary schema with `root_type` (a table's name, with or without its
    /// namespace) as the root, whatever the schema declares.
    ///
    /// # Errors
    ///
    /// As [`Schema::from_bfbs`], and when no table has that name (or a short name matches
    /// more than one).
    pub fn with_root_type(bfbs: Vec<u8>, root_type: &str) -> Result<Schema, SchemaError> {
        Self::load(bfbs, Some(root_type))
    }

    fn load(bfbs: Vec<u8>, root_type: Option<&str>) -> Result<Schema, SchemaError> {
        let schema = reflection::root_as_schema(&bfbs)
            .map_err(|error| SchemaError::new(format!("not a binary schema (.bfbs): {error}")))?;
        check_indices(&schema)?;
        let objects = schema.objects();
        let declared = schema
            .root_table()
            .and_then(|root| (0..objects.len()).find(|&i| objects.get(i).name() == root.name()));
        let root = match root_type {
            None => declared.ok_or_else(|| {
                SchemaError::new("the schema declares no root type: name one (--root-type)")
            })?,
            Some(name) => find_table(&schema, name)?,
        };
        let bfbs = if Some(root) == declared {
            bfbs
        } else {
            // The reflection verifier checks from the schema's own root table, so the schema
            // is rebuilt with the chosen one.
            rebuild_with_root(&schema, root)
        };
        let layout = compile(&reflection::root_as_schema(&bfbs).map_err(|error| {
            SchemaError::new(format!("rebuilding the schema failed: {error}"))
        })?)?;
        Ok(Schema { bfbs, layout })
    }

    /// The compiled tables, structs and enums.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The root table's fully qualified name.
    pub fn root_name(&self) -> &str {
        &self.layout.objects[self.layout.root].name
    }

    /// The binary schema, its root table the chosen root type.
    pub fn bfbs(&self) -> &[u8] {
        &self.bfbs
    }

    /// The schema as the reflection crate reads it.
    pub(crate) fn reflection(&self) -> reflection::Schema<'_> {
        // Checked in `load`; the bytes never change after.
        reflection::root_as_schema(&self.bfbs).expect("checked when loaded")
    }
}

/// The index of the table named `name` (fully qualified, or short when unambiguous).
fn find_table(schema: &reflection::Schema<'_>, name: &str) -> Result<usize, SchemaError> {
    let objects = schema.objects();
    let tables = (0..objects.len()).filter(|&i| !objects.get(i).is_struct());
    let matching: Vec<usize> = tables
        .filter(|&i| {
            let full = objects.get(i).name();
            full == name || full.rsplit('.').next() == Some(name)
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => {
            let names: Vec<&str> = (0..objects.len())
                .filter(|&i| !objects.get(i).is_struct())
                .map(|i| objects.get(i).name())
                .collect();
            Err(SchemaError::new(format!(
                "no table named `{name}` in the schema (tables: {})",
                names.join(", ")
            )))
        }
        _ => Err(SchemaError::new(format!(
            "`{name}` names more than one table: give the namespace too"
        ))),
    }
}

/// Every object and enum index the schema uses is in range, and every struct fits its
/// declared size: what the reflection verifier and our readers assume without checking.
fn check_indices(schema: &reflection::Schema<'_>) -> Result<(), SchemaError> {
    let objects = schema.objects();
    let enums = schema.enums();
    let bad = |what: String| SchemaError::new(format!("invalid binary schema: {what}"));
    let check_type = |owner: &str, ty: reflection::Type<'_>| -> Result<(), SchemaError> {
        let index = ty.index();
        let in_range = |len: usize| usize::try_from(index).is_ok_and(|index| index < len);
        let base_type = match ty.base_type() {
            BaseType::Vector | BaseType::Array => ty.element(),
            other => other,
        };
        let fits = match base_type {
            BaseType::Obj => in_range(objects.len()),
            BaseType::Union | BaseType::UType => in_range(enums.len()),
            // A scalar with an index is an enum.
            _ => index < 0 || in_range(enums.len()),
        };
        if fits {
            Ok(())
        } else {
            Err(bad(format!("{owner}: type index {index} out of range")))
        }
    };
    for object in objects {
        let bytesize = usize::try_from(object.bytesize()).unwrap_or(0);
        // The reflection verifier steps through vectors of structs by their size.
        if object.is_struct() && bytesize == 0 {
            return Err(bad(format!("struct {} has no size", object.name())));
        }
        for field in object.fields() {
            let owner = format!("{}.{}", object.name(), field.name());
            check_type(&owner, field.type_())?;
            let in_table = !object.is_struct();
            if in_table && (field.offset() < 4 || field.offset() % 2 != 0) {
                return Err(bad(format!(
                    "{owner}: vtable slot {} invalid",
                    field.offset()
                )));
            }
            if object.is_struct() {
                let size = field_size(schema, field.type_()).ok_or_else(|| {
                    bad(format!(
                        "{owner}: a struct field must be a scalar, struct or array"
                    ))
                })?;
                if usize::from(field.offset()) + size > bytesize {
                    return Err(bad(format!("{owner}: past the struct's {bytesize} bytes")));
                }
            }
        }
    }
    for union in enums {
        // The reflection verifier finds a union's member by position, taking the type byte
        // for an index: flatc numbers them 0, 1, 2, ...
        let numbered = (0..union.values().len())
            .all(|at| usize::try_from(union.values().get(at).value()).is_ok_and(|v| v == at));
        if union.is_union() && !numbered {
            return Err(bad(format!(
                "union {} is not numbered 0, 1, 2, ...",
                union.name()
            )));
        }
        for value in union.values() {
            if let Some(ty) = value.union_type() {
                check_type(&format!("{}.{}", union.name(), value.name()), ty)?;
            }
        }
    }
    Ok(())
}

/// The size of a struct field's value; `None` for what a struct cannot hold.
fn field_size(schema: &reflection::Schema<'_>, ty: reflection::Type<'_>) -> Option<usize> {
    let element_size = |base_type: BaseType| match base_type {
        BaseType::Obj => {
            let object = schema.objects().get(usize::try_from(ty.index()).ok()?);
            object
                .is_struct()
                .then(|| usize::try_from(object.bytesize()).ok())
                .flatten()
        }
        other => Scalar::of(other).map(Scalar::size),
    };
    match ty.base_type() {
        BaseType::Array => Some(element_size(ty.element())? * usize::from(ty.fixed_length())),
        other => element_size(other),
    }
}

/// Compiles the checked schema into a [`Layout`].
fn compile(schema: &reflection::Schema<'_>) -> Result<Layout, SchemaError> {
    let objects = schema.objects();
    let root_name = schema
        .root_table()
        .map(|root| root.name())
        .ok_or_else(|| SchemaError::new("the schema declares no root type"))?;
    let root = (0..objects.len())
        .find(|&i| objects.get(i).name() == root_name)
        .ok_or_else(|| SchemaError::new("the root table is not among the schema's objects"))?;
    let index = |i: i32| usize::try_from(i).unwrap_or(usize::MAX);
    let shape_of = |ty: reflection::Type<'_>, base_type: BaseType| -> Shape {
        let enum_index = (ty.index() >= 0).then(|| index(ty.index()));
        match base_type {
            BaseType::String => Shape::String,
            BaseType::Obj if objects.get(index(ty.index())).is_struct() => {
                Shape::Struct(index(ty.index()))
            }
            BaseType::Obj => Shape::Table(index(ty.index())),
            BaseType::Union => Shape::Union(index(ty.index())),
            other => match Scalar::of(other) {
                Some(scalar) => Shape::Scalar(scalar, enum_index),
                None => Shape::Unsupported("a type this reader does not know"),
            },
        }
    };
    let mut compiled = Vec::with_capacity(objects.len());
    for object in objects {
        let mut fields: Vec<FieldLayout> = Vec::new();
        let mut all: Vec<reflection::Field<'_>> = object.fields().iter().collect();
        all.sort_by_key(reflection::Field::id);
        for field in &all {
            if field.deprecated() {
                continue;
            }
            let ty = field.type_();
            let shape = match ty.base_type() {
                BaseType::Vector => match ty.element() {
                    BaseType::Union | BaseType::UType => {
                        Shape::Unsupported("vectors of unions are not supported")
                    }
                    element => Shape::Vector(Box::new(shape_of(ty, element))),
                },
                BaseType::Array => Shape::Array(
                    Box::new(shape_of(ty, ty.element())),
                    usize::from(ty.fixed_length()),
                ),
                other => shape_of(ty, other),
            };
            let union_type_offset = matches!(shape, Shape::Union(_))
                .then(|| field.offset().checked_sub(2))
                .flatten();
            fields.push(FieldLayout {
                name: field.name().to_owned(),
                id: field.id(),
                offset: field.offset(),
                shape,
                default_integer: field.default_integer(),
                default_real: field.default_real(),
                optional: field.optional(),
                union_type_offset,
            });
        }
        compiled.push(ObjectLayout {
            name: object.name().to_owned(),
            is_struct: object.is_struct(),
            bytesize: usize::try_from(object.bytesize()).unwrap_or(0),
            fields,
        });
    }
    let enums = compile_enums(schema);
    Ok(Layout {
        objects: compiled,
        enums,
        root,
    })
}

/// A copy of `schema` whose root table is `objects[root]`: the parts the verifier and
/// [`compile`] read (names, types, offsets, defaults, flags), documentation and attributes
/// left out.
fn rebuild_with_root(schema: &reflection::Schema<'_>, root: usize) -> Vec<u8> {
    let mut builder = FlatBufferBuilder::with_capacity(4096);
    let mut objects = Vec::new();
    for object in schema.objects() {
        let mut fields = Vec::new();
        for field in object.fields() {
            let name = builder.create_string(field.name());
            let type_ = copy_type(&mut builder, field.type_());
            fields.push(reflection::Field::create(
                &mut builder,
                &FieldArgs {
                    name: Some(name),
                    type_: Some(type_),
                    id: field.id(),
                    offset: field.offset(),
                    default_integer: field.default_integer(),
                    default_real: field.default_real(),
                    deprecated: field.deprecated(),
                    required: field.required(),
                    key: field.key(),
                    optional: field.optional(),
                    padding: field.padding(),
                    ..FieldArgs::default()
                },
            ));
        }
        let fields = builder.create_vector(&fields);
        let name = builder.create_string(object.name());
        objects.push(reflection::Object::create(
            &mut builder,
            &ObjectArgs {
                name: Some(name),
                fields: Some(fields),
                is_struct: object.is_struct(),
                minalign: object.minalign(),
                bytesize: object.bytesize(),
                ..ObjectArgs::default()
            },
        ));
    }
    let mut enums = Vec::new();
    for declared in schema.enums() {
        let mut values = Vec::new();
        for value in declared.values() {
            let name = builder.create_string(value.name());
            let union_type = value.union_type().map(|ty| copy_type(&mut builder, ty));
            values.push(reflection::EnumVal::create(
                &mut builder,
                &EnumValArgs {
                    name: Some(name),
                    value: value.value(),
                    union_type,
                    ..EnumValArgs::default()
                },
            ));
        }
        let values = builder.create_vector(&values);
        let underlying_type = copy_type(&mut builder, declared.underlying_type());
        let name = builder.create_string(declared.name());
        enums.push(reflection::Enum::create(
            &mut builder,
            &EnumArgs {
                name: Some(name),
                values: Some(values),
                is_union: declared.is_union(),
                underlying_type: Some(underlying_type),
                ..EnumArgs::default()
            },
        ));
    }
    let root_table = objects[root];
    let objects = builder.create_vector(&objects);
    let enums = builder.create_vector(&enums);
    let rebuilt = reflection::Schema::create(
        &mut builder,
        &SchemaArgs {
            objects: Some(objects),
            enums: Some(enums),
            root_table: Some(root_table),
            advanced_features: schema.advanced_features(),
            ..SchemaArgs::default()
        },
    );
    builder.finish(rebuilt, Some("BFBS"));
    builder.finished_data().to_vec()
}

/// A copy of `ty` in `builder`.
fn copy_type<'b>(
    builder: &mut FlatBufferBuilder<'b>,
    ty: reflection::Type<'_>,
) -> flatbuffers::WIPOffset<reflection::Type<'b>> {
    reflection::Type::create(
        builder,
        &TypeArgs {
            base_type: ty.base_type(),
            element: ty.element(),
            index: ty.index(),
            fixed_length: ty.fixed_length(),
            base_size: ty.base_size(),
            element_size: ty.element_size(),
        },
    )
}

/// Compiles the checked schema's enums and unions.
fn compile_enums(schema: &reflection::Schema<'_>) -> Vec<EnumLayout> {
    let objects = schema.objects();
    let index = |i: i32| usize::try_from(i).unwrap_or(usize::MAX);
    let mut enums = Vec::new();
    for declared in schema.enums() {
        let mut values: Vec<(i64, String, UnionMember)> = declared
            .values()
            .iter()
            .map(|value| {
                let member = match value.union_type() {
                    Some(ty) if ty.base_type() == BaseType::Obj => {
                        let at = index(ty.index());
                        if objects.get(at).is_struct() {
                            UnionMember::Struct(at)
                        } else {
                            UnionMember::Table(at)
                        }
                    }
                    Some(ty) if ty.base_type() == BaseType::String => UnionMember::String,
                    _ => UnionMember::None,
                };
                (value.value(), value.name().to_owned(), member)
            })
            .collect();
        values.sort_by_key(|(value, _, _)| *value);
        enums.push(EnumLayout {
            name: declared.name().to_owned(),
            is_union: declared.is_union(),
            values,
        });
    }
    enums
}
