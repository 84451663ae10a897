//! The store suite: one set of behaviours every `Store` must have, run against each.

use scim::schema::ResourceKind::{self, Group, User};
use scim::store::{
    Consumer, DirectoryRecord, IndexKey, Member, MemoryStore, NewEvent, PostgresStore,
    PreparedEvent, SqliteOptions, SqliteStore, Store, StoredResource,
};
use scim::ScimError;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

fn resource(kind: ResourceKind, id: &str, data: Value) -> StoredResource {
    let now = OffsetDateTime::now_utc();
    StoredResource {
        id: id.into(),
        kind,
        data,
        created: now,
        last_modified: now,
        version: 1,
    }
}

fn user(id: &str, name: &str) -> StoredResource {
    resource(
        User,
        id,
        json!({"userName": name, "externalId": format!("ext-{id}"),
               "emails": [{"value": format!("{name}@Example.com"), "type": "work"}]}),
    )
}

fn member(id: &str) -> Member {
    Member {
        value: id.into(),
        kind: User,
        display: None,
    }
}

fn ids(store: &dyn Store, dir: &str, kind: ResourceKind) -> Vec<String> {
    let mut out = Vec::new();
    store
        .read(dir, &mut |tx| {
            out.clear();
            tx.scan(kind, &mut |r| {
                out.push(r.id.clone());
                true
            })
        })
        .unwrap();
    out
}

fn members(store: &dyn Store, dir: &str, group: &str) -> Vec<String> {
    let mut out = Vec::new();
    store
        .read(dir, &mut |tx| {
            out.clear();
            tx.members(group, &mut |m| {
                out.push(m.value);
                true
            })
        })
        .unwrap();
    out
}

