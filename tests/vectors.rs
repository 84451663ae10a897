//! Replays the shared JSON test vectors in `tests/vectors/*.json` against
//! [`scim::ServiceProvider`] over a fresh [`scim::store::MemoryStore`] per scenario, and
//! again over a fresh PostgreSQL database per scenario (a throwaway cluster).
//!
//! The vector format is documented in `tests/vectors/README.md`; the C, Python and Go
//! runners implement the same semantics, so keep this file and the README in step.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const BASE: &str = "https://example.com/scim/v2";

// ---------------------------------------------------------------------------------------
// Loading and structural validation
// ---------------------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
}

/// Every `tests/vectors/*.json`, sorted by file name.
fn vector_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("{what}: unknown key {k:?} (allowed: {allowed:?})"));
        }
    }
    Ok(())
}

/// Reject misspelt keys and wrong shapes, so a typo can't silently skip an assertion.
fn validate_scenario(v: &Value) -> Result<(), String> {
    let top = v.as_object().ok_or("scenario is not an object")?;
    check_keys(top, &["name", "description", "config", "steps"], "scenario")?;
    top.get("name")
        .and_then(Value::as_str)
        .ok_or("scenario: \"name\" must be a string")?;
    if let Some(c) = top.get("config") {
        let c = c.as_object().ok_or("config must be an object")?;
        check_keys(c, &["strict", "cursor_timeout_secs"], "config")?;
        if let Some(t) = c.get("cursor_timeout_secs") {
            t.as_u64()
                .ok_or("config.cursor_timeout_secs must be a non-negative integer")?;
        }
        if let Some(s) = c.get("strict") {
            s.as_bool().ok_or("config.strict must be a boolean")?;
        }
    }
    let steps = top
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("scenario: \"steps\" must be an array")?;
    if steps.is_empty() {
        return Err("scenario has no steps".into());
    }
    // Variables a step may use: `base` and whatever earlier steps captured (the
    // expectations may also use what the step itself captures).
    let mut defined: Vec<String> = vec!["base".into()];
    for (i, step) in steps.iter().enumerate() {
        let at = |m: &str| format!("step {} ({}): {m}", i + 1, step_name(step, i));
        let undefined = |v: &Value, defined: &[String]| -> Result<(), String> {
            let mut refs = Vec::new();
            var_refs(v, &mut refs);
            match refs.into_iter().find(|r| !defined.contains(r)) {
                Some(r) => Err(at(&format!("uses ${{{r}}} before any step captures it"))),
                None => Ok(()),
            }
        };
        undefined(&step["request"], &defined)?;
        if let Some(c) = step.get("capture").and_then(Value::as_object) {
            defined.extend(c.keys().cloned());
        }
        undefined(&step["expect"], &defined)?;
        let s = step.as_object().ok_or_else(|| at("not an object"))?;
        check_keys(s, &["name", "request", "expect", "capture"], "step").map_err(|e| at(&e))?;
        let req = s
            .get("request")
            .and_then(Value::as_object)
            .ok_or_else(|| at("\"request\" must be an object"))?;
        check_keys(
            req,
            &["method", "path", "query", "headers", "body", "raw_body"],
            "request",
        )
        .map_err(|e| at(&e))?;
        for k in ["method", "path"] {
            req.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| at(&format!("request.{k} must be a string")))?;
        }
        if let Some(q) = req.get("query") {
            q.as_str()
                .ok_or_else(|| at("request.query must be a string"))?;
        }
        if let Some(h) = req.get("headers") {
            let h = h
                .as_object()
                .ok_or_else(|| at("request.headers must be an object"))?;
            if h.values().any(|v| !v.is_string()) {
                return Err(at("request header values must be strings"));
            }
        }
        if let Some(r) = req.get("raw_body") {
            r.as_str()
                .ok_or_else(|| at("request.raw_body must be a string"))?;
            if req.get("body").is_some_and(|b| !b.is_null()) {
                return Err(at("request has both body and raw_body"));
            }
        }
        let exp = s
            .get("expect")
            .and_then(Value::as_object)
            .ok_or_else(|| at("\"expect\" must be an object"))?;
        check_keys(exp, &["status", "headers", "body", "empty_body"], "expect")
            .map_err(|e| at(&e))?;
        exp.get("status")
            .and_then(Value::as_u64)
            .ok_or_else(|| at("expect.status must be an integer"))?;
        if let Some(h) = exp.get("headers") {
            let h = h
                .as_object()
                .ok_or_else(|| at("expect.headers must be an object"))?;
            if h.values().any(|v| !v.is_string()) {
                return Err(at("expected header values must be strings"));
            }
        }
        if let Some(e) = exp.get("empty_body") {
            e.as_bool()
                .ok_or_else(|| at("expect.empty_body must be a boolean"))?;
            if exp.get("body").is_some_and(|b| !b.is_null()) {
                return Err(at("expect has both body and empty_body"));
            }
        }
        if let Some(b) = exp.get("body") {
            validate_matcher(b).map_err(|e| at(&format!("expect.body: {e}")))?;
        }
        if let Some(c) = s.get("capture") {
            let c = c
                .as_object()
                .ok_or_else(|| at("capture must be an object"))?;
            for (name, src) in c {
                if !is_var_name(name) {
                    return Err(at(&format!("bad capture variable name {name:?}")));
                }
                let src = src
                    .as_str()
                    .ok_or_else(|| at("capture sources must be strings"))?;
                if !(src.starts_with('/') || src.starts_with("header:")) {
                    return Err(at(&format!(
                        "capture source {src:?} must be a JSON pointer or header:Name"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Catch misspelt `$` keywords in expected bodies.
fn validate_matcher(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if s.starts_with('$') && !s.starts_with("${") => {
            if ["$any", "$string", "$number", "$datetime"].contains(&s.as_str()) {
                Ok(())
            } else {
                Err(format!("unknown matcher {s:?}"))
            }
        }
        Value::Array(a) => a.iter().try_for_each(validate_matcher),
        Value::Object(o) => {
            if let Some((k, inner)) = array_matcher(o) {
                let _ = k;
                return inner.iter().try_for_each(validate_matcher);
            }
            for (k, val) in o {
                if k == "$absent" {
                    let ok = val
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string));
                    if !ok {
                        return Err("\"$absent\" must be an array of key names".into());
                    }
                } else if k == "$contains" || k == "$unordered" {
                    return Err(format!("{k} must be the only key and hold an array"));
                } else {
                    validate_matcher(val)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Every `${name}` referenced in the string values of `v`.
fn var_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else { break };
                out.push(after[..end].to_owned());
                rest = &after[end + 1..];
            }
        }
        Value::Array(a) => a.iter().for_each(|x| var_refs(x, out)),
        Value::Object(o) => o.values().for_each(|x| var_refs(x, out)),
        _ => {}
    }
}

fn step_name(step: &Value, i: usize) -> String {
    step.get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("#{}", i + 1))
}

// ---------------------------------------------------------------------------------------
// Variable substitution
// ---------------------------------------------------------------------------------------

fn is_var_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replace every `${name}` in `s`; an unknown variable is an error.
fn subst(s: &str, vars: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{ in {s:?}"))?;
        let name = &after[..end];
        match vars.get(name) {
            Some(v) if is_var_name(name) => out.push_str(v),
            _ => return Err(format!("unknown variable ${{{name}}} in {s:?}")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitute in every string value (not in object keys).
fn subst_value(v: &Value, vars: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(subst(s, vars)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| subst_value(x, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), subst_value(x, vars)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

// ---------------------------------------------------------------------------------------
// The matcher
// ---------------------------------------------------------------------------------------

/// `{"$contains": [...]}` or `{"$unordered": [...]}`.
fn array_matcher(o: &Map<String, Value>) -> Option<(&str, &Vec<Value>)> {
    if o.len() != 1 {
        return None;
    }
    let (k, v) = o.iter().next()?;
    match (k.as_str(), v) {
        ("$contains", Value::Array(a)) => Some(("$contains", a)),
        ("$unordered", Value::Array(a)) => Some(("$unordered", a)),
        _ => None,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// RFC 3339 `date-time`, e.g. `2024-05-01T12:00:00Z` / `…00.123+02:00`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !(b[10] == b'T' || b[10] == b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z'] | [b'z'] => true,
        [sign, h1, h2, b':', m1, m2]
            if (*sign == b'+' || *sign == b'-')
                && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            true
        }
        _ => false,
    }
}

/// Subset-match `actual` against `expected` (already substituted); push one line per
/// mismatch, each prefixed with its JSON-pointer-like location.
fn match_value(expected: &Value, actual: Option<&Value>, at: &str, errs: &mut Vec<String>) {
    let loc = if at.is_empty() { "/" } else { at };
    match expected {
        Value::String(s) if ["$any", "$string", "$number", "$datetime"].contains(&s.as_str()) => {
            let ok = match (s.as_str(), actual) {
                (_, None) => {
                    errs.push(format!("{loc}: missing (expected {s})"));
                    return;
                }
                ("$any", Some(a)) => !a.is_null(),
                ("$string", Some(a)) => a.is_string(),
                ("$number", Some(a)) => a.is_number(),
                ("$datetime", Some(a)) => a.as_str().is_some_and(is_rfc3339),
                _ => unreachable!(),
            };
            if !ok {
                errs.push(format!(
                    "{loc}: expected {s}, got {}",
                    short(actual.unwrap())
                ));
            }
        }
        Value::Object(o) => {
            let Some(actual) = actual else {
                errs.push(format!("{loc}: missing (expected {})", short(expected)));
                return;
            };
            if let Some((kind, items)) = array_matcher(o) {
                let Some(arr) = actual.as_array() else {
                    errs.push(format!(
                        "{loc}: expected an array ({kind}), got {} {}",
                        type_name(actual),
                        short(actual)
                    ));
                    return;
                };
                if kind == "$contains" {
                    for (i, e) in items.iter().enumerate() {
                        if !arr.iter().any(|a| matches(e, a)) {
                            errs.push(format!(
                                "{loc}: no element matches $contains[{i}] {}",
                                short(e)
                            ));
                        }
                    }
                } else {
                    if arr.len() != items.len() {
                        errs.push(format!(
                            "{loc}: expected {} elements ($unordered), got {}",
                            items.len(),
                            arr.len()
                        ));
                        return;
                    }
                    if !unordered_match(items, arr) {
                        errs.push(format!(
                            "{loc}: elements do not match {} in any order",
                            short(expected)
                        ));
                    }
                }
                return;
            }
            let Some(obj) = actual.as_object() else {
                errs.push(format!(
                    "{loc}: expected an object, got {} {}",
                    type_name(actual),
                    short(actual)
                ));
                return;
            };
            for (k, e) in o {
                if k == "$absent" {
                    for name in e.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if obj.contains_key(name) {
                            errs.push(format!(
                                "{at}/{name}: must be absent, got {}",
                                short(&obj[name])
                            ));
                        }
                    }
                } else {
                    match_value(e, obj.get(k), &format!("{at}/{}", escape_ptr(k)), errs);
                }
            }
        }
        Value::Array(items) => {
            let Some(actual) = actual else {
                errs.push(format!("{loc}: missing (expected {})", short(expected)));
                return;
            };
            let Some(arr) = actual.as_array() else {
                errs.push(format!(
                    "{loc}: expected an array, got {} {}",
                    type_name(actual),
                    short(actual)
                ));
                return;
            };
            if arr.len() != items.len() {
                errs.push(format!(
                    "{loc}: expected {} elements, got {}",
                    items.len(),
                    arr.len()
                ));
                return;
            }
            for (i, (e, a)) in items.iter().zip(arr).enumerate() {
                match_value(e, Some(a), &format!("{at}/{i}"), errs);
            }
        }
        Value::Number(n) => match actual {
            Some(Value::Number(m)) if n.as_f64() == m.as_f64() => {}
            Some(a) => errs.push(format!("{loc}: expected {n}, got {}", short(a))),
            None => errs.push(format!("{loc}: missing (expected {n})")),
        },
        _ => match actual {
            Some(a) if a == expected => {}
            Some(a) => errs.push(format!(
                "{loc}: expected {}, got {}",
                short(expected),
                short(a)
            )),
            None => errs.push(format!("{loc}: missing (expected {})", short(expected))),
        },
    }
}

fn escape_ptr(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn matches(expected: &Value, actual: &Value) -> bool {
    let mut errs = Vec::new();
    match_value(expected, Some(actual), "", &mut errs);
    errs.is_empty()
}

/// Is there a one-to-one assignment of expected to actual elements?
fn unordered_match(expected: &[Value], actual: &[Value]) -> bool {
    fn go(i: usize, expected: &[Value], actual: &[Value], used: &mut Vec<bool>) -> bool {
        if i == expected.len() {
            return true;
        }
        for j in 0..actual.len() {
            if !used[j] && matches(&expected[i], &actual[j]) {
                used[j] = true;
                if go(i + 1, expected, actual, used) {
                    return true;
                }
                used[j] = false;
            }
        }
        false
    }
    go(0, expected, actual, &mut vec![false; actual.len()])
}

/// Match a response body (raw bytes) against an expected body.
fn match_body(expected: &Value, body: &[u8]) -> Vec<String> {
    if body.is_empty() {
        return vec!["body: expected JSON, got an empty body".into()];
    }
    let actual: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "body: not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )]
        }
    };
    let mut errs = Vec::new();
    match_value(expected, Some(&actual), "", &mut errs);
    errs
}

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

fn new_provider(
    strict: bool,
    cursor_timeout_secs: Option<u64>,
    store: Arc<dyn scim::store::Store>,
) -> scim::ServiceProvider {
    let defaults = scim::Config::default();
    let config = scim::Config {
        base_url: BASE.into(),
        strict,
        cursor_timeout_secs: cursor_timeout_secs.unwrap_or(defaults.cursor_timeout_secs),
        ..defaults
    };
    scim::ServiceProvider::new(config, store)
}

fn build_request(
    req: &Map<String, Value>,
    vars: &HashMap<String, String>,
) -> Result<scim::Request, String> {
    let s = |k: &str| -> Result<String, String> {
        subst(req.get(k).and_then(Value::as_str).unwrap_or(""), vars)
    };
    let mut headers = Vec::new();
    if let Some(h) = req.get("headers").and_then(Value::as_object) {
        for (name, v) in h {
            headers.push((name.clone(), subst(v.as_str().unwrap_or(""), vars)?));
        }
    }
    let body: Vec<u8> = if let Some(raw) = req.get("raw_body").and_then(Value::as_str) {
        subst(raw, vars)?.into_bytes()
    } else {
        match req.get("body") {
            None | Some(Value::Null) => Vec::new(),
            Some(b) => serde_json::to_vec(&subst_value(b, vars)?).expect("serializable"),
        }
    };
    if !body.is_empty()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), "application/scim+json".into()));
    }
    Ok(scim::Request {
        method: s("method")?,
        path: s("path")?,
        query: s("query")?,
        headers,
        body,
    })
}

fn header<'a>(resp: &'a scim::Response, name: &str) -> Option<&'a str> {
    resp.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn check_response(
    exp: &Map<String, Value>,
    resp: &scim::Response,
    vars: &HashMap<String, String>,
) -> Vec<String> {
    let mut errs = Vec::new();
    let status = exp.get("status").and_then(Value::as_u64).unwrap_or(0);
    if u64::from(resp.status) != status {
        errs.push(format!("status: expected {status}, got {}", resp.status));
    }
    if let Some(h) = exp.get("headers").and_then(Value::as_object) {
        for (name, want) in h {
            let want = want.as_str().unwrap_or("");
            let got = header(resp, name);
            match (want, got) {
                ("$absent", None) | ("$any", Some(_)) => {}
                ("$absent", Some(g)) => {
                    errs.push(format!("header {name}: must be absent, got {g:?}"))
                }
                (_, None) => errs.push(format!("header {name}: missing (expected {want:?})")),
                (w, Some(g)) => match subst(w, vars) {
                    Ok(w) if w == g => {}
                    Ok(w) => errs.push(format!("header {name}: expected {w:?}, got {g:?}")),
                    Err(e) => errs.push(format!("header {name}: {e}")),
                },
            }
        }
    }
    if exp.get("empty_body").and_then(Value::as_bool) == Some(true) && !resp.body.is_empty() {
        errs.push(format!(
            "body: expected empty, got {}",
            String::from_utf8_lossy(&resp.body)
        ));
    }
    if let Some(b) = exp.get("body").filter(|b| !b.is_null()) {
        match subst_value(b, vars) {
            Ok(b) => errs.extend(match_body(&b, &resp.body)),
            Err(e) => errs.push(format!("expect.body: {e}")),
        }
    }
    errs
}

fn capture(
    spec: &Map<String, Value>,
    resp: &scim::Response,
    vars: &mut HashMap<String, String>,
) -> Vec<String> {
    let mut errs = Vec::new();
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    for (name, src) in spec {
        let src = src.as_str().unwrap_or("");
        let got = if let Some(h) = src.strip_prefix("header:") {
            header(resp, h).map(str::to_owned)
        } else {
            body.as_ref().and_then(|b| b.pointer(src)).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        match got {
            Some(v) => {
                vars.insert(name.clone(), v);
            }
            None => errs.push(format!("capture {name}: {src} not found in the response")),
        }
    }
    errs
}

fn pretty_body(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty)".into();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("      {l}\n")).collect()
}

/// Run one scenario; return a report per failing step. Every step runs even after a
/// failure (later failures may be consequences of earlier ones).
fn run_scenario(file: &str, v: &Value, store: Arc<dyn scim::store::Store>) -> Vec<String> {
    let name = v["name"].as_str().unwrap_or(file);
    let strict = v["config"]["strict"].as_bool().unwrap_or(false);
    let provider = new_provider(strict, v["config"]["cursor_timeout_secs"].as_u64(), store);
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("base".into(), BASE.into());
    let mut failures = Vec::new();
    for (i, step) in v["steps"].as_array().into_iter().flatten().enumerate() {
        let sname = step_name(step, i);
        let req = step["request"].as_object().cloned().unwrap_or_default();
        let exp = step["expect"].as_object().cloned().unwrap_or_default();
        let request = match build_request(&req, &vars) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!(
                    "{file} › {name} › step {} \"{sname}\": cannot build request: {e}",
                    i + 1
                ));
                continue;
            }
        };
        let resp = provider.handle(&request);
        // Capture first, so this step's expectations may use what it captured
        // (e.g. `Location: ${base}/Users/${id}` with `id` captured from `/id`).
        let mut errs = Vec::new();
        if let Some(c) = step["capture"].as_object() {
            errs.extend(capture(c, &resp, &mut vars));
        }
        errs.extend(check_response(&exp, &resp, &vars));
        if !errs.is_empty() {
            let mut msg = String::new();
            let q = if request.query.is_empty() {
                String::new()
            } else {
                format!("?{}", request.query)
            };
            let _ = writeln!(
                msg,
                "{file} › {name} › step {} \"{sname}\": {} {}{q}",
                i + 1,
                request.method,
                request.path
            );
            for e in &errs {
                let _ = writeln!(msg, "    - {e}");
            }
            let _ = writeln!(msg, "    actual: {} {:?}", resp.status, resp.headers);
            msg.push_str(&indent(&pretty_body(&resp.body)));
            failures.push(msg);
        }
    }
    failures
}

