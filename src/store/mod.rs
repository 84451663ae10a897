//! Storage: the [`Store`] trait every backend implements, and the in-memory store.
//!
//! The protocol layer runs each request inside one store transaction: a read
//! ([`Store::read`]) or a write ([`Store::write`]) that either commits whole or changes
//! nothing. Group membership is rows (`group → member`), never a JSON array rewritten per
//! change, so one member costs the same in a 10-member and a 100,000-member group.

mod held;
mod memory;
mod postgres;
pub mod query;
mod sqlite;

pub(crate) use held::{hold_back, WriterHeld};
pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use query::{Cond, Key, Order, Position, Range, Run, SortField, SortValue, Start};
pub use sqlite::{SqliteOptions, SqliteStore};

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
        let folded = |v: &Value| v.as_str().map(query::fold);
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
            _ => query::fold(value),
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

    /// How many resources of `kind` there are. Answered without reading resources.
    fn count(&self, kind: ResourceKind) -> Result<u64>;

    /// Append to `out` one ordered run of the resources of `kind` that satisfy every
    /// condition, as [`Range`] describes: at most `range.limit` of them, each with its
    /// position. A backend answers it from its indexes, reading only what it returns
    /// (the walk over whole orders is [`query::walk`]).
    fn range(
        &self,
        kind: ResourceKind,
        range: &Range,
        out: &mut Vec<(Position, StoredResource)>,
    ) -> Result<()>;

    /// How many resources of `kind` satisfy every condition (and belong to `run`, when
    /// given). With no conditions and no run this is [`ReadTx::count`]. Answered from
    /// indexes, without reading resources.
    fn count_where(&self, kind: ResourceKind, conds: &[Cond], run: Option<Run>) -> Result<u64>;

    /// Visit a group's members in stable order until `visit` returns `false`.
    fn members(&self, group_id: &str, visit: &mut dyn FnMut(Member) -> bool) -> Result<()>;

    /// Whether `member_id` is a direct member of `group_id`.
    fn is_member(&self, group_id: &str, member_id: &str) -> Result<bool>;

    /// Ids of the groups `member_id` directly belongs to.
    fn groups_of(&self, member_id: &str) -> Result<Vec<String>>;

    /// Whether a group has more than `limit` members. A backend answers from its index
    /// without loading member rows (the default visits at most `limit + 1` of them).
    fn has_more_members_than(&self, group_id: &str, limit: usize) -> Result<bool> {
        let mut seen = 0usize;
        self.members(group_id, &mut |_| {
            seen += 1;
            seen <= limit
        })?;
        Ok(seen > limit)
    }
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
    /// Append a change event to the directory's outbox, in this transaction: it commits
    /// with the change it describes or not at all. Returns its sequence number, which is
    /// strictly greater than every earlier event's of the directory (never reused, even
    /// after pruning).
    fn append_event(&mut self, event: NewEvent) -> Result<u64>;
    /// [`WriteTx::append_event`] of an event whose payload was serialised before the
    /// write (see [`PreparedEvent`]): a store that keeps the JSON text stores it as it is,
    /// so a writer that serialises every write spends none of its time on it. The default
    /// appends `event.event`.
    fn append_prepared(&mut self, event: &PreparedEvent) -> Result<u64> {
        self.append_event(event.event.clone())
    }
    /// Run `f` as a nested unit of this transaction: when `f` fails, everything it did is
    /// undone and the error returned, while what the transaction did before (and does
    /// after) stays; when it succeeds, its changes join the transaction (and commit or
    /// roll back with it). Savepoints nest. Bulk runs each operation in one, so many
    /// operations share a commit and a failing one leaves no trace.
    fn savepoint(&mut self, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()>;
}

/// A change to record in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// `user.created`, `group.members_added`, … (see [`crate::provider`] for the list).
    pub kind: String,
    pub resource_kind: ResourceKind,
    pub resource_id: String,
    pub time: OffsetDateTime,
    /// The event's payload (resource snapshot, membership delta, mapped records).
    pub data: Value,
}

/// A [`NewEvent`] with the JSON text of its `data`, made outside the store's writer.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedEvent {
    pub event: NewEvent,
    /// `event.data` as JSON text (what `serde_json::to_string` gives).
    pub data_json: String,
}

impl PreparedEvent {
    pub fn new(event: NewEvent) -> Result<PreparedEvent> {
        let data_json = serde_json::to_string(&event.data).map_err(|e| {
            crate::error::ScimError::internal(format!("event {}: json: {e}", event.kind))
        })?;
        Ok(PreparedEvent { event, data_json })
    }
}