fn insert_order_is_stable(store: &dyn Store) {
    store
        .write("d", &mut |tx| {
            for (id, name) in [("c", "carol"), ("a", "alice"), ("b", "bob")] {
                tx.insert(user(id, name))?;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(ids(store, "d", User), ["c", "a", "b"]);
    // An update keeps the position; a new insert goes to the end.
    store
        .write("d", &mut |tx| {
            let mut a = tx.get(User, "a")?.unwrap();
            a.version = 2;
            tx.update(a)?;
            tx.insert(user("d", "dave"))
        })
        .unwrap();
    assert_eq!(ids(store, "d", User), ["c", "a", "b", "d"]);
}

fn lookups_use_normalized_keys(store: &dyn Store) {
    store
        .write("d", &mut |tx| {
            tx.insert(user("u1", "Alice"))?;
            tx.insert(resource(
                Group,
                "g1",
                json!({"displayName": "Admins", "externalId": "X"}),
            ))
        })
        .unwrap();
    store
        .read("d", &mut |tx| {
            assert_eq!(tx.lookup(User, IndexKey::UserName, "ALICE")?, ["u1"]);
            assert_eq!(
                tx.lookup(User, IndexKey::Email, "alice@example.COM")?,
                ["u1"]
            );
            assert_eq!(tx.lookup(User, IndexKey::ExternalId, "ext-u1")?, ["u1"]);
            assert!(tx.lookup(User, IndexKey::ExternalId, "EXT-U1")?.is_empty());
            assert_eq!(tx.lookup(Group, IndexKey::DisplayName, "admins")?, ["g1"]);
            assert!(tx.lookup(Group, IndexKey::ExternalId, "x")?.is_empty());
            assert_eq!(tx.count(User)?, 1);
            Ok(())
        })
        .unwrap();
    // An update moves the index entries.
    store
        .write("d", &mut |tx| {
            let mut u = tx.get(User, "u1")?.unwrap();
            u.data["userName"] = json!("alicia");
            tx.update(u)
        })
        .unwrap();
    store
        .read("d", &mut |tx| {
            assert!(tx.lookup(User, IndexKey::UserName, "alice")?.is_empty());
            assert_eq!(tx.lookup(User, IndexKey::UserName, "Alicia")?, ["u1"]);
            Ok(())
        })
        .unwrap();
}

fn failed_write_changes_nothing(store: &dyn Store) {
    store
        .write("d", &mut |tx| {
            tx.insert(user("u1", "alice"))?;
            tx.insert(user("u2", "bob"))?;
            tx.insert(resource(Group, "g", json!({"displayName": "G"})))?;
            tx.add_member("g", member("u1"))?;
            Ok(())
        })
        .unwrap();
    let err = store
        .write("d", &mut |tx| {
            tx.insert(user("u3", "carol"))?;
            let mut u = tx.get(User, "u1")?.unwrap();
            u.data["userName"] = json!("changed");
            tx.update(u)?;
            tx.add_member("g", member("u2"))?;
            tx.remove_member("g", "u1")?;
            tx.delete(User, "u2")?;
            tx.delete(Group, "g")?;
            Err(ScimError::invalid_value("boom"))
        })
        .unwrap_err();
    assert_eq!(err.status, 400);
    assert_eq!(ids(store, "d", User), ["u1", "u2"]);
    assert_eq!(ids(store, "d", Group), ["g"]);
    assert_eq!(members(store, "d", "g"), ["u1"]);
    store
        .read("d", &mut |tx| {
            assert_eq!(tx.get(User, "u1")?.unwrap().data["userName"], "alice");
            assert_eq!(tx.lookup(User, IndexKey::UserName, "alice")?, ["u1"]);
            assert!(tx.lookup(User, IndexKey::UserName, "changed")?.is_empty());
            assert!(tx.get(User, "u3")?.is_none());
            assert_eq!(tx.groups_of("u1")?, ["g"]);
            assert!(tx.groups_of("u2")?.is_empty());
            Ok(())
        })
        .unwrap();
}

fn membership_rows(store: &dyn Store) {
    store
        .write("d", &mut |tx| {
            tx.insert(resource(Group, "g", json!({"displayName": "G"})))?;
            tx.insert(resource(Group, "h", json!({"displayName": "H"})))?;
            for i in 0..5 {
                tx.insert(user(&format!("u{i}"), &format!("n{i}")))?;
                assert!(tx.add_member("g", member(&format!("u{i}")))?);
            }
            assert!(!tx.add_member("g", member("u0"))?, "duplicate row");
            tx.add_member("h", member("u0"))?;
            assert!(tx.remove_member("g", "u2")?);
            assert!(!tx.remove_member("g", "u2")?);
            Ok(())
        })
        .unwrap();
    assert_eq!(members(store, "d", "g"), ["u0", "u1", "u3", "u4"]);
    store
        .read("d", &mut |tx| {
            assert!(tx.is_member("g", "u3")?);
            assert!(!tx.is_member("g", "u2")?);
            let mut gs = tx.groups_of("u0")?;
            gs.sort();
            assert_eq!(gs, ["g", "h"]);
            Ok(())
        })
        .unwrap();
    // A user read whole, then its groups (as a GET renders it): the same groups, in the
    // same order, as asking for them alone; another user's groups are its own.
    store
        .write("d", &mut |tx| {
            tx.insert(resource(Group, "a", json!({"displayName": "A"})))?;
            tx.add_member("a", member("u0"))?;
            Ok(())
        })
        .unwrap();
    store
        .read("d", &mut |tx| {
            assert!(tx.get_text(User, "u0")?.is_some());
            assert_eq!(tx.groups_of("u3")?, ["g"]);
            let with_user = tx.groups_of("u0")?;
            assert!(tx.get_text(User, "u0")?.is_some());
            assert_eq!(tx.groups_of("u0")?, with_user);
            let alone = tx.groups_of("u0")?;
            assert_eq!(with_user, alone);
            let mut sorted = alone.clone();
            sorted.sort();
            assert_eq!(sorted, ["a", "g", "h"]);
            assert!(tx.get_text(User, "u2")?.is_some());
            assert!(tx.groups_of("u2")?.is_empty());
            assert!(tx.get_text(User, "nobody")?.is_none());
            assert!(tx.groups_of("nobody")?.is_empty());
            Ok(())
        })
        .unwrap();
    // In a write, the groups follow the write's own membership changes.
    store
        .write("d", &mut |tx| {
            assert!(tx.get_text(User, "u2")?.is_some());
            tx.add_member("h", member("u2"))?;
            assert_eq!(tx.groups_of("u2")?, ["h"]);
            assert!(tx.remove_member("h", "u2")?);
            Ok(())
        })
        .unwrap();
    // Deleting a user removes its rows everywhere; deleting a group removes its rows.
    store
        .write("d", &mut |tx| {
            assert!(tx.delete(User, "u0")?);
            assert!(!tx.delete(User, "u0")?);
            assert!(tx.delete(Group, "g")?);
            Ok(())
        })
        .unwrap();
    assert!(members(store, "d", "g").is_empty());
    assert!(members(store, "d", "h").is_empty());
    store
        .read("d", &mut |tx| {
            assert!(tx.groups_of("u1")?.is_empty());
            Ok(())
        })
        .unwrap();
    store
        .write("d", &mut |tx| {
            tx.add_member("h", member("u1"))?;
            tx.add_member("h", member("u3"))?;
            assert_eq!(tx.clear_members("h")?, 2);
            Ok(())
        })
        .unwrap();
    assert!(members(store, "d", "h").is_empty());
}

fn directories_are_isolated(store: &dyn Store) {
    store
        .write("a", &mut |tx| tx.insert(user("u1", "alice")))
        .unwrap();
    store
        .write("b", &mut |tx| tx.insert(user("u1", "other")))
        .unwrap();
    store
        .read("a", &mut |tx| {
            assert_eq!(tx.get(User, "u1")?.unwrap().data["userName"], "alice");
            assert!(tx.lookup(User, IndexKey::UserName, "other")?.is_empty());
            Ok(())
        })
        .unwrap();
    assert!(ids(store, "nobody", User).is_empty());
}

fn scan_stops_when_asked(store: &dyn Store) {
    store
        .write("d", &mut |tx| {
            for i in 0..10 {
                tx.insert(user(&format!("u{i}"), &format!("n{i}")))?;
            }
            Ok(())
        })
        .unwrap();
    let mut seen = 0;
    store
        .read("d", &mut |tx| {
            seen = 0;
            tx.scan(User, &mut |_| {
                seen += 1;
                seen < 3
            })
        })
        .unwrap();
    assert_eq!(seen, 3);
}

fn directory(id: &str, name: &str, token: Option<&str>) -> DirectoryRecord {
    DirectoryRecord {
        id: id.into(),
        name: name.into(),
        token_hash: token.map(str::to_owned),
        data: json!({"domain": format!("{id}.example.com"), "n": 1}),
    }
}

fn directory_records(store: &dyn Store) {
    store
        .create_directory(&directory("d1", "Sales", Some("h1")))
        .unwrap();
    store
        .create_directory(&directory("d2", "Ünïcode Ops", None))
        .unwrap();
    store
        .create_directory(&directory("d3", "Eng", Some("h3")))
        .unwrap();
    let names = |s: &dyn Store| -> Vec<String> {
        s.list_directories()
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect()
    };
    assert_eq!(names(store), ["d1", "d2", "d3"]);
    assert_eq!(
        store.get_directory("d1").unwrap().unwrap(),
        directory("d1", "Sales", Some("h1"))
    );
    assert!(store.get_directory("nope").unwrap().is_none());
    assert_eq!(store.directory_by_token("h3").unwrap().unwrap().id, "d3");
    assert!(store.directory_by_token("h2").unwrap().is_none());

    // Names are unique case-insensitively (Unicode folding too); ids and token hashes too.
    let e = store
        .create_directory(&directory("d4", "sALES", None))
        .unwrap_err();
    assert_eq!(
        (e.status, e.scim_type),
        (409, Some(scim::ScimType::Uniqueness))
    );
    let e = store
        .create_directory(&directory("d4", "ünïcode ops", None))
        .unwrap_err();
    assert_eq!(e.status, 409);
    let e = store
        .create_directory(&directory("d4", "Other", Some("h1")))
        .unwrap_err();
    assert_eq!(e.status, 409);
    let e = store
        .create_directory(&directory("d1", "Fresh", None))
        .unwrap_err();
    assert_eq!(e.status, 409);
    assert_eq!(names(store), ["d1", "d2", "d3"]);

    // Modify: keeps its position; the old token stops working at once.
    let set = |id: &str, name: &str, hash: Option<&str>| {
        store.modify_directory(id, &mut |r| {
            r.name = name.into();
            r.token_hash = hash.map(str::to_owned);
            r.data["n"] = json!(2);
            Ok(())
        })
    };
    let d1 = set("d1", "Sales", Some("h1-new")).unwrap();
    assert_eq!(d1.data["n"], json!(2));
    assert!(store.directory_by_token("h1").unwrap().is_none());
    assert_eq!(store.directory_by_token("h1-new").unwrap().unwrap(), d1);
    assert_eq!(store.get_directory("d1").unwrap().unwrap(), d1);
    assert_eq!(names(store), ["d1", "d2", "d3"]);
    // Renaming to its own name in another case is fine; to another's name is not.
    set("d1", "SALES", Some("h1-new")).unwrap();
    let e = set("d1", "eng", Some("h1-new")).unwrap_err();
    assert_eq!(
        (e.status, e.scim_type),
        (409, Some(scim::ScimType::Uniqueness))
    );
    let e = set("d1", "Sales", Some("h3")).unwrap_err();
    assert_eq!(e.status, 409);
    let e = set("zz", "Nobody", None).unwrap_err();
    assert_eq!(e.status, 404);
    // A refused or failing change writes nothing; a change may not move the id.
    let e = store
        .modify_directory("d1", &mut |r| {
            r.name = "Changed".into();
            Err(scim::ScimError::invalid_value("no"))
        })
        .unwrap_err();
    assert_eq!(e.scim_type, Some(scim::ScimType::InvalidValue));
    let e = store
        .modify_directory("d1", &mut |r| {
            r.id = "d9".into();
            Ok(())
        })
        .unwrap_err();
    assert_eq!(e.status, 500);
    let kept = store.get_directory("d1").unwrap().unwrap();
    assert_eq!(
        (kept.name.as_str(), kept.token_hash.as_deref()),
        ("SALES", Some("h1-new"))
    );
    assert!(store.get_directory("d9").unwrap().is_none());

    // Deleting a directory removes its resources, members and events, not others'.
    for dir in ["d1", "d3"] {
        store
            .write(dir, &mut |tx| {
                tx.insert(user("u1", "alice"))?;
                tx.insert(resource(Group, "g", json!({"displayName": "G"})))?;
                tx.add_member("g", member("u1"))?;
                tx.append_event(event("user.created", "u1"))?;
                Ok(())
            })
            .unwrap();
    }
    store.ack_events("d1", 1).unwrap();
    assert!(store.delete_directory("d1").unwrap());
    assert!(!store.delete_directory("d1").unwrap());
    assert!(store.get_directory("d1").unwrap().is_none());
    assert!(store.directory_by_token("h1-new").unwrap().is_none());
    assert_eq!(names(store), ["d2", "d3"]);
    assert!(ids(store, "d1", User).is_empty());
    assert!(ids(store, "d1", Group).is_empty());
    assert!(members(store, "d1", "g").is_empty());
    assert!(store.events("d1", 0, 10).unwrap().is_empty());
    assert_eq!(store.acked("d1").unwrap(), 0);
    assert_eq!(ids(store, "d3", User), ["u1"]);
    assert_eq!(members(store, "d3", "g"), ["u1"]);
    assert_eq!(store.events("d3", 0, 10).unwrap().len(), 1);
    // The name is free again.
    store
        .create_directory(&directory("d5", "sales", None))
        .unwrap();
    assert_eq!(names(store), ["d2", "d3", "d5"]);
}

fn event(kind: &str, id: &str) -> NewEvent {
    NewEvent {
        kind: kind.into(),
        resource_kind: User,
        resource_id: id.into(),
        time: OffsetDateTime::now_utc(),
        data: json!({"id": id, "nested": {"b": 1, "a": [1, 2]}}),
    }
}

fn seqs(events: &[scim::store::Event]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

fn append(store: &dyn Store, dir: &str, n: usize) {
    for i in 0..n {
        store
            .write(dir, &mut |tx| {
                tx.append_event(event("user.created", &format!("u{i}")))
                    .map(drop)
            })
            .unwrap();
    }
}

/// Consumer groups: each its own cursors; a group's stream leased to one consumer at a
/// time; retention waits for every group.
fn consumer_groups(store: &dyn Store) {
    use std::time::Duration;
    let lease = Duration::from_secs(60);
    let a = Consumer {
        group: "g",
        id: "a",
        lease,
    };
    let b = Consumer {
        group: "g",
        id: "b",
        lease,
    };
    let other = Consumer {
        group: "h",
        id: "a",
        lease,
    };
    append(store, "d", 3);

    // `a` takes the stream of group g; `b` of the same group gets nothing while the
    // lease lasts, and is told for how long.
    let t = store.take_events("d", &a, 2).unwrap();
    assert_eq!((seqs(&t.events), t.held_for), (vec![1, 2], None));
    let t = store.take_events("d", &b, 10).unwrap();
    assert!(t.events.is_empty());
    let left = t.held_for.expect("held by a");
    assert!(left <= lease && left > lease / 2, "{left:?}");
    // `a` goes on after what it got.
    assert_eq!(seqs(&store.take_events("d", &a, 10).unwrap().events), [3]);
    let t = store.take_events("d", &a, 10).unwrap();
    assert_eq!((t.events.len(), t.held_for), (0, None));
    // Another group gets every event too, on its own cursor.
    assert_eq!(
        seqs(&store.take_events("d", &other, 10).unwrap().events),
        [1, 2, 3]
    );

    // Acknowledgements: per group; never past the last event; never backwards.
    store.ack_group("d", &a, 2).unwrap();
    store.ack_group("d", &a, 1).unwrap();
    let e = store.ack_group("d", &a, 4).unwrap_err();
    assert_eq!(e.status, 409);
    let groups = store.groups("d").unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        (
            groups[0].group.as_str(),
            groups[0].acked,
            groups[0].delivered,
            groups[0].owner.as_deref()
        ),
        ("g", 2, 3, Some("a"))
    );
    assert_eq!((groups[1].group.as_str(), groups[1].acked), ("h", 0));
    // Retention waits for every group: h has acknowledged nothing.
    assert_eq!(store.outbox("d").unwrap().acked, 0);
    assert_eq!(store.prune_events("d", 100).unwrap(), 0);
    store.ack_group("d", &other, 3).unwrap();
    assert_eq!(store.outbox("d").unwrap().acked, 2);
    assert_eq!(store.prune_events("d", 100).unwrap(), 2);
    assert_eq!(event_ids(store, "d", 0), [(3, "u2".into())]);

    // Invalid group names: 400, nothing created.
    for bad in ["", "tab\there", &"x".repeat(65)] {
        let c = Consumer {
            group: bad,
            id: "a",
            lease,
        };
        let e = store.take_events("d", &c, 1).unwrap_err();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(scim::error::ScimType::InvalidValue))
        );
        assert_eq!(store.ack_group("d", &c, 3).unwrap_err().status, 400);
    }
    assert_eq!(store.groups("d").unwrap().len(), 2);

    // Giving the stream back: only its holder can; the next taker starts again from
    // the acknowledged cursor.
    store.release_group("d", &b).unwrap();
    assert!(store.take_events("d", &b, 10).unwrap().held_for.is_some());
    store.release_group("d", &a).unwrap();
    assert_eq!(seqs(&store.take_events("d", &b, 10).unwrap().events), [3]);
    assert!(store.take_events("d", &a, 10).unwrap().held_for.is_some());

    // A lease that ends unrenewed: the next consumer gets what was not acknowledged.
    let short = Consumer {
        group: "x",
        id: "dies",
        lease: Duration::from_millis(50),
    };
    // A new group starts at the oldest event kept.
    assert_eq!(
        seqs(&store.take_events("d", &short, 10).unwrap().events),
        [3]
    );
    let heir = Consumer {
        group: "x",
        id: "heir",
        lease,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let redelivered = loop {
        let t = store.take_events("d", &heir, 10).unwrap();
        if t.held_for.is_none() {
            break t.events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lease never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(seqs(&redelivered), [3]);

    // A group gone for good is forgotten: retention no longer waits for it.
    assert!(!store.remove_group("d", "nope").unwrap());
    assert_eq!(store.remove_group("d", "").unwrap_err().status, 400);
    assert!(store.remove_group("d", "x").unwrap());
    assert!(!store.groups("d").unwrap().iter().any(|g| g.group == "x"));

    // The old API is group "default".
    assert_eq!(store.acked("d").unwrap(), 0);
    store.ack_events("d", 3).unwrap();
    assert_eq!(store.acked("d").unwrap(), 3);
    assert!(store
        .groups("d")
        .unwrap()
        .iter()
        .any(|g| g.group == "default"));
    // Deleting the directory's record removes its groups.
    store.delete_directory("d").unwrap();
    assert!(store.groups("d").unwrap().is_empty());
}

/// Consumers of one group in parallel threads, each handing the stream on after every
/// batch: every event is delivered exactly once across them, in order.
fn consumer_leases_under_concurrency(store: &dyn Store) {
    use std::sync::Mutex;
    use std::time::Duration;
    const EVENTS: u64 = 40;
    append(store, "d", EVENTS as usize);
    let got = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..4 {
            let got = &got;
            s.spawn(move || {
                let id = format!("consumer-{t}");
                let c = Consumer {
                    group: "g",
                    id: &id,
                    lease: Duration::from_secs(60),
                };
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while store.outbox("d").unwrap().acked < EVENTS {
                    assert!(std::time::Instant::now() < deadline, "stuck");
                    let taken = store.take_events("d", &c, 3).unwrap();
                    if let Some(last) = taken.events.last() {
                        got.lock().unwrap().extend(seqs(&taken.events));
                        store.ack_group("d", &c, last.seq).unwrap();
                    }
                    store.release_group("d", &c).unwrap();
                    std::thread::yield_now();
                }
            });
        }
    });
    let got = got.into_inner().unwrap();
    assert_eq!(got, (1..=EVENTS).collect::<Vec<_>>());
}

fn event_ids(store: &dyn Store, dir: &str, after: u64) -> Vec<(u64, String)> {
    store
        .events(dir, after, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.resource_id))
        .collect()
}

fn outbox(store: &dyn Store) {
    assert!(store.events("d", 0, 10).unwrap().is_empty());
    assert_eq!(store.acked("d").unwrap(), 0);
    let sent = event("user.created", "u1");
    // Serialised before the write (as a create does, outside the store's writer).
    let prepared = PreparedEvent::new(event("user.updated", "u1")).unwrap();
    let mut seqs = Vec::new();
    store
        .write("d", &mut |tx| {
            seqs.clear();
            tx.insert(user("u1", "alice"))?;
            seqs.push(tx.append_event(sent.clone())?);
            seqs.push(tx.append_prepared(&prepared)?);
            Ok(())
        })
        .unwrap();
    assert_eq!(seqs, [1, 2]);
    // A prepared event reads back as the event it was made of.
    let second = &store.events("d", 1, 1).unwrap()[0];
    let made = &prepared.event;
    assert_eq!(
        (&second.kind, second.resource_kind, &second.resource_id),
        (&made.kind, made.resource_kind, &made.resource_id)
    );
    assert_eq!(
        (second.seq, second.time, &second.data),
        (2, made.time, &made.data)
    );
    let got = store.events("d", 0, 1).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (&got[0].kind, got[0].resource_kind, &got[0].resource_id),
        (&sent.kind, sent.resource_kind, &sent.resource_id)
    );
    assert_eq!(
        (got[0].seq, got[0].time, &got[0].data),
        (1, sent.time, &sent.data)
    );
    // A failed write keeps none of its events.
    store
        .write("d", &mut |tx| {
            tx.append_event(event("user.deleted", "u1"))?;
            Err(ScimError::invalid_value("no"))
        })
        .unwrap_err();
    assert_eq!(
        event_ids(store, "d", 0),
        [(1, "u1".into()), (2, "u1".into())]
    );
    let mut next = 0;
    store
        .write("d", &mut |tx| {
            next = tx.append_event(event("user.created", "u2"))?;
            Ok(())
        })
        .unwrap();
    assert!(next > 2, "strictly increasing: {next}");
    // Events are per directory.
    store
        .write("other", &mut |tx| {
            tx.append_event(event("x", "o")).map(|_| ())
        })
        .unwrap();
    assert_eq!(event_ids(store, "other", 0), [(1, "o".into())]);
    assert_eq!(
        event_ids(store, "d", 1),
        [(2, "u1".into()), (next, "u2".into())]
    );
    assert_eq!(event_ids(store, "d", next), []);

    // Acknowledgement: never past the last event, never backwards.
    let e = store.ack_events("d", next + 1).unwrap_err();
    assert_eq!(e.status, 409);
    let e = store.ack_events("empty", 1).unwrap_err();
    assert_eq!(e.status, 409);
    store.ack_events("d", 2).unwrap();
    store.ack_events("d", 1).unwrap();
    assert_eq!(store.acked("d").unwrap(), 2);
    assert_eq!(store.acked("other").unwrap(), 0);
    // Pruning goes at most up to the cursor.
    assert_eq!(store.prune_events("d", 100).unwrap(), 2);
    assert_eq!(event_ids(store, "d", 0), [(next, "u2".into())]);
    assert_eq!(store.prune_events("d", 100).unwrap(), 0);
    store.ack_events("d", next).unwrap();
    assert_eq!(store.prune_events("d", next).unwrap(), 1);
    assert!(event_ids(store, "d", 0).is_empty());
    assert_eq!(store.acked("d").unwrap(), next);
    // Numbers are never reused, even when the outbox is empty.
    let mut after = 0;
    store
        .write("d", &mut |tx| {
            after = tx.append_event(event("user.created", "u3"))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(after, next + 1);
    assert_eq!(event_ids(store, "d", 0), [(after, "u3".into())]);
}

/// A failing savepoint leaves no trace (rows, index entries, members, events), the
/// operations around it commit, savepoints nest, and a failing transaction still undoes
/// the savepoints that succeeded inside it.
fn savepoints_isolate_failures(store: &dyn Store) {
    store
        .write("d", &mut |tx| {
            tx.insert(user("u1", "alice"))?;
            tx.insert(resource(Group, "g", json!({"displayName": "G"})))?;
            tx.add_member("g", member("u1"))?;
            Ok(())
        })
        .unwrap();
    let mut seen = Vec::new();
    store
        .write("d", &mut |tx| {
            seen.clear();
            tx.savepoint(&mut |tx| {
                tx.insert(user("u2", "bob"))?;
                tx.append_event(event("user.created", "u2"))?;
                Ok(())
            })?;
            let err = tx
                .savepoint(&mut |tx| {
                    tx.insert(user("u3", "carol"))?;
                    let mut u = tx.get(User, "u1")?.unwrap();
                    u.data["userName"] = json!("changed");
                    tx.update(u)?;
                    tx.add_member("g", member("u2"))?;
                    tx.remove_member("g", "u1")?;
                    tx.append_event(event("user.created", "u3"))?;
                    tx.delete(Group, "g")?;
                    Err(ScimError::invalid_value("boom"))
                })
                .unwrap_err();
            seen.push(err.status);
            // Undone at once, inside the transaction.
            seen.push(u16::from(tx.get(User, "u3")?.is_none()));
            seen.push(u16::from(tx.is_member("g", "u1")?));
            // Nested: the inner failure is undone, the outer savepoint keeps its work.
            tx.savepoint(&mut |tx| {
                tx.insert(user("u4", "dave"))?;
                let inner = tx.savepoint(&mut |tx| {
                    tx.insert(user("u5", "erin"))?;
                    tx.append_event(event("user.created", "u5"))?;
                    Err(ScimError::uniqueness("taken"))
                });
                assert_eq!(inner.unwrap_err().status, 409);
                tx.append_event(event("user.created", "u4"))?;
                Ok(())
            })?;
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, [400, 1, 1]);
    assert_eq!(ids(store, "d", User), ["u1", "u2", "u4"]);
    assert_eq!(ids(store, "d", Group), ["g"]);
    assert_eq!(members(store, "d", "g"), ["u1"]);
    assert_eq!(
        event_ids(store, "d", 0),
        [(1, "u2".into()), (2, "u4".into())]
    );
    store
        .read("d", &mut |tx| {
            assert_eq!(tx.get(User, "u1")?.unwrap().data["userName"], "alice");
            assert_eq!(tx.lookup(User, IndexKey::UserName, "alice")?, ["u1"]);
            assert!(tx.lookup(User, IndexKey::UserName, "changed")?.is_empty());
            assert!(tx.lookup(User, IndexKey::UserName, "carol")?.is_empty());
            assert!(tx.lookup(User, IndexKey::UserName, "erin")?.is_empty());
            assert_eq!(tx.groups_of("u1")?, ["g"]);
            assert!(tx.groups_of("u2")?.is_empty());
            Ok(())
        })
        .unwrap();
    // The transaction fails after a successful savepoint: nothing of it is kept.
    store
        .write("d", &mut |tx| {
            tx.savepoint(&mut |tx| {
                tx.insert(user("u6", "frank"))?;
                tx.append_event(event("user.created", "u6"))?;
                Ok(())
            })?;
            Err(ScimError::invalid_value("later"))
        })
        .unwrap_err();
    assert_eq!(ids(store, "d", User), ["u1", "u2", "u4"]);
    assert_eq!(event_ids(store, "d", 2), []);
    // The store still writes normally afterwards.
    store
        .write("d", &mut |tx| tx.insert(user("u7", "gina")))
        .unwrap();
    assert_eq!(ids(store, "d", User), ["u1", "u2", "u4", "u7"]);
}

fn member_count_threshold(store: &dyn Store) {
    store
        .write("d", &mut |tx| {
            tx.insert(resource(Group, "g", json!({"displayName": "G"})))?;
            for i in 0..5 {
                tx.add_member("g", member(&format!("u{i}")))?;
            }
            tx.remove_member("g", "u0")?;
            Ok(())
        })
        .unwrap();
    store
        .read("d", &mut |tx| {
            let answers: Vec<bool> = (0..6)
                .map(|n| tx.has_more_members_than("g", n).unwrap())
                .collect();
            assert_eq!(answers, [true, true, true, true, false, false]);
            assert!(!tx.has_more_members_than("none", 0)?);
            Ok(())
        })
        .unwrap();
}

fn concurrent_writers(store: &dyn Store) {
    // Many threads writing at once: every write lands, every event number is unique.
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in 0..25 {
                    let id = format!("t{t}-{i}");
                    let result = store.write("d", &mut |tx| {
                        tx.insert(user(&id, &id))?;
                        tx.append_event(event("user.created", &id))?;
                        if i % 5 == 4 {
                            return Err(ScimError::invalid_value("rejected"));
                        }
                        Ok(())
                    });
                    assert_eq!(result.is_ok(), i % 5 != 4, "{id}");
                }
            });
        }
    });
    let got = ids(store, "d", User);
    assert_eq!(got.len(), 8 * 20);
    let events = store.events("d", 0, usize::MAX).unwrap();
    assert_eq!(events.len(), 8 * 20);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let mut evs: Vec<String> = events.into_iter().map(|e| e.resource_id).collect();
    let mut want = got.clone();
    evs.sort();
    want.sort();
    assert_eq!(evs, want);
    assert!(!got
        .iter()
        .any(|id| id.ends_with("-4") || id.ends_with("-9")));
}

