//! Input validation: turn a client's JSON into a resource in canonical form.
//! (stub — to be implemented)

use super::ResourceTypeDef;
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
