//! Input validation: turn a client's JSON into a resource in canonical form.
//!
//! One code path: [`normalize`] sorts a body's keys onto attribute definitions and hands
//! every value to [`normalize_value`], which PATCH calls directly too.
//!
//! Rules (lenient by default, as IdPs need):
//! - attribute names match case-insensitively; two keys folding to one attribute are a
//!   400 `invalidSyntax`;
//! - `null`, `[]` and `{}` mean "unassigned" and are dropped;
//! - readOnly attributes (id, meta, groups, manager.displayName) are dropped at every level;
//! - unknown attributes and schema URNs are dropped (rejected with [`Mode::strict`]);
//! - the strings `"true"`/`"false"` (any case) are accepted for booleans (Entra);
//! - `canonicalValues` are not enforced.

use super::{AttrType, AttributeDef, Mutability, ResourceTypeDef, SchemaDef, COMMON, GROUP};
use crate::error::{Result, ScimError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How strictly input is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// Reject unknown attributes and unknown schema URNs (400 `invalidSyntax`) instead of
    /// ignoring them.
    pub strict: bool,
}

/// Longest accepted string value, in bytes (hostile-input guard).
pub(crate) const MAX_STRING_BYTES: usize = 64 * 1024;
/// Most elements accepted in one multi-valued attribute (Group `members` excepted).
pub(crate) const MAX_MULTI_VALUES: usize = 10_000;

/// Index of a schema in a [`Slots`] key: common attributes, the core schema, then the
/// resource type's extensions in their declared order. Orders the canonical output.
const COMMON_IDX: usize = 0;
const CORE_IDX: usize = 1;

/// Where each accepted key of the body goes: (schema index, attribute index) → value.
type Slots<'a> = BTreeMap<(usize, usize), (&'static AttributeDef, String, &'a Value)>;

/// Validate a full resource (POST/PUT body) and return it in canonical form.
pub fn normalize(rt: &ResourceTypeDef, input: &Value, mode: Mode) -> Result<Value> {
    let obj = input
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;

    let mut slots: Slots = BTreeMap::new();
    let mut schemas: Option<&Value> = None;

    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            schemas = Some(value);
        } else if let Some((ai, attr)) = find_core(rt, key) {
            place(&mut slots, ai, attr, key.clone(), value)?;
        } else if let Some(ei) = extension_index(rt, key) {
            let schema = rt.extensions[ei].schema;
            let Some(inner) = container(value, schema.id)? else {
                continue;
            };
            for (k, v) in inner {
                let path = format!("{}:{}", schema.id, k);
                match find(schema, k) {
                    Some((i, attr)) => place(&mut slots, (CORE_IDX + 1 + ei, i), attr, path, v)?,
                    None => unknown(mode, &path)?,
                }
            }
        } else if key.eq_ignore_ascii_case(rt.schema.id) {
            let Some(inner) = container(value, rt.schema.id)? else {
                continue;
            };
            for (k, v) in inner {
                match find_core(rt, k) {
                    Some((ai, attr)) => place(&mut slots, ai, attr, k.clone(), v)?,
                    None => unknown(mode, &format!("{}:{}", rt.schema.id, k))?,
                }
            }
        } else if let Some((si, name)) = qualified(rt, key) {
            let found = if si == CORE_IDX {
                find_core(rt, name)
            } else {
                find(rt.extensions[si - CORE_IDX - 1].schema, name).map(|(i, a)| ((si, i), a))
            };
            match found {
                Some((ai, attr)) => place(&mut slots, ai, attr, key.clone(), value)?,
                None => unknown(mode, key)?,
            }
        } else {
            unknown(mode, key)?;
        }
    }

    check_schemas(rt, schemas, mode)?;

    let mut core = Map::new();
    let mut exts: Vec<Map<String, Value>> = vec![Map::new(); rt.extensions.len()];
    for ((si, _), (attr, key, value)) in slots {
        let path = if si > CORE_IDX {
            format!(
                "{}:{}",
                rt.extensions[si - CORE_IDX - 1].schema.id,
                attr.name
            )
        } else {
            // Report the name as the schema spells it, but keep a qualified key's URN.
            match key.rfind(':') {
                Some(_) => format!("{}:{}", rt.schema.id, attr.name),
                None => attr.name.to_owned(),
            }
        };
        if let Some(v) = normalize_value(attr, value, &path, mode)? {
            if si > CORE_IDX {
                exts[si - CORE_IDX - 1].insert(attr.name.to_owned(), v);
            } else {
                core.insert(attr.name.to_owned(), v);
            }
        }
    }

    let mut out = Map::new();
    out.insert("schemas".to_owned(), Value::Null);
    out.extend(core);
    for (ext, attrs) in rt.extensions.iter().zip(exts) {
        if !attrs.is_empty() {
            out.insert(ext.schema.id.to_owned(), Value::Object(attrs));
        }
    }
    out["schemas"] = rt.schema_ids(&out);
    Ok(Value::Object(out))
}

