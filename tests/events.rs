//! The outbox: every committed change leaves the events a host needs, and nothing else.

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
