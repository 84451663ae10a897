//! PATCH (RFC 7644 §3.5.2): add / replace / remove, with and without `path`, value-path
//! filters, sub-attributes and extension URNs, in the dialects Okta and Entra ID send.
//! (stub — to be implemented)

use crate::error::{Result, ScimError};
use crate::filter::{Filter, PatchPath};
use crate::schema::{Mode, ResourceTypeDef};
use serde_json::Value;

/// The PatchOp message schema URN.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
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
}

/// Parse a PatchOp request body.
pub fn parse_request(_body: &Value) -> Result<Vec<PatchOp>> {
    Err(ScimError::invalid_syntax("not implemented"))
}

/// Apply `ops` to `resource` (canonical form). For a Group, every operation on `members`
/// goes to `members`. On error the caller discards `resource` and the sink's changes.
pub fn apply(
    _rt: &ResourceTypeDef,
    _resource: &mut Value,
    _ops: &[PatchOp],
    _members: Option<&mut dyn MemberSink>,
    _mode: Mode,
) -> Result<()> {
    Err(ScimError::invalid_syntax("not implemented"))
}
