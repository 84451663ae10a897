//! The engine a host embeds: directories (tenants), their tokens, and the authenticated
//! SCIM entry point that binds every request to exactly one directory.

use crate::activity::Activity;
use crate::directory::Service;
use crate::directory::{
    normalize_domain, normalize_services, validate_name, Directory, DirectoryUpdate, LoginInfo,
    NewDirectory, StoredSettings,
};
use crate::error::{Result, ScimError};
use crate::events::{EventFeed, EventRetention, TRIM_BATCH, TRIM_EVERY};
use crate::mapping::{service_name, DirectoryMapping, FoundUser, Mapping, MappingEntry, Profile};
use crate::provider::{Config, Request, Response, ServiceProvider, Tenant};
use crate::schema::ResourceKind;
use crate::store::{
    Consumer, DirectoryRecord, Event, GroupCursor, Store, StoreListener, StoredResource,
    TrimEvents, DEFAULT_GROUP,
};
use crate::token::{self, IssuedToken};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// Engine settings (JSON at the C ABI: `{"public_url": …, "scim_path": …, "provider": {…},
/// "events": {"max_age_secs": …, "max_count": …}, "event_lease_ms": …}`).
#[derive(Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Scheme, host and port clients reach the host at (`https://host.example.com`).
    pub public_url: String,
    /// Path under which every directory's SCIM base lives: `<public_url><scim_path>/<id>`.
    pub scim_path: String,
    /// Path under which each directory's login lives: `<public_url><login_path>/<id>`
    /// starts one, `…/<id>/callback` is the redirect URI.
    pub login_path: String,
    /// Protocol limits and strictness (its `base_url` is ignored: each directory has its own).
    pub provider: Config,
    /// 64 hex characters: the key that seals secrets the engine must keep usable (a
    /// directory's OIDC client secret) in the store. Keep it outside the database (the
    /// serve example keeps it in `secrets.key`, mode 0600, beside the database). Without
    /// it such secrets are stored as given.
    pub secrets_key: Option<String>,
    /// Outbox retention: how long and how many unacknowledged events each directory
    /// keeps (default 7 days, 1,000,000); acknowledged ones are always deleted. See
    /// [`crate::events`].
    pub events: EventRetention,
    /// How long a consumer keeps its group's stream of a directory after taking or
    /// acknowledging events (default 30,000 ms): another consumer of the group (another
    /// instance) gets those events only once the lease ends unrenewed, from the
    /// group's acknowledged cursor. See [`Engine::next_group_events`].
    pub event_lease_ms: u64,
}

/// [`EngineConfig::event_lease_ms`]'s default.
pub const DEFAULT_EVENT_LEASE_MS: u64 = 30_000;

/// While changes made by other instances may go unannounced (the store's listening
/// connection is down), a waiting consumer looks for events this often.
pub const EVENT_POLL: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("public_url", &self.public_url)
            .field("scim_path", &self.scim_path)
            .field("login_path", &self.login_path)
            .field("provider", &self.provider)
            .field(
                "secrets_key",
                &self.secrets_key.as_ref().map(|_| "<redacted>"),
            )
            .field("events", &self.events)
            .field("event_lease_ms", &self.event_lease_ms)
            .finish()
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            public_url: "http://localhost:8080".into(),
            scim_path: "/scim/v2".into(),
            login_path: "/login".into(),
            secrets_key: None,
            provider: Config::default(),
            events: EventRetention::default(),
            event_lease_ms: DEFAULT_EVENT_LEASE_MS,
        }
    }
}

type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

mod auth_cache;
mod login;

use auth_cache::{AuthCache, Authorized};
pub use login::{login_cookie_value, Login, LoginError, LOGIN_COOKIE};

/// A request head [`Engine::authenticate`] accepted: which directory it is for. Answer
/// the request with [`Engine::handle_authenticated`].
pub struct Authenticated {
    auth: Arc<Authorized>,
    /// The path below the directory's SCIM base.
    rest: String,
    /// The authentication cache generation when it was authenticated.
    generation: u64,
}

impl Authenticated {
    /// The authenticated directory.
    pub fn directory_id(&self) -> &str {
        &self.auth.id
    }
}

