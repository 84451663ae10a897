//! Change events: what the host is told about every committed change, written to the
//! store's outbox in the same transaction as the change itself.
//!
//! | kind | when | `data` |
//! |---|---|---|
//! | `user.created` | POST /Users (also bulk) | `{"resource": …}` |
//! | `user.updated` | PUT/PATCH changed attributes other than a flip of `active` | `{"resource": …}` |
//! | `user.deactivated` | `active` went from true (or unset) to false | `{"resource": …}` |
//! | `user.reactivated` | `active` went from false to true (or unset) | `{"resource": …}` |
//! | `user.deleted` | DELETE /Users/{id} | `{"resource": <last state>}` |
//! | `group.created` | POST /Groups | `{"resource": …}` (without members) |
//! | `group.updated` | PUT/PATCH changed group attributes | `{"resource": …}` |
//! | `group.deleted` | DELETE /Groups/{id} | `{"resource": <last state>}` |
//! | `group.members_added` | members added (create, PUT, PATCH, bulk) | `{"group": {"id", "displayName"}, "members": [{"value", "type", "display"?}]}` |
//! | `group.members_removed` | members removed (also when a member is deleted) | same shape, the removed members |
//!
//! Membership events carry only the delta, never the whole member list. Sequence numbers
//! increase strictly per directory; consumers read after a cursor and acknowledge.
//!
//! In a directory of the [`crate::Engine`], every event's `data` also has `records`: for
//! each service the directory feeds, the resource's mapped record (see
//! [`crate::mapping`]) — `{"records": {"uem": {"userName": …, "email": …}, "access": {…}}}`.
//! It is the state after the change (for `*.deleted`, the last state); membership events
//! carry the group's record, and their `members` delta is the same for every service. A
//! host applies an event from `records` (and `members`) alone, without reading SCIM.
//! `user.updated` is also emitted by [`crate::Engine::resync`], for every user, after a
//! mapping change.
//!
//! ## Retention
//!
//! The outbox does not grow without bound ([`EventRetention`], `"events"` in the engine's
//! configuration). Events are delivered per consumer group (see
//! [`crate::Engine::next_group_events`] and [`crate::store::GroupCursor`]); an event every
//! group has acknowledged is deleted as the cursors advance (in
//! [`crate::Engine::ack_group_events`]); unacknowledged ones are kept up to an age and a count
//! per directory, then dropped oldest first, with a `log::warn!` (target `scim::events`)
//! naming the directory, how many and their `seq` range. Retention runs on the engine's
//! own calls — every [`TRIM_EVERY`] successful writes of a directory or [`TRIM_INTERVAL`]
//! after its last run, after every Bulk request, after an acknowledgement or a resync — in
//! write transactions of at most [`TRIM_BATCH`] deletes, so no request holds the writer
//! long and the work per write stays constant. Between two runs a directory may exceed
//! the count by what it wrote meanwhile (at most `TRIM_EVERY - 1` requests' worth).
//!
//! Sequence numbers have no gaps otherwise, so a consumer can tell it missed events: the
//! first event it receives has a `seq` beyond the one after its acknowledged (or last
//! received) event, and [`crate::Engine::event_stats`] counts the dropped ones
//! (`dropped`, until the consumer acknowledges past them).

use crate::schema::ResourceKind;
use crate::store::{Member, NewEvent};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

pub const USER_CREATED: &str = "user.created";
pub const USER_UPDATED: &str = "user.updated";
pub const USER_DEACTIVATED: &str = "user.deactivated";
pub const USER_REACTIVATED: &str = "user.reactivated";
pub const USER_DELETED: &str = "user.deleted";
pub const GROUP_CREATED: &str = "group.created";
pub const GROUP_UPDATED: &str = "group.updated";
pub const GROUP_DELETED: &str = "group.deleted";
pub const GROUP_MEMBERS_ADDED: &str = "group.members_added";
pub const GROUP_MEMBERS_REMOVED: &str = "group.members_removed";

/// How long and how many unacknowledged events a directory keeps (`"events"` in
/// [`crate::EngineConfig`]; JSON `{"max_age_secs": 604800, "max_count": 1000000}`,
/// `null` for no limit). Acknowledged events are always deleted.
///
/// The defaults, 7 days and 1,000,000 events per directory, keep everything a host that
/// is down over a long weekend (or a holiday week) needs to catch up, and the whole
/// initial import of a 1,000,000-user directory, while bounding a host that never
/// consumes: an event takes 1–5 KB in SQLite (about 1.4 KB for a Workspace ONE user fed
/// to two services, as `serve` does), so at most 1–5 GB per directory, and only 7 days
/// of changes. Hosts with many directories or little disk lower `max_count`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct EventRetention {
    /// Unacknowledged events older than this many seconds are dropped. `None` (or 0):
    /// kept regardless of age.
    pub max_age_secs: Option<u64>,
    /// At most this many unacknowledged events are kept per directory (the newest).
    /// `None`: no limit. `0` keeps none (a host that does not use events).
    pub max_count: Option<u64>,
}

