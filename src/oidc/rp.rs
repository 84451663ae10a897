//! The relying party of one directory: discovery, keys, ID-token validation and the
//! authorization-code login, behind a synchronous API (the C ABI calls it).

use super::claims::{self, Claims, Expect};
use super::config::{OidcConfig, TokenEndpointAuth};
use super::discovery::{
    Discovery, DiscoveryCache, DEFAULT_CACHE_SECS, MAX_CACHE_SECS, MIN_CACHE_SECS,
};
use super::error::{oidc_err, OidcError, OidcErrorKind, OidcResult};
use super::http::{cache_lifetime, HttpClient};
use super::jwks::{JwksCache, KeySet, Selection, Snapshot};
use super::jws::{self, Jws};
use super::login::{
    pkce_challenge, random_token, LoginResult, LoginSealer, LoginStart, PendingLogin,
    PendingLogins, TokenResponse, LOGIN_TTL_SECS,
};
use super::url::{encode, encode_pairs};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use parking_lot::Mutex;
use ring::rand::SystemRandom;
use std::sync::Arc;

/// The current time in Unix seconds. Injectable for tests; [`system_clock`] otherwise.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// An OpenID Connect relying party for one directory's IdP.
///
/// Thread-safe (`Send + Sync`): share it behind an `Arc`. Every method may block on
/// the network for up to [`REQUEST_TIMEOUT`](super::REQUEST_TIMEOUT) per request (the
/// discovery document and the keys are cached, so most validations do not); call it
/// from a blocking context (e.g. `spawn_blocking`) when inside an async runtime.
pub struct RelyingParty {
    config: OidcConfig,
    issuer: String,
    http: HttpClient,
    clock: Clock,
    discovery: DiscoveryCache,
    jwks: JwksCache,
    pending: Mutex<PendingLogins>,
    rng: SystemRandom,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// Checks the configuration (no network yet: discovery happens on first use, or
    /// now with [`discover`](Self::discover)).
    pub fn new(config: OidcConfig) -> OidcResult<RelyingParty> {
        Self::with_clock(config, system_clock())
    }

