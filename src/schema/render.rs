//! (stub; replaced by the schema work)
use super::{ResourceTypeDef, SchemaDef};
use serde_json::{json, Value};
pub fn schema_json(s: &SchemaDef, _base_url: &str) -> Value {
    json!({"id": s.id})
}
pub fn resource_type_json(rt: &ResourceTypeDef, _base_url: &str) -> Value {
    json!({"id": rt.name})
}
