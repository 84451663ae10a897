//! The outbox: every committed change leaves the events a host needs, and nothing else.

#[path = "support/directory.rs"]
mod directory;

use scim::provider::DEFAULT_DIRECTORY;
use scim::store::{MemoryStore, Store};
use scim::{Config, Request, ServiceProvider};
use serde_json::{json, Value};
use std::sync::Arc;

struct Fixture {
    store: Arc<MemoryStore>,
    p: ServiceProvider,
    seen: u64,
}

impl Fixture {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let p = ServiceProvider::new(Config::default(), store.clone());
        Fixture { store, p, seen: 0 }
    }

    fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self.p.handle(&Request {
            method: method.into(),
            path: path.into(),
            headers: vec![("Content-Type".into(), "application/scim+json".into())],
            body: if body.is_null() {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            },
            ..Request::default()
        });
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    fn id(&self, path: &str, body: Value) -> String {
        let (status, v) = self.call("POST", path, body);
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// The events since the last call, as (kind, resource id, data).
    fn new_events(&mut self) -> Vec<(String, String, Value)> {
        let events = self
            .store
            .events(DEFAULT_DIRECTORY, self.seen, 1000)
            .unwrap();
        if let Some(last) = events.last() {
            self.seen = last.seq;
        }
        events
            .into_iter()
            .map(|e| (e.kind, e.resource_id, e.data))
            .collect()
    }

    fn kinds(&mut self) -> Vec<String> {
        self.new_events().into_iter().map(|e| e.0).collect()
    }
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[test]
fn user_lifecycle_events() {
    let mut f = Fixture::new();
    let uid = f.id("/Users", json!({"userName": "ann", "active": true}));
    let ev = f.new_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].0.as_str(), ev[0].1.as_str()),
        ("user.created", uid.as_str())
    );
    assert_eq!(ev[0].2["resource"]["userName"], "ann");
    assert_eq!(ev[0].2["resource"]["meta"]["version"], "W/\"1\"");

    let path = format!("/Users/{uid}");
    f.call(
        "PATCH",
        &path,
        patch(json!([{"op": "replace", "value": {"active": false}}])),
    );
    assert_eq!(f.kinds(), ["user.deactivated"]);
    // The same request again changes nothing, so it says nothing.
    f.call(
        "PATCH",
        &path,
        patch(json!([{"op": "replace", "value": {"active": false}}])),
    );
    assert!(f.kinds().is_empty());
    f.call(
        "PATCH",
        &path,
        patch(json!([{"op": "Replace", "path": "active", "value": "True"}])),
    );
    assert_eq!(f.kinds(), ["user.reactivated"]);
    f.call(
        "PUT",
        &path,
        json!({"userName": "ann", "active": true, "title": "Boss"}),
    );
    let ev = f.new_events();
    assert_eq!(ev[0].0, "user.updated");
    assert_eq!(ev[0].2["resource"]["title"], "Boss");

    // Rejected requests leave no event.
    let (status, _) = f.call("POST", "/Users", json!({"userName": "ANN"}));
    assert_eq!(status, 409);
    let (status, _) = f.call(
        "PATCH",
        &path,
        patch(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
    );
    assert_eq!(status, 400);
    assert!(f.kinds().is_empty());

    let (status, _) = f.call("DELETE", &path, Value::Null);
    assert_eq!(status, 204);
    let ev = f.new_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, "user.deleted");
    assert_eq!(ev[0].2["resource"]["userName"], "ann");
}