impl Default for EventRetention {
    fn default() -> Self {
        EventRetention {
            max_age_secs: Some(7 * 24 * 3600),
            max_count: Some(1_000_000),
        }
    }
}

/// Retention runs after this many successful writes of a directory…
pub const TRIM_EVERY: u32 = 64;
/// …or after this long since its last run (at the next write).
pub const TRIM_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
/// Most events one retention transaction deletes.
pub const TRIM_BATCH: u64 = 500;

/// A consumer whose group's stream another consumer holds asks again this often (or
/// when that lease would end, if sooner): a stream given back is taken over within it.
pub const HELD_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// The net membership change of one request: a member added and removed again within
/// the same request is no change at all.
#[derive(Debug, Default)]
pub(crate) struct MemberDelta {
    pub added: BTreeMap<String, Member>,
    pub removed: BTreeSet<String>,
}

impl MemberDelta {
    pub fn add(&mut self, m: Member) {
        if !self.removed.remove(&m.value) {
            self.added.insert(m.value.clone(), m);
        }
    }
    pub fn remove(&mut self, id: &str) {
        if self.added.remove(id).is_none() {
            self.removed.insert(id.to_owned());
        }
    }
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// One committed change, as the provider saw it (resources rendered without derived
/// `members`/`groups`).
pub(crate) struct Change<'a> {
    pub kind: ResourceKind,
    pub id: &'a str,
    pub before: Option<&'a Value>,
    pub after: Option<&'a Value>,
    /// Whether the resource's own attributes changed (not only its members).
    pub attributes_changed: bool,
    pub members: &'a MemberDelta,
    /// The mapped records of the latest state, per service (`None`: no mappings).
    pub records: Option<&'a Value>,
}

fn is_active(v: Option<&Value>) -> bool {
    // `active` unset counts as active: IdPs send `active: false` to deactivate.
    v.and_then(|r| r.get("active")).and_then(Value::as_bool) != Some(false)
}

fn new_event(kind: &str, rk: ResourceKind, id: &str, now: OffsetDateTime, data: Value) -> NewEvent {
    NewEvent {
        kind: kind.to_owned(),
        resource_kind: rk,
        resource_id: id.to_owned(),
        time: now,
        data,
    }
}

/// The event of a new resource (`user.created`, `group.created`): `{"resource": view,
/// "records": records}`, made of the view and records themselves (a create can build it
/// before its write, without copying either).
pub(crate) fn created_event(
    kind: ResourceKind,
    id: &str,
    now: OffsetDateTime,
    view: Value,
    records: Option<Value>,
) -> NewEvent {
    let mut data = Map::with_capacity(2);
    data.insert("resource".into(), view);
    if let Some(r) = records {
        data.insert("records".into(), r);
    }
    let name = match kind {
        ResourceKind::User => USER_CREATED,
        ResourceKind::Group => GROUP_CREATED,
    };
    new_event(name, kind, id, now, Value::Object(data))
}

/// The events a change produces, in the order the host should apply them.
pub(crate) fn events_for(c: &Change, now: OffsetDateTime) -> Vec<NewEvent> {
    let mut out = Vec::new();
    let with_records = |mut data: Value| {
        if let (Some(r), Value::Object(o)) = (c.records, &mut data) {
            o.insert("records".into(), r.clone());
        }
        data
    };
    let resource = |v: &Value| with_records(json!({ "resource": v }));
    let (updated, deleted) = match c.kind {
        ResourceKind::User => (USER_UPDATED, USER_DELETED),
        ResourceKind::Group => (GROUP_UPDATED, GROUP_DELETED),
    };
    match (c.before, c.after) {
        (None, Some(after)) => out.push(created_event(
            c.kind,
            c.id,
            now,
            after.clone(),
            c.records.cloned(),
        )),
        (Some(before), None) => {
            out.push(new_event(deleted, c.kind, c.id, now, resource(before)));
        }
        (Some(before), Some(after)) if c.attributes_changed => {
            let kind = match (c.kind, is_active(Some(before)), is_active(Some(after))) {
                (ResourceKind::User, true, false) => USER_DEACTIVATED,
                (ResourceKind::User, false, true) => USER_REACTIVATED,
                _ => updated,
            };
            out.push(new_event(kind, c.kind, c.id, now, resource(after)));
        }
        _ => {}
    }
    if c.kind == ResourceKind::Group && !c.members.is_empty() {
        let group = c.after.or(c.before);
        let mut g = Map::new();
        g.insert("id".into(), Value::String(c.id.to_owned()));
        if let Some(name) = group.and_then(|g| g.get("displayName")) {
            g.insert("displayName".into(), name.clone());
        }
        let g = Value::Object(g);
        if !c.members.added.is_empty() {
            let members: Vec<Value> = c.members.added.values().map(member_json).collect();
            out.push(new_event(
                GROUP_MEMBERS_ADDED,
                c.kind,
                c.id,
                now,
                with_records(json!({ "group": g, "members": members })),
            ));
        }
        if !c.members.removed.is_empty() {
            let members: Vec<Value> = c
                .members
                .removed
                .iter()
                .map(|id| json!({ "value": id }))
                .collect();
            out.push(new_event(
                GROUP_MEMBERS_REMOVED,
                c.kind,
                c.id,
                now,
                with_records(json!({ "group": g, "members": members })),
            ));
        }
    }
    out
}