fn concurrent_checked_writers(store: &dyn Store) {
    // `write_checked` from many threads, mixed with plain writes: a refusal in `check`
    // changes nothing, every other write lands with its event, and a write that sees
    // what an earlier one committed refuses (the check reads the shared transaction).
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in 0..25 {
                    let id = format!("t{t}-{i}");
                    let mut apply = |tx: &mut dyn scim::store::WriteTx| {
                        tx.insert(user(&id, &id))?;
                        tx.append_event(event("user.created", &id))?;
                        Ok(())
                    };
                    let result = if i % 3 == 2 {
                        store.write("d", &mut apply)
                    } else {
                        store.write_checked(
                            "d",
                            &mut |tx| {
                                if i % 5 == 4 {
                                    return Err(ScimError::invalid_value("rejected"));
                                }
                                // Never taken: the id is new.
                                match tx.get(User, &id)? {
                                    Some(_) => Err(ScimError::uniqueness("taken")),
                                    None => Ok(()),
                                }
                            },
                            &mut apply,
                        )
                    };
                    let refused = i % 3 != 2 && i % 5 == 4;
                    match result {
                        Ok(()) => assert!(!refused, "{id}"),
                        Err(e) => {
                            assert!(refused, "{id}: {e}");
                            assert_eq!(e.status, 400);
                        }
                    }
                }
            });
        }
    });
    let got = ids(store, "d", User);
    let refused = (0..25).filter(|i| i % 3 != 2 && i % 5 == 4).count();
    assert_eq!(got.len(), 8 * (25 - refused));
    let events = store.events("d", 0, usize::MAX).unwrap();
    assert_eq!(events.len(), got.len());
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let taken = store.write_checked(
        "d",
        &mut |tx| match tx.get(User, "t0-0")? {
            Some(_) => Err(ScimError::uniqueness("taken")),
            None => Ok(()),
        },
        &mut |_| panic!("a refused write must not apply"),
    );
    assert_eq!(taken.unwrap_err().status, 409);
    assert_eq!(ids(store, "d", User).len(), got.len());
}

