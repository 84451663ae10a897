//! The engine's authentication cache: a request reads no directory from the store, and
//! every directory change is seen by the very next request — also under concurrency.

use parking_lot::Mutex;
use scim::directory::{DirectorySettings, DirectoryUpdate, IdpKind, NewDirectory, Service};
use scim::mapping::{MappingEntry, Profile};
use scim::schema::ResourceKind;
use scim::store::{SqliteOptions, SqliteStore, Store};
use scim::{Engine, EngineConfig, Request, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

#[path = "support/counting.rs"]
mod counting;
use counting::Counting;

const UNAUTHORIZED: &str = "a valid bearer token for this directory is required";

fn new_dir(name: &str) -> NewDirectory {
    NewDirectory {
        name: name.into(),
        domain: "example.com".into(),
        idp: IdpKind::Okta,
        services: vec![Service::Uem, Service::Access],
        settings: DirectorySettings::default(),
        mapping_profile: Some(Profile::Rfc),
    }
}

fn call(e: &Engine, token: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    e.handle(&Request {
        method: method.into(),
        path: path.into(),
        query: String::new(),
        headers: vec![
            ("Authorization".into(), format!("Bearer {token}")),
            ("Content-Type".into(), "application/scim+json".into()),
        ],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    })
}

fn users(e: &Engine, dir: &str, token: &str) -> Response {
    call(e, token, "GET", &format!("/scim/v2/{dir}/Users"), None)
}

/// The one refusal every authentication failure gives.
fn assert_refused(r: &Response, why: &str) {
    assert_eq!(r.status, 401, "{why}: {}", String::from_utf8_lossy(&r.body));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["detail"], UNAUTHORIZED, "{why}");
    assert!(body.get("scimType").is_none(), "{why}");
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"), "{why}");
}

struct Fixture {
    engine: Engine,
    store: Arc<Counting>,
    now: Arc<Mutex<OffsetDateTime>>,
}

fn fixture() -> Fixture {
    let store = Arc::new(Counting::default());
    let now = Arc::new(Mutex::new(datetime!(2026-12-01 10:00 UTC)));
    let clock = now.clone();
    let engine = Engine::new(EngineConfig::default(), store.clone())
        .with_clock(Arc::new(move || *clock.lock()));
    Fixture { engine, store, now }
}

#[test]
fn authenticated_requests_read_no_directory_from_the_store() {
    let f = fixture();
    let d = f.engine.create_directory(&new_dir("A")).unwrap();
    let t = f
        .engine
        .issue_token(&d.id, None)
        .unwrap()
        .secret
        .to_string();
    for _ in 0..100 {
        assert_eq!(users(&f.engine, &d.id, &t).status, 200);
    }
    assert_eq!(
        f.store.token_lookups.load(SeqCst),
        1,
        "one store lookup fills the cache for every later request"
    );
    // A wrong token is looked up (and refused) every time: refusals are not cached.
    assert_refused(&users(&f.engine, &d.id, "scim_nope"), "unknown token");
    assert_eq!(f.store.token_lookups.load(SeqCst), 2);
}

#[test]
fn a_replaced_or_revoked_token_is_refused_on_the_next_request() {
    let f = fixture();
    let d = f.engine.create_directory(&new_dir("A")).unwrap();
    let t1 = f
        .engine
        .issue_token(&d.id, None)
        .unwrap()
        .secret
        .to_string();
    assert_eq!(users(&f.engine, &d.id, &t1).status, 200);
    let t2 = f
        .engine
        .issue_token(&d.id, Some(12))
        .unwrap()
        .secret
        .to_string();
    assert_refused(&users(&f.engine, &d.id, &t1), "replaced token");
    assert_eq!(users(&f.engine, &d.id, &t2).status, 200);
    f.engine.revoke_token(&d.id).unwrap();
    assert_refused(&users(&f.engine, &d.id, &t2), "revoked token");
}