    pub fn with_clock(config: OidcConfig, clock: Clock) -> OidcResult<RelyingParty> {
        config.validate()?;
        let issuer = config.expected_issuer()?;
        let http = HttpClient::new(config.ca_bundle_pem.as_deref(), config.allow_http)?;
        Ok(RelyingParty {
            config,
            issuer,
            http,
            clock,
            discovery: DiscoveryCache::default(),
            jwks: JwksCache::default(),
            pending: Mutex::new(PendingLogins::default()),
            rng: SystemRandom::new(),
        })
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The issuer the configuration URL names, which the IdP must claim exactly.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The IdP's metadata, from the cache or fetched. Use it to test a configuration
    /// when the admin saves it.
    pub fn discover(&self) -> OidcResult<Arc<Discovery>> {
        self.discovery
            .get((self.clock)(), false, &|| self.fetch_discovery())
    }

    /// Fetches the metadata anew and forgets the cached keys.
    pub fn refresh(&self) -> OidcResult<Arc<Discovery>> {
        let doc = self
            .discovery
            .get((self.clock)(), true, &|| self.fetch_discovery())?;
        self.jwks.clear();
        Ok(doc)
    }

    fn fetch_discovery(&self) -> OidcResult<(Discovery, u64)> {
        let resp = self.http.send(
            OidcErrorKind::DiscoveryFailed,
            http::Method::GET,
            &self.config.config_url,
            &[],
            None,
        )?;
        if resp.status != 200 {
            return Err(oidc_err!(
                DiscoveryFailed,
                "{} answered HTTP {}",
                self.config.config_url,
                resp.status
            ));
        }
        let doc = Discovery::parse(&resp.body, &self.issuer, self.config.allow_http)?;
        let life = cache_lifetime(
            &resp.headers,
            MIN_CACHE_SECS,
            MAX_CACHE_SECS,
            DEFAULT_CACHE_SECS,
        );
        Ok((doc, life))
    }

    fn fetch_jwks(&self, uri: &str) -> OidcResult<(KeySet, u64)> {
        let resp = self
            .http
            .send(OidcErrorKind::JwksFailed, http::Method::GET, uri, &[], None)?;
        if resp.status != 200 {
            return Err(oidc_err!(JwksFailed, "{uri} answered HTTP {}", resp.status));
        }
        let keys = KeySet::parse(&resp.body)?;
        let life = cache_lifetime(
            &resp.headers,
            MIN_CACHE_SECS,
            MAX_CACHE_SECS,
            DEFAULT_CACHE_SECS,
        );
        Ok((keys, life))
    }

    /// Validates an ID token the host obtained itself (it ran the browser flow): the
    /// signature with the IdP's keys, and every claim check, against `nonce`, the value
    /// the host put in its authorization request. `at_hash` is not checked (no access
    /// token); use [`validate_id_token_with_access_token`](Self::validate_id_token_with_access_token)
    /// when there is one.
    pub fn validate_id_token(&self, token: &str, nonce: &str) -> OidcResult<Claims> {
        self.validate(token, nonce, None)
    }

    /// As [`validate_id_token`](Self::validate_id_token), checking `at_hash` against
    /// `access_token` when the token carries one.
    pub fn validate_id_token_with_access_token(
        &self,
        token: &str,
        nonce: &str,
        access_token: &str,
    ) -> OidcResult<Claims> {
        self.validate(token, nonce, Some(access_token))
    }

    fn validate(&self, token: &str, nonce: &str, access_token: Option<&str>) -> OidcResult<Claims> {
        let jws = jws::parse(token, &self.config.allowed_algs)?;
        let discovery = self.discover()?;
        self.verify_signature(&jws, &discovery)?;
        claims::check(
            jws.claims,
            &Expect {
                issuer: &self.issuer,
                client_id: &self.config.client_id,
                nonce,
                now: (self.clock)(),
                leeway: i64::from(self.config.leeway_secs),
                alg: jws.alg,
                access_token,
                identifier_claim: &self.config.claim,
                require_email_verified: self.config.require_email_verified,
            },
        )
    }

    fn verify_signature(&self, jws: &Jws<'_>, discovery: &Discovery) -> OidcResult<()> {
        let fetch = |uri: &str| self.fetch_jwks(uri);
        let snapshot = self.jwks.get(&discovery.jwks_uri, (self.clock)(), &fetch)?;
        match try_keys(&snapshot, jws) {
            Some(r) => r,
            None => {
                // The token names a key we do not know: the IdP may have rotated.
                match self.jwks.refetch(&snapshot, (self.clock)(), &fetch)? {
                    Some(newer) => try_keys(&newer, jws)
                        .unwrap_or_else(|| Err(unknown_key(jws, "not in the IdP's current JWKS"))),
                    None => Err(unknown_key(
                        jws,
                        "not in the IdP's JWKS (refetched less than a minute ago)",
                    )),
                }
            }
        }
    }

    /// Starts a login: a fresh state, nonce and PKCE verifier are kept server-side, and
    /// the authorization URL carries the state, nonce and S256 challenge. The pending
    /// logins are bounded ([`MAX_PENDING_LOGINS`](super::MAX_PENDING_LOGINS), oldest
    /// dropped first): where anyone can begin a login, prefer
    /// [`login_begin_sealed`](Self::login_begin_sealed), which keeps nothing here.
    pub fn login_begin(&self) -> OidcResult<LoginStart> {
        let pending = PendingLogin {
            state: random_token(&self.rng)?,
            nonce: random_token(&self.rng)?,
            verifier: random_token(&self.rng)?,
            created: (self.clock)(),
        };
        let start = self.authorization(&pending)?;
        let now = pending.created;
        self.pending.lock().insert(pending, now);
        Ok(start)
    }

    /// Starts a login as [`login_begin`](Self::login_begin) without keeping anything
    /// here: the second value is for the browser that begins the login to keep (an
    /// HttpOnly cookie) and send back to
    /// [`login_complete_sealed`](Self::login_complete_sealed) with the callback. It
    /// carries the state and the start time under `sealer`'s HMAC; the nonce and PKCE
    /// verifier are derived from them and never leave the server.
    pub fn login_begin_sealed(&self, sealer: &LoginSealer) -> OidcResult<(LoginStart, String)> {
        let pending = sealer.pending(random_token(&self.rng)?, (self.clock)());
        let start = self.authorization(&pending)?;
        Ok((start, sealer.seal(&pending)))
    }

    /// The authorization URL of a login.
    fn authorization(&self, pending: &PendingLogin) -> OidcResult<LoginStart> {
        let discovery = self.discover()?;
        let challenge = pkce_challenge(&pending.verifier);
        let scope = self.config.scopes.join(" ");
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &self.config.client_id),
            ("redirect_uri", &self.config.redirect_uri),
            ("scope", &scope),
            ("state", &pending.state),
            ("nonce", &pending.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        params.extend(
            self.config
                .extra_authorize_params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let endpoint = &discovery.authorization_endpoint;
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(LoginStart {
            authorization_url: format!("{endpoint}{sep}{}", encode_pairs(params)),
            state: pending.state.clone(),
            expires_at: pending.created + LOGIN_TTL_SECS,
        })
    }

    /// Completes a login with the `code` and `state` the IdP redirected back with: the
    /// pending login is consumed (success or not), the code exchanged at the token
    /// endpoint, the ID token validated with the login's nonce and `at_hash`.
    pub fn login_complete(&self, code: &str, state: &str) -> OidcResult<LoginResult> {
        let pending = self
            .pending
            .lock()
            .take(state, (self.clock)())
            .ok_or_else(|| {
                oidc_err!(
                    StateUnknown,
                    "this login is unknown, expired or already completed; start again"
                )
            })?;
        self.finish(code, &pending)
    }

    /// Completes a login begun with [`login_begin_sealed`](Self::login_begin_sealed):
    /// `sealed` is what the browser sending this callback kept (`None`: it kept
    /// nothing). A callback whose browser did not begin this login (no sealed value, one
    /// sealed by another key, or for another state: login CSRF) is `state_mismatch`;
    /// past [`LOGIN_TTL_SECS`] it is `state_unknown`. A replayed callback is stopped by
    /// the IdP, which redeems a code once (RFC 6749 §4.1.2), and the PKCE verifier.
    pub fn login_complete_sealed(
        &self,
        sealer: &LoginSealer,
        code: &str,
        state: &str,
        sealed: Option<&str>,
    ) -> OidcResult<LoginResult> {
        let Some(sealed) = sealed else {
            return Err(oidc_err!(
                StateMismatch,
                "this browser did not begin this login (no login cookie); start again"
            ));
        };
        let pending = sealer.open(sealed).ok_or_else(|| {
            oidc_err!(
                StateMismatch,
                "the login cookie was not issued by this server for this login; start again"
            )
        })?;
        if pending.state != state {
            return Err(oidc_err!(
                StateMismatch,
                "this callback belongs to a login begun by another browser; start again"
            ));
        }
        if !pending.is_live((self.clock)()) {
            return Err(oidc_err!(
                StateUnknown,
                "this login has expired; start again"
            ));
        }
        self.finish(code, &pending)
    }

    fn finish(&self, code: &str, pending: &PendingLogin) -> OidcResult<LoginResult> {
        if code.is_empty() {
            return Err(oidc_err!(
                TokenExchangeFailed,
                "the redirect carried no code"
            ));
        }
        let discovery = self.discover()?;
        let tokens = self.exchange_code(&discovery, code, &pending.verifier)?;
        let id_token = tokens
            .id_token
            .ok_or_else(|| oidc_err!(TokenExchangeFailed, "the token response has no id_token"))?;
        let claims = self.validate(&id_token, &pending.nonce, tokens.access_token.as_deref())?;
        Ok(LoginResult {
            claims,
            id_token,
            access_token: tokens.access_token,
        })
    }

    /// The client authentication used at the token endpoint.
    pub fn token_endpoint_auth(&self, discovery: &Discovery) -> TokenEndpointAuth {
        match self.config.token_endpoint_auth {
            TokenEndpointAuth::Auto => {
                let supports = |m: &str| {
                    discovery
                        .token_endpoint_auth_methods_supported
                        .as_ref()
                        .is_none_or(|l| l.iter().any(|x| x == m))
                };
                if supports("client_secret_basic") || !supports("client_secret_post") {
                    TokenEndpointAuth::ClientSecretBasic
                } else {
                    TokenEndpointAuth::ClientSecretPost
                }
            }
            explicit => explicit,
        }
    }

    fn exchange_code(
        &self,
        discovery: &Discovery,
        code: &str,
        verifier: &str,
    ) -> OidcResult<TokenResponse> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let mut headers = vec![(
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        )];
        match self.token_endpoint_auth(discovery) {
            TokenEndpointAuth::ClientSecretPost => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", &self.config.client_secret));
            }
            _ => {
                // RFC 6749 §2.3.1: both parts form-encoded before Basic encoding.
                let pair = format!(
                    "{}:{}",
                    encode(&self.config.client_id),
                    encode(&self.config.client_secret)
                );
                headers.push(("authorization", format!("Basic {}", STANDARD.encode(pair))));
            }
        }
        let resp = self.http.send(
            OidcErrorKind::TokenExchangeFailed,
            http::Method::POST,
            &discovery.token_endpoint,
            &headers,
            Some(encode_pairs(form)),
        )?;
        let parsed: Option<TokenResponse> = serde_json::from_slice(&resp.body).ok();
        if resp.status != 200 {
            let why = parsed
                .and_then(|t| {
                    t.error.map(|e| match t.error_description {
                        Some(d) => format!("{e}: {d}"),
                        None => e,
                    })
                })
                .unwrap_or_default();
            let why: String = why.chars().take(300).collect();
            return Err(oidc_err!(
                TokenExchangeFailed,
                "the token endpoint answered HTTP {} {why}",
                resp.status
            ));
        }
        parsed.ok_or_else(|| oidc_err!(TokenExchangeFailed, "the token response is not JSON"))
    }

    /// Logins begun and not yet completed or expired.
    pub fn pending_logins(&self) -> usize {
        self.pending.lock().len()
    }
}

/// `Some` when the snapshot decides the token; `None` when a fresher JWKS might.
fn try_keys(snapshot: &Snapshot, jws: &Jws<'_>) -> Option<OidcResult<()>> {
    match snapshot.keys.select(jws.alg, jws.kid.as_deref()) {
        Selection::Candidates(keys) => Some(
            if keys
                .iter()
                .any(|k| k.verify(jws.alg, jws.signing_input, &jws.signature))
            {
                Ok(())
            } else {
                Err(oidc_err!(
                    InvalidSignature,
                    "the {} signature does not verify",
                    jws.alg
                ))
            },
        ),
        Selection::Refused(e) => Some(Err(e)),
        Selection::NotListed => None,
    }
}

fn unknown_key(jws: &Jws<'_>, why: &str) -> OidcError {
    match &jws.kid {
        Some(kid) => oidc_err!(UnknownKey, "key {kid:?} is {why}"),
        None => oidc_err!(UnknownKey, "no {} key without a kid is {why}", jws.alg),
    }
}