#[test]
fn membership_events_carry_only_the_delta() {
    let mut f = Fixture::new();
    let a = f.id("/Users", json!({"userName": "a"}));
    let b = f.id("/Users", json!({"userName": "b"}));
    let c = f.id("/Users", json!({"userName": "c"}));
    f.new_events();

    let gid = f.id(
        "/Groups",
        json!({"displayName": "G", "members": [{"value": a, "display": "A"}]}),
    );
    let ev = f.new_events();
    assert_eq!(
        ev.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["group.created", "group.members_added"]
    );
    assert_eq!(
        ev[1].2,
        json!({"group": {"id": gid, "displayName": "G"},
                                "members": [{"value": a, "type": "User", "display": "A"}]})
    );
    assert!(
        ev[0].2["resource"].get("members").is_none(),
        "events never carry the member list"
    );

    let path = format!("/Groups/{gid}");
    f.call(
        "PATCH",
        &path,
        patch(json!([{"op": "add", "path": "members", "value": [{"value": b}]}])),
    );
    let ev = f.new_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, "group.members_added");
    assert_eq!(ev[0].2["members"], json!([{"value": b, "type": "User"}]));

    // Rename and membership change in one request: one update, one delta.
    f.call(
        "PATCH",
        &path,
        patch(json!([
            {"op": "replace", "value": {"id": gid, "displayName": "G2"}},
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")}
        ])),
    );
    let ev = f.new_events();
    assert_eq!(
        ev.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["group.updated", "group.members_removed"]
    );
    assert_eq!(
        ev[1].2,
        json!({"group": {"id": gid, "displayName": "G2"}, "members": [{"value": a}]})
    );

    // PUT replaces the list: the event is the net difference (b stays, c comes in).
    f.call(
        "PUT",
        &path,
        json!({"displayName": "G2", "members": [{"value": b}, {"value": c}]}),
    );
    let ev = f.new_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, "group.members_added");
    assert_eq!(ev[0].2["members"], json!([{"value": c, "type": "User"}]));

    // Adding and removing the same member in one request is no change.
    f.call(
        "PATCH",
        &path,
        patch(json!([
            {"op": "add", "path": "members", "value": [{"value": a}]},
            {"op": "remove", "path": "members", "value": [{"value": a}]}
        ])),
    );
    assert!(f.kinds().is_empty());

    // Deleting a member tells the group's consumers too.
    f.call("DELETE", &format!("/Users/{c}"), Value::Null);
    let ev = f.new_events();
    assert_eq!(
        ev.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["group.members_removed", "user.deleted"]
    );
    assert_eq!(ev[0].1, gid);
    assert_eq!(ev[0].2["members"], json!([{"value": c}]));

    f.call("DELETE", &path, Value::Null);
    assert_eq!(f.kinds(), ["group.deleted"]);
}

#[test]
fn sequence_is_strictly_increasing_and_acknowledgement_moves_the_cursor() {
    let mut f = Fixture::new();
    for i in 0..5 {
        f.id("/Users", json!({"userName": format!("u{i}")}));
    }
    let events = f.store.events(DEFAULT_DIRECTORY, 0, 100).unwrap();
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let third = events[2].seq;
    f.store.ack_events(DEFAULT_DIRECTORY, third).unwrap();
    assert_eq!(f.store.acked(DEFAULT_DIRECTORY).unwrap(), third);
    let rest = f.store.events(DEFAULT_DIRECTORY, third, 100).unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(
        f.store.prune_events(DEFAULT_DIRECTORY, u64::MAX).unwrap(),
        3
    );
    assert_eq!(f.store.events(DEFAULT_DIRECTORY, 0, 100).unwrap(), rest);
    assert_eq!(
        f.store
            .ack_events(DEFAULT_DIRECTORY, 999)
            .unwrap_err()
            .status,
        409
    );
    f.new_events();
}

mod delivery {
    use scim::store::{MemoryStore, Store};
    use scim::{Engine, EngineConfig, Request};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn engine(store: Arc<dyn Store>) -> Arc<Engine> {
        Arc::new(Engine::new(EngineConfig::default(), store))
    }

    fn create_user(e: &Engine, dir: &str, token: &str, name: &str) {
        let r = e.handle(&Request {
            method: "POST".into(),
            path: format!("/scim/v2/{dir}/Users"),
            headers: vec![("Authorization".into(), format!("Bearer {token}"))],
            body: json!({ "userName": name }).to_string().into_bytes(),
            ..Request::default()
        });
        assert_eq!(r.status, 201);
    }

    #[test]
    fn consumers_wait_receive_acknowledge_and_get_redelivery() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let e = engine(store.clone());
        let (dir, token) = super::directory::okta_uem(&e, "Feed");

