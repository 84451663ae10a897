//! Attribute mapping: how a SCIM user or group becomes the record of each downstream
//! service a directory feeds (Workspace ONE UEM, Workspace ONE Access).
//!
//! A [`Mapping`] is a list of [`MappingEntry`]s per resource kind. Each entry names a
//! *target* attribute (the service's name for it, e.g. `email`), a *source* — any SCIM
//! attribute path the PATCH path grammar accepts (`userName`, `name.givenName`,
//! `emails[type eq "work"].value`, `urn:…:enterprise:2.0:User:manager.value`) — and
//! optionally `required`, `immutable` and one [`Transform`]. There is no scripting.
//!
//! Sources are parsed and resolved against the schema when a mapping is set (unknown
//! attributes, unknown sub-attributes, bad value filters and duplicate targets are 400s),
//! and evaluated against the canonical stored resource:
//!
//! - a multi-valued attribute yields the first element matching the value filter (or any
//!   element, without one), the `primary` one first when several match;
//! - `email` in the `workspace-one` profile is strictly `emails[type eq "work"].value`:
//!   an IdP that sends an email without `type: "work"` gets a 400 naming the path. An
//!   admin who wants another email uses another source (`emails.value` takes the primary,
//!   else the first email, whatever its type);
//! - a missing value, `null` or `""` is *missing*: absent from the record, and an error
//!   for a `required` entry (after the transform, so a `default` satisfies it).
//!
//! Two built-in [`Profile`]s seed a directory's mappings: `workspace-one` (the Workspace
//! ONE "Map SCIM User Attributes" defaults; default for Okta and Entra directories) and
//! `rfc` (only what RFC 7643 requires; default for generic IdPs).
//!
//! Records are JSON objects `{target: value}` of the entries that have a value, in entry
//! order; a target absent from a record has no value (a host clears it).

mod profiles;
mod records;
mod source;
mod transform;

pub use profiles::Profile;
pub use records::DirectoryMapping;

use crate::error::Result;
use crate::integration::Service;
use crate::schema::{normalize, Mode, ResourceKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One target attribute and where its value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingEntry {
    /// The attribute's name on the service side (`email`, `firstName`, …).
    pub target: String,
    /// A SCIM attribute path (`emails[type eq "work"].value`). May be empty only with a
    /// `constant` transform.
    pub source: String,
    /// Writes whose result lacks this attribute are refused (400 `invalidValue`).
    #[serde(default)]
    pub required: bool,
    /// Once the mapped value is set, a write that changes or removes it is refused
    /// (400 `mutability`). The `workspace-one` profile marks `externalId` immutable.
    #[serde(default, skip_serializing_if = "is_false")]
    pub immutable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl MappingEntry {
    /// An optional entry without transform.
    pub fn new(target: &str, source: &str) -> Self {
        MappingEntry {
            target: target.to_owned(),
            source: source.to_owned(),
            required: false,
            immutable: false,
            transform: None,
        }
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn immutable(mut self) -> Self {
        self.immutable = true;
        self
    }
    pub fn with(mut self, t: Transform) -> Self {
        self.transform = Some(t);
        self
    }
}

/// What is done to the source value. JSON: `{"kind": "lowercase"}`,
/// `{"kind": "default", "value": "x"}`, `{"kind": "email_local_part"}`, …
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    /// Strings in lower case; other values unchanged.
    Lowercase,
    /// Strings in upper case; other values unchanged.
    Uppercase,
    /// This value when the source is missing (absent, `null` or `""`).
    Default { value: Value },
    /// The part of `user@domain` before the last `@` (a value without `@` is kept whole).
    EmailLocalPart,
    /// The part of `user@domain` after the last `@` (missing when there is no `@`).
    EmailDomain,
    /// Always this value; the source is ignored (and may be empty).
    Constant { value: Value },
}

/// The entries of one service: for users and for groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The profile the mapping started from: its required targets stay required.
    #[serde(default)]
    pub profile: Profile,
    #[serde(default)]
    pub users: Vec<MappingEntry>,
    #[serde(default)]
    pub groups: Vec<MappingEntry>,
}

/// A service by its name (`"uem"` or `"access"`), as the C ABI and the bindings pass it.
impl std::str::FromStr for Service {
    type Err = crate::error::ScimError;
    fn from_str(s: &str) -> Result<Service> {
        serde_json::from_value(Value::String(s.to_owned())).map_err(|_| {
            crate::error::ScimError::invalid_value(format!(
                "service must be 'uem' or 'access', not '{s}'"
            ))
        })
    }
}

/// The resource kind a mapping's entry list is for, by its key in [`Mapping`]
/// (`"users"` or `"groups"`).
pub fn entries_kind(name: &str) -> Result<ResourceKind> {
    match name {
        "users" => Ok(ResourceKind::User),
        "groups" => Ok(ResourceKind::Group),
        other => Err(crate::error::ScimError::invalid_value(format!(
            "kind must be 'users' or 'groups', not '{other}'"
        ))),
    }
}

impl Mapping {
    /// The entries of one resource kind.
    pub fn entries(&self, kind: ResourceKind) -> &[MappingEntry] {
        match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        }
    }

    pub fn entries_mut(&mut self, kind: ResourceKind) -> &mut Vec<MappingEntry> {
        match kind {
            ResourceKind::User => &mut self.users,
            ResourceKind::Group => &mut self.groups,
        }
    }

    /// Check every entry (paths, targets, transforms) and that the profile's required
    /// targets are present and required. 400 `invalidValue` naming the entry otherwise.
    pub fn validate(&self) -> Result<()> {
        records::CompiledMapping::compile(self, None).map(|_| ())
    }

    /// [`Mapping::validate`], with errors naming the service.
    pub(crate) fn validate_for(&self, service: Service) -> Result<()> {
        records::CompiledMapping::compile(self, Some(service)).map(|_| ())
    }

    /// The record of a SCIM resource (as a client sends it, or as rendered) under this
    /// mapping: `{target: value}`. Required entries are not enforced here.
    pub fn record(&self, kind: ResourceKind, resource: &Value) -> Result<Value> {
        let compiled = records::CompiledMapping::compile(self, None)?;
        let canonical = normalize(kind.resource_type(), resource, Mode::default())?;
        Ok(Value::Object(compiled.record(kind, &canonical)))
    }
}

/// A provisioned user found by a mapped attribute ([`crate::Engine::find_user`]).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FoundUser {
    /// The SCIM id.
    pub id: String,
    /// The user as SCIM renders it (with `groups`).
    pub resource: Value,
    /// The user's mapped record for the service searched.
    pub record: Value,
}

/// A service's name in `records` and messages: `uem`, `access`.
pub fn service_name(s: Service) -> &'static str {
    match s {
        Service::Uem => "uem",
        Service::Access => "access",
    }
}
