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

/// A resource as stored with its attributes left as the stored JSON text, and its
/// timestamps as RFC 3339 text: what a read that only writes the resource out needs
/// ([`ReadTx::get_text`]), without parsing the text into a [`Value`] and writing it back.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredText {
    pub id: String,
    pub kind: ResourceKind,
    /// The canonical attributes as compact JSON text (an object), as `serde_json` writes
    /// [`StoredResource::data`].
    pub data: String,
    /// `meta.created` and `meta.lastModified` as RFC 3339 text.
    pub created: String,
    pub last_modified: String,
    pub version: u64,
}

impl StoredText {
    /// The text form of a parsed resource (what a store without the text at hand answers).
    pub fn of(r: &StoredResource) -> Result<StoredText> {
        let time = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| crate::error::ScimError::internal(format!("timestamp {t}: {e}")))
        };
        Ok(StoredText {
            id: r.id.clone(),
            kind: r.kind,
            data: serde_json::to_string(&r.data)
                .map_err(|e| crate::error::ScimError::internal(format!("json: {e}")))?,
            created: time(r.created)?,
            last_modified: time(r.last_modified)?,
            version: r.version,
        })
    }
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

    /// [`ReadTx::get`] with the attributes as the stored JSON text: for a read that writes
    /// the resource out. A backend that keeps the text answers without parsing it.
    fn get_text(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredText>> {
        self.get(kind, id)?.as_ref().map(StoredText::of).transpose()
    }

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

    /// [`ReadTx::range`] with the resources as stored text: for a page that is only
    /// written out. A backend that keeps the text answers without parsing it.
    fn range_text(
        &self,
        kind: ResourceKind,
        range: &Range,
        out: &mut Vec<(Position, StoredText)>,
    ) -> Result<()> {
        let mut parsed = Vec::with_capacity(range.limit.min(64));
        self.range(kind, range, &mut parsed)?;
        for (pos, r) in parsed {
            out.push((pos, StoredText::of(&r)?));
        }
        Ok(())
    }

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
#[derive(Clone, Debug, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Event {
    /// Position in the directory's outbox: strictly increasing.
    pub seq: u64,
    pub kind: String,
    #[serde(rename = "resource_type")]
    pub resource_kind: ResourceKind,
    pub resource_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
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
    /// Record that consumer group [`DEFAULT_GROUP`] has applied every event up to `seq`
    /// (durably): [`Store::ack_group`] by no particular consumer.
    fn ack_events(&self, dir: &str, seq: u64) -> Result<()> {
        let nobody = Consumer {
            group: DEFAULT_GROUP,
            id: "",
            lease: std::time::Duration::ZERO,
        };
        self.ack_group(dir, &nobody, seq)
    }
    /// Group [`DEFAULT_GROUP`]'s acknowledged cursor (0 when the group does not exist).
    fn acked(&self, dir: &str) -> Result<u64> {
        Ok(self
            .groups(dir)?
            .into_iter()
            .find(|g| g.group == DEFAULT_GROUP)
            .map_or(0, |g| g.acked))
    }
    /// Delete events up to `seq` that every consumer group acknowledged (at most
    /// [`Outbox::acked`]); returns how many were deleted.
    fn prune_events(&self, dir: &str, seq: u64) -> Result<u64>;

    /// Consumer `c` takes the next events of its group in directory `dir` (see
    /// [`GroupCursor`]): in one write transaction, it takes or renews the group's lease on
    /// the directory's stream — unless another consumer holds it and it has not expired
    /// (then nothing is delivered and [`Taken::held_for`] says how long it remains) — and
    /// gets up to `limit` events after the group's delivered cursor, which moves past
    /// them. A consumer taking over the stream from another starts again from the
    /// group's acknowledged cursor (redelivery). A group that does not exist yet is
    /// created, positioned before the oldest event kept. 400 for an invalid group name.
    fn take_events(&self, dir: &str, c: &Consumer, limit: usize) -> Result<Taken>;
    /// Record (durably) that consumer group `c.group` applied every event up to `seq`:
    /// its acknowledged cursor never moves backwards; acknowledging past the last event
    /// is an error (409). Renews the lease when `c` holds it. Creates the group when
    /// missing.
    fn ack_group(&self, dir: &str, c: &Consumer, seq: u64) -> Result<()>;
    /// Consumer `c` gives its group's stream back (a host that could not apply what it
    /// got, or is stopping): when `c` holds the lease, it ends, and the next taker (`c`
    /// too) starts again from the acknowledged cursor. Otherwise nothing changes.
    fn release_group(&self, dir: &str, c: &Consumer) -> Result<()>;
    /// The consumer groups of directory `dir`, by name.
    fn groups(&self, dir: &str) -> Result<Vec<GroupCursor>>;
    /// Forget consumer group `group` of directory `dir` (a consumer that is gone for
    /// good): retention no longer waits for it. `false` when there was none.
    fn remove_group(&self, dir: &str, group: &str) -> Result<bool>;

    /// Have `listener` told about changes made through other handles on the same
    /// database (other processes): returns `true` when this store announces them (a
    /// shared database), `false` (the default) when every change goes through this very
    /// store object, which the engine then sees by itself.
    fn subscribe(&self, listener: std::sync::Weak<dyn StoreListener>) -> bool {
        let _ = listener;
        false
    }

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

/// The consumer group of the engine's calls that name none.
pub const DEFAULT_GROUP: &str = "default";

/// The longest consumer group name (bytes).
pub const GROUP_NAME_MAX: usize = 64;

/// One consumer of a consumer group: who takes events (see [`Store::take_events`]).
#[derive(Clone, Copy, Debug)]
pub struct Consumer<'a> {
    /// The group: each group receives every event once (at least once), in order.
    pub group: &'a str,
    /// This consumer, unique among every consumer of every process (an engine uses a
    /// random id); empty for none in particular (an acknowledgement renews no lease).
    pub id: &'a str,
    /// How long a lease this consumer takes or renews.
    pub lease: std::time::Duration,
}

