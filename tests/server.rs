//! The built-in server over real sockets: the same answers as in-process, keep-alive, TLS,
//! limits, authentication, graceful stop.

use scim::server::{Server, ServerOptions, TlsFiles};
use scim::store::{MemoryStore, Store};
use scim::{Engine, EngineConfig, Request};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/counting.rs"]
mod counting;
#[path = "support/directory.rs"]
mod directory;
use counting::Counting;

struct Fixture {
    engine: Arc<Engine>,
    server: Option<Server>,
    dir: String,
    token: String,
}

impl Fixture {
    fn new(tls: Option<TlsFiles>) -> Fixture {
        Self::with_options(ServerOptions {
            tls,
            ..ServerOptions::default()
        })
    }

    fn with_options(options: ServerOptions) -> Fixture {
        Self::on_store(Arc::new(MemoryStore::new()), options)
    }

    fn on_store(store: Arc<dyn Store>, options: ServerOptions) -> Fixture {
        let engine = Arc::new(Engine::new(
            EngineConfig {
                public_url: "http://scim.test".into(),
                ..EngineConfig::default()
            },
            store,
        ));
        let (dir, token) = directory::okta_uem(&engine, "Lab");
        let server = Server::start(
            engine.clone(),
            ServerOptions {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..options
            },
        )
        .unwrap();
        Fixture {
            engine,
            server: Some(server),
            dir,
            token,
        }
    }

    /// Another directory of the same engine: its id and token.
    fn other_directory(&self, name: &str) -> (String, String) {
        directory::okta_uem(&self.engine, name)
    }

    fn addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().local_addr()
    }

    fn path(&self, p: &str) -> String {
        format!("/scim/v2/{}{p}", self.dir)
    }
}

/// A parsed HTTP/1.1 response.
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

fn request_bytes(method: &str, path: &str, token: Option<&str>, body: Option<&[u8]>) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: scim.test\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    bytes
}

fn read_reply(r: &mut impl BufRead) -> Reply {
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
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let bytes = body.map(|b| b.to_string().into_bytes());
    (&stream)
        .write_all(&request_bytes(method, path, token, bytes.as_deref()))
        .unwrap();
    read_reply(&mut BufReader::new(&stream))
}

#[test]
fn http_answers_equal_in_process_answers() {
    let f = Fixture::new(None);
    let user = json!({"userName": "jane@example.com", "name": {"givenName": "Jane"}});
    let created = send(
        f.addr(),
        "POST",
        &f.path("/Users"),
        Some(&f.token),
        Some(user),
    );
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("Location").unwrap(),
        format!("http://scim.test/scim/v2/{}/Users/{id}", f.dir)
    );
    for (method, path) in [
        ("GET", f.path(&format!("/Users/{id}"))),
        ("GET", f.path("/Users")),
        ("GET", f.path("/Users/nope")),
        ("GET", f.path("/ServiceProviderConfig")),
        ("GET", f.path("/Schemas")),
        ("DELETE", f.path("/Schemas")),
    ] {
        let over_http = send(f.addr(), method, &path, Some(&f.token), None);
        let in_process = f.engine.handle(&Request {
            method: method.into(),
            path: path.clone(),
            headers: vec![("Authorization".into(), format!("Bearer {}", f.token))],
            ..Request::default()
        });
        assert_eq!(over_http.status, in_process.status, "{method} {path}");
        assert_eq!(over_http.body, in_process.body, "{method} {path}");
        for (k, v) in &in_process.headers {
            assert_eq!(over_http.header(k), Some(v.as_str()), "{method} {path} {k}");
        }
    }
    let health = send(f.addr(), "GET", "/healthz", None, None);
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let f = Fixture::new(None);
    let stream = TcpStream::connect(f.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(&stream);
    for i in 0..20 {
        let body = json!({"userName": format!("user{i}")}).to_string();
        (&stream)
            .write_all(&request_bytes(
                "POST",
                &f.path("/Users"),
                Some(&f.token),
                Some(body.as_bytes()),
            ))
            .unwrap();
        let r = read_reply(&mut reader);
        assert_eq!(r.status, 201, "request {i} on the same connection");
    }
    (&stream)
        .write_all(&request_bytes(
            "GET",
            &f.path("/Users"),
            Some(&f.token),
            None,
        ))
        .unwrap();
    assert_eq!(read_reply(&mut reader).json()["totalResults"], 20);
}

