//! Several `serve` processes on one PostgreSQL database (a throwaway cluster), as a host
//! runs them behind a load balancer: a login begun on one instance completes on another
//! (they share the secrets key; one with another key refuses to start), and Okta- and
//! Entra-style provisioning from 32 clients spread over two instances keeps every
//! acknowledged write exactly once, through kill -9 of one instance and a restart of
//! PostgreSQL.

#[path = "oidc/support.rs"]
mod oidc;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/serve.rs"]
mod serve;

use scratch::Scratch;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CLIENT: &str = "libscim-pg-instances";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// How long a phase may wait for something it expects (a loaded CI machine).
const PATIENCE: Duration = Duration::from_secs(60);

/// `serve --database url --data <data> --secrets-key-file <key> --credentials-file
/// <credentials> <extra>`.
fn serve_args<'a>(
    url: &'a str,
    data: &'a Path,
    key: &'a Path,
    credentials: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a OsStr> {
    let mut args: Vec<&OsStr> = vec![
        "--database".as_ref(),
        url.as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--secrets-key-file".as_ref(),
        key.as_os_str(),
        "--credentials-file".as_ref(),
        credentials.as_os_str(),
    ];
    args.extend(extra.iter().map(|a| OsStr::new(*a)));
    args
}

/// The token and the directory's SCIM base path from a credentials file.
fn credentials(path: &Path) -> (String, String) {
    let creds: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let tenant = creds["tenant_url"].as_str().unwrap();
    (
        creds["token"].as_str().unwrap().to_owned(),
        tenant[tenant.find("/scim/").unwrap()..].to_owned(),
    )
}

fn okta_user(user_name: &str, external_id: &str) -> Value {
    json!({"schemas": [USER], "userName": user_name, "externalId": external_id,
           "active": true, "name": {"givenName": "Ada", "familyName": "Lovelace"},
           "emails": [{"value": user_name, "type": "work", "primary": true}]})
}

