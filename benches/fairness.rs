//! Fairness (issue 14, item 3): one directory flooding the built-in server leaves another
//! directory's latency within 2x of idle. A ratio measured here, never asserted in a test.
//!
//! One engine on the embedded SQLite store, two directories A and B with the same users,
//! the built-in server on loopback. B is a well-behaved IdP: one keep-alive connection,
//! `GET /Users/{id}` at a steady pace (`SCIM_BENCH_B_RATE` requests/s, default 50; Entra
//! expects an endpoint to take 25 per tenant). A floods: `SCIM_BENCH_FLOOD_CONNECTIONS`
//! connections (default 16) listing `GET /Users?startIndex=…&count=50` back to back,
//! ignoring `Retry-After`, all driven by one client thread. B's latency is measured:
//!
//!   idle                       A silent
//!   flood, no rate limit       the default options (the in-flight share only)
//!   flood, rate limit          `rate_limit` per directory (`SCIM_BENCH_RATE`/s, default
//!                              100, burst twice that): A's excess is refused with 429
//!
//! and each figure is printed as a ratio to idle (lower is better; the goal is ≤ 2x).
//! `cargo bench --bench fairness`; `SCIM_BENCH_SECONDS` per figure (default 6),
//! `SCIM_BENCH_USERS` per directory (default 2000).

#[path = "harness/mod.rs"]
mod harness;

use http_body_util::{BodyExt, Empty};
use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::server::{RateLimit, Server, ServerOptions};
use scim::{Engine, EngineConfig, Request};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

struct Directory {
    id: String,
    token: String,
    user_ids: Vec<String>,
}

fn directory(engine: &Engine, name: &str, users: usize) -> Directory {
    let d = engine
        .create_directory(&NewDirectory {
            name: name.into(),
            domain: "example.com".into(),
            idp: IdpKind::Okta,
            services: vec![Service::Uem],
            settings: DirectorySettings::default(),
            mapping_profile: None,
        })
        .unwrap();
    let token = engine
        .issue_token(&d.id, None)
        .unwrap()
        .secret
        .as_str()
        .to_owned();
    let auth = vec![
        ("Authorization".into(), format!("Bearer {token}")),
        ("Content-Type".into(), "application/scim+json".into()),
    ];
    let mut user_ids = Vec::new();
    for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
        let ops: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {
                    "userName": format!("user{i}@example.com"),
                    "externalId": format!("ext{i}"),
                    "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}")},
                    "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
                    "active": true,
                }})
            })
            .collect();
        let resp = engine.handle(&Request {
            method: "POST".into(),
            path: format!("/scim/v2/{}/Bulk", d.id),
            headers: auth.clone(),
            body: json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": ops,
            })
            .to_string()
            .into_bytes(),
            ..Request::default()
        });
        let body: Value = harness::ok(resp, 200);
        for op in body["Operations"].as_array().unwrap() {
            assert_eq!(op["status"], "201", "{op}");
            let location = op["location"].as_str().unwrap();
            user_ids.push(location.rsplit('/').next().unwrap().to_owned());
        }
    }
    Directory {
        id: d.id,
        token,
        user_ids,
    }
}

/// One GET on a kept-alive connection; the status.
fn get(stream: &TcpStream, reader: &mut impl BufRead, path: &str, token: &str) -> u16 {
    let mut s = stream;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut len = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    status
}

/// B's latencies: one connection, a request every `1/rate` s for `seconds`.
fn paced_latencies(addr: SocketAddr, b: &Directory, rate: usize, seconds: f64) -> Vec<Duration> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let gap = Duration::from_secs_f64(1.0 / rate as f64);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut out = Vec::new();
    let mut next = Instant::now();
    let mut i = 0usize;
    while next < end {
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let id = &b.user_ids[(i * 7919) % b.user_ids.len()];
        let path = format!("/scim/v2/{}/Users/{id}", b.id);
        let t = Instant::now();
        let status = get(&stream, &mut reader, &path, &b.token);
        out.push(t.elapsed());
        assert_eq!(status, 200, "B is never refused");
        i += 1;
        next += gap;
    }
    out
}