/// A connection hashes the token it sent last only once (`token::HashMemo`): every
/// request is still checked, so a token replaced or revoked between two requests of one
/// kept-alive connection is refused on the next, and another directory's token sent on
/// the same connection reaches only its own directory.
#[test]
fn one_connection_is_refused_as_soon_as_its_token_is_replaced_or_revoked() {
    let f = Fixture::new(None);
    let (other_dir, other_token) = f.other_directory("Other");
    let stream = TcpStream::connect(f.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(&stream);
    let mut get = |path: &str, token: &str| {
        (&stream)
            .write_all(&request_bytes("GET", path, Some(token), None))
            .unwrap();
        read_reply(&mut reader)
    };
    for _ in 0..3 {
        assert_eq!(get(&f.path("/Users"), &f.token).status, 200);
    }
    let other = format!("/scim/v2/{other_dir}/Users");
    assert_eq!(get(&other, &other_token).status, 200);
    let r = get(&f.path("/Users"), &other_token);
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (401, json!("401")),
        "another directory's token"
    );
    assert_eq!(get(&f.path("/Users"), &f.token).status, 200);
    let replaced = f.engine.issue_token(&f.dir, None).unwrap();
    let r = get(&f.path("/Users"), &f.token);
    assert_eq!(
        (r.status, r.header("WWW-Authenticate")),
        (401, Some("Bearer")),
        "the replaced token"
    );
    assert_eq!(get(&f.path("/Users"), &replaced.secret).status, 200);
    f.engine.revoke_token(&f.dir).unwrap();
    let r = get(&f.path("/Users"), &replaced.secret);
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (401, json!("401")),
        "the revoked token"
    );
}

#[test]
fn authentication_and_limits() {
    let f = Fixture::new(None);
    for token in [None, Some("scim_wrong"), Some("")] {
        let r = send(f.addr(), "GET", &f.path("/Users"), token, None);
        assert_eq!(r.status, 401);
        assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
        assert_eq!(r.json()["status"], "401");
    }
    // Oversized body: refused from the declared length, before reading it all.
    let limit = f.engine.config().provider.max_payload_size;
    let big = json!({"userName": "x".repeat(limit)});
    let r = send(
        f.addr(),
        "POST",
        &f.path("/Users"),
        Some(&f.token),
        Some(big),
    );
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["status"], "413");
    // Oversized chunked body: refused while streaming.
    let stream = TcpStream::connect(f.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n",
        f.path("/Users"),
        f.token
    );
    (&stream).write_all(head.as_bytes()).unwrap();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..(limit / chunk.len() + 2) {
        if (&stream)
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|_| (&stream).write_all(&chunk))
            .and_then(|_| (&stream).write_all(b"\r\n"))
            .is_err()
        {
            break;
        }
    }
    let _ = (&stream).write_all(b"0\r\n\r\n");
    assert_eq!(read_reply(&mut BufReader::new(&stream)).status, 413);
    let r = send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None);
    assert_eq!(r.json()["totalResults"], 0, "nothing was written");
}

