//! Directory changes racing each other never lose one (issue 14, item 1): each is an
//! atomic read-modify-write in the store, so a revoked token never works again because a
//! concurrent settings change wrote back the record it read before the revoke.

use scim::directory::{DirectoryUpdate, IdpKind, NewDirectory, Service};
use scim::mapping::{MappingEntry, Profile};
use scim::oidc::OidcConfig;
use scim::schema::ResourceKind;
use scim::{Engine, EngineConfig, Request};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Barrier;

const TRIALS: usize = 1000;

/// The status of `GET /Users` with `token` (200: it works; 401: it does not).
fn status_with(e: &Engine, dir: &str, token: &str) -> u16 {
    e.handle(&Request {
        method: "GET".into(),
        path: format!("/scim/v2/{dir}/Users"),
        query: "count=1".into(),
        headers: vec![("Authorization".into(), format!("Bearer {token}"))],
        body: Vec::new(),
    })
    .status
}

/// Run `a` and `b` at the same moment (released together by a barrier), `TRIALS` times;
/// `setup` runs before each trial, `check` after both finished.
fn race<S: Sync>(
    setup: impl Fn(usize) -> S,
    a: impl Fn(usize, &S) + Sync,
    b: impl Fn(usize, &S) + Sync,
    check: impl Fn(usize, &S) -> bool,
) -> usize {
    let mut failures = 0;
    for i in 0..TRIALS {
        let state = setup(i);
        let start = Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                start.wait();
                a(i, &state);
            });
            start.wait();
            b(i, &state);
        });
        if !check(i, &state) {
            failures += 1;
        }
    }
    failures
}

fn directory(e: &Engine) -> String {
    e.create_directory(&NewDirectory {
        name: "Race".into(),
        domain: "race.example".into(),
        idp: IdpKind::Okta,
        services: vec![Service::Uem, Service::Access],
        settings: Default::default(),
        mapping_profile: Some(Profile::Rfc),
    })
    .unwrap()
    .id
}

fn domain(i: usize) -> DirectoryUpdate {
    DirectoryUpdate {
        domain: Some(format!("d{i}.example")),
        ..DirectoryUpdate::default()
    }
}

/// A revoke racing a domain change: the revoked token never works again, and the
/// domain change is kept.
fn revoke_vs_update(e: &Engine) {
    let id = directory(e);
    let failures = race(
        |_| e.issue_token(&id, None).unwrap().secret.to_string(),
        |_, _| e.revoke_token(&id).unwrap(),
        |i, _| {
            e.update_directory(&id, &domain(i)).unwrap();
        },
        |i, token| {
            let d = e.directory(&id).unwrap();
            status_with(e, &id, token) == 401
                && d.token.is_none()
                && d.domain == format!("d{i}.example")
        },
    );
    assert_eq!(failures, 0, "{failures} of {TRIALS} trials lost an update");
}

/// A token issue racing a mapping change: the new token works, the old one does not, and
/// the mapping entry is kept.
fn issue_vs_mapping(e: &Engine) {
    let id = directory(e);
    let source = |i: usize| if i % 2 == 0 { "title" } else { "nickName" };
    let failures = race(
        |_| {
            let old = e.issue_token(&id, None).unwrap().secret.to_string();
            (old, parking_lot::Mutex::new(String::new()))
        },
        |_, (_, new)| *new.lock() = e.issue_token(&id, None).unwrap().secret.to_string(),
        |i, _| {
            let entry = MappingEntry::new("race", source(i));
            e.set_mapping_entry(&id, Service::Uem, ResourceKind::User, &entry)
                .unwrap();
        },
        |i, (old, new)| {
            let m = e.mapping(&id, Service::Uem).unwrap();
            let kept = m
                .users
                .iter()
                .any(|x| x.target == "race" && x.source == source(i));
            status_with(e, &id, &new.lock()) == 200 && status_with(e, &id, old) == 401 && kept
        },
    );
    assert_eq!(failures, 0, "{failures} of {TRIALS} trials lost an update");
}

/// OIDC settings racing a revoke: both are kept.
fn oidc_vs_revoke(e: &Engine) {
    let id = directory(e);
    let failures = race(
        |_| e.issue_token(&id, None).unwrap().secret.to_string(),
        |i, _| {
            let config: OidcConfig = serde_json::from_value(json!({
                "client_id": format!("client-{i}"),
                "client_secret": "s3cret",
                "config_url": "https://idp.example.com/.well-known/openid-configuration",
            }))
            .unwrap();
            e.set_oidc(&id, config, "userName").unwrap();
        },
        |_, _| e.revoke_token(&id).unwrap(),
        |i, token| {
            let d = e.directory(&id).unwrap();
            let client = d.login.map(|l| l.client_id);
            status_with(e, &id, token) == 401
                && d.token.is_none()
                && client.as_deref() == Some(format!("client-{i}").as_str())
        },
    );
    assert_eq!(failures, 0, "{failures} of {TRIALS} trials lost an update");
}

fn memory() -> Engine {
    Engine::open(None, EngineConfig::default()).unwrap()
}

/// A fresh SQLite engine in its own directory (removed when the guard drops).
struct SqliteEngine {
    engine: Engine,
    dir: PathBuf,
}

impl Drop for SqliteEngine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sqlite(name: &str) -> SqliteEngine {
    let dir = std::env::temp_dir().join(format!("libscim-race-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let engine = Engine::open(Some(&dir.join("db.sqlite")), EngineConfig::default()).unwrap();
    SqliteEngine { engine, dir }
}

#[test]
fn memory_revoke_vs_update_directory() {
    revoke_vs_update(&memory());
}

#[test]
fn memory_issue_vs_set_mapping_entry() {
    issue_vs_mapping(&memory());
}

#[test]
fn memory_set_oidc_vs_revoke() {
    oidc_vs_revoke(&memory());
}

#[test]
fn sqlite_revoke_vs_update_directory() {
    revoke_vs_update(&sqlite("revoke").engine);
}

#[test]
fn sqlite_issue_vs_set_mapping_entry() {
    issue_vs_mapping(&sqlite("mapping").engine);
}

#[test]
fn sqlite_set_oidc_vs_revoke() {
    oidc_vs_revoke(&sqlite("oidc").engine);
}
