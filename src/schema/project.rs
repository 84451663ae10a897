//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) and the `returned`
//! characteristic. (stub — to be implemented)

use super::ResourceTypeDef;
use crate::error::Result;
use serde_json::Value;

/// What a client asked to see.
#[derive(Clone, Debug, Default)]
pub struct Projection {}

impl Projection {
    /// Parse the comma-separated `attributes` and `excludedAttributes` parameters.
    pub fn parse(_attributes: Option<&str>, _excluded: Option<&str>) -> Result<Projection> {
        Ok(Projection {})
    }

    /// Would the rendered resource include top-level attribute `name` of schema `urn`
    /// (`None` = core/common)? Lets the provider skip loading what is not returned, such
    /// as a large group's `members`.
    pub fn includes(&self, _rt: &ResourceTypeDef, _urn: Option<&str>, _name: &str) -> bool {
        true
    }
}

/// Apply `returned` rules and the projection to a fully rendered resource.
pub fn project(_rt: &ResourceTypeDef, resource: &Value, _p: &Projection) -> Value {
    resource.clone()
}
