//! Directory rules applied to every user and group written: the directory's domain is
//! filled into the ws1b `domain` attribute, and optionally enforced; the directory's
//! attribute mappings' immutable and required entries are enforced.

use super::Ctx;
use crate::directory::domain_of;
use crate::error::{Result, ScimError};
use crate::schema::{ResourceKind, WS1B_GROUP_SCHEMA, WS1B_USER_SCHEMA};
use serde_json::{Map, Value};

/// Apply the tenant's rules to a canonical resource about to be stored. `fill` is true
/// for a whole resource (POST, PUT), where an absent `domain` takes the directory's as
/// its default; a PATCH that removes `domain` leaves it unassigned (RFC 7644 §3.5.2.2).
pub(crate) fn apply(ctx: &Ctx, kind: ResourceKind, data: &mut Value, fill: bool) -> Result<()> {
    let Some(domain) = ctx.domain else {
        return Ok(());
    };
    if ctx.enforce_domain && kind == ResourceKind::User {
        enforce(domain, data)?;
    }
    let (true, Value::Object(obj)) = (fill && ctx.fill_domain, data) else {
        return Ok(());
    };
    let urn = match kind {
        ResourceKind::User => WS1B_USER_SCHEMA,
        ResourceKind::Group => WS1B_GROUP_SCHEMA,
    };
    let ext = obj.entry(urn).or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(ext) = ext {
        ext.entry("domain")
            .or_insert_with(|| Value::String(domain.to_owned()));
    }
    let schemas = kind.resource_type().schema_ids(obj);
    obj.insert("schemas".into(), schemas);
    Ok(())
}

/// The mapping rules for a resource about to be stored (`old`: its stored state, for a
/// replace or patch): 400 `mutability` when an immutable mapped value (`externalId` in
/// the `workspace-one` profile) changes, then 400 `invalidValue` when a required one is
/// missing for any service the directory feeds.
pub(crate) fn check_mapping(
    ctx: &Ctx,
    kind: ResourceKind,
    old: Option<&Value>,
    new: &Value,
) -> Result<()> {
    let Some(m) = ctx.mappings else {
        return Ok(());
    };
    if let Some(old) = old {
        m.check_immutable(kind, old, new)?;
    }
    m.check_required(kind, new)
}

fn enforce(domain: &str, data: &Value) -> Result<()> {
    let foreign = |what: &str, value: &str| {
        ScimError::invalid_value(format!(
            "{what} '{value}' is not in this directory's domain '{domain}'"
        ))
    };
    if let Some(name) = data["userName"].as_str() {
        if domain_of(name).is_some_and(|d| !d.eq_ignore_ascii_case(domain)) {
            return Err(foreign("userName", name));
        }
    }
    for email in data["emails"].as_array().into_iter().flatten() {
        let is_work = email["type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("work"));
        if let (true, Some(value)) = (is_work, email["value"].as_str()) {
            if domain_of(value).is_none_or(|d| !d.eq_ignore_ascii_case(domain)) {
                return Err(foreign("work email", value));
            }
        }
    }
    Ok(())
}
