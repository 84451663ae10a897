//! Rendering a stored resource as the client sees it: `id`, `meta`, and the derived
//! `members` (groups) and `groups` (users) added to the canonical attributes.

use super::Ctx;
use crate::error::Result;
use crate::schema::{ProjectedWriter, Projection, ResourceKind};
use crate::store::{Member, ReadTx, StoredResource};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The ETag of a version (weak: the representation may vary with `attributes`).
pub(crate) fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

pub(crate) fn location(base_url: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base_url}{}/{id}", kind.resource_type().endpoint)
}

pub(crate) fn timestamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Which derived members to render.
#[derive(Clone, Debug)]
pub(crate) enum Members {
    /// Not loaded (not requested, or not a group).
    Skip,
    /// Every member row.
    All,
    /// Only these ids, when they are members: enough to evaluate `members.value eq "x"`
    /// without loading a large group.
    Only(Vec<String>),
}

/// The member object of one row.
pub(crate) fn member_json(base_url: &str, m: &Member) -> Value {
    let mut o = Map::new();
    o.insert("value".into(), Value::String(m.value.clone()));
    o.insert(
        "$ref".into(),
        Value::String(location(base_url, m.kind, &m.value)),
    );
    o.insert("type".into(), Value::String(m.kind.as_str().into()));
    if let Some(d) = &m.display {
        o.insert("display".into(), Value::String(d.clone()));
    }
    Value::Object(o)
}

/// The full representation of `r`, before projection (for events and filters; a
/// response is written by [`write`]).
pub(crate) fn render(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    r: &StoredResource,
    members: &Members,
    groups: bool,
) -> Result<Value> {
    let mut out = attributes(r);
    if let Some(list) = derived_members(ctx, tx, r, members)? {
        out.insert("members".into(), list);
    }
    if let Some(list) = derived_groups(ctx, tx, r, groups)? {
        out.insert("groups".into(), list);
    }
    out.insert("meta".into(), meta(ctx, r));
    Ok(Value::Object(out))
}

/// [`render`] without derived `members` and `groups` (`Members::Skip`, no groups): it
/// needs no store, so a write can make it before it takes the store's writer.
pub(crate) fn view(ctx: &Ctx, r: &StoredResource) -> Value {
    let mut out = attributes(r);
    out.insert("meta".into(), meta(ctx, r));
    Value::Object(out)
}

/// `schemas`, `id` and the stored attributes of `r`, in the rendered order.
fn attributes(r: &StoredResource) -> Map<String, Value> {
    // Sized once: the stored attributes plus id, meta and the derived lists.
    let stored = r.data.as_object().map_or(0, Map::len);
    let mut out = Map::with_capacity(stored + 4);
    if let Some(s) = r.data.get("schemas") {
        out.insert("schemas".into(), s.clone());
    }
    out.insert("id".into(), Value::String(r.id.clone()));
    if let Value::Object(data) = &r.data {
        for (k, v) in data {
            if k != "schemas" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// The representation of `r` as `projection` selects it, written as JSON to `out`: the
/// bytes of `project(render(…))` serialised, without building either tree. Members and
/// groups are loaded only when the projection returns them.
///
/// The stored attributes never hold `id`, `meta` or the derived lists (they are readOnly,
/// or rows), so writing them in [`render`]'s order gives the same object.
pub(crate) fn write(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    r: &StoredResource,
    projection: &Projection,
    out: &mut Vec<u8>,
) -> Result<()> {
    let rt = r.kind.resource_type();
    let members = if projection.includes(rt, None, "members") {
        Members::All
    } else {
        Members::Skip
    };
    let groups = projection.includes(rt, None, "groups");
    let mut w = ProjectedWriter::new(rt, projection, out);
    if let Some(s) = r.data.get("schemas") {
        w.member("schemas", s);
    }
    w.member("id", &Value::String(r.id.clone()));
    if let Value::Object(data) = &r.data {
        for (k, v) in data {
            if k != "schemas" {
                w.member(k, v);
            }
        }
    }
    if let Some(list) = derived_members(ctx, tx, r, &members)? {
        w.member("members", &list);
    }
    if let Some(list) = derived_groups(ctx, tx, r, groups)? {
        w.member("groups", &list);
    }
    w.member("meta", &meta(ctx, r));
    w.finish();
    Ok(())
}

/// A group's `members` as rendered (`None`: not loaded, or none).
fn derived_members(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    r: &StoredResource,
    members: &Members,
) -> Result<Option<Value>> {
    let mut list = Vec::new();
    match (r.kind, members) {
        (ResourceKind::Group, Members::All) => {
            tx.members(&r.id, &mut |m| {
                list.push(member_json(ctx.base_url, &m));
                true
            })?;
        }
        (ResourceKind::Group, Members::Only(ids)) => {
            for id in ids {
                if tx.is_member(&r.id, id)? {
                    list.push(json!({ "value": id }));
                }
            }
        }
        _ => {}
    }
    Ok((!list.is_empty()).then_some(Value::Array(list)))
}

/// A user's `groups` (`None`: not asked for, or none).
fn derived_groups(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    r: &StoredResource,
    groups: bool,
) -> Result<Option<Value>> {
    if !groups || r.kind != ResourceKind::User {
        return Ok(None);
    }
    let mut list = Vec::new();
    for gid in tx.groups_of(&r.id)? {
        let display = tx
            .get(ResourceKind::Group, &gid)?
            .and_then(|g| g.data.get("displayName").cloned());
        let mut g = Map::new();
        g.insert("value".into(), Value::String(gid.clone()));
        g.insert(
            "$ref".into(),
            Value::String(location(ctx.base_url, ResourceKind::Group, &gid)),
        );
        if let Some(d) = display {
            g.insert("display".into(), d);
        }
        g.insert("type".into(), Value::String("direct".into()));
        list.push(Value::Object(g));
    }
    Ok((!list.is_empty()).then_some(Value::Array(list)))
}

fn meta(ctx: &Ctx, r: &StoredResource) -> Value {
    let mut meta = Map::with_capacity(5);
    meta.insert("resourceType".into(), r.kind.as_str().into());
    meta.insert("created".into(), timestamp(r.created).into());
    meta.insert("lastModified".into(), timestamp(r.last_modified).into());
    meta.insert(
        "location".into(),
        location(ctx.base_url, r.kind, &r.id).into(),
    );
    meta.insert("version".into(), etag(r.version).into());
    Value::Object(meta)
}
