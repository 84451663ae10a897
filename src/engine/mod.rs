//! The engine a host embeds: directories (tenants), their tokens, and the authenticated
//! SCIM entry point that binds every request to exactly one directory.
//!
//! One file per concern, each with its `impl Engine` block: `config` (the settings),
//! `directories`, `tokens`, `mappings`, `auth` (which directory a request is for),
//! `protocol` (answering SCIM requests), `events` (the outbox and the activity feed),
//! `login` (OIDC sign-in); this file holds the engine itself and its construction.

use crate::activity::Activity;
use crate::error::{Result, ScimError};
use crate::events::EventFeed;
use crate::mapping::DirectoryMapping;
use crate::provider::ServiceProvider;
use crate::store::{Store, StoreListener};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

mod auth;
mod auth_cache;
mod config;
mod directories;
mod events;
mod login;
mod mappings;
mod protocol;
mod subscription;
mod tokens;

use auth_cache::AuthCache;

pub use auth::Authenticated;
pub use config::{EngineConfig, DEFAULT_EVENT_LEASE_MS};
pub use events::{EventStats, EVENT_POLL};
pub use login::{login_cookie_value, Login, LoginError, LOGIN_COOKIE};
pub use subscription::Subscription;

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
    /// This engine's consumer id ([`crate::store::Consumer::id`]): random, one per engine.
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
