//! libscim: an embeddable SCIM 2.0 service provider (RFC 7643/7644).
//!
//! The heart is [`provider::ServiceProvider::handle`]: a [`provider::Request`] in, a
//! [`provider::Response`] out, with no HTTP of its own, so every adapter (the built-in
//! server, the C ABI, the bindings) gives the same answers.

pub mod activity;
pub mod admin;
pub mod directory;
pub mod engine;
pub mod error;
pub mod events;
pub mod ffi;
pub mod filter;
mod integration;
pub mod mapping;
pub mod oidc;
pub mod patch;
pub mod provider;
pub mod schema;
pub mod secret;
pub mod server;
pub mod store;
pub mod token;

pub use engine::{Engine, EngineConfig};
pub use error::{ScimError, ScimType};
pub use provider::{Config, Request, Response, ServiceProvider, Tenant};
