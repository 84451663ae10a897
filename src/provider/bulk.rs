//! Bulk (RFC 7644 §3.7): many operations in one request, each run through the same
//! dispatcher as a single request, with `bulkId` references resolved between them.

use super::{dispatch, Ctx, Request, Response, SCIM_JSON};
use crate::error::{Result, ScimError};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const BULK_PREFIX: &str = "bulkId:";

/// POST /Bulk.
pub(crate) fn run(ctx: &Ctx, body: &Value) -> Result<Response> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest must be a JSON object"))?;
    let field = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let schemas_ok = field("schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(BULK_REQUEST)));
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "a BulkRequest must list '{BULK_REQUEST}' in 'schemas'"
        )));
    }
    let ops = field("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest needs an 'Operations' array"))?;
    if ops.len() > ctx.config.max_operations {
        return Err(ScimError::payload_too_large(format!(
            "{} operations exceed maxOperations {}",
            ops.len(),
            ctx.config.max_operations
        )));
    }
    let fail_on_errors = match field("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n as usize),
            _ => {
                return Err(ScimError::invalid_value(
                    "failOnErrors must be an integer of at least 1",
                ))
            }
        },
    };

    // Which bulkIds the request defines, so references to them can wait their turn.
    let defined: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| Some((op.get("bulkId")?.as_str()?, i)))
        .collect();
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut errors = 0usize;
    'passes: loop {
        let mut deferred = Vec::new();
        for &i in &pending {
            if fail_on_errors.is_some_and(|max| errors >= max) {
                break 'passes;
            }
            let op = &ops[i];
            let mut refs = Vec::new();
            collect_refs(op.get("data").unwrap_or(&Value::Null), &mut refs);
            if let Some(p) = op.get("path").and_then(Value::as_str) {
                refs.extend(
                    p.split('/')
                        .filter_map(|s| s.strip_prefix(BULK_PREFIX))
                        .map(str::to_owned),
                );
            }
            let waiting = refs.iter().any(|r| {
                !created.contains_key(r)
                    && defined
                        .get(r.as_str())
                        .is_some_and(|&j| results[j].is_none() && j != i)
            });
            if waiting {
                deferred.push(i);
                continue;
            }
            let result = run_one(ctx, op, &created);
            if let (Some(id), Some(bulk_id)) =
                (&result.created_id, op.get("bulkId").and_then(Value::as_str))
            {
                created.insert(bulk_id.to_owned(), id.clone());
            }
            if result.failed {
                errors += 1;
            }
            results[i] = Some(result.json);
        }
        if deferred.is_empty() || deferred.len() == pending.len() {
            // Nothing left, or only operations whose references can never resolve.
            for i in deferred {
                if fail_on_errors.is_some_and(|max| errors >= max) {
                    break;
                }
                let e = ScimError::new(
                    409,
                    Some(crate::ScimType::InvalidValue),
                    "circular or unresolvable bulkId reference",
                );
                results[i] = Some(op_result(&ops[i], None, None, &Response::error(&e)));
                errors += 1;
            }
            break;
        }
        pending = deferred;
    }
    let operations: Vec<Value> = results.into_iter().flatten().collect();
    Ok(Response::json(
        200,
        &json!({ "schemas": [BULK_RESPONSE], "Operations": operations }),
    ))
}

struct OpOutcome {
    json: Value,
    failed: bool,
    created_id: Option<String>,
}

fn run_one(ctx: &Ctx, op: &Value, created: &HashMap<String, String>) -> OpOutcome {
    let resp = match build_request(op, created) {
        Ok(req) if req.path.trim_matches('/').eq_ignore_ascii_case("Bulk") => Response::error(
            &ScimError::invalid_value("a bulk operation cannot itself be a bulk request"),
        ),
        Ok(req) => dispatch(ctx, &req).unwrap_or_else(|e| Response::error(&e)),
        Err(e) => Response::error(&e),
    };
    let created_id = (resp.status == 201)
        .then(|| serde_json::from_slice::<Value>(&resp.body).ok())
        .flatten()
        .and_then(|b| b.get("id")?.as_str().map(str::to_owned));
    let location = resp.header("Location").map(str::to_owned).or_else(|| {
        let path = op.get("path")?.as_str()?;
        (resp.status < 300).then(|| format!("{}{}", ctx.base_url, substitute_path(path, created)))
    });
    OpOutcome {
        failed: resp.status >= 400,
        json: op_result(op, location, resp.header("ETag").map(str::to_owned), &resp),
        created_id,
    }
}

fn op_result(
    op: &Value,
    location: Option<String>,
    version: Option<String>,
    resp: &Response,
) -> Value {
    let mut out = Map::new();
    if let Some(m) = op.get("method").and_then(Value::as_str) {
        out.insert("method".into(), Value::String(m.to_ascii_uppercase()));
    }
    if let Some(b) = op.get("bulkId").and_then(Value::as_str) {
        out.insert("bulkId".into(), Value::String(b.to_owned()));
    }
    if let Some(l) = location {
        out.insert("location".into(), Value::String(l));
    }
    if let Some(v) = version {
        out.insert("version".into(), Value::String(v));
    }
    out.insert("status".into(), Value::String(resp.status.to_string()));
    if resp.status >= 400 {
        if let Ok(body) = serde_json::from_slice::<Value>(&resp.body) {
            out.insert("response".into(), body);
        }
    }
    Value::Object(out)
}

fn build_request(op: &Value, created: &HashMap<String, String>) -> Result<Request> {
    let method = op
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("bulk operation needs a 'method'"))?
        .to_ascii_uppercase();
    if !matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
        return Err(ScimError::invalid_syntax(format!(
            "bulk operation method must be POST, PUT, PATCH or DELETE, got '{method}'"
        )));
    }
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("bulk operation needs a 'path'"))?;
    if method == "POST" && op.get("bulkId").and_then(Value::as_str).is_none() {
        return Err(ScimError::invalid_syntax("a bulk POST needs a 'bulkId'"));
    }
    let mut headers = vec![("Content-Type".into(), SCIM_JSON.into())];
    if let Some(v) = op.get("version").and_then(Value::as_str) {
        headers.push(("If-Match".into(), v.to_owned()));
    }
    let body = match op.get("data") {
        Some(d) if method != "DELETE" => {
            let mut d = d.clone();
            substitute(&mut d, created)?;
            serde_json::to_vec(&d).unwrap_or_default()
        }
        _ if method == "DELETE" => Vec::new(),
        _ => return Err(ScimError::invalid_syntax("bulk operation needs 'data'")),
    };
    let path = substitute_path(path, created);
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (path, String::new()),
    };
    Ok(Request {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix(BULK_PREFIX) {
                out.push(r.to_owned());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// Replace every `"bulkId:x"` string with the id the operation with bulkId `x` created.
fn substitute(v: &mut Value, created: &HashMap<String, String>) -> Result<()> {
    match v {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix(BULK_PREFIX) {
                let id = created.get(r).ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "bulkId '{r}' does not name a created resource"
                    ))
                })?;
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().try_for_each(|x| substitute(x, created))?,
        Value::Object(o) => o.values_mut().try_for_each(|x| substitute(x, created))?,
        _ => {}
    }
    Ok(())
}

fn substitute_path(path: &str, created: &HashMap<String, String>) -> String {
    path.split('/')
        .map(
            |seg| match seg.strip_prefix(BULK_PREFIX).and_then(|r| created.get(r)) {
                Some(id) => id.as_str(),
                None => seg,
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}