/// Directories, tokens and the SCIM protocol over one store. Thread-safe (`Send + Sync`):
/// share it with an `Arc`.
pub struct Engine {
    config: EngineConfig,
    store: Arc<dyn Store>,
    provider: ServiceProvider,
    clock: Clock,
    /// The wake-up of waiting consumers and the authentication cache (token hash → the
    /// authenticated directory; every directory change invalidates it, through
    /// [`Engine::modify`] and [`Engine::delete_directory`], and so does another
    /// instance's), shared with the store's announcements ([`Store::subscribe`]).
    relay: Arc<Relay>,
    /// Whether the store announces other instances' changes (a shared database).
    remote: bool,
    /// This engine's consumer id ([`Consumer::id`]): random, one per engine.
    consumer: String,
    /// The (directory, group) streams this engine took a lease on: given back when it
    /// is dropped, so another instance carries on at once rather than after the lease.
    leases: Mutex<HashSet<(String, String)>>,
    /// Compiled mappings per directory, reused while the stored mappings are unchanged.
    compiled: Mutex<HashMap<String, Arc<DirectoryMapping>>>,
    /// One relying party per directory with login, kept while its settings are unchanged
    /// (its discovery, key and pending-login caches live there).
    parties: Mutex<HashMap<String, login::Party>>,
    /// The sealing key of [`EngineConfig::secrets_key`] (or why it is unusable).
    secrets: std::result::Result<Option<crate::secret::SecretKey>, ScimError>,
    /// The root of the per-directory keys that sign browser login cookies.
    login_root: ring::hmac::Key,
    /// The activity feed (off until [`Engine::enable_activity`]).
    activity: Activity,
}

/// Outbox events read per batch when the activity feed catches up after a write.
const ACTIVITY_READ: usize = 64;

/// Users per write transaction of [`Engine::resync`].
const RESYNC_BATCH: usize = 500;

/// What every authentication failure says: nothing about which part was wrong, and
/// nothing about any other directory.
const UNAUTHORIZED: &str = "a valid bearer token for this directory is required";

impl Engine {
    /// An engine on the embedded durable store in the file `path`, or in memory when
    /// `path` is `None`, or on a shared PostgreSQL database when `path` is a
    /// `postgres://` (or `postgresql://`) URL (see [`crate::store::PostgresStore::open`]).
    /// On PostgreSQL, `config.secrets_key` must open the secrets already sealed there
    /// ([`Engine::check_secrets_key`]): instances sharing a database share the key.
    pub fn open(path: Option<&std::path::Path>, config: EngineConfig) -> Result<Engine> {
        if let Some(k) = &config.secrets_key {
            crate::secret::SecretKey::from_hex(k)?;
        }
        let url = path
            .and_then(std::path::Path::to_str)
            .filter(|p| crate::store::PostgresStore::is_url(p));
        // A store that cannot be opened is an I/O failure, unless it said more.
        let io = |e: ScimError| match e.kind {
            crate::error::ErrorKind::Internal => e.with_kind(crate::error::ErrorKind::Io),
            _ => e,
        };
        let store: Arc<dyn Store> = match (path, url) {
            (_, Some(url)) => Arc::new(crate::store::PostgresStore::open(url).map_err(io)?),
            (None, _) => Arc::new(crate::store::MemoryStore::new()),
            (Some(p), None) => Arc::new(crate::store::SqliteStore::open_default(p).map_err(io)?),
        };
        let engine = Engine::new(config, store);
        if url.is_some() {
            // A shared database: refuse a key other instances' sealed secrets (and login
            // cookies) do not agree with, instead of failing logins later.
            engine.check_secrets_key()?;
        }
        Ok(engine)
    }

    pub fn new(config: EngineConfig, store: Arc<dyn Store>) -> Engine {
        let clock: Clock = Arc::new(OffsetDateTime::now_utc);
        let secrets = config
            .secrets_key
            .as_deref()
            .map(crate::secret::SecretKey::from_hex)
            .transpose();
        let login_root = login::root_key(config.secrets_key.as_deref());
        let relay = Arc::new(Relay {
            feed: EventFeed::default(),
            auth: AuthCache::new(auth_cache::DEFAULT_CAPACITY),
            live: AtomicBool::new(true),
        });
        let listener: Arc<dyn StoreListener> = relay.clone();
        let remote = store.subscribe(Arc::downgrade(&listener));
        Engine {
            provider: provider(&config, &store, &clock),
            config,
            store,
            clock,
            relay,
            remote,
            consumer: uuid::Uuid::new_v4().simple().to_string(),
            leases: Mutex::new(HashSet::new()),
            compiled: Mutex::new(HashMap::new()),
            parties: Mutex::new(HashMap::new()),
            secrets,
            login_root,
            activity: Activity::default(),
        }
    }