fn timestamps_round_trip(store: &dyn Store) {
    let mut r = user("u1", "alice");
    r.created = time::macros::datetime!(2024-02-29 23:59:59.123456789 +05:30);
    r.last_modified = time::macros::datetime!(1999-12-31 00:00:00.000000001 UTC);
    r.version = 42;
    r.data = json!({"userName": "alice", "z": 1, "a": {"y": [1, "two", null], "b": true}});
    store.write("d", &mut |tx| tx.insert(r.clone())).unwrap();
    store
        .read("d", &mut |tx| {
            let got = tx.get(User, "u1")?.unwrap();
            assert_eq!(got, r);
            assert_eq!(got.created.offset(), r.created.offset());
            assert_eq!(
                serde_json::to_string(&got.data).unwrap(),
                serde_json::to_string(&r.data).unwrap(),
                "key order is kept"
            );
            Ok(())
        })
        .unwrap();
}

fn long_scans_and_member_lists(store: &dyn Store) {
    // More rows than one page of a streaming backend.
    store
        .write("d", &mut |tx| {
            tx.insert(resource(Group, "g", json!({"displayName": "G"})))?;
            for i in 0..1234 {
                let id = format!("u{i:05}");
                tx.insert(user(&id, &id))?;
                tx.add_member(
                    "g",
                    Member {
                        value: id.clone(),
                        kind: User,
                        display: Some(format!("User {i}")),
                    },
                )?;
            }
            Ok(())
        })
        .unwrap();
    let all = ids(store, "d", User);
    assert_eq!(all.len(), 1234);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "insertion order");
    let m = members(store, "d", "g");
    assert_eq!(m, all);
    let mut seen = 0;
    store
        .read("d", &mut |tx| {
            seen = 0;
            assert_eq!(tx.count(User)?, 1234);
            tx.members("g", &mut |m| {
                assert_eq!(m.display, Some(format!("User {seen}")));
                seen += 1;
                seen < 700
            })
        })
        .unwrap();
    assert_eq!(seen, 700);
}

