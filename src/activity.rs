//! The provisioning activity feed: a bounded in-memory ring of the server's SCIM requests
//! and the directories' change events, newest last, each with a strictly increasing
//! `seq` (a reader polls with "after the last `seq` I saw"). It is off until a host turns
//! it on ([`Activity::enable`]; the built-in server does when its admin API is on), so a
//! host that never reads it pays nothing.
//!
//! Events are recorded by the [`crate::Engine`] when it delivers them
//! ([`crate::Engine::next_events`]), and read from the outbox (after the last one
//! recorded) before anything of this engine can delete them (an acknowledgement,
//! retention) and when the feed is read ([`crate::Engine::activity_items`]). So an event
//! is in the feed before any consumer of this engine can acknowledge (and delete) it,
//! and a SCIM write does not read its events back (a committed write only marks its
//! directory: [`Activity::written`]). On a shared store (PostgreSQL), where another
//! process may acknowledge them first, they are read after each write instead.

use crate::events::EventSummary;
use crate::store::Event;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

/// Items the ring keeps (the oldest go first).
pub const ACTIVITY_CAPACITY: usize = 2_000;

/// Longest path a request item keeps, in bytes (a longer one is cut, marked `…`).
const MAX_PATH_BYTES: usize = 512;

/// One thing that happened.
#[derive(Clone, Debug)]
pub struct ActivityItem {
    /// Strictly increasing over the engine's life (never reused, also not after a drop).
    pub seq: u64,
    pub time: OffsetDateTime,
    /// The directory id.
    pub directory: String,
    pub what: ActivityKind,
}

#[derive(Clone, Debug)]
pub enum ActivityKind {
    /// A SCIM request the server answered (never its query or token).
    Request {
        method: String,
        path: String,
        status: u16,
        latency_ms: f64,
    },
    /// A change event of the directory's outbox.
    Event {
        event: Arc<Event>,
        summary: EventSummary,
    },
}

#[derive(Default)]
struct Ring {
    items: VecDeque<ActivityItem>,
    last_seq: u64,
}

/// The feed (thread-safe; one per engine: [`crate::Engine::activity`]).
#[derive(Default)]
pub struct Activity {
    enabled: AtomicBool,
    ring: Mutex<Ring>,
    /// Per directory, the last outbox `seq` recorded (a directory not here: none yet).
    /// Held while the engine reads the outbox, so two writers never record one event twice.
    recorded: Mutex<HashMap<String, u64>>,
    /// Directories with events committed since the engine last read their outbox.
    unrecorded: Mutex<HashSet<String>>,
}

