//! Listing on a large SQLite directory, in-process: what a page, a count and a whole
//! paging pass cost, against `GET /Users/{id}` on the same directory in the same run.
//! Cost must follow the page, not the directory.
//!
//! `cargo bench --bench listing` (100,000 users; `SCIM_BENCH_USERS=1000000` for the
//! issue's figures). The users are written straight into the store in transactions of
//! 10,000, as the provider stores them.

#[path = "harness/mod.rs"]
mod harness;

use harness::{measure, ok, req, scale};
use scim::schema::ResourceKind::User;
use scim::store::{SqliteOptions, SqliteStore, Store, StoredResource};
use scim::{Config, ServiceProvider};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::var("SCIM_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| scale(100_000, 2_000));
    let dir = std::env::temp_dir().join(format!("libscim-bench-listing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(
        dir.join("db.sqlite"),
        SqliteOptions {
            synchronous_full: false,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    let t0 = time::macros::datetime!(2026-01-01 00:00 UTC);
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        store
            .write(scim::provider::DEFAULT_DIRECTORY, &mut |tx| {
                for &i in chunk {
                    // userNames in another order than insertion.
                    let name = (i * 7_919) % n;
                    let t = t0 + time::Duration::milliseconds(i as i64);
                    tx.insert(StoredResource {
                        id: format!("u{i:07}"),
                        kind: User,
                        data: json!({
                            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": format!("user{name:07}@example.com"),
                            "externalId": format!("x{i}"),
                            "name": {"givenName": "Given", "familyName": format!("F{name}")},
                            "emails": [{"value": format!("user{name:07}@example.com"), "type": "work", "primary": true}],
                            "active": true,
                        }),
                        created: t,
                        last_modified: t,
                        version: 1,
                    })?;
                }
                Ok(())
            })
            .unwrap();
    }
    println!(
        "listing on {n} users (SQLite, loaded in {:?})",
        started.elapsed()
    );
    let p = ServiceProvider::new(
        Config {
            base_url: "https://example.com/scim/v2".into(),
            ..Config::default()
        },
        Arc::new(store),
    );
    let get = |query: &str| ok(p.handle(&req("GET", "/Users", query, None)), 200);
    let by_id = measure(200, |i| {
        let id = format!("u{:07}", (i * 104_729) % n);
        ok(
            p.handle(&req("GET", &format!("/Users/{id}"), "", None)),
            200,
        );
    });
    let time = |iters: usize, query: &str| {
        let q = query.to_owned();
        (
            query.to_owned(),
            measure(iters, |_| {
                get(&q);
            }),
        )
    };
    let near_end = format!("startIndex={}&count=100", n - 99);
    let middle = format!("startIndex={}&count=100", n / 2);
    let sorted_middle = format!("sortBy=userName&startIndex={}&count=100", n / 2);
    let figures: Vec<(String, Duration)> = vec![
        time(50, "count=0"),
        time(50, "startIndex=1&count=2"),
        time(20, &near_end),
        time(5, &middle),
        time(20, "sortBy=userName&count=100"),
        time(5, &sorted_middle),
        time(
            20,
            "sortBy=meta.lastModified&sortOrder=descending&count=100",
        ),
        time(50, "filter=userName%20eq%20%22user0000042@example.com%22"),
        time(20, "filter=userName%20sw%20%22user00001%22&count=100"),
    ];
    let others: Vec<(&str, Duration)> = figures.iter().map(|(q, d)| (q.as_str(), *d)).collect();
    harness::report(
        "GET /Users?… (one page of up to 100)",
        ("GET /Users/{id}", by_id),
        &others,
    );

    // Whole passes, as Okta (index) and an RFC 9865 client (cursor) do them.
    let pass = |cursor: bool| -> (usize, Duration) {
        let t = Instant::now();
        let mut seen = 0;
        let mut next = Some(String::new());
        let mut start = 1;
        while let Some(c) = next.take() {
            let page = if cursor {
                get(&format!("count=100&cursor={c}"))
            } else {
                get(&format!("count=100&startIndex={start}"))
            };
            let got = page["Resources"].as_array().map_or(0, Vec::len);
            seen += got;
            start += got;
            next = if cursor {
                page["nextCursor"].as_str().map(str::to_owned)
            } else if got > 0 {
                Some(String::new())
            } else {
                None
            };
        }
        (seen, t.elapsed())
    };
    for (name, cursor) in [("index (startIndex)", false), ("cursor", true)] {
        let (seen, took) = pass(cursor);
        assert_eq!(seen, n, "{name} pass");
        println!(
            "  full paging pass by {name:<18} {seen} users in {took:?}: {:?} per page of 100, {:.2}x GET by id",
            took / (n / 100).max(1) as u32,
            (took / (n / 100).max(1) as u32).as_secs_f64() / by_id.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