/// A change event in a few words, for people: its kind, whom it is about, who joined or
/// left (a membership delta) and the services whose records it carries. Its `Display` is
/// the one-line text `serve` prints and the admin API's activity feed shows:
/// `user.created ann@example.com → uem, access`,
/// `group.members_added Sales [ann@example.com, bob@example.com, …] → uem, access`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSummary {
    /// `user.created`, `group.members_added`, …
    pub kind: String,
    /// The user's `userName` or the group's `displayName` (the resource id without one).
    pub name: String,
    /// For a membership delta: the members (display name, else id), all of them.
    pub members: Option<Vec<String>>,
    /// The services whose mapped records the event carries.
    pub services: Vec<String>,
}

/// Members a summary's text names at most (the rest are `…`).
const SUMMARY_MEMBERS: usize = 3;

impl EventSummary {
    pub fn of(e: &crate::store::Event) -> EventSummary {
        let data = &e.data;
        let (name, members) = match data.get("group") {
            // A membership delta: the group, and who joined or left.
            Some(g) => {
                let members = data["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["display"].as_str().or(m["value"].as_str()))
                    .map(str::to_owned)
                    .collect();
                (g["displayName"].as_str(), Some(members))
            }
            None => {
                let r = &data["resource"];
                (r["userName"].as_str().or(r["displayName"].as_str()), None)
            }
        };
        EventSummary {
            kind: e.kind.clone(),
            name: name.unwrap_or(&e.resource_id).to_owned(),
            members,
            services: data["records"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for EventSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)?;
        if let Some(m) = &self.members {
            let shown = m.iter().take(SUMMARY_MEMBERS).map(String::as_str);
            let more = if m.len() > SUMMARY_MEMBERS {
                ", …"
            } else {
                ""
            };
            write!(f, " [{}{more}]", shown.collect::<Vec<_>>().join(", "))?;
        }
        if !self.services.is_empty() {
            write!(f, " → {}", self.services.join(", "))?;
        }
        Ok(())
    }
}

fn member_json(m: &Member) -> Value {
    let mut o = Map::new();
    o.insert("value".into(), Value::String(m.value.clone()));
    o.insert("type".into(), Value::String(m.kind.as_str().into()));
    if let Some(d) = &m.display {
        o.insert("display".into(), Value::String(d.clone()));
    }
    Value::Object(o)
}

/// The engine's side of delivery: a wake-up for consumers blocked waiting for events
/// (what is delivered and acknowledged is the store's: [`crate::store::GroupCursor`]), and
/// when retention is due.
#[derive(Default)]
pub(crate) struct EventFeed {
    state: parking_lot::Mutex<FeedState>,
    changed: parking_lot::Condvar,
}

#[derive(Default)]
struct FeedState {
    /// Bumped on every committed change, so waiters can tell something happened.
    generation: u64,
    /// Per directory: when retention is due.
    trims: std::collections::HashMap<String, TrimState>,
}

struct TrimState {
    writes: u32,
    last: std::time::Instant,
    /// A thread is running retention for the directory: others need not.
    running: bool,
    /// Retention fell due again while it ran: the running thread goes once more.
    again: bool,
}

impl EventFeed {
    /// A change committed: wake every waiting consumer.
    pub fn notify(&self) {
        self.state.lock().generation += 1;
        self.changed.notify_all();
    }

    /// A write to `dir` committed, counting `weight` writes: wake every waiting consumer,
    /// and say whether this caller should now run retention for `dir` (then it calls
    /// [`EventFeed::trimmed`]).
    pub fn wrote(&self, dir: &str, weight: u32) -> bool {
        let due = {
            let mut guard = self.state.lock();
            let s = &mut *guard;
            s.generation += 1;
            let now = std::time::Instant::now();
            if !s.trims.contains_key(dir) {
                let fresh = TrimState {
                    writes: 0,
                    last: now,
                    running: false,
                    again: false,
                };
                s.trims.insert(dir.to_owned(), fresh);
            }
            s.trims.get_mut(dir).is_some_and(|t| {
                t.writes = t.writes.saturating_add(weight);
                let due = t.writes >= TRIM_EVERY || now.duration_since(t.last) >= TRIM_INTERVAL;
                if due && t.running {
                    t.again = true;
                    return false;
                }
                t.running |= due;
                due
            })
        };
        self.changed.notify_all();
        due
    }

    /// Retention for `dir` ran (after [`EventFeed::wrote`] said it was due). `true`: it
    /// fell due again meanwhile, and the caller runs it once more (then calls this again).
    pub fn trimmed(&self, dir: &str) -> bool {
        let mut s = self.state.lock();
        let Some(t) = s.trims.get_mut(dir) else {
            return false;
        };
        t.writes = 0;
        t.last = std::time::Instant::now();
        t.running = std::mem::take(&mut t.again);
        t.running
    }

    /// Forget a deleted directory.
    pub fn forget(&self, dir: &str) {
        self.state.lock().trims.remove(dir);
    }

    /// Events from `take` (which asks the store: [`crate::store::Store::take_events`]),
    /// waiting up to `timeout` for some: `take` runs again whenever a change commits and
    /// every `poll` (when changes made elsewhere may go unannounced). While another
    /// consumer holds the stream, `take` runs again when its lease would end or after
    /// [`HELD_RETRY`], whichever comes first, whatever commits meanwhile: a consumer
    /// waiting its turn costs the store one write a second, not one per change.
    pub fn next(
        &self,
        timeout: std::time::Duration,
        poll: impl Fn() -> Option<std::time::Duration>,
        mut take: impl FnMut() -> crate::error::Result<crate::store::Taken>,
    ) -> crate::error::Result<Vec<crate::store::Event>> {
        // Past the end of another consumer's lease, so that the retry finds it ended.
        const MARGIN: std::time::Duration = std::time::Duration::from_millis(5);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let generation = self.state.lock().generation;
            let taken = take()?;
            if !taken.events.is_empty() {
                return Ok(taken.events);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            if let Some(held) = taken.held_for {
                let wake = deadline.min(now + held.min(HELD_RETRY) + MARGIN);
                let mut s = self.state.lock();
                while std::time::Instant::now() < wake {
                    if self.changed.wait_until(&mut s, wake).timed_out() {
                        break;
                    }
                }
                continue;
            }
            let mut until = deadline;
            if let Some(p) = poll() {
                until = until.min(now + p);
            }
            // Sleep until a change commits (unless one did meanwhile).
            let mut s = self.state.lock();
            if s.generation == generation {
                self.changed.wait_until(&mut s, until);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Event;

    fn event(kind: &str, data: Value) -> Event {
        Event {
            seq: 1,
            kind: kind.into(),
            resource_kind: ResourceKind::Group,
            resource_id: "g1".into(),
            time: OffsetDateTime::UNIX_EPOCH,
            data,
        }
    }

    #[test]
    fn summaries() {
        let user = event(
            USER_CREATED,
            json!({"resource": {"userName": "ann@example.com"},
                   "records": {"uem": {}, "access": {}}}),
        );
        assert_eq!(
            EventSummary::of(&user).to_string(),
            "user.created ann@example.com → uem, access"
        );
        let members = event(
            GROUP_MEMBERS_ADDED,
            json!({"group": {"id": "g1", "displayName": "Sales"},
                   "members": [{"value": "1", "display": "ann"}, {"value": "2"},
                               {"value": "3", "display": "cy"}, {"value": "4", "display": "dee"}],
                   "records": {"uem": {}}}),
        );
        let s = EventSummary::of(&members);
        assert_eq!(s.members.as_ref().map(Vec::len), Some(4));
        assert_eq!(
            s.to_string(),
            "group.members_added Sales [ann, 2, cy, …] → uem"
        );
        // Without a name or records: the resource id, no arrow.
        let bare = event(GROUP_DELETED, json!({"resource": {}}));
        assert_eq!(EventSummary::of(&bare).to_string(), "group.deleted g1");
    }
}