    /// Replace the clock (token expiry tests, hosts with their own time source).
    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>) -> Self {
        self.provider = provider(&self.config, &self.store, &clock);
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, by the engine's clock.
    pub fn now(&self) -> OffsetDateTime {
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
        let services = normalize_services(&new.services)?;
        let profile = new.mapping_profile.unwrap_or(Profile::for_idp(new.idp));
        let settings = StoredSettings {
            domain: normalize_domain(&new.domain)?,
            idp: new.idp,
            mappings: services.iter().map(|s| (*s, profile.mapping())).collect(),
            services,
            settings: new.settings.clone(),
            created: self.now(),
            token: None,
            oidc: None,
        };
        // Ids never contain '_' (Okta rejects base URLs with one).
        let record = DirectoryRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            name: new.name.clone(),
            token_hash: None,
            data: to_data(&settings)?,
        };
        self.store.create_directory(&record)?;
        // Its first event is news to the activity feed.
        self.activity.mark(&record.id, 0);
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
        let domain = update.domain.as_deref().map(normalize_domain).transpose()?;
        let services = update
            .services
            .as_deref()
            .map(normalize_services)
            .transpose()?;
        let record = self.modify(id, |s, _| {
            if let Some(d) = &domain {
                s.domain.clone_from(d);
            }
            if let Some(services) = &services {
                s.services.clone_from(services);
            }
            if let Some(settings) = &update.settings {
                s.settings = settings.clone();
            }
            Ok(())
        })?;
        self.view(&record)
    }

    /// Delete a directory with its users, groups and pending events; its token stops
    /// working at once.
    pub fn delete_directory(&self, id: &str) -> Result<()> {
        let deleted = self.store.delete_directory(id);
        self.relay.auth.invalidate();
        if !deleted? {
            return Err(not_found(id));
        }
        self.compiled.lock().remove(id);
        self.relay.feed.forget(id);
        self.activity.forget(id);
        self.parties.lock().remove(id);
        Ok(())
    }

    /// Change a directory's settings (and its token hash) atomically in the store
    /// ([`Store::modify_directory`]: no concurrent change is lost), then invalidate the
    /// authentication cache (after the store returned, whatever it returned: see
    /// [`auth_cache`]). Every directory change goes through here. `change` may run more
    /// than once and runs while the store's writer is held: it only edits what it is given.
    fn modify(
        &self,
        id: &str,
        mut change: impl FnMut(&mut StoredSettings, &mut Option<String>) -> Result<()>,
    ) -> Result<DirectoryRecord> {
        let modified = self.store.modify_directory(id, &mut |record| {
            let mut s = settings(record)?;
            change(&mut s, &mut record.token_hash)?;
            record.data = to_data(&s)?;
            Ok(())
        });
        self.relay.auth.invalidate();
        modified
    }

    // ----- attribute mappings -------------------------------------------------------------

    /// The mapping of each service the directory feeds ("Map SCIM User Attributes").
    pub fn mappings(&self, id: &str) -> Result<BTreeMap<Service, Mapping>> {
        Ok(settings(&self.record(id)?)?.fed_mappings())
    }

    /// The mapping of one service; 400 when the directory does not feed it.
    pub fn mapping(&self, id: &str, service: Service) -> Result<Mapping> {
        let s = settings(&self.record(id)?)?;
        fed(&s, service)?;
        Ok(s.mapping(service))
    }

    /// Replace a service's whole mapping (validated: 400 naming the bad entry).
    pub fn set_mapping(&self, id: &str, service: Service, mapping: &Mapping) -> Result<Mapping> {
        self.edit_mapping(id, service, |m| {
            *m = mapping.clone();
            Ok(())
        })
    }

    /// Add an entry, or change the one with the same target (case-insensitively). The
    /// profile's required targets must stay required. Emits no event: see [`Self::resync`].
    pub fn set_mapping_entry(
        &self,
        id: &str,
        service: Service,
        kind: ResourceKind,
        entry: &MappingEntry,
    ) -> Result<Mapping> {
        self.edit_mapping(id, service, |m| {
            let entries = m.entries_mut(kind);
            match entries
                .iter_mut()
                .find(|e| e.target.eq_ignore_ascii_case(&entry.target))
            {
                Some(e) => *e = entry.clone(),
                None => entries.push(entry.clone()),
            }
            Ok(())
        })
    }

    /// Remove the entry with this target: 404 when there is none, 400 when it is required.
    pub fn remove_mapping_entry(
        &self,
        id: &str,
        service: Service,
        kind: ResourceKind,
        target: &str,
    ) -> Result<Mapping> {
        self.edit_mapping(id, service, |m| {
            let entries = m.entries_mut(kind);
            let at = entries
                .iter()
                .position(|e| e.target.eq_ignore_ascii_case(target))
                .ok_or_else(|| {
                    ScimError::not_found(format!(
                        "no {} mapping entry with target '{target}' for {}",
                        kind.as_str(),
                        service_name(service)
                    ))
                })?;
            if entries[at].required {
                return Err(ScimError::invalid_value(format!(
                    "mapping entry '{}' is required and cannot be removed",
                    entries[at].target
                )));
            }
            entries.remove(at);
            Ok(())
        })
    }

    /// Reset a service's mapping to a profile's defaults.
    pub fn reset_mapping(&self, id: &str, service: Service, profile: Profile) -> Result<Mapping> {
        self.edit_mapping(id, service, |m| {
            *m = profile.mapping();
            Ok(())
        })
    }

    fn edit_mapping(
        &self,
        id: &str,
        service: Service,
        edit: impl Fn(&mut Mapping) -> Result<()>,
    ) -> Result<Mapping> {
        let mut edited = None;
        self.modify(id, |s, _| {
            fed(s, service)?;
            let mut m = s.mapping(service);
            edit(&mut m)?;
            m.validate_for(service)?;
            s.mappings.insert(service, m.clone());
            edited = Some(m);
            Ok(())
        })?;
        edited.ok_or_else(|| ScimError::internal("mapping change did not run"))
    }

    /// Append a `user.updated` event, with records under the current mappings, for every
    /// user of the directory (after a mapping change the host must apply). Changing a
    /// mapping never does this by itself. Runs in write transactions of 500 users;
    /// returns how many events were appended.
    pub fn resync(&self, id: &str) -> Result<u64> {
        let record = self.record(id)?;
        let s = settings(&record)?;
        let m = self.compiled_mapping(&record.id, &s)?;
        let base_url = self.tenant_url(&record.id);
        let tenant = tenant(&record.id, &s, &base_url, &m);
        let n = self.provider.resync_for(&tenant, RESYNC_BATCH)?;
        self.record_activity(&record.id);
        self.relay.feed.notify();
        self.retain_events(&record.id);
        Ok(n)
    }

    /// The provisioned user whose mapped `target` (for `service`) equals `value`:
    /// case-insensitively when the source attribute is (`userName`, emails), exactly
    /// otherwise (`externalId`). Equality on `userName`, `externalId` or an email (also
    /// through a value path) is an index point lookup. More than one match is a 409.
    pub fn find_user(
        &self,
        id: &str,
        service: Service,
        target: &str,
        value: &str,
    ) -> Result<Option<FoundUser>> {
        let record = self.record(id)?;
        let s = settings(&record)?;
        let m = self.compiled_mapping(&record.id, &s)?;
        let (filter, entry) = m.lookup(service, ResourceKind::User, target, value)?;
        let base_url = self.tenant_url(&record.id);
        let tenant = tenant(&record.id, &s, &base_url, &m);
        let mut accept = |r: &StoredResource| {
            entry
                .value(&r.data)
                .is_some_and(|v| entry.value_equals(&v, value))
        };
        let mut found =
            self.provider
                .find_for(&tenant, ResourceKind::User, filter.as_ref(), &mut accept)?;
        if found.len() > 1 {
            return Err(ScimError::uniqueness(format!(
                "{} users have '{target}' = '{value}' for {}",
                found.len(),
                service_name(service)
            )));
        }
        Ok(found.pop().map(|resource| {
            let mut records = m.records(ResourceKind::User, &resource);
            FoundUser {
                id: resource["id"].as_str().unwrap_or_default().to_owned(),
                record: records[service_name(service)].take(),
                resource,
            }
        }))
    }

    /// The directory's compiled mappings, cached while the stored ones are unchanged.
    fn compiled_mapping(&self, id: &str, s: &StoredSettings) -> Result<Arc<DirectoryMapping>> {
        let wanted = s.fed_mappings();
        if let Some(m) = self.compiled.lock().get(id) {
            if *m.mappings() == wanted {
                return Ok(m.clone());
            }
        }
        let m = Arc::new(DirectoryMapping::compile(&wanted).map_err(|e| {
            ScimError::internal(format!(
                "directory '{id}' has an invalid mapping: {}",
                e.detail
            ))
        })?);
        self.compiled.lock().insert(id.to_owned(), m.clone());
        Ok(m)
    }

    // ----- tokens -------------------------------------------------------------------------

    /// Issue a new secret token valid for `lifespan_months` (1–24, default 6). The secret
    /// is returned here once and never stored; the previous token stops working at once.
    /// Changing a lifespan is issuing a new token with it.
    pub fn issue_token(&self, id: &str, lifespan_months: Option<u32>) -> Result<IssuedToken> {
        let months = token::lifespan(lifespan_months)?;
        let issued = token::generate(self.now(), months)?;
        let hash = token::hash(&issued.secret);
        self.modify(id, |s, token_hash| {
            s.token = Some(issued.info.clone());
            *token_hash = Some(hash.clone());
            Ok(())
        })?;
        Ok(issued)
    }

    /// Revoke the directory's token: every request with it fails from now on.
    pub fn revoke_token(&self, id: &str) -> Result<()> {
        self.modify(id, |s, token_hash| {
            s.token = None;
            *token_hash = None;
            Ok(())
        })
        .map(drop)
    }

    /// Directories whose token expires within `within` from now (already expired ones
    /// included), soonest first: what a host warns its admins about. A `within` that
    /// reaches past the representable time (year 9999) is a 400.
    pub fn tokens_expiring_within(&self, within: Duration) -> Result<Vec<Directory>> {
        let limit = self.now().checked_add(within).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "tokens expiring within {} seconds: the limit is past the latest representable time",
                within.whole_seconds()
            ))
        })?;
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
        match self.authenticate(&req.path, req.header("Authorization")) {
            Ok(auth) => self.handle_authenticated(&auth, req),
            Err(e) => Response::error(&e),
        }
    }

    /// Authenticate a request from its head alone (path and `Authorization` header), before
    /// its body is read: what a server does first, so an unauthenticated client never gets
    /// to upload a body, and what it rate-limits by ([`Authenticated::directory_id`]).
    /// A 404 when the path is not below the SCIM path; a 401 for any token problem.
    pub fn authenticate(&self, path: &str, authorization: Option<&str>) -> Result<Authenticated> {
        let generation = self.relay.auth.generation();
        let (auth, rest) = self.authorize(path, authorization)?;
        Ok(Authenticated {
            auth,
            rest,
            generation,
        })
    }

    /// Answer a request authenticated by [`Engine::authenticate`] (`req` is the whole
    /// request, its path the one authenticated). When any directory changed meanwhile
    /// (a token revoked or replaced while the body was uploading), the request is
    /// authenticated again: a revoked token is never honoured after the revoking call
    /// returned. Expiry is checked again too.
    pub fn handle_authenticated(&self, auth: &Authenticated, req: &Request) -> Response {
        let fresh;
        let auth = if self.relay.auth.generation() == auth.generation
            && auth
                .auth
                .settings
                .token
                .as_ref()
                .is_some_and(|t| !t.is_expired(self.now()))
        {
            auth
        } else {
            match self.authenticate(&req.path, req.header("Authorization")) {
                Ok(a) => {
                    fresh = a;
                    &fresh
                }
                Err(e) => return Response::error(&e),
            }
        };
        let a = &auth.auth;
        let tenant = tenant(&a.id, &a.settings, &a.base_url, &a.mapping);
        let resp = self.provider.handle_at(&tenant, req, &auth.rest);
        if resp.status < 300 && !req.method.eq_ignore_ascii_case("GET") {
            // A Bulk request may carry many changes: retention runs after each.
            let bulk = auth
                .rest
                .trim_end_matches('/')
                .eq_ignore_ascii_case("/Bulk");
            self.committed(&a.id, bulk);
        }
        resp
    }

    /// A read of a directory's SCIM endpoint on the host's own authority, without its
    /// token (the admin API's users and groups pages): `GET <path>?<query>` below the
    /// directory's SCIM base (`/Users`, `/Groups/<id>`), answered by the same protocol
    /// engine as any IdP's request, with the same filters, paging and errors. Only reads:
    /// nothing else can be asked this way.
    pub fn read_directory(&self, directory_id: &str, path: &str, query: &str) -> Response {
        let answer = || -> Result<Response> {
            let record = self.record(directory_id)?;
            let s = settings(&record)?;
            let m = self.compiled_mapping(&record.id, &s)?;
            let base_url = self.tenant_url(&record.id);
            let tenant = tenant(&record.id, &s, &base_url, &m);
            let req = Request {
                method: "GET".into(),
                path: format!(
                    "{}/{}{path}",
                    self.config.scim_path.trim_end_matches('/'),
                    record.id
                ),
                query: query.to_owned(),
                headers: Vec::new(),
                body: Vec::new(),
            };
            Ok(self.provider.handle_at(&tenant, &req, path))
        };
        answer().unwrap_or_else(|e| Response::error(&e))
    }

    /// The records the directory's mappings make of a rendered resource, per service it
    /// feeds (`{"uem": {…}, "access": {…}}`): what a host applying its events has.
    pub fn records(
        &self,
        directory_id: &str,
        kind: ResourceKind,
        resource: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let record = self.record(directory_id)?;
        let s = settings(&record)?;
        Ok(self
            .compiled_mapping(&record.id, &s)?
            .records(kind, resource))
    }

    /// The directory a request is for and the path below its SCIM base. The token is
    /// looked up in the authentication cache, and in the store on a miss; its expiry is
    /// checked on every request.
    fn authorize(
        &self,
        path: &str,
        authorization: Option<&str>,
    ) -> Result<(Arc<Authorized>, String)> {
        let prefix = self.config.scim_path.trim_end_matches('/');
        let below = path
            .strip_prefix(prefix)
            .filter(|rest| rest.starts_with('/'))
            .ok_or_else(|| ScimError::not_found(format!("no SCIM endpoint at '{path}'")))?;
        let (dir_id, rest) = match below[1..].split_once('/') {
            Some((d, r)) => (d, format!("/{r}")),
            None => (&below[1..], String::from("/")),
        };
        let denied = || ScimError::unauthorized(UNAUTHORIZED);
        let secret = authorization
            .and_then(|h| {
                let (scheme, value) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("Bearer").then(|| value.trim())
            })
            .filter(|s| !s.is_empty())
            .ok_or_else(denied)?;
        let hash = token::hash(secret);
        let auth = match self.relay.auth.get(&hash) {
            Some(auth) => auth,
            None => {
                // Taken before the store read: see `auth_cache`.
                let ticket = self.relay.auth.ticket();
                let record = self.store.directory_by_token(&hash)?.ok_or_else(denied)?;
                let stored = record.token_hash.as_deref().unwrap_or("");
                if !token::hashes_equal(stored, &hash) || record.id != dir_id {
                    return Err(denied());
                }
                let settings = settings(&record)?;
                let auth = Arc::new(Authorized {
                    mapping: self.compiled_mapping(&record.id, &settings)?,
                    base_url: self.tenant_url(&record.id),
                    settings,
                    id: record.id,
                });
                self.relay.auth.insert(hash, ticket, auth.clone());
                auth
            }
        };
        // The token must belong to the directory named in the path: a token for A can
        // never reach B, whatever the path says.
        if auth.id != dir_id {
            return Err(denied());
        }
        match &auth.settings.token {
            Some(t) if !t.is_expired(self.now()) => Ok((auth, rest)),
            _ => Err(denied()),
        }
    }

    // ----- events -------------------------------------------------------------------------

    /// Up to `limit` events of the directory not yet delivered, waiting up to `timeout`
    /// for the first to arrive (an empty list when none did): consumer group
    /// [`DEFAULT_GROUP`] (see [`Engine::next_group_events`]). Delivered events come again
    /// after a restart, or after [`Engine::rewind_events`], until acknowledged.
    pub fn next_events(
        &self,
        directory_id: &str,
        limit: usize,
        timeout: std::time::Duration,
    ) -> Result<Vec<Event>> {
        self.next_group_events(directory_id, DEFAULT_GROUP, limit, timeout)
    }

    /// The host has applied every event up to `seq` (group [`DEFAULT_GROUP`]; see
    /// [`Engine::ack_group_events`]).
    pub fn ack_events(&self, directory_id: &str, seq: u64) -> Result<()> {
        self.ack_group_events(directory_id, DEFAULT_GROUP, seq)
    }

    /// Deliver every unacknowledged event of group [`DEFAULT_GROUP`] again (the host could
    /// not apply them; see [`Engine::rewind_group_events`]).
    pub fn rewind_events(&self, directory_id: &str) -> Result<()> {
        self.rewind_group_events(directory_id, DEFAULT_GROUP)
    }

    /// Up to `limit` events of the directory for consumer group `group` not yet delivered
    /// to it, waiting up to `timeout` for the first to arrive (an empty list when none
    /// did). Each group receives every event, in order, at least once; a group's
    /// consumers share its acknowledged cursor.
    ///
    /// This engine is one consumer of the group (threads of one engine share it: they
    /// get successive batches). Across engines and processes, the group's stream of a
    /// directory is leased to one consumer at a time ([`EngineConfig::event_lease_ms`],
    /// renewed by every call here and by [`Engine::ack_group_events`]): while one holds it,
    /// another consumer of the group gets nothing and waits; when the holder stops
    /// (crashed, or stuck past the lease), the next consumer receives everything after
    /// the group's acknowledged cursor again. Dropping the engine gives its leases back.
    /// A new group starts at the oldest event kept. 404 for an unknown directory, 400 for
    /// an empty group name, one over 64 bytes or one with control characters.
    pub fn next_group_events(
        &self,
        directory_id: &str,
        group: &str,
        limit: usize,
        timeout: std::time::Duration,
    ) -> Result<Vec<Event>> {
        crate::store::check_group(group)?;
        self.record(directory_id)?;
        let consumer = self.consumer_of(group);
        let poll =
            || (self.remote && !self.relay.live.load(Ordering::Acquire)).then_some(EVENT_POLL);
        let events = self.relay.feed.next(timeout, poll, || {
            let taken = self
                .store
                .take_events(directory_id, &consumer, limit.max(1))?;
            if taken.held_for.is_none() {
                self.leases
                    .lock()
                    .insert((directory_id.to_owned(), group.to_owned()));
            }
            Ok(taken)
        })?;
        self.activity.delivered(directory_id, &events);
        Ok(events)
    }

    /// Up to `limit` of the directory's unacknowledged events still kept, oldest first,
    /// without delivering them (what an operator looks at; [`Engine::next_events`] is
    /// unaffected).
    pub fn pending_events(&self, directory_id: &str, limit: usize) -> Result<Vec<Event>> {
        self.record(directory_id)?;
        let acked = self.store.acked(directory_id)?;
        self.store.events(directory_id, acked, limit)
    }

    /// Consumer group `group` has applied every event up to `seq`: they are not delivered
    /// to it again, and once every group has acknowledged them they are deleted (in
    /// batches of [`TRIM_BATCH`], each its own short transaction). Renews this engine's
    /// lease on the group's stream. 409 past the last event.
    pub fn ack_group_events(&self, directory_id: &str, group: &str, seq: u64) -> Result<()> {
        crate::store::check_group(group)?;
        self.record(directory_id)?;
        self.store
            .ack_group(directory_id, &self.consumer_of(group), seq)?;
        self.retain_events(directory_id);
        Ok(())
    }

    /// Give group `group`'s stream of the directory back: everything it has not
    /// acknowledged is delivered again (to this engine at its next call, or to whichever
    /// consumer of the group comes first).
    pub fn rewind_group_events(&self, directory_id: &str, group: &str) -> Result<()> {
        crate::store::check_group(group)?;
        self.record(directory_id)?;
        self.store
            .release_group(directory_id, &self.consumer_of(group))?;
        self.leases
            .lock()
            .remove(&(directory_id.to_owned(), group.to_owned()));
        self.relay.feed.notify();
        Ok(())
    }

    /// The directory's consumer groups with their cursors and lease, by name.
    pub fn event_groups(&self, directory_id: &str) -> Result<Vec<GroupCursor>> {
        self.record(directory_id)?;
        self.store.groups(directory_id)
    }

    /// Forget consumer group `group` of the directory (a consumer gone for good, such as
    /// group `default` of a database whose host now consumes under another name): the
    /// outbox no longer keeps events for it, and retention runs at once. 404 when the
    /// directory or the group does not exist.
    pub fn remove_event_group(&self, directory_id: &str, group: &str) -> Result<()> {
        crate::store::check_group(group)?;
        self.record(directory_id)?;
        if !self.store.remove_group(directory_id, group)? {
            return Err(ScimError::not_found(format!(
                "directory '{directory_id}' has no consumer group '{group}'"
            )));
        }
        self.leases
            .lock()
            .remove(&(directory_id.to_owned(), group.to_owned()));
        self.retain_events(directory_id);
        Ok(())
    }

    /// This engine as a consumer of `group`.
    fn consumer_of<'a>(&'a self, group: &'a str) -> Consumer<'a> {
        Consumer {
            group,
            id: &self.consumer,
            lease: std::time::Duration::from_millis(self.config.event_lease_ms.max(1)),
        }
    }

    /// The state of a directory's outbox: what is kept, what is acknowledged, and how
    /// many unacknowledged events retention dropped (a consumer that sees `dropped > 0`
    /// missed that many events after its acknowledged cursor; see [`crate::events`]).
    pub fn event_stats(&self, directory_id: &str) -> Result<EventStats> {
        self.record(directory_id)?;
        let o = self.store.outbox(directory_id)?;
        Ok(EventStats {
            last_seq: o.last,
            acked: o.acked,
            kept: o.len(),
            dropped: o.dropped(),
        })
    }

    /// A write to directory `dir` committed (`bulk`: a Bulk request, of many changes):
    /// wake consumers; run retention when due.
    fn committed(&self, dir: &str, bulk: bool) {
        // Before consumers are woken: the feed has the events before anyone acknowledges.
        self.record_activity(dir);
        if self
            .relay
            .feed
            .wrote(dir, if bulk { TRIM_EVERY } else { 1 })
        {
            // Another writer that found it due meanwhile left it to us.
            while {
                self.retain_events(dir);
                self.relay.feed.trimmed(dir)
            } {}
        }
    }

    /// Apply [`EngineConfig::events`] to a directory's outbox, a batch per transaction
    /// until it is within the limits. Never fails the caller: the change it follows has
    /// committed; a failure is logged and retried at the next run.
    fn retain_events(&self, dir: &str) {
        let policy = self.config.events;
        let trim = TrimEvents {
            max_count: policy.max_count,
            older_than: policy.max_age_secs.filter(|s| *s > 0).map(|secs| {
                let age = Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX));
                self.now()
                    .checked_sub(age)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            }),
            limit: TRIM_BATCH,
        };
        loop {
            match self.store.trim_events(dir, &trim) {
                Ok(t) => {
                    if let Some((from, to)) = t.dropped {
                        log::warn!(
                            target: "scim::events",
                            "directory {dir}: dropped {} unacknowledged events (seq {from}-{to}) \
                             beyond the retention limits (max_count {}, max_age_secs {})",
                            t.dropped_count(),
                            show(policy.max_count),
                            show(policy.max_age_secs),
                        );
                    }
                    if !t.more {
                        return;
                    }
                }
                Err(e) => {
                    log::error!(target: "scim::events", "directory {dir}: event retention: {e}");
                    return;
                }
            }
        }
    }

    /// The activity feed: SCIM requests (recorded by the built-in server) and change
    /// events, while enabled.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// Turn the activity feed on (the built-in server does when its admin API is on):
    /// from now on, each directory's new events are recorded (none of its history).
    pub fn enable_activity(&self) -> Result<()> {
        self.activity.enable();
        for r in self.store.list_directories()? {
            let last = self.store.outbox(&r.id)?.last;
            self.activity.mark(&r.id, last);
        }
        Ok(())
    }

    /// Record the directory's events not in the activity feed yet (when it is on). Never
    /// fails the caller: the write it follows has committed.
    fn record_activity(&self, dir: &str) {
        let recorded = self.activity.record_events(
            dir,
            || Ok(self.store.outbox(dir)?.last),
            |after| self.store.events(dir, after, ACTIVITY_READ),
        );
        if let Err(e) = recorded {
            log::warn!(target: "scim::activity", "directory {dir}: cannot record events: {e}");
        }
    }

    /// Delete acknowledged events; returns how many. Retention already does this on every
    /// acknowledgement, so it rarely finds any; kept for hosts that call it.
    pub fn prune_events(&self, directory_id: &str) -> Result<u64> {
        self.record(directory_id)?;
        let acked = self.store.outbox(directory_id)?.acked;
        self.store.prune_events(directory_id, acked)
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
            login: s.oidc.as_ref().map(|o| LoginInfo {
                client_id: o.config.client_id.clone(),
                config_url: o.config.config_url.clone(),
                claim: o.config.claim.clone(),
                attribute: o.attribute.clone(),
                redirect_uri: o.config.redirect_uri.clone(),
                login_url: self.login_url(&record.id),
            }),
        })
    }
}

