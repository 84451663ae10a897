//! Provider behaviours the shared vectors cannot express: what the store is asked to do,
//! concurrency, limits.

use scim::store::{MemoryStore, Store};
use scim::{Config, Request, Response, ServiceProvider};
use serde_json::{json, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

#[path = "support/counting.rs"]
mod counting;
use counting::Counting;

#[path = "support/provider.rs"]
mod support;
use support::{call, provider_with, BASE};

fn provider_on(store: Arc<dyn Store>) -> ServiceProvider {
    provider_with(store, Config::default())
}

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn create_user(p: &ServiceProvider, name: &str) -> String {
    let r = call(
        p,
        "POST",
        "/Users",
        "",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    json_of(&r)["id"].as_str().unwrap().to_owned()
}

fn patch_ops(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[test]
fn large_group_membership_changes_never_read_the_member_list() {
    let store = Arc::new(Counting::default());
    let p = provider_on(store.clone());
    let ids: Vec<String> = (0..2001)
        .map(|i| create_user(&p, &format!("u{i}")))
        .collect();
    let r = call(
        &p,
        "POST",
        "/Groups",
        "",
        Some(json!({"displayName": "Big"})),
    );
    let gid = json_of(&r)["id"].as_str().unwrap().to_owned();
    for chunk in ids[..2000].chunks(500) {
        let value: Vec<Value> = chunk.iter().map(|id| json!({ "value": id })).collect();
        let r = call(
            &p,
            "PATCH",
            &format!("/Groups/{gid}"),
            "excludedAttributes=members",
            Some(patch_ops(
                json!([{"op": "add", "path": "members", "value": value}]),
            )),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert!(json_of(&r).get("members").is_none());
    }
    store.member_rows_read.store(0, Relaxed);

    // Okta: add one, remove one by value filter; Entra: remove by value array.
    let extra = &ids[2000];
    for ops in [
        json!([{"op": "add", "path": "members", "value": [{"value": extra}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{extra}\"]")}]),
        json!([{"op": "Add", "path": "members", "value": [{"value": extra}]}]),
        json!([{"op": "Remove", "path": "members", "value": [{"value": extra}]}]),
    ] {
        let r = call(
            &p,
            "PATCH",
            &format!("/Groups/{gid}"),
            "excludedAttributes=members",
            Some(patch_ops(ops)),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    // Without `attributes` (as Okta and Entra send it): 204 for a large group, decided
    // without reading member rows.
    for ops in [
        json!([{"op": "add", "path": "members", "value": [{"value": extra}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{extra}\"]")}]),
    ] {
        let r = call(
            &p,
            "PATCH",
            &format!("/Groups/{gid}"),
            "",
            Some(patch_ops(ops)),
        );
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    }
    // Entra's membership check: point lookup by id, membership by row.
    let q = format!(
        "filter=id%20eq%20%22{gid}%22%20and%20members.value%20eq%20%22{}%22&excludedAttributes=members",
        ids[7]
    );
    let r = call(&p, "GET", "/Groups", &q, None);
    assert_eq!(json_of(&r)["totalResults"], 1);
    let r = call(
        &p,
        "GET",
        &format!("/Groups/{gid}"),
        "excludedAttributes=members",
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        store.member_rows_read.load(Relaxed),
        0,
        "membership changes and checks must not read the member list"
    );
    // A full GET does read them all, and returns them.
    let r = call(&p, "GET", &format!("/Groups/{gid}"), "", None);
    assert_eq!(json_of(&r)["members"].as_array().unwrap().len(), 2000);
}

#[test]
fn indexed_equality_filters_do_not_scan() {
    let store = Arc::new(Counting::default());
    let p = provider_on(store.clone());
    for i in 0..50 {
        let r = call(
            &p,
            "POST",
            "/Users",
            "",
            Some(
                json!({"userName": format!("u{i}"), "externalId": format!("e{i}"),
                        "emails": [{"value": format!("u{i}@example.com"), "type": "work"}]}),
            ),
        );
        assert_eq!(r.status, 201);
    }
    store.scans.store(0, Relaxed);
    for q in [
        "filter=userName%20eq%20%22U7%22",
        "filter=externalId%20eq%20%22e7%22",
        "filter=emails.value%20eq%20%22u7@example.com%22",
        "filter=emails%5Btype%20eq%20%22work%22%5D%20and%20userName%20eq%20%22u7%22",
    ] {
        let r = call(&p, "GET", "/Users", q, None);
        assert_eq!(json_of(&r)["totalResults"], 1, "{q}");
    }
    assert_eq!(store.scans.load(Relaxed), 0);
    // `sw` on an indexed attribute is an index range too: only the page is read.
    store.take_resources_read();
    let r = call(
        &p,
        "GET",
        "/Users",
        "filter=userName%20sw%20%22u4%22&count=3",
        None,
    );
    assert_eq!(json_of(&r)["totalResults"], 11);
    assert_eq!(json_of(&r)["Resources"].as_array().unwrap().len(), 3);
    assert_eq!(store.scans.load(Relaxed), 0);
    assert_eq!(store.take_resources_read(), 3);
    // A filter on an attribute without an index streams every candidate.
    let r = call(&p, "GET", "/Users", "filter=title%20eq%20%22x%22", None);
    assert_eq!(json_of(&r)["totalResults"], 0);
    assert_eq!(store.take_resources_read(), 50);
}

#[test]
fn if_match_is_checked_atomically_with_the_write() {
    let p = Arc::new(provider_on(Arc::new(MemoryStore::new())));
    let id = create_user(&p, "racer");
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let p = p.clone();
            let id = id.clone();
            std::thread::spawn(move || {
                let r = p.handle(&Request {
                    method: "PATCH".into(),
                    path: format!("/Users/{id}"),
                    headers: vec![
                        ("Content-Type".into(), "application/scim+json".into()),
                        ("If-Match".into(), "W/\"1\"".into()),
                    ],
                    body: patch_ops(
                        json!([{"op": "replace", "path": "title", "value": format!("t{i}")}]),
                    )
                    .to_string()
                    .into_bytes(),
                    ..Request::default()
                });
                r.status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 412).count(),
        7,
        "{statuses:?}"
    );
    let r = call(&p, "GET", &format!("/Users/{id}"), "", None);
    assert_eq!(r.header("ETag"), Some("W/\"2\""));
}

#[test]
fn failed_patch_changes_nothing() {
    let p = provider_on(Arc::new(MemoryStore::new()));
    let uid = create_user(&p, "member");
    let r = call(&p, "POST", "/Groups", "", Some(json!({"displayName": "G"})));
    let gid = json_of(&r)["id"].as_str().unwrap().to_owned();
    // The member add succeeds on its own, the second operation fails: nothing is kept.
    let r = call(
        &p,
        "PATCH",
        &format!("/Groups/{gid}"),
        "",
        Some(patch_ops(json!([
            {"op": "add", "path": "members", "value": [{"value": uid}]},
            {"op": "replace", "path": "displayName", "value": 42}
        ]))),
    );
    assert_eq!(r.status, 400);
    assert_eq!(json_of(&r)["scimType"], "invalidValue");
    let r = call(&p, "GET", &format!("/Groups/{gid}"), "", None);
    assert!(json_of(&r).get("members").is_none());
    assert_eq!(r.header("ETag"), Some("W/\"1\""));
    let r = call(&p, "GET", &format!("/Users/{uid}"), "", None);
    assert!(json_of(&r).get("groups").is_none());
}

#[test]
fn limits_are_advertised_and_enforced() {
    let p = ServiceProvider::new(
        Config {
            base_url: BASE.into(),
            max_results: 3,
            max_operations: 2,
            max_payload_size: 2048,
            ..Config::default()
        },
        Arc::new(MemoryStore::new()),
    );
    let cfg = json_of(&call(&p, "GET", "/ServiceProviderConfig", "", None));
    assert_eq!(cfg["filter"]["maxResults"], 3);
    assert_eq!(cfg["bulk"]["maxOperations"], 2);
    assert_eq!(cfg["bulk"]["maxPayloadSize"], 2048);
    for i in 0..5 {
        create_user(&p, &format!("u{i}"));
    }
    let r = json_of(&call(&p, "GET", "/Users", "count=100", None));
    assert_eq!(r["totalResults"], 5);
    assert_eq!(r["itemsPerPage"], 3);
    let big = json!({"userName": "x".repeat(4096)});
    let r = call(&p, "POST", "/Users", "", Some(big));
    assert_eq!(r.status, 413);
    let op = json!({"method": "DELETE", "path": "/Users/none"});
    let r = call(
        &p,
        "POST",
        "/Bulk",
        "",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": [op, op, op]}),
        ),
    );
    assert_eq!(r.status, 413);
    assert_eq!(json_of(&r)["status"], "413");
}

#[test]
fn hostile_requests_get_precise_errors() {
    let p = provider_on(Arc::new(MemoryStore::new()));
    let deep = format!(
        "filter={}userName%20pr{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let cases: Vec<(Request, u16, Option<&str>)> = vec![
        (
            Request {
                method: "GET".into(),
                path: "/Users".into(),
                query: deep,
                ..Request::default()
            },
            400,
            Some("invalidFilter"),
        ),
        (
            Request {
                method: "POST".into(),
                path: "/Users".into(),
                body: b"{\"userName\": \"\xff\xfe\"}".to_vec(),
                ..Request::default()
            },
            400,
            Some("invalidSyntax"),
        ),
        (
            Request {
                method: "POST".into(),
                path: "/Users".into(),
                body: format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
                ..Request::default()
            },
            400,
            Some("invalidSyntax"),
        ),
        (
            Request {
                method: "GET".into(),
                path: "/Users".into(),
                query: "filter=userName%20eq%20%22%ff%22".into(),
                ..Request::default()
            },
            400,
            Some("invalidFilter"),
        ),
        (
            Request {
                method: "BREW".into(),
                path: "/Users".into(),
                ..Request::default()
            },
            405,
            None,
        ),
        (
            Request {
                method: "GET".into(),
                path: "/Users/a/b".into(),
                ..Request::default()
            },
            404,
            None,
        ),
    ];
    for (req, status, scim_type) in cases {
        let r = p.handle(&req);
        assert_eq!(r.status, status, "{} {}", req.method, req.path);
        let body = json_of(&r);
        assert_eq!(body["status"], status.to_string());
        assert_eq!(body["scimType"].as_str(), scim_type);
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let r = json_of(&call(&p, "GET", "/Users", "", None));
    assert_eq!(r["totalResults"], 0, "nothing was written");
}

#[test]
fn unknown_members_are_left_out_or_refused_in_strict_mode() {
    for strict in [false, true] {
        let p = ServiceProvider::new(
            Config {
                base_url: BASE.into(),
                strict,
                ..Config::default()
            },
            Arc::new(MemoryStore::new()),
        );
        let uid = create_user(&p, "real");
        let group =
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"});
        let r = call(&p, "POST", "/Groups", "", Some(group));
        let gid = json_of(&r)["id"].as_str().unwrap().to_owned();
        let r = call(
            &p,
            "PATCH",
            &format!("/Groups/{gid}"),
            "",
            Some(patch_ops(json!([{"op": "add", "path": "members",
                "value": [{"value": uid}, {"value": "no-such-id"}]}]))),
        );
        if strict {
            assert_eq!(r.status, 400);
            assert_eq!(json_of(&r)["scimType"], "invalidValue");
            let g = json_of(&call(&p, "GET", &format!("/Groups/{gid}"), "", None));
            assert!(g.get("members").is_none(), "nothing was added");
        } else {
            assert_eq!(r.status, 200);
            let members = json_of(&r)["members"].clone();
            assert_eq!(members.as_array().unwrap().len(), 1, "{members}");
            assert_eq!(members[0]["value"], uid.as_str());
        }
    }
}

#[test]
fn patching_a_large_group_answers_no_content_unless_asked() {
    let p = ServiceProvider::new(
        Config {
            base_url: BASE.into(),
            large_group_members: 3,
            ..Config::default()
        },
        Arc::new(MemoryStore::new()),
    );
    let ids: Vec<String> = (0..6).map(|i| create_user(&p, &format!("m{i}"))).collect();
    let r = call(&p, "POST", "/Groups", "", Some(json!({"displayName": "G"})));
    let gid = json_of(&r)["id"].as_str().unwrap().to_owned();
    let add = |id: &str, query: &str| {
        call(
            &p,
            "PATCH",
            &format!("/Groups/{gid}"),
            query,
            Some(patch_ops(
                json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
            )),
        )
    };
    // Small: the whole resource, as usual.
    for id in &ids[..3] {
        let r = add(id, "");
        assert_eq!(r.status, 200);
        assert!(json_of(&r)["members"].is_array());
    }
    // Large: 204 with the new version, no member list.
    let r = add(&ids[3], "");
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("ETag"), Some("W/\"5\""));
    // Unless the client asks for attributes explicitly.
    let r = add(&ids[4], "attributes=members");
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r)["members"].as_array().unwrap().len(), 5);
    let r = add(&ids[5], "excludedAttributes=members");
    assert_eq!(r.status, 200);
    assert!(json_of(&r).get("members").is_none());
    // A user PATCH is never affected.
    let r = call(
        &p,
        "PATCH",
        &format!("/Users/{}", ids[0]),
        "",
        Some(patch_ops(
            json!([{"op": "replace", "path": "title", "value": "x"}]),
        )),
    );
    assert_eq!(r.status, 200);
}

fn bulk(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
}

fn user_op(i: usize, name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
           "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}})
}

#[test]
fn bulk_operations_share_store_transactions() {
    let store = Arc::new(Counting::default());
    let p = ServiceProvider::new(
        Config {
            base_url: BASE.into(),
            max_operations: 1200,
            max_payload_size: 1 << 20,
            ..Config::default()
        },
        store.clone(),
    );
    let ops: Vec<Value> = (0..1200).map(|i| user_op(i, &format!("u{i}"))).collect();
    let r = call(&p, "POST", "/Bulk", "", Some(bulk(json!(ops))));
    assert_eq!(r.status, 200);
    let results = json_of(&r)["Operations"].as_array().unwrap().clone();
    assert_eq!(results.len(), 1200);
    assert!(results.iter().all(|o| o["status"] == "201"));
    // At most 500 operations share a transaction (fewer when one runs past 100 ms): far
    // fewer transactions than operations, and never one for all of them.
    let writes = store.writes.load(Relaxed);
    assert!((3..=120).contains(&writes), "{writes} write transactions");
    // Events stay per operation.
    assert_eq!(store.events("default", 0, usize::MAX).unwrap().len(), 1200);
}

/// Every bulk operation runs in its own savepoint: a failing one leaves nothing behind
/// (not even the rows it wrote before failing) and the others commit.
fn failing_bulk_operations_leave_no_trace(store: Arc<dyn Store>) {
    let p = ServiceProvider::new(
        Config {
            base_url: BASE.into(),
            strict: true,
            ..Config::default()
        },
        store.clone(),
    );
    let ops = json!([
        user_op(1, "alice"),
        user_op(2, "ALICE"),
        // Inserts the group, then fails on its unknown member (strict mode): 400.
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                  "displayName": "G", "members": [{"value": "bulkId:b1"}, {"value": "nobody"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "g2",
         "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                  "displayName": "H", "members": [{"value": "bulkId:b1"}]}},
        {"method": "PATCH", "path": "/Users/missing",
         "data": patch_ops(json!([{"op": "replace", "path": "title", "value": "x"}]))},
        user_op(3, "bob"),
    ]);
    let r = call(&p, "POST", "/Bulk", "", Some(bulk(ops)));
    assert_eq!(r.status, 200);
    let results = json_of(&r)["Operations"].as_array().unwrap().clone();
    let statuses: Vec<&str> = results
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "409", "400", "201", "404", "201"]);
    assert_eq!(results[1]["response"]["scimType"], "uniqueness");
    assert_eq!(results[2]["response"]["scimType"], "invalidValue");
    let groups = json_of(&call(&p, "GET", "/Groups", "", None));
    assert_eq!(groups["totalResults"], 1);
    assert_eq!(groups["Resources"][0]["displayName"], "H");
    assert_eq!(
        groups["Resources"][0]["members"].as_array().unwrap().len(),
        1
    );
    let users = json_of(&call(&p, "GET", "/Users", "", None));
    assert_eq!(users["totalResults"], 2);
    // One event per successful operation's change, none of a failed one.
    let events = store.events("default", 0, usize::MAX).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds
            .iter()
            .all(|k| k.ends_with("created") || *k == "group.members_added"),
        "{kinds:?}"
    );
    let gid = groups["Resources"][0]["id"].as_str().unwrap();
    assert!(events
        .iter()
        .all(|e| e.resource_kind.as_str() == "User" || e.resource_id == gid));
    assert_eq!(
        events.iter().filter(|e| e.kind == "user.created").count(),
        2
    );
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1));
}