/// A's flood: `connections` connections listing back to back from one client thread,
/// until `stop`. Counts what was served and what refused.
struct Flood {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

fn flood(addr: SocketAddr, a: &Directory, connections: usize) -> Flood {
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let (dir, token, users) = (a.id.clone(), a.token.clone(), a.user_ids.len());
    let thread = {
        let (stop, served, refused) = (stop.clone(), served.clone(), refused.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut tasks = Vec::new();
                for c in 0..connections {
                    let (stop, served, refused) = (stop.clone(), served.clone(), refused.clone());
                    let (dir, token) = (dir.clone(), token.clone());
                    tasks.push(tokio::spawn(async move {
                        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                        tcp.set_nodelay(true).unwrap();
                        let (mut send, conn) =
                            hyper::client::conn::http1::handshake::<_, Empty<bytes::Bytes>>(
                                hyper_util::rt::TokioIo::new(tcp),
                            )
                            .await
                            .unwrap();
                        tokio::spawn(conn);
                        let mut i = c * 97;
                        while !stop.load(Relaxed) {
                            let start = 1 + (i * 50) % users.max(1);
                            let req = hyper::Request::get(format!(
                                "/scim/v2/{dir}/Users?startIndex={start}&count=50"
                            ))
                            .header("Host", "bench")
                            .header("Authorization", format!("Bearer {token}"))
                            .body(Empty::new())
                            .unwrap();
                            let Ok(resp) = send.send_request(req).await else {
                                return;
                            };
                            let status = resp.status().as_u16();
                            let _ = resp.into_body().collect().await;
                            match status {
                                200 => served.fetch_add(1, Relaxed),
                                429 | 503 => refused.fetch_add(1, Relaxed),
                                other => panic!("A got {other}"),
                            };
                            i += 1;
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            });
        })
    };
    Flood {
        stop,
        served,
        refused,
        thread,
    }
}

struct Figure {
    name: String,
    median: Duration,
    p90: Duration,
    p99: Duration,
    samples: usize,
    flood: Option<(f64, f64)>,
}

fn figure(name: &str, mut lat: Vec<Duration>, flood: Option<(f64, f64)>) -> Figure {
    lat.sort();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Figure {
        name: name.into(),
        median: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        samples: lat.len(),
        flood,
    }
}

/// B's latency on a server with `options`, idle or while A floods.
fn scenario(
    engine: &Arc<Engine>,
    options: ServerOptions,
    dirs: (&Directory, &Directory),
    flooding: Option<usize>,
    name: &str,
    seconds: f64,
    b_rate: usize,
) -> Figure {
    let (a, b) = dirs;
    let server = Server::start(
        engine.clone(),
        ServerOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..options
        },
    )
    .unwrap();
    let addr = server.local_addr();
    // Warm B's connection path (authentication cache, statement cache).
    paced_latencies(addr, b, 1000, 0.05);
    let f = flooding.map(|c| flood(addr, a, c));
    if f.is_some() {
        std::thread::sleep(Duration::from_millis(500));
    }
    let counted = f
        .as_ref()
        .map(|f| (f.served.load(Relaxed), f.refused.load(Relaxed)));
    let started = Instant::now();
    let lat = paced_latencies(addr, b, b_rate, seconds);
    let elapsed = started.elapsed().as_secs_f64();
    let rates = f.map(|f| {
        let (s0, r0) = counted.unwrap_or_default();
        let rates = (
            (f.served.load(Relaxed) - s0) as f64 / elapsed,
            (f.refused.load(Relaxed) - r0) as f64 / elapsed,
        );
        f.stop.store(true, Relaxed);
        f.thread.join().unwrap();
        rates
    });
    server.stop();
    figure(name, lat, rates)
}

fn main() {
    let seconds = if harness::smoke() {
        0.3
    } else {
        env_usize("SCIM_BENCH_SECONDS", 6) as f64
    };
    let users = harness::scale(env_usize("SCIM_BENCH_USERS", 2000), 50);
    let connections = env_usize("SCIM_BENCH_FLOOD_CONNECTIONS", 16);
    let b_rate = env_usize("SCIM_BENCH_B_RATE", 50);
    let rate = env_usize("SCIM_BENCH_RATE", 100) as u32;

    let dir = std::env::temp_dir().join(format!("libscim-fairness-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let engine =
        Arc::new(Engine::open(Some(&dir.join("libscim.db")), EngineConfig::default()).unwrap());
    let a = directory(&engine, "A", users);
    let b = directory(&engine, "B", users);

    let defaults = ServerOptions::default();
    let limited = ServerOptions {
        rate_limit: Some(RateLimit {
            per_second: rate,
            burst: rate * 2,
        }),
        ..ServerOptions::default()
    };
    let run = |options: &ServerOptions, flooding, name: &str| {
        scenario(
            &engine,
            options.clone(),
            (&a, &b),
            flooding,
            name,
            seconds,
            b_rate,
        )
    };
    let figures = [
        run(&defaults, None, "idle"),
        run(&defaults, Some(connections), "A floods, no rate limit"),
        run(&limited, None, "idle, rate limit"),
        run(
            &limited,
            Some(connections),
            &format!("A floods, rate limit {rate}/s"),
        ),
    ];

    println!(
        "fairness: B's GET /Users/{{id}} at {b_rate}/s while A lists with {connections} \
         connections ({users} users each, SQLite, {seconds} s per figure)"
    );
    println!(
        "  {:<30} {:>10} {:>10} {:>10} {:>8}  {:>9} {:>9}  {:>17}",
        "", "median", "p90", "p99", "samples", "A ok/s", "A 429/s", "median/idle (p90)"
    );
    for f in &figures {
        let idle = if f.name.contains("rate limit") {
            &figures[2]
        } else {
            &figures[0]
        };
        let (ok, refused) = f.flood.map_or(("-".into(), "-".into()), |(s, r)| {
            (format!("{s:.0}"), format!("{r:.0}"))
        });
        println!(
            "  {:<30} {:>10?} {:>10?} {:>10?} {:>8}  {:>9} {:>9}  {:>8.2}x ({:.2}x)",
            f.name,
            f.median,
            f.p90,
            f.p99,
            f.samples,
            ok,
            refused,
            f.median.as_secs_f64() / idle.median.as_secs_f64(),
            f.p90.as_secs_f64() / idle.p90.as_secs_f64(),
        );
    }
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}
