//! A Group's `members`: never in the resource; every change goes to the [`MemberSink`].

use super::target::AttrTarget;
use super::{MemberSink, OpKind};
use crate::error::{Result, ScimError};
use crate::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::schema::{normalize_element, AttrType, AttributeDef, Mode};
use serde_json::{Map, Value};

pub(super) fn apply(
    sink: &mut dyn MemberSink,
    kind: OpKind,
    t: &AttrTarget,
    value: Option<&Value>,
    mode: Mode,
) -> Result<()> {
    let attr = t.res.attr;
    if t.sub.is_some() || t.filter_sub.is_some() {
        return Err(ScimError::invalid_path(format!(
            "`{}`: member sub-attributes cannot be patched; remove and add the member",
            t.path
        )));
    }
    let value = value.filter(|v| !v.is_null());
    match (kind, &t.filter) {
        (OpKind::Add | OpKind::Replace, Some(_)) => Err(ScimError::invalid_path(format!(
            "`{}`: members are added or replaced through the path `members`",
            t.path
        ))),
        (OpKind::Add, None) => {
            let els = elements(attr, value, mode)?;
            if els.is_empty() {
                Ok(())
            } else {
                sink.add(els)
            }
        }
        (OpKind::Replace, None) => sink.replace(elements(attr, value, mode)?),
        (OpKind::Remove, Some(f)) => match value_eq_ids(f) {
            Some(ids) => sink.remove(&ids),
            None => sink.remove_matching(f),
        },
        (OpKind::Remove, None) => match value {
            None => sink.clear(),
            // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}
            Some(v) => {
                let ids = given_ids(v)?;
                if ids.is_empty() {
                    Ok(())
                } else {
                    sink.remove(&ids)
                }
            }
        },
    }
}

/// The members given in an add/replace value: an array, or one member; a bare string is
/// a member id.
fn elements(attr: &AttributeDef, value: Option<&Value>, mode: Mode) -> Result<Vec<Value>> {
    let list: Vec<&Value> = match value {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, el) in list.into_iter().enumerate() {
        let el = match el {
            Value::String(_) if attr.ty == AttrType::Complex => {
                let mut m = Map::new();
                m.insert("value".to_owned(), el.clone());
                Value::Object(m)
            }
            _ => el.clone(),
        };
        if let Some(v) = normalize_element(attr, &el, &format!("members[{i}]"), mode)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// The member ids of a remove value: `[{"value": "id"}, ...]`, `{"value": "id"}` or `"id"`.
fn given_ids(v: &Value) -> Result<Vec<String>> {
    let list: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    list.into_iter()
        .map(|el| {
            let id = match el {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                    .and_then(|(_, v)| v.as_str()),
                _ => None,
            };
            id.map(|s| s.to_owned()).ok_or_else(|| {
                ScimError::invalid_value("each member to remove needs a string `value`")
            })
        })
        .collect()
}

/// `value eq "a"` or `value eq "a" or value eq "b"` → the ids; `None` for other filters.
fn value_eq_ids(f: &Filter) -> Option<Vec<String>> {
    fn walk(f: &Filter, out: &mut Vec<String>) -> Option<()> {
        match f {
            Filter::Compare(
                AttrPath {
                    urn: None,
                    name,
                    sub: None,
                },
                CompareOp::Eq,
                Literal::Str(s),
            ) if name.eq_ignore_ascii_case("value") => {
                out.push(s.clone());
                Some(())
            }
            Filter::Or(a, b) => {
                walk(a, out)?;
                walk(b, out)
            }
            _ => None,
        }
    }
    let mut out = Vec::new();
    walk(f, &mut out)?;
    Some(out)
}
