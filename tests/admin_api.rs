//! The admin API (`/admin/api/`, docs/admin-api.md) of the built-in server, over real
//! sockets on loopback, on a real SQLite file: every endpoint, its credential (never a
//! SCIM token), paging and filters through the SCIM engine, SCIM-style errors, token
//! regeneration, and the activity feed.

use scim::admin::AdminOptions;
use scim::server::{Server, ServerOptions};
use scim::{Engine, EngineConfig};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// A SCIM-style error with this status and scimType (`None`: none).
    #[track_caller]
    fn assert_error(&self, status: u16, scim_type: Option<&str>) -> Value {
        let b = self.json();
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(b["schemas"], json!([ERROR_SCHEMA]), "{b}");
        assert_eq!(b["status"], json!(status.to_string()), "{b}");
        assert_eq!(b["scimType"].as_str(), scim_type, "{b}");
        assert!(b["detail"].as_str().is_some_and(|d| !d.is_empty()), "{b}");
        b
    }
}

/// One HTTP/1.1 request on its own connection.
fn send(
    addr: SocketAddr,
    auth: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let body = body.unwrap_or("");
    let auth = auth
        .map(|a| format!("Authorization: Bearer {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

struct Fixture {
    engine: Arc<Engine>,
    server: Server,
    admin: String,
    /// Days added to the engine's clock (token expiry).
    days: Arc<AtomicI64>,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        Self::with(name, |o| o)
    }

    fn with(name: &str, admin: impl FnOnce(AdminOptions) -> AdminOptions) -> Fixture {
        let (options, secret) = AdminOptions::generate().unwrap();
        Self::start(
            name,
            Some(admin(options)),
            secret.to_string(),
            "127.0.0.1:0",
        )
    }

    fn start(name: &str, admin: Option<AdminOptions>, secret: String, listen: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("libscim-admin-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bound = Server::bind(ServerOptions {
            addr: listen.parse().unwrap(),
            admin,
            ..ServerOptions::default()
        })
        .unwrap();
        let days = Arc::new(AtomicI64::new(0));
        let clock_days = days.clone();
        let engine = Arc::new(
            Engine::open(
                Some(&dir.join("libscim.db")),
                EngineConfig {
                    public_url: format!("http://{}", bound.local_addr()),
                    ..EngineConfig::default()
                },
            )
            .unwrap()
            .with_clock(Arc::new(move || {
                time::OffsetDateTime::now_utc()
                    + time::Duration::days(clock_days.load(Ordering::SeqCst))
            })),
        );
        let server = bound.serve(engine.clone()).unwrap();
        Fixture {
            engine,
            server,
            admin: secret,
            days,
            dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// An admin request with the admin credential.
    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string());
        send(
            self.addr(),
            Some(&self.admin),
            method,
            &format!("/admin/api{path}"),
            body.as_deref(),
        )
    }

    /// A SCIM request with a directory token.
    fn scim(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string());
        send(self.addr(), Some(token), method, path, body.as_deref())
    }

    /// A directory made through the admin API: its id, SCIM path and token.
    fn directory(&self, name: &str, services: &[&str]) -> (String, String, String) {
        let r = self.admin(
            "POST",
            "/directories",
            Some(json!({"name": name, "domain": "example.com", "idp": "okta",
                        "services": services})),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let b = r.json();
        let id = b["directory"]["id"].as_str().unwrap().to_owned();
        let url = b["directory"]["tenantUrl"].as_str().unwrap();
        let base = url
            .split_once(&self.addr().to_string())
            .unwrap()
            .1
            .to_owned();
        (id, base, b["token"]["secret"].as_str().unwrap().to_owned())
    }
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("{name}@example.com"),
        "externalId": format!("ext-{name}"),
        "name": {"givenName": name, "familyName": "Tester"},
        "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}],
        "active": true,
    })
}

