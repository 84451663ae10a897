//! PATCH (RFC 7644 §3.5.2): add / replace / remove, with and without `path`, value-path
//! filters, sub-attributes and extension URNs, in the dialects Okta and Entra ID send.
//!
//! - [`parse_request`] reads the PatchOp message (case-insensitive `op` names and keys,
//!   paths parsed by [`crate::filter::parse_path`]).
//! - [`apply`] applies the operations in order to a resource in canonical form; values are
//!   validated by [`crate::schema::normalize_value`] / [`crate::schema::normalize_element`].
//!   A Group's `members` never live in the resource: their changes go to a [`MemberSink`].

mod apply;
mod members;
mod parse;
mod target;

use crate::error::Result;
use crate::filter::{Filter, PatchPath};
use crate::schema::{Mode, ResourceTypeDef};
use serde_json::Value;

pub use parse::MAX_OPERATIONS;

/// The PatchOp message schema URN.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }
}

/// One parsed operation.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Where membership changes of a Group go: the provider writes them as member rows, so a
/// change costs the same whatever the group's size. `members` is never in the resource.
pub trait MemberSink {
    /// Add members (normalized `{"value", "type"?, "display"?}` objects).
    fn add(&mut self, members: Vec<Value>) -> Result<()>;
    /// Remove exactly these member ids.
    fn remove(&mut self, ids: &[String]) -> Result<()>;
    /// Remove the members matching a value filter (paths relative to `members`).
    fn remove_matching(&mut self, filter: &Filter) -> Result<()>;
    /// Remove every member.
    fn clear(&mut self) -> Result<()>;
    /// Make exactly these members the membership (normalized objects, as for `add`).
    fn replace(&mut self, members: Vec<Value>) -> Result<()>;
}

/// Parse a PatchOp request body.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOp>> {
    parse::parse_request(body)
}

/// Apply `ops` to `resource` (canonical form). For a Group, every operation on `members`
/// goes to `members`. On error the caller discards `resource` and the sink's changes.
///
/// Afterwards `schemas` lists the core schema and the extensions present, and empty
/// objects/arrays left behind are gone; required attributes are the caller's check
/// ([`crate::schema::check_required`]).
pub fn apply(
    rt: &ResourceTypeDef,
    resource: &mut Value,
    ops: &[PatchOp],
    members: Option<&mut dyn MemberSink>,
    mode: Mode,
) -> Result<()> {
    let mut engine = apply::Engine::new(rt, mode, members);
    for op in ops {
        engine.apply_op(resource, op)?;
    }
    apply::finish(rt, resource)
}
