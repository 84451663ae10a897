//! `serve` shows provisioning as it happens (issue 16, first part): one line per SCIM
//! request and one per change event (it is the host: it acknowledges them), as text or
//! JSON, none with `--quiet`, never a token; and with `--listen 127.0.0.1:0` it prints the
//! port actually bound.
#![cfg(unix)]

#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/serve.rs"]
mod support;

use scratch::Scratch;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{http, serve_binary, Killed, Reply};

/// Generous: a loaded 2-core CI machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// A forged token sent once: it must never appear in the output.
const FORGED: &str = "scim_forgedtokentextthatmustneverbelogged0000";

/// A running `serve`, its banner read: what a client needs, and its later stdout lines.
struct Serve {
    child: Killed,
    addr: SocketAddr,
    tenant_url: String,
    /// The SCIM path of the directory, `/scim/v2/<id>`.
    base: String,
    token: String,
    banner: Vec<String>,
    lines: mpsc::Receiver<String>,
    /// Every line after the banner, as received.
    activity: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Serve {
    fn start(data: &Path, flags: &[&str]) -> Serve {
        let mut child = Killed(
            Command::new(serve_binary())
                .args(["--listen", "127.0.0.1:0", "--idp", "okta", "--data"])
                .arg(data)
                .args(flags)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start serve"),
        );
        let out = BufReader::new(child.0.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.0.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            s
        });
        let mut banner = Vec::new();
        loop {
            let line = lines
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|e| panic!("serve's banner ({e}): {banner:#?}"));
            let done = line.starts_with("Health check:");
            banner.push(line);
            if done {
                break;
            }
        }
        let field = |name: &str| {
            banner
                .iter()
                .find_map(|l| l.trim().strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {banner:#?}"))
                .trim()
                .to_owned()
        };
        let tenant_url = field("tenant URL:");
        let token = field("token:");
        let served = field("libscim is serving SCIM 2.0 on http://");
        let addr: SocketAddr = served.parse().expect("the served address");
        let rest = tenant_url
            .strip_prefix("http://")
            .expect("an http tenant URL");
        let (host, path) = rest.split_at(rest.find('/').expect("a path"));
        Serve {
            child,
            addr: host.parse().expect("the tenant URL names host:port"),
            base: path.to_owned(),
            tenant_url: tenant_url.clone(),
            token,
            banner,
            lines,
            activity: Vec::new(),
            stderr,
        }
        .check_address(addr)
    }

    /// The tenant URL names the port actually bound: not 0, and it answers.
    fn check_address(self, served: SocketAddr) -> Serve {
        assert_ne!(self.addr.port(), 0, "{}", self.tenant_url);
        assert_eq!(self.addr, served, "{:#?}", self.banner);
        TcpStream::connect(self.addr).expect("the tenant URL's port accepts connections");
        self
    }

    fn directory_id(&self) -> &str {
        self.base.rsplit('/').next().unwrap()
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let path = format!("{}{path}", self.base);
        http(self.addr, &self.token, method, &path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Read stdout until a line satisfies `want`; the line.
    fn wait_for(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        if let Some(l) = self.activity.iter().find(|l| want(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.activity.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("no line with {what} ({e}); lines: {:#?}", self.activity),
            }
        }
    }

    /// SIGTERM, wait for a clean exit; the rest of stdout, and stderr.
    fn stop(mut self) -> (Vec<String>, String) {
        let pid = self.child.0.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success());
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(s) = self.child.0.try_wait().expect("wait for serve") {
                break s;
            }
            assert!(Instant::now() < deadline, "serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "serve exited with {status}");
        self.activity.extend(self.lines.iter());
        let stderr = self.stderr.join().unwrap();
        (self.activity, stderr)
    }
}

fn user(name: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": external_id,
        "name": {"givenName": "Ann", "familyName": "Example"},
        "emails": [{"value": name, "type": "work", "primary": true}],
        "active": true,
    })
}

#[test]
fn human_lines_show_each_request_and_event_never_a_token() {
    let scratch = Scratch::new("activity-human");
    let creds = scratch.0.join("credentials.json");
    let mut serve = Serve::start(
        &scratch.0.join("data"),
        &["--credentials-file", creds.to_str().unwrap()],
    );
    // The credentials file names the bound port too.
    let written: Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(written["tenant_url"], serve.tenant_url.as_str());
    let id = serve.directory_id().to_owned();

    let r = serve.call("POST", "/Users", Some(&user("ann@example.com", "00u1")));
    assert_eq!(r.status, 201);
    let ann = r.json()["id"].as_str().unwrap().to_owned();
    let r = serve.call(
        "POST",
        "/Groups",
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "externalId": "00g1",
            "members": [{"value": ann, "display": "ann@example.com"}],
        })),
    );
    assert_eq!(r.status, 201);
    let r = serve.call(
        "GET",
        "/Users?filter=userName%20eq%20%22ann%40example.com%22",
        None,
    );
    assert_eq!(r.status, 200);
    let r = http(
        serve.addr,
        FORGED,
        "GET",
        &format!("{}/Users", serve.base),
        None,
    )
    .unwrap();
    assert_eq!(r.status, 401);

    // Request lines: directory name, method, path without the query, status, latency.
    let users = format!("/scim/v2/{id}/Users");
    let groups = format!("/scim/v2/{id}/Groups");
    let post = serve.wait_for("POST Users 201", |l| {
        l.contains(&format!("  Lab Directory  POST {users} 201 "))
    });
    assert!(post.ends_with(" ms"), "{post}");
    let time = post.split_whitespace().next().unwrap();
    assert!(
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_ok(),
        "{post}"
    );
    serve.wait_for("POST Groups 201", |l| {
        l.contains(&format!("  Lab Directory  POST {groups} 201 "))
    });
    serve.wait_for("GET Users 200", |l| {
        l.contains(&format!(" GET {users} 200 "))
    });
    serve.wait_for("GET Users 401", |l| {
        l.contains(&format!(" GET {users} 401 "))
    });

    // Event lines: kind, who, and the services whose records the event carries.
    serve.wait_for("user.created", |l| {
        l.ends_with("  Lab Directory  user.created ann@example.com → uem, access")
    });
    serve.wait_for("group.created", |l| {
        l.ends_with("  Lab Directory  group.created Engineering → uem, access")
    });
    serve.wait_for("group.members_added", |l| {
        l.ends_with(
            "  Lab Directory  group.members_added Engineering [ann@example.com] → uem, access",
        )
    });

    let token = serve.token.clone();
    let (lines, stderr) = serve.stop();
    assert!(
        lines
            .iter()
            .any(|l| l == "stopping: finishing in-flight requests"),
        "{lines:#?}"
    );
    let all = format!("{}\n{stderr}", lines.join("\n"));
    for secret in [token.as_str(), FORGED] {
        assert!(!all.contains(secret), "a token in the output:\n{all}");
    }
    for query in ["?filter", "%22", "%40"] {
        assert!(!all.contains(query), "the query in the output:\n{all}");
    }
}