#[test]
fn every_request_needs_the_admin_credential_never_a_scim_token() {
    let f = Fixture::new("auth");
    let (id, base, token) = f.directory("Auth Lab", &["uem", "access"]);
    let paths = [
        "/admin/api/directories".to_owned(),
        format!("/admin/api/directories/{id}"),
        format!("/admin/api/directories/{id}/users"),
        "/admin/api/activity".to_owned(),
    ];
    for path in &paths {
        for auth in [
            None,
            Some(token.as_str()),
            Some("scimadm_wrong_credential_0000000"),
        ] {
            let r = send(f.addr(), auth, "GET", path, None);
            r.assert_error(401, None);
            assert_eq!(
                r.header("WWW-Authenticate"),
                Some("Bearer realm=\"libscim-admin\""),
                "{path}"
            );
        }
    }
    // A refused write changes nothing.
    let r = send(
        f.addr(),
        Some(&token),
        "DELETE",
        &format!("/admin/api/directories/{id}"),
        None,
    );
    r.assert_error(401, None);
    assert_eq!(
        f.admin("GET", &format!("/directories/{id}"), None).status,
        200
    );
    // And the admin credential is no SCIM token.
    f.scim(&f.admin, "GET", &format!("{base}/Users"), None)
        .assert_error(401, None);
    assert_eq!(
        f.scim(&token, "GET", &format!("{base}/Users"), None).status,
        200
    );
}

#[test]
fn off_unless_enabled() {
    let f = Fixture::start("off", None, String::new(), "127.0.0.1:0");
    let r = send(
        f.addr(),
        Some("scimadm_anything_at_all_000000000"),
        "GET",
        "/admin/api/directories",
        None,
    );
    // No such endpoint: what any unknown path gets from the SCIM server.
    r.assert_error(404, None);
    // And nothing is recorded.
    assert!(!f.engine.activity().is_enabled());
}

/// A non-loopback address of this machine, if it has one (the source address it would
/// use towards a documentation address; nothing is sent).
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn remote_clients_are_refused_unless_allowed() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address on this machine: remote refusal not testable here");
        return;
    };
    let (options, secret) = AdminOptions::generate().unwrap();
    let f = Fixture::start("remote", Some(options), secret.to_string(), "0.0.0.0:0");
    let remote = SocketAddr::new(ip, f.addr().port());
    let local = SocketAddr::from(([127, 0, 0, 1], f.addr().port()));
    // Refused from the address alone, with or without the credential.
    for auth in [Some(f.admin.as_str()), None] {
        send(remote, auth, "GET", "/admin/api/directories", None).assert_error(403, None);
    }
    assert_eq!(
        send(local, Some(&f.admin), "GET", "/admin/api/directories", None).status,
        200
    );
    drop(f);

    let (options, secret) = AdminOptions::generate().unwrap();
    let f = Fixture::start(
        "remote-allowed",
        Some(options.allow_remote(true)),
        secret.to_string(),
        "0.0.0.0:0",
    );
    let remote = SocketAddr::new(ip, f.addr().port());
    assert_eq!(
        send(
            remote,
            Some(&f.admin),
            "GET",
            "/admin/api/directories",
            None
        )
        .status,
        200
    );
    send(remote, None, "GET", "/admin/api/directories", None).assert_error(401, None);
}