/// A recorded change event. Its JSON form (the C ABI and the bindings) is
/// `{"seq", "kind", "resource_type", "resource_id", "time", "data"}`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Event {
    /// Position in the directory's outbox: strictly increasing.
    pub seq: u64,
    pub kind: String,
    #[serde(rename = "resource_type")]
    pub resource_kind: ResourceKind,
    pub resource_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub data: Value,
}

/// A directory (tenant) as stored. The store owns only what it must index — the id, the
/// unique name, the current token's hash; the rest (`data`) belongs to [`crate::directory`].
#[derive(Clone, PartialEq)]
pub struct DirectoryRecord {
    pub id: String,
    /// Unique per store, compared case-insensitively.
    pub name: String,
    /// Hex SHA-256 of the directory's current bearer token; unique when set.
    pub token_hash: Option<String>,
    pub data: Value,
}

impl std::fmt::Debug for DirectoryRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even a token's hash stays out of logs.
        f.debug_struct("DirectoryRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field(
                "token_hash",
                &self.token_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("data", &self.data)
            .finish()
    }
}

/// A storage backend. `dir` names the directory (tenant) a transaction is bound to;
/// nothing in one directory is visible from another.
pub trait Store: Send + Sync {
    /// Run `f` over a consistent read view of directory `dir`.
    fn read(&self, dir: &str, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()>;

    /// Run `f` in a write transaction on directory `dir`: when `f` fails, nothing it did
    /// is kept; when `write` returns `Ok`, everything is committed (durably, for a durable
    /// store).
    fn write(&self, dir: &str, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()>;

    /// [`Store::write`] for a write whose refusals all come before its first change:
    /// `check` reads and may refuse (having changed nothing); `apply` makes the changes
    /// and fails only when the store does. A store may then skip what it does to undo a
    /// failed write alone (SQLite: a savepoint, which copies every page the write
    /// touches): a refusal still changes nothing, while a failure of `apply` may fail
    /// the other writes that were to commit with it (never silently: they return it).
    fn write_checked(
        &self,
        dir: &str,
        check: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
        apply: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<()> {
        self.write(dir, &mut |tx| {
            check(&*tx)?;
            apply(tx)
        })
    }

    /// Add a directory. 409 `uniqueness` when the name (case-insensitively) or the
    /// token hash is taken.
    fn create_directory(&self, record: &DirectoryRecord) -> Result<()>;
    /// Change directory `id`'s record as one atomic read-modify-write: read it, let
    /// `change` modify it, and write it back, in one write transaction (SQLite: on the
    /// shared writer; memory: under its lock; PostgreSQL: `SELECT … FOR UPDATE` in one
    /// transaction), so that no concurrent change is lost between the read and the write.
    /// Returns the record as stored. 404 when absent; 409 as for create; when `change`
    /// fails (or changes the id, a 500), nothing is written and its error is returned.
    ///
    /// `change` runs while the store's writer is held: it must not call into the store
    /// nor log (a host's log callback may), and it may run more than once (a backend may
    /// retry it on a serialization conflict), so it only computes the new record.
    fn modify_directory(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut DirectoryRecord) -> Result<()>,
    ) -> Result<DirectoryRecord>;
    fn get_directory(&self, id: &str) -> Result<Option<DirectoryRecord>>;
    /// The directory whose current token has this hash.
    fn directory_by_token(&self, token_hash: &str) -> Result<Option<DirectoryRecord>>;
    /// Every directory, in creation order.
    fn list_directories(&self) -> Result<Vec<DirectoryRecord>>;
    /// Remove a directory with all its users, groups, member rows and events.
    /// `false` when absent.
    fn delete_directory(&self, id: &str) -> Result<bool>;

    /// Up to `limit` events of directory `dir` with `seq > after`, in order.
    fn events(&self, dir: &str, after: u64, limit: usize) -> Result<Vec<Event>>;
    /// Record that the consumer has applied every event up to `seq` (durably). A cursor
    /// never moves backwards; acknowledging past the last event is an error (409).
    fn ack_events(&self, dir: &str, seq: u64) -> Result<()>;
    /// The acknowledged cursor: events after it are redelivered (0 when none acknowledged).
    fn acked(&self, dir: &str) -> Result<u64>;
    /// Delete acknowledged events up to `seq` (at most the acknowledged cursor); returns
    /// how many were deleted.
    fn prune_events(&self, dir: &str, seq: u64) -> Result<u64>;

    /// The bounds of directory `dir`'s outbox. Every deletion ([`Store::prune_events`],
    /// [`Store::trim_events`]) removes the oldest events, so the events kept are exactly
    /// `first..=last`.
    fn outbox(&self, dir: &str) -> Result<Outbox>;
    /// Retention: in one short write transaction, delete at most `trim.limit` of `dir`'s
    /// oldest events — acknowledged ones first, then unacknowledged ones beyond
    /// `trim.max_count` or older than `trim.older_than`. Only the front of the outbox is
    /// read (by `(dir, seq)`), never the whole of it.
    fn trim_events(&self, dir: &str, trim: &TrimEvents) -> Result<Trimmed>;
}

/// [`Store::modify_directory`]'s guard: a change may not move a record to another id.
pub(crate) fn check_same_id(id: &str, changed: &DirectoryRecord) -> Result<()> {
    if changed.id == id {
        Ok(())
    } else {
        Err(crate::error::ScimError::internal(format!(
            "directory '{id}': a change may not alter its id"
        )))
    }
}

/// The bounds of a directory's outbox (see [`Store::outbox`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outbox {
    /// The oldest event kept; `None` when none is.
    pub first: Option<u64>,
    /// The last sequence number handed out (0 before the first event).
    pub last: u64,
    /// The acknowledged cursor.
    pub acked: u64,
}

impl Outbox {
    /// Events kept.
    pub fn len(&self) -> u64 {
        self.first.map_or(0, |f| self.last + 1 - f)
    }
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }
    /// Unacknowledged events that retention deleted: after the acknowledged cursor, but no
    /// longer kept. A consumer never receives them.
    pub fn dropped(&self) -> u64 {
        self.first
            .unwrap_or(self.last + 1)
            .saturating_sub(self.acked + 1)
    }
}

