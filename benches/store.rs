//! `make bench`: the durable store. Every figure is printed next to a baseline measured in
//! the same run, as a ratio, because the machines are shared and noisy.
//!
//! - creates/s with 32 concurrent writers through `ServiceProvider::handle`: SQLite with
//!   group commit vs one commit per write (baseline), and the in-memory store for reference;
//! - point lookups (`userName eq`, `externalId eq`, `emails.value eq`, GET by id) on
//!   `SCIM_BENCH_USERS` users (default 1,000,000) vs 1,000 users (baseline).
//!
//! Pass a substring to run only the matching groups: `cargo bench --bench store -- lookups`.

use scim::schema::ResourceKind;
use scim::store::{MemoryStore, SqliteOptions, SqliteStore, Store, StoredResource};
use scim::{Config, ServiceProvider};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "harness/mod.rs"]
mod harness;
use harness::{measure, ok, report, req, smoke};

fn user_body(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("user{i}@example.com"),
        "externalId": format!("ext-{i}"),
        "name": {"givenName": "Given", "familyName": format!("Family{i}")},
        "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
        "active": true
    })
}

fn provider(store: Arc<dyn Store>) -> ServiceProvider {
    ServiceProvider::new(
        Config {
            base_url: "https://bench.example.com/scim/v2".into(),
            ..Config::default()
        },
        store,
    )
}

/// A fresh scratch file; removed (with its WAL) by `cleanup`.
fn scratch(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("libscim-bench-{}-{name}.db", std::process::id()));
    cleanup(&path);
    path
}

