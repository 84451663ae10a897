//! A directory's OpenID Connect login: its relying-party settings, and the step from
//! validated claims to the provisioned, active user.

use super::directories::{not_found, settings};
use super::mappings::fed;
use super::Engine;
use crate::directory::{DirectoryOidc, Service};
use crate::error::{ErrorKind, ScimError};
use crate::mapping::FoundUser;
use crate::oidc::{Claims, LoginSealer, LoginStart, OidcConfig, OidcError, RelyingParty};
use ring::hmac;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroize;

/// A relying party and the settings it was built from.
pub(super) struct Party {
    settings: DirectoryOidc,
    rp: Arc<RelyingParty>,
}

/// A completed login: who logged in, and what the IdP said about them. As JSON (what
/// `scim_login_complete` returns): `{"user": {"id", "resource", "record"}, "claims"}`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Login {
    /// The provisioned user, with the mapped record of the service searched.
    pub user: FoundUser,
    /// The validated ID-token claims.
    pub claims: Map<String, Value>,
}

/// Why a login was refused: each with a stable code a host can act on.
#[derive(Clone, Debug, PartialEq)]
pub enum LoginError {
    /// The IdP exchange or the ID token failed a check (`OidcError::code`).
    Oidc(OidcError),
    /// The directory has no OpenID Connect settings.
    NotConfigured,
    /// No provisioned user has the claimed identifier.
    NotProvisioned(String),
    /// The user exists but is deactivated (`active: false`).
    Deactivated(String),
    /// The directory, or a lookup, failed (unknown directory, ambiguous user, storage).
    Directory(ScimError),
}

impl LoginError {
    /// `not_configured`, `not_provisioned`, `user_deactivated`, `directory_error`, or the
    /// OIDC code (`expired`, `invalid_signature`, `email_not_verified`, `state_unknown`,
    /// `state_mismatch`, …).
    pub fn code(&self) -> &'static str {
        match self {
            LoginError::Oidc(e) => e.code(),
            LoginError::NotConfigured => "not_configured",
            LoginError::NotProvisioned(_) => "not_provisioned",
            LoginError::Deactivated(_) => "user_deactivated",
            LoginError::Directory(_) => "directory_error",
        }
    }

    /// What kind of failure it is: the IdP unusable (its configuration, discovery, keys
    /// or token endpoint), no login configured, the directory's own error, or else a
    /// refused login.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LoginError::Oidc(e) if e.kind.is_configuration_or_transport() => ErrorKind::IdpFailed,
            LoginError::Oidc(_) | LoginError::NotProvisioned(_) | LoginError::Deactivated(_) => {
                ErrorKind::LoginRefused
            }
            LoginError::NotConfigured => ErrorKind::WrongState,
            LoginError::Directory(e) => e.kind,
        }
    }

    /// The HTTP status a login endpoint answers with.
    pub fn status(&self) -> u16 {
        match self {
            LoginError::Oidc(e) if e.kind.is_configuration_or_transport() => 502,
            LoginError::Oidc(e) if matches!(e.code(), "state_unknown" | "state_mismatch") => 400,
            LoginError::Oidc(e) if e.code() == "email_not_verified" => 403,
            LoginError::Oidc(_) => 401,
            LoginError::NotConfigured => 404,
            LoginError::NotProvisioned(_) | LoginError::Deactivated(_) => 403,
            LoginError::Directory(e) => e.status,
        }
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginError::Oidc(e) => write!(f, "{e}"),
            LoginError::NotConfigured => {
                f.write_str("not_configured: this directory has no OpenID Connect login")
            }
            LoginError::NotProvisioned(who) => write!(
                f,
                "not_provisioned: no user provisioned in this directory matches {who}"
            ),
            LoginError::Deactivated(who) => {
                write!(f, "user_deactivated: the user {who} is deactivated")
            }
            LoginError::Directory(e) => write!(f, "directory_error: {}", e.detail),
        }
    }
}

impl std::error::Error for LoginError {}

impl From<OidcError> for LoginError {
    fn from(e: OidcError) -> Self {
        LoginError::Oidc(e)
    }
}