#[test]
fn a_login_begun_on_one_instance_completes_on_another() {
    let pg = postgres::Postgres::start();
    let url = pg.fresh_database();
    let scratch = Scratch::new("pg-login");
    let root = &scratch.0;
    let idp = oidc::Idp::start();
    let signing = oidc::Key::rsa("rsa2048-a.pk8", "key-a");
    idp.set_keys(&[&signing]);
    let config_url = idp.config_url();
    let login = [
        "--oidc-config-url",
        config_url.as_str(),
        "--client-id",
        CLIENT,
        "--client-secret",
        "s3cret",
        "--oidc-allow-http",
    ];
    // Two machines: each its own data directory and its own copy of the key, which the
    // first instance created.
    let (key_a, key_b) = (root.join("a.key"), root.join("b.key"));
    let creds = root.join("credentials.json");
    let a = serve::start(&serve_args(&url, &root.join("a"), &key_a, &creds, &login));
    std::fs::copy(&key_a, &key_b).unwrap();
    let b = serve::start(&serve_args(&url, &root.join("b"), &key_b, &creds, &login));
    let (token, base) = credentials(&creds);
    let dir = base.rsplit('/').next().unwrap().to_owned();
    let created = serve::http(
        a.addr,
        &token,
        "POST",
        &format!("{base}/Users"),
        Some(&okta_user("ada@example.com", "00u-ada")),
    )
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.json());

    // The browser begins on A, and the IdP redirects it to B.
    let done = login_across(&idp, &signing, a.addr, b.addr, &dir);
    assert_eq!(done.status, 200, "{}", done.json());
    assert_eq!(done.json()["user"]["userName"], "ada@example.com");
    // B exchanged the code with the client secret A sealed into the database.
    let exchanged = idp.state.lock().unwrap().token_requests.clone();
    assert_eq!(exchanged.len(), 1);
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:s3cret"));
    assert_eq!(
        exchanged[0].header("Authorization"),
        Some(format!("Basic {basic}").as_str()),
        "the token request carries the client secret"
    );

    // A third instance with a key of its own refuses to start, saying why.
    let other_key = root.join("other.key");
    let mut c = std::process::Command::new(serve::serve_binary())
        .args(["--listen", "127.0.0.1:0"])
        .args(serve_args(
            &url,
            &root.join("c"),
            &other_key,
            &root.join("c.json"),
            &login,
        ))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while c.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("serve with another secrets key did not refuse to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = c.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("sealed with another secrets_key")
            && stderr.contains(&other_key.display().to_string()),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("is serving"),
        "it never served"
    );
    // The refused instance changed nothing: a login begun on B completes on A, with the
    // same client secret.
    let again = login_across(&idp, &signing, b.addr, a.addr, &dir);
    assert_eq!(again.status, 200, "{}", again.json());
    assert_eq!(again.json()["user"]["userName"], "ada@example.com");
    let exchanged = idp.state.lock().unwrap().token_requests.clone();
    assert_eq!(exchanged.len(), 2);
    assert_eq!(
        exchanged[1].header("Authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    drop((a, b));
}

/// A browser begins directory `dir`'s login at `begin`; the IdP (armed with an ID token for
/// ada, with this login's nonce) sends it back to `complete`: the callback's answer (JSON).
fn login_across(
    idp: &oidc::Idp,
    signing: &oidc::Key,
    begin: SocketAddr,
    complete: SocketAddr,
    dir: &str,
) -> serve::Reply {
    let begun = serve::request(begin, "GET", &format!("/login/{dir}"), &[], None).unwrap();
    assert_eq!(begun.status, 302);
    let cookie = begun
        .header("Set-Cookie")
        .and_then(|c| c.split(';').next())
        .expect("a login cookie")
        .to_owned();
    let location = begun.header("Location").unwrap();
    let query: HashMap<String, String> = location
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = "at-1";
    let at_hash =
        oidc::b64(&ring::digest::digest(&ring::digest::SHA256, at.as_bytes()).as_ref()[..16]);
    let claims = json!({
        "iss": idp.base, "aud": CLIENT, "sub": "00u-ada", "email": "ada@example.com",
        "email_verified": true, "iat": now, "exp": now + 300, "nonce": query["nonce"],
        "at_hash": at_hash,
    });
    idp.state.lock().unwrap().token_response = (
        200,
        json!({"access_token": at, "token_type": "Bearer", "expires_in": 300,
               "id_token": signing.sign(&claims, json!({}))}),
    );
    serve::request(
        complete,
        "GET",
        &format!(
            "/login/{dir}/callback?code=the-code&state={}",
            query["state"]
        ),
        &[("Cookie", &cookie), ("Accept", "application/json")],
        None,
    )
    .unwrap()
}

#[test]
fn engine_open_on_postgres_refuses_a_key_that_does_not_open_the_sealed_secrets() {
    let pg = postgres::Postgres::start();
    let url = pg.fresh_database();
    let open = |key: Option<String>| {
        scim::Engine::open(
            Some(Path::new(&url)),
            scim::EngineConfig {
                secrets_key: key,
                ..scim::EngineConfig::default()
            },
        )
    };
    let key = scim::secret::SecretKey::generate_hex().unwrap();
    let first = open(Some(key.clone())).unwrap();
    let d = first
        .create_directory(&scim::directory::NewDirectory {
            name: "Sealed".into(),
            domain: "example.com".into(),
            idp: scim::directory::IdpKind::Okta,
            services: vec![scim::directory::Service::Uem],
            settings: scim::directory::DirectorySettings::default(),
            mapping_profile: None,
        })
        .unwrap();
    // Before any secret is sealed, any key (or none) opens the database.
    assert!(open(None).is_ok());
    assert!(open(Some(scim::secret::SecretKey::generate_hex().unwrap())).is_ok());
    let mut config = scim::oidc::OidcConfig::new(
        CLIENT,
        "s3cret",
        "http://127.0.0.1:9/.well-known/openid-configuration",
        "",
    );
    config.allow_http = true;
    first.set_oidc(&d.id, config, "userName").unwrap();
    first.check_secrets_key().unwrap();

    let refused = |key: Option<String>| match open(key) {
        Ok(_) => panic!("the engine opened"),
        Err(e) => e,
    };
    let other = refused(Some(scim::secret::SecretKey::generate_hex().unwrap()));
    assert_eq!(other.status, 500);
    assert_eq!(other.kind, scim::error::ErrorKind::SecretsKey);
    assert!(
        other.detail.contains(&d.id) && other.detail.contains("sealed with another secrets_key"),
        "{other}"
    );
    let none = refused(None);
    assert_eq!(none.status, 500);
    assert_eq!(none.kind, scim::error::ErrorKind::SecretsKey);
    assert!(none.detail.contains("configure the secrets_key"), "{none}");
    // The same key still opens it (another instance, or a restart).
    open(Some(key)).unwrap().check_secrets_key().unwrap();
}

// ------------------------------------------------------------------ the two-instance load

/// What the clients saw: per resource, the events its acknowledged writes must have
/// produced, in order; and the creates whose answer never came (the instance died, or the
/// database went away mid-commit), which may or may not have happened.
#[derive(Default)]
struct Ledger {
    /// Resource id → expected event kinds, in the order the writes were acknowledged.
    expected: Mutex<HashMap<String, Vec<&'static str>>>,
    /// Acknowledged users still expected to exist: id → userName.
    users: Mutex<HashMap<String, String>>,
    /// Acknowledged deletions: the resource path (`/Users/<id>`, `/Groups/<id>`).
    deleted: Mutex<HashSet<String>>,
    /// userNames whose create was sent but not acknowledged.
    unsure: Mutex<HashSet<String>>,
    acked: AtomicUsize,
    /// 503s the creators saw.
    unavailable: AtomicUsize,
}

impl Ledger {
    fn expect(&self, id: &str, kinds: &[&'static str]) {
        self.expected
            .lock()
            .unwrap()
            .entry(id.to_owned())
            .or_default()
            .extend_from_slice(kinds);
        self.acked.fetch_add(1, Ordering::SeqCst);
    }
}

/// The two instances and what the clients need to reach them.
struct Fleet {
    addrs: [SocketAddr; 2],
    token: String,
    base: String,
    /// Set once instance 0 was killed: clients go to instance 1 only.
    first_dead: AtomicBool,
}

impl Fleet {
    /// The instance the `n`th request of client `t` goes to.
    fn pick(&self, t: usize, n: usize) -> SocketAddr {
        if self.first_dead.load(Ordering::SeqCst) {
            self.addrs[1]
        } else {
            self.addrs[(t + n) % 2]
        }
    }

    fn call(&self, at: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> serve::Reply {
        serve::http(
            at,
            &self.token,
            method,
            &format!("{}{path}", self.base),
            body,
        )
        .unwrap_or_else(|e| panic!("{method} {path} at {at}: {e}"))
    }
}

/// A 503 is a SCIM error saying to retry.
fn assert_unavailable(r: &serve::Reply) {
    assert_eq!(r.status, 503);
    let body = r.json();
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], "503", "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("retry")),
        "{body}"
    );
}

/// Send until the answer is not a 503 (a serialization conflict between the instances
/// asks the client to retry; nothing was saved).
fn settle(
    f: &Fleet,
    t: usize,
    n: &mut usize,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> serve::Reply {
    let deadline = Instant::now() + PATIENCE;
    loop {
        *n += 1;
        let r = f.call(f.pick(t, *n), method, path, body);
        if r.status != 503 || Instant::now() > deadline {
            return r;
        }
        assert_unavailable(&r);
    }
}

fn ok(r: &serve::Reply, status: &[u16], what: &str) {
    assert!(
        status.contains(&r.status),
        "{what}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
}

/// Okta: look the user up, create it, replace it (PUT), deactivate it (PATCH
/// `active=false`, Okta never deletes), push a group, add the user, unlink the group.
fn okta_client(f: &Fleet, l: &Ledger, t: usize, round: usize) {
    let mut n = 0;
    let name = format!("okta-{t}-{round}@example.com");
    let found = settle(
        f,
        t,
        &mut n,
        "GET",
        &format!("/Users?filter=userName%20eq%20%22{name}%22&startIndex=1&count=100"),
        None,
    );
    ok(&found, &[200], "lookup");
    assert_eq!(found.json()["totalResults"], 0);
    let r = settle(
        f,
        t,
        &mut n,
        "POST",
        "/Users",
        Some(&okta_user(&name, &format!("00u{t}x{round}"))),
    );
    ok(&r, &[201], "create");
    let id = r.json()["id"].as_str().unwrap().to_owned();
    l.users.lock().unwrap().insert(id.clone(), name.clone());
    l.expect(&id, &["user.created"]);
    let mut full = okta_user(&name, &format!("00u{t}x{round}"));
    full["title"] = json!("Engineer");
    ok(
        &settle(f, t, &mut n, "PUT", &format!("/Users/{id}"), Some(&full)),
        &[200],
        "put",
    );
    l.expect(&id, &["user.updated"]);
    let off =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    ok(
        &settle(f, t, &mut n, "PATCH", &format!("/Users/{id}"), Some(&off)),
        &[200, 204],
        "deactivate",
    );
    l.expect(&id, &["user.deactivated"]);
    let group = json!({"schemas": [GROUP], "displayName": format!("okta-group-{t}-{round}")});
    let r = settle(f, t, &mut n, "POST", "/Groups", Some(&group));
    ok(&r, &[201], "push group");
    let gid = r.json()["id"].as_str().unwrap().to_owned();
    l.expect(&gid, &["group.created"]);
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": id, "display": name}]}]});
    ok(
        &settle(f, t, &mut n, "PATCH", &format!("/Groups/{gid}"), Some(&add)),
        &[200, 204],
        "add member",
    );
    l.expect(&gid, &["group.members_added"]);
    ok(
        &settle(f, t, &mut n, "DELETE", &format!("/Groups/{gid}"), None),
        &[204],
        "unlink group",
    );
    l.expect(&gid, &["group.deleted"]);
    l.deleted.lock().unwrap().insert(format!("/Groups/{gid}"));
}

/// Entra: look the user up by a filter, create it, PATCH in Entra's dialect (capitalised
/// ops, booleans as strings), create a group and add the user, then delete the user (the
/// group loses its member).
fn entra_client(f: &Fleet, l: &Ledger, t: usize, round: usize) {
    let mut n = 0;
    let name = format!("entra-{t}-{round}@example.com");
    let found = settle(
        f,
        t,
        &mut n,
        "GET",
        &format!("/Users?filter=userName+eq+%22{name}%22"),
        None,
    );
    ok(&found, &[200], "lookup");
    assert_eq!(found.json()["totalResults"], 0);
    let user = json!({"schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("e{t}x{round}"), "userName": name, "active": true,
        "displayName": "Grace Hopper", "name": {"givenName": "Grace", "familyName": "Hopper"},
        "emails": [{"primary": true, "type": "work", "value": name}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Navy"}});
    let r = settle(f, t, &mut n, "POST", "/Users", Some(&user));
    ok(&r, &[201], "create");
    let id = r.json()["id"].as_str().unwrap().to_owned();
    l.users.lock().unwrap().insert(id.clone(), name.clone());
    l.expect(&id, &["user.created"]);
    let rename = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "displayName", "value": "Grace B. Hopper"}]});
    ok(
        &settle(
            f,
            t,
            &mut n,
            "PATCH",
            &format!("/Users/{id}"),
            Some(&rename),
        ),
        &[200, 204],
        "rename",
    );
    l.expect(&id, &["user.updated"]);
    let group = json!({"schemas": [GROUP], "externalId": format!("g{t}x{round}"), "displayName": format!("entra-group-{t}-{round}"), "members": []});
    let r = settle(f, t, &mut n, "POST", "/Groups", Some(&group));
    ok(&r, &[201], "create group");
    let gid = r.json()["id"].as_str().unwrap().to_owned();
    l.expect(&gid, &["group.created"]);
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": id}]}]});
    ok(
        &settle(f, t, &mut n, "PATCH", &format!("/Groups/{gid}"), Some(&add)),
        &[200, 204],
        "add member",
    );
    l.expect(&gid, &["group.members_added"]);
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    ok(
        &settle(f, t, &mut n, "PATCH", &format!("/Users/{id}"), Some(&off)),
        &[200, 204],
        "disable",
    );
    l.expect(&id, &["user.deactivated"]);
    ok(
        &settle(f, t, &mut n, "DELETE", &format!("/Users/{id}"), None),
        &[204],
        "delete",
    );
    l.expect(&gid, &["group.members_removed"]);
    l.expect(&id, &["user.deleted"]);
    l.users.lock().unwrap().remove(&id);
    l.deleted.lock().unwrap().insert(format!("/Users/{id}"));
}

/// Every client tries to create the same user (in another letter case): exactly one wins,
/// the rest get 409 uniqueness, whichever instance they reach.
fn contend(f: &Fleet, l: &Ledger, t: usize, round: usize, winners: &AtomicUsize) {
    let mut n = 0;
    let name = format!("Shared-{round}@Example.com");
    let name = match t % 3 {
        0 => name.to_lowercase(),
        1 => name.to_uppercase(),
        _ => name,
    };
    let r = settle(
        f,
        t,
        &mut n,
        "POST",
        "/Users",
        Some(&okta_user(&name, &format!("shared{round}-{t}"))),
    );
    match r.status {
        201 => {
            winners.fetch_add(1, Ordering::SeqCst);
            let id = r.json()["id"].as_str().unwrap().to_owned();
            l.users.lock().unwrap().insert(id.clone(), name);
            l.expect(&id, &["user.created"]);
        }
        409 => assert_eq!(r.json()["scimType"], "uniqueness"),
        s => panic!("contended create: {s} {}", String::from_utf8_lossy(&r.body)),
    }
}

/// A client creating users until `stop`, each create acknowledged (201) or not (no
/// answer: the instance died; 503: the database is away), retried under a new name.
/// Returns how many 503s it saw.
fn creator(
    f: &Fleet,
    l: &Ledger,
    prefix: &str,
    t: usize,
    stop: &AtomicBool,
    dead: &AtomicBool,
) -> usize {
    let mut unavailable = 0;
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let name = format!("{prefix}-{t}-{i}@example.com");
        let at = f.pick(t, i);
        let sent = serve::http(
            at,
            &f.token,
            "POST",
            &format!("{}/Users", f.base),
            Some(&okta_user(&name, &format!("{prefix}{t}x{i}"))),
        );
        match sent {
            Ok(r) if r.status == 201 => {
                let id = r.json()["id"].as_str().unwrap().to_owned();
                l.users.lock().unwrap().insert(id.clone(), name);
                l.expect(&id, &["user.created"]);
            }
            Ok(r) if r.status == 503 => {
                assert_unavailable(&r);
                unavailable += 1;
                l.unavailable.fetch_add(1, Ordering::SeqCst);
                l.unsure.lock().unwrap().insert(name);
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(r) => panic!(
                "create {name}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
            // Only the killed instance may fail to answer.
            Err(e) => {
                assert!(at == f.addrs[0] && dead.load(Ordering::SeqCst), "{at}: {e}");
                f.first_dead.store(true, Ordering::SeqCst);
                l.unsure.lock().unwrap().insert(name);
            }
        }
    }
    unavailable
}

/// Consumer groups the host runs beside the instances (each in two processes' worth of
/// engines): every event must reach each group once and be acknowledged once.
const GROUPS: [&str; 2] = ["uem-sync", "access-sync"];

/// Events as a group was handed them: seq → (resource id, kind).
type Handed = BTreeMap<u64, (String, String)>;

/// What the consumer groups were handed and acknowledged.
#[derive(Default)]
struct Consumed {
    /// Per group: seq → (resource id, kind), as delivered.
    delivered: Mutex<HashMap<&'static str, Handed>>,
    /// Events handed to a group a second time.
    again: Mutex<Vec<(&'static str, u64)>>,
    /// Per group: the last seq acknowledged, and how many acknowledgements there were.
    acked: Mutex<HashMap<&'static str, (u64, usize)>>,
}

/// One consumer of `group`: take a batch, note it, acknowledge it (retrying while the
/// database is away: 503), until `stop`.
fn consume(engine: &scim::Engine, dir: &str, group: &'static str, c: &Consumed, stop: &AtomicBool) {
    let away = |e: &scim::error::ScimError| {
        assert_eq!(e.status, 503, "{group}: {e}");
        std::thread::sleep(Duration::from_millis(50));
    };
    while !stop.load(Ordering::SeqCst) {
        let events = match engine.next_group_events(dir, group, 200, Duration::from_millis(200)) {
            Ok(events) => events,
            Err(e) => {
                away(&e);
                continue;
            }
        };
        let Some(last) = events.last().map(|e| e.seq) else {
            continue;
        };
        {
            let mut delivered = c.delivered.lock().unwrap();
            let mine = delivered.entry(group).or_default();
            for e in events {
                if mine.insert(e.seq, (e.resource_id, e.kind)).is_some() {
                    c.again.lock().unwrap().push((group, e.seq));
                }
            }
        }
        while let Err(e) = engine.ack_group_events(dir, group, last) {
            away(&e);
        }
        let mut acked = c.acked.lock().unwrap();
        let a = acked.entry(group).or_default();
        assert!(last > a.0, "{group}: acknowledged {last} after {}", a.0);
        *a = (last, a.1 + 1);
    }
}

/// Wait until `cond` holds (a loaded machine: generous).
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_instances_under_okta_and_entra_load_lose_nothing_acknowledged() {
    let mut pg = postgres::Postgres::start();
    let url = pg.fresh_database();
    let scratch = Scratch::new("pg-instances");
    let root = &scratch.0;
    let key = root.join("secrets.key");
    let creds = root.join("credentials.json");
    // --keep-events: the outbox is left for the check at the end.
    let quiet = ["--keep-events", "--quiet"];
    let mut a = Some(serve::start(&serve_args(
        &url,
        &root.join("a"),
        &key,
        &creds,
        &quiet,
    )));
    let b = serve::start(&serve_args(&url, &root.join("b"), &key, &creds, &quiet));
    let (token, base) = credentials(&creds);
    let dir = base.rsplit('/').next().unwrap().to_owned();
    let fleet = Fleet {
        addrs: [a.as_ref().unwrap().addr, b.addr],
        token,
        base,
        first_dead: AtomicBool::new(false),
    };
    let ledger = Ledger::default();
    // The consumers: two engines (as two host processes), each a consumer of both groups.
    let engines: Vec<scim::Engine> = (0..2)
        .map(|_| {
            scim::Engine::open(
                Some(Path::new(&url)),
                scim::EngineConfig {
                    secrets_key: Some(scim::secret::key_file(&key).unwrap()),
                    ..scim::EngineConfig::default()
                },
            )
            .unwrap()
        })
        .collect();
    let consumed = Consumed::default();
    let consumers_stop = AtomicBool::new(false);
    let last = std::thread::scope(|consumers| {
        for engine in &engines {
            for group in GROUPS {
                let (dir, consumed, stop) = (&dir, &consumed, &consumers_stop);
                consumers.spawn(move || consume(engine, dir, group, consumed, stop));
            }
        }

        // 1. 32 clients, half Okta, half Entra, each request to the other instance than the
        //    last; and every round all of them race to create one shared user.
        const CLIENTS: usize = 32;
        const ROUNDS: usize = 2;
        let winners: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
        std::thread::scope(|s| {
            for t in 0..CLIENTS {
                let (f, l, winners) = (&fleet, &ledger, &winners);
                s.spawn(move || {
                    for (round, winner) in winners.iter().enumerate() {
                        if t % 2 == 0 {
                            okta_client(f, l, t, round);
                        } else {
                            entra_client(f, l, t, round);
                        }
                        contend(f, l, t, round, winner);
                    }
                });
            }
        });
        for (round, w) in winners.iter().enumerate() {
            assert_eq!(
                w.load(Ordering::SeqCst),
                1,
                "round {round}: one create of the shared user wins"
            );
        }

        // 2. kill -9 instance A while 16 clients create users on both: B carries on.
        let stop = AtomicBool::new(false);
        let dead = AtomicBool::new(false);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..16)
                .map(|t| {
                    let (f, l, stop, dead) = (&fleet, &ledger, &stop, &dead);
                    s.spawn(move || creator(f, l, "kill", t, stop, dead))
                })
                .collect();
            let before = ledger.acked.load(Ordering::SeqCst);
            wait_for("creates before the kill", || {
                ledger.acked.load(Ordering::SeqCst) >= before + 40
            });
            dead.store(true, Ordering::SeqCst);
            drop(a.take()); // SIGKILL, then reaped
            let at_kill = ledger.acked.load(Ordering::SeqCst);
            fleet.first_dead.store(true, Ordering::SeqCst);
            wait_for("B carrying on alone", || {
                ledger.acked.load(Ordering::SeqCst) >= at_kill + 80
            });
            stop.store(true, Ordering::SeqCst);
            for w in workers {
                assert_eq!(w.join().unwrap(), 0, "no 503 while the database is up");
            }
        });

        // 3. Restart PostgreSQL under load on B: 503 with a SCIM error while it is away,
        //    then B reconnects by itself.
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|t| {
                    let (f, l, stop, dead) = (&fleet, &ledger, &stop, &dead);
                    s.spawn(move || creator(f, l, "restart", t, stop, dead))
                })
                .collect();
            let before = ledger.acked.load(Ordering::SeqCst);
            wait_for("creates before the restart", || {
                ledger.acked.load(Ordering::SeqCst) >= before + 20
            });
            pg.stop();
            let down = ledger.acked.load(Ordering::SeqCst);
            wait_for("503s while the database is away", || {
                ledger.unavailable.load(Ordering::SeqCst) >= 8
            });
            let during = ledger.acked.load(Ordering::SeqCst);
            assert!(
                during <= down + 8,
                "at most the commits in flight at the stop: {down} → {during}"
            );
            pg.resume();
            wait_for("recovery", || {
                ledger.acked.load(Ordering::SeqCst) >= during + 40
            });
            stop.store(true, Ordering::SeqCst);
            let unavailable: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
            assert!(unavailable >= 8, "{unavailable} 503s");
        });

        // Every event reaches each group; then the consumers stop.
        let last = engines[0].event_stats(&dir).unwrap().last_seq;
        wait_for("every group acknowledging every event", || {
            let acked = consumed.acked.lock().unwrap();
            GROUPS
                .iter()
                .all(|g| acked.get(g).is_some_and(|a| a.0 == last))
        });
        consumers_stop.store(true, Ordering::SeqCst);
        last
    });

    // Every acknowledged user is there exactly once, the deleted ones are gone, and no
    // userName is there twice in any letter case.
    let (users, deleted, unsure) = (
        ledger.users.into_inner().unwrap(),
        ledger.deleted.into_inner().unwrap(),
        ledger.unsure.into_inner().unwrap(),
    );
    let mut listed: HashMap<String, String> = HashMap::new();
    let mut folded = HashSet::new();
    let mut start = 1;
    loop {
        let r = fleet.call(
            b.addr,
            "GET",
            &format!("/Users?attributes=userName&sortBy=userName&startIndex={start}&count=500"),
            None,
        );
        ok(&r, &[200], "list");
        let page = r.json();
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        for u in &resources {
            let (id, name) = (u["id"].as_str().unwrap(), u["userName"].as_str().unwrap());
            assert!(
                listed.insert(id.to_owned(), name.to_owned()).is_none(),
                "{id} listed twice"
            );
            assert!(folded.insert(name.to_lowercase()), "userName {name} twice");
        }
        start += resources.len();
        if resources.is_empty() || start > page["totalResults"].as_u64().unwrap() as usize {
            break;
        }
    }
    for (id, name) in &users {
        assert_eq!(
            listed.get(id),
            Some(name),
            "acknowledged user {name} ({id})"
        );
    }
    for path in &deleted {
        let r = fleet.call(b.addr, "GET", path, None);
        assert_eq!(r.status, 404, "deleted {path} is gone");
        assert_eq!(r.json()["schemas"], json!([ERROR]));
    }
    // Beyond the acknowledged users only creates that never got an answer.
    let extra: Vec<&String> = listed
        .iter()
        .filter(|(id, _)| !users.contains_key(*id))
        .map(|(_, name)| name)
        .collect();
    for name in &extra {
        assert!(
            unsure.contains(*name),
            "{name} exists but was never acknowledged nor sent unanswered"
        );
    }

    // Each group was handed every event once and acknowledged each once: the same events,
    // and, per resource, exactly those its acknowledged writes made, in order (an
    // unanswered create made one event or none, as it exists or not).
    assert_eq!(
        consumed.again.into_inner().unwrap(),
        vec![],
        "events handed to a group twice"
    );
    let mut delivered = consumed.delivered.into_inner().unwrap();
    let seen = delivered.remove(GROUPS[0]).unwrap_or_default();
    assert_eq!(seen.keys().last(), Some(&last));
    assert_eq!(
        delivered.remove(GROUPS[1]).as_ref(),
        Some(&seen),
        "both groups got the same events"
    );
    let acks = consumed.acked.into_inner().unwrap();
    println!(
        "{} events; acknowledgements: {acks:?}; {} 503s seen by the creators",
        seen.len(),
        ledger.unavailable.load(Ordering::SeqCst)
    );
    let mut actual: HashMap<String, Vec<String>> = HashMap::new();
    for (id, kind) in seen.into_values() {
        actual.entry(id).or_default().push(kind);
    }
    let expected = ledger.expected.into_inner().unwrap();
    for (id, kinds) in &expected {
        assert_eq!(
            actual.get(id).map(Vec::as_slice).unwrap_or_default(),
            kinds.as_slice(),
            "events of {id}"
        );
    }
    for (id, kinds) in &actual {
        if !expected.contains_key(id) {
            assert!(
                listed.get(id).is_some_and(|n| extra.contains(&n)),
                "events of unknown {id}: {kinds:?}"
            );
            assert_eq!(kinds, &["user.created"], "{id}");
        }
    }
    assert_eq!(
        actual.len(),
        expected.len() + extra.len(),
        "one resource per acknowledged or unanswered-but-done create"
    );
    drop(b);
}