impl Drop for Engine {
    /// Give back the leases this engine holds, so that another consumer of each group
    /// carries on at once (a crashed process's leases end by themselves).
    fn drop(&mut self) {
        for (dir, group) in std::mem::take(&mut *self.leases.lock()) {
            if let Err(e) = self.store.release_group(&dir, &self.consumer_of(&group)) {
                log::warn!(target: "scim::events", "directory {dir}: giving back group {group}'s lease: {e}");
            }
        }
    }
}

/// What the engine shares with the store's announcements (see [`Store::subscribe`]):
/// waiting consumers wake when another instance appended events, the authentication
/// cache forgets when another instance changed a directory, and is not trusted while
/// such changes may go unannounced.
struct Relay {
    feed: EventFeed,
    auth: AuthCache,
    /// Whether the store's announcements are flowing (always, for a single-process store).
    live: AtomicBool,
}

impl StoreListener for Relay {
    fn events_appended(&self, _dir: &str) {
        self.feed.notify();
    }

    fn directory_changed(&self, _dir: &str) {
        self.auth.invalidate();
    }

    fn listening(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        self.auth.set_trusted(live);
        // Waiting consumers look again (and poll while announcements are down).
        self.feed.notify();
    }
}

/// The protocol engine over `store`. With a secrets key, pagination cursors are sealed
/// with a key derived from it, so they stay valid across restarts and across instances.
fn provider(config: &EngineConfig, store: &Arc<dyn Store>, clock: &Clock) -> ServiceProvider {
    let p = ServiceProvider::new(config.provider.clone(), store.clone()).with_clock(clock.clone());
    match &config.secrets_key {
        Some(key) => p.with_cursor_secret(key.as_bytes()),
        None => p,
    }
}