/// Every behaviour, each on a fresh store from `make`.
/// The listing primitives: conditions, both runs of an order, keyset positions, offsets
/// across runs, backwards walks, and counts that follow inserts, deletes and failed writes.
fn ranges_and_counts(store: &dyn Store) {
    use scim::store::query::walk;
    use scim::store::{Cond, Key, Order, Position, SortField, Start};
    store
        .write("d", &mut |tx| {
            for i in 0..40 {
                let mut u = user(&format!("u{i:02}"), &format!("Name{:02}", (i * 7) % 40));
                if i % 4 == 0 {
                    u.data.as_object_mut().unwrap().remove("externalId");
                }
                tx.insert(u)?;
            }
            tx.insert(resource(Group, "g", json!({"displayName": "G"})))?;
            Ok(())
        })
        .unwrap();
    let visit =
        |conds: &[Cond], order: Order, start: Start, want: usize| -> Vec<(Position, String)> {
            let mut out = Vec::new();
            store
                .read("d", &mut |tx| {
                    out.clear();
                    walk(tx, User, conds, order, start.clone(), want, &mut |p, r| {
                        out.push((p, r.id));
                        true
                    })
                })
                .unwrap();
            out
        };
    let ids_of = |v: &[(Position, String)]| v.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>();
    let by_ext = Order {
        by: Some(SortField::ExternalId),
        descending: false,
    };
    // Present run first (sorted by value), then the 10 without externalId (by insertion).
    let all = visit(&[], by_ext, Start::Offset(0), 100);
    assert_eq!(all.len(), 40);
    assert!(all[..30].iter().all(|(p, _)| p.value.is_some()));
    assert_eq!(
        ids_of(&all[30..]),
        ["u00", "u04", "u08", "u12", "u16", "u20", "u24", "u28", "u32", "u36"]
    );
    // An offset that lands in the second run; a keyset start in either run.
    assert_eq!(
        ids_of(&visit(&[], by_ext, Start::Offset(32), 3)),
        ids_of(&all[32..35])
    );
    assert_eq!(
        ids_of(&visit(&[], by_ext, Start::After(all[28].0.clone()), 4)),
        ids_of(&all[29..33])
    );
    assert_eq!(
        ids_of(&visit(&[], by_ext, Start::After(all[31].0.clone()), 100)),
        ids_of(&all[32..])
    );
    // Backwards: nearest first, across the runs.
    let mut back = ids_of(&visit(&[], by_ext, Start::Before(all[33].0.clone()), 6));
    back.reverse();
    assert_eq!(back, ids_of(&all[27..33]));
    // Descending is the exact reverse within each run.
    let desc = visit(
        &[],
        Order {
            descending: true,
            ..by_ext
        },
        Start::Offset(0),
        100,
    );
    let mut present: Vec<_> = ids_of(&all[..30]);
    present.reverse();
    assert_eq!(ids_of(&desc[..30]), present);
    // Conditions: equality, prefix, presence, their conjunction.
    let name = |conds: &[Cond]| ids_of(&visit(conds, Order::INSERTION, Start::Offset(0), 100));
    assert_eq!(name(&[Cond::Eq(Key::UserName, "name07".into())]), ["u01"]);
    assert_eq!(
        name(&[Cond::Eq(Key::Email, "name07@example.com".into())]),
        ["u01"]
    );
    assert_eq!(
        name(&[Cond::StartsWith(Key::UserName, "name0".into())]).len(),
        10
    );
    assert_eq!(
        name(&[
            Cond::StartsWith(Key::UserName, "name0".into()),
            Cond::Present(Key::ExternalId)
        ])
        .len(),
        7
    );
    assert_eq!(name(&[Cond::Id("u05".into())]), ["u05"]);
    let counts = |conds: &[Cond]| {
        let mut n = (0, 0);
        store
            .read("d", &mut |tx| {
                n = (tx.count(User)?, tx.count_where(User, conds, None)?);
                Ok(())
            })
            .unwrap();
        n
    };
    assert_eq!(counts(&[Cond::Present(Key::ExternalId)]), (40, 30));
    assert_eq!(
        counts(&[Cond::StartsWith(Key::Email, "name1".into())]),
        (40, 10)
    );
    // Counts follow deletes, and a failed write changes none.
    store
        .write("d", &mut |tx| {
            tx.delete(User, "u01")?;
            Ok(())
        })
        .unwrap();
    let failed = store.write("d", &mut |tx| {
        tx.insert(user("new", "new"))?;
        tx.delete(User, "u02")?;
        Err(scim::ScimError::invalid_value("no"))
    });
    assert!(failed.is_err());
    assert_eq!(counts(&[]), (39, 39));
    assert_eq!(counts(&[Cond::Eq(Key::UserName, "name07".into())]), (39, 0));
}

/// Orders and prefix conditions are by code point, as the memory store defines them,
/// whatever collation a database server defaults to ("B" before "a", "_" before "a").
fn orders_follow_code_points(store: &dyn Store) {
    use scim::store::query::walk;
    use scim::store::{Cond, Key, Order, SortField, Start};
    let reference = MemoryStore::new();
    let names = [
        "Zoe", "adam", "_under", "Émile", "bob", "10", "9", "a b", "a-c", "ab",
    ];
    let exts = ["b", "B", "_a", "a", "Ä", "Z", "é", "Ba", "bA", "a_"];
    for s in [store, &reference as &dyn Store] {
        s.write("d", &mut |tx| {
            for (i, (name, ext)) in names.iter().zip(exts).enumerate() {
                let id = format!("u{i}");
                tx.insert(resource(
                    User,
                    &id,
                    json!({"userName": name, "externalId": ext, "displayName": ext}),
                ))?;
            }
            Ok(())
        })
        .unwrap();
    }
    let listing = |s: &dyn Store, conds: &[Cond], order: Order| {
        let mut out = Vec::new();
        s.read("d", &mut |tx| {
            out.clear();
            walk(
                tx,
                User,
                conds,
                order,
                Start::Offset(0),
                100,
                &mut |_, r| {
                    out.push(r.id);
                    true
                },
            )
        })
        .unwrap();
        out
    };
    let conds = [
        vec![],
        vec![Cond::StartsWith(Key::ExternalId, "B".into())],
        vec![Cond::StartsWith(Key::ExternalId, "a".into())],
        vec![Cond::StartsWith(Key::UserName, "a".into())],
        vec![Cond::StartsWith(Key::DisplayName, "b".into())],
    ];
    for by in [
        SortField::UserName,
        SortField::ExternalId,
        SortField::DisplayName,
    ] {
        for descending in [false, true] {
            for c in &conds {
                let order = Order {
                    by: Some(by),
                    descending,
                };
                assert_eq!(
                    listing(store, c, order),
                    listing(&reference, c, order),
                    "{by:?} descending={descending} {c:?}"
                );
            }
        }
    }
}