#[test]
fn an_expired_token_is_refused_though_cached() {
    let f = fixture();
    let d = f.engine.create_directory(&new_dir("A")).unwrap();
    let issued = f.engine.issue_token(&d.id, Some(1)).unwrap();
    assert_eq!(users(&f.engine, &d.id, &issued.secret).status, 200);
    *f.now.lock() = issued.info.expires_at - Duration::seconds(1);
    assert_eq!(users(&f.engine, &d.id, &issued.secret).status, 200);
    *f.now.lock() = issued.info.expires_at;
    assert_refused(&users(&f.engine, &d.id, &issued.secret), "expired token");
}

#[test]
fn deleting_a_directory_refuses_its_token() {
    let f = fixture();
    let d = f.engine.create_directory(&new_dir("A")).unwrap();
    let t = f
        .engine
        .issue_token(&d.id, None)
        .unwrap()
        .secret
        .to_string();
    assert_eq!(users(&f.engine, &d.id, &t).status, 200);
    f.engine.delete_directory(&d.id).unwrap();
    assert_refused(&users(&f.engine, &d.id, &t), "deleted directory");
}

#[test]
fn a_cached_token_never_reaches_another_directory() {
    let f = fixture();
    let a = f.engine.create_directory(&new_dir("A")).unwrap();
    let b = f.engine.create_directory(&new_dir("B")).unwrap();
    let ta = f
        .engine
        .issue_token(&a.id, None)
        .unwrap()
        .secret
        .to_string();
    f.engine.issue_token(&b.id, None).unwrap();
    assert_eq!(users(&f.engine, &a.id, &ta).status, 200);
    assert_refused(&users(&f.engine, &b.id, &ta), "A's token on B's path");
}

#[test]
fn settings_and_mapping_changes_apply_to_the_next_request() {
    let f = fixture();
    let d = f.engine.create_directory(&new_dir("A")).unwrap();
    let t = f
        .engine
        .issue_token(&d.id, None)
        .unwrap()
        .secret
        .to_string();
    let path = format!("/scim/v2/{}/Users", d.id);
    let user = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
    assert_eq!(
        call(&f.engine, &t, "POST", &path, Some(user("a@other.org"))).status,
        201
    );

    // Domain enforcement switched on: the next request is held to it.
    f.engine
        .update_directory(
            &d.id,
            &DirectoryUpdate {
                domain: None,
                services: None,
                settings: Some(DirectorySettings {
                    enforce_domain: true,
                    ..DirectorySettings::default()
                }),
            },
        )
        .unwrap();
    let r = call(&f.engine, &t, "POST", &path, Some(user("b@other.org")));
    assert_eq!(r.status, 400);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["scimType"], "invalidValue");

    // A mapping entry made required: the next create without it is refused.
    let mut entry = MappingEntry::new("title", "title");
    entry.required = true;
    f.engine
        .set_mapping_entry(&d.id, Service::Uem, ResourceKind::User, &entry)
        .unwrap();
    let r = call(&f.engine, &t, "POST", &path, Some(user("c@example.com")));
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["scimType"], "invalidValue");
    assert!(body["detail"].as_str().unwrap().contains("title"), "{body}");
}

#[test]
fn a_change_made_by_another_engine_on_the_store_is_seen_within_a_second() {
    let store = Arc::new(Counting::default());
    let a = Engine::new(EngineConfig::default(), store.clone());
    let b = Engine::new(EngineConfig::default(), store.clone());
    let d = a.create_directory(&new_dir("A")).unwrap();
    let t1 = a.issue_token(&d.id, None).unwrap().secret.to_string();
    assert_eq!(users(&a, &d.id, &t1).status, 200);
    // `a` learns nothing of this change but through the store.
    let t2 = b.issue_token(&d.id, None).unwrap().secret.to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_refused(&users(&a, &d.id, &t1), "replaced by another engine");
    assert_eq!(users(&a, &d.id, &t2).status, 200);
}