fn cleanup(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn sqlite(name: &str, group_commit: bool) -> (Arc<SqliteStore>, PathBuf) {
    let path = scratch(name);
    let options = SqliteOptions {
        group_commit,
        ..SqliteOptions::default()
    };
    (Arc::new(SqliteStore::open(&path, options).unwrap()), path)
}

/// Wall time per create with `threads` writers doing `per_thread` creates each.
fn concurrent_creates(store: Arc<dyn Store>, threads: usize, per_thread: usize) -> Duration {
    let p = provider(store);
    let t = Instant::now();
    std::thread::scope(|s| {
        for th in 0..threads {
            let p = &p;
            s.spawn(move || {
                for i in 0..per_thread {
                    let body = user_body(th * per_thread + i);
                    ok(p.handle(&req("POST", "/Users", "", Some(&body))), 201);
                }
            });
        }
    });
    t.elapsed() / (threads * per_thread) as u32
}

/// creates/s with 32 concurrent writers.
fn creates() {
    let threads = 32;
    let per_thread = if smoke() { 3 } else { 100 };
    let (single, single_path) = sqlite("single", false);
    let one_each = concurrent_creates(single, threads, per_thread);
    cleanup(&single_path);
    let (grouped, grouped_path) = sqlite("grouped", true);
    let grouped_time = concurrent_creates(grouped, threads, per_thread);
    cleanup(&grouped_path);
    let memory = concurrent_creates(Arc::new(MemoryStore::new()), threads, per_thread);
    report(
        "POST /Users, 32 concurrent writers, durable (synchronous=FULL); time per create",
        ("sqlite, one commit per write", one_each),
        &[
            ("sqlite, group commit", grouped_time),
            ("memory store (reference, not durable)", memory),
        ],
    );
    for (name, d) in [
        ("sqlite, one commit per write", one_each),
        ("sqlite, group commit", grouped_time),
        ("memory store", memory),
    ] {
        println!("  {:<44} {:>9.0} creates/s", name, 1.0 / d.as_secs_f64());
    }
}

/// Load `n` users straight into the store, shaped like the provider stores them.
fn bulk_load(store: &Arc<SqliteStore>, n: usize) -> Vec<String> {
    let p = provider(store.clone());
    // One real create gives the stored shape; the rest are copies with new values.
    let id0 = ok(
        p.handle(&req("POST", "/Users", "", Some(&user_body(0)))),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut template = None;
    store
        .read(scim::provider::DEFAULT_DIRECTORY, &mut |tx| {
            template = tx.get(ResourceKind::User, &id0)?;
            Ok(())
        })
        .unwrap();
    let template = template.unwrap();
    let mut ids = vec![id0];
    let started = Instant::now();
    let chunk = 20_000;
    let mut next = 1;
    while next < n {
        let end = (next + chunk).min(n);
        let batch: Vec<StoredResource> = (next..end)
            .map(|i| {
                let mut r = template.clone();
                r.id = uuid::Uuid::new_v4().to_string();
                let body = user_body(i);
                for key in ["userName", "externalId", "name", "emails"] {
                    r.data[key] = body[key].clone();
                }
                r
            })
            .collect();
        store
            .write(scim::provider::DEFAULT_DIRECTORY, &mut |tx| {
                for r in &batch {
                    tx.insert(r.clone())?;
                }
                Ok(())
            })
            .unwrap();
        ids.extend(batch.into_iter().map(|r| r.id));
        next = end;
    }
    eprintln!("  (loaded {n} users in {:?})", started.elapsed());
    ids
}

/// Point lookups on `n` users: (userName eq, externalId eq, emails.value eq, GET by id).
fn lookups_on(n: usize) -> [Duration; 4] {
    let (store, path) = sqlite(&format!("lookups{n}"), true);
    let ids = bulk_load(&store, n);
    let p = provider(store);
    let iters = if smoke() { 5 } else { 300 };
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut pick = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let mut filter = |attr: &str, value: &dyn Fn(usize) -> String| {
        measure(iters, |_| {
            let i = pick();
            let q = format!("filter={attr}%20eq%20%22{}%22", value(i));
            let body = ok(p.handle(&req("GET", "/Users", &q, None)), 200);
            assert_eq!(body["totalResults"], 1, "{q}");
        })
    };
    let user_name = filter("userName", &|i| format!("user{i}@example.com"));
    let external_id = filter("externalId", &|i| format!("ext-{i}"));
    let email = filter("emails.value", &|i| format!("USER{i}@example.com"));
    let mut k = 0usize;
    let by_id = measure(iters, |_| {
        k = (k + 7919) % ids.len();
        ok(
            p.handle(&req("GET", &format!("/Users/{}", ids[k]), "", None)),
            200,
        );
    });
    drop(p);
    cleanup(&path);
    [user_name, external_id, email, by_id]
}

fn lookups() {
    let n: usize = std::env::var("SCIM_BENCH_USERS")
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(if smoke() { 2_000 } else { 1_000_000 });
    let small = lookups_on(1_000);
    let large = lookups_on(n);
    let names = [
        "filter=userName eq",
        "filter=externalId eq",
        "filter=emails.value eq",
        "GET /Users/{id}",
    ];
    for (i, name) in names.iter().enumerate() {
        let big = format!("{n} users");
        report(
            &format!("sqlite point lookup: {name}"),
            ("1,000 users", small[i]),
            &[(big.as_str(), large[i])],
        );
    }
}

/// CPU time this process has used (user + system), where the platform tells it
/// (`/proc/self/stat`, Linux): on a shared machine, wall time depends on the neighbours,
/// CPU time much less.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which ends with ')'): utime is the 12th, stime 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux platform Rust supports.
    Some(Duration::from_millis(ticks * 10))
}

/// Run `f`, printing the CPU time it used per `units` next to `label`.
fn with_cpu<T>(label: &str, units: usize, f: impl FnOnce() -> T) -> T {
    let before = cpu_time();
    let out = f();
    if let (Some(a), Some(b)) = (before, cpu_time()) {
        println!(
            "  ({label}: {:?} of CPU per unit, all threads)",
            (b.saturating_sub(a)) / units.max(1) as u32
        );
    }
    out
}

/// Wall time per user of `n` users sent as Bulk requests of `per_request` POSTs.
fn bulk_creates(store: Arc<dyn Store>, n: usize, per_request: usize) -> Duration {
    let p = provider(store);
    let bodies: Vec<Value> = (0..n)
        .collect::<Vec<_>>()
        .chunks(per_request)
        .map(|chunk| {
            let ops: Vec<Value> = chunk
                .iter()
                .map(|&i| {
                    json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                           "data": user_body(i)})
                })
                .collect();
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                   "Operations": ops})
        })
        .collect();
    let t = Instant::now();
    for body in &bodies {
        let resp = ok(p.handle(&req("POST", "/Bulk", "", Some(body))), 200);
        let ops = resp["Operations"].as_array().unwrap();
        assert_eq!(ops.len(), body["Operations"].as_array().unwrap().len());
        assert!(ops.iter().all(|o| o["status"] == "201"), "{}", ops[0]);
    }
    t.elapsed() / n as u32
}