fn suite(make: &dyn Fn() -> Arc<dyn Store>) {
    type Case = (&'static str, fn(&dyn Store));
    let cases: &[Case] = &[
        ("insert_order_is_stable", insert_order_is_stable),
        ("lookups_use_normalized_keys", lookups_use_normalized_keys),
        ("failed_write_changes_nothing", failed_write_changes_nothing),
        ("membership_rows", membership_rows),
        ("directories_are_isolated", directories_are_isolated),
        ("scan_stops_when_asked", scan_stops_when_asked),
        ("directory_records", directory_records),
        ("outbox", outbox),
        ("consumer_groups", consumer_groups),
        (
            "consumer_leases_under_concurrency",
            consumer_leases_under_concurrency,
        ),
        ("savepoints_isolate_failures", savepoints_isolate_failures),
        ("member_count_threshold", member_count_threshold),
        ("concurrent_writers", concurrent_writers),
        ("concurrent_checked_writers", concurrent_checked_writers),
        ("timestamps_round_trip", timestamps_round_trip),
        ("long_scans_and_member_lists", long_scans_and_member_lists),
        ("ranges_and_counts", ranges_and_counts),
        ("orders_follow_code_points", orders_follow_code_points),
    ];
    for (name, case) in cases {
        eprintln!("store suite: {name}");
        case(&*make());
    }
}

#[test]
fn memory_store_passes_the_suite() {
    suite(&|| Arc::new(MemoryStore::new()));
}

/// A fresh, empty directory for this test's database files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("libscim-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn sqlite_store_passes_the_suite() {
    let dir = scratch("suite");
    let n = AtomicUsize::new(0);
    for group_commit in [true, false] {
        suite(&|| {
            let path = dir.join(format!("case{}.db", n.fetch_add(1, Ordering::SeqCst)));
            let options = SqliteOptions {
                group_commit,
                ..SqliteOptions::default()
            };
            Arc::new(SqliteStore::open(&path, options).unwrap())
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[path = "support/postgres.rs"]
mod postgres;

#[test]
fn postgres_store_passes_the_suite() {
    let pg = postgres::Postgres::start();
    suite(&|| Arc::new(PostgresStore::open(&pg.fresh_database()).unwrap()));
}

/// The last part of a database URL: the database's name.
fn db_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[test]
fn postgres_store_reopens_migrates_once_and_refuses_foreign_or_newer_schemas() {
    let pg = postgres::Postgres::start();
    let url = pg.fresh_database();
    reopens_with_everything(&|| Box::new(PostgresStore::open(&url).unwrap()));
    assert_eq!(
        pg.psql(
            db_name(&url),
            "SELECT application || ' ' || version FROM schema_version"
        ),
        format!("libscim {}", PostgresStore::SCHEMA_VERSION)
    );

    // Several instances opening one fresh database at once: it is migrated once.
    let url = pg.fresh_database();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| PostgresStore::open(&url).unwrap());
        }
    });
    assert_eq!(
        pg.psql(db_name(&url), "SELECT count(*) FROM schema_version"),
        "1"
    );

    // A database written by a newer library.
    pg.psql(
        db_name(&url),
        &format!(
            "UPDATE schema_version SET version = {}",
            PostgresStore::SCHEMA_VERSION + 1
        ),
    );
    let e = PostgresStore::open(&url).unwrap_err();
    assert_eq!(e.status, 500);
    assert!(
        e.detail.contains(&format!(
            "database schema version {} is newer than this library ({})",
            PostgresStore::SCHEMA_VERSION + 1,
            PostgresStore::SCHEMA_VERSION
        )),
        "{}",
        e.detail
    );

    // Another application's tables, or another application's schema_version: refused,
    // and nothing is created in them.
    let other = pg.fresh_database();
    pg.psql(db_name(&other), "CREATE TABLE resources (x int)");
    let e = PostgresStore::open(&other).unwrap_err();
    assert_eq!(e.status, 500);
    assert!(
        e.detail.contains("is not a libscim database"),
        "{}",
        e.detail
    );
    assert_eq!(
        pg.psql(
            db_name(&other),
            "SELECT to_regclass('schema_version') IS NULL"
        ),
        "t"
    );
    let other = pg.fresh_database();
    pg.psql(
        db_name(&other),
        "CREATE TABLE schema_version (application TEXT, version BIGINT);
         INSERT INTO schema_version VALUES ('other', 1)",
    );
    let e = PostgresStore::open(&other).unwrap_err();
    assert!(
        e.detail.contains("is not a libscim database"),
        "{}",
        e.detail
    );
    assert_eq!(
        pg.psql(db_name(&other), "SELECT to_regclass('resources') IS NULL"),
        "t"
    );

    // No server there: 503, to retry.
    let e =
        PostgresStore::open("postgres://postgres@%2Fnonexistent-scim-socket-dir/x").unwrap_err();
    assert_eq!(e.status, 503, "{}", e.detail);
}

#[test]
fn postgres_store_enforces_uniqueness_and_serializes_instances() {
    use scim::ScimType;
    let pg = postgres::Postgres::start();
    let url = pg.fresh_database();
    let store = PostgresStore::open(&url).unwrap();
    store
        .write("d", &mut |tx| tx.insert(user("u1", "Alice")))
        .unwrap();
    // userName is unique per directory, case-insensitively, by a constraint: the whole
    // write fails with 409 uniqueness and leaves nothing.
    let e = store
        .write("d", &mut |tx| {
            tx.insert(user("u2", "bob"))?;
            tx.insert(user("u3", "ALICE"))
        })
        .unwrap_err();
    assert_eq!((e.status, e.scim_type), (409, Some(ScimType::Uniqueness)));
    assert_eq!(ids(&store, "d", User), ["u1"]);
    // Inside a savepoint the transaction carries on after the violation.
    store
        .write("d", &mut |tx| {
            let e = tx
                .savepoint(&mut |tx| tx.insert(user("u4", "alice")))
                .unwrap_err();
            assert_eq!((e.status, e.scim_type), (409, Some(ScimType::Uniqueness)));
            tx.insert(user("u5", "carol"))
        })
        .unwrap();
    assert_eq!(ids(&store, "d", User), ["u1", "u5"]);
    // Another directory has its own names.
    store
        .write("e", &mut |tx| tx.insert(user("u1", "alice")))
        .unwrap();
    // Text PostgreSQL cannot hold (NUL) is the client's invalid value, and changes nothing.
    let e = store
        .write("d", &mut |tx| tx.insert(user("u6", "nul\0name")))
        .unwrap_err();
    assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
    store
        .read("d", &mut |tx| {
            assert!(tx.lookup(User, IndexKey::UserName, "nul\0name")?.is_empty());
            assert_eq!(tx.get(User, "u1\0")?, None);
            assert!(tx.groups_of("u1\0")?.is_empty());
            assert_eq!(tx.count(User)?, 2);
            Ok(())
        })
        .unwrap();

    // Probes holding NUL find nothing (no stored text holds one) rather than failing.
    assert_eq!(store.get_directory("d\0").unwrap(), None);
    assert_eq!(store.directory_by_token("h\0").unwrap(), None);
    assert!(!store.delete_directory("d\0").unwrap());
    assert_eq!(
        store
            .modify_directory("d\0", &mut |_| Ok(()))
            .unwrap_err()
            .status,
        404
    );

    // Two instances on one database: read-modify-writes of one resource from both never
    // lose an update (writes to a directory are serial across instances), and event
    // numbers stay unique and gapless.
    let other = PostgresStore::open(&url).unwrap();
    let instances: [&dyn Store; 2] = [&store, &other];
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = instances[t % 2];
            s.spawn(move || {
                for _ in 0..20 {
                    store
                        .write("d", &mut |tx| {
                            let mut r = tx.get(User, "u1")?.unwrap();
                            r.version += 1;
                            tx.update(r)?;
                            tx.append_event(event("user.replaced", "u1")).map(drop)
                        })
                        .unwrap();
                }
            });
        }
    });
    store
        .read("d", &mut |tx| {
            assert_eq!(tx.get(User, "u1")?.unwrap().version, 1 + 8 * 20);
            Ok(())
        })
        .unwrap();
    let seqs: Vec<u64> = other
        .events("d", 0, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=8 * 20).collect::<Vec<u64>>());
}

