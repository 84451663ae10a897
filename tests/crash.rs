//! Crash test of the SQLite store: a child process writes through the service provider
//! from 8 threads and is killed with SIGKILL at random points, again and again, on the same
//! file. After each kill: every acknowledged write is there, the file passes
//! `PRAGMA integrity_check`, and the outbox has an event for every acknowledged change and
//! none for a rejected one.
//!
//! The child is this test binary itself, re-executed with `SCIM_CRASH_CHILD` set: it
//! prints one line per answered request (`ack create <id> <userName>`, `ack patch <id>`,
//! `ack delete <id>`, `rejected create <userName>`, `rejected patch <id>`) after `handle`
//! returned, and flushes; and `sending delete <id>` before a DELETE, since a delete that
//! committed but was not acknowledged may remove an acknowledged create.

use scim::provider::DEFAULT_DIRECTORY;
use scim::store::{SqliteStore, Store};
use scim::{Config, Request, ServiceProvider};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_DB: &str = "SCIM_CRASH_CHILD";
const CHILD_RUN: &str = "SCIM_CRASH_RUN";
const THREADS: usize = 8;
const CYCLES: u64 = 10;

fn req(method: &str, path: &str, body: Option<Value>) -> Request {
    Request {
        method: method.into(),
        path: path.into(),
        query: String::new(),
        headers: vec![("Content-Type".into(), "application/scim+json".into())],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    }
}

fn provider(path: &Path) -> ServiceProvider {
    let store = SqliteStore::open_default(path).expect("open store");
    ServiceProvider::new(Config::default(), Arc::new(store))
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    // A parent that went away must not make the child panic; it is killed anyway.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The child: write forever (or until a safety deadline), acknowledging each answer.
fn child(path: &str, run: &str) {
    let p = Arc::new(provider(Path::new(path)));
    let deadline = Instant::now() + Duration::from_secs(30);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let p = p.clone();
            s.spawn(move || {
                let mut i = 0u64;
                while Instant::now() < deadline {
                    i += 1;
                    let name = format!("r{run}-t{t}-{i}@example.com");
                    let user = json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": name,
                        "externalId": format!("x-{run}-{t}-{i}"),
                        "emails": [{"value": name, "type": "work"}],
                        "active": true
                    });
                    let resp = p.handle(&req("POST", "/Users", Some(user.clone())));
                    if resp.status != 201 {
                        say(format!("unexpected create {} {}", resp.status, name));
                        continue;
                    }
                    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                    let Some(id) = body["id"].as_str().map(str::to_owned) else {
                        say(format!("unexpected create-body {name}"));
                        continue;
                    };
                    say(format!("ack create {id} {name}"));
                    let path = format!("/Users/{id}");
                    if i % 3 == 1 {
                        let patch = json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "path": "displayName", "value": "patched"}]
                        });
                        let resp = p.handle(&req("PATCH", &path, Some(patch)));
                        match resp.status {
                            200 | 204 => say(format!("ack patch {id}")),
                            s => say(format!("unexpected patch {s} {id}")),
                        }
                    } else if i % 7 == 0 {
                        let bad = json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "bogus", "path": "displayName", "value": "x"}]
                        });
                        let resp = p.handle(&req("PATCH", &path, Some(bad)));
                        match resp.status {
                            400 => say(format!("rejected patch {id}")),
                            s => say(format!("unexpected bad-patch {s} {id}")),
                        }
                    }
                    if i % 4 == 2 {
                        let resp = p.handle(&req("POST", "/Users", Some(user)));
                        match resp.status {
                            409 => say(format!("rejected create {name}")),
                            s => say(format!("unexpected duplicate {s} {name}")),
                        }
                    }
                    if i % 5 == 3 {
                        // Announced first: a kill after the commit and before the
                        // acknowledgement leaves an acknowledged create legitimately gone.
                        say(format!("sending delete {id}"));
                        let resp = p.handle(&req("DELETE", &path, None));
                        match resp.status {
                            204 => say(format!("ack delete {id}")),
                            s => say(format!("unexpected delete {s} {id}")),
                        }
                    }
                }
            });
        }
    });
}

/// What the children acknowledged, over all cycles.
#[derive(Default)]
struct Acked {
    created: HashMap<String, String>,
    patched: HashSet<String>,
    deleted: HashSet<String>,
    /// Deletes sent, acknowledged or not.
    deleting: HashSet<String>,
    rejected_creates: usize,
    rejected_patches: HashSet<String>,
}

impl Acked {
    fn take(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["ack", "create", id, name] => {
                self.created.insert((*id).into(), (*name).into());
            }
            ["ack", "patch", id] => {
                self.patched.insert((*id).into());
            }
            ["sending", "delete", id] => {
                self.deleting.insert((*id).into());
            }
            ["ack", "delete", id] => {
                self.deleted.insert((*id).into());
            }
            ["rejected", "create", _] => self.rejected_creates += 1,
            ["rejected", "patch", id] => {
                self.rejected_patches.insert((*id).into());
            }
            ["unexpected", ..] => panic!("the child saw an unexpected answer: {line}"),
            _ => {} // the test harness's own output
        }
    }
}