impl From<ScimError> for LoginError {
    fn from(e: ScimError) -> Self {
        LoginError::Directory(e)
    }
}

impl Engine {
    /// Where a browser starts directory `id`'s login.
    pub fn login_url(&self, id: &str) -> String {
        format!(
            "{}{}/{id}",
            self.config.public_url.trim_end_matches('/'),
            self.config.login_path.trim_end_matches('/')
        )
    }

    /// The redirect URI of directory `id`'s login (register it at the IdP).
    pub fn redirect_uri(&self, id: &str) -> String {
        format!("{}/callback", self.login_url(id))
    }

    /// Configure OpenID Connect login for a directory. `config.redirect_uri` is set to the
    /// directory's; `attribute` must be a mapped user attribute of the directory (the
    /// claim `config.claim` is matched against it). Checked now, without the network;
    /// the IdP's discovery document is checked on first use.
    pub fn set_oidc(
        &self,
        id: &str,
        mut config: OidcConfig,
        attribute: &str,
    ) -> crate::error::Result<crate::directory::Directory> {
        config.redirect_uri = self.redirect_uri(id);
        config
            .validate()
            .map_err(|e| ScimError::invalid_value(format!("oidc: {e}")))?;
        if let Some(key) = self.sealing_key()? {
            config.client_secret = key.seal(id, &config.client_secret)?;
        }
        let oidc = DirectoryOidc {
            config,
            attribute: attribute.to_owned(),
        };
        // The attribute is checked against the mapping in the same read-modify-write
        // that stores the settings: a concurrent mapping change cannot slip between.
        let record = self.modify(id, |s, _| {
            let service = login_service(&s.services);
            fed(s, service)?;
            if !s
                .mapping(service)
                .users
                .iter()
                .any(|e| e.target == attribute)
            {
                return Err(ScimError::invalid_value(format!(
                    "oidc: attribute '{attribute}' is not a mapped user attribute of this directory"
                )));
            }
            s.oidc = Some(oidc.clone());
            Ok(())
        })?;
        self.parties.lock().remove(id);
        self.view(&record)
    }

    /// Check that this engine's `secrets_key` opens every OIDC client secret sealed in the
    /// store. Instances sharing a database must share the key (it also signs the login
    /// cookies, so a login begun on one instance completes on another): an instance with
    /// another key would fail every token exchange. [`Engine::open`] checks this for a
    /// PostgreSQL database; a host that configures login on a shared store may check
    /// again after [`Engine::set_oidc`] (two instances configuring at once: the last
    /// write wins, and the other instance's check fails).
    pub fn check_secrets_key(&self) -> crate::error::Result<()> {
        for record in self.store.list_directories()? {
            let Some(oidc) = settings(&record)?.oidc else {
                continue;
            };
            if !crate::secret::is_sealed(&oidc.config.client_secret) {
                continue;
            }
            let key = self.sealing_key()?.ok_or_else(|| {
                let detail = format!(
                    "directory '{}' holds a sealed OIDC client secret: configure the \
                     secrets_key it was sealed with",
                    record.id
                );
                ScimError::secrets_key(500, detail)
            })?;
            key.open(&record.id, &oidc.config.client_secret)
                .map_err(|_| {
                    let detail = format!(
                        "directory '{}': its OIDC client secret was sealed with another \
                         secrets_key; every instance sharing a database needs the same key",
                        record.id
                    );
                    ScimError::secrets_key(500, detail)
                })?;
        }
        Ok(())
    }

    /// Turn a directory's login off.
    pub fn clear_oidc(&self, id: &str) -> crate::error::Result<()> {
        self.modify(id, |s, _| {
            s.oidc = None;
            Ok(())
        })?;
        self.parties.lock().remove(id);
        Ok(())
    }

    /// Start a login: the IdP authorization URL (with state, nonce and PKCE S256) to send
    /// the browser to. The pending login is kept in memory, single use, for minutes, at
    /// most [`MAX_PENDING_LOGINS`](crate::oidc::MAX_PENDING_LOGINS) per directory (the
    /// oldest dropped first). Where anyone can begin a login, prefer
    /// [`Engine::login_begin_sealed`], which keeps nothing and binds the login to the
    /// browser; otherwise bind `state` to the browser yourself (a cookie checked at the
    /// callback) and bound begins per client.
    pub fn login_begin(&self, id: &str) -> Result<LoginStart, LoginError> {
        Ok(self.party(id)?.1.login_begin()?)
    }

