//! The built-in server's login routes over real sockets, against the loopback test IdP:
//! the login is bound to the browser that began it (a signed cookie set at
//! `/login/<id>`, checked at the callback), and no number of unauthenticated begins
//! evicts another browser's login.

#[path = "oidc/support.rs"]
mod support;

use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::oidc::{OidcConfig, MAX_PENDING_LOGINS};
use scim::server::{Server, ServerOptions};
use scim::store::MemoryStore;
use scim::{Engine, EngineConfig, Request};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use support::{b64, Idp, Key};

const CLIENT: &str = "libscim-login-test";

struct Fx {
    idp: Idp,
    key: Key,
    server: Server,
    dir: String,
}

impl Fx {
    fn new() -> Fx {
        let idp = Idp::start();
        let key = Key::rsa("rsa2048-a.pk8", "key-a");
        idp.set_keys(&[&key]);
        let engine = Arc::new(Engine::new(
            EngineConfig {
                public_url: "http://127.0.0.1:8080".into(),
                ..EngineConfig::default()
            },
            Arc::new(MemoryStore::new()),
        ));
        let d = engine
            .create_directory(&NewDirectory {
                name: "Login Lab".into(),
                domain: "example.com".into(),
                idp: IdpKind::Okta,
                services: vec![Service::Uem],
                settings: DirectorySettings::default(),
                mapping_profile: None,
            })
            .unwrap();
        let mut config = OidcConfig::new(CLIENT, "s3cret", idp.config_url(), "");
        config.allow_http = true;
        engine.set_oidc(&d.id, config, "userName").unwrap();
        let token = engine.issue_token(&d.id, None).unwrap().secret;
        let created = engine.handle(&Request {
            method: "POST".into(),
            path: format!("/scim/v2/{}/Users", d.id),
            query: String::new(),
            headers: vec![
                ("Authorization".into(), format!("Bearer {}", token.as_str())),
                ("Content-Type".into(), "application/scim+json".into()),
            ],
            body: serde_json::to_vec(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@example.com",
                "externalId": "00u-ada",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
                "active": true
            }))
            .unwrap(),
        });
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let server = Server::start(
            engine.clone(),
            ServerOptions {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..ServerOptions::default()
            },
        )
        .unwrap();
        Fx {
            idp,
            key,
            server,
            dir: d.id,
        }
    }

    fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        get(self.server.local_addr(), path, cookie)
    }

    /// A browser begins a login: its login cookie (`name=value`, if it got one) and the
    /// authorization URL's query.
    fn try_begin(&self) -> (Option<String>, HashMap<String, String>) {
        let r = self.get(&format!("/login/{}", self.dir), None);
        assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
        let cookie = r
            .header("Set-Cookie")
            .map(|set| set.split(';').next().unwrap().to_owned());
        (cookie, query(r.header("Location").unwrap()))
    }

    fn begin(&self) -> (String, HashMap<String, String>) {
        let (cookie, q) = self.try_begin();
        let cookie = cookie.expect("a login cookie");
        assert!(
            cookie.starts_with("libscim_login=") && cookie.len() > 60,
            "{cookie}"
        );
        (cookie, q)
    }

    /// The IdP's token endpoint answers with an ID token for the login of `q`.
    fn arm(&self, q: &HashMap<String, String>) {
        let at = "at-1";
        let at_hash =
            b64(&ring::digest::digest(&ring::digest::SHA256, at.as_bytes()).as_ref()[..16]);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({
            "iss": self.idp.base, "aud": CLIENT, "sub": "00u-ada",
            "email": "ada@example.com", "email_verified": true,
            "iat": now, "exp": now + 300, "nonce": q["nonce"], "at_hash": at_hash,
        });
        self.idp.state.lock().unwrap().token_response = (
            200,
            json!({"access_token": at, "token_type": "Bearer", "expires_in": 300,
                   "id_token": self.key.sign(&claims, json!({}))}),
        );
    }

    fn callback(&self, state: &str, cookie: Option<&str>) -> Reply {
        self.get(
            &format!("/login/{}/callback?code=the-code&state={state}", self.dir),
            cookie,
        )
    }
}

