//! The built-in server over real sockets: the same answers as in-process, keep-alive, TLS,
//! limits, authentication, graceful stop.

use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::mapping::Profile;
use scim::server::{Server, ServerOptions, TlsFiles};
use scim::store::MemoryStore;
use scim::{Engine, EngineConfig, Request};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

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
        let engine = Arc::new(Engine::new(
            EngineConfig {
                public_url: "http://scim.test".into(),
                ..EngineConfig::default()
            },
            Arc::new(MemoryStore::new()),
        ));
        let d = engine
            .create_directory(&NewDirectory {
                name: "Lab".into(),
                domain: "example.com".into(),
                idp: IdpKind::Okta,
                services: vec![Service::Uem],
                settings: DirectorySettings::default(),
                mapping_profile: Some(Profile::Rfc),
            })
            .unwrap();
        let token = engine.issue_token(&d.id, None).unwrap().secret.to_string();
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
            dir: d.id,
            token,
        }
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