/// Median time of a one-member PATCH (add, then remove, alternately) in a group of
/// `small` and in a group of `big` members of the same SQLite directory (members and users
/// loaded straight into the store), measured in alternating rounds so both see the same
/// database, WAL and machine load.
fn member_patch(small: usize, big: usize) -> (Duration, Duration) {
    let (store, path) = sqlite(&format!("patch{big}"), true);
    let ids = bulk_load(&store, small + big + 1);
    let p = provider(store.clone());
    let mut groups = Vec::new();
    for (name, members) in [("small", &ids[..small]), ("big", &ids[small..small + big])] {
        let gid = ok(
            p.handle(&req(
                "POST",
                "/Groups",
                "",
                Some(&json!({ "displayName": name })),
            )),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for chunk in members.chunks(20_000) {
            store
                .write(scim::provider::DEFAULT_DIRECTORY, &mut |tx| {
                    for id in chunk {
                        tx.add_member(
                            &gid,
                            scim::store::Member {
                                value: id.clone(),
                                kind: ResourceKind::User,
                                display: None,
                            },
                        )?;
                    }
                    Ok(())
                })
                .unwrap();
        }
        groups.push(format!("/Groups/{gid}"));
    }
    let extra = &ids[small + big];
    let mut n = 0usize;
    let mut one = |path: &str| {
        let op = if n % 2 == 0 {
            json!({"op": "add", "path": "members", "value": [{"value": extra}]})
        } else {
            json!({"op": "remove", "path": format!("members[value eq \"{extra}\"]")})
        };
        n += 1;
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [op]});
        let resp = p.handle(&req("PATCH", path, "", Some(&body)));
        assert!(resp.status == 200 || resp.status == 204, "{}", resp.status);
    };
    // Warm up both (first checkpoints after the load, caches).
    for _ in 0..20 {
        one(&groups[0]);
        one(&groups[1]);
    }
    let iters = if smoke() { 4 } else { 100 };
    let mut rounds = [Vec::new(), Vec::new()];
    for _ in 0..if smoke() { 1 } else { 9 } {
        for (g, times) in groups.iter().zip(rounds.iter_mut()) {
            let t = Instant::now();
            for _ in 0..iters {
                one(g);
            }
            times.push(t.elapsed() / iters as u32);
        }
    }
    drop(p);
    drop(store);
    cleanup(&path);
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let [mut a, mut b] = rounds;
    (median(&mut a), median(&mut b))
}

/// The write figures of issue 13 side by side, all on SQLite with synchronous=FULL:
/// Bulk users/s, creates/s with 32 writers, and a one-member PATCH in a 100,000-member
/// group against a 10-member group (PATCH without `attributes`, as Okta and Entra send it).
fn writes() {
    // SCIM_BENCH_WRITES=bulk,creates,patch picks parts (all by default);
    // SCIM_BENCH_BULK_USERS sets the Bulk load (default 100,000).
    let parts = std::env::var("SCIM_BENCH_WRITES").unwrap_or_default();
    let part = |name: &str| parts.is_empty() || parts.split(',').any(|p| p == name);
    let rate = |d: Duration| 1.0 / d.as_secs_f64();
    let mut targets = Vec::new();
    if part("bulk") || part("creates") {
        let (single, single_path) = sqlite("one-by-one", true);
        let one_by_one = concurrent_creates(single, 1, if smoke() { 5 } else { 300 });
        cleanup(&single_path);
        let mut others = Vec::new();
        if part("bulk") {
            let users = std::env::var("SCIM_BENCH_BULK_USERS")
                .ok()
                .and_then(|v| v.replace(['_', ','], "").parse().ok())
                .unwrap_or(if smoke() { 400 } else { 100_000 });
            let per_request = if smoke() { 100 } else { 1_000 };
            let (store, path) = sqlite("bulk", true);
            let bulk = with_cpu("Bulk, per user", users, || {
                bulk_creates(store, users, per_request)
            });
            cleanup(&path);
            others.push((
                format!("Bulk, {users} users in requests of {per_request}"),
                bulk,
            ));
            targets.push(format!(
                "  {:<44} {:>9.0} users/s    {:.2}x of 10,000",
                "Bulk",
                rate(bulk),
                rate(bulk) / 10_000.0
            ));
        }
        if part("creates") {
            let (store, path) = sqlite("creates32", true);
            let per_thread = if smoke() { 3 } else { 200 };
            let creates32 = with_cpu("POST /Users x32, per create", 32 * per_thread, || {
                concurrent_creates(store, 32, per_thread)
            });
            cleanup(&path);
            others.push(("POST /Users, 32 clients".to_owned(), creates32));
            targets.push(format!(
                "  {:<44} {:>9.0} creates/s  {:.2}x of 5,000",
                "POST /Users, 32 clients",
                rate(creates32),
                rate(creates32) / 5_000.0
            ));
        }
        let others: Vec<(&str, Duration)> = others.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        report(
            "users created on SQLite (synchronous=FULL); time per user",
            ("POST /Users, one client", one_by_one),
            &others,
        );
    }
    if part("patch") {
        let big = if smoke() { 200 } else { 100_000 };
        let (small_group, big_group) = member_patch(10, big);
        report(
            "one-member PATCH of a group on SQLite (synchronous=FULL)",
            ("group of 10 members", small_group),
            &[(format!("group of {big} members").as_str(), big_group)],
        );
        targets.push(format!(
            "  {:<44} {:>9.2}x          (target >= 0.80x)",
            format!("PATCH speed, {big}-member vs 10-member group"),
            small_group.as_secs_f64() / big_group.as_secs_f64()
        ));
    }
    println!("writes: the targets");
    for line in targets {
        println!("{line}");
    }
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    if run("creates") {
        creates();
    }
    if run("lookups") {
        lookups();
    }
    if run("writes") {
        writes();
    }
}
