//! The console's files on the built-in server (its pages in a browser are
//! tests/console/console.mjs): served at `/admin` only while the admin API is on, to the
//! clients the API serves, with a Content-Security-Policy that allows only its own script.

#[path = "support/serve.rs"]
mod support;

use scim::admin::AdminOptions;
use scim::server::{Server, ServerOptions};
use scim::{Engine, EngineConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use support::http;

struct Fixture {
    server: Server,
    dir: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(name: &str, admin: Option<AdminOptions>, listen: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("libscim-console-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bound = Server::bind(ServerOptions {
        addr: listen.parse().unwrap(),
        admin,
        ..ServerOptions::default()
    })
    .unwrap();
    let engine = Engine::open(
        Some(&dir.join("libscim.db")),
        EngineConfig {
            public_url: format!("http://{}", bound.local_addr()),
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let server = bound.serve(Arc::new(engine)).unwrap();
    Fixture { server, dir }
}

fn loopback(f: &Fixture) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], f.server.local_addr().port()))
}

#[test]
fn the_console_is_served_with_its_policy_while_admin_is_on() {
    let (options, _) = AdminOptions::generate().unwrap();
    let f = start("on", Some(options), "127.0.0.1:0");
    let addr = loopback(&f);
    for (path, content_type, needle) in [
        (
            "/admin",
            "text/html",
            "<script src=\"/admin/console.js\" defer>",
        ),
        ("/admin/", "text/html", "<main id=\"app\">"),
        ("/admin/console.js", "text/javascript", "sessionStorage"),
        ("/admin/console.css", "text/css", ".card"),
    ] {
        // No credential needed for the files: they hold no data.
        let r = http(addr, "", "GET", path, None).unwrap();
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("Content-Type").unwrap().starts_with(content_type),
            "{path}"
        );
        let csp = r.header("Content-Security-Policy").unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
        assert!(String::from_utf8_lossy(&r.body).contains(needle), "{path}");
    }
    let r = http(addr, "", "GET", "/admin/nothing", None).unwrap();
    assert_eq!(r.status, 404);
    let r = http(addr, "", "DELETE", "/admin", None).unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    // The API beside it still asks for its credential.
    let r = http(addr, "", "GET", "/admin/api/directories", None).unwrap();
    assert_eq!(r.status, 401);
    assert!(r.header("Content-Security-Policy").is_none());
}

#[test]
fn no_console_while_admin_is_off() {
    let f = start("off", None, "127.0.0.1:0");
    let r = http(loopback(&f), "", "GET", "/admin", None).unwrap();
    assert_ne!(r.status, 200);
    assert!(r.header("Content-Security-Policy").is_none());
    assert!(!String::from_utf8_lossy(&r.body).contains("console.js"));
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
fn remote_clients_get_the_console_only_when_the_api_serves_them() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address on this machine: remote refusal not testable here");
        return;
    };
    let (options, _) = AdminOptions::generate().unwrap();
    let f = start("remote", Some(options.clone()), "0.0.0.0:0");
    let remote = SocketAddr::new(ip, f.server.local_addr().port());
    let r = http(remote, "", "GET", "/admin", None).unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["status"], "403");
    assert_eq!(
        http(loopback(&f), "", "GET", "/admin", None)
            .unwrap()
            .status,
        200
    );
    drop(f);
    let f = start(
        "remote-allowed",
        Some(options.allow_remote(true)),
        "0.0.0.0:0",
    );
    let remote = SocketAddr::new(ip, f.server.local_addr().port());
    assert_eq!(http(remote, "", "GET", "/admin", None).unwrap().status, 200);
}