/// A directory's outbox, as [`Engine::event_stats`] reports it (JSON at the C ABI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct EventStats {
    /// The last sequence number handed out (0 before the first event).
    pub last_seq: u64,
    /// The acknowledged cursor: the least of every consumer group's (0 when there is no
    /// group; each group's own: [`Engine::event_groups`]).
    pub acked: u64,
    /// Events kept (unacknowledged ones, and acknowledged ones not yet deleted).
    pub kept: u64,
    /// Unacknowledged events retention dropped after the acknowledged cursor: a consumer
    /// never receives them. Back to 0 once it acknowledges past them.
    pub dropped: u64,
}

fn show(limit: Option<u64>) -> String {
    limit.map_or_else(|| "none".into(), |n| n.to_string())
}

/// The protocol context of a directory.
fn tenant<'a>(
    id: &'a str,
    s: &'a StoredSettings,
    base_url: &'a str,
    mappings: &'a DirectoryMapping,
) -> Tenant<'a> {
    Tenant {
        id,
        base_url,
        domain: Some(&s.domain),
        fill_domain: s.settings.fill_domain,
        enforce_domain: s.settings.enforce_domain,
        strict: s.settings.strict,
        mappings: Some(mappings),
    }
}

/// 400 unless the directory feeds `service`.
fn fed(s: &StoredSettings, service: Service) -> Result<()> {
    if s.services.contains(&service) {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "the directory does not feed '{}'",
            service_name(service)
        )))
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
