//! `make bench`: protocol-engine benchmarks. Every figure is printed next to a baseline
//! measured in the same run, as a ratio, because the machines are shared and noisy.
//!
//! Pass a substring to run only the matching groups: `cargo bench --bench provider -- members`.

use scim::store::MemoryStore;
use scim::{Config, ServiceProvider};
use serde_json::{json, Value};
use std::sync::Arc;

#[path = "harness/mod.rs"]
mod harness;
use harness::{measure, ok, report, req, scale};

fn provider() -> ServiceProvider {
    ServiceProvider::new(
        Config {
            base_url: "https://bench.example.com/scim/v2".into(),
            ..Config::default()
        },
        Arc::new(MemoryStore::new()),
    )
}

fn create_user(p: &ServiceProvider, i: usize) -> String {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("user{i}@example.com"),
        "externalId": format!("ext-{i}"),
        "name": {"givenName": "Given", "familyName": format!("Family{i}")},
        "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
        "active": true
    });
    ok(p.handle(&req("POST", "/Users", "", Some(&body))), 201)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One membership change in a 10-member and in a 100,000-member group.
fn members() {
    let patch = |uid: &str, op: &str| {
        let path = if op == "add" {
            "members".to_owned()
        } else {
            format!("members[value eq \"{uid}\"]")
        };
        let mut o = json!({"op": op, "path": path});
        if op == "add" {
            o["value"] = json!([{ "value": uid }]);
        }
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [o]})
    };
    let mut results = Vec::new();
    for size in [10usize, scale(100_000, 100)] {
        let p = provider();
        let ids: Vec<String> = (0..size + 1).map(|i| create_user(&p, i)).collect();
        let group = ok(
            p.handle(&req(
                "POST",
                "/Groups",
                "",
                Some(&json!({"displayName": format!("G{size}")})),
            )),
            201,
        );
        let gid = group["id"].as_str().unwrap().to_owned();
        for chunk in ids[..size].chunks(1000) {
            let value: Vec<Value> = chunk.iter().map(|id| json!({ "value": id })).collect();
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": value}]});
            ok(
                p.handle(&req(
                    "PATCH",
                    &format!("/Groups/{gid}"),
                    "excludedAttributes=members",
                    Some(&body),
                )),
                200,
            );
        }
        let extra = ids[size].clone();
        let path = format!("/Groups/{gid}");
        let d = measure(scale(200, 4), |n| {
            let op = if n % 2 == 0 { "add" } else { "remove" };
            ok(
                p.handle(&req(
                    "PATCH",
                    &path,
                    "excludedAttributes=members",
                    Some(&patch(&extra, op)),
                )),
                200,
            );
        });
        results.push(d);
    }
    let big = format!("group of {} members", scale(100_000, 100));
    report(
        "membership PATCH (add or remove one member, excludedAttributes=members)",
        ("group of 10 members", results[0]),
        &[(big.as_str(), results[1])],
    );
}

/// Point lookups by indexed attributes vs a filter that must scan, on 10,000 users.
fn queries() {
    let p = provider();
    let n = scale(10_000, 100);
    for i in 0..n {
        create_user(&p, i);
    }
    let get = |q: String| {
        ok(p.handle(&req("GET", "/Users", &q, None)), 200);
    };
    let enc = |f: &str| format!("filter={}", f.replace(' ', "%20").replace('"', "%22"));
    let by_name = measure(scale(500, 4), |i| {
        get(enc(&format!("userName eq \"user{}@example.com\"", i % n)))
    });
    let by_ext = measure(scale(500, 4), |i| {
        get(enc(&format!("externalId eq \"ext-{}\"", i % n)))
    });
    let by_email = measure(scale(500, 4), |i| {
        get(enc(&format!(
            "emails.value eq \"USER{}@example.com\"",
            i % n
        )))
    });
    let scan = measure(scale(5, 1), |i| {
        get(enc(&format!("name.familyName eq \"Family{}\"", i % n)))
    });
    report(
        "GET /Users?filter= on 10,000 users",
        ("userName eq (index)", by_name),
        &[
            ("externalId eq (index)", by_ext),
            ("emails.value eq (index)", by_email),
            ("name.familyName eq (full scan)", scan),
        ],
    );
}

/// Create throughput, and the cost of the full round trip of a read.
fn crud() {
    let p = provider();
    let create = measure(scale(500, 4), |i| {
        create_user(&p, 1_000_000 + i);
    });
    let id = create_user(&p, 42);
    let path = format!("/Users/{id}");
    let get = measure(scale(2000, 4), |_| {
        ok(p.handle(&req("GET", &path, "", None)), 200);
    });
    let patch = measure(scale(500, 4), |i| {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": i % 2 == 0}}]});
        ok(p.handle(&req("PATCH", &path, "", Some(&body))), 200);
    });
    report(
        "single-resource requests (in-process, memory store)",
        ("GET /Users/{id}", get),
        &[("POST /Users", create), ("PATCH /Users/{id} active", patch)],
    );
}

fn main() {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let groups: [(&str, fn()); 3] = [("crud", crud), ("queries", queries), ("members", members)];
    for (name, f) in groups {
        if only.as_deref().is_none_or(|o| name.contains(o)) {
            f();
        }
    }
}