#[test]
fn the_callback_is_bound_to_the_browser_that_began_the_login() {
    let fx = Fx::new();
    let (cookie_a, q_a) = fx.begin();
    let set = fx
        .get(&format!("/login/{}", fx.dir), None)
        .header("Set-Cookie")
        .unwrap()
        .to_owned();
    for attr in [
        format!("Path=/login/{}/callback", fx.dir),
        "HttpOnly".into(),
        "SameSite=Lax".into(),
        "Max-Age=600".into(),
    ] {
        assert!(set.contains(&attr), "{attr} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http on loopback: {set}");
    let (cookie_b, q_b) = fx.begin();
    assert_ne!(q_a["state"], q_b["state"]);
    assert!(
        !cookie_a.contains(&q_a["nonce"]),
        "the nonce stays on the server"
    );
    fx.arm(&q_a);

    // Browser A's callback delivered to a browser that began no login (login CSRF: an
    // attacker's code and state in the victim's browser), or to browser B.
    for cookie in [None, Some(cookie_b.as_str()), Some("libscim_login=forged")] {
        let r = fx.callback(&q_a["state"], cookie);
        assert_eq!(r.status, 400, "{cookie:?}");
        assert_eq!(
            r.json()["error"],
            "state_mismatch",
            "{cookie:?}: {:?}",
            r.json()
        );
        assert_eq!(
            r.header("Set-Cookie"),
            None,
            "a callback that is not this browser's leaves its own login alone"
        );
    }
    let exchanged = |fx: &Fx| fx.idp.state.lock().unwrap().token_requests.len();
    assert_eq!(
        exchanged(&fx),
        0,
        "a refused callback never reaches the IdP"
    );

    // The browser that began it logs in.
    let r = fx.callback(&q_a["state"], Some(&cookie_a));
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["user"]["userName"], "ada@example.com");
    assert_eq!(r.json()["claims"]["sub"], "00u-ada");
    let cleared = r.header("Set-Cookie").unwrap();
    assert!(
        cleared.starts_with("libscim_login=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // The PKCE verifier the token endpoint got is the one of A's challenge.
    assert_eq!(exchanged(&fx), 1);
    let form = fx.idp.state.lock().unwrap().token_requests[0].body.clone();
    let verifier = query(&format!("?{form}"))["code_verifier"].clone();
    assert_eq!(s256(&verifier), q_a["code_challenge"]);
    assert!(
        !cookie_a.contains(&verifier),
        "the verifier stays on the server"
    );

    // Browser B's state with browser A's cookie is refused too.
    let r = fx.callback(&q_b["state"], Some(&cookie_a));
    assert_eq!(r.json()["error"], "state_mismatch");
}

#[test]
fn unauthenticated_begins_evict_no_pending_login() {
    let fx = Fx::new();
    let (cookie, q) = fx.try_begin();
    // More begins than the old in-memory table held, from "another client".
    let addr = fx.server.local_addr();
    let path = format!("/login/{}", fx.dir);
    let per_thread = MAX_PENDING_LOGINS / 4 + 1;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                for _ in 0..per_thread {
                    assert_eq!(conn.get(&path, None).status, 302);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    fx.arm(&q);
    let r = fx.callback(&q["state"], cookie.as_deref());
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["user"]["userName"], "ada@example.com");
}

#[test]
fn cookies_are_secure_behind_https_and_survive_a_restart_with_the_secrets_key() {
    let key = scim::secret::SecretKey::generate_hex().unwrap();
    let store = Arc::new(MemoryStore::new());
    let engine = |key: Option<String>| {
        Engine::new(
            EngineConfig {
                public_url: "https://mdm.example.com/portal".into(),
                secrets_key: key,
                ..EngineConfig::default()
            },
            store.clone(),
        )
    };
    let e = engine(Some(key.clone()));
    let d = e
        .create_directory(&NewDirectory {
            name: "Secure".into(),
            domain: "example.com".into(),
            idp: IdpKind::Okta,
            services: vec![Service::Uem],
            settings: DirectorySettings::default(),
            mapping_profile: None,
        })
        .unwrap();
    let set = e.login_cookie(&d.id, Some("v"));
    assert_eq!(
        set,
        format!(
            "libscim_login=v; Path=/portal/login/{}/callback; Max-Age=600; HttpOnly; \
             SameSite=Lax; Secure",
            d.id
        )
    );
    assert_eq!(
        scim::engine::login_cookie_value("a=1; libscim_login=xyz; b=2"),
        Some("xyz")
    );
    assert_eq!(scim::engine::login_cookie_value("libscim_loginx=1"), None);

    // A sealed login opens in another engine with the same secrets key (a restart, or
    // another instance); without a secrets key each engine has its own.
    let idp = Idp::start();
    let mut config = OidcConfig::new(CLIENT, "s3cret", idp.config_url(), "");
    config.allow_http = true;
    e.set_oidc(&d.id, config.clone(), "userName").unwrap();
    let (start, sealed) = e.login_begin_sealed(&d.id).unwrap();
    let again = engine(Some(key));
    let err = again
        .login_complete_sealed(&d.id, "c", &start.state, Some(&sealed))
        .unwrap_err();
    // Past the cookie check, the (unarmed) token endpoint refuses the code.
    assert_eq!(err.code(), "token_exchange_failed", "{err}");

    let store = Arc::new(MemoryStore::new());
    let keyless = || Engine::new(EngineConfig::default(), store.clone());
    let first = keyless();
    let d = first
        .create_directory(&NewDirectory {
            name: "Keyless".into(),
            domain: "example.com".into(),
            idp: IdpKind::Okta,
            services: vec![Service::Uem],
            settings: DirectorySettings::default(),
            mapping_profile: None,
        })
        .unwrap();
    first.set_oidc(&d.id, config, "userName").unwrap();
    let (start, sealed) = first.login_begin_sealed(&d.id).unwrap();
    let err = keyless()
        .login_complete_sealed(&d.id, "c", &start.state, Some(&sealed))
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("state_mismatch", 400), "{err}");
    let err = first
        .login_complete_sealed(&d.id, "c", &start.state, Some(&sealed))
        .unwrap_err();
    assert_eq!(err.code(), "token_exchange_failed", "{err}");
}

// ---------------------------------------------------------------- HTTP

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One keep-alive connection.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Conn {
            reader: BufReader::new(s),
        }
    }

    fn get(&mut self, path: &str, cookie: Option<&str>) -> Reply {
        let mut head =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n");
        if let Some(c) = cookie {
            head.push_str(&format!("Cookie: theme=dark; {c}\r\n"));
        }
        head.push_str("\r\n");
        self.reader.get_mut().write_all(head.as_bytes()).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse::<usize>().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }
}

fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Reply {
    Conn::open(addr).get(path, cookie)
}

fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').unwrap().1;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (unescape(k), unescape(v)))
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn s256(verifier: &str) -> String {
    b64(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}
