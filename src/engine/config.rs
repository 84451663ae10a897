//! The engine's settings.

use crate::events::EventRetention;
use crate::provider::Config;

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
    /// group's acknowledged cursor. See [`super::Engine::next_group_events`].
    pub event_lease_ms: u64,
}

/// [`EngineConfig::event_lease_ms`]'s default.
pub const DEFAULT_EVENT_LEASE_MS: u64 = 30_000;

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