        // Nothing yet: the wait times out with nothing.
        let t = Instant::now();
        assert!(e
            .next_events(&dir, 10, Duration::from_millis(100))
            .unwrap()
            .is_empty());
        assert!(t.elapsed() >= Duration::from_millis(100));

        // A blocked consumer wakes as soon as a change commits.
        let waiter = {
            let e = e.clone();
            let id = dir.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                (
                    e.next_events(&id, 10, Duration::from_secs(10)).unwrap(),
                    t.elapsed(),
                )
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        create_user(&e, &dir, &token, "first");
        let (events, waited) = waiter.join().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "user.created");
        assert!(waited < Duration::from_secs(5));

        // Delivered events are not delivered twice in one run…
        create_user(&e, &dir, &token, "second");
        let next = e.next_events(&dir, 10, Duration::ZERO).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].data["resource"]["userName"], "second");
        assert!(e.next_events(&dir, 10, Duration::ZERO).unwrap().is_empty());
        // …but come again after a rewind, from the acknowledged cursor.
        e.ack_events(&dir, events[0].seq).unwrap();
        e.rewind_events(&dir).unwrap();
        assert_eq!(e.next_events(&dir, 10, Duration::ZERO).unwrap(), next);

        // A restart (a new engine on the same store, once the old one is gone: it gives
        // its lease on the stream back) redelivers what was not acknowledged.
        drop(e);
        let restarted = engine(store.clone());
        assert_eq!(
            restarted.next_events(&dir, 10, Duration::ZERO).unwrap(),
            next
        );
        restarted.ack_events(&dir, next[0].seq).unwrap();
        // Acknowledging deleted them: there is nothing left to prune.
        assert_eq!(restarted.event_stats(&dir).unwrap().kept, 0);
        assert_eq!(restarted.prune_events(&dir).unwrap(), 0);
        assert!(engine(store)
            .next_events(&dir, 10, Duration::ZERO)
            .unwrap()
            .is_empty());
        assert_eq!(
            restarted
                .next_events("nope", 1, Duration::ZERO)
                .unwrap_err()
                .status,
            404
        );
    }
}

/// Outbox retention: acknowledged events go by themselves, unacknowledged ones stay within
/// the configured age and count, and every drop is logged and visible to the consumer.
mod retention {
    use parking_lot::Mutex;
    use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
    use scim::events::{EventRetention, TRIM_BATCH, TRIM_EVERY};
    use scim::mapping::Profile;
    use scim::store::{MemoryStore, SqliteOptions, SqliteStore, Store};
    use scim::{Engine, EngineConfig, Request};
    use serde_json::json;
    use std::path::PathBuf;
    use std::sync::{Arc, Once};
    use std::time::Duration;
    use time::OffsetDateTime;