#[test]
fn vectors_are_well_formed() {
    let files = vector_files();
    assert!(
        !files.is_empty(),
        "no vectors in {}",
        vectors_dir().display()
    );
    let mut problems = Vec::new();
    let mut names = HashMap::new();
    for f in &files {
        let fname = f.file_name().unwrap().to_string_lossy().into_owned();
        match load(f).and_then(|v| validate_scenario(&v).map(|_| v)) {
            Ok(v) => {
                let n = v["name"].as_str().unwrap_or_default().to_owned();
                if let Some(prev) = names.insert(n.clone(), fname.clone()) {
                    problems.push(format!("{fname}: scenario name {n:?} also used by {prev}"));
                }
            }
            Err(e) => problems.push(format!("{fname}: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "malformed vectors:\n{}",
        problems.join("\n")
    );
}

#[test]
fn vectors() {
    vectors_on(&|| Arc::new(scim::store::MemoryStore::new()));
}

#[path = "support/postgres.rs"]
mod postgres;

/// The same vectors over a PostgreSQL database (a fresh one per scenario).
#[test]
fn vectors_on_postgres() {
    let pg = postgres::Postgres::start();
    vectors_on(&|| Arc::new(scim::store::PostgresStore::open(&pg.fresh_database()).unwrap()));
}

/// Every scenario, each over a fresh store from `make_store`.
fn vectors_on(make_store: &dyn Fn() -> Arc<dyn scim::store::Store>) {
    let mut failures = Vec::new();
    let mut steps = 0usize;
    let files = vector_files();
    for f in &files {
        let fname = f.file_name().unwrap().to_string_lossy().into_owned();
        let v = match load(f).and_then(|v| validate_scenario(&v).map(|_| v)) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{fname}: {e}"));
                continue;
            }
        };
        steps += v["steps"].as_array().map_or(0, Vec::len);
        failures.extend(run_scenario(&fname, &v, make_store()));
    }
    assert!(
        failures.is_empty(),
        "{} of {steps} steps failed in {} files:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The matcher itself, so a matcher bug can't make every vector pass.
#[test]
fn matcher_self_test() {
    use serde_json::json;
    let ok = |e: Value, a: Value| {
        let mut errs = Vec::new();
        match_value(&e, Some(&a), "", &mut errs);
        assert!(errs.is_empty(), "expected {e} to match {a}, got {errs:?}");
    };
    let bad = |e: Value, a: Value| {
        let mut errs = Vec::new();
        match_value(&e, Some(&a), "", &mut errs);
        assert!(!errs.is_empty(), "expected {e} NOT to match {a}");
    };

    // Objects: subset, extra keys allowed, missing keys fail, nested.
    ok(json!({"a": 1}), json!({"a": 1, "b": 2}));
    ok(json!({}), json!({"x": [1]}));
    bad(json!({"a": 1}), json!({"b": 1}));
    bad(json!({"a": 1}), json!({"a": 2}));
    bad(json!({"a": 1}), json!({"a": "1"}));
    ok(json!({"a": {"b": "c"}}), json!({"a": {"b": "c", "d": 1}}));
    bad(json!({"a": {"b": "c"}}), json!({"a": {"b": "C"}}));
    bad(json!({"a": {}}), json!({"a": []}));
    bad(json!({"a": 1}), json!([{"a": 1}]));
    // Numbers compare by value; bools and null exactly.
    ok(json!({"n": 1}), json!({"n": 1.0}));
    bad(json!({"t": true}), json!({"t": "true"}));
    ok(json!({"z": null}), json!({"z": null}));
    bad(json!({"z": null}), json!({}));
    bad(json!({"z": null}), json!({"z": 0}));
    // $absent.
    ok(json!({"$absent": ["password"]}), json!({"userName": "x"}));
    bad(json!({"$absent": ["password"]}), json!({"password": "x"}));
    bad(json!({"$absent": ["members"]}), json!({"members": []}));
    bad(json!({"$absent": ["members"]}), json!({"members": null}));
    ok(
        json!({"a": {"$absent": ["b"]}}),
        json!({"a": {"c": 1}, "b": 1}),
    );
    // Arrays: exact length, element-wise subset, in order.
    ok(
        json!([{"v": 1}, {"v": 2}]),
        json!([{"v": 1, "x": 0}, {"v": 2}]),
    );
    bad(json!([{"v": 1}, {"v": 2}]), json!([{"v": 2}, {"v": 1}]));
    bad(json!([{"v": 1}]), json!([{"v": 1}, {"v": 2}]));
    bad(json!([]), json!([1]));
    ok(json!([]), json!([]));
    // $contains: subset of elements, any order, lengths may differ.
    ok(
        json!({"$contains": [{"v": 2}]}),
        json!([{"v": 1}, {"v": 2}]),
    );
    ok(json!({"$contains": []}), json!([]));
    bad(
        json!({"$contains": [{"v": 3}]}),
        json!([{"v": 1}, {"v": 2}]),
    );
    bad(json!({"$contains": [{"v": 1}]}), json!({"v": 1}));
    // $unordered: same length, any order, one-to-one.
    ok(
        json!({"$unordered": [{"v": 2}, {"v": 1}]}),
        json!([{"v": 1}, {"v": 2}]),
    );
    bad(
        json!({"$unordered": [{"v": 1}]}),
        json!([{"v": 1}, {"v": 2}]),
    );
    bad(
        json!({"$unordered": [{"v": 1}, {"v": 1}]}),
        json!([{"v": 1}, {"v": 2}]),
    );
    ok(
        json!({"$unordered": [{}, {"v": 1}]}),
        json!([{"v": 1}, {"v": 2}]),
    );
    // Type matchers.
    ok(json!({"a": "$any"}), json!({"a": 0}));
    ok(json!({"a": "$any"}), json!({"a": false}));
    bad(json!({"a": "$any"}), json!({"a": null}));
    bad(json!({"a": "$any"}), json!({}));
    ok(json!({"a": "$string"}), json!({"a": ""}));
    bad(json!({"a": "$string"}), json!({"a": 1}));
    ok(json!({"a": "$number"}), json!({"a": 3}));
    bad(json!({"a": "$number"}), json!({"a": "3"}));
    ok(
        json!({"a": "$datetime"}),
        json!({"a": "2024-05-01T12:00:00Z"}),
    );
    ok(
        json!({"a": "$datetime"}),
        json!({"a": "2024-05-01T12:00:00.123456+02:00"}),
    );
    bad(
        json!({"a": "$datetime"}),
        json!({"a": "2024-05-01 12:00:00Z"}),
    );
    bad(
        json!({"a": "$datetime"}),
        json!({"a": "2024-13-01T12:00:00Z"}),
    );
    bad(
        json!({"a": "$datetime"}),
        json!({"a": "2024-05-01T12:00:00"}),
    );
    bad(json!({"a": "$datetime"}), json!({"a": 1714564800}));
    // Plain strings are exact.
    ok(json!("W/\"1\""), json!("W/\"1\""));
    bad(json!("abc"), json!("ABC"));

    // Substitution.
    let mut vars = HashMap::new();
    vars.insert("base".to_owned(), BASE.to_owned());
    vars.insert("u1".to_owned(), "42".to_owned());
    assert_eq!(
        subst("${base}/Users/${u1}", &vars).unwrap(),
        "https://example.com/scim/v2/Users/42"
    );
    assert_eq!(subst("no vars", &vars).unwrap(), "no vars");
    assert!(subst("${nope}", &vars).is_err());
    assert!(subst("${u1", &vars).is_err());
    assert_eq!(
        subst_value(&json!({"k${u1}": ["${u1}", 1]}), &vars).unwrap(),
        json!({"k${u1}": ["42", 1]})
    );

    // Bodies and responses.
    assert!(match_body(&json!({}), b"").len() == 1);
    assert!(match_body(&json!({}), b"{not json").len() == 1);
    assert!(match_body(&json!({"a": 1}), br#"{"a":1}"#).is_empty());
    let resp = scim::Response {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/scim+json".into()),
            ("ETag".into(), "W/\"1\"".into()),
            ("Location".into(), format!("{BASE}/Users/42")),
        ],
        body: br#"{"id":"42","meta":{"version":"W/\"1\""}}"#.to_vec(),
    };
    let exp = |v: Value| v.as_object().unwrap().clone();
    assert!(check_response(
        &exp(json!({"status": 201,
            "headers": {"Content-Type": "application/scim+json", "etag": "$any",
                        "Location": "${base}/Users/${u1}", "WWW-Authenticate": "$absent"},
            "body": {"id": "${u1}", "meta": {"version": "W/\"1\""}}})),
        &resp,
        &vars
    )
    .is_empty());
    assert_eq!(
        check_response(&exp(json!({"status": 200})), &resp, &vars).len(),
        1
    );
    assert_eq!(
        check_response(
            &exp(json!({"status": 201, "headers": {"ETag": "$absent"}})),
            &resp,
            &vars
        )
        .len(),
        1
    );
    assert_eq!(
        check_response(
            &exp(json!({"status": 201, "headers": {"Location": "${base}/Users/43"}})),
            &resp,
            &vars
        )
        .len(),
        1
    );
    assert_eq!(
        check_response(
            &exp(json!({"status": 201, "headers": {"X-Missing": "$any"}})),
            &resp,
            &vars
        )
        .len(),
        1
    );
    assert_eq!(
        check_response(
            &exp(json!({"status": 201, "empty_body": true})),
            &resp,
            &vars
        )
        .len(),
        1
    );
    assert_eq!(
        check_response(
            &exp(json!({"status": 201, "body": {"id": "43"}})),
            &resp,
            &vars
        )
        .len(),
        1
    );
    // Captures.
    let mut vars2 = vars.clone();
    assert!(capture(
        &exp(json!({"id": "/id", "v": "/meta/version", "etag": "header:etag"})),
        &resp,
        &mut vars2
    )
    .is_empty());
    assert_eq!(vars2["id"], "42");
    assert_eq!(vars2["v"], "W/\"1\"");
    assert_eq!(vars2["etag"], "W/\"1\"");
    assert_eq!(
        capture(&exp(json!({"x": "/nope"})), &resp, &mut vars2).len(),
        1
    );

    // Request building: Content-Type added only when there is a body and none given.
    let r = build_request(
        &exp(
            json!({"method": "POST", "path": "/Users/${u1}", "query": "a=${u1}",
                    "body": {"userName": "${u1}"}}),
        ),
        &vars,
    )
    .unwrap();
    assert_eq!(r.path, "/Users/42");
    assert_eq!(r.query, "a=42");
    assert_eq!(
        r.headers,
        vec![("Content-Type".into(), "application/scim+json".into())]
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"userName": "42"})
    );
    let r = build_request(
        &exp(
            json!({"method": "POST", "path": "/Users", "headers": {"content-type": "text/plain"},
                    "raw_body": "{\"userName\":"}),
        ),
        &vars,
    )
    .unwrap();
    assert_eq!(r.headers.len(), 1);
    assert_eq!(r.body, b"{\"userName\":");
    let r = build_request(
        &exp(json!({"method": "GET", "path": "/Users", "body": null})),
        &vars,
    )
    .unwrap();
    assert!(r.headers.is_empty() && r.body.is_empty());

    // Structural validation catches typos.
    let step = |s: Value| json!({"name": "t", "steps": [s]});
    assert!(validate_scenario(&step(
        json!({"request": {"method": "GET", "path": "/Users"},
        "expect": {"status": 200}})
    ))
    .is_ok());
    assert!(validate_scenario(&step(
        json!({"request": {"method": "GET", "path": "/Users"},
        "expect": {"status": 200, "bdy": {}}})
    ))
    .is_err());
    assert!(validate_scenario(&step(
        json!({"request": {"method": "GET", "path": "/Users"},
        "expect": {"status": 200, "body": {"a": "$anything"}}})
    ))
    .is_err());
    assert!(validate_scenario(&step(
        json!({"request": {"method": "GET", "path": "/Users"},
        "expect": {"status": "200"}})
    ))
    .is_err());
    assert!(validate_scenario(&step(
        json!({"request": {"method": "GET", "path": "/Users/${id}"},
        "expect": {"status": 200}})
    ))
    .is_err());
    assert!(validate_scenario(&step(
        json!({"request": {"method": "POST", "path": "/Users"},
        "expect": {"status": 201, "headers": {"Location": "${base}/Users/${id}"}},
        "capture": {"id": "/id"}})
    ))
    .is_ok());
}
