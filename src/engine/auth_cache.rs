//! The authentication cache: bearer-token hash → everything a request of that directory
//! needs (its settings, compiled mappings, base URL), so an authenticated request does no
//! store round trip and parses no settings.
//!
//! Correctness rests on one rule, kept here and nowhere else: **every change to a
//! directory calls [`AuthCache::invalidate`] after the store has committed it**, and a
//! fill reads [`AuthCache::generation`] *before* its store read and inserts only if the
//! generation is still the same ([`AuthCache::insert`]). A fill that read the store before
//! a change either finds the generation moved (and inserts nothing) or inserted before
//! the invalidation (which removes it): a revoked or replaced token never outlives the
//! call that revoked it. Token expiry is not cached: the caller checks it per request.
//! (The generation travels in a [`Ticket`], with the time of the store read.)
//!
//! Invalidation drops every entry: directory changes are rare, a refill is one indexed
//! read. Changes made by other processes on a shared database arrive through the store
//! ([`crate::store::Store::subscribe`]: PostgreSQL's `LISTEN/NOTIFY`), which calls
//! [`AuthCache::invalidate`] too; while that announcement channel is down the cache is
//! not trusted at all ([`AuthCache::set_trusted`]: every request reads the store). And
//! whatever the channel, a change made elsewhere is seen after at most [`MAX_AGE`]: an
//! older entry is refilled from the store.

use crate::directory::StoredSettings;
use crate::mapping::DirectoryMapping;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries kept at most (one per directory with a token); past it an arbitrary entry
/// is dropped to make room.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;

/// How long an entry is trusted without a store read (bounds how long a change made
/// outside this engine goes unseen; one indexed read per directory per period).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);

/// What an authenticated request of one directory needs.
pub(crate) struct Authorized {
    pub id: String,
    pub settings: StoredSettings,
    pub base_url: String,
    pub mapping: Arc<DirectoryMapping>,
}

/// Taken before a fill's store read; [`AuthCache::insert`] keeps the entry only if no
/// invalidation happened since.
pub(crate) struct Ticket {
    generation: u64,
    taken: Instant,
}

/// Token hash → [`Authorized`]; see the module documentation for the invalidation rule.
pub(crate) struct AuthCache {
    /// Bumped (under the write lock) by every invalidation.
    generation: AtomicU64,
    /// Keyed by SHA-256 digests: a client choosing its token cannot aim at a hash
    /// bucket, and only valid tokens are ever inserted; so a fast hasher.
    entries: RwLock<HashMap<String, (Instant, Arc<Authorized>), foldhash::fast::RandomState>>,
    capacity: usize,
    /// `false` while changes made elsewhere may go unannounced: entries are not used.
    trusted: AtomicBool,
}

impl AuthCache {
    pub fn new(capacity: usize) -> AuthCache {
        AuthCache {
            generation: AtomicU64::new(0),
            entries: RwLock::new(HashMap::default()),
            capacity: capacity.max(1),
            trusted: AtomicBool::new(true),
        }
    }

    /// The cached entry for a token hash, unless older than [`MAX_AGE`].
    pub fn get(&self, token_hash: &str) -> Option<Arc<Authorized>> {
        if !self.trusted.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.read();
        let (filled, entry) = entries.get(token_hash)?;
        (filled.elapsed() < MAX_AGE).then(|| entry.clone())
    }

    /// Bumped by every invalidation: an authentication made under an older generation
    /// may predate a directory change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// What to pass to [`Self::insert`]: take it before the store read.
    pub fn ticket(&self) -> Ticket {
        Ticket {
            generation: self.generation.load(Ordering::Acquire),
            taken: Instant::now(),
        }
    }

    /// Keep `entry` unless the cache was invalidated since `ticket` was taken (then the
    /// store read it came from may predate a change). Returns whether it was kept.
    pub fn insert(&self, token_hash: String, ticket: Ticket, entry: Arc<Authorized>) -> bool {
        let mut entries = self.entries.write();
        if self.generation.load(Ordering::Acquire) != ticket.generation {
            return false;
        }
        if entries.len() >= self.capacity && !entries.contains_key(&token_hash) {
            if let Some(k) = entries.keys().next().cloned() {
                entries.remove(&k);
            }
        }
        entries.insert(token_hash, (ticket.taken, entry));
        true
    }

    /// Forget everything: call after (never before) a directory change is committed.
    pub fn invalidate(&self) {
        let mut entries = self.entries.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Whether entries may be used: `false` while other processes' directory changes may
    /// go unannounced. Trusting again forgets everything first (what was missed meanwhile).
    pub fn set_trusted(&self, trusted: bool) {
        if trusted {
            self.invalidate();
        }
        self.trusted.store(trusted, Ordering::Release);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{DirectorySettings, IdpKind};
    use std::collections::BTreeMap;

    fn entry(id: &str) -> Arc<Authorized> {
        Arc::new(Authorized {
            id: id.into(),
            settings: StoredSettings {
                domain: "example.com".into(),
                idp: IdpKind::Generic,
                services: Vec::new(),
                settings: DirectorySettings::default(),
                created: time::OffsetDateTime::UNIX_EPOCH,
                token: None,
                mappings: BTreeMap::new(),
                oidc: None,
            },
            base_url: String::new(),
            mapping: Arc::new(DirectoryMapping::compile(&BTreeMap::new()).unwrap()),
        })
    }

    #[test]
    fn a_fill_that_predates_an_invalidation_is_not_kept() {
        let c = AuthCache::new(8);
        let t = c.ticket();
        c.invalidate();
        assert!(!c.insert("h".into(), t, entry("a")));
        assert!(c.get("h").is_none());
        assert!(c.insert("h".into(), c.ticket(), entry("a")));
        assert_eq!(c.get("h").unwrap().id, "a");
        c.invalidate();
        assert!(c.get("h").is_none());
    }

    #[test]
    fn an_untrusted_cache_is_not_used_and_trusting_again_forgets() {
        let c = AuthCache::new(8);
        assert!(c.insert("h".into(), c.ticket(), entry("a")));
        c.set_trusted(false);
        assert!(c.get("h").is_none(), "read from the store meanwhile");
        c.set_trusted(true);
        assert!(
            c.get("h").is_none(),
            "forgotten: a change may have been missed"
        );
        assert_eq!(c.len(), 0);
        assert!(c.insert("h".into(), c.ticket(), entry("a")));
        assert_eq!(c.get("h").unwrap().id, "a");
    }

    #[test]
    fn the_size_is_bounded() {
        let c = AuthCache::new(3);
        for i in 0..10 {
            assert!(c.insert(format!("h{i}"), c.ticket(), entry("a")));
        }
        assert_eq!(c.len(), 3);
        assert!(c.get("h9").is_some(), "the newest entry is kept");
    }

    #[test]
    fn an_entry_older_than_max_age_is_not_used() {
        let c = AuthCache::new(8);
        let old = Ticket {
            generation: c.ticket().generation,
            taken: Instant::now()
                .checked_sub(MAX_AGE)
                .expect("up for a second"),
        };
        assert!(c.insert("h".into(), old, entry("a")));
        assert!(c.get("h").is_none(), "refilled from the store");
    }
}
