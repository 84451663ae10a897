//! What every benchmark shares (included with `#[path]`): a smoke mode under
//! `cargo test`, median timings, and reports as ratios against a baseline measured in
//! the same run.
#![allow(dead_code)]

use scim::{Request, Response};
use serde_json::Value;
use std::time::{Duration, Instant};

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs the binary without it,
/// as a quick smoke test at small sizes.
pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// `full` in a benchmark run, `small` in a smoke run.
pub fn scale(full: usize, small: usize) -> usize {
    if smoke() {
        small
    } else {
        full
    }
}

/// Median time per call of `f` (given a running call number) over rounds of `iters` calls.
pub fn measure(iters: usize, mut f: impl FnMut(usize)) -> Duration {
    let mut rounds = Vec::new();
    let mut n = 0;
    for _ in 0..scale(7, 1) {
        let t = Instant::now();
        for _ in 0..iters {
            f(n);
            n += 1;
        }
        rounds.push(t.elapsed() / iters.max(1) as u32);
    }
    rounds.sort();
    rounds[rounds.len() / 2]
}

/// Print a group: the baseline, then each other figure with its rate and its ratio.
pub fn report(group: &str, baseline: (&str, Duration), others: &[(&str, Duration)]) {
    let per_sec = |d: Duration| 1.0 / d.as_secs_f64().max(f64::MIN_POSITIVE);
    println!("{group}");
    println!(
        "  {:<44} {:>12?} {:>10.0}/s  1.00x (baseline)",
        baseline.0,
        baseline.1,
        per_sec(baseline.1)
    );
    for (name, d) in others {
        println!(
            "  {:<44} {:>12?} {:>10.0}/s  {:.2}x",
            name,
            d,
            per_sec(*d),
            d.as_secs_f64() / baseline.1.as_secs_f64()
        );
    }
}

/// A SCIM request with a JSON body.
pub fn req(method: &str, path: &str, query: &str, body: Option<&Value>) -> Request {
    Request {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: vec![("Content-Type".into(), "application/scim+json".into())],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    }
}

/// The response's JSON, after checking its status.
pub fn ok(resp: Response, want: u16) -> Value {
    assert_eq!(resp.status, want, "{}", String::from_utf8_lossy(&resp.body));
    serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
}
