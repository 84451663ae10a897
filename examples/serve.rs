//! The main job. Until the built-in HTTP server lands (step 4), this runs the protocol
//! engine in-process: it replays what Okta does when an admin connects and assigns users,
//! and prints every request with its answer.

use scim::store::MemoryStore;
use scim::{Config, Request, ServiceProvider};
use serde_json::{json, Value};
use std::sync::Arc;

fn call(p: &ServiceProvider, method: &str, path: &str, query: &str, body: Option<Value>) -> Value {
    let req = Request {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: vec![("Content-Type".into(), "application/scim+json".into())],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    };
    let resp = p.handle(&req);
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    println!("{method} {path}{q} -> {}", resp.status);
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    if !v.is_null() {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    v
}

fn main() {
    let base = "http://127.0.0.1:8080/scim/v2";
    let p = ServiceProvider::new(
        Config {
            base_url: base.into(),
            ..Config::default()
        },
        Arc::new(MemoryStore::new()),
    );
    println!("libscim in-process demo (SCIM base {base}); the HTTP server arrives in step 4.\n");
    call(&p, "GET", "/Users", "startIndex=1&count=2", None);
    call(
        &p,
        "GET",
        "/Users",
        "filter=userName%20eq%20%22jane.doe%40example.com%22&startIndex=1&count=100",
        None,
    );
    let user = call(
        &p,
        "POST",
        "/Users",
        "",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "jane.doe@example.com",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "emails": [{"primary": true, "value": "jane.doe@example.com", "type": "work"}],
            "displayName": "Jane Doe",
            "externalId": "00u1abcd",
            "password": "never-stored",
            "active": true
        })),
    );
    let uid = user["id"].as_str().unwrap_or_default().to_owned();
    let group = call(
        &p,
        "POST",
        "/Groups",
        "",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": []
        })),
    );
    let gid = group["id"].as_str().unwrap_or_default().to_owned();
    call(
        &p,
        "PATCH",
        &format!("/Groups/{gid}"),
        "",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": uid, "display": "jane.doe@example.com"}]}]
        })),
    );
    call(
        &p,
        "PATCH",
        &format!("/Users/{uid}"),
        "",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]
        })),
    );
}
