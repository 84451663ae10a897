//! How big the database gets with outbox retention: N user creates (Bulk requests of 1,000
//! operations) into a fresh SQLite file, with or without a consumer that acknowledges
//! every event as it comes, then the file's size once the engine is closed
//! (`synchronous=NORMAL`: the same file, sooner).
//!
//! `cargo run --release --example outbox_size -- [--users N] [--consumer]
//!  [--events-max-count N] [--events-max-age SECS] [--data DIR] [--keep]` (`--keep`
//! leaves the database in place, e.g. for `sqlite3`'s `dbstat`).

use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::events::EventRetention;
use scim::store::{SqliteOptions, SqliteStore};
use scim::{Engine, EngineConfig, Request};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PER_REQUEST: usize = 1000;

fn main() {
    let mut users = 100_000usize;
    let mut consumer = false;
    let mut keep = false;
    let mut events = EventRetention::default();
    let mut data = std::env::temp_dir().join(format!("libscim-outbox-{}", std::process::id()));
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("flag needs a value");
        match flag.as_str() {
            "--users" => users = value().parse().expect("--users N"),
            "--consumer" => consumer = true,
            "--keep" => keep = true,
            "--events-max-count" => {
                events.max_count = Some(value().parse().expect("--events-max-count N"))
            }
            "--events-max-age" => {
                events.max_age_secs = Some(value().parse().expect("--events-max-age SECS"))
            }
            "--data" => data = PathBuf::from(value()),
            other => panic!("unknown flag {other}"),
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("libscim.db");
    // synchronous=NORMAL: the sizes are the same as with FULL, the run much shorter.
    let store = SqliteStore::open(
        &db,
        SqliteOptions {
            synchronous_full: false,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let config = EngineConfig {
        events,
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::new(config, Arc::new(store)));
    let dir = engine
        .create_directory(&NewDirectory {
            name: "Outbox".into(),
            domain: "example.com".into(),
            idp: IdpKind::Okta,
            services: vec![Service::Uem, Service::Access],
            settings: DirectorySettings::default(),
            mapping_profile: None,
        })
        .unwrap();
    let token = engine
        .issue_token(&dir.id, None)
        .unwrap()
        .secret
        .to_string();

    let done = Arc::new(AtomicBool::new(false));
    let reader = consumer.then(|| {
        let (engine, id, done) = (engine.clone(), dir.id.clone(), done.clone());
        std::thread::spawn(move || {
            let mut received = 0u64;
            loop {
                let batch = engine
                    .next_events(&id, 1000, Duration::from_millis(100))
                    .unwrap();
                match batch.last() {
                    Some(last) => {
                        received += batch.len() as u64;
                        engine.ack_events(&id, last.seq).unwrap();
                    }
                    None if done.load(Ordering::SeqCst) => return received,
                    None => {}
                }
            }
        })
    });

    let t = Instant::now();
    for start in (0..users).step_by(PER_REQUEST) {
        let ops: Vec<_> = (start..(start + PER_REQUEST).min(users))
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user{i}@example.com"),
                    "externalId": format!("ext-{i}"),
                    "name": {"givenName": "Given", "familyName": format!("Family{i}")},
                    "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
                    "active": true,
                }})
            })
            .collect();
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": ops,
        });
        let r = engine.handle(&Request {
            method: "POST".into(),
            path: format!("/scim/v2/{}/Bulk", dir.id),
            headers: vec![
                ("Authorization".into(), format!("Bearer {token}")),
                ("Content-Type".into(), "application/scim+json".into()),
            ],
            body: body.to_string().into_bytes(),
            ..Request::default()
        });
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let ok = v["Operations"]
            .as_array()
            .is_some_and(|ops| ops.iter().all(|op| op["status"] == "201"));
        assert!(r.status == 200 && ok, "{v}");
    }
    let written = t.elapsed();
    done.store(true, Ordering::SeqCst);
    let received = reader.map(|r| r.join().unwrap());
    let stats = engine.event_stats(&dir.id).unwrap();
    drop(engine); // the last connection closes: the WAL is checkpointed and removed
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let wal = size(&data.join("libscim.db-wal"));
    println!(
        "{users} users in {:.1} s; consumer: {}; retention: max_count {:?}, max_age_secs {:?}",
        written.as_secs_f64(),
        received.map_or("none".to_owned(), |n| format!("received {n}")),
        events.max_count,
        events.max_age_secs,
    );
    println!(
        "events: last_seq {}, acked {}, kept {}, dropped {}",
        stats.last_seq, stats.acked, stats.kept, stats.dropped
    );
    println!(
        "database: {:.1} MB (+ WAL {:.1} MB)",
        size(&db) as f64 / 1e6,
        wal as f64 / 1e6
    );
    if keep {
        println!("kept: {}", db.display());
    } else {
        let _ = std::fs::remove_dir_all(&data);
    }
}
