//! The relying-party configuration of one directory, as the admin enters it.

use super::error::{oidc_err, OidcResult};
use super::jws::Alg;
use super::url::{HttpUrl, WELL_KNOWN_SUFFIX};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How the client authenticates at the token endpoint (OIDC Core §9).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    /// From discovery's `token_endpoint_auth_methods_supported`: `client_secret_basic`
    /// when listed or when the list is absent (the spec's default), else
    /// `client_secret_post` when listed.
    #[default]
    Auto,
    ClientSecretBasic,
    ClientSecretPost,
}

/// One directory's OIDC settings. JSON field names are the snake_case Rust names; every
/// field but `client_id`, `client_secret`, `config_url` and `redirect_uri` has a default.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub client_id: String,
    pub client_secret: String,
    /// `https://idp.example.com/.well-known/openid-configuration`; the issuer is this URL
    /// minus the well-known suffix (OIDC Discovery §4).
    pub config_url: String,
    /// For a directory's login, the engine sets it (`<public_url>/login/<id>/callback`).
    #[serde(default)]
    pub redirect_uri: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID-token claim that identifies the user (`email` by default; `sub` is safer).
    #[serde(default = "default_claim")]
    pub claim: String,
    #[serde(default = "Alg::all")]
    pub allowed_algs: Vec<Alg>,
    #[serde(default = "default_leeway")]
    pub leeway_secs: u32,
    /// Added to the authorization URL (`prompt`, `login_hint`, `domain_hint`, …). The
    /// parameters the flow itself sets cannot be overridden.
    #[serde(default)]
    pub extra_authorize_params: BTreeMap<String, String>,
    /// Permit `http://` URLs to a loopback host (`localhost`, `127.0.0.0/8`, `::1`): an
    /// IdP on this machine, for tests. Never honoured for any other host.
    #[serde(default)]
    pub allow_http: bool,
    /// Extra trust anchors (PEM certificates) for an IdP with a private PKI, added to the
    /// public roots.
    #[serde(default)]
    pub ca_bundle_pem: Option<String>,
    /// With `claim == "email"`, require `email_verified: true` (the "nOAuth" takeover
    /// defence). Turn off only for an IdP that never sends it and vouches otherwise.
    #[serde(default = "yes")]
    pub require_email_verified: bool,
    #[serde(default)]
    pub token_endpoint_auth: TokenEndpointAuth,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into(), "profile".into()]
}
fn default_claim() -> String {
    "email".into()
}
fn default_leeway() -> u32 {
    60
}
fn yes() -> bool {
    true
}

/// The largest clock leeway accepted: beyond it, expiry checks mean little.
pub const MAX_LEEWAY_SECS: u32 = 600;

/// Authorization parameters the flow sets itself; `extra_authorize_params` cannot override them.
pub(crate) const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

impl OidcConfig {
    /// A configuration with every default, for the four required values.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        config_url: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        OidcConfig {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            config_url: config_url.into(),
            redirect_uri: redirect_uri.into(),
            scopes: default_scopes(),
            claim: default_claim(),
            allowed_algs: Alg::all(),
            leeway_secs: default_leeway(),
            extra_authorize_params: BTreeMap::new(),
            allow_http: false,
            ca_bundle_pem: None,
            require_email_verified: true,
            token_endpoint_auth: TokenEndpointAuth::Auto,
        }
    }

    /// The issuer the configuration URL names: the URL minus
    /// `/.well-known/openid-configuration` (OIDC Discovery §4.1, §4.3).
    pub fn expected_issuer(&self) -> OidcResult<String> {
        match self.config_url.strip_suffix(WELL_KNOWN_SUFFIX) {
            Some(issuer) if !issuer.is_empty() => Ok(issuer.to_owned()),
            _ => Err(oidc_err!(
                InvalidConfig,
                "config_url must end with {WELL_KNOWN_SUFFIX}"
            )),
        }
    }

    /// Checks everything that can be checked without the network.
    pub fn validate(&self) -> OidcResult<()> {
        if self.client_id.is_empty() {
            return Err(oidc_err!(InvalidConfig, "client_id is empty"));
        }
        if self.client_secret.is_empty() {
            return Err(oidc_err!(InvalidConfig, "client_secret is empty"));
        }
        self.expected_issuer()?;
        HttpUrl::parse(&self.config_url, self.allow_http, "config_url")?;
        // OAuth 2.0 Security BCP: redirect URIs over plain HTTP only on loopback.
        HttpUrl::parse(&self.redirect_uri, true, "redirect_uri")?;
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(oidc_err!(InvalidConfig, "scopes must include \"openid\""));
        }
        if let Some(bad) = self
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.chars().any(|c| c == ' ' || c.is_control()))
        {
            return Err(oidc_err!(
                InvalidConfig,
                "scope {bad:?} is not a scope token"
            ));
        }
        if self.claim.is_empty() {
            return Err(oidc_err!(InvalidConfig, "claim is empty"));
        }
        if self.allowed_algs.is_empty() {
            return Err(oidc_err!(InvalidConfig, "allowed_algs is empty"));
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(oidc_err!(
                InvalidConfig,
                "leeway_secs {} exceeds {MAX_LEEWAY_SECS}",
                self.leeway_secs
            ));
        }
        if let Some(k) = self
            .extra_authorize_params
            .keys()
            .find(|k| RESERVED_AUTHORIZE_PARAMS.contains(&k.as_str()))
        {
            return Err(oidc_err!(
                InvalidConfig,
                "extra_authorize_params cannot set {k:?}: the login flow sets it"
            ));
        }
        Ok(())
    }
}

/// The client secret (kept for every token exchange) is wiped from memory with the
/// configuration that holds it.
impl Drop for OidcConfig {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.client_secret);
    }
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("config_url", &self.config_url)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("claim", &self.claim)
            .field("allowed_algs", &self.allowed_algs)
            .field("leeway_secs", &self.leeway_secs)
            .field("extra_authorize_params", &self.extra_authorize_params)
            .field("allow_http", &self.allow_http)
            .field(
                "ca_bundle_pem",
                &self
                    .ca_bundle_pem
                    .as_ref()
                    .map(|p| format!("<{} bytes>", p.len())),
            )
            .field("require_email_verified", &self.require_email_verified)
            .field("token_endpoint_auth", &self.token_endpoint_auth)
            .finish()
    }
}