#[test]
fn json_lines_parse_with_their_fields() {
    let scratch = Scratch::new("activity-json");
    let mut serve = Serve::start(&scratch.0.join("data"), &["--log-format", "json"]);
    let id = serve.directory_id().to_owned();
    let r = serve.call("POST", "/Users?x=1", Some(&user("ann@example.com", "00u1")));
    assert_eq!(r.status, 201);
    let ann = r.json()["id"].as_str().unwrap().to_owned();

    let is = |want: &'static str| move |l: &str| l.contains(want);
    let request: Value =
        serde_json::from_str(&serve.wait_for("request", is("\"type\":\"request\""))).unwrap();
    assert_eq!(request["directory"], "Lab Directory");
    assert_eq!(request["directory_id"], id.as_str());
    assert_eq!(request["method"], "POST");
    assert_eq!(request["path"], format!("/scim/v2/{id}/Users").as_str());
    assert_eq!(request["status"], 201);
    assert!(request["duration_ms"].as_f64().unwrap() >= 0.0, "{request}");
    assert!(request["time"].is_string(), "{request}");

    let event: Value =
        serde_json::from_str(&serve.wait_for("event", is("\"type\":\"event\""))).unwrap();
    assert_eq!(event["kind"], "user.created");
    assert_eq!(event["name"], "ann@example.com");
    assert_eq!(event["services"], json!(["uem", "access"]));
    assert_eq!(event["resource_type"], "User");
    assert_eq!(event["resource_id"], ann.as_str());
    assert_eq!(event["directory_id"], id.as_str());
    assert!(event["seq"].as_u64().unwrap() >= 1, "{event}");

    let token = serve.token.clone();
    let (lines, _) = serve.stop();
    for l in lines.iter().filter(|l| !l.starts_with("stopping:")) {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["type"] == "request" || v["type"] == "event", "{l}");
        assert!(!l.contains(&token), "{l}");
    }
}