    /// Start a login bound to the browser that begins it, keeping nothing in memory: set
    /// the second value as that browser's login cookie ([`Engine::login_cookie`]) and
    /// pass it back to [`Engine::login_complete_sealed`] with the callback. The cookie
    /// carries the state and start time under an HMAC keyed per directory from
    /// `secrets_key` (or a per-process key without one); nonce and PKCE verifier are
    /// derived server-side and never leave it.
    pub fn login_begin_sealed(&self, id: &str) -> Result<(LoginStart, String), LoginError> {
        let (_, rp) = self.party(id)?;
        Ok(rp.login_begin_sealed(&self.login_sealer(id))?)
    }

    /// Finish a login begun by [`Engine::login_begin_sealed`]: `cookie` is the login
    /// cookie the callback's browser sent ([`login_cookie_value`]; `None` without one).
    /// A callback from a browser that did not begin this login is `state_mismatch`
    /// (400); then as [`Engine::login_complete`].
    pub fn login_complete_sealed(
        &self,
        id: &str,
        code: &str,
        state: &str,
        cookie: Option<&str>,
    ) -> Result<Login, LoginError> {
        let (settings, rp) = self.party(id)?;
        let result = rp.login_complete_sealed(&self.login_sealer(id), code, state, cookie)?;
        self.login_user(id, &settings, result.claims)
    }

    /// The `Set-Cookie` value that gives the browser its login cookie (`Some(sealed)`)
    /// or removes it (`None`, once a callback ended the login): HttpOnly, `SameSite=Lax`
    /// (sent on the IdP's top-level redirect back, not on cross-site subrequests), scoped
    /// to the redirect URI's path, `Secure` when that URI is https, gone after the login
    /// TTL.
    pub fn login_cookie(&self, id: &str, sealed: Option<&str>) -> String {
        let redirect = self.redirect_uri(id);
        let path = redirect
            .parse::<http::Uri>()
            .ok()
            .map(|u| u.path().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let secure = if redirect.starts_with("https:") {
            "; Secure"
        } else {
            ""
        };
        let (value, age) = match sealed {
            Some(v) => (v, crate::oidc::LOGIN_TTL_SECS),
            None => ("", 0),
        };
        format!(
            "{LOGIN_COOKIE}={value}; Path={path}; Max-Age={age}; HttpOnly; SameSite=Lax{secure}"
        )
    }

    /// The per-directory key of browser login cookies.
    fn login_sealer(&self, id: &str) -> LoginSealer {
        LoginSealer::new(
            hmac::sign(&self.login_root, format!("directory\0{id}").as_bytes()).as_ref(),
        )
    }

    /// Finish a login from the IdP's redirect: exchange the code, validate the ID token,
    /// and find the provisioned, active user the identifying claim names.
    pub fn login_complete(&self, id: &str, code: &str, state: &str) -> Result<Login, LoginError> {
        let (settings, rp) = self.party(id)?;
        let result = rp.login_complete(code, state)?;
        self.login_user(id, &settings, result.claims)
    }

    /// Validate an ID token obtained by the host's own browser flow (with the nonce the
    /// host sent), then find the provisioned, active user as [`Engine::login_complete`].
    pub fn validate_id_token(
        &self,
        id: &str,
        token: &str,
        nonce: &str,
    ) -> Result<Login, LoginError> {
        let (settings, rp) = self.party(id)?;
        let claims = rp.validate_id_token(token, nonce)?;
        self.login_user(id, &settings, claims)
    }

    fn login_user(
        &self,
        id: &str,
        settings: &DirectoryOidc,
        claims: Claims,
    ) -> Result<Login, LoginError> {
        let directory = self.directory(id)?;
        let who = format!(
            "{} '{}' (claim '{}')",
            settings.attribute,
            claims.identifier(),
            claims.identifier_claim()
        );
        let user = self
            .find_user(
                id,
                login_service(&directory.services),
                &settings.attribute,
                claims.identifier(),
            )?
            .ok_or_else(|| LoginError::NotProvisioned(who.clone()))?;
        if user.resource.get("active") == Some(&Value::Bool(false)) {
            return Err(LoginError::Deactivated(who));
        }
        Ok(Login {
            user,
            claims: claims.into_map(),
        })
    }

    /// The key that seals stored secrets, if the host configured one.
    fn sealing_key(&self) -> crate::error::Result<Option<&crate::secret::SecretKey>> {
        self.secrets
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    /// The directory's relying party, built once per settings.
    fn party(&self, id: &str) -> Result<(DirectoryOidc, Arc<RelyingParty>), LoginError> {
        let record = self.store.get_directory(id)?.ok_or_else(|| not_found(id))?;
        let oidc = settings(&record)?.oidc.ok_or(LoginError::NotConfigured)?;
        let mut parties = self.parties.lock();
        if let Some(p) = parties.get(id).filter(|p| p.settings == oidc) {
            return Ok((p.settings.clone(), p.rp.clone()));
        }
        let mut config = oidc.config.clone();
        if crate::secret::is_sealed(&config.client_secret) {
            let key = self.sealing_key()?.ok_or_else(|| {
                ScimError::secrets_key(
                    500,
                    "the OIDC client secret is sealed: configure secrets_key",
                )
            })?;
            let plain = key.open(id, &config.client_secret)?;
            // Into the sealed value's buffer (longer than the plain one): the secret is
            // not copied anywhere the config's drop does not wipe.
            config.client_secret.zeroize();
            config.client_secret.push_str(&plain);
        }
        let rp = Arc::new(RelyingParty::new(config)?);
        parties.insert(
            id.to_owned(),
            Party {
                settings: oidc.clone(),
                rp: rp.clone(),
            },
        );
        Ok((oidc, rp))
    }
}

/// The name of the cookie that binds a login to the browser that began it.
pub const LOGIN_COOKIE: &str = "libscim_login";

/// The login cookie's value in a `Cookie` request header (`a=1; libscim_login=…`).
pub fn login_cookie_value(cookie_header: &str) -> Option<&str> {
    cookie_header.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.trim() == LOGIN_COOKIE).then(|| value.trim().trim_matches('"'))
    })
}

