//! The authorization-code flow's state: pending logins (state → nonce and PKCE
//! verifier), kept server-side (single use, short-lived and bounded) or by the caller; PKCE (RFC 7636, S256); and the
//! token endpoint's answer.

use super::error::{oidc_err, OidcResult};
use super::jws::b64_encode;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// How long a login may take between `login_begin` and `login_complete`.
pub const LOGIN_TTL_SECS: i64 = 10 * 60;
/// Most logins pending at once per relying party; beyond it the oldest is dropped.
pub const MAX_PENDING_LOGINS: usize = 10_000;

/// What `login_begin` hands the host: send the browser to `authorization_url`; `state`
/// comes back on the redirect URI and goes to `login_complete`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LoginStart {
    pub authorization_url: String,
    pub state: String,
    /// When the pending login expires (Unix seconds).
    pub expires_at: i64,
}

/// A successful login: the validated claims (with the identifier to look the user up
/// by) and the tokens, which are credentials: the Debug output hides them.
#[derive(Clone, PartialEq)]
pub struct LoginResult {
    pub claims: super::Claims,
    pub id_token: String,
    pub access_token: Option<String>,
}

impl fmt::Debug for LoginResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginResult")
            .field("claims", &self.claims)
            .field("id_token", &"<redacted>")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A begun login: the state the IdP sends back, and the nonce and PKCE verifier only
/// this server may know. Debug hides the nonce and the verifier.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// When the login began (Unix seconds).
    pub created: i64,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state", &self.state)
            .field("nonce", &"<redacted>")
            .field("verifier", &"<redacted>")
            .field("created", &self.created)
            .finish()
    }
}

impl PendingLogin {
    /// Within [`LOGIN_TTL_SECS`] of its start (and not from the future).
    pub fn is_live(&self, now: i64) -> bool {
        now - self.created < LOGIN_TTL_SECS && now >= self.created
    }
}

/// Pending logins by state. `order` keeps insertion order for expiry and eviction; it
/// may hold states already taken, which are skipped.
#[derive(Default)]
pub(crate) struct PendingLogins {
    map: HashMap<String, PendingLogin>,
    order: VecDeque<(String, i64)>,
}

impl PendingLogins {
    pub fn insert(&mut self, pending: PendingLogin, now: i64) {
        while let Some((s, created)) = self.order.front() {
            let live = self.map.get(s).is_some_and(|p| p.created == *created);
            if live && now - created < LOGIN_TTL_SECS && self.map.len() < MAX_PENDING_LOGINS {
                break;
            }
            if live {
                self.map.remove(s);
            }
            self.order.pop_front();
        }
        if self.order.len() > 2 * MAX_PENDING_LOGINS {
            let map = &self.map;
            self.order
                .retain(|(s, c)| map.get(s).is_some_and(|p| p.created == *c));
        }
        self.order
            .push_back((pending.state.clone(), pending.created));
        self.map.insert(pending.state.clone(), pending);
    }

    /// Removes the login; `None` when unknown, already used or expired.
    pub fn take(&mut self, state: &str, now: i64) -> Option<PendingLogin> {
        let p = self.map.remove(state)?;
        p.is_live(now).then_some(p)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// Begun logins kept by the browser instead of the server: the browser gets
/// `created.state.tag` (HMAC-SHA256 under this key) in a cookie; the nonce and the PKCE
/// verifier are derived from the key and the state, so they never leave the server, and
/// the server keeps nothing per login (no pending-login table anyone could fill).
/// Build one per directory from a key only this server has.
pub struct LoginSealer {
    key: hmac::Key,
}

impl fmt::Debug for LoginSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginSealer(<redacted>)")
    }
}

/// Longest state accepted back from a cookie (ours are 43 characters).
const MAX_STATE_LEN: usize = 128;