#[test]
fn directories_are_created_read_changed_and_deleted() {
    let f = Fixture::new("directories");
    let r = f.admin(
        "POST",
        "/directories",
        Some(
            json!({"name": "Sales Lab", "domain": "Sales.Example.com", "idp": "entra",
                    "services": ["access", "uem"], "settings": {"enforceDomain": true},
                    "tokenLifespanMonths": 12}),
        ),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert!(r
        .header("Content-Type")
        .is_some_and(|c| c.starts_with("application/json")));
    let b = r.json();
    let d = &b["directory"];
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("Location"),
        Some(format!("/admin/api/directories/{id}").as_str())
    );
    assert_eq!(d["name"], "Sales Lab");
    assert_eq!(d["domain"], "sales.example.com");
    assert_eq!(d["idp"], "entra");
    assert_eq!(d["services"], json!(["uem", "access"]));
    assert_eq!(
        d["settings"],
        json!({"enforceDomain": true, "strict": false, "fillDomain": true})
    );
    assert_eq!(
        d["tenantUrl"],
        format!("http://{}/scim/v2/{id}", f.addr()).as_str()
    );
    assert_eq!(d["login"], Value::Null);
    assert_eq!(d["token"]["lifespanMonths"], 12);
    assert_eq!(d["token"]["expired"], false);
    assert_eq!(d["token"]["expiresSoon"], false);
    let secret = b["token"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("scim_"));
    assert_eq!(b["token"]["expiresAt"], d["token"]["expiresAt"]);
    // The token works on SCIM at once.
    assert_eq!(
        f.scim(secret, "GET", &format!("/scim/v2/{id}/Users"), None)
            .status,
        200
    );

    let list = f.admin("GET", "/directories", None).json();
    let names: Vec<&str> = list["directories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Sales Lab"]);
    let got = f.admin("GET", &format!("/directories/{id}"), None).json();
    assert_eq!(got, *d);

    // Partial settings keep the others; services and domain change.
    let r = f.admin(
        "PATCH",
        &format!("/directories/{id}"),
        Some(json!({"domain": "example.org", "services": ["uem"], "settings": {"strict": true}})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let p = r.json();
    assert_eq!(p["domain"], "example.org");
    assert_eq!(p["services"], json!(["uem"]));
    assert_eq!(
        p["settings"],
        json!({"enforceDomain": true, "strict": true, "fillDomain": true})
    );
    // Name and IdP are fixed: not fields of a change.
    f.admin(
        "PATCH",
        &format!("/directories/{id}"),
        Some(json!({"name": "Other"})),
    )
    .assert_error(400, Some("invalidSyntax"));
    f.admin(
        "PATCH",
        &format!("/directories/{id}"),
        Some(json!({"domain": "nodot"})),
    )
    .assert_error(400, Some("invalidValue"));
    f.admin(
        "PATCH",
        &format!("/directories/{id}"),
        Some(json!({"services": []})),
    )
    .assert_error(400, Some("invalidValue"));
    assert_eq!(
        f.admin("GET", &format!("/directories/{id}"), None).json()["domain"],
        "example.org",
        "a refused change changed nothing"
    );

    // Delete: gone, its token too.
    let r = f.admin("DELETE", &format!("/directories/{id}"), None);
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    f.admin("GET", &format!("/directories/{id}"), None)
        .assert_error(404, None);
    f.admin("DELETE", &format!("/directories/{id}"), None)
        .assert_error(404, None);
    f.scim(secret, "GET", &format!("/scim/v2/{id}/Users"), None)
        .assert_error(401, None);
    assert_eq!(
        f.admin("GET", "/directories", None).json(),
        json!({"directories": []})
    );
}

#[test]
fn bad_creations_are_precise_and_create_nothing() {
    let f = Fixture::new("bad-create");
    let good = json!({"name": "Lab", "domain": "example.com", "idp": "okta", "services": ["uem"]});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let r = send(
        f.addr(),
        Some(&f.admin),
        "POST",
        "/admin/api/directories",
        Some("{\"name\": "),
    );
    r.assert_error(400, Some("invalidSyntax"));
    for (body, status, scim_type) in [
        (with("tokenLifespanMonths", json!(25)), 400, "invalidValue"),
        (with("tokenLifespanMonths", json!(0)), 400, "invalidValue"),
        (with("domain", json!("example")), 400, "invalidValue"),
        (with("name", json!("a/b")), 400, "invalidValue"),
        (with("services", json!([])), 400, "invalidValue"),
        (with("services", json!(["crm"])), 400, "invalidSyntax"),
        (with("idp", json!("ldap")), 400, "invalidSyntax"),
        (with("color", json!("red")), 400, "invalidSyntax"),
    ] {
        let r = f.admin("POST", "/directories", Some(body.clone()));
        let e = r.assert_error(status, Some(scim_type));
        if body.get("tokenLifespanMonths").is_some() {
            assert!(e["detail"].as_str().unwrap().contains("lifespan"), "{e}");
        }
    }
    assert_eq!(
        f.admin("GET", "/directories", None).json(),
        json!({"directories": []}),
        "no refused creation left a directory"
    );
    assert_eq!(
        f.admin("POST", "/directories", Some(good.clone())).status,
        201
    );
    f.admin("POST", "/directories", Some(with("name", json!("LAB"))))
        .assert_error(409, Some("uniqueness"));
    // Unknown directory, unknown route, wrong method.
    f.admin("GET", "/directories/nope", None)
        .assert_error(404, None);
    f.admin("GET", "/directories/nope/users", None)
        .assert_error(404, None);
    f.admin("GET", "/directories/nope/outbox", None)
        .assert_error(404, None);
    f.admin("GET", "/nothing", None).assert_error(404, None);
    let r = f.admin("PUT", "/directories", None);
    r.assert_error(405, None);
    assert_eq!(r.header("Allow"), Some("GET, POST"));
}

#[test]
fn regenerating_a_token_stops_the_old_one_at_once() {
    let f = Fixture::new("token");
    let (id, base, old) = f.directory("Token Lab", &["uem", "access"]);
    let users = format!("{base}/Users");
    assert_eq!(f.scim(&old, "GET", &users, None).status, 200);

    // A bad lifespan changes nothing: the old token still works.
    f.admin(
        "POST",
        &format!("/directories/{id}/token"),
        Some(json!({"lifespanMonths": 99})),
    )
    .assert_error(400, Some("invalidValue"));
    f.admin(
        "POST",
        &format!("/directories/{id}/token"),
        Some(json!({"months": 3})),
    )
    .assert_error(400, Some("invalidSyntax"));
    assert_eq!(f.scim(&old, "GET", &users, None).status, 200);

    let r = f.admin(
        "POST",
        &format!("/directories/{id}/token"),
        Some(json!({"lifespanMonths": 3})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let t = r.json();
    assert_eq!(t["lifespanMonths"], 3);
    let new = t["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    f.scim(&old, "GET", &users, None).assert_error(401, None);
    assert_eq!(f.scim(&new, "GET", &users, None).status, 200);
    let d = f.admin("GET", &format!("/directories/{id}"), None).json();
    assert_eq!(d["token"]["lifespanMonths"], 3);
    assert_eq!(d["token"]["expiresAt"], t["expiresAt"]);

    // No body: the default lifespan.
    let r = f.admin("POST", &format!("/directories/{id}/token"), None);
    assert_eq!(r.status, 201);
    let newest = r.json();
    assert_eq!(newest["lifespanMonths"], 6);
    let newest = newest["secret"].as_str().unwrap().to_owned();
    f.scim(&new, "GET", &users, None).assert_error(401, None);

    // Expiry as the console shows it: soon (30 days ahead), then expired.
    f.days.store(6 * 31 - 20, Ordering::SeqCst);
    let d = f.admin("GET", &format!("/directories/{id}"), None).json();
    assert_eq!(d["token"]["expiresSoon"], true, "{d}");
    assert_eq!(d["token"]["expired"], false, "{d}");
    assert_eq!(f.scim(&newest, "GET", &users, None).status, 200);
    f.days.store(6 * 31 + 1, Ordering::SeqCst);
    let d = f.admin("GET", &format!("/directories/{id}"), None).json();
    assert_eq!(d["token"]["expired"], true, "{d}");
    f.scim(&newest, "GET", &users, None).assert_error(401, None);
    f.days.store(0, Ordering::SeqCst);

    // Revoke.
    let r = f.admin("DELETE", &format!("/directories/{id}/token"), None);
    assert_eq!(r.status, 204);
    f.scim(&newest, "GET", &users, None).assert_error(401, None);
    let d = f.admin("GET", &format!("/directories/{id}"), None).json();
    assert_eq!(d["token"], Value::Null);
    f.admin("POST", "/directories/nope/token", None)
        .assert_error(404, None);
}

#[test]
fn mapping_entries_and_oidc_settings() {
    let f = Fixture::new("mappings");
    let (id, _, _) = f.directory("Map Lab", &["uem", "access"]);
    let m = f
        .admin("GET", &format!("/directories/{id}/mappings"), None)
        .json();
    let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["uem", "access"]);
    assert_eq!(m["uem"]["profile"], "workspace-one");
    assert!(m["uem"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["target"] == "userName" && e["required"] == true));

    let entry = format!("/directories/{id}/mappings/access/entries/costCenter2");
    let r = f.admin(
        "PUT",
        &entry,
        Some(json!({"source": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
                    "transform": {"kind": "uppercase"}})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let access = r.json();
    let added = access["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == "costCenter2")
        .cloned()
        .unwrap();
    assert_eq!(added["transform"], json!({"kind": "uppercase"}));
    // Only the access mapping changed.
    let m = f
        .admin("GET", &format!("/directories/{id}/mappings"), None)
        .json();
    assert_eq!(m["access"], access);
    assert!(!m["uem"].to_string().contains("costCenter2"));

    // Refusals: each precise, none changing anything.
    f.admin("PUT", &entry, Some(json!({"source": "noSuchAttribute"})))
        .assert_error(400, Some("invalidValue"));
    f.admin(
        "PUT",
        &entry,
        Some(json!({"target": "other", "source": "userName"})),
    )
    .assert_error(400, Some("invalidValue"));
    f.admin("PUT", &entry, Some(json!({"source": 1})))
        .assert_error(400, Some("invalidSyntax"));
    f.admin(
        "PUT",
        &format!("/directories/{id}/mappings/crm/entries/x"),
        Some(json!({"source": "userName"})),
    )
    .assert_error(404, None);
    f.admin(
        "PUT",
        &format!("{entry}?kind=device"),
        Some(json!({"source": "userName"})),
    )
    .assert_error(400, Some("invalidValue"));
    f.admin(
        "DELETE",
        &format!("/directories/{id}/mappings/uem/entries/userName"),
        None,
    )
    .assert_error(400, Some("invalidValue"));
    f.admin(
        "DELETE",
        &format!("/directories/{id}/mappings/uem/entries/noSuchTarget"),
        None,
    )
    .assert_error(404, None);
    assert_eq!(
        f.admin("GET", &format!("/directories/{id}/mappings"), None)
            .json(),
        m
    );

    // A group entry, then removing both.
    let group_entry = format!("/directories/{id}/mappings/uem/entries/groupNote?kind=group");
    let r = f.admin("PUT", &group_entry, Some(json!({"source": "displayName"})));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["target"] == "groupNote"));
    let r = f.admin("DELETE", &group_entry, None);
    assert_eq!(r.status, 200);
    assert!(!r.json().to_string().contains("groupNote"));
    let r = f.admin("DELETE", &entry, None);
    assert_eq!(r.status, 200);
    assert!(!r.json().to_string().contains("costCenter2"));

    // A service the directory does not feed.
    let (only_uem, _, _) = f.directory("Uem Only", &["uem"]);
    f.admin(
        "PUT",
        &format!("/directories/{only_uem}/mappings/access/entries/x"),
        Some(json!({"source": "userName"})),
    )
    .assert_error(400, Some("invalidValue"));

    // OIDC: set with the console defaults, refused for an unmapped attribute, cleared.
    let oidc = format!("/directories/{id}/oidc");
    let r = f.admin(
        "PUT",
        &oidc,
        Some(
            json!({"clientId": "client-1", "clientSecret": "s3cret-value",
                    "configUrl": "https://idp.example.com/.well-known/openid-configuration"}),
        ),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let d = r.json();
    assert!(!d.to_string().contains("s3cret-value"), "{d}");
    let login = &d["login"];
    assert_eq!(login["clientId"], "client-1");
    assert_eq!(login["claim"], "email");
    assert_eq!(login["attribute"], "email");
    assert_eq!(
        login["redirectUri"],
        format!("http://{}/login/{id}/callback", f.addr()).as_str()
    );
    assert_eq!(
        login["loginUrl"],
        format!("http://{}/login/{id}", f.addr()).as_str()
    );
    f.admin(
        "PUT",
        &oidc,
        Some(
            json!({"clientId": "c", "clientSecret": "s", "attribute": "noSuchTarget",
                    "configUrl": "https://idp.example.com/.well-known/openid-configuration"}),
        ),
    )
    .assert_error(400, Some("invalidValue"));
    f.admin(
        "PUT",
        &oidc,
        Some(json!({"clientId": "c", "clientSecret": "s",
                    "configUrl": "http://idp.example.com/.well-known/openid-configuration"})),
    )
    .assert_error(400, Some("invalidValue"));
    assert_eq!(
        f.admin("GET", &format!("/directories/{id}"), None).json()["login"]["clientId"],
        "client-1",
        "refused settings left the login as it was"
    );
    assert_eq!(f.admin("DELETE", &oidc, None).status, 204);
    assert_eq!(
        f.admin("GET", &format!("/directories/{id}"), None).json()["login"],
        Value::Null
    );
    f.admin("DELETE", "/directories/nope/oidc", None)
        .assert_error(404, None);
}

#[test]
fn users_and_groups_are_paged_filtered_and_shown_with_their_records() {
    let f = Fixture::new("users");
    let (id, base, token) = f.directory("People Lab", &["uem", "access"]);
    let mut ids = Vec::new();
    for name in ["ann", "bob", "cy", "dee", "eve"] {
        let r = f.scim(&token, "POST", &format!("{base}/Users"), Some(user(name)));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    let r = f.scim(
        &token,
        "POST",
        &format!("{base}/Groups"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Sales",
                    "members": [{"value": ids[0], "display": "ann@example.com"},
                                {"value": ids[1], "display": "bob@example.com"}]}),
        ),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let group = r.json()["id"].as_str().unwrap().to_owned();

    let users = format!("/directories/{id}/users");
    let page = f
        .admin(
            "GET",
            &format!("{users}?startIndex=2&count=2&sortBy=userName"),
            None,
        )
        .json();
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    let names: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob@example.com", "cy@example.com"]);
    let first = &page["Resources"][0];
    assert_eq!(first["active"], true);
    assert_eq!(first["externalId"], "ext-bob");
    assert_eq!(first["emails"][0]["value"], "bob@example.com");

    let filtered = f
        .admin(
            "GET",
            &format!("{users}?filter=userName%20sw%20%22dee%22"),
            None,
        )
        .json();
    assert_eq!(filtered["totalResults"], 1);
    assert_eq!(filtered["Resources"][0]["id"], ids[3].as_str());
    f.admin(
        "GET",
        &format!("{users}?filter=userName%20zz%20%22x%22"),
        None,
    )
    .assert_error(400, Some("invalidFilter"));
    f.admin("GET", &format!("{users}?color=red"), None)
        .assert_error(400, Some("invalidValue"));

    // One user: the SCIM resource, the per-service records, its events.
    let r = f.admin("GET", &format!("{users}/{}", ids[0]), None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let u = r.json();
    assert_eq!(u["user"]["userName"], "ann@example.com");
    assert_eq!(u["records"]["uem"]["userName"], "ann@example.com");
    assert_eq!(u["records"]["uem"]["email"], "ann@example.com");
    assert_eq!(u["records"]["access"]["firstName"], "ann");
    assert_eq!(u["records"]["access"]["externalId"], "ext-ann");
    let summaries: Vec<&str> = u["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "user.created ann@example.com → uem, access",
            "group.members_added Sales [ann@example.com, bob@example.com] → uem, access"
        ]
    );
    f.admin("GET", &format!("{users}/no-such-user"), None)
        .assert_error(404, None);

    // Groups: paged without members; one group with its members.
    let groups = f
        .admin("GET", &format!("/directories/{id}/groups?count=10"), None)
        .json();
    assert_eq!(groups["totalResults"], 1);
    assert_eq!(groups["Resources"][0]["displayName"], "Sales");
    assert!(groups["Resources"][0].get("members").is_none());
    f.admin(
        "GET",
        &format!("/directories/{id}/groups?filter=displayName%20eq"),
        None,
    )
    .assert_error(400, Some("invalidFilter"));
    let g = f
        .admin("GET", &format!("/directories/{id}/groups/{group}"), None)
        .json();
    assert_eq!(g["group"]["displayName"], "Sales");
    let mut members: Vec<(String, String)> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["type"], "User");
            (
                m["value"].as_str().unwrap().to_owned(),
                m["display"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    members.sort();
    let mut want = vec![
        (ids[0].clone(), "ann@example.com".to_owned()),
        (ids[1].clone(), "bob@example.com".to_owned()),
    ];
    want.sort();
    assert_eq!(members, want);
    f.admin("GET", &format!("/directories/{id}/groups/nope"), None)
        .assert_error(404, None);
}

#[test]
fn the_activity_feed_shows_scim_requests_and_their_events() {
    let f = Fixture::new("activity");
    let (id, base, token) = f.directory("Feed Lab", &["uem", "access"]);
    let (other, other_base, other_token) = f.directory("Other Lab", &["uem"]);
    let start = f.admin("GET", "/activity", None).json();
    let after = start["next"].as_u64().unwrap();

    let r = f.scim(&token, "POST", &format!("{base}/Users"), Some(user("ann")));
    assert_eq!(r.status, 201);
    let ann = r.json()["id"].as_str().unwrap().to_owned();
    let r = f.scim(
        &token,
        "GET",
        &format!("{base}/Users?filter=userName%20eq%20%22ann@example.com%22"),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        f.scim(
            &other_token,
            "POST",
            &format!("{other_base}/Users"),
            Some(user("bob"))
        )
        .status,
        201
    );

    let feed = f
        .admin(
            "GET",
            &format!("/activity?after={after}&directory={id}"),
            None,
        )
        .json();
    let items = feed["items"].as_array().unwrap();
    let event = items
        .iter()
        .find(|i| i["kind"] == "event")
        .unwrap_or_else(|| panic!("no event in {feed}"));
    assert_eq!(event["event"], "user.created");
    assert_eq!(event["resourceId"], ann.as_str());
    assert_eq!(event["resourceType"], "User");
    assert_eq!(
        event["summary"],
        "user.created ann@example.com → uem, access"
    );
    assert_eq!(event["directory"], id.as_str());
    assert_eq!(event["directoryName"], "Feed Lab");
    let requests: Vec<(String, String, u64)> = items
        .iter()
        .filter(|i| i["kind"] == "request")
        .map(|i| {
            assert!(i["latencyMs"].as_f64().is_some(), "{i}");
            (
                i["method"].as_str().unwrap().to_owned(),
                i["path"].as_str().unwrap().to_owned(),
                i["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        requests,
        [
            ("POST".to_owned(), format!("{base}/Users"), 201),
            // Never the query (it may carry personal data), never a token.
            ("GET".to_owned(), format!("{base}/Users"), 200),
        ]
    );
    assert!(!feed.to_string().contains(&token));
    assert!(items.iter().all(|i| i["directory"] == id.as_str()));
    let mut seqs: Vec<u64> = items.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // All directories: the other's event too; then nothing new after `next`.
    let all = f
        .admin("GET", &format!("/activity?after={after}"), None)
        .json();
    assert!(all["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["directory"] == other.as_str()
            && i["summary"] == "user.created bob@example.com → uem"));
    let next = all["next"].as_u64().unwrap();
    seqs.push(next);
    assert_eq!(
        f.admin("GET", &format!("/activity?after={next}"), None)
            .json(),
        json!({"items": [], "next": next})
    );
    // Paging by `limit`.
    let one = f
        .admin("GET", &format!("/activity?after={after}&limit=1"), None)
        .json();
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    assert_eq!(one["next"], one["items"][0]["seq"]);

    f.admin("GET", "/activity?after=-1", None)
        .assert_error(400, Some("invalidValue"));
    f.admin("GET", "/activity?limit=ten", None)
        .assert_error(400, Some("invalidValue"));
    f.admin("GET", "/activity?directory=nope", None)
        .assert_error(404, None);
}

#[test]
fn the_outbox_shows_what_is_pending_and_what_was_acknowledged() {
    let f = Fixture::new("outbox");
    let (id, base, token) = f.directory("Outbox Lab", &["uem", "access"]);
    let empty = f
        .admin("GET", &format!("/directories/{id}/outbox"), None)
        .json();
    assert_eq!(
        empty,
        json!({"pending": 0, "lastSeq": 0, "acked": 0, "kept": 0, "dropped": 0, "consumers": [],
               "recent": []})
    );
    for name in ["ann", "bob", "cy"] {
        let r = f.scim(&token, "POST", &format!("{base}/Users"), Some(user(name)));
        assert_eq!(r.status, 201);
    }
    let o = f
        .admin("GET", &format!("/directories/{id}/outbox?limit=2"), None)
        .json();
    assert_eq!(o["pending"], 3);
    assert_eq!(o["lastSeq"], 3);
    assert_eq!(o["acked"], 0);
    assert_eq!(o["kept"], 3);
    let recent = o["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0]["seq"], 1);
    assert_eq!(recent[0]["kind"], "user.created");
    assert_eq!(
        recent[0]["summary"],
        "user.created ann@example.com → uem, access"
    );
    assert_eq!(
        recent[0]["data"]["records"]["uem"]["userName"],
        "ann@example.com"
    );
    // Looking does not deliver: the host still gets every event.
    let delivered = f
        .engine
        .next_events(&id, 10, Duration::from_secs(10))
        .unwrap();
    assert_eq!(delivered.len(), 3);
    f.engine.ack_events(&id, 2).unwrap();
    let o = f
        .admin("GET", &format!("/directories/{id}/outbox"), None)
        .json();
    assert_eq!(o["pending"], 1);
    assert_eq!(o["acked"], 2);
    // Each consumer group with its cursors: group `default` was handed 3, applied 2.
    assert_eq!(
        o["consumers"],
        json!([{"group": "default", "acked": 2, "delivered": 3}])
    );
    assert_eq!(o["recent"][0]["seq"], 3);
    f.admin("GET", &format!("/directories/{id}/outbox?limit=x"), None)
        .assert_error(400, Some("invalidValue"));
}
