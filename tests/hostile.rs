//! Regressions found by attacking the server with hostile input (schemathesis from
//! openapi/scim.yaml, the property tests, probes by hand): each a precise SCIM error
//! instead of a misleading one.

use scim::store::MemoryStore;
use scim::Config;
use serde_json::Value;
use std::sync::Arc;

#[path = "support/provider.rs"]
mod support;
use support::{call, provider_with};

fn error(status: u16, body: &[u8]) -> (u16, Value) {
    (
        status,
        serde_json::from_slice(body).expect("a JSON error body"),
    )
}

/// A discovery name that does not percent-decode to UTF-8 names no schema or resource
/// type: 404 naming it as sent, like any unknown name; it was a 400 that blamed a
/// "query parameter" the request did not have.
#[test]
fn an_undecodable_discovery_name_is_not_found() {
    let p = provider_with(Arc::new(MemoryStore::new()), Config::default());
    for (path, name) in [
        ("/Schemas/%ff%fe", "Schema '%ff%fe' not found"),
        ("/Schemas/urn%zz", "Schema 'urn%zz' not found"),
        ("/ResourceTypes/%c3", "ResourceType '%c3' not found"),
    ] {
        let r = call(&p, "GET", path, "", None);
        let (status, body) = error(r.status, &r.body);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["status"], "404", "{path}");
        assert_eq!(body["detail"], name, "{path}");
        assert!(body.get("scimType").is_none(), "{path}: {body}");
    }
    // A percent-encoded URN still finds its schema.
    let r = call(
        &p,
        "GET",
        "/Schemas/urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Acore%3A2.0%3AUser",
        "",
        None,
    );
    assert_eq!(r.status, 200);
}