/// Validate one attribute's whole value (an array for a multi-valued attribute) against
/// its definition, as in a PATCH operation or a POST body. Returns the canonical value, or
/// `None` when the value means "unassigned" (`null`, `[]`, `{}`). `path` names the
/// attribute in error details (`name.givenName`, `emails`).
///
/// The attribute's own mutability is not checked here (the caller decides what a write to
/// a readOnly attribute means); readOnly sub-attributes of a complex value are dropped.
pub fn normalize_value(
    attr: &AttributeDef,
    value: &Value,
    path: &str,
    mode: Mode,
) -> Result<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if !attr.multi_valued {
        if value.is_array() {
            return Err(ScimError::invalid_value(format!(
                "attribute '{path}' is single-valued and must not be an array"
            )));
        }
        return normalize_element(attr, value, path, mode);
    }
    let Value::Array(items) = value else {
        return Err(ScimError::invalid_value(format!(
            "attribute '{path}' is multi-valued and must be an array"
        )));
    };
    if items.len() > MAX_MULTI_VALUES && !is_group_members(attr) {
        return Err(ScimError::invalid_value(format!(
            "attribute '{path}' has more than {MAX_MULTI_VALUES} values"
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = normalize_element(attr, item, path, mode)? {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    if attr.ty == AttrType::Complex && attr.sub("primary").is_some() {
        let primaries = out
            .iter()
            .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
            .count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "attribute '{path}' has more than one value with primary=true"
            )));
        }
    }
    Ok(Some(Value::Array(out)))
}

/// Validate one element of a multi-valued attribute (or a single-valued attribute's
/// value). Same contract as [`normalize_value`].
pub fn normalize_element(
    attr: &AttributeDef,
    value: &Value,
    path: &str,
    mode: Mode,
) -> Result<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    let bad = |what: &str| ScimError::invalid_value(format!("attribute '{path}' must be {what}"));
    let string = |what: &str| -> Result<&str> {
        let s = value.as_str().ok_or_else(|| bad(what))?;
        if s.len() > MAX_STRING_BYTES {
            return Err(ScimError::invalid_value(format!(
                "attribute '{path}' is longer than {MAX_STRING_BYTES} bytes"
            )));
        }
        Ok(s)
    };
    let v = match attr.ty {
        AttrType::String => {
            string("a string")?;
            value.clone()
        }
        AttrType::Reference => {
            string("a string (a reference)")?;
            value.clone()
        }
        AttrType::Boolean => match value {
            Value::Bool(_) => value.clone(),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(bad("a boolean")),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                    Value::from(f as i64)
                }
                _ => return Err(bad("an integer")),
            },
            _ => return Err(bad("an integer")),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => value.clone(),
            _ => return Err(bad("a number")),
        },
        AttrType::DateTime => {
            let s = string("a dateTime string")?;
            if !is_date_time(s) {
                return Err(bad("an RFC 3339 dateTime (like 2024-05-13T04:42:34Z)"));
            }
            value.clone()
        }
        AttrType::Binary => {
            let s = string("a base64 string")?;
            if !is_base64(s) {
                return Err(bad("valid base64"));
            }
            value.clone()
        }
        AttrType::Complex => {
            let obj = value.as_object().ok_or_else(|| bad("a complex value"))?;
            return normalize_complex(attr, obj, path, mode);
        }
    };
    Ok(Some(v))
}

