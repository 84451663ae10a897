//! The engine a host embeds: directories (tenants), their tokens, and the authenticated
//! SCIM entry point that binds every request to exactly one directory.

use crate::directory::{
    normalize_domain, normalize_services, validate_name, Directory, DirectoryUpdate, NewDirectory,
    StoredSettings,
};
use crate::error::{Result, ScimError};
use crate::provider::{Config, Request, Response, ServiceProvider, Tenant};
use crate::store::{DirectoryRecord, Store};
use crate::token::{self, IssuedToken};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Scheme, host and port clients reach the host at (`https://host.example.com`).
    pub public_url: String,
    /// Path under which every directory's SCIM base lives: `<public_url><scim_path>/<id>`.
    pub scim_path: String,
    /// Protocol limits and strictness (its `base_url` is ignored: each directory has its own).
    pub provider: Config,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            public_url: "http://localhost:8080".into(),
            scim_path: "/scim/v2".into(),
            provider: Config::default(),
        }
    }
}

type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Directories, tokens and the SCIM protocol over one store. Thread-safe (`Send + Sync`):
/// share it with an `Arc`.
pub struct Engine {
    config: EngineConfig,
    store: Arc<dyn Store>,
    provider: ServiceProvider,
    clock: Clock,
}

/// What every authentication failure says: nothing about which part was wrong, and
/// nothing about any other directory.
const UNAUTHORIZED: &str = "a valid bearer token for this directory is required";

impl Engine {
    pub fn new(config: EngineConfig, store: Arc<dyn Store>) -> Engine {
        let clock: Clock = Arc::new(OffsetDateTime::now_utc);
        Engine {
            provider: ServiceProvider::new(config.provider.clone(), store.clone())
                .with_clock(clock.clone()),
            config,
            store,
            clock,
        }
    }