#[test]
fn quiet_prints_no_activity_and_still_acknowledges_events() {
    let scratch = Scratch::new("activity-quiet");
    let data = scratch.0.join("data");
    let serve = Serve::start(&data, &["--quiet"]);
    assert_eq!(
        serve
            .call("POST", "/Users", Some(&user("ann@example.com", "00u1")))
            .status,
        201
    );
    assert_eq!(serve.call("GET", "/Users", None).status, 200);
    let (lines, stderr) = serve.stop();
    assert_eq!(
        lines,
        ["stopping: finishing in-flight requests"],
        "{stderr}"
    );

    // The quiet run acknowledged ann's event: a later run does not show it again. Events
    // come in order, so bob's line arriving first proves ann's was not pending.
    let mut serve = Serve::start(&data, &["--new-token"]);
    assert_eq!(
        serve
            .call("POST", "/Users", Some(&user("bob@example.com", "00u2")))
            .status,
        201
    );
    serve.wait_for("bob's event", |l| {
        l.ends_with("user.created bob@example.com → uem, access")
    });
    let (lines, _) = serve.stop();
    assert!(
        !lines.iter().any(|l| l.contains("ann@example.com")),
        "{lines:#?}"
    );
}

#[test]
fn public_url_still_wins_over_the_bound_port() {
    let scratch = Scratch::new("activity-public-url");
    let mut child = Killed(
        Command::new(serve_binary())
            .args(["--listen", "127.0.0.1:0", "--quiet", "--data"])
            .arg(scratch.0.join("data"))
            .args(["--public-url", "https://scim.example.test/"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve"),
    );
    let out = BufReader::new(child.0.stdout.take().unwrap());
    let tenant = out
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("tenant URL:")
                .map(|t| t.trim().to_owned())
        })
        .expect("a tenant URL");
    assert!(
        tenant.starts_with("https://scim.example.test/scim/v2/"),
        "{tenant}"
    );
}

