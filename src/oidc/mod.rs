//! OpenID Connect relying party (OIDC Core 1.0, Discovery 1.0): the authentication half
//! of a directory.
//!
//! [`RelyingParty`] is built from an [`OidcConfig`]; it discovers the IdP, caches its
//! keys, runs the authorization-code flow with state, nonce and PKCE
//! ([`login_begin`](RelyingParty::login_begin) /
//! [`login_complete`](RelyingParty::login_complete)) and validates ID tokens
//! ([`validate_id_token`](RelyingParty::validate_id_token)). The result is a set of
//! [`Claims`] whose [`identifier`](Claims::identifier) is the configured claim's value,
//! for the directory to find the provisioned user by. Every failure is an [`OidcError`]
//! with a stable code.
//!
//! Files: `config` (settings), `discovery` (metadata, §4.3 issuer check), `jwks` (keys,
//! selection, cache), `jws` (compact JWS parsing, the algorithm allowlist), `claims`
//! (claim checks), `login` (pending logins, PKCE), `http` (outbound HTTPS), `rp` (the
//! relying party tying them together).

mod claims;
mod config;
mod discovery;
mod error;
mod http;
mod jwks;
mod jws;
mod login;
mod rp;
mod url;

pub use claims::Claims;
pub use config::{OidcConfig, TokenEndpointAuth, MAX_LEEWAY_SECS};
pub use discovery::{Discovery, DEFAULT_CACHE_SECS, MAX_CACHE_SECS, MIN_CACHE_SECS};
pub use error::{OidcError, OidcErrorKind, OidcResult};
pub use http::{MAX_RESPONSE_BYTES, REQUEST_TIMEOUT};
pub use jwks::{JWKS_REFETCH_COOLDOWN_SECS, MIN_RSA_BITS};
pub use jws::{Alg, MAX_TOKEN_BYTES};
pub use login::{LoginResult, LoginSealer, LoginStart, LOGIN_TTL_SECS, MAX_PENDING_LOGINS};
pub use rp::{system_clock, Clock, RelyingParty};
