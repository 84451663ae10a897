//! OpenID Provider metadata (OIDC Discovery 1.0): the fetched document, checked against
//! the issuer the configuration URL names (§4.3), and cached.

use super::error::{oidc_err, OidcResult};
use super::url::HttpUrl;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Bounds on how long a discovery document (and a JWKS) is cached, whatever
/// `Cache-Control` says: at least 5 minutes, at most a day; an hour without the header.
pub const MIN_CACHE_SECS: u64 = 5 * 60;
pub const MAX_CACHE_SECS: u64 = 24 * 60 * 60;
pub const DEFAULT_CACHE_SECS: u64 = 60 * 60;

/// The metadata the relying party uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

impl Discovery {
    /// Parses a document and checks it: the issuer exactly as expected, and every
    /// endpoint an absolute https URL (http only with `allow_http`).
    pub(crate) fn parse(body: &[u8], expected_issuer: &str, allow_http: bool) -> OidcResult<Self> {
        let doc: Discovery = serde_json::from_slice(body)
            .map_err(|e| oidc_err!(DiscoveryFailed, "not a discovery document: {e}"))?;
        if doc.issuer != expected_issuer {
            return Err(oidc_err!(
                DiscoveryIssuerMismatch,
                "the document's issuer {:?} is not {expected_issuer:?}, the issuer the \
                 configuration URL names (OIDC Discovery 4.3); check the configuration URL",
                doc.issuer
            ));
        }
        for (what, url) in [
            ("authorization_endpoint", &doc.authorization_endpoint),
            ("token_endpoint", &doc.token_endpoint),
            ("jwks_uri", &doc.jwks_uri),
        ] {
            HttpUrl::parse(url, allow_http, what).map_err(|e| match e.code() {
                "insecure_url" => e,
                _ => oidc_err!(DiscoveryFailed, "{}", e.detail),
            })?;
        }
        Ok(doc)
    }
}

pub(crate) struct Cached {
    pub doc: Arc<Discovery>,
    pub expires_at: i64,
}

/// The cached document; fetches are serialized so concurrent first uses fetch once.
#[derive(Default)]
pub(crate) struct DiscoveryCache {
    current: Mutex<Option<Cached>>,
    fetch_lock: Mutex<()>,
}

impl DiscoveryCache {
    pub fn get(
        &self,
        now: i64,
        force: bool,
        fetch: &dyn Fn() -> OidcResult<(Discovery, u64)>,
    ) -> OidcResult<Arc<Discovery>> {
        let fresh = |c: &Option<Cached>| {
            c.as_ref()
                .filter(|c| now < c.expires_at)
                .map(|c| c.doc.clone())
        };
        if !force {
            if let Some(d) = fresh(&self.current.lock()) {
                return Ok(d);
            }
        }
        let _one_fetch = self.fetch_lock.lock();
        if !force {
            if let Some(d) = fresh(&self.current.lock()) {
                return Ok(d);
            }
        }
        let (doc, lifetime) = fetch()?;
        let doc = Arc::new(doc);
        *self.current.lock() = Some(Cached {
            doc: doc.clone(),
            expires_at: now.saturating_add(lifetime as i64),
        });
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(issuer: &str, base: &str) -> Vec<u8> {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}/auth"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn issuer_must_match_exactly() {
        let b = "https://idp.example.com";
        assert!(Discovery::parse(&doc(b, b), b, false).is_ok());
        for other in [
            "https://idp.example.com/",
            "https://IDP.example.com",
            "https://evil.example",
        ] {
            let e = Discovery::parse(&doc(other, b), b, false).unwrap_err();
            assert_eq!(e.code(), "discovery_issuer_mismatch", "{other}");
        }
    }

    #[test]
    fn endpoints_must_be_https() {
        let e = Discovery::parse(&doc("https://i", "http://i"), "https://i", false).unwrap_err();
        assert_eq!(e.code(), "insecure_url");
        let e = Discovery::parse(b"{\"issuer\":\"https://i\"}", "https://i", false).unwrap_err();
        assert_eq!(e.code(), "discovery_failed");
    }
}
