//! Rendering a stored resource as the client sees it: `id`, `meta`, and the derived
//! `members` (groups) and `groups` (users) added to the canonical attributes.

use super::Ctx;
use crate::error::{Result, ScimError};
use crate::schema::{
    compact_members, member_text, raw_members, write_json_str, ProjectedWriter, Projection,
    ResourceKind,
};
use crate::store::{Member, ReadTx, StoredResource, StoredText};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The ETag of a version (weak: the representation may vary with `attributes`).
pub(crate) fn etag(version: u64) -> String {
    let mut tag = Vec::with_capacity(24);
    tag.extend_from_slice(b"W/\"");
    push_digits(&mut tag, version);
    tag.push(b'"');
    // ASCII only.
    String::from_utf8(tag).unwrap_or_default()
}

/// The decimal digits of `n`, without the formatting machinery (every response's ETag
/// and `meta.version` carry one).
fn push_digits(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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
    if let Some(list) = derived_members(ctx, tx, r.kind, &r.id, members)? {
        out.insert("members".into(), list);
    }
    if let Some(list) = derived_groups(ctx, tx, r.kind, &r.id, groups)? {
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

/// The `meta` object of `r`.
fn meta(ctx: &Ctx, r: &StoredResource) -> Value {
    let fields = Head::of(r, |head| meta_fields(ctx, head));
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect(),
    )
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
    let mut w = ProjectedWriter::new(r.kind.resource_type(), projection, out);
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
    Head::of(r, |head| write_tail(ctx, tx, head, projection, w))
}

/// [`write`] of a resource read as text: what the projection keeps whole is copied from
/// the stored text (for a request without `attributes`, all of it), so the stored JSON is
/// neither parsed into a [`Value`] nor written back from one.
pub(crate) fn write_text(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    r: &StoredText,
    projection: &Projection,
    out: &mut Vec<u8>,
) -> Result<()> {
    let bad = |e: serde_json::Error| ScimError::internal(format!("store: json: {e}"));
    // Each member as (name, whole text, value text); scanned without a parse when the
    // store wrote the text compactly, as serde_json does.
    let parsed;
    let scanned = compact_members(&r.data);
    let data: Vec<(Cow<str>, &str, &str)> = match scanned {
        Some(members) => members
            .into_iter()
            .map(|(k, m, v)| (Cow::Borrowed(k), m, v))
            .collect(),
        None => {
            parsed = raw_members(&r.data).map_err(bad)?;
            parsed
                .iter()
                .map(|(k, v)| (Cow::Borrowed(&**k), member_text(&r.data, k, v), v.get()))
                .collect()
        }
    };
    let mut w = ProjectedWriter::new(r.kind.resource_type(), projection, out);
    if let Some((k, m, v)) = data.iter().find(|(k, _, _)| k == "schemas") {
        w.member_stored(k, m, v).map_err(bad)?;
    }
    w.member_strings("id", |out| write_json_str(out, &[&r.id]))
        .map_err(bad)?;
    for (k, m, v) in data.iter().filter(|(k, _, _)| k != "schemas") {
        w.member_stored(k, m, v).map_err(bad)?;
    }
    let head = Head {
        kind: r.kind,
        id: &r.id,
        created: &r.created,
        last_modified: &r.last_modified,
        version: r.version,
    };
    write_tail(ctx, tx, &head, projection, w)
}

/// What the rendering of a resource needs besides its attributes.
struct Head<'a> {
    kind: ResourceKind,
    id: &'a str,
    /// RFC 3339 text.
    created: &'a str,
    last_modified: &'a str,
    version: u64,
}

impl Head<'_> {
    /// `f` of the head of a parsed resource (its times formatted as RFC 3339).
    fn of<R>(r: &StoredResource, f: impl FnOnce(&Head) -> R) -> R {
        f(&Head {
            kind: r.kind,
            id: &r.id,
            created: &timestamp(r.created),
            last_modified: &timestamp(r.last_modified),
            version: r.version,
        })
    }
}

/// The members after the stored attributes: the derived lists the projection returns,
/// and `meta`; then the object is closed.
fn write_tail(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    head: &Head,
    projection: &Projection,
    mut w: ProjectedWriter,
) -> Result<()> {
    let rt = head.kind.resource_type();
    let members = if projection.includes(rt, None, "members") {
        Members::All
    } else {
        Members::Skip
    };
    let groups = projection.includes(rt, None, "groups");
    if let Some(list) = derived_members(ctx, tx, head.kind, head.id, &members)? {
        w.member("members", &list);
    }
    if let Some(list) = derived_groups(ctx, tx, head.kind, head.id, groups)? {
        w.member("groups", &list);
    }
    w.member_strings("meta", |out| write_meta(ctx, head, out))
        .map_err(|e| ScimError::internal(format!("meta: {e}")))?;
    w.finish();
    Ok(())
}

/// The `meta` object of [`meta_fields`] as JSON, written from the head's parts (no string
/// of its own per field).
fn write_meta(ctx: &Ctx, head: &Head, out: &mut Vec<u8>) {
    let rt = head.kind.resource_type();
    // The names, the resource type and the version's digits are written as they are:
    // none holds a byte JSON escapes. The other values are checked.
    out.extend_from_slice(b"{\"resourceType\":\"");
    out.extend_from_slice(head.kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"created\":");
    write_json_str(out, &[head.created]);
    out.extend_from_slice(b",\"lastModified\":");
    write_json_str(out, &[head.last_modified]);
    out.extend_from_slice(b",\"location\":");
    write_json_str(out, &[ctx.base_url, rt.endpoint, "/", head.id]);
    out.extend_from_slice(b",\"version\":\"W/\\\"");
    push_digits(out, head.version);
    out.extend_from_slice(b"\\\"\"}");
}

/// A group's `members` as rendered (`None`: not loaded, or none).
fn derived_members(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    kind: ResourceKind,
    id: &str,
    members: &Members,
) -> Result<Option<Value>> {
    let mut list = Vec::new();
    match (kind, members) {
        (ResourceKind::Group, Members::All) => {
            tx.members(id, &mut |m| {
                list.push(member_json(ctx.base_url, &m));
                true
            })?;
        }
        (ResourceKind::Group, Members::Only(ids)) => {
            for member in ids {
                if tx.is_member(id, member)? {
                    list.push(json!({ "value": member }));
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
    kind: ResourceKind,
    id: &str,
    groups: bool,
) -> Result<Option<Value>> {
    if !groups || kind != ResourceKind::User {
        return Ok(None);
    }
    let mut list = Vec::new();
    for gid in tx.groups_of(id)? {
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

/// The members of `meta`, in order.
fn meta_fields(ctx: &Ctx, head: &Head) -> [(&'static str, String); 5] {
    [
        ("resourceType", head.kind.as_str().to_owned()),
        ("created", head.created.to_owned()),
        ("lastModified", head.last_modified.to_owned()),
        ("location", location(ctx.base_url, head.kind, head.id)),
        ("version", etag(head.version)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_the_formatted_versions() {
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(etag(v), format!("W/\"{v}\""));
        }
    }
}
