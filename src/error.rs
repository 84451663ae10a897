//! SCIM protocol errors (RFC 7644 §3.12).
//!
//! Every failure a client can cause is a [`ScimError`] with an HTTP status, an optional
//! `scimType` and a human-readable `detail`. The protocol layer never answers a client
//! mistake with a 500.
//!
//! Every error also has an [`ErrorKind`]: what a host program acts on. The core sets it
//! where it knows what went wrong (a bad `secrets_key`, a store that cannot be opened, a
//! refused login); the C ABI maps each kind to one `scim_result` code, and the Python
//! and Go bindings to one exception class or sentinel error.

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

/// What kind of failure an error is, for a program to act on: one kind per `scim_result`
/// code of the C ABI (the same names, in snake case, in `include/schema/error_kinds.json`
/// and the bindings). The core never produces the three kinds only the C boundary can
/// see ([`ErrorKind::NullParameter`], [`ErrorKind::InvalidUtf8`], [`ErrorKind::Panic`]).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A required pointer argument was NULL (C boundary only).
    NullParameter,
    /// A string argument was not valid UTF-8 (C boundary only).
    InvalidUtf8,
    /// A JSON argument did not parse, or did not have the expected shape.
    InvalidJson,
    /// An argument broke a rule (the detail names the field and the rule).
    InvalidArgument,
    /// The named directory (or other object) does not exist.
    NotFound,
    /// The operation conflicts with existing state (a name already taken).
    Conflict,
    /// The operation is not allowed in the object's current state.
    WrongState,
    /// A login was refused (the detail starts with its code: `user_deactivated: …`).
    LoginRefused,
    /// A credential (bearer token, admin credential) was missing or not accepted.
    Unauthenticated,
    /// The `secrets_key` is malformed, missing for a sealed secret, or does not open the
    /// secrets sealed in the store.
    SecretsKey,
    /// The store or the operating system failed (disk full, network, socket, file).
    Io,
    /// An internal error.
    Internal,
    /// The identity provider could not be used (discovery, keys, token endpoint).
    IdpFailed,
    /// Rust code panicked (C boundary only).
    Panic,
}

impl ErrorKind {
    /// Every kind, in the order of their `scim_result` codes.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::NullParameter,
        ErrorKind::InvalidUtf8,
        ErrorKind::InvalidJson,
        ErrorKind::InvalidArgument,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::WrongState,
        ErrorKind::LoginRefused,
        ErrorKind::Unauthenticated,
        ErrorKind::SecretsKey,
        ErrorKind::Io,
        ErrorKind::Internal,
        ErrorKind::IdpFailed,
        ErrorKind::Panic,
    ];

    /// The stable snake-case name (`"not_found"`), as the bindings spell it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::NullParameter => "null_parameter",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::WrongState => "wrong_state",
            ErrorKind::LoginRefused => "login_refused",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::SecretsKey => "secrets_key",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
            ErrorKind::IdpFailed => "idp_failed",
            ErrorKind::Panic => "panic",
        }
    }

    /// The kind a SCIM protocol status means when nothing more specific is known (what
    /// [`ScimError::new`] gives): 401 unauthenticated, 404 not found, 409 conflict,
    /// 507 (disk full) I/O, other 4xx an invalid argument, anything else internal.
    fn of_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Unauthenticated,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            400..=499 => ErrorKind::InvalidArgument,
            507 => ErrorKind::Io,
            _ => ErrorKind::Internal,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A SCIM error: what went wrong, in the shape the RFC prescribes, and its [`ErrorKind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// What a program acts on (never sent to a SCIM client).
    pub kind: ErrorKind,
}

impl ScimError {
    /// An error with the kind its status means in the protocol (see
    /// [`ScimError::with_kind`] for a more specific one).
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            kind: ErrorKind::of_status(status),
        }
    }

    /// The same error with another kind.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// An internal error (500) of the store or the operating system: a file, a socket,
    /// the database connection.
    pub fn io(detail: impl Into<String>) -> Self {
        Self::internal(detail).with_kind(ErrorKind::Io)
    }

    /// A `secrets_key` that is malformed (400) or does not fit the stored secrets (500).
    pub fn secrets_key(status: u16, detail: impl Into<String>) -> Self {
        let scim_type = (status == 400).then_some(ScimType::InvalidValue);
        Self::new(status, scim_type, detail).with_kind(ErrorKind::SecretsKey)
    }

    /// A JSON argument that does not parse or has the wrong shape (400 `invalidSyntax`).
    pub fn invalid_json(detail: impl Into<String>) -> Self {
        Self::invalid_syntax(detail).with_kind(ErrorKind::InvalidJson)
    }

    /// An operation the object's state does not allow (409, kind `wrong_state`).
    pub fn wrong_state(detail: impl Into<String>) -> Self {
        Self::new(409, None, detail).with_kind(ErrorKind::WrongState)
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
