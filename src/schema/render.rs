//! The discovery representations of schemas (RFC 7643 §7, §8.7) and resource types
//! (RFC 7643 §6, §8.6), served under `/Schemas` and `/ResourceTypes`.

use super::{AttrType, AttributeDef, ResourceTypeDef, SchemaDef};
use serde_json::{json, Map, Value};

/// The RFC 7643 §7 schema URN of a Schema resource.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The RFC 7643 §6 schema URN of a ResourceType resource.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// A schema as a `/Schemas` resource (RFC 7643 §7, as in §8.7.1).
pub fn schema_json(s: &SchemaDef, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", base_url.trim_end_matches('/'), s.id),
        },
    })
}

/// One attribute definition with all its characteristics.
fn attribute_json(a: &AttributeDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), a.name.into());
    m.insert("type".into(), a.ty.as_str().into());
    m.insert("multiValued".into(), a.multi_valued.into());
    m.insert("description".into(), a.description.into());
    m.insert("required".into(), a.required.into());
    m.insert("caseExact".into(), a.case_exact.into());
    m.insert("mutability".into(), a.mutability.as_str().into());
    m.insert("returned".into(), a.returned.as_str().into());
    m.insert("uniqueness".into(), a.uniqueness.as_str().into());
    if !a.canonical_values.is_empty() {
        m.insert("canonicalValues".into(), a.canonical_values.into());
    }
    if !a.reference_types.is_empty() {
        m.insert("referenceTypes".into(), a.reference_types.into());
    }
    if a.ty == AttrType::Complex {
        let subs: Vec<Value> = a.sub_attributes.iter().map(attribute_json).collect();
        m.insert("subAttributes".into(), subs.into());
    }
    Value::Object(m)
}

/// A resource type as a `/ResourceTypes` resource (RFC 7643 §6, as in §8.6).
pub fn resource_type_json(rt: &ResourceTypeDef, base_url: &str) -> Value {
    let mut m = Map::new();
    m.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA]));
    m.insert("id".into(), rt.name.into());
    m.insert("name".into(), rt.name.into());
    m.insert("endpoint".into(), rt.endpoint.into());
    m.insert("description".into(), rt.description.into());
    m.insert("schema".into(), rt.schema.id.into());
    if !rt.extensions.is_empty() {
        let exts: Vec<Value> = rt
            .extensions
            .iter()
            .map(|e| json!({ "schema": e.schema.id, "required": e.required }))
            .collect();
        m.insert("schemaExtensions".into(), exts.into());
    }
    m.insert(
        "meta".into(),
        json!({
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", base_url.trim_end_matches('/'), rt.name),
        }),
    );
    Value::Object(m)
}