    static LINES: Mutex<Vec<(log::Level, String, String)>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            LINES
                .lock()
                .push((r.level(), r.target().to_owned(), r.args().to_string()));
        }
        fn flush(&self) {}
    }

    fn capture_logs() {
        static INIT: Once = Once::new();
        INIT.call_once(|| {
            log::set_logger(&Capture).unwrap();
            log::set_max_level(log::LevelFilter::Warn);
        });
    }

    /// The `(count, first seq, last seq)` of every drop logged for directory `dir`.
    fn drops_logged(dir: &str) -> Vec<(u64, u64, u64)> {
        let prefix = format!("directory {dir}: dropped ");
        LINES
            .lock()
            .iter()
            .filter(|(level, target, _)| *level == log::Level::Warn && target == "scim::events")
            .filter_map(|(_, _, line)| line.strip_prefix(&prefix).map(str::to_owned))
            .map(|rest| {
                // "<n> unacknowledged events (seq <a>-<b>) beyond …"
                let n = rest.split(' ').next().unwrap().parse().unwrap();
                let range = rest.split("(seq ").nth(1).unwrap();
                let range = range.split(')').next().unwrap();
                let (a, b) = range.split_once('-').unwrap();
                (n, a.parse().unwrap(), b.parse().unwrap())
            })
            .collect()
    }

    type Clock = Arc<Mutex<OffsetDateTime>>;

    struct Host {
        engine: Arc<Engine>,
        dir: String,
        token: String,
        clock: Clock,
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("libscim-events-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sqlite(path: &std::path::Path) -> Arc<dyn Store> {
        let options = SqliteOptions {
            synchronous_full: false,
            ..SqliteOptions::default()
        };
        Arc::new(SqliteStore::open(path, options).unwrap())
    }

    fn engine(store: Arc<dyn Store>, events: EventRetention, clock: &Clock) -> Arc<Engine> {
        let config = EngineConfig {
            events,
            ..EngineConfig::default()
        };
        let c = clock.clone();
        Arc::new(Engine::new(config, store).with_clock(Arc::new(move || *c.lock())))
    }

    impl Host {
        fn new(store: Arc<dyn Store>, events: EventRetention) -> Host {
            capture_logs();
            let clock: Clock = Arc::new(Mutex::new(OffsetDateTime::now_utc()));
            let engine = engine(store, events, &clock);
            let d = engine
                .create_directory(&NewDirectory {
                    name: "Retained".into(),
                    domain: "example.com".into(),
                    idp: IdpKind::Okta,
                    services: vec![Service::Uem],
                    settings: DirectorySettings::default(),
                    mapping_profile: Some(Profile::Rfc),
                })
                .unwrap();
            let token = engine
                .issue_token(&d.id, Some(24))
                .unwrap()
                .secret
                .to_string();
            Host {
                engine,
                dir: d.id,
                token,
                clock,
            }
        }

        /// The same directory on a new engine over the store `open` opens, once this
        /// engine is gone (a restart).
        fn restart(self, open: impl FnOnce() -> Arc<dyn Store>, events: EventRetention) -> Host {
            drop(self.engine);
            Host {
                engine: engine(open(), events, &self.clock),
                dir: self.dir,
                token: self.token,
                clock: self.clock,
            }
        }

        /// `n` user creates, one event each.
        fn create_users(&self, from: usize, n: usize) {
            for i in from..from + n {
                let r = self.engine.handle(&Request {
                    method: "POST".into(),
                    path: format!("/scim/v2/{}/Users", self.dir),
                    headers: vec![("Authorization".into(), format!("Bearer {}", self.token))],
                    body: json!({ "userName": format!("user{i}") })
                        .to_string()
                        .into_bytes(),
                    ..Request::default()
                });
                assert_eq!(r.status, 201);
            }
        }

        /// `n` user creates in one Bulk request.
        fn bulk_create(&self, from: usize, n: usize) {
            let ops: Vec<_> = (from..from + n)
                .map(|i| {
                    json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                           "data": { "userName": format!("user{i}") }})
                })
                .collect();
            let r = self.engine.handle(&Request {
                method: "POST".into(),
                path: format!("/scim/v2/{}/Bulk", self.dir),
                headers: vec![("Authorization".into(), format!("Bearer {}", self.token))],
                body: json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": ops,
                })
                .to_string()
                .into_bytes(),
                ..Request::default()
            });
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }

        fn advance(&self, by: time::Duration) {
            *self.clock.lock() += by;
        }

        fn stats(&self) -> scim::engine::EventStats {
            self.engine.event_stats(&self.dir).unwrap()
        }

        fn next(&self, limit: usize) -> Vec<scim::store::Event> {
            self.engine
                .next_events(&self.dir, limit, Duration::ZERO)
                .unwrap()
        }
    }

    fn unlimited() -> EventRetention {
        EventRetention {
            max_age_secs: None,
            max_count: None,
        }
    }

    fn each_store(name: &str, test: impl Fn(&dyn Fn() -> Arc<dyn Store>)) {
        test(&|| Arc::new(MemoryStore::new()));
        let dir = scratch(name);
        let path = dir.join("libscim.db");
        test(&|| {
            let _ = std::fs::remove_file(&path);
            sqlite(&path)
        });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn retention_waits_for_every_group_until_one_is_removed() {
        each_store("groups", |store| {
            let h = Host::new(store(), unlimited());
            // Two groups before the events: "audit" consumes, "gone" never does.
            h.engine.ack_group_events(&h.dir, "audit", 0).unwrap();
            h.engine.ack_group_events(&h.dir, "gone", 0).unwrap();
            h.create_users(0, 5);
            let events = h
                .engine
                .next_group_events(&h.dir, "audit", 10, Duration::ZERO)
                .unwrap();
            assert_eq!(events.len(), 5);
            h.engine.ack_group_events(&h.dir, "audit", 5).unwrap();
            // Kept for "gone"; the least cursor is what event_stats calls acknowledged.
            let s = h.stats();
            assert_eq!((s.acked, s.kept, s.dropped), (0, 5, 0));
            // Forgetting "gone" lets retention delete them at once.
            h.engine.remove_event_group(&h.dir, "gone").unwrap();
            let s = h.stats();
            assert_eq!((s.acked, s.kept, s.dropped), (5, 0, 0));
            let e = h.engine.remove_event_group(&h.dir, "gone").unwrap_err();
            assert_eq!(e.status, 404);
            let groups = h.engine.event_groups(&h.dir).unwrap();
            assert_eq!(groups.len(), 1);
            assert_eq!((groups[0].group.as_str(), groups[0].acked), ("audit", 5));
        });
    }

    #[test]
    fn acknowledged_events_are_deleted_without_a_prune_call() {
        each_store("acked", |store| {
            let h = Host::new(store(), unlimited());
            let n = TRIM_BATCH as usize * 2 + 7;
            h.create_users(0, n);
            let events = h.next(n);
            assert_eq!(events.len(), n);
            h.engine.ack_events(&h.dir, events[9].seq).unwrap();
            let s = h.stats();
            assert_eq!((s.acked, s.kept, s.dropped), (10, n as u64 - 10, 0));
            // The rest, more than one batch's worth, in one acknowledgement.
            h.engine.ack_events(&h.dir, events[n - 1].seq).unwrap();
            let s = h.stats();
            assert_eq!((s.last_seq, s.kept, s.dropped), (n as u64, 0, 0));
            assert!(h.engine.store().events(&h.dir, 0, 10).unwrap().is_empty());
            // Sequence numbers go on after the deleted ones.
            h.create_users(n, 1);
            assert_eq!(h.next(10)[0].seq, n as u64 + 1);
            assert!(drops_logged(&h.dir).is_empty());
        });
    }

    #[test]
    fn unacknowledged_events_within_the_limits_are_kept() {
        each_store("within", |store| {
            let h = Host::new(
                store(),
                EventRetention {
                    max_age_secs: Some(3600),
                    max_count: Some(200),
                },
            );
            h.create_users(0, 150);
            h.advance(time::Duration::minutes(59));
            h.create_users(150, 50);
            let s = h.stats();
            assert_eq!((s.last_seq, s.kept, s.dropped), (200, 200, 0));
            let events = h.next(1000);
            assert_eq!(events.len(), 200);
            assert_eq!(events[0].seq, 1);
            assert!(drops_logged(&h.dir).is_empty());
        });
    }

    /// `writes` creates (all but the last 1,000 in Bulk requests of 100) with
    /// `max_count` = `max`, and nobody consuming.
    fn never_consuming(store: Arc<dyn Store>, max: u64, writes: usize) {
        let h = Host::new(
            store,
            EventRetention {
                max_age_secs: None,
                max_count: Some(max),
            },
        );
        // Bulk requests: retention runs after each, so the limit always holds…
        let (bulk, singles) = (100, 1000);
        for from in (0..writes - singles).step_by(bulk) {
            h.bulk_create(from, bulk);
            let kept = h.stats().kept;
            assert!(kept <= max, "{kept} events kept");
        }
        // …single creates: never more than the limit plus the writes between two runs.
        for from in (writes - singles..writes).step_by(100) {
            h.create_users(from, 100);
            let kept = h.stats().kept;
            assert!(kept < max + u64::from(TRIM_EVERY), "{kept} events kept");
        }
        let s = h.stats();
        assert_eq!(s.last_seq, writes as u64);
        assert!(s.kept >= max && s.kept < max + u64::from(TRIM_EVERY));
        // Every drop was logged, oldest first, without overlap or hole.
        let drops = drops_logged(&h.dir);
        assert!(!drops.is_empty());
        let mut next = 1;
        for (n, a, b) in &drops {
            assert_eq!((*a, *n), (next, b + 1 - a));
            next = b + 1;
        }
        assert_eq!(next, writes as u64 + 1 - s.kept);
        // The consumer can tell: the count, and the gap before its first event.
        assert_eq!(s.dropped, next - 1);
        let events = h.next(10);
        assert_eq!(events[0].seq, next);
        assert_eq!(
            events[0].data["resource"]["userName"],
            format!("user{}", next - 1)
        );
    }

    #[test]
    fn a_host_that_never_consumes_keeps_a_bounded_outbox() {
        // The disk case, at full size…
        let dir = scratch("bounded");
        never_consuming(sqlite(&dir.join("libscim.db")), 1000, 20_000);
        let _ = std::fs::remove_dir_all(&dir);
        // …and the memory store deciding alike (smaller: the same rules at a quarter).
        never_consuming(Arc::new(MemoryStore::new()), 250, 5_000);
    }

    #[test]
    fn concurrent_writers_leave_the_outbox_within_the_limit() {
        each_store("concurrent", |store| {
            let max = 300;
            let h = Arc::new(Host::new(
                store(),
                EventRetention {
                    max_age_secs: None,
                    max_count: Some(max),
                },
            ));
            // Bulk requests from four threads: whichever finds retention running leaves
            // its share to the thread running it, which goes once more.
            let writers: Vec<_> = (0..4)
                .map(|t| {
                    let h = h.clone();
                    std::thread::spawn(move || {
                        for i in 0..8 {
                            h.bulk_create((t * 8 + i) * 50, 50);
                        }
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            let s = h.stats();
            assert_eq!((s.last_seq, s.kept, s.dropped), (1600, max, 1600 - max));
            let dropped: u64 = drops_logged(&h.dir).iter().map(|d| d.0).sum();
            assert_eq!(dropped, 1600 - max);
        });
    }

    #[test]
    fn unacknowledged_events_older_than_the_limit_are_dropped() {
        each_store("age", |store| {
            let h = Host::new(
                store(),
                EventRetention {
                    max_age_secs: Some(3600),
                    max_count: None,
                },
            );
            h.create_users(0, 10);
            h.advance(time::Duration::minutes(30));
            h.create_users(10, 10);
            h.advance(time::Duration::minutes(31));
            // The first ten are now older than an hour; the next ten are not.
            h.create_users(20, TRIM_EVERY as usize);
            let s = h.stats();
            assert_eq!(s.dropped, 10);
            assert_eq!(s.kept, 10 + u64::from(TRIM_EVERY));
            assert_eq!(drops_logged(&h.dir), [(10, 1, 10)]);
            let events = h.next(5);
            assert_eq!(events[0].seq, 11);
            assert_eq!(events[0].data["resource"]["userName"], "user10");
        });
    }

    #[test]
    fn redelivery_after_a_restart_starts_at_the_first_kept_event() {
        let dir = scratch("restart");
        let path = dir.join("libscim.db");
        let limits = EventRetention {
            max_age_secs: None,
            max_count: Some(100),
        };
        let h = Host::new(sqlite(&path), limits);
        h.create_users(0, 50);
        let first = h.next(20);
        h.engine.ack_events(&h.dir, first[19].seq).unwrap();
        // Delivered but not acknowledged: 21..=30.
        assert_eq!(h.next(10)[9].seq, 30);
        h.create_users(50, 250);
        let s = h.stats();
        assert!(s.kept <= 100 + u64::from(TRIM_EVERY));

        let h2 = h.restart(|| sqlite(&path), limits);
        let s2 = h2.stats();
        assert_eq!((s2.acked, s2.kept, s2.last_seq), (20, s.kept, 300));
        let first_kept = 300 - s.kept + 1;
        assert_eq!(s2.dropped, first_kept - 21);
        let again = h2.next(1000);
        assert_eq!(again.len() as u64, s.kept);
        assert_eq!(again[0].seq, first_kept);
        assert!(again.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        // Acknowledging past the gap clears it.
        h2.engine.ack_events(&h2.dir, 300).unwrap();
        let s3 = h2.stats();
        assert_eq!((s3.kept, s3.dropped), (0, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
