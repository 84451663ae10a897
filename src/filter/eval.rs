//! Filter evaluation. (stub — to be implemented)

use super::ast::Filter;
use crate::error::{Result, ScimError};
use crate::schema::{AttributeDef, ResourceTypeDef};
use serde_json::Value;

/// Does `resource` (a rendered resource: canonical attributes plus `id`, `meta`, and the
/// derived `members`/`groups` when present) match `filter`?
pub fn matches(_filter: &Filter, _resource: &Value, _rt: &ResourceTypeDef) -> Result<bool> {
    Err(ScimError::invalid_filter("not implemented"))
}

/// Does one element of the multi-valued complex attribute `attr` match a value filter
/// (`emails[type eq "work"]`)? Paths in `filter` are relative to `attr`'s sub-attributes.
pub fn matches_value(_filter: &Filter, _element: &Value, _attr: &AttributeDef) -> Result<bool> {
    Err(ScimError::invalid_filter("not implemented"))
}
