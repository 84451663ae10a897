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

/// The events a change produces, in the order the host should apply them.
pub(crate) fn events_for(c: &Change, now: OffsetDateTime) -> Vec<NewEvent> {
    let mut out = Vec::new();
    let resource = |v: &Value| json!({ "resource": v });
    let (created, updated, deleted) = match c.kind {
        ResourceKind::User => (USER_CREATED, USER_UPDATED, USER_DELETED),
        ResourceKind::Group => (GROUP_CREATED, GROUP_UPDATED, GROUP_DELETED),
    };
    match (c.before, c.after) {
        (None, Some(after)) => out.push(new_event(created, c.kind, c.id, now, resource(after))),
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
                json!({ "group": g, "members": members }),
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
                json!({ "group": g, "members": members }),
            ));
        }
    }
    out
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
