//! Transport-neutral request and response.

use crate::error::ScimError;

/// The SCIM media type.
pub const SCIM_JSON: &str = "application/scim+json";

/// One HTTP request, relative to the SCIM base URL.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE` (any case).
    pub method: String,
    /// Path below the SCIM base, e.g. `/Users/2819c223`.
    pub path: String,
    /// The raw (percent-encoded) query string, without `?`.
    pub query: String,
    /// Header name/value pairs; names match case-insensitively.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response with the SCIM media type.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        // One allocation for a typical resource instead of a doubling series.
        let mut bytes = Vec::with_capacity(1024);
        if serde_json::to_writer(&mut bytes, body).is_err() {
            bytes.clear();
        }
        Response {
            status,
            headers: vec![("Content-Type".into(), SCIM_JSON.into())],
            body: bytes,
        }
    }

    /// The same response with another `Content-Type`.
    pub fn with_content_type(mut self, content_type: &str) -> Self {
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("Content-Type"));
        self.headers
            .push(("Content-Type".into(), content_type.into()));
        self
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The RFC 7644 §3.12 error response.
    pub fn error(e: &ScimError) -> Self {
        let mut r = Self::json(e.status, &e.to_json());
        if e.status == 401 {
            r.headers.push(("WWW-Authenticate".into(), "Bearer".into()));
        }
        r
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
