//! The engine and the HTTP server over a real PostgreSQL (a throwaway cluster): selected
//! by URL in `Engine::open`, GETs answered inline on the server's tokio workers, writes
//! on its blocking pool, uniqueness and `If-Match` enforced, many clients at once.

#[path = "support/directory.rs"]
mod directory;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/serve.rs"]
mod serve;

use scim::server::{Server, ServerOptions};
use scim::{Engine, EngineConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: scim.test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    (&stream).write_all(&bytes).unwrap();
    let mut r = BufReader::new(&stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    let body = if rest.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&rest).unwrap()
    };
    Reply {
        status,
        headers,
        body,
    }
}

#[test]
fn serves_http_over_postgres() {
    let pg = postgres::Postgres::start();
    let url = pg.fresh_database();
    let engine = Arc::new(
        Engine::open(
            Some(Path::new(&url)),
            EngineConfig {
                public_url: "http://scim.test".into(),
                ..EngineConfig::default()
            },
        )
        .unwrap(),
    );
    let (dir, token) = directory::okta_uem(&engine, "Lab");
    let server = Server::start(
        engine.clone(),
        ServerOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let addr = server.local_addr();
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let users = format!("/scim/v2/{dir}/Users");

    // A write (blocking pool), then reads (inline on the tokio workers).
    let created = send(
        addr,
        "POST",
        &users,
        &auth,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                     "userName": "Alice@Example.com", "externalId": "a1"}),
        ),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let got = send(addr, "GET", &format!("{users}/{id}"), &auth, None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["userName"], "Alice@Example.com");
    let etag = got.header("ETag").unwrap().to_owned();
    let listed = send(
        addr,
        "GET",
        &format!("{users}?filter=userName%20eq%20%22alice%40example.COM%22"),
        &auth,
        None,
    );
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["totalResults"], 1);
    assert_eq!(listed.body["Resources"][0]["id"], id.as_str());

    // userName is unique case-insensitively: 409 uniqueness, nothing added.
    let dup = send(
        addr,
        "POST",
        &users,
        &auth,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                     "userName": "ALICE@example.com"}),
        ),
    );
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.body["scimType"], "uniqueness");

    // If-Match: the current version applies, a stale one is refused with 412.
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "displayName", "value": "A"}]});
    let first = send(
        addr,
        "PATCH",
        &format!("{users}/{id}"),
        &[auth[0], ("If-Match", &etag)],
        Some(patch.clone()),
    );
    assert_eq!(first.status, 200, "{}", first.body);
    let stale = send(
        addr,
        "PATCH",
        &format!("{users}/{id}"),
        &[auth[0], ("If-Match", &etag)],
        Some(patch),
    );
    assert_eq!(stale.status, 412, "{}", stale.body);

    // Many clients at once, reads and writes mixed: every write acknowledged is there.
    std::thread::scope(|s| {
        for t in 0..8 {
            let (users, auth, id) = (&users, &auth, &id);
            s.spawn(move || {
                for i in 0..10 {
                    let r = send(
                        addr,
                        "POST",
                        users,
                        auth,
                        Some(
                            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                     "userName": format!("user-{t}-{i}")}),
                        ),
                    );
                    assert_eq!(r.status, 201, "{}", r.body);
                    let r = send(addr, "GET", &format!("{users}/{id}"), auth, None);
                    assert_eq!(r.status, 200, "{}", r.body);
                }
            });
        }
    });
    let all = send(addr, "GET", &format!("{users}?count=0"), &auth, None);
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body["totalResults"], 1 + 8 * 10);
    let page = send(
        addr,
        "GET",
        &format!("{users}?sortBy=userName&sortOrder=descending&count=3"),
        &auth,
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let names: Vec<&str> = page.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user-7-9", "user-7-8", "user-7-7"]);

    // A second engine on the same database (another instance) sees it all.
    let other = Engine::open(Some(Path::new(&url)), EngineConfig::default()).unwrap();
    let events = other
        .next_events(&dir, 1000, Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        events.iter().filter(|e| e.kind == "user.created").count(),
        1 + 8 * 10
    );
    // And it is all in PostgreSQL's tables.
    let db = url.rsplit('/').next().unwrap();
    assert_eq!(
        pg.psql(db, "SELECT n FROM counts WHERE kind = 1"),
        (1 + 8 * 10).to_string()
    );
    drop(server);
}

/// `serve --database URL`, once it serves and has written its credentials file; with the
/// address it listens on.
fn start_serve(pg_url: &str, data: &Path, credentials: &Path) -> serve::Serving {
    serve::start(&[
        "--database".as_ref(),
        pg_url.as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--credentials-file".as_ref(),
        credentials.as_os_str(),
    ])
}

/// A user as Okta provisions it (what `serve`'s Workspace ONE profile requires).
fn okta_user(user_name: &str, external_id: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
           "userName": user_name, "externalId": external_id, "active": true,
           "name": {"givenName": "Bob", "familyName": "Smith"},
           "emails": [{"value": user_name, "type": "work", "primary": true}]})
}

#[test]
fn two_serve_processes_share_one_database() {
    let pg = postgres::Postgres::start();
    let url = pg.fresh_database();
    let root = std::env::temp_dir().join(format!("libscim-pg-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    // The instances share the sealing key (`--data`) and the database, not a file.
    let data = root.join("data");
    let credentials = root.join("credentials.json");
    let serve_a = start_serve(&url, &data, &credentials);
    let serve_b = start_serve(&url, &data, &credentials);
    let (a, b) = (serve_a.addr, serve_b.addr);
    let creds: Value = serde_json::from_slice(&std::fs::read(&credentials).unwrap()).unwrap();
    let token = creds["token"].as_str().unwrap();
    let tenant = creds["tenant_url"].as_str().unwrap();
    let users = format!("{}/Users", &tenant[tenant.find("/scim/").unwrap()..]);
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];

    // Written through one instance, read through the other.
    let created = send(
        a,
        "POST",
        &users,
        &auth,
        Some(okta_user("bob@example.com", "00u1")),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let got = send(b, "GET", &format!("{users}/{id}"), &auth, None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["userName"], "bob@example.com");
    // The same userName through the other instance: 409 uniqueness.
    let dup = send(
        b,
        "POST",
        &users,
        &auth,
        Some(okta_user("BOB@example.com", "00u2")),
    );
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.body["scimType"], "uniqueness");
    let _ = std::fs::remove_dir_all(&root);
}