/// What one [`Store::trim_events`] call may delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrimEvents {
    /// Keep at most this many unacknowledged events (the newest); `None`: no limit.
    pub max_count: Option<u64>,
    /// Drop unacknowledged events whose `time` is before this; `None`: no limit. Events
    /// go oldest (lowest `seq`) first: the first one not this old stops the drop.
    pub older_than: Option<OffsetDateTime>,
    /// Delete at most this many events in this call.
    pub limit: u64,
}

/// What one [`Store::trim_events`] call deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Acknowledged events deleted.
    pub pruned: u64,
    /// Unacknowledged events deleted by the limits: the `seq` range, inclusive.
    pub dropped: Option<(u64, u64)>,
    /// `limit` stopped it before the outbox was within the limits: call again.
    pub more: bool,
}

impl Trimmed {
    /// How many unacknowledged events were dropped.
    pub fn dropped_count(&self) -> u64 {
        self.dropped.map_or(0, |(a, b)| b + 1 - a)
    }
}

/// The retention plan for an outbox of bounds `o`: `(prune_through, drop_through,
/// more)`. Shared by the stores so that they decide alike. `old_front(from, limit,
/// cutoff)` reads events from `seq` `from` on, in order, stopping at the first whose time
/// is not before `cutoff` or after `limit` events, and returns the last `seq` it passed
/// (`None`: the first was not old); it is only called when an age limit applies.
pub(crate) fn plan_trim(
    o: &Outbox,
    trim: &TrimEvents,
    old_front: &mut dyn FnMut(u64, u64, OffsetDateTime) -> Result<Option<u64>>,
) -> Result<(Option<u64>, Option<u64>, bool)> {
    let Some(mut first) = o.first else {
        return Ok((None, None, false));
    };
    let mut budget = trim.limit;
    let mut prune = None;
    if first <= o.acked && budget > 0 {
        let upto = o.acked.min(first + budget - 1);
        budget -= upto + 1 - first;
        prune = Some(upto);
        first = upto + 1;
    }
    if first <= o.acked {
        return Ok((prune, None, true));
    }
    let mut drop = None;
    // Unacknowledged events beyond the count limit: the oldest go.
    if let Some(max) = trim.max_count {
        let keep_from = (o.last + 1).saturating_sub(max);
        if keep_from > first {
            if budget == 0 {
                return Ok((prune, None, true));
            }
            let upto = (keep_from - 1).min(first + budget - 1);
            budget -= upto + 1 - first;
            drop = Some(upto);
            first = upto + 1;
            if keep_from > first {
                return Ok((prune, drop, true));
            }
        }
    }
    // Then those older than the age limit, from the front, until a younger one.
    if let (Some(cutoff), true) = (trim.older_than, first <= o.last) {
        if budget == 0 {
            // Whether any is old is for the next call to find out.
            return Ok((prune, drop, true));
        }
        if let Some(upto) = old_front(first, budget, cutoff)? {
            drop = Some(upto);
            let more = upto + 1 - first == budget && upto < o.last;
            return Ok((prune, drop, more));
        }
    }
    Ok((prune, drop, false))
}
