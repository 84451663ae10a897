//! `attributes` / `excludedAttributes` and the `returned` characteristic.
//! (stub — to be implemented)

use super::ResourceTypeDef;
use serde_json::Value;

/// What a client asked to see.
#[derive(Clone, Debug, Default)]
pub struct Projection {}

/// Apply `returned` rules and the projection to a fully rendered resource.
pub fn project(_rt: &ResourceTypeDef, resource: &Value, _p: &Projection) -> Value {
    resource.clone()
}
