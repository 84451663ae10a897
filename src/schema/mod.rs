//! RFC 7643 schemas as data: attribute characteristics, the User, Group, EnterpriseUser
//! and Workspace ONE (ws1b) extension definitions, and resource types.
//!
//! Resources are held internally as JSON objects in *canonical form*: attribute names
//! spelled as their schema spells them, extension attributes nested under their schema
//! URN, no `id`/`meta`/derived attributes (the provider adds those when rendering).

mod definitions;
mod project;
mod render;
mod validate;

pub use definitions::*;
pub(crate) use project::{compact_members, member_text, raw_members, write_json, write_json_str};
pub use project::{project, project_owned, ProjectedWriter, Projection};
pub use render::{resource_type_json, schema_json, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA};
pub use validate::{check_required, normalize, normalize_element, normalize_value, Mode};

/// SCIM data types (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// RFC 7643 §2.2 `mutability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// RFC 7643 §2.2 `returned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// RFC 7643 §2.2 `uniqueness`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with all its characteristics (RFC 7643 §7).
#[derive(Debug)]
pub struct AttributeDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
}

impl AttributeDef {
    /// A single-valued, optional, readWrite, default-returned, non-unique, caseIgnore
    /// string: the most common shape; the builder methods below adjust it.
    pub const fn string(name: &'static str, description: &'static str) -> Self {
        AttributeDef {
            name,
            ty: AttrType::String,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        }
    }
    pub const fn of_type(mut self, ty: AttrType) -> Self {
        self.ty = ty;
        self
    }
    pub const fn complex(
        name: &'static str,
        description: &'static str,
        subs: &'static [AttributeDef],
    ) -> Self {
        let mut a = Self::string(name, description);
        a.ty = AttrType::Complex;
        a.sub_attributes = subs;
        a
    }
    pub const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    pub const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    pub const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    pub const fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    pub const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    pub const fn references(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }

    /// Case-insensitive lookup of a sub-attribute.
    pub fn sub(&self, name: &str) -> Option<&'static AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema: core or extension (RFC 7643 §7).
#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// Case-insensitive lookup of a top-level attribute.
    pub fn attr(&self, name: &str) -> Option<&'static AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The kinds of resources this provider serves.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    pub fn resource_type(self) -> &'static ResourceTypeDef {
        match self {
            ResourceKind::User => &USER_RESOURCE_TYPE,
            ResourceKind::Group => &GROUP_RESOURCE_TYPE,
        }
    }
}

/// An extension of a resource type and whether resources must carry it.
#[derive(Debug)]
pub struct ExtensionRef {
    pub schema: &'static SchemaDef,
    pub required: bool,
}

/// A resource type (RFC 7643 §6).
#[derive(Debug)]
pub struct ResourceTypeDef {
    pub kind: ResourceKind,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static SchemaDef,
    pub extensions: &'static [ExtensionRef],
}

/// Where an attribute was found: its schema and definition.
#[derive(Clone, Copy, Debug)]
pub struct Resolved {
    pub schema: &'static SchemaDef,
    pub attr: &'static AttributeDef,
    /// True when the attribute lives under an extension URN in the resource JSON.
    pub in_extension: bool,
}

impl ResourceTypeDef {
    /// All schemas of this type, core first.
    pub fn schemas(&self) -> impl Iterator<Item = &'static SchemaDef> + '_ {
        std::iter::once(self.schema).chain(self.extensions.iter().map(|e| e.schema))
    }

    /// The `schemas` value of a canonical resource: the core schema, then each extension
    /// whose object the resource carries, in this type's order.
    pub fn schema_ids(
        &self,
        resource: &serde_json::Map<String, serde_json::Value>,
    ) -> serde_json::Value {
        let present = self.extensions.iter().filter(|e| {
            resource
                .get(e.schema.id)
                .is_some_and(serde_json::Value::is_object)
        });
        std::iter::once(self.schema.id)
            .chain(present.map(|e| e.schema.id))
            .map(|id| serde_json::Value::String(id.to_owned()))
            .collect()
    }

    /// The extension schema with this URN (case-insensitive), if this type has it.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .map(|e| e.schema)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolve a top-level attribute name, optionally qualified by a schema URN.
    /// Unqualified names resolve against the common attributes, then the core schema.
    pub fn resolve(&self, urn: Option<&str>, name: &str) -> Option<Resolved> {
        match urn {
            None => COMMON
                .attr(name)
                .map(|attr| Resolved {
                    schema: &COMMON,
                    attr,
                    in_extension: false,
                })
                .or_else(|| {
                    self.schema.attr(name).map(|attr| Resolved {
                        schema: self.schema,
                        attr,
                        in_extension: false,
                    })
                }),
            Some(urn) if urn.eq_ignore_ascii_case(self.schema.id) => self.resolve(None, name),
            Some(urn) => self.extension(urn).and_then(|schema| {
                schema.attr(name).map(|attr| Resolved {
                    schema,
                    attr,
                    in_extension: true,
                })
            }),
        }
    }
}