/// The root key of login cookies: derived from the host's `secrets_key` (cookies survive
/// a restart), else random per process (a restart ends the logins in flight).
pub(super) fn root_key(secrets_key: Option<&str>) -> hmac::Key {
    const LABEL: &[u8] = b"libscim login cookie key v1";
    match secrets_key {
        Some(k) => {
            let root = hmac::Key::new(hmac::HMAC_SHA256, k.trim().as_bytes());
            hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&root, LABEL).as_ref())
        }
        None => hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, uuid::Uuid::new_v4().as_bytes())),
    }
}

/// Users are looked up in the mapping of the first service the directory feeds (UEM
/// before Access): every fed service shares the same SCIM users.
fn login_service(services: &[Service]) -> Service {
    services.first().copied().unwrap_or(Service::Uem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{DirectorySettings, IdpKind, NewDirectory};
    use crate::EngineConfig;

    #[test]
    fn deleting_a_directory_drops_its_relying_party() {
        let engine = Engine::open(None, EngineConfig::default()).unwrap();
        let d = engine
            .create_directory(&NewDirectory {
                name: "Gone".into(),
                domain: "example.com".into(),
                idp: IdpKind::Okta,
                services: vec![Service::Uem],
                settings: DirectorySettings::default(),
                mapping_profile: None,
            })
            .unwrap();
        let mut config = OidcConfig::new(
            "client",
            "secret",
            "http://127.0.0.1:9/.well-known/openid-configuration",
            "",
        );
        config.allow_http = true;
        engine.set_oidc(&d.id, config, "userName").unwrap();
        let rp = Arc::downgrade(&engine.party(&d.id).unwrap().1);
        assert!(rp.upgrade().is_some(), "cached while the directory exists");
        engine.delete_directory(&d.id).unwrap();
        assert!(rp.upgrade().is_none(), "dropped with the directory");
        assert!(engine.parties.lock().is_empty());
    }
}
