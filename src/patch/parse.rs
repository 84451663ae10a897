//! The PatchOp message (RFC 7644 §3.5.2).

use super::{OpKind, PatchOp, PATCH_OP_SCHEMA};
use crate::error::{Result, ScimError, ScimType};
use crate::filter::parse_path;
use serde_json::{Map, Value};

/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// Case-insensitive member lookup (clients spell `Operations`, `operations`, `Op`, ...).
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub(super) fn parse_request(body: &Value) -> Result<Vec<PatchOp>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a PatchOp request body must be a JSON object"))?;
    let schemas = get_ci(obj, "schemas")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ScimError::invalid_syntax(format!("`schemas` must list {PATCH_OP_SCHEMA}"))
        })?;
    if !schemas.iter().any(|s| {
        s.as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
    }) {
        return Err(ScimError::invalid_syntax(format!(
            "`schemas` must list {PATCH_OP_SCHEMA}"
        )));
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("`Operations` must be an array"))?;
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("`Operations` must not be empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::bad_request(
            ScimType::TooMany,
            format!("at most {MAX_OPERATIONS} operations are accepted in one request"),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

fn parse_op(i: usize, op: &Value) -> Result<PatchOp> {
    let obj = op
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax(format!("Operations[{i}] must be an object")))?;
    let name = get_ci(obj, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax(format!("Operations[{i}].op is missing")))?;
    let kind = match name.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "replace" => OpKind::Replace,
        "remove" => OpKind::Remove,
        _ => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}].op `{name}` is not add, replace or remove"
            )))
        }
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_path(s.trim()).map_err(|e| {
            ScimError::invalid_path(format!("Operations[{i}].path `{s}`: {}", e.detail))
        })?),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "Operations[{i}].path must be a string"
            )))
        }
    };
    let value = get_ci(obj, "value").cloned();
    match (kind, &value) {
        (OpKind::Add, None | Some(Value::Null)) | (OpKind::Replace, None) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}] ({}) needs a `value`",
                kind.as_str()
            )))
        }
        _ => {}
    }
    Ok(PatchOp {
        op: kind,
        path,
        value,
    })
}
