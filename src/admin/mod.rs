//! The admin API of the built-in server (`/admin/api/`, see `docs/admin-api.md`): the
//! operator's view of directories, tokens, mappings, login, users and groups, the outbox
//! and the activity feed. An adapter only — routes, JSON in and out, its own credential;
//! every operation is an [`Engine`] call the C ABI exposes too, and users and groups are
//! read through the directory's own SCIM endpoint ([`Engine::read_directory`]).
//!
//! Off unless the host enables it ([`crate::server::ServerOptions::admin`]).

pub(crate) mod console;
mod routes;
mod views;

use crate::error::{Result, ScimError};
use crate::provider::{Request, Response};
use crate::token;
use crate::Engine;
use std::net::SocketAddr;
use zeroize::Zeroizing;

/// Where the admin API lives on the built-in server.
pub const ADMIN_API_PATH: &str = "/admin/api";

/// What every admin credential a host generates starts with ([`AdminOptions::generate`]).
pub const ADMIN_CREDENTIAL_PREFIX: &str = "scimadm_";

/// Shortest admin credential accepted, in bytes.
pub const MIN_CREDENTIAL_BYTES: usize = 24;

/// The admin API's settings: its credential (kept only as a SHA-256 hash) and who may
/// reach it.
#[derive(Clone)]
pub struct AdminOptions {
    credential_hash: String,
    /// Serve clients that are not on a loopback address (off: they get 403).
    pub allow_remote: bool,
}

impl std::fmt::Debug for AdminOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminOptions")
            .field("credential", &"<redacted>")
            .field("allow_remote", &self.allow_remote)
            .finish()
    }
}

impl AdminOptions {
    /// Admin access with this bearer credential, loopback clients only. It must be at
    /// least [`MIN_CREDENTIAL_BYTES`] of visible ASCII, and never a SCIM token (those
    /// start with [`token::TOKEN_PREFIX`]): 400 `invalidValue` otherwise.
    pub fn new(credential: &str) -> Result<AdminOptions> {
        if credential.len() < MIN_CREDENTIAL_BYTES {
            return Err(ScimError::invalid_value(format!(
                "admin credential: must be at least {MIN_CREDENTIAL_BYTES} characters"
            )));
        }
        if !credential.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ScimError::invalid_value(
                "admin credential: may contain only visible ASCII characters",
            ));
        }
        if credential.starts_with(token::TOKEN_PREFIX) {
            return Err(ScimError::invalid_value(format!(
                "admin credential: must not be a SCIM token (it starts with '{}')",
                token::TOKEN_PREFIX
            )));
        }
        Ok(AdminOptions {
            credential_hash: token::hash(credential),
            allow_remote: false,
        })
    }

    /// A fresh random credential (`scimadm_` and 256 bits in hex) and the options that
    /// accept it. Show the credential to the operator once; it is not kept.
    pub fn generate() -> Result<(AdminOptions, Zeroizing<String>)> {
        let secret = token::random_secret(ADMIN_CREDENTIAL_PREFIX)?;
        Ok((AdminOptions::new(&secret)?, secret))
    }

    /// The same options, serving remote clients too (or not).
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// May this request head reach the admin API? 403 for a remote peer when remote
    /// access is off (before anything else), 401 unless the bearer credential is this
    /// one (compared in constant time, as hashes).
    pub(crate) fn admit(&self, peer: SocketAddr, authorization: Option<&str>) -> Result<()> {
        if !self.allow_remote && !peer.ip().is_loopback() && !is_mapped_loopback(peer) {
            return Err(ScimError::new(
                403,
                None,
                "the admin API serves loopback clients only",
            ));
        }
        let presented = authorization
            .and_then(|h| {
                let (scheme, value) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("Bearer").then(|| value.trim())
            })
            .filter(|s| !s.is_empty());
        match presented {
            Some(secret) if token::hashes_equal(&token::hash(secret), &self.credential_hash) => {
                Ok(())
            }
            _ => Err(ScimError::unauthorized(
                "the admin API needs its own bearer credential",
            )),
        }
    }
}

/// `::ffff:127.0.0.1` (a dual-stack listener's view of an IPv4 loopback client).
fn is_mapped_loopback(peer: SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

/// Whether `path` is the admin API's.
pub(crate) fn is_admin_path(path: &str) -> bool {
    path.strip_prefix(ADMIN_API_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Answer one admin request (already admitted): JSON, or a SCIM-style error.
pub(crate) fn handle(engine: &Engine, req: &Request) -> Response {
    let resp = match routes::route(engine, req) {
        Ok(r) => r,
        Err(e) => Response::error(&e),
    };
    let resp = resp.with_header("Cache-Control", "no-store");
    if resp.body.is_empty() {
        resp
    } else {
        resp.with_content_type("application/json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn credentials_are_checked_and_never_scim_tokens() {
        assert_eq!(AdminOptions::new("short").unwrap_err().status, 400);
        let e = AdminOptions::new(&format!("scim_{}", "a".repeat(64))).unwrap_err();
        assert!(e.detail.contains("SCIM token"), "{}", e.detail);
        assert!(AdminOptions::new(&format!("has space {}", "a".repeat(30))).is_err());
        let (o, secret) = AdminOptions::generate().unwrap();
        assert!(secret.starts_with(ADMIN_CREDENTIAL_PREFIX));
        assert!(!format!("{o:?}").contains(secret.as_str()));
        let local = peer("127.0.0.1:5000");
        o.admit(local, Some(&format!("Bearer {}", secret.as_str())))
            .unwrap();
        o.admit(local, Some(&format!("bearer  {} ", secret.as_str())))
            .unwrap();
        for wrong in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Basic abc"),
            Some("Bearer scimadm_0000"),
        ] {
            assert_eq!(o.admit(local, wrong).unwrap_err().status, 401, "{wrong:?}");
        }
    }

    #[test]
    fn remote_peers_only_when_allowed() {
        let (o, secret) = AdminOptions::generate().unwrap();
        let auth = format!("Bearer {}", secret.as_str());
        for p in ["127.0.0.1:1", "[::1]:1", "[::ffff:127.0.0.1]:1"] {
            o.admit(peer(p), Some(&auth)).unwrap();
        }
        let remote = peer("192.0.2.7:443");
        let e = o.admit(remote, Some(&auth)).unwrap_err();
        assert_eq!(e.status, 403);
        // Refused before the credential is even looked at.
        assert_eq!(o.admit(remote, None).unwrap_err().status, 403);
        let o = o.allow_remote(true);
        o.admit(remote, Some(&auth)).unwrap();
        assert_eq!(o.admit(remote, None).unwrap_err().status, 401);
    }

    #[test]
    fn admin_paths() {
        assert!(is_admin_path("/admin/api"));
        assert!(is_admin_path("/admin/api/directories"));
        assert!(!is_admin_path("/admin/apix"));
        assert!(!is_admin_path("/admin"));
    }
}