/// A user create in a bulk request runs without a savepoint of its own (it refuses
/// before it writes): when the store fails after it began to write, nothing of the
/// operations sharing its transaction commits, and each of them answers the error; the
/// next operations run in a transaction of their own.
#[test]
fn a_store_failure_inside_a_bulk_create_fails_its_whole_transaction() {
    let dir =
        std::env::temp_dir().join(format!("libscim-provider-bulk-fail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = scim::store::SqliteStore::open_default(dir.join("bulk.db")).unwrap();
    let store = Arc::new(Counting::over(Box::new(sqlite)));
    let p = ServiceProvider::new(
        Config {
            base_url: BASE.into(),
            ..Config::default()
        },
        store.clone(),
    );
    // The second create's event fails, after its user row was written.
    store.fail_event.store(2, Relaxed);
    let ops = json!([user_op(1, "alice"), user_op(2, "bob"), user_op(3, "carol")]);
    let r = call(&p, "POST", "/Bulk", "", Some(bulk(ops)));
    assert_eq!(r.status, 200);
    let results = json_of(&r)["Operations"].as_array().unwrap().clone();
    let statuses: Vec<&str> = results
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["500", "500", "201"]);
    assert!(results[..2].iter().all(|o| o.get("location").is_none()));
    let users = json_of(&call(&p, "GET", "/Users", "", None));
    assert_eq!(users["totalResults"], 1);
    assert_eq!(users["Resources"][0]["userName"], "carol");
    let events = store.events("default", 0, usize::MAX).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "user.created");
    // Nothing of alice or bob is left behind: creating them again succeeds.
    let ops = json!([user_op(1, "alice"), user_op(2, "bob")]);
    let r = call(&p, "POST", "/Bulk", "", Some(bulk(ops)));
    let results = json_of(&r)["Operations"].as_array().unwrap().clone();
    assert!(results.iter().all(|o| o["status"] == "201"), "{results:?}");
    let users = json_of(&call(&p, "GET", "/Users", "", None));
    assert_eq!(users["totalResults"], 3);
    assert_eq!(store.events("default", 0, usize::MAX).unwrap().len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn failing_bulk_operations_leave_no_trace_in_memory() {
    failing_bulk_operations_leave_no_trace(Arc::new(MemoryStore::new()));
}

#[test]
fn failing_bulk_operations_leave_no_trace_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("libscim-provider-bulk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = scim::store::SqliteStore::open_default(dir.join("bulk.db")).unwrap();
    failing_bulk_operations_leave_no_trace(Arc::new(store));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The statuses of a bulk response's operations, in order.
fn bulk_statuses(r: &Response) -> Vec<String> {
    json_of(r)["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The id at the end of a bulk result's `location`.
fn location_id(result: &Value) -> String {
    let loc = result["location"].as_str().unwrap();
    loc.rsplit('/').next().unwrap().to_owned()
}

/// Plain user creates are prepared ahead of the writes, on several threads for a large
/// request; they are still written in request order, refused one by one (the store's
/// uniqueness included, also between operations of the request), and bulkId references
/// to them resolve, backward and forward, from operations that are not prepared.
fn prepared_bulk_creates_keep_bulk_semantics(store: Arc<dyn Store>) {
    let p = ServiceProvider::new(
        Config {
            base_url: BASE.into(),
            max_operations: 1000,
            max_payload_size: 1 << 20,
            ..Config::default()
        },
        store.clone(),
    );
    let n = 300;
    let mut ops: Vec<Value> = (0..n).map(|i| user_op(i, &format!("u{i}"))).collect();
    // The same userName as operation 2: the store refuses it when its turn comes.
    ops[5] = user_op(5, "U2");
    // Refused before any write (no userName), in either half of the request.
    for i in [10, 200] {
        ops[i] = json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                        "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                 "displayName": "nameless"}});
    }
    // Refers to an earlier operation: not prepared, runs in its turn.
    ops[20] = json!({"method": "POST", "path": "/Users", "bulkId": "b20",
        "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                 "userName": "u20",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                     {"manager": {"value": "bulkId:b3"}}}});
    // A group of an earlier and a later user of the request.
    ops.insert(
        100,
        json!({"method": "POST", "path": "/Groups", "bulkId": "g",
               "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": "G",
                        "members": [{"value": "bulkId:b1"}, {"value": "bulkId:b250"}]}}),
    );
    let r = call(&p, "POST", "/Bulk", "", Some(bulk(json!(ops))));
    assert_eq!(r.status, 200);
    let results = json_of(&r)["Operations"].as_array().unwrap().clone();
    assert_eq!(results.len(), n + 1);
    // Results in request order, each with its own bulkId.
    for (op, result) in ops.iter().zip(&results) {
        assert_eq!(op["bulkId"], result["bulkId"]);
    }
    let statuses = bulk_statuses(&r);
    for (i, s) in statuses.iter().enumerate() {
        let want = match i {
            5 => "409",
            10 | 201 => "400",
            _ => "201",
        };
        assert_eq!(s, want, "operation {i}: {}", results[i]);
    }
    assert_eq!(results[5]["response"]["scimType"], "uniqueness");
    assert_eq!(results[10]["response"]["scimType"], "invalidValue");
    assert_eq!(results[201]["response"]["scimType"], "invalidValue");
    let id_of =
        |bulk_id: &str| location_id(results.iter().find(|o| o["bulkId"] == bulk_id).unwrap());
    // The references resolved to what those operations created.
    let u20 = json_of(&call(
        &p,
        "GET",
        &format!("/Users/{}", id_of("b20")),
        "",
        None,
    ));
    assert_eq!(
        u20["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        id_of("b3").as_str()
    );
    let group = json_of(&call(
        &p,
        "GET",
        &format!("/Groups/{}", id_of("g")),
        "",
        None,
    ));
    let mut members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut want = [id_of("b1"), id_of("b250")];
    want.sort_unstable();
    assert_eq!(members, want);
    // Written in request order: the events of the users come in the order of their
    // operations, one per success and none of a refusal.
    let created: Vec<String> = results
        .iter()
        .filter(|o| o["status"] == "201" && o["bulkId"] != "g")
        .map(location_id)
        .collect();
    assert_eq!(created.len(), n - 3);
    let events = store.events("default", 0, usize::MAX).unwrap();
    let user_events: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "user.created")
        .map(|e| e.resource_id.as_str())
        .collect();
    assert_eq!(user_events, created);
    let users = json_of(&call(&p, "GET", "/Users", "count=0", None));
    assert_eq!(users["totalResults"], n - 3);
    // The refused userName is not taken: it can be created now.
    let r = call(
        &p,
        "POST",
        "/Bulk",
        "",
        Some(bulk(json!([user_op(10, "u10")]))),
    );
    assert_eq!(bulk_statuses(&r), ["201"]);
}

#[test]
fn prepared_bulk_creates_keep_bulk_semantics_in_memory() {
    prepared_bulk_creates_keep_bulk_semantics(Arc::new(MemoryStore::new()));
}

#[test]
fn prepared_bulk_creates_keep_bulk_semantics_in_sqlite() {
    let dir = std::env::temp_dir().join(format!(
        "libscim-provider-bulk-prepared-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = scim::store::SqliteStore::open_default(dir.join("bulk.db")).unwrap();
    prepared_bulk_creates_keep_bulk_semantics(Arc::new(store));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `failOnErrors` stops a request whose users were all prepared: the operations after
/// the last allowed error are neither answered nor written.
#[test]
fn fail_on_errors_stops_prepared_bulk_creates() {
    let store = Arc::new(MemoryStore::new());
    let p = ServiceProvider::new(
        Config {
            base_url: BASE.into(),
            ..Config::default()
        },
        store.clone(),
    );
    let mut ops: Vec<Value> = (0..300).map(|i| user_op(i, &format!("u{i}"))).collect();
    ops[10] = user_op(10, "u3");
    ops[200] = user_op(200, "u4");
    let mut body = bulk(json!(ops));
    body["failOnErrors"] = json!(2);
    let r = call(&p, "POST", "/Bulk", "", Some(body));
    assert_eq!(r.status, 200);
    let statuses = bulk_statuses(&r);
    assert_eq!(statuses.len(), 201);
    assert_eq!(statuses[10], "409");
    assert_eq!(statuses[200], "409");
    assert_eq!(statuses.iter().filter(|s| *s == "201").count(), 199);
    let users = json_of(&call(&p, "GET", "/Users", "count=0", None));
    assert_eq!(users["totalResults"], 199);
    assert_eq!(store.events("default", 0, usize::MAX).unwrap().len(), 199);
    let after = json_of(&call(
        &p,
        "GET",
        "/Users",
        "filter=userName%20eq%20%22u201%22",
        None,
    ));
    assert_eq!(after["totalResults"], 0);
}

/// A group of `n` new users (named `{prefix}{i}`, displayed as `d{i}`), made by POST.
fn group_of(p: &ServiceProvider, prefix: &str, n: usize) -> (String, Vec<String>) {
    let ids: Vec<String> = (0..n)
        .map(|i| create_user(p, &format!("{prefix}{i}")))
        .collect();
    let members: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"value": id, "display": format!("d{i}")}))
        .collect();
    let r = call(
        p,
        "POST",
        "/Groups",
        "",
        Some(json!({"displayName": format!("{prefix}-group"), "members": members})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    (json_of(&r)["id"].as_str().unwrap().to_owned(), ids)
}

fn member_count(p: &ServiceProvider, gid: &str) -> usize {
    let r = call(p, "GET", &format!("/Groups/{gid}"), "", None);
    json_of(&r)["members"].as_array().map_or(0, Vec::len)
}

#[test]
fn member_filters_other_than_value_eq_are_bounded() {
    let store = Arc::new(Counting::default());
    let p = provider_with(
        store.clone(),
        Config {
            max_member_filter: 5,
            ..Config::default()
        },
    );
    let by_display = patch_ops(json!([{"op": "remove", "path": "members[display sw \"d\"]"}]));

    // Above the cap: refused before reading a member row, and nothing changes.
    let (big, ids) = group_of(&p, "big", 6);
    store.member_rows_read.store(0, Relaxed);
    let r = call(
        &p,
        "PATCH",
        &format!("/Groups/{big}"),
        "",
        Some(by_display.clone()),
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_of(&r)["scimType"], "tooMany");
    assert_eq!(store.member_rows_read.load(Relaxed), 0);
    let r = call(&p, "GET", &format!("/Groups/{big}"), "", None);
    assert_eq!(r.header("ETag"), Some("W/\"1\""));
    assert_eq!(member_count(&p, &big), 6);
    // Removing by id has no such limit.
    let by_id =
        patch_ops(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}]));
    let r = call(&p, "PATCH", &format!("/Groups/{big}"), "", Some(by_id));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(member_count(&p, &big), 5);

    // At the cap: the filter is evaluated, in one pass over the rows.
    store.member_rows_read.store(0, Relaxed);
    let r = call(
        &p,
        "PATCH",
        &format!("/Groups/{big}"),
        "excludedAttributes=members",
        Some(by_display),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(store.member_rows_read.load(Relaxed), 5);
    assert_eq!(member_count(&p, &big), 0);
}

#[test]
fn replacing_members_reads_each_row_once() {
    let store = Arc::new(Counting::default());
    let p = provider_on(store.clone());
    let (gid, ids) = group_of(&p, "r", 2000);
    let fresh: Vec<String> = (0..500)
        .map(|i| create_user(&p, &format!("n{i}")))
        .collect();
    // Keep every other old member, add 500 new ones.
    let wanted: Vec<Value> = ids
        .iter()
        .step_by(2)
        .chain(&fresh)
        .map(|id| json!({"value": id}))
        .collect();
    store.member_rows_read.store(0, Relaxed);
    let r = call(
        &p,
        "PUT",
        &format!("/Groups/{gid}"),
        "excludedAttributes=members",
        Some(json!({"displayName": "r-group", "members": wanted.clone()})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(store.member_rows_read.load(Relaxed), 2000);
    assert_eq!(member_count(&p, &gid), 1500);
    // The events carry exactly the delta.
    let events = store
        .events(scim::provider::DEFAULT_DIRECTORY, 0, usize::MAX)
        .unwrap();
    let delta = |kind: &str| {
        let e = events
            .iter()
            .rfind(|e| e.resource_id == gid && e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} event"));
        e.data["members"].as_array().unwrap().len()
    };
    assert_eq!(delta("group.members_removed"), 1000);
    assert_eq!(delta("group.members_added"), 500);

    // PATCH replace of members is the same diff: nothing changes, one pass.
    store.member_rows_read.store(0, Relaxed);
    let r = call(
        &p,
        "PATCH",
        &format!("/Groups/{gid}"),
        "excludedAttributes=members",
        Some(patch_ops(
            json!([{"op": "replace", "path": "members", "value": wanted}]),
        )),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(store.member_rows_read.load(Relaxed), 1500);
    let r = call(
        &p,
        "GET",
        &format!("/Groups/{gid}"),
        "excludedAttributes=members",
        None,
    );
    assert_eq!(
        r.header("ETag"),
        Some("W/\"2\""),
        "an identical replace is no change"
    );
}

#[test]
fn queries_the_indexes_do_not_answer_read_a_bounded_number_of_resources() {
    let store = Arc::new(Counting::default());
    let p = provider_with(
        store.clone(),
        Config {
            max_filter_scan: 50,
            ..Config::default()
        },
    );
    for i in 0..60 {
        create_user(&p, &format!("u{i}"));
    }
    let too_many = |r: &Response| {
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(json_of(r)["scimType"], "tooMany");
    };
    for (path, query) in [
        ("/Users", "filter=title%20eq%20%22x%22"),
        ("/Users", "sortBy=title"),
        ("/", "filter=userName%20pr"),
    ] {
        store.take_resources_read();
        too_many(&call(&p, "GET", path, query, None));
        assert!(store.take_resources_read() <= 51, "{path}?{query}");
    }
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "title eq \"x\""
    });
    too_many(&call(
        &p,
        "POST",
        "/Users/.search",
        "",
        Some(search.clone()),
    ));
    // A search inside a Bulk request is bounded alike (it runs outside the writer).
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users/.search", "bulkId": "s", "data": search}]
    });
    let r = call(&p, "POST", "/Bulk", "", Some(bulk));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let op = &json_of(&r)["Operations"][0];
    assert_eq!(op["status"], "400", "{op}");
    assert_eq!(op["response"]["scimType"], "tooMany", "{op}");
    // Indexed conditions narrow the candidates: answered.
    let r = call(&p, "GET", "/Users", "filter=userName%20eq%20%22u7%22", None);
    assert_eq!(json_of(&r)["totalResults"], 1);
    let r = call(
        &p,
        "GET",
        "/Users",
        "filter=userName%20sw%20%22u1%22%20and%20title%20pr",
        None,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_of(&r)["totalResults"], 0);
    let r = call(&p, "GET", "/Users", "sortBy=userName&count=5", None);
    assert_eq!(json_of(&r)["totalResults"], 60);
}

#[test]
fn member_lists_are_rendered_outside_the_writer() {
    let store = Arc::new(Counting::default());
    let p = provider_on(store.clone());
    store.member_rows_read_in_writes.store(0, Relaxed);
    // POST with members: the response lists them, read after the commit.
    let (gid, ids) = group_of(&p, "w", 1500);
    assert_eq!(store.member_rows_read_in_writes.load(Relaxed), 0);
    // PUT: one pass over the rows to diff them in the write; the response's list after it.
    let keep: Vec<Value> = ids[..1000].iter().map(|id| json!({"value": id})).collect();
    let r = call(
        &p,
        "PUT",
        &format!("/Groups/{gid}"),
        "",
        Some(json!({"displayName": "w-group", "members": keep})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_of(&r)["members"].as_array().unwrap().len(), 1000);
    assert_eq!(r.header("ETag"), Some("W/\"2\""));
    assert_eq!(store.member_rows_read_in_writes.load(Relaxed), 1500);
    // PATCH asking for the members: none read in the write.
    store.member_rows_read_in_writes.store(0, Relaxed);
    let r = call(
        &p,
        "PATCH",
        &format!("/Groups/{gid}"),
        "attributes=members",
        Some(patch_ops(
            json!([{"op": "add", "path": "members", "value": [{"value": ids[1200]}]}]),
        )),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_of(&r)["members"].as_array().unwrap().len(), 1001);
    assert_eq!(r.header("ETag"), Some("W/\"3\""));
    assert_eq!(store.member_rows_read_in_writes.load(Relaxed), 0);
}
