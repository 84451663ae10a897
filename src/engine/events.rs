//! The outbox: delivering, acknowledging and retaining change events; the activity feed.

use crate::activity::Activity;
use crate::error::{Result, ScimError};
use crate::events::{TRIM_BATCH, TRIM_EVERY};
use crate::store::{Consumer, Event, GroupCursor, TrimEvents, DEFAULT_GROUP};
use std::sync::atomic::Ordering;
use time::{Duration, OffsetDateTime};

use super::Engine;

/// While changes made by other instances may go unannounced (the store's listening
/// connection is down), a waiting consumer looks for events this often.
pub const EVENT_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Outbox events read per batch when the activity feed catches up after a write.
const ACTIVITY_READ: usize = 64;

impl Engine {
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
    /// directory is leased to one consumer at a time ([`super::EngineConfig::event_lease_ms`],
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
    pub(super) fn committed(&self, dir: &str, bulk: bool) {
        // Before consumers are woken. An acknowledgement through this engine reads them
        // into the feed first (see `retain_events`); on a shared store another process
        // may acknowledge them at once: read them now.
        if self.remote {
            self.record_activity(dir);
        } else {
            self.activity.written(dir);
        }
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

    /// Apply [`super::EngineConfig::events`] to a directory's outbox, a batch per transaction
    /// until it is within the limits. Never fails the caller: the change it follows has
    /// committed; a failure is logged and retried at the next run.
    pub(super) fn retain_events(&self, dir: &str) {
        let policy = self.config.events;
        // The feed has every event before it is deleted: those acknowledged (a consumer
        // of this engine had them delivered, and so recorded, unless another process
        // acknowledged them), and any beyond the count limit. (Events are read into the
        // feed as they are delivered, so a run under load mostly reads nothing.)
        if self.activity.is_enabled() {
            match self.store.outbox(dir) {
                Ok(o) if policy.max_count.is_none_or(|m| o.len() <= m) => {
                    self.record_activity_upto(dir, o.acked)
                }
                _ => self.record_activity(dir),
            }
        }
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
    /// events, while enabled. Events are read into it lazily: [`Engine::activity_items`]
    /// reads it with every committed event in it.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// [`Activity::items`] once every committed event is in the feed.
    pub fn activity_items(
        &self,
        after: u64,
        limit: usize,
        directory: Option<&str>,
    ) -> (Vec<crate::activity::ActivityItem>, u64) {
        for dir in self.activity.take_all_unrecorded() {
            self.record_activity(&dir);
        }
        self.activity.items(after, limit, directory)
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
    pub(super) fn record_activity(&self, dir: &str) {
        self.activity.clear_unrecorded(dir);
        self.record_activity_upto(dir, u64::MAX);
    }

    /// [`Engine::record_activity`] of the events up to `upto` only.
    fn record_activity_upto(&self, dir: &str, upto: u64) {
        let recorded = self.activity.record_events(
            dir,
            || Ok(self.store.outbox(dir)?.last),
            |after| self.store.events(dir, after, ACTIVITY_READ),
            upto,
        );
        if let Err(e) = recorded {
            log::warn!(target: "scim::activity", "directory {dir}: cannot record events: {e}");
        }
    }

    /// Delete acknowledged events; returns how many. Retention already does this on every
    /// acknowledgement, so it rarely finds any; kept for hosts that call it.
    pub fn prune_events(&self, directory_id: &str) -> Result<u64> {
        self.record(directory_id)?;
        self.record_activity(directory_id);
        let acked = self.store.outbox(directory_id)?.acked;
        self.store.prune_events(directory_id, acked)
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
