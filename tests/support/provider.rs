//! A bare provider under test and requests to it (included with `#[path]`).
#![allow(dead_code)]

use scim::store::Store;
use scim::{Config, Request, Response, ServiceProvider};
use serde_json::Value;
use std::sync::Arc;

pub const BASE: &str = "https://example.com/scim/v2";

/// A provider over `store` with `config`, at [`BASE`].
pub fn provider_with(store: Arc<dyn Store>, config: Config) -> ServiceProvider {
    ServiceProvider::new(
        Config {
            base_url: BASE.into(),
            ..config
        },
        store,
    )
}

/// One request, with a JSON body when given.
pub fn call(
    p: &ServiceProvider,
    method: &str,
    path: &str,
    query: &str,
    body: Option<Value>,
) -> Response {
    p.handle(&Request {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: vec![("Content-Type".into(), "application/scim+json".into())],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    })
}