#[test]
fn graceful_stop_finishes_in_flight_requests() {
    let mut f = Fixture::new(None);
    let body = json!({"userName": "late"}).to_string();
    let bytes = request_bytes(
        "POST",
        &f.path("/Users"),
        Some(&f.token),
        Some(body.as_bytes()),
    );
    let stream = TcpStream::connect(f.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Half the request is in; the server is asked to stop; the rest arrives after.
    let split = bytes.len() - 5;
    (&stream).write_all(&bytes[..split]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let server = f.server.take().unwrap();
    let addr = server.local_addr();
    let stopper = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(100));
    (&stream).write_all(&bytes[split..]).unwrap();
    let r = read_reply(&mut BufReader::new(&stream));
    assert_eq!(r.status, 201, "the in-flight request completed");
    stopper.join().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
    // And the write it acknowledged is there.
    let list = f.engine.handle(&Request {
        method: "GET".into(),
        path: f.path("/Users"),
        headers: vec![("Authorization".into(), format!("Bearer {}", f.token))],
        ..Request::default()
    });
    let list: Value = serde_json::from_slice(&list.body).unwrap();
    assert_eq!(list["totalResults"], 1);
}

#[test]
fn tls_with_a_test_ca() {
    use rustls::pki_types::{CertificateDer, ServerName};
    // A CA and a server certificate for 127.0.0.1 it signs, made here.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let dir = std::env::temp_dir().join(format!("libscim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();

    let f = Fixture::new(Some(TlsFiles {
        cert_chain: cert_path,
        private_key: key_path,
    }));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der().to_vec())).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(f.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(&request_bytes(
        "GET",
        &f.path("/ServiceProviderConfig"),
        Some(&f.token),
        None,
    ))
    .unwrap();
    let r = read_reply(&mut BufReader::new(&mut tls));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["etag"]["supported"], true);
    // Plain HTTP on the TLS port gets nowhere.
    let plain = TcpStream::connect(f.addr()).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    (&plain)
        .write_all(&request_bytes("GET", "/healthz", None, None))
        .unwrap();
    let mut buf = [0u8; 16];
    let n = (&plain).read(&mut buf).unwrap_or(0);
    assert!(!buf[..n].starts_with(b"HTTP/1.1 200"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn header_size_and_time_limits() {
    let f = Fixture::with_options(ServerOptions {
        max_header_bytes: 16 * 1024,
        header_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(500),
        ..ServerOptions::default()
    });
    // A head larger than the limit is refused, not buffered without end.
    let stream = TcpStream::connect(f.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(64 * 1024)
    );
    let _ = (&stream).write_all(big.as_bytes());
    let mut reply = String::new();
    let _ = BufReader::new(&stream).read_line(&mut reply);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431"),
        "an oversized head is refused: {reply:?}"
    );

    // A client that never finishes its head is cut off.
    let slow = TcpStream::connect(f.addr()).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (&slow)
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = (&slow).read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the connection was closed"
    );

    // A body that never completes gets 408 within the request time limit.
    let stalled = TcpStream::connect(f.addr()).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{",
        f.path("/Users"),
        f.token
    );
    (&stalled).write_all(head.as_bytes()).unwrap();
    let r = read_reply(&mut BufReader::new(&stalled));
    assert_eq!(r.status, 408);
    assert_eq!(r.json()["status"], "408");

    // The server still serves everyone else.
    assert_eq!(send(f.addr(), "GET", "/healthz", None, None).status, 200);
}

/// A SCIM error answer: the status, in the body too, and no `scimType` (RFC 7644 names
/// none for these statuses).
fn assert_scim_error(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["status"], status.to_string());
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(body.get("scimType").is_none(), "{body}");
}

/// A connection that sent a request head declaring a `declared`-byte body, and its first
/// byte; the caller sends the rest, or never does.
fn stalled_post(addr: SocketAddr, path: &str, token: &str, declared: usize) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/scim+json\r\nContent-Length: {declared}\r\n\r\n{{"
    );
    (&stream).write_all(head.as_bytes()).unwrap();
    stream
}

/// Whether the server has answered (or closed) a stalled request's connection: a stalled
/// request that arrived while a probe held the last slot was refused, and must be sent
/// again to take the slot.
fn answered(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let peeked = s.peek(&mut [0u8; 1]);
    s.set_nonblocking(false).unwrap();
    !matches!(peeked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Retry `f` until it holds (the server frees a slot when it sees a connection close,
/// which it may do a moment later); generous for a loaded machine.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(std::time::Instant::now() < until, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_unauthenticated_request_is_refused_before_its_body_is_sent() {
    let f = Fixture::new(None);
    let (other, _) = f.other_directory("Other");
    // A declared body (even asking for 100-continue) is never waited for: the 401 comes
    // while the client has sent only the head.
    for (token, path) in [
        (None, f.path("/Users")),
        (Some("scim_forged"), f.path("/Users")),
        // The right token on another directory's path is no token at all.
        (Some(f.token.as_str()), format!("/scim/v2/{other}/Users")),
    ] {
        for expect in ["", "Expect: 100-continue\r\n"] {
            let stream = TcpStream::connect(f.addr()).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}{expect}Content-Type: application/scim+json\r\nContent-Length: 500000\r\n\r\n"
            );
            (&stream).write_all(head.as_bytes()).unwrap();
            let r = read_reply(&mut BufReader::new(&stream));
            assert_scim_error(&r, 401);
            assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
        }
    }
    // With the right token the same head is answered only once the body came.
    let rest = br#""userName": "body"}"#;
    let stream = stalled_post(f.addr(), &f.path("/Users"), &f.token, 1 + rest.len());
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert!(
        (&stream).read(&mut buf).is_err(),
        "no answer before the body"
    );
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (&stream).write_all(rest).unwrap();
    assert_eq!(read_reply(&mut BufReader::new(&stream)).status, 201);
}

