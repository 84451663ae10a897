//! The SCIM protocol surface: routing, CRUD, query, PATCH, bulk, discovery, ETags.

mod message;

pub use message::{Request, Response};

use crate::store::Store;
use std::sync::Arc;

/// Provider settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The SCIM base URL clients use (`https://host/scim/v2`), for `meta.location`/`Location`.
    pub base_url: String,
    /// Reject unknown attributes and schema URNs instead of ignoring them.
    pub strict: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: "http://localhost/scim/v2".into(),
            strict: false,
        }
    }
}

/// A SCIM 2.0 service provider over a [`Store`].
pub struct ServiceProvider {
    config: Config,
    store: Arc<dyn Store>,
}

impl ServiceProvider {
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        ServiceProvider { config, store }
    }

    /// Answer one request.
    pub fn handle(&self, _req: &Request) -> Response {
        let _ = (&self.config, &self.store);
        Response::error(&crate::ScimError::internal("not implemented"))
    }
}