/// Tokens as the hammering threads see them: `stale` is set once the call that replaced
/// or revoked the token has returned.
struct Published {
    secret: String,
    dir: String,
    stale: AtomicBool,
}

/// Many threads send requests with current and recently replaced tokens while one
/// thread replaces and revokes them: no request that starts after a token was replaced
/// or revoked succeeds with it.
fn hammer(engine: Arc<Engine>, rounds: usize, workers: usize) {
    let dirs: Vec<String> = ["A", "B"]
        .iter()
        .map(|n| engine.create_directory(&new_dir(n)).unwrap().id)
        .collect();
    let tokens: Arc<Mutex<Vec<Arc<Published>>>> = Arc::new(Mutex::new(Vec::new()));
    let mut current: Vec<Arc<Published>> = Vec::new();
    for d in &dirs {
        let p = Arc::new(Published {
            secret: engine.issue_token(d, None).unwrap().secret.to_string(),
            dir: d.clone(),
            stale: AtomicBool::new(false),
        });
        tokens.lock().push(p.clone());
        current.push(p);
    }
    let done = Arc::new(AtomicBool::new(false));
    let (ok, refused, stale_ok) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let (engine, tokens, done) = (engine.clone(), tokens.clone(), done.clone());
            let (ok, refused, stale_ok) = (ok.clone(), refused.clone(), stale_ok.clone());
            std::thread::spawn(move || {
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (w as u64 + 1);
                let mut next = move || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as usize
                };
                while !done.load(SeqCst) {
                    let p = {
                        let t = tokens.lock();
                        // Mostly the newest tokens, sometimes older ones.
                        let back = next() % t.len().min(6);
                        t[t.len() - 1 - back].clone()
                    };
                    let was_stale = p.stale.load(SeqCst);
                    let path = if next() % 2 == 0 {
                        format!("/scim/v2/{}/Users", p.dir)
                    } else {
                        format!("/scim/v2/{}/ServiceProviderConfig", p.dir)
                    };
                    let r = call(&engine, &p.secret, "GET", &path, None);
                    match r.status {
                        200 if was_stale => {
                            stale_ok.fetch_add(1, SeqCst);
                        }
                        200 => {
                            ok.fetch_add(1, SeqCst);
                        }
                        _ => {
                            assert_refused(&r, "a refused token");
                            refused.fetch_add(1, SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for round in 0..rounds {
        let i = round % dirs.len();
        let d = &dirs[i];
        if round % 5 == 4 {
            engine.revoke_token(d).unwrap();
            current[i].stale.store(true, SeqCst);
        }
        let p = Arc::new(Published {
            secret: engine.issue_token(d, None).unwrap().secret.to_string(),
            dir: d.clone(),
            stale: AtomicBool::new(false),
        });
        current[i].stale.store(true, SeqCst);
        current[i] = p.clone();
        tokens.lock().push(p);
        // Let the workers fill the cache with the new token before it is replaced.
        std::thread::yield_now();
    }
    done.store(true, SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let (ok, refused, stale_ok) = (ok.load(SeqCst), refused.load(SeqCst), stale_ok.load(SeqCst));
    assert_eq!(
        stale_ok, 0,
        "stale tokens accepted ({ok} ok, {refused} refused)"
    );
    assert!(ok > 0 && refused > 0, "{ok} ok, {refused} refused");
}

#[test]
fn no_stale_token_succeeds_under_concurrency_in_memory() {
    let engine = Arc::new(Engine::new(
        EngineConfig::default(),
        Arc::new(Counting::default()),
    ));
    hammer(engine, 1000, 3);
}

#[test]
fn no_stale_token_succeeds_under_concurrency_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("libscim-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(
            dir.join("db"),
            SqliteOptions {
                synchronous_full: false,
                ..SqliteOptions::default()
            },
        )
        .unwrap(),
    );
    hammer(
        Arc::new(Engine::new(EngineConfig::default(), store)),
        1000,
        6,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