#[test]
fn postgres_store_reconnects_when_its_connections_are_cut() {
    let pg = postgres::Postgres::start();
    let url = pg.fresh_database();
    let store = PostgresStore::open(&url).unwrap();
    store
        .write("d", &mut |tx| tx.insert(user("u1", "alice")))
        .unwrap();
    // The pool holds one idle connection now (everything ran one at a time); the server
    // ends every connection to the database.
    pg.psql(
        "postgres",
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}'",
            db_name(&url)
        ),
    );
    // A call on a cut connection fails with 503 (not a 500, not a hang) and the
    // connection is discarded; the store opens new ones by itself.
    let mut written = vec!["u1".to_owned()];
    let mut failures = 0;
    for i in 0..4 {
        let id = format!("n{i}");
        match store.write("d", &mut |tx| tx.insert(user(&id, &id))) {
            Ok(()) => written.push(id),
            Err(e) => {
                assert_eq!(e.status, 503, "{e:?}");
                failures += 1;
            }
        }
    }
    assert!(failures <= 1, "{failures} failures");
    assert_eq!(ids(&store, "d", User), written);
}

fn fill(store: &dyn Store) {
    store
        .create_directory(&directory("d1", "Sales", Some("h1")))
        .unwrap();
    store
        .create_directory(&directory("d2", "Eng", None))
        .unwrap();
    store
        .write("d1", &mut |tx| {
            for (id, name) in [("c", "carol"), ("a", "alice"), ("b", "bob")] {
                tx.insert(user(id, name))?;
                tx.append_event(event("user.created", id))?;
            }
            tx.insert(resource(Group, "g", json!({"displayName": "Admins"})))?;
            tx.add_member("g", member("b"))?;
            tx.add_member("g", member("c"))?;
            Ok(())
        })
        .unwrap();
    store.ack_events("d1", 2).unwrap();
}

