//! The store suite: one set of behaviours every `Store` must have, run against each.

use scim::schema::ResourceKind::{self, Group, User};
use scim::store::{IndexKey, Member, MemoryStore, Store, StoredResource};
use scim::ScimError;
use serde_json::{json, Value};
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

/// Every behaviour, each on a fresh store from `make`.
fn suite(make: &dyn Fn() -> Arc<dyn Store>) {
    type Case = (&'static str, fn(&dyn Store));
    let cases: &[Case] = &[
        ("insert_order_is_stable", insert_order_is_stable),
        ("lookups_use_normalized_keys", lookups_use_normalized_keys),
        ("failed_write_changes_nothing", failed_write_changes_nothing),
        ("membership_rows", membership_rows),
        ("directories_are_isolated", directories_are_isolated),
        ("scan_stops_when_asked", scan_stops_when_asked),
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
