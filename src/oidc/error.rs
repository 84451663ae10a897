//! OIDC failures: one kind per reason a host (or an admin reading a log) must tell apart,
//! each with a stable string code that never changes meaning, plus a human detail.

use std::fmt;

/// Why an OIDC operation failed. The [`code`](OidcErrorKind::code) strings are stable API:
/// the C ABI and the bindings expose them, so a code is never renamed or reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OidcErrorKind {
    /// The [`OidcConfig`](super::OidcConfig) is unusable (empty client id, bad URL, …).
    InvalidConfig,
    /// A URL is plain HTTP and `allow_http` is off.
    InsecureUrl,
    /// The discovery document could not be fetched or is not a valid document.
    DiscoveryFailed,
    /// The discovery document's `issuer` differs from the configuration URL's issuer.
    DiscoveryIssuerMismatch,
    /// The JWKS could not be fetched or parsed.
    JwksFailed,
    /// The token is not a well-formed JWS compact JWT (also: JWE, nested JWT, JSON
    /// serialization, padding, bad JSON).
    Malformed,
    /// The token exceeds the size bound.
    TooLarge,
    /// The header's `alg` is not in the allowlist (this is where `none` and `HS*` land).
    AlgNotAllowed,
    /// The header carries `crit`: we understand no JWS extension.
    CritUnsupported,
    /// The `typ` header names something other than a JWT.
    WrongType,
    /// No key of the IdP's JWKS fits the token (after the one permitted refetch).
    UnknownKey,
    /// The matching key is too weak (RSA under 2048 bits).
    WeakKey,
    /// The signature does not verify.
    InvalidSignature,
    /// `iss` differs from the discovered issuer.
    WrongIssuer,
    /// `aud` does not contain the client id.
    WrongAudience,
    /// `azp` is missing with several audiences, or differs from the client id.
    AzpMismatch,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// The token has no `nonce`.
    NonceMissing,
    /// The token's `nonce` differs from the one this login sent.
    NonceMismatch,
    /// `at_hash` does not match the access token.
    AtHashMismatch,
    /// A required claim (`sub`, `exp`, `iat`, the configured identifier claim) is missing
    /// or has the wrong type.
    MissingClaim,
    /// The identifier claim is `email` and the IdP does not say it is verified.
    EmailNotVerified,
    /// The login `state` is unknown, expired or already used.
    StateUnknown,
    /// The callback's `state` is not the one of the login this browser began (its login
    /// cookie is missing, was not issued here, or names another state): login CSRF.
    StateMismatch,
    /// The token endpoint refused the code or answered something unusable.
    TokenExchangeFailed,
}

impl OidcErrorKind {
    /// The stable code.
    pub fn code(self) -> &'static str {
        use OidcErrorKind::*;
        match self {
            InvalidConfig => "invalid_config",
            InsecureUrl => "insecure_url",
            DiscoveryFailed => "discovery_failed",
            DiscoveryIssuerMismatch => "discovery_issuer_mismatch",
            JwksFailed => "jwks_failed",
            Malformed => "malformed",
            TooLarge => "too_large",
            AlgNotAllowed => "alg_not_allowed",
            CritUnsupported => "crit_unsupported",
            WrongType => "wrong_type",
            UnknownKey => "unknown_key",
            WeakKey => "weak_key",
            InvalidSignature => "invalid_signature",
            WrongIssuer => "wrong_issuer",
            WrongAudience => "wrong_audience",
            AzpMismatch => "azp_mismatch",
            Expired => "expired",
            NotYetValid => "not_yet_valid",
            IssuedInFuture => "issued_in_future",
            NonceMissing => "nonce_missing",
            NonceMismatch => "nonce_mismatch",
            AtHashMismatch => "at_hash_mismatch",
            MissingClaim => "missing_claim",
            EmailNotVerified => "email_not_verified",
            StateUnknown => "state_unknown",
            StateMismatch => "state_mismatch",
            TokenExchangeFailed => "token_exchange_failed",
        }
    }

    /// True for failures caused by the IdP or the network being unavailable or
    /// misconfigured (worth a retry or an admin's attention), false for a rejected token
    /// or login (worth showing the user).
    pub fn is_configuration_or_transport(self) -> bool {
        use OidcErrorKind::*;
        matches!(
            self,
            InvalidConfig
                | InsecureUrl
                | DiscoveryFailed
                | DiscoveryIssuerMismatch
                | JwksFailed
                | TokenExchangeFailed
        )
    }
}

/// An OIDC failure: a [`OidcErrorKind`] and a detail meant for logs and admins. The
/// detail never contains a secret, a token or a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcError {
    pub kind: OidcErrorKind,
    pub detail: String,
}

impl OidcError {
    pub fn new(kind: OidcErrorKind, detail: impl Into<String>) -> Self {
        OidcError {
            kind,
            detail: detail.into(),
        }
    }

    /// The stable code of [`kind`](Self::kind).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.detail)
    }
}

impl std::error::Error for OidcError {}

/// Shorthand for the OIDC module.
pub type OidcResult<T> = std::result::Result<T, OidcError>;

/// `OidcError::new(OidcErrorKind::X, format!(...))` in short.
macro_rules! oidc_err {
    ($kind:ident, $($arg:tt)*) => {
        $crate::oidc::OidcError::new($crate::oidc::OidcErrorKind::$kind, format!($($arg)*))
    };
}
pub(crate) use oidc_err;
