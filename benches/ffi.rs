//! `make bench-ffi` (part of `make bench`): the Rust side of the FFI overhead figures.
//! It answers the request of `benches/ffi/scenario.json` through `Engine::handle`, the
//! call that `scim_request_handle` (and so Python's `Engine.handle` and Go's `Engine.Handle`)
//! wraps, and prints the median time per call. `benches/ffi/run.py` runs it, then the
//! Python and Go benchmarks of the same request, and prints each binding's overhead as
//! a difference and a ratio to this figure.
//!
//! Both wall time and CPU time per call are measured (see `cpu_time`). With
//! `SCIM_BENCH_FFI_JSON=path` it also writes `{"rust_ns", "rust_cpu_ns"}` there.

use scim::directory::NewDirectory;
use scim::ffi::{
    scim_engine, scim_header, scim_request, scim_request_handle, scim_response_free,
    scim_response_view, scim_str,
};
use scim::{Engine, EngineConfig, Request};
use serde_json::Value;

#[path = "harness/mod.rs"]
mod harness;
use harness::{ok, report, scale};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let scenario: Value = serde_json::from_str(include_str!("ffi/scenario.json")).unwrap();
    let config: EngineConfig = serde_json::from_value(scenario["config"].clone()).unwrap();
    let engine = Engine::open(None, config).unwrap();
    let new: NewDirectory = serde_json::from_value(scenario["directory"].clone()).unwrap();
    let dir = engine.create_directory(&new).unwrap();
    let token = engine
        .issue_token(&dir.id, None)
        .unwrap()
        .secret
        .to_string();
    let auth = ("Authorization".to_owned(), format!("Bearer {token}"));
    let created = engine.handle(&Request {
        method: "POST".into(),
        path: format!("/scim/v2/{}/Users", dir.id),
        query: String::new(),
        headers: vec![
            auth,
            ("Content-Type".into(), "application/scim+json".into()),
        ],
        body: scenario["user"].to_string().into_bytes(),
    });
    let user = ok(created, 201)["id"].as_str().unwrap().to_owned();

    let fill = |s: &str| {
        s.replace("{directory}", &dir.id)
            .replace("{user}", &user)
            .replace("{token}", &token)
    };
    let r = &scenario["request"];
    let text = |v: &Value| fill(v.as_str().unwrap());
    let request = Request {
        method: text(&r["method"]),
        path: text(&r["path"]),
        query: text(&r["query"]),
        headers: r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (text(&h[0]), text(&h[1])))
            .collect(),
        body: Vec::new(),
    };
    // The answer is the user itself: the benchmark measures a real read.
    assert_eq!(ok(engine.handle(&request), 200)["id"], user.as_str());

    let (wall, cpu) = measure_cpu(scale(20_000, 10), || {
        let resp = engine.handle(&request);
        assert_eq!(resp.status, 200);
        std::hint::black_box(resp);
    });
    // The same request through the C ABI, called from Rust: what the ABI itself costs
    // (converting the request, laying the response out, the boundary), without any
    // binding's.
    let engine = Arc::new(engine);
    let handle = scim::ffi::cast::to_arc::<scim_engine>(engine.clone());
    let text = |s: &str| scim_str {
        data: s.as_ptr().cast(),
        len: s.len(),
    };
    let headers: Vec<scim_header> = request
        .headers
        .iter()
        .map(|(k, v)| scim_header {
            name: text(k),
            value: text(v),
        })
        .collect();
    let c_request = scim_request {
        method: text(&request.method),
        path: text(&request.path),
        query: text(&request.query),
        headers: headers.as_ptr(),
        headers_len: headers.len(),
        body: std::ptr::null(),
        body_len: 0,
    };
    let (_, abi_cpu) = measure_cpu(scale(20_000, 10), || unsafe {
        let mut resp = std::ptr::null_mut();
        let mut view = std::mem::MaybeUninit::<scim_response_view>::uninit();
        let rc = scim_request_handle(handle, &c_request, &mut resp, view.as_mut_ptr());
        assert!(rc == scim::ffi::scim_result::SCIM_RESULT_OK && view.assume_init().status == 200);
        scim_response_free(resp);
    });
    unsafe { scim::ffi::cast::free_arc(handle) };
    report(
        "ffi: the request of benches/ffi/scenario.json (wall time, then CPU time)",
        ("Engine::handle (Rust), wall", wall),
        &[
            ("Engine::handle (Rust), CPU", cpu),
            ("scim_request_handle (C ABI from Rust), CPU", abi_cpu),
        ],
    );
    if let Ok(path) = std::env::var("SCIM_BENCH_FFI_JSON") {
        let figure = serde_json::json!({
            "rust_ns": wall.as_nanos() as u64,
            "rust_cpu_ns": cpu.as_nanos() as u64,
            "abi_cpu_ns": abi_cpu.as_nanos() as u64,
        });
        std::fs::write(&path, figure.to_string()).unwrap();
    }
}

/// The process's CPU time (user + system, every thread): on a machine shared with other
/// work the steadier figure, since time spent waiting for a core is not counted. The
/// Python and Go benchmarks measure the same way.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid timespec to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Median wall time and median CPU time per call of `f`, over rounds of `iters` calls.
fn measure_cpu(iters: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..scale(7, 1) {
        let (t, c) = (Instant::now(), cpu_time());
        for _ in 0..iters {
            f();
        }
        cpus.push((cpu_time() - c) / iters as u32);
        walls.push(t.elapsed() / iters as u32);
    }
    walls.sort();
    cpus.sort();
    (walls[walls.len() / 2], cpus[cpus.len() / 2])
}