/// What [`Store::take_events`] gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Taken {
    pub events: Vec<Event>,
    /// Another consumer of the group holds the stream for this much longer: nothing was
    /// delivered.
    pub held_for: Option<std::time::Duration>,
}

/// A consumer group's position in a directory's outbox. Each group has its own cursors;
/// its stream (the directory's events, in order) is leased to one consumer at a time,
/// so a group's events are handed to one consumer at a time, in order, and handed again
/// (from `acked`) to the next consumer when the holder stops renewing its lease.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct GroupCursor {
    pub group: String,
    /// Every event up to this one was applied by the group.
    pub acked: u64,
    /// Every event up to this one was handed to the lease holder (`>= acked`).
    pub delivered: u64,
    /// The consumer holding the lease, if any (it may have expired).
    pub owner: Option<String>,
    /// When the lease ends: milliseconds since the Unix epoch, by the store's clock
    /// (PostgreSQL's, for every instance alike).
    pub lease_until: i64,
}

impl GroupCursor {
    /// A new group of an outbox with these bounds: before the oldest event kept.
    pub(crate) fn new(group: &str, o: &Outbox) -> GroupCursor {
        let at = o.first.map_or(o.last, |f| f - 1);
        GroupCursor {
            group: group.to_owned(),
            acked: at,
            delivered: at,
            owner: None,
            lease_until: 0,
        }
    }

    /// Take or renew the lease for `c` at `now_ms`: the cursor to deliver after, or how
    /// long another consumer still holds it.
    pub(crate) fn take(
        &mut self,
        c: &Consumer,
        now_ms: i64,
    ) -> std::result::Result<u64, std::time::Duration> {
        if let Some(owner) = &self.owner {
            if owner != c.id && self.lease_until > now_ms {
                let left = u64::try_from(self.lease_until - now_ms).unwrap_or(0);
                return Err(std::time::Duration::from_millis(left));
            }
        }
        if self.owner.as_deref() != Some(c.id) {
            // Taken over (or first taken): what the last holder got is redelivered.
            self.owner = Some(c.id.to_owned());
            self.delivered = self.acked;
        }
        self.delivered = self.delivered.max(self.acked);
        self.lease_until = now_ms.saturating_add(lease_ms(c.lease));
        Ok(self.delivered)
    }

    /// Acknowledge up to `seq` (checked against the outbox's `last` by the caller).
    pub(crate) fn ack(&mut self, c: &Consumer, seq: u64, now_ms: i64) {
        self.acked = self.acked.max(seq);
        self.delivered = self.delivered.max(self.acked);
        if !c.id.is_empty() && self.owner.as_deref() == Some(c.id) {
            self.lease_until = now_ms.saturating_add(lease_ms(c.lease));
        }
    }

    /// End `c`'s lease, if it holds it. Returns whether anything changed.
    pub(crate) fn release(&mut self, c: &Consumer) -> bool {
        if c.id.is_empty() || self.owner.as_deref() != Some(c.id) {
            return false;
        }
        self.owner = None;
        self.lease_until = 0;
        self.delivered = self.acked;
        true
    }
}

fn lease_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds since the Unix epoch (the lease clock of the single-process stores).
pub(crate) fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    lease_ms(now)
}

/// 400 unless `group` is a usable consumer group name: 1 to [`GROUP_NAME_MAX`] bytes,
/// no control characters.
pub(crate) fn check_group(group: &str) -> Result<()> {
    if group.is_empty() || group.len() > GROUP_NAME_MAX || group.chars().any(char::is_control) {
        return Err(crate::error::ScimError::invalid_value(format!(
            "a consumer group name has 1 to {GROUP_NAME_MAX} bytes and no control characters"
        )));
    }
    Ok(())
}

/// 409 when `seq` is past the last event handed out.
pub(crate) fn check_ack(seq: u64, last: u64) -> Result<()> {
    if seq > last {
        return Err(crate::error::ScimError::new(
            409,
            None,
            format!("cannot acknowledge event {seq}: the last event is {last}"),
        ));
    }
    Ok(())
}

/// The acknowledged cursor of an outbox with these groups: the least of theirs (0 when
/// there is no group: nothing was acknowledged).
pub(crate) fn least_acked<'a>(groups: impl IntoIterator<Item = &'a GroupCursor>) -> u64 {
    groups.into_iter().map(|g| g.acked).min().unwrap_or(0)
}

/// What a store tells an engine about changes made elsewhere (see [`Store::subscribe`]).
/// Called on a thread of the store's; must not block.
pub trait StoreListener: Send + Sync {
    /// Events were appended to directory `dir`'s outbox.
    fn events_appended(&self, dir: &str);
    /// A directory (its token, settings) changed, was created or deleted.
    fn directory_changed(&self, dir: &str);
    /// Whether changes made elsewhere are being announced right now. While `false`,
    /// they may go unannounced (the listening connection is down): what the engine
    /// caches must not be trusted, and waiting consumers poll.
    fn listening(&self, live: bool);
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
    /// The acknowledged cursor: the least of every consumer group's (0 without groups).
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