#[test]
fn a_stdout_nobody_reads_never_holds_up_requests() {
    let scratch = Scratch::new("activity-blocked");
    let mut child = Killed(
        Command::new(serve_binary())
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(scratch.0.join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve"),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut addr = None;
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "serve's banner ended"
        );
        if let Some(a) = line.strip_prefix("libscim is serving SCIM 2.0 on http://") {
            addr = Some(a.trim().parse::<SocketAddr>().unwrap());
        }
        if line.starts_with("Health check:") {
            break;
        }
    }
    let addr = addr.expect("the served address");
    // Far more lines than the pipe (64 KiB) and serve's queue hold, none of them read.
    for i in 0..3000 {
        let r = http(addr, "-", "GET", "/healthz", None).unwrap();
        assert_eq!(r.status, 200, "request {i}");
    }
    // Once stdout is read again, serve says how many lines it dropped meanwhile.
    let drained = std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let mut err = child.0.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    // A request after the drain starts: its line is written, and the count follows it.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        http(addr, "-", "GET", "/healthz", None).unwrap().status,
        200
    );
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.0.wait().unwrap().success());
    drained.join().unwrap().unwrap();
    let stderr = stderr.join().unwrap();
    let dropped: u64 = stderr
        .lines()
        .filter_map(|l| {
            l.strip_prefix("WARN serve: ")?
                .strip_suffix(" activity lines dropped: stdout did not keep up")?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert!(dropped > 0, "{stderr}");
}

#[test]
fn keep_events_leaves_them_for_another_consumer() {
    let scratch = Scratch::new("activity-keep");
    let data = scratch.0.join("data");
    let mut serve = Serve::start(&data, &["--keep-events"]);
    assert_eq!(
        serve
            .call("POST", "/Users", Some(&user("ann@example.com", "00u1")))
            .status,
        201
    );
    serve.wait_for("the request line", |l| l.contains(" POST /scim/v2/"));
    let (lines, _) = serve.stop();
    assert!(
        !lines.iter().any(|l| l.contains("user.created")),
        "{lines:#?}"
    );

    // Unacknowledged, ann's event is still there for the next consumer, before bob's.
    let mut serve = Serve::start(&data, &["--new-token"]);
    assert_eq!(
        serve
            .call("POST", "/Users", Some(&user("bob@example.com", "00u2")))
            .status,
        201
    );
    serve.wait_for("bob's event", |l| {
        l.ends_with("user.created bob@example.com → uem, access")
    });
    let ann = serve
        .activity
        .iter()
        .position(|l| l.ends_with("user.created ann@example.com → uem, access"));
    let bob = serve
        .activity
        .iter()
        .position(|l| l.ends_with("user.created bob@example.com → uem, access"));
    assert!(ann.is_some() && ann < bob, "{:#?}", serve.activity);
}

#[test]
fn the_admin_api_is_on_with_a_credential_of_its_own() {
    let scratch = Scratch::new("activity-admin");
    let creds = scratch.0.join("credentials.json");
    let mut serve = Serve::start(
        &scratch.0.join("data"),
        &["--credentials-file", creds.to_str().unwrap()],
    );
    let credential = serve
        .banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("admin credential:"))
        .unwrap_or_else(|| panic!("no admin credential in {:#?}", serve.banner))
        .trim()
        .to_owned();
    assert!(credential.starts_with("scimadm_"), "{credential}");
    assert!(
        serve.banner.iter().any(|l| l
            == &format!(
                "Admin API:  http://{}/admin/api/ (docs/admin-api.md)",
                serve.addr
            )),
        "{:#?}",
        serve.banner
    );
    let written: Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(written["admin_credential"], credential.as_str());

    let addr = serve.addr;
    let admin = |token: &str, path: &str| {
        http(addr, token, "GET", &format!("/admin/api{path}"), None).unwrap()
    };
    let list = admin(&credential, "/directories");
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["directories"][0]["name"], "Lab Directory");
    assert_eq!(admin(&serve.token, "/directories").status, 401);

    let r = serve.call("POST", "/Users", Some(&user("ann@example.com", "00u1")));
    assert_eq!(r.status, 201);
    // The same summary on the terminal and in the feed: one function makes both.
    let line = serve.wait_for("user.created", |l| l.contains("user.created"));
    let feed = admin(&credential, "/activity").json();
    let summary = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i["summary"].as_str())
        .unwrap_or_else(|| panic!("no event in {feed}"))
        .to_owned();
    assert_eq!(summary, "user.created ann@example.com → uem, access");
    assert!(
        line.ends_with(&format!("  Lab Directory  {summary}")),
        "{line}"
    );

    // The admin API's own requests are not provisioning activity on the terminal.
    let (lines, _) = serve.stop();
    assert!(!lines.iter().any(|l| l.contains("/admin/")), "{lines:#?}");
    assert!(!lines.join("\n").contains(&credential));
}

#[test]
fn no_admin_turns_it_off() {
    let scratch = Scratch::new("activity-no-admin");
    let serve = Serve::start(&scratch.0.join("data"), &["--no-admin"]);
    assert!(
        !serve.banner.iter().any(|l| l.contains("admin")),
        "{:#?}",
        serve.banner
    );
    let r = http(
        serve.addr,
        "scimadm_x",
        "GET",
        "/admin/api/directories",
        None,
    )
    .unwrap();
    assert_eq!(r.status, 404);
    serve.stop();
}
