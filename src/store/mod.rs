//! Storage: the [`Store`] trait every backend implements, and the in-memory store.
//!
//! The protocol layer runs each request inside one store transaction: a read
//! ([`Store::read`]) or a write ([`Store::write`]) that either commits whole or changes
//! nothing. Group membership is rows (`group → member`), never a JSON array rewritten per
//! change, so one member costs the same in a 10-member and a 100,000-member group.

mod memory;

pub use memory::MemoryStore;

use crate::error::Result;
use crate::schema::ResourceKind;
use serde_json::Value;
use time::OffsetDateTime;

/// A resource as stored: canonical attributes (see [`crate::schema`]) plus the metadata the
/// provider renders as `meta`. `data` never holds `id`, `meta`, `members` or `groups`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResource {
    pub id: String,
    pub kind: ResourceKind,
    pub data: Value,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    /// Starts at 1, increases by one with every change; rendered as the ETag `W/"n"`.
    pub version: u64,
}

/// One membership row of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member's id.
    pub value: String,
    /// `User` or `Group`.
    pub kind: ResourceKind,
    /// The display name the client supplied, if any.
    pub display: Option<String>,
}

/// The indexed lookups every store answers without a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexKey {
    /// `userName`, case-insensitive (users).
    UserName,
    /// `externalId`, case-exact (users and groups).
    ExternalId,
    /// `displayName`, case-insensitive (groups).
    DisplayName,
    /// `emails.value`, case-insensitive (users).
    Email,
}

impl IndexKey {
    /// The values of this key a resource carries, normalized for the index.
    pub fn values(self, kind: ResourceKind, data: &Value) -> Vec<String> {
        let s = |v: &Value| v.as_str().map(str::to_owned);
        let folded = |v: &Value| v.as_str().map(str::to_lowercase);
        match (self, kind) {
            (IndexKey::UserName, ResourceKind::User) => {
                folded(&data["userName"]).into_iter().collect()
            }
            (IndexKey::ExternalId, _) => s(&data["externalId"]).into_iter().collect(),
            (IndexKey::DisplayName, ResourceKind::Group) => {
                folded(&data["displayName"]).into_iter().collect()
            }
            (IndexKey::Email, ResourceKind::User) => data["emails"]
                .as_array()
                .map(|a| a.iter().filter_map(|e| folded(&e["value"])).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Normalize a probe value the way [`IndexKey::values`] normalizes stored ones.
    pub fn probe(self, value: &str) -> String {
        match self {
            IndexKey::ExternalId => value.to_owned(),
            _ => value.to_lowercase(),
        }
    }

    pub const ALL: [IndexKey; 4] = [
        IndexKey::UserName,
        IndexKey::ExternalId,
        IndexKey::DisplayName,
        IndexKey::Email,
    ];
}

/// Reads within one directory, at one consistent point in time.
pub trait ReadTx {
    /// The resource with this id, if any.
    fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>>;

    /// Ids of the resources whose `key` equals `value` (normalized by [`IndexKey::probe`]),
    /// in insertion order.
    fn lookup(&self, kind: ResourceKind, key: IndexKey, value: &str) -> Result<Vec<String>>;

    /// Visit every resource of `kind` in stable insertion order until `visit` returns
    /// `false`. Streams: a backend must not load the whole table at once.
    fn scan(
        &self,
        kind: ResourceKind,
        visit: &mut dyn FnMut(&StoredResource) -> bool,
    ) -> Result<()>;

    /// How many resources of `kind` there are.
    fn count(&self, kind: ResourceKind) -> Result<u64>;

    /// Visit a group's members in stable order until `visit` returns `false`.
    fn members(&self, group_id: &str, visit: &mut dyn FnMut(Member) -> bool) -> Result<()>;

    /// Whether `member_id` is a direct member of `group_id`.
    fn is_member(&self, group_id: &str, member_id: &str) -> Result<bool>;

    /// Ids of the groups `member_id` directly belongs to.
    fn groups_of(&self, member_id: &str) -> Result<Vec<String>>;
}

/// Writes within one directory. All of them commit together or not at all.
pub trait WriteTx: ReadTx {
    /// Add a new resource (its id must be new).
    fn insert(&mut self, resource: StoredResource) -> Result<()>;
    /// Replace an existing resource (same kind and id).
    fn update(&mut self, resource: StoredResource) -> Result<()>;
    /// Remove a resource, its member rows, and its rows in other groups. `false` if absent.
    fn delete(&mut self, kind: ResourceKind, id: &str) -> Result<bool>;
    /// Add a member row; `false` if it was already there (the row is then left as it was).
    fn add_member(&mut self, group_id: &str, member: Member) -> Result<bool>;
    /// Remove a member row; `false` if it was not there.
    fn remove_member(&mut self, group_id: &str, member_id: &str) -> Result<bool>;
    /// Remove every member row of a group; returns how many there were.
    fn clear_members(&mut self, group_id: &str) -> Result<u64>;
}

/// A storage backend. `dir` names the directory (tenant) a transaction is bound to;
/// nothing in one directory is visible from another.
pub trait Store: Send + Sync {
    /// Run `f` over a consistent read view of directory `dir`.
    fn read(&self, dir: &str, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()>;

    /// Run `f` in a write transaction on directory `dir`: when `f` fails, nothing it did
    /// is kept; when `write` returns `Ok`, everything is committed.
    fn write(&self, dir: &str, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()>;
}
