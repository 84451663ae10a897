//! One structured access-log line per request, through the `log` facade, never with a
//! token. (Its own test binary: it installs the process-wide logger.)

use parking_lot::Mutex;
use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::mapping::Profile;
use scim::server::{Server, ServerOptions};
use scim::store::MemoryStore;
use scim::{Engine, EngineConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

/// Target, message, and the record's key-values.
type Line = (String, String, Vec<(String, String)>);

static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());

struct Fields(Vec<(String, String)>);

impl<'kvs> log::kv::VisitSource<'kvs> for Fields {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        self.0.push((key.to_string(), value.to_string()));
        Ok(())
    }
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let mut fields = Fields(Vec::new());
        record.key_values().visit(&mut fields).unwrap();
        LINES.lock().push((
            record.target().to_owned(),
            record.args().to_string(),
            fields.0,
        ));
    }
    fn flush(&self) {}
}

fn get(addr: SocketAddr, path: &str, token: &str, user_agent: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path}?filter=userName%20eq%20%22secret.person%22 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\nUser-Agent: "
    )
    .unwrap();
    s.write_all(user_agent).unwrap();
    s.write_all(b"\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn access_log_lines_are_structured_and_never_carry_a_token() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let engine = Arc::new(Engine::new(
        EngineConfig::default(),
        Arc::new(MemoryStore::new()),
    ));
    let d = engine
        .create_directory(&NewDirectory {
            name: "Logged".into(),
            domain: "example.com".into(),
            idp: IdpKind::Entra,
            services: vec![Service::Access],
            settings: DirectorySettings::default(),
            mapping_profile: Some(Profile::Rfc),
        })
        .unwrap();
    let token = engine.issue_token(&d.id, None).unwrap().secret.to_string();
    let server = Server::start(
        engine,
        ServerOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let path = format!("/scim/v2/{}/Users", d.id);
    let addr = server.local_addr();
    assert!(get(addr, &path, &token, b"Okta SCIM Client 1.0.0").starts_with("HTTP/1.1 200"));
    assert!(get(addr, &path, "scim_forged", b"x").starts_with("HTTP/1.1 401"));
    // What a client chooses (path, user agent) cannot end its field or forge a line.
    let forged = format!("/scim/v2/{}\"/Users", d.id);
    assert!(
        get(addr, &forged, &token, b"evil\" status=200 \\ \t\xff end").starts_with("HTTP/1.1 401")
    );
    server.stop();

    let lines = LINES.lock().clone();
    let access: Vec<&String> = lines
        .iter()
        .filter(|(t, _, _)| t == "scim::access")
        .map(|(_, l, _)| l)
        .collect();
    assert_eq!(access.len(), 3, "{lines:?}");
    assert!(access[0].starts_with(&format!("method=GET path={path} status=200 duration_ms=")));
    assert!(access[0].ends_with(&format!(
        "directory={} user_agent=\"Okta SCIM Client 1.0.0\"",
        d.id
    )));
    assert!(access[1].contains("status=401"));
    let (id, ua) = (&d.id, r#"evil\" status=200 \\ \x09\xff end"#);
    assert!(
        access[2].starts_with(&format!(
            r#"method=GET path=/scim/v2/{id}\"/Users status=401 "#
        )),
        "{}",
        access[2]
    );
    assert!(
        access[2].ends_with(&format!(r#"directory={id}\" user_agent="{ua}""#)),
        "{}",
        access[2]
    );
    // The same fields as key-values, for a host that writes its own line (serve does).
    let fields: Vec<&Vec<(String, String)>> = lines
        .iter()
        .filter(|(t, _, _)| t == "scim::access")
        .map(|(_, _, kv)| kv)
        .collect();
    let names: Vec<&str> = fields[0].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "method",
            "path",
            "status",
            "duration_ms",
            "directory",
            "user_agent"
        ]
    );
    let field = |i: usize, k: &str| {
        fields[i]
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(field(0, "method"), "GET");
    assert_eq!(field(0, "path"), path);
    assert_eq!(field(0, "status"), "200");
    assert!(field(0, "duration_ms").parse::<f64>().unwrap() >= 0.0);
    assert_eq!(field(0, "directory"), d.id);
    assert_eq!(field(0, "user_agent"), "Okta SCIM Client 1.0.0");
    assert_eq!(field(1, "status"), "401");
    assert_eq!(field(2, "user_agent"), ua);
    for (_, line, kv) in &lines {
        let line = &format!("{line} {kv:?}");
        assert!(!line.contains(&token), "a token reached the log: {line}");
        assert!(!line.contains("scim_forged"));
        assert!(
            !line.contains("secret.person"),
            "queries stay out of the log"
        );
    }
}