/// What a store wrote is there, whole, when `open` opens it again.
fn reopens_with_everything(open: &dyn Fn() -> Box<dyn Store>) {
    let (users, events) = {
        let store = open();
        let store = &*store;
        fill(store);
        let users: Vec<StoredResource> = ["c", "a", "b"]
            .iter()
            .map(|id| {
                let mut out = None;
                store
                    .read("d1", &mut |tx| {
                        out = tx.get(User, id)?;
                        Ok(())
                    })
                    .unwrap();
                out.unwrap()
            })
            .collect();
        (users, store.events("d1", 0, 100).unwrap())
    };
    let store = open();
    let store = &*store;
    assert_eq!(ids(store, "d1", User), ["c", "a", "b"]);
    assert_eq!(members(store, "d1", "g"), ["b", "c"]);
    assert_eq!(store.events("d1", 0, 100).unwrap(), events);
    assert_eq!(store.acked("d1").unwrap(), 2);
    assert_eq!(
        store
            .list_directories()
            .unwrap()
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>(),
        ["d1", "d2"]
    );
    assert_eq!(
        store.directory_by_token("h1").unwrap().unwrap().name,
        "Sales"
    );
    store
        .read("d1", &mut |tx| {
            for u in &users {
                assert_eq!(tx.get(User, &u.id)?.as_ref(), Some(u));
            }
            assert_eq!(tx.lookup(User, IndexKey::UserName, "BOB")?, ["b"]);
            assert_eq!(tx.lookup(Group, IndexKey::DisplayName, "admins")?, ["g"]);
            assert_eq!(tx.groups_of("c")?, ["g"]);
            Ok(())
        })
        .unwrap();
    // Carrying on: order continues, numbers continue.
    let mut seq = 0;
    store
        .write("d1", &mut |tx| {
            tx.insert(user("d", "dave"))?;
            seq = tx.append_event(event("user.created", "d"))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(seq, 4);
    assert_eq!(ids(store, "d1", User), ["c", "a", "b", "d"]);
}

#[test]
fn sqlite_store_reopens_with_everything() {
    let dir = scratch("reopen");
    let path = dir.join("store.db");
    reopens_with_everything(&|| Box::new(SqliteStore::open_default(&path).unwrap()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sqlite_store_refuses_foreign_and_newer_files() {
    let dir = scratch("foreign");
    // Another application's SQLite database.
    let other = dir.join("other.db");
    {
        let c = rusqlite::Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let e = SqliteStore::open_default(&other).unwrap_err();
    assert_eq!(e.status, 500);
    assert!(e.detail.contains("file is not a libscim database"), "{e}");
    // ... left untouched (still not in WAL mode, table intact).
    {
        let c = rusqlite::Connection::open(&other).unwrap();
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
    // Another application id, even without tables.
    let tagged = dir.join("tagged.db");
    {
        let c = rusqlite::Connection::open(&tagged).unwrap();
        c.pragma_update(None, "application_id", 1234).unwrap();
    }
    let e = SqliteStore::open_default(&tagged).unwrap_err();
    assert!(e.detail.contains("file is not a libscim database"), "{e}");
    // Not a database at all.
    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, vec![0x5a_u8; 8192]).unwrap();
    let e = SqliteStore::open_default(&garbage).unwrap_err();
    assert_eq!(e.status, 500);
    assert!(e.detail.contains("file is not a libscim database"), "{e}");
    // Written by a newer library.
    let newer = dir.join("newer.db");
    drop(SqliteStore::open_default(&newer).unwrap());
    {
        let c = rusqlite::Connection::open(&newer).unwrap();
        c.pragma_update(None, "user_version", SqliteStore::SCHEMA_VERSION + 1)
            .unwrap();
    }
    let e = SqliteStore::open_default(&newer).unwrap_err();
    assert_eq!(e.status, 500);
    let want = format!(
        "database schema version {} is newer than this library ({})",
        SqliteStore::SCHEMA_VERSION + 1,
        SqliteStore::SCHEMA_VERSION
    );
    assert!(e.detail.contains(&want), "{e}");
    // An empty file is a new database.
    let empty = dir.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let store = SqliteStore::open_default(&empty).unwrap();
    store
        .write("d", &mut |tx| tx.insert(user("u", "u")))
        .unwrap();
    drop(store);
    let c = rusqlite::Connection::open(&empty).unwrap();
    let (app, version): (i32, i64) = c
        .query_row(
            "SELECT (SELECT application_id FROM pragma_application_id),
                    (SELECT user_version FROM pragma_user_version)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (app, version),
        (SqliteStore::APPLICATION_ID, SqliteStore::SCHEMA_VERSION)
    );
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

const FIXTURE_V1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/schema-v1.sqlite"
);

/// The fixed timestamp of every record in the fixture.
fn fixture_time() -> OffsetDateTime {
    time::macros::datetime!(2026-01-02 03:04:05.678901234 UTC)
}

fn fixture_resource(kind: ResourceKind, id: &str, data: Value) -> StoredResource {
    StoredResource {
        id: id.into(),
        kind,
        data,
        created: fixture_time(),
        last_modified: fixture_time(),
        version: 1,
    }
}

/// Regenerate `tests/fixtures/schema-v1.sqlite` — only while the current schema *is* v1:
/// `cargo test --test store -- --ignored make_schema_v1_fixture`. Once v2 exists, the
/// committed file is the record of v1 and must not be regenerated.
#[test]
#[ignore]
fn make_schema_v1_fixture() {
    assert_eq!(
        SqliteStore::SCHEMA_VERSION,
        1,
        "the fixture records schema v1"
    );
    let path = Path::new(FIXTURE_V1);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let store = SqliteStore::open_default(path).unwrap();
    store
        .create_directory(&directory("dir-a", "Sales", Some("hash-a")))
        .unwrap();
    store
        .create_directory(&directory("dir-b", "Engineering", Some("hash-b")))
        .unwrap();
    for dir in ["dir-a", "dir-b"] {
        store
            .write(dir, &mut |tx| {
                for (id, name) in [("u3", "carol"), ("u1", "alice"), ("u2", "bob")] {
                    tx.insert(fixture_resource(
                        User,
                        id,
                        json!({"userName": format!("{name}@{dir}"), "externalId": format!("ext-{id}"),
                               "emails": [{"value": format!("{name}@Example.com"), "type": "work"}],
                               "active": true}),
                    ))?;
                    tx.append_event(NewEvent {
                        kind: "user.created".into(),
                        resource_kind: User,
                        resource_id: id.into(),
                        time: fixture_time(),
                        data: json!({"id": id}),
                    })?;
                }
                tx.insert(fixture_resource(
                    Group,
                    "g1",
                    json!({"displayName": "Admins", "externalId": "G-1"}),
                ))?;
                tx.add_member("g1", member("u2"))?;
                tx.add_member(
                    "g1",
                    Member {
                        value: "u3".into(),
                        kind: User,
                        display: Some("Carol".into()),
                    },
                )?;
                tx.append_event(NewEvent {
                    kind: "group.created".into(),
                    resource_kind: Group,
                    resource_id: "g1".into(),
                    time: fixture_time(),
                    data: json!({"id": "g1", "members": ["u2", "u3"]}),
                })?;
                Ok(())
            })
            .unwrap();
    }
    store.ack_events("dir-a", 2).unwrap();
    store.prune_events("dir-a", 1).unwrap();
    drop(store);
    // One self-contained file: fold the WAL back in and leave rollback-journal mode.
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE; VACUUM;")
        .unwrap();
}

/// The outbox keeps an event of a typical user (its resource and its records for two
/// services, ~1.3 KB of JSON) in its B-tree leaf, two or three to a 4 KiB page (about
/// 2 KB each here): it used to spill into an overflow page of its own (a page written
/// and fsync'd per event, ~4.7 KB on disk each).
#[test]
fn sqlite_outbox_keeps_an_event_in_about_its_size() {
    let dir = scratch("event-size");
    let path = dir.join("events.db");
    let store = SqliteStore::open_default(&path).unwrap();
    let payload = "x".repeat(1300);
    const N: usize = 2000;
    let size = || -> u64 {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        std::fs::metadata(&path).unwrap().len()
    };
    let before = size();
    for chunk in 0..N / 100 {
        store
            .write("d", &mut |tx| {
                for i in 0..100 {
                    let mut e = event("user.created", &format!("u{}", chunk * 100 + i));
                    e.data = json!({ "resource": { "id": e.resource_id, "pad": payload } });
                    tx.append_event(e)?;
                }
                Ok(())
            })
            .unwrap();
    }
    let per_event = (size() - before) / N as u64;
    assert_eq!(store.events("d", 0, usize::MAX).unwrap().len(), N);
    assert!(
        per_event < 2600,
        "{per_event} bytes of database file per ~1.4 KB event"
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn opens_a_schema_v1_file() {
    // Work on a copy: opening migrates in place.
    let dir = scratch("v1");
    let path = dir.join("v1.sqlite");
    std::fs::copy(FIXTURE_V1, &path).unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1, "the fixture is schema v1");
    }
    let store = SqliteStore::open_default(&path).unwrap();
    let dirs = store.list_directories().unwrap();
    assert_eq!(
        dirs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["Sales", "Engineering"]
    );
    assert_eq!(dirs[0], directory("dir-a", "Sales", Some("hash-a")));
    assert_eq!(
        store.directory_by_token("hash-b").unwrap().unwrap().id,
        "dir-b"
    );
    for dir in ["dir-a", "dir-b"] {
        assert_eq!(ids(&store, dir, User), ["u3", "u1", "u2"]);
        assert_eq!(members(&store, dir, "g1"), ["u2", "u3"]);
        store
            .read(dir, &mut |tx| {
                let u = tx.get(User, "u1")?.unwrap();
                assert_eq!(u.created, fixture_time());
                assert_eq!(u.data["userName"], format!("alice@{dir}"));
                assert_eq!(
                    tx.lookup(User, IndexKey::UserName, &format!("ALICE@{dir}"))?,
                    ["u1"]
                );
                assert_eq!(tx.lookup(User, IndexKey::Email, "bob@example.com")?, ["u2"]);
                assert_eq!(tx.lookup(User, IndexKey::ExternalId, "ext-u3")?, ["u3"]);
                assert_eq!(tx.lookup(Group, IndexKey::DisplayName, "ADMINS")?, ["g1"]);
                assert_eq!(tx.groups_of("u3")?, ["g1"]);
                // v2: counts and ordered columns were filled in for the v1 rows.
                assert_eq!((tx.count(User)?, tx.count(Group)?), (3, 1));
                let mut sorted = Vec::new();
                scim::store::query::walk(
                    tx,
                    User,
                    &[scim::store::Cond::StartsWith(
                        scim::store::Key::Email,
                        "bob@".into(),
                    )],
                    scim::store::Order {
                        by: Some(scim::store::SortField::UserName),
                        descending: false,
                    },
                    scim::store::Start::Offset(0),
                    10,
                    &mut |_, r| {
                        sorted.push(r.id);
                        true
                    },
                )?;
                assert_eq!(sorted, ["u2"]);
                let mut by_name = Vec::new();
                scim::store::query::walk(
                    tx,
                    User,
                    &[],
                    scim::store::Order {
                        by: Some(scim::store::SortField::UserName),
                        descending: true,
                    },
                    scim::store::Start::Offset(0),
                    10,
                    &mut |_, r| {
                        by_name.push(r.id);
                        true
                    },
                )?;
                assert_eq!(by_name, ["u3", "u2", "u1"]);
                let mut display = None;
                tx.members("g1", &mut |m| {
                    if m.value == "u3" {
                        display = m.display;
                    }
                    true
                })?;
                assert_eq!(display.as_deref(), Some("Carol"));
                Ok(())
            })
            .unwrap();
    }
    let seqs = |dir: &str| -> Vec<u64> {
        store
            .events(dir, 0, 100)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect()
    };
    assert_eq!(seqs("dir-a"), [2, 3, 4]);
    assert_eq!(seqs("dir-b"), [1, 2, 3, 4]);
    assert_eq!(store.acked("dir-a").unwrap(), 2);
    assert_eq!(store.acked("dir-b").unwrap(), 0);
    let e = &store.events("dir-b", 2, 1).unwrap()[0];
    assert_eq!(
        (
            e.kind.as_str(),
            e.resource_kind,
            e.resource_id.as_str(),
            e.time
        ),
        ("user.created", User, "u2", fixture_time())
    );
    // And it carries on.
    let mut seq = 0;
    store
        .write("dir-a", &mut |tx| {
            tx.insert(user("u4", "dave"))?;
            seq = tx.append_event(event("user.created", "u4"))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(seq, 5);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sqlite_writes_that_panic_fail_alone() {
    // Writes run on the store's writer thread, in batches: a write that panics there
    // panics its own caller (with its own message), changes nothing, and the writes
    // committed alongside it land with their events.
    let dir = scratch("panics");
    let store = SqliteStore::open(dir.join("panics.db"), SqliteOptions::default()).unwrap();
    let store = &store;
    std::thread::scope(|s| {
        for t in 0..6 {
            s.spawn(move || {
                for i in 0..20 {
                    let id = format!("t{t}-{i}");
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        store.write("d", &mut |tx| {
                            tx.insert(user(&id, &id))?;
                            tx.append_event(event("user.created", &id))?;
                            if i % 4 == 3 {
                                panic!("write {id} panicked");
                            }
                            Ok(())
                        })
                    }));
                    match result {
                        Ok(r) => {
                            assert!(i % 4 != 3, "{id}");
                            r.unwrap();
                        }
                        Err(p) => {
                            assert_eq!(i % 4, 3, "{id}");
                            let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
                            assert_eq!(msg, format!("write {id} panicked"));
                        }
                    }
                }
            });
        }
    });
    let got = ids(store, "d", User);
    assert_eq!(got.len(), 6 * 15);
    assert!(!got.iter().any(|id| {
        let i: u32 = id.rsplit('-').next().unwrap().parse().unwrap();
        i % 4 == 3
    }));
    let events = store.events("d", 0, usize::MAX).unwrap();
    assert_eq!(events.len(), got.len());
    // The store goes on writing.
    store
        .write("d", &mut |tx| tx.insert(user("after", "after")))
        .unwrap();
    assert_eq!(ids(store, "d", User).len(), 6 * 15 + 1);
    let _ = std::fs::remove_dir_all(&dir);
}
