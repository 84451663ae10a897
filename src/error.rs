//! SCIM protocol errors (RFC 7644 §3.12).
//!
//! Every failure a client can cause is a [`ScimError`] with an HTTP status, an optional
//! `scimType` and a human-readable `detail`. The protocol layer never answers a client
//! mistake with a 500.

use serde_json::{json, Value};
use std::fmt;

/// The RFC 7644 §3.12 error schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// What a client is told about an internal error (500): its text may name files or
/// quote SQL, so it goes to the log (target `scim::internal`) and never into a response.
pub const INTERNAL_DETAIL: &str = "internal server error (the server log has the details)";

/// The `scimType` keywords of RFC 7644 Table 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    /// RFC 9865: a `cursor` that this service provider did not issue for this query.
    InvalidCursor,
    /// RFC 9865: a `cursor` older than `cursorTimeout`.
    ExpiredCursor,
    /// RFC 9865: a `count` outside 1..=maxPageSize in a cursor-paged query.
    InvalidCount,
}

impl ScimType {
    /// The keyword as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
            ScimType::InvalidCount => "invalidCount",
        }
    }
}

/// A SCIM error: what went wrong, in the shape the RFC prescribes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        // RFC 7644 §3.14 names no scimType for 412; the body still says what failed.
        Self::new(412, None, detail)
    }
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(405, None, detail)
    }
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, None, detail)
    }
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, None, detail)
    }
    /// 507 Insufficient Storage (RFC 4918 §11.5): the server could not store what the
    /// request needs, the store's disk being full. Nothing of the request was applied,
    /// and the same request succeeds once space is freed. (503 would say the service is
    /// overloaded or down, which it is not: reads still work.)
    pub fn insufficient_storage(detail: impl Into<String>) -> Self {
        Self::new(507, None, detail)
    }

    /// An error of the server itself (500), not of the request: its `detail` is for the
    /// log, not for the client (see [`INTERNAL_DETAIL`]).
    pub fn is_internal(&self) -> bool {
        self.status == 500
    }

    /// The RFC 7644 §3.12 JSON body a client receives (`status` is a string, as the RFC's
    /// examples show). An internal error says only [`INTERNAL_DETAIL`].
    pub fn to_json(&self) -> Value {
        let detail = if self.is_internal() {
            INTERNAL_DETAIL
        } else {
            &self.detail
        };
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = Value::String(t.as_str().to_owned());
        }
        body
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "{} {}: {}", self.status, t.as_str(), self.detail),
            None => write!(f, "{}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

/// Shorthand used across the crate.
pub type Result<T, E = ScimError> = std::result::Result<T, E>;