impl Activity {
    /// Start recording. Idempotent.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Record a SCIM request (when enabled).
    pub fn request(
        &self,
        directory: &str,
        method: &str,
        path: &str,
        status: u16,
        latency: std::time::Duration,
    ) {
        if !self.is_enabled() {
            return;
        }
        let path = if path.len() > MAX_PATH_BYTES {
            let mut cut = MAX_PATH_BYTES;
            while !path.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}…", &path[..cut])
        } else {
            path.to_owned()
        };
        self.push(
            directory,
            ActivityKind::Request {
                method: method.to_owned(),
                path,
                status,
                latency_ms: latency.as_secs_f64() * 1000.0,
            },
        );
    }

    /// Up to `limit` items with `seq` after `after`, of one directory or of all, oldest
    /// first, and where the next read starts (`after` of the next call): the last item's
    /// `seq` when `limit` cut the answer, else the last `seq` handed out (everything up
    /// to it was looked at). An `after` beyond the last `seq` (a reader from before a
    /// restart) reads from the start.
    pub fn items(
        &self,
        after: u64,
        limit: usize,
        directory: Option<&str>,
    ) -> (Vec<ActivityItem>, u64) {
        let ring = self.ring.lock();
        let after = if after > ring.last_seq { 0 } else { after };
        // Items are in seq order: skip to the first after `after`.
        let start = ring.items.partition_point(|i| i.seq <= after);
        let items: Vec<ActivityItem> = ring
            .items
            .range(start..)
            .filter(|i| directory.is_none_or(|d| i.directory == d))
            .take(limit)
            .cloned()
            .collect();
        let next = match items.last() {
            Some(last) if items.len() == limit => last.seq,
            _ => ring.last_seq,
        };
        (items, next)
    }

    /// The last `seq` handed out (0 before the first item).
    pub fn last_seq(&self) -> u64 {
        self.ring.lock().last_seq
    }

    /// Record a directory's events not recorded yet, up to `upto`: `read(after)` returns
    /// its outbox events after `after` (in `seq` order; an empty batch ends). `start` is where a
    /// directory seen for the first time begins (its outbox's last `seq` when the feed
    /// was enabled elsewhere, so no history is replayed).
    pub(crate) fn record_events(
        &self,
        directory: &str,
        start: impl FnOnce() -> crate::error::Result<u64>,
        mut read: impl FnMut(u64) -> crate::error::Result<Vec<Event>>,
        upto: u64,
    ) -> crate::error::Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        let mut recorded = self.recorded.lock();
        let mut after = match recorded.get(directory) {
            Some(s) => *s,
            None => start()?,
        };
        // At most about a ring's worth per call: a huge resync is caught up with over
        // the following writes, never in one.
        let mut budget = ACTIVITY_CAPACITY;
        while budget > 0 && after < upto {
            let batch = read(after)?;
            let Some(last) = batch.last().map(|e| e.seq) else {
                break;
            };
            budget = budget.saturating_sub(batch.len());
            for e in batch.into_iter().take_while(|e| e.seq <= upto) {
                after = e.seq;
                self.push_event(directory, e);
            }
            if last > upto {
                break;
            }
        }
        if budget == 0 {
            // More to read: at the next catch-up.
            self.written(directory);
        }
        recorded.insert(directory.to_owned(), after);
        Ok(())
    }

    /// A write to `directory` committed events the feed has not read yet (when enabled).
    pub(crate) fn written(&self, directory: &str) {
        if !self.is_enabled() {
            return;
        }
        let mut unrecorded = self.unrecorded.lock();
        if !unrecorded.contains(directory) {
            unrecorded.insert(directory.to_owned());
        }
    }

    /// Clear the mark of [`Activity::written`] (the caller reads the directory's outbox
    /// next, so a write committing meanwhile marks it again).
    pub(crate) fn clear_unrecorded(&self, directory: &str) {
        self.unrecorded.lock().remove(directory);
    }

    /// Every directory marked by [`Activity::written`]; clears the marks.
    pub(crate) fn take_all_unrecorded(&self) -> Vec<String> {
        self.unrecorded.lock().drain().collect()
    }

    /// Record delivered events not recorded yet (those after the directory's mark).
    pub(crate) fn delivered(&self, directory: &str, events: &[Event]) {
        if !self.is_enabled() || events.is_empty() {
            return;
        }
        let mut recorded = self.recorded.lock();
        let mark = recorded.get(directory).copied();
        let from = mark.unwrap_or(0);
        let mut last = from;
        for e in events.iter().filter(|e| e.seq > from) {
            if mark.is_some() && e.seq != last + 1 {
                // Events between the mark and these (unread, see `Activity::written`) are
                // read from the outbox first: the feed keeps the outbox's order.
                break;
            }
            self.push_event(directory, e.clone());
            last = e.seq;
        }
        recorded.insert(directory.to_owned(), last);
    }

    /// The directory is gone: its next events (of a new directory with the same id,
    /// which never happens with random ids) start from scratch.
    pub(crate) fn forget(&self, directory: &str) {
        self.recorded.lock().remove(directory);
        self.unrecorded.lock().remove(directory);
    }

    /// The directory's mark, set when a directory is first known (its outbox's last
    /// `seq`), unless one is set already.
    pub(crate) fn mark(&self, directory: &str, seq: u64) {
        self.recorded
            .lock()
            .entry(directory.to_owned())
            .or_insert(seq);
    }

    fn push_event(&self, directory: &str, e: Event) {
        let summary = EventSummary::of(&e);
        self.push(
            directory,
            ActivityKind::Event {
                event: Arc::new(e),
                summary,
            },
        );
    }

    fn push(&self, directory: &str, what: ActivityKind) {
        let mut ring = self.ring.lock();
        ring.last_seq += 1;
        let item = ActivityItem {
            seq: ring.last_seq,
            time: OffsetDateTime::now_utc(),
            directory: directory.to_owned(),
            what,
        };
        if ring.items.len() == ACTIVITY_CAPACITY {
            ring.items.pop_front();
        }
        ring.items.push_back(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ResourceKind;
    use std::time::Duration;

    /// The feed of directory `dir`, one line per item (`"<seq> <summary>"` for events).
    fn lines(a: &Activity, dir: &str) -> Vec<String> {
        a.items(0, 10, Some(dir))
            .0
            .iter()
            .map(|i| match &i.what {
                ActivityKind::Event { event, summary } => format!("{} {summary}", event.seq),
                ActivityKind::Request { .. } => "request".into(),
            })
            .collect()
    }

    fn event(seq: u64, user: &str) -> Event {
        Event {
            seq,
            kind: "user.created".into(),
            resource_kind: ResourceKind::User,
            resource_id: format!("id-{seq}"),
            time: OffsetDateTime::now_utc(),
            data: serde_json::json!({"resource": {"userName": user},
                                     "records": {"uem": {}, "access": {}}}),
        }
    }

    #[test]
    fn off_until_enabled() {
        let a = Activity::default();
        a.request(
            "d",
            "GET",
            "/scim/v2/d/Users",
            200,
            Duration::from_millis(1),
        );
        a.delivered("d", &[event(1, "ann")]);
        let (items, next) = a.items(0, 10, None);
        assert!(items.is_empty());
        assert_eq!(next, 0);
        assert_eq!(a.last_seq(), 0);
    }

    #[test]
    fn bounded_and_in_order() {
        let a = Activity::default();
        a.enable();
        for i in 0..ACTIVITY_CAPACITY + 5 {
            a.request("d", "GET", &format!("/p/{i}"), 200, Duration::ZERO);
        }
        let (all, next) = a.items(0, usize::MAX, None);
        assert_eq!(all.len(), ACTIVITY_CAPACITY);
        assert_eq!(all[0].seq, 6);
        assert_eq!(all.last().unwrap().seq, (ACTIVITY_CAPACITY + 5) as u64);
        assert_eq!(next, (ACTIVITY_CAPACITY + 5) as u64);
        let (after, next) = a.items(ACTIVITY_CAPACITY as u64, 3, None);
        let seqs: Vec<u64> = after.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, [2001, 2002, 2003]);
        assert_eq!(
            next, 2003,
            "cut by the limit: the next read goes on from there"
        );
        // Nothing of directory "x": the reader may skip all it has seen.
        assert_eq!(a.items(0, 10, Some("x")).1, (ACTIVITY_CAPACITY + 5) as u64);
        // A reader from before a restart (a seq beyond the last) starts over.
        assert_eq!(a.items(99_999, 1, None).0[0].seq, 6);
    }

    #[test]
    fn events_recorded_once_whoever_sees_them_first() {
        let a = Activity::default();
        a.enable();
        a.mark("d", 0);
        a.delivered("d", &[event(1, "ann"), event(2, "bob")]);
        // The writer's read after the mark finds only what is new.
        a.record_events(
            "d",
            || Ok(0),
            |after| Ok((after + 1..=3).map(|s| event(s, "cy")).collect()),
            u64::MAX,
        )
        .unwrap();
        a.delivered("d", &[event(2, "bob"), event(3, "cy")]);
        let kinds = lines(&a, "d");
        assert_eq!(
            kinds,
            [
                "1 user.created ann → uem, access",
                "2 user.created bob → uem, access",
                "3 user.created cy → uem, access"
            ]
        );
        assert!(a.items(0, 10, Some("other")).0.is_empty());
    }

    #[test]
    fn a_delivery_past_unread_events_waits_for_them() {
        let a = Activity::default();
        a.enable();
        a.mark("d", 0);
        // Events 1 and 2 committed, not read into the feed yet.
        a.written("d");
        a.written("d");
        assert_eq!(a.take_all_unrecorded(), ["d"]);
        assert!(a.take_all_unrecorded().is_empty());
        // Delivering 3 does not put it ahead of them, nor move the mark past them.
        a.delivered("d", &[event(3, "cy")]);
        assert!(a.items(0, 10, Some("d")).0.is_empty());
        // Read up to 2 (what retention is about to delete), then 3 comes as delivered.
        a.record_events(
            "d",
            || Ok(0),
            |after| Ok((after + 1..=3).map(|s| event(s, "ann")).collect()),
            2,
        )
        .unwrap();
        a.delivered("d", &[event(3, "cy")]);
        let seqs = lines(&a, "d");
        assert_eq!(
            seqs,
            [
                "1 user.created ann → uem, access",
                "2 user.created ann → uem, access",
                "3 user.created cy → uem, access"
            ]
        );
    }

    #[test]
    fn long_paths_are_cut_on_a_char_boundary() {
        let a = Activity::default();
        a.enable();
        let long = "é".repeat(400);
        a.request("d", "GET", &long, 200, Duration::ZERO);
        match &a.items(0, 1, None).0[0].what {
            ActivityKind::Request { path, .. } => {
                assert!(path.ends_with('…'));
                assert!(path.len() <= MAX_PATH_BYTES + '…'.len_utf8());
            }
            ActivityKind::Event { .. } => panic!("a request was recorded"),
        }
    }
}
