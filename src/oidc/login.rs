//! The authorization-code flow's server-side state: pending logins (state → nonce and
//! PKCE verifier), single use, short-lived and bounded; PKCE (RFC 7636, S256); and the
//! token endpoint's answer.

use super::error::{oidc_err, OidcResult};
use super::jws::b64_encode;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// How long a login may take between `login_begin` and `login_complete`.
pub const LOGIN_TTL_SECS: i64 = 10 * 60;
/// Most logins pending at once per relying party; beyond it the oldest is dropped.
pub const MAX_PENDING_LOGINS: usize = 10_000;

/// What `login_begin` hands the host: send the browser to `authorization_url`; `state`
/// comes back on the redirect URI and goes to `login_complete`.
#[derive(Clone, Debug, PartialEq, Eq)]
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

pub(crate) struct Pending {
    pub nonce: String,
    pub verifier: String,
    pub created: i64,
}

/// Pending logins by state. `order` keeps insertion order for expiry and eviction; it
/// may hold states already taken, which are skipped.
#[derive(Default)]
pub(crate) struct PendingLogins {
    map: HashMap<String, Pending>,
    order: VecDeque<(String, i64)>,
}

impl PendingLogins {
    pub fn insert(&mut self, state: String, pending: Pending, now: i64) {
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
        self.order.push_back((state.clone(), pending.created));
        self.map.insert(state, pending);
    }

    /// Removes the login; `None` when unknown, already used or expired.
    pub fn take(&mut self, state: &str, now: i64) -> Option<Pending> {
        let p = self.map.remove(state)?;
        (now - p.created < LOGIN_TTL_SECS && now >= p.created).then_some(p)
    }

    pub fn len(&self) -> usize {
        self.map.len()
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

    fn pending(created: i64) -> Pending {
        Pending {
            nonce: "n".into(),
            verifier: "v".into(),
            created,
        }
    }

    #[test]
    fn single_use_and_expiry() {
        let mut p = PendingLogins::default();
        p.insert("a".into(), pending(100), 100);
        p.insert("b".into(), pending(100), 100);
        assert!(p.take("a", 101).is_some());
        assert!(p.take("a", 101).is_none());
        assert!(p.take("b", 100 + LOGIN_TTL_SECS).is_none());
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn bounded_by_evicting_the_oldest() {
        let mut p = PendingLogins::default();
        for i in 0..MAX_PENDING_LOGINS + 5 {
            p.insert(format!("s{i}"), pending(1), 1);
        }
        assert_eq!(p.len(), MAX_PENDING_LOGINS);
        assert!(p.take("s0", 2).is_none());
        assert!(p.take("s4", 2).is_none());
        assert!(p.take("s5", 2).is_some());
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