    /// Replace the clock (token expiry tests, hosts with their own time source).
    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>) -> Self {
        self.provider = ServiceProvider::new(self.config.provider.clone(), self.store.clone())
            .with_clock(clock.clone());
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// A directory's SCIM base URL (what the admin pastes into the IdP).
    pub fn tenant_url(&self, directory_id: &str) -> String {
        format!(
            "{}{}/{}",
            self.config.public_url.trim_end_matches('/'),
            self.config.scim_path.trim_end_matches('/'),
            directory_id
        )
    }

    // ----- directories -------------------------------------------------------------------

    /// Create a directory. Each rule violation is a 400 naming the field and the rule; a
    /// name already in use (case-insensitively) is a 409.
    pub fn create_directory(&self, new: &NewDirectory) -> Result<Directory> {
        validate_name(&new.name)?;
        let settings = StoredSettings {
            domain: normalize_domain(&new.domain)?,
            idp: new.idp,
            services: normalize_services(&new.services)?,
            settings: new.settings.clone(),
            created: self.now(),
            token: None,
        };
        // Ids never contain '_' (Okta rejects base URLs with one).
        let record = DirectoryRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            name: new.name.clone(),
            token_hash: None,
            data: to_data(&settings)?,
        };
        self.store.create_directory(&record)?;
        self.view(&record)
    }

    pub fn directory(&self, id: &str) -> Result<Directory> {
        self.view(&self.record(id)?)
    }

    /// The directory with this name (case-insensitively), if any.
    pub fn directory_by_name(&self, name: &str) -> Result<Option<Directory>> {
        let folded = name.to_lowercase();
        self.store
            .list_directories()?
            .iter()
            .find(|r| r.name.to_lowercase() == folded)
            .map(|r| self.view(r))
            .transpose()
    }

    /// Every directory, in creation order.
    pub fn directories(&self) -> Result<Vec<Directory>> {
        self.store
            .list_directories()?
            .iter()
            .map(|r| self.view(r))
            .collect()
    }

    /// Change what may change: domain, services, settings. Name and IdP kind are fixed.
    pub fn update_directory(&self, id: &str, update: &DirectoryUpdate) -> Result<Directory> {
        let mut record = self.record(id)?;
        let mut s = settings(&record)?;
        if let Some(d) = &update.domain {
            s.domain = normalize_domain(d)?;
        }
        if let Some(services) = &update.services {
            s.services = normalize_services(services)?;
        }
        if let Some(settings) = &update.settings {
            s.settings = settings.clone();
        }
        record.data = to_data(&s)?;
        self.store.update_directory(&record)?;
        self.view(&record)
    }

    /// Delete a directory with its users, groups and pending events; its token stops
    /// working at once.
    pub fn delete_directory(&self, id: &str) -> Result<()> {
        if !self.store.delete_directory(id)? {
            return Err(not_found(id));
        }
        Ok(())
    }

    // ----- tokens -------------------------------------------------------------------------

    /// Issue a new secret token valid for `lifespan_months` (1–24, default 6). The secret
    /// is returned here once and never stored; the previous token stops working at once.
    /// Changing a lifespan is issuing a new token with it.
    pub fn issue_token(&self, id: &str, lifespan_months: Option<u32>) -> Result<IssuedToken> {
        let months = token::lifespan(lifespan_months)?;
        let mut record = self.record(id)?;
        let mut s = settings(&record)?;
        let issued = token::generate(self.now(), months)?;
        s.token = Some(issued.info.clone());
        record.token_hash = Some(token::hash(&issued.secret));
        record.data = to_data(&s)?;
        self.store.update_directory(&record)?;
        Ok(issued)
    }

    /// Revoke the directory's token: every request with it fails from now on.
    pub fn revoke_token(&self, id: &str) -> Result<()> {
        let mut record = self.record(id)?;
        let mut s = settings(&record)?;
        s.token = None;
        record.token_hash = None;
        record.data = to_data(&s)?;
        self.store.update_directory(&record)
    }

    /// Directories whose token expires within `within` from now (already expired ones
    /// included), soonest first: what a host warns its admins about.
    pub fn tokens_expiring_within(&self, within: Duration) -> Result<Vec<Directory>> {
        let limit = self.now() + within;
        let mut out: Vec<Directory> = self
            .directories()?
            .into_iter()
            .filter(|d| d.token.as_ref().is_some_and(|t| t.expires_at <= limit))
            .collect();
        out.sort_by_key(|d| d.token.as_ref().map(|t| t.expires_at));
        Ok(out)
    }

    // ----- protocol -----------------------------------------------------------------------

    /// Answer one SCIM request. `req.path` is the full path (`/scim/v2/<directory>/Users`);
    /// the bearer token must be the current, unexpired token of that very directory.
    pub fn handle(&self, req: &Request) -> Response {
        match self.authenticate(req) {
            Ok((record, settings, rest)) => {
                let base_url = self.tenant_url(&record.id);
                let tenant = Tenant {
                    id: &record.id,
                    base_url: &base_url,
                    domain: Some(&settings.domain),
                    enforce_domain: settings.settings.enforce_domain,
                    strict: settings.settings.strict,
                };
                let inner = Request {
                    path: rest,
                    ..req.clone()
                };
                self.provider.handle_for(&tenant, &inner)
            }
            Err(e) => Response::error(&e),
        }
    }

    /// The directory a request is for, its settings, and the path below its SCIM base.
    fn authenticate(&self, req: &Request) -> Result<(DirectoryRecord, StoredSettings, String)> {
        let prefix = self.config.scim_path.trim_end_matches('/');
        let below = req
            .path
            .strip_prefix(prefix)
            .filter(|rest| rest.starts_with('/'))
            .ok_or_else(|| ScimError::not_found(format!("no SCIM endpoint at '{}'", req.path)))?;
        let (dir_id, rest) = match below[1..].split_once('/') {
            Some((d, r)) => (d, format!("/{r}")),
            None => (&below[1..], String::from("/")),
        };
        let denied = || ScimError::unauthorized(UNAUTHORIZED);
        let secret = req
            .header("Authorization")
            .and_then(|h| {
                let (scheme, value) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("Bearer").then(|| value.trim())
            })
            .filter(|s| !s.is_empty())
            .ok_or_else(denied)?;
        let hash = token::hash(secret);
        let record = self.store.directory_by_token(&hash)?.ok_or_else(denied)?;
        let stored = record.token_hash.as_deref().unwrap_or("");
        // The token must belong to the directory named in the path: a token for A can
        // never reach B, whatever the path says.
        if !token::hashes_equal(stored, &hash) || record.id != dir_id {
            return Err(denied());
        }
        let settings = settings(&record)?;
        match &settings.token {
            Some(t) if !t.is_expired(self.now()) => Ok((record, settings, rest)),
            _ => Err(denied()),
        }
    }

    fn record(&self, id: &str) -> Result<DirectoryRecord> {
        self.store.get_directory(id)?.ok_or_else(|| not_found(id))
    }

    fn view(&self, record: &DirectoryRecord) -> Result<Directory> {
        let s = settings(record)?;
        Ok(Directory {
            id: record.id.clone(),
            name: record.name.clone(),
            domain: s.domain,
            idp: s.idp,
            services: s.services,
            settings: s.settings,
            created: s.created,
            token: s.token,
            tenant_url: self.tenant_url(&record.id),
        })
    }
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("directory '{id}' not found"))
}

fn settings(record: &DirectoryRecord) -> Result<StoredSettings> {
    serde_json::from_value(record.data.clone()).map_err(|e| {
        ScimError::internal(format!(
            "directory '{}' has unreadable settings: {e}",
            record.id
        ))
    })
}

fn to_data(s: &StoredSettings) -> Result<serde_json::Value> {
    serde_json::to_value(s).map_err(|e| ScimError::internal(format!("directory settings: {e}")))
}