#[test]
fn an_unsupported_method_gets_405_with_allow() {
    let f = Fixture::new(None);
    for (method, path, allow) in [
        ("DELETE", f.path("/Users"), "GET, POST"),
        ("PATCH", f.path("/Groups"), "GET, POST"),
        ("POST", f.path("/Users/abc"), "GET, PUT, PATCH, DELETE"),
        ("GET", f.path("/Users/.search"), "POST"),
        ("GET", f.path("/Bulk"), "POST"),
        ("PUT", f.path("/ServiceProviderConfig"), "GET"),
        ("POST", f.path("/Schemas"), "GET"),
        ("PUT", f.path(""), "GET"),
        ("POST", "/healthz".to_owned(), "GET"),
    ] {
        let r = send(f.addr(), method, &path, Some(&f.token), None);
        assert_scim_error(&r, 405);
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
    }
}

#[test]
fn connections_beyond_the_cap_get_503_with_retry_after() {
    let f = Fixture::with_options(ServerOptions {
        max_connections: 2,
        ..ServerOptions::default()
    });
    // Two kept-alive connections, each known to be served.
    let held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let s = TcpStream::connect(f.addr()).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            (&s).write_all(&request_bytes("GET", "/healthz", None, None))
                .unwrap();
            assert_eq!(read_reply(&mut BufReader::new(&s)).status, 200);
            s
        })
        .collect();
    let r = send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None);
    assert_scim_error(&r, 503);
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(r.header("Connection"), Some("close"));
    // A held connection is still served; once one closes, a new one is.
    let s = &held[0];
    (&*s)
        .write_all(&request_bytes(
            "GET",
            &f.path("/Users"),
            Some(&f.token),
            None,
        ))
        .unwrap();
    assert_eq!(read_reply(&mut BufReader::new(s)).status, 200);
    drop(held);
    eventually("a new connection is served after others closed", || {
        send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None).status == 200
    });
}

#[test]
fn requests_in_flight_beyond_the_caps_get_503_or_429() {
    let f = Fixture::with_options(ServerOptions {
        max_in_flight: 3,
        max_in_flight_per_directory: 2,
        ..ServerOptions::default()
    });
    let (b, b_token) = f.other_directory("B");
    let b_users = format!("/scim/v2/{b}/Users");
    // Two requests of the Lab directory upload their bodies slowly: its share is taken.
    // (The probes are sequential, so a 429 means the stalled requests hold both slots.)
    let stall = || stalled_post(f.addr(), &f.path("/Users"), &f.token, 100);
    let mut stalled: Vec<TcpStream> = (0..2).map(|_| stall()).collect();
    eventually("the Lab directory is at its share", || {
        for s in stalled.iter_mut().filter(|s| answered(s)) {
            *s = stall();
        }
        send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None).status == 429
    });
    let r = send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None);
    assert_scim_error(&r, 429);
    assert_eq!(r.header("Retry-After"), Some("1"));
    // Another directory still has a slot.
    assert_eq!(
        send(f.addr(), "GET", &b_users, Some(&b_token), None).status,
        200
    );
    // With B holding the last slot too, the server as a whole is busy.
    let b_stall = || stalled_post(f.addr(), &b_users, &b_token, 100);
    let mut b_stalled = b_stall();
    eventually("the server is at its in-flight cap", || {
        if answered(&b_stalled) {
            b_stalled = b_stall();
        }
        send(f.addr(), "GET", "/scim/v2/x/Users", None, None).status == 503
    });
    let r = send(f.addr(), "GET", &b_users, Some(&b_token), None);
    assert_scim_error(&r, 503);
    assert_eq!(r.header("Retry-After"), Some("1"));
    // The health check is outside the caps.
    assert_eq!(send(f.addr(), "GET", "/healthz", None, None).status, 200);
    drop(stalled);
    drop(b_stalled);
    eventually("slots are released when their requests end", || {
        send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None).status == 200
    });
    assert_eq!(
        send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None).json()["totalResults"],
        0,
        "nothing the stalled requests carried was written"
    );
}

