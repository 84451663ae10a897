//! Filter and path parser. (stub — to be implemented)

use super::ast::{Filter, PatchPath};
use crate::error::{Result, ScimError};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8192;
/// Deepest nesting of parentheses / `not` / value paths accepted.
pub const MAX_DEPTH: usize = 32;

pub fn parse_filter(_s: &str) -> Result<Filter> {
    Err(ScimError::invalid_filter("not implemented"))
}

pub fn parse_path(_s: &str) -> Result<PatchPath> {
    Err(ScimError::invalid_path("not implemented"))
}