/// A complex value: each known, writable sub-attribute normalized, in schema order.
fn normalize_complex(
    attr: &AttributeDef,
    obj: &Map<String, Value>,
    path: &str,
    mode: Mode,
) -> Result<Option<Value>> {
    let mut found: BTreeMap<usize, (&'static AttributeDef, &Value)> = BTreeMap::new();
    for (k, v) in obj {
        let Some(i) = attr
            .sub_attributes
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(k))
        else {
            unknown(mode, &format!("{path}.{k}"))?;
            continue;
        };
        let sub = &attr.sub_attributes[i];
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        if found.insert(i, (sub, v)).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "attribute '{path}.{}' is given more than once",
                sub.name
            )));
        }
    }
    let mut out = Map::new();
    for (sub, v) in found.into_values() {
        if let Some(v) = normalize_value(sub, v, &format!("{path}.{}", sub.name), mode)? {
            out.insert(sub.name.to_owned(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// Check a canonical resource has every required attribute (and every required
/// sub-attribute of the complex values it has): 400 `invalidValue` naming the first missing.
pub fn check_required(rt: &ResourceTypeDef, resource: &Value) -> Result<()> {
    let obj = resource
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
    check_schema_required(&COMMON, obj, "")?;
    check_schema_required(rt.schema, obj, "")?;
    for ext in rt.extensions {
        match get_ci(obj, ext.schema.id) {
            Some(Value::Object(inner)) => {
                check_schema_required(ext.schema, inner, &format!("{}:", ext.schema.id))?
            }
            _ if ext.required => {
                return Err(ScimError::invalid_value(format!(
                    "required extension '{}' is missing",
                    ext.schema.id
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_schema_required(schema: &SchemaDef, obj: &Map<String, Value>, prefix: &str) -> Result<()> {
    for attr in schema.attributes {
        if attr.mutability == Mutability::ReadOnly {
            continue;
        }
        let value = get_ci(obj, attr.name).filter(|v| !is_unassigned(v));
        let Some(value) = value else {
            if attr.required {
                return Err(missing(&format!("{prefix}{}", attr.name)));
            }
            continue;
        };
        if attr.ty != AttrType::Complex {
            continue;
        }
        let elements: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        for element in elements {
            let Value::Object(sub_obj) = element else {
                continue;
            };
            for sub in attr.sub_attributes {
                if sub.required
                    && sub.mutability != Mutability::ReadOnly
                    && get_ci(sub_obj, sub.name).is_none_or(is_unassigned)
                {
                    return Err(missing(&format!("{prefix}{}.{}", attr.name, sub.name)));
                }
            }
        }
    }
    Ok(())
}

fn missing(path: &str) -> ScimError {
    ScimError::invalid_value(format!("required attribute '{path}' is missing"))
}

fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Record a key's value in its slot; readOnly attributes are silently dropped.
fn place<'a>(
    slots: &mut Slots<'a>,
    at: (usize, usize),
    attr: &'static AttributeDef,
    key: String,
    value: &'a Value,
) -> Result<()> {
    if attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    if let Some((_, first, _)) = slots.get(&at) {
        return Err(ScimError::invalid_syntax(format!(
            "attribute '{}' is given more than once ('{first}' and '{key}')",
            attr.name
        )));
    }
    slots.insert(at, (attr, key, value));
    Ok(())
}

/// An ignored key: fine when lenient, 400 `invalidSyntax` when strict.
fn unknown(mode: Mode, name: &str) -> Result<()> {
    if mode.strict {
        return Err(ScimError::invalid_syntax(format!(
            "unknown attribute or schema '{name}'"
        )));
    }
    Ok(())
}

/// The object under an extension (or core) URN key; `None` when unassigned.
fn container<'a>(value: &'a Value, urn: &str) -> Result<Option<&'a Map<String, Value>>> {
    match value {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        _ => Err(ScimError::invalid_value(format!(
            "attribute '{urn}' must be a complex value (a JSON object)"
        ))),
    }
}

fn find(schema: &'static SchemaDef, name: &str) -> Option<(usize, &'static AttributeDef)> {
    schema
        .attributes
        .iter()
        .enumerate()
        .find(|(_, a)| a.name.eq_ignore_ascii_case(name))
}

/// A core-level name: a common attribute (id, externalId, meta) or a core schema one.
fn find_core(rt: &ResourceTypeDef, name: &str) -> Option<((usize, usize), &'static AttributeDef)> {
    find(&COMMON, name)
        .map(|(i, a)| ((COMMON_IDX, i), a))
        .or_else(|| find(rt.schema, name).map(|(i, a)| ((CORE_IDX, i), a)))
}

fn extension_index(rt: &ResourceTypeDef, key: &str) -> Option<usize> {
    rt.extensions
        .iter()
        .position(|e| e.schema.id.eq_ignore_ascii_case(key))
}

/// `<urn>:<attr>` with a URN of this resource type: (schema index, attribute name).
fn qualified<'k>(rt: &ResourceTypeDef, key: &'k str) -> Option<(usize, &'k str)> {
    let strip = |urn: &str| -> Option<&'k str> {
        let head = key.get(..urn.len())?;
        let rest = key.get(urn.len()..)?.strip_prefix(':')?;
        (head.eq_ignore_ascii_case(urn) && !rest.is_empty()).then_some(rest)
    };
    if let Some(rest) = strip(rt.schema.id) {
        return Some((CORE_IDX, rest));
    }
    rt.extensions
        .iter()
        .enumerate()
        .find_map(|(i, e)| strip(e.schema.id).map(|rest| (CORE_IDX + 1 + i, rest)))
}

/// `schemas` must be an array of strings; strict mode also wants the core schema and
/// nothing this resource type does not know.
fn check_schemas(rt: &ResourceTypeDef, schemas: Option<&Value>, mode: Mode) -> Result<()> {
    let list = match schemas {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                list.push(item.as_str().ok_or_else(|| {
                    ScimError::invalid_syntax("'schemas' must be an array of strings")
                })?);
            }
            Some(list)
        }
        Some(_) => {
            return Err(ScimError::invalid_syntax(
                "'schemas' must be an array of strings",
            ))
        }
    };
    if !mode.strict {
        return Ok(());
    }
    let list = list.unwrap_or_default();
    if !list.iter().any(|s| s.eq_ignore_ascii_case(rt.schema.id)) {
        return Err(ScimError::invalid_syntax(format!(
            "'schemas' must contain '{}'",
            rt.schema.id
        )));
    }
    for s in list {
        if !s.eq_ignore_ascii_case(rt.schema.id) && rt.extension(s).is_none() {
            return Err(ScimError::invalid_syntax(format!(
                "unknown schema '{s}' for resource type {}",
                rt.name
            )));
        }
    }
    Ok(())
}

fn is_group_members(attr: &AttributeDef) -> bool {
    GROUP.attr("members").is_some_and(|m| std::ptr::eq(m, attr))
}

/// RFC 3339 date-time (the `time` crate's parser: offset required).
fn is_date_time(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

/// Standard-alphabet base64, padding optional (but if present, it completes the last
/// quantum), no whitespace.
fn is_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    let pad = s.len() - body.len();
    if pad > 2 || (pad > 0 && s.len() % 4 != 0) || body.len() % 4 == 1 {
        return false;
    }
    body.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}
