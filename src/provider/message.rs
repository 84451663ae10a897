//! Transport-neutral request and response.

use crate::error::ScimError;

/// The SCIM media type.
pub const SCIM_JSON: &str = "application/scim+json";

/// One HTTP request, relative to the SCIM base URL. Its `Debug` form hides the values of
/// credential headers (`Authorization`, `Proxy-Authorization`, `Cookie`).
#[derive(Clone, Default)]
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

/// Headers whose values are credentials: never printed.
const CREDENTIAL_HEADERS: [&str; 3] = ["Authorization", "Proxy-Authorization", "Cookie"];

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let secret = CREDENTIAL_HEADERS
                    .iter()
                    .any(|c| n.trim().eq_ignore_ascii_case(c));
                (n.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
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
        Self::json_bytes(status, bytes)
    }

    /// A response with the SCIM media type whose body is already written JSON.
    pub(crate) fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), SCIM_JSON.into())],
            body,
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

    /// The RFC 7644 §3.12 error response. An internal error's text goes to the log
    /// (target `scim::internal`), the client gets a generic detail.
    pub fn error(e: &ScimError) -> Self {
        if e.is_internal() {
            log::error!(target: "scim::internal", "{}", e.detail);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_credentials() {
        let req = Request {
            method: "GET".into(),
            path: "/Users".into(),
            headers: vec![
                ("authorization".into(), "Bearer scim_s3cr3t".into()),
                ("Cookie".into(), "login=abc123".into()),
                ("Accept".into(), "application/scim+json".into()),
            ],
            ..Request::default()
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("scim_s3cr3t"), "{shown}");
        assert!(!shown.contains("abc123"), "{shown}");
        assert!(
            shown.contains("(\"authorization\", \"<redacted>\")"),
            "{shown}"
        );
        assert!(shown.contains("application/scim+json"), "{shown}");
        assert!(shown.contains("/Users"), "{shown}");
    }
}
