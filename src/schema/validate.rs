//! Input validation: turn a client's JSON into a resource in canonical form.
//! (stub — to be implemented)

use super::{AttributeDef, ResourceTypeDef};
use crate::error::{Result, ScimError};
use serde_json::Value;

/// How strictly input is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// Reject unknown attributes and unknown schema URNs (400 `invalidSyntax`) instead of
    /// ignoring them.
    pub strict: bool,
}

/// Validate a full resource (POST/PUT body) and return it in canonical form.
pub fn normalize(_rt: &ResourceTypeDef, _input: &Value, _mode: Mode) -> Result<Value> {
    Err(ScimError::internal("not implemented"))
}

/// Validate one attribute's whole value (an array for a multi-valued attribute) against
/// its definition, as in a PATCH operation or a POST body. Returns the canonical value, or
/// `None` when the value means "unassigned" (`null`, `[]`, `{}`). `path` names the
/// attribute in error details (`name.givenName`, `emails`).
pub fn normalize_value(
    _attr: &AttributeDef,
    _value: &Value,
    _path: &str,
    _mode: Mode,
) -> Result<Option<Value>> {
    Err(ScimError::internal("not implemented"))
}

/// Validate one element of a multi-valued attribute (or a single-valued attribute's
/// value). Same contract as [`normalize_value`].
pub fn normalize_element(
    _attr: &AttributeDef,
    _value: &Value,
    _path: &str,
    _mode: Mode,
) -> Result<Option<Value>> {
    Err(ScimError::internal("not implemented"))
}

/// Check a canonical resource has every required attribute (and every required
/// sub-attribute of the complex values it has): 400 `invalidValue` naming the first missing.
pub fn check_required(_rt: &ResourceTypeDef, _resource: &Value) -> Result<()> {
    Err(ScimError::internal("not implemented"))
}