#[test]
fn a_directory_beyond_its_rate_gets_429_with_retry_after() {
    let f = Fixture::with_options(ServerOptions {
        rate_limit: Some(scim::server::RateLimit {
            per_second: 1,
            burst: 3,
        }),
        ..ServerOptions::default()
    });
    let (b, b_token) = f.other_directory("B");
    // Requests that fail authentication do not spend the directory's bucket.
    for _ in 0..5 {
        let r = send(
            f.addr(),
            "GET",
            &f.path("/Users"),
            Some("scim_forged"),
            None,
        );
        assert_eq!(r.status, 401);
    }
    // The burst of 3 is served, then requests are refused until the bucket refills (a
    // token a second; a slow machine may see one more served).
    let statuses: Vec<u16> = (0..3)
        .map(|_| send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200]);
    let refused = (0..20)
        .map(|_| send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None))
        .find(|r| r.status != 200)
        .expect("refused beyond the burst");
    assert_scim_error(&refused, 429);
    assert_eq!(refused.header("Retry-After"), Some("1"));
    // Writes are refused the same way, before their body is read: a refused one wrote
    // nothing.
    let mut created = 0;
    let refused = (0..20)
        .map(|i| {
            let user = json!({"userName": format!("user{i}")});
            send(
                f.addr(),
                "POST",
                &f.path("/Users"),
                Some(&f.token),
                Some(user),
            )
        })
        .find(|r| {
            created += usize::from(r.status == 201);
            r.status != 201
        })
        .expect("a write refused");
    assert_scim_error(&refused, 429);
    assert_eq!(refused.header("Retry-After"), Some("1"));
    let total = f
        .engine
        .handle(&Request {
            method: "GET".into(),
            path: f.path("/Users"),
            headers: vec![("Authorization".into(), format!("Bearer {}", f.token))],
            ..Request::default()
        })
        .body;
    let total: Value = serde_json::from_slice(&total).unwrap();
    assert_eq!(total["totalResults"], created);
    // The other directory has its own bucket.
    let b_users = format!("/scim/v2/{b}/Users");
    for _ in 0..3 {
        assert_eq!(
            send(f.addr(), "GET", &b_users, Some(&b_token), None).status,
            200
        );
    }
    // After Retry-After, the directory is served again.
    eventually("the bucket refills", || {
        send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None).status == 200
    });
}

#[test]
fn slow_heads_and_slow_bodies_time_out() {
    let f = Fixture::with_options(ServerOptions {
        header_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(800),
        max_connections: 64,
        ..ServerOptions::default()
    });
    // Slowloris: many connections, each trickling its head a byte at a time; every one
    // is closed by the header time limit however long it keeps trickling.
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let lorises: Vec<_> = (0..32)
        .map(|_| {
            let s = TcpStream::connect(f.addr()).unwrap();
            std::thread::spawn(move || {
                for b in head.iter() {
                    if (&s).write_all(&[*b]).is_err() {
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                false
            })
        })
        .collect();
    // Meanwhile the server serves others.
    assert_eq!(
        send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None).status,
        200
    );
    for l in lorises {
        assert!(l.join().unwrap(), "a slow head was cut off before it ended");
    }

    // A body trickling a byte every 100 ms never completes within the time limit: 408,
    // and nothing written.
    let stream = stalled_post(f.addr(), &f.path("/Users"), &f.token, 200);
    let writer = {
        let s = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..199 {
                if (&s).write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let r = read_reply(&mut BufReader::new(&stream));
    assert_scim_error(&r, 408);
    drop(stream);
    writer.join().unwrap();
    assert_eq!(
        send(f.addr(), "GET", &f.path("/Users"), Some(&f.token), None).json()["totalResults"],
        0
    );
}

#[test]
fn a_write_that_outlasts_the_time_limit_is_answered_with_its_outcome() {
    let f = Fixture::on_store(
        {
            // The memory store, its write transactions slowed down (a slow disk).
            let store = Counting::default();
            store.write_delay_ms.store(1500, Relaxed);
            Arc::new(store)
        },
        ServerOptions {
            request_timeout: Duration::from_millis(300),
            ..ServerOptions::default()
        },
    );
    // The write commits, then the store takes longer than the request time limit to
    // return: the client gets the 201 it earned, never a 408.
    let r = send(
        f.addr(),
        "POST",
        &f.path("/Users"),
        Some(&f.token),
        Some(json!({"userName": "slow@example.com"})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let got = send(
        f.addr(),
        "GET",
        &f.path(&format!("/Users/{id}")),
        Some(&f.token),
        None,
    );
    assert_eq!(got.json()["userName"], "slow@example.com");
}