impl LoginSealer {
    /// A sealer keyed by `secret` (at least 32 bytes of key material).
    pub fn new(secret: &[u8]) -> LoginSealer {
        LoginSealer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn derive(&self, what: &str, state: &str) -> String {
        b64_encode(hmac::sign(&self.key, format!("{what}\0{state}").as_bytes()).as_ref())
    }

    /// The login of `state`, begun at `created`.
    pub(crate) fn pending(&self, state: String, created: i64) -> PendingLogin {
        PendingLogin {
            nonce: self.derive("nonce", &state),
            verifier: self.derive("pkce", &state),
            state,
            created,
        }
    }

    /// What the browser keeps: `created.state.tag`.
    pub(crate) fn seal(&self, p: &PendingLogin) -> String {
        let signed = format!("{}.{}", p.created, p.state);
        let tag = hmac::sign(&self.key, format!("cookie\0{signed}").as_bytes());
        format!("{signed}.{}", b64_encode(tag.as_ref()))
    }

    /// The login a sealed value names; `None` when it was not sealed with this key.
    pub(crate) fn open(&self, sealed: &str) -> Option<PendingLogin> {
        let (signed, tag) = sealed.rsplit_once('.')?;
        let tag = super::jws::b64_decode(tag)?;
        hmac::verify(&self.key, format!("cookie\0{signed}").as_bytes(), &tag).ok()?;
        let (created, state) = signed.split_once('.')?;
        if state.is_empty() || state.len() > MAX_STATE_LEN {
            return None;
        }
        Some(self.pending(state.to_owned(), created.parse().ok()?))
    }
}

/// 256 random bits, base64url (43 characters): states, nonces and PKCE verifiers.
pub(crate) fn random_token(rng: &SystemRandom) -> OidcResult<String> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes)
        .map_err(|_| oidc_err!(InvalidConfig, "the system random generator failed"))?;
    Ok(b64_encode(&bytes))
}

/// The S256 code challenge of a verifier.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    b64_encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub id_token: Option<String>,
    pub access_token: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(state: &str, created: i64) -> PendingLogin {
        PendingLogin {
            state: state.into(),
            nonce: "n".into(),
            verifier: "v".into(),
            created,
        }
    }

    #[test]
    fn single_use_and_expiry() {
        let mut p = PendingLogins::default();
        p.insert(pending("a", 100), 100);
        p.insert(pending("b", 100), 100);
        assert!(p.take("a", 101).is_some());
        assert!(p.take("a", 101).is_none());
        assert!(p.take("b", 100 + LOGIN_TTL_SECS).is_none());
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn bounded_by_evicting_the_oldest() {
        let mut p = PendingLogins::default();
        for i in 0..MAX_PENDING_LOGINS + 5 {
            p.insert(pending(&format!("s{i}"), 1), 1);
        }
        assert_eq!(p.len(), MAX_PENDING_LOGINS);
        assert!(p.take("s0", 2).is_none());
        assert!(p.take("s4", 2).is_none());
        assert!(p.take("s5", 2).is_some());
    }

    #[test]
    fn sealed_logins_open_only_with_their_key() {
        let sealer = LoginSealer::new(&[7u8; 32]);
        let p = sealer.pending("state-1".into(), 1000);
        assert_eq!(p.verifier.len(), 43, "a PKCE verifier of 43 characters");
        assert_ne!(p.nonce, p.verifier);
        assert_ne!(sealer.pending("state-2".into(), 1000).verifier, p.verifier);
        let sealed = sealer.seal(&p);
        assert!(!sealed.contains(&p.verifier) && !sealed.contains(&p.nonce));
        assert_eq!(sealer.open(&sealed), Some(p.clone()));
        // Another key (another directory, another server), or any changed byte.
        assert_eq!(LoginSealer::new(&[8u8; 32]).open(&sealed), None);
        let later = sealed.replacen("1000.", "9999.", 1);
        assert_eq!(sealer.open(&later), None);
        let other = sealed.replacen("state-1", "state-2", 1);
        assert_eq!(sealer.open(&other), None);
        for bad in ["", ".", "..", "1000.state-1", "x.state-1.AAAA"] {
            assert_eq!(sealer.open(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pkce_matches_rfc7636_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