/// A small deterministic PRNG (xorshift64*), seeded per cycle.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn check(path: &Path, acked: &Acked, cycle: u64) {
    // The file itself.
    {
        let c = rusqlite::Connection::open(path).expect("raw open");
        let verdict: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(verdict, "ok", "cycle {cycle}: integrity_check");
    }
    let store = Arc::new(SqliteStore::open_default(path).expect("reopen"));
    let p = ServiceProvider::new(Config::default(), store.clone());
    for (id, name) in &acked.created {
        let resp = p.handle(&req("GET", &format!("/Users/{id}"), None));
        if acked.deleted.contains(id) {
            assert_eq!(resp.status, 404, "cycle {cycle}: deleted user {id} is back");
            continue;
        }
        if acked.deleting.contains(id) && resp.status == 404 {
            continue; // deleted, the kill came before the acknowledgement
        }
        assert_eq!(
            resp.status, 200,
            "cycle {cycle}: acknowledged user {id} ({name}) is missing"
        );
        let body: Value = serde_json::from_slice(&resp.body).expect("json");
        assert_eq!(body["userName"], name.as_str(), "cycle {cycle}");
        if acked.patched.contains(id) {
            assert_eq!(
                body["displayName"], "patched",
                "cycle {cycle}: patch of {id} lost"
            );
        }
    }

    // The outbox.
    let events = store
        .events(DEFAULT_DIRECTORY, 0, usize::MAX)
        .expect("events");
    if events.is_empty() && !acked.created.is_empty() {
        // The provider does not emit events yet: nothing to check.
        eprintln!("crash test: the provider emits no events; outbox checks skipped");
        return;
    }
    assert!(
        events.windows(2).all(|w| w[0].seq < w[1].seq),
        "cycle {cycle}: event numbers increase"
    );
    let mut kinds: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in &events {
        kinds
            .entry(e.resource_id.as_str())
            .or_default()
            .push(e.kind.as_str());
    }
    let created_events = |id: &str| {
        kinds
            .get(id)
            .map_or(0, |k| k.iter().filter(|k| **k == "user.created").count())
    };
    for id in acked.created.keys() {
        assert_eq!(created_events(id), 1, "cycle {cycle}: user.created of {id}");
    }
    for id in &acked.deleted {
        assert!(
            kinds
                .get(id.as_str())
                .is_some_and(|k| k.contains(&"user.deleted")),
            "cycle {cycle}: no user.deleted event for {id}"
        );
    }
    for id in &acked.patched {
        assert!(
            kinds.get(id.as_str()).is_some_and(|k| k
                .iter()
                .any(|k| *k != "user.created" && *k != "user.deleted")),
            "cycle {cycle}: no event for the patch of {id}"
        );
    }
    // Nothing for rejected requests: a rejected duplicate would leave a user.created for
    // a user that never existed; a rejected PATCH an update event.
    let mut present = 0;
    store
        .read(DEFAULT_DIRECTORY, &mut |tx| {
            present = 0;
            for (id, k) in &kinds {
                let exists = tx.get(scim::schema::ResourceKind::User, id)?.is_some();
                present += usize::from(exists);
                assert!(
                    exists || k.contains(&"user.deleted"),
                    "cycle {cycle}: events {k:?} for {id}, which neither exists nor was deleted"
                );
                assert!(
                    k.iter().filter(|k| **k == "user.created").count() <= 1,
                    "cycle {cycle}: {id} created twice"
                );
            }
            Ok(())
        })
        .expect("read");
    for id in &acked.rejected_patches {
        let k = &kinds[id.as_str()];
        assert!(
            k.iter()
                .all(|k| *k == "user.created" || *k == "user.deleted"),
            "cycle {cycle}: a rejected PATCH left an event for {id}: {k:?}"
        );
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(path) = std::env::var(CHILD_DB) {
        let run = std::env::var(CHILD_RUN).unwrap_or_default();
        child(&path, &run);
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("libscim-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("crash.db");
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let exe = std::env::current_exe().expect("current_exe");
    let mut acked = Acked::default();
    let started = Instant::now();
    for cycle in 0..CYCLES {
        let mut next = rng(cycle + 1);
        // Kill anywhere from the child's start-up to well into its writing.
        let delay = Duration::from_millis(20 + next() % 380);
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "acknowledged_writes_survive_sigkill",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, &path)
            .env(CHILD_RUN, cycle.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            // Only whole lines: the kill may cut the last one short.
            while matches!(r.read_line(&mut line), Ok(n) if n > 0) {
                if line.ends_with('\n') {
                    lines.push(std::mem::take(&mut line));
                } else {
                    break;
                }
            }
            lines
        });
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL"); // SIGKILL on Unix
        let status = child.wait().expect("wait");
        assert!(
            !status.success(),
            "the child ran to completion before the kill"
        );
        let lines = reader.join().expect("reader");
        let before = acked.created.len();
        for line in &lines {
            acked.take(line);
        }
        eprintln!(
            "crash cycle {cycle}: killed after {delay:?}, {} new acknowledged creates ({} total, {} deletes, {} rejected)",
            acked.created.len() - before,
            acked.created.len(),
            acked.deleted.len(),
            acked.rejected_creates + acked.rejected_patches.len(),
        );
        check(&path, &acked, cycle);
    }
    assert!(
        acked.created.len() > 100,
        "too few writes to mean anything: {}",
        acked.created.len()
    );
    eprintln!("crash test: {CYCLES} cycles in {:?}", started.elapsed());
}
