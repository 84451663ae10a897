//! Single-resource operations: POST, GET, PUT, PATCH, DELETE (RFC 7644 §3.3–3.6), with
//! uniqueness, ETag preconditions and group membership as rows.

use super::params::Params;
use super::render::{self, etag, location};
use super::{tenant, Ctx, Request, Response};
use crate::error::{Result, ScimError, ScimType};
use crate::events::{created_event, events_for, Change, MemberDelta};
use crate::filter::{matches_value, Filter};
use crate::patch::{self, MemberSink};
use crate::schema::{check_required, normalize, Projection, ResourceKind, GROUP};
use crate::store::{IndexKey, Member, PreparedEvent, ReadTx, StoredResource, WriteTx};
use serde_json::Value;
use std::collections::HashSet;

/// POST /Users, POST /Groups.
pub(crate) fn create(
    ctx: &Ctx,
    kind: ResourceKind,
    params: &Params,
    body: &Value,
) -> Result<Response> {
    if kind == ResourceKind::User {
        let user = prepare_user(ctx, params, body)?;
        return insert_user(ctx, &user);
    }
    let projection = params.projection()?;
    let (resource, members) = made(ctx, kind, body)?;
    let id = resource.id.clone();
    let mut out = None;
    write(ctx, &mut |tx| {
        check_unique(tx, &resource, None)?;
        tx.insert(resource.clone())?;
        let mut sink = RowSink::new(ctx, tx, &resource.id);
        sink.add(members.clone())?;
        let delta = sink.delta;
        record(ctx, tx, None, Some(&resource), true, &delta)?;
        out = Some(answer(ctx, tx, &resource, &projection, 201)?);
        Ok(())
    })?;
    let mut resp = out.expect("write succeeded").finish(ctx, &projection)?;
    resp.headers
        .push(("Location".into(), location(ctx.base_url, kind, &id)));
    Ok(resp)
}

/// The new resource a POST body makes, checked (schema, required attributes, the
/// directory's rules and mappings) without the store, and a group's members apart.
fn made(ctx: &Ctx, kind: ResourceKind, body: &Value) -> Result<(StoredResource, Vec<Value>)> {
    let rt = kind.resource_type();
    let mut data = normalize(rt, body, ctx.mode)?;
    check_required(rt, &data)?;
    tenant::apply(ctx, kind, &mut data, true)?;
    let members = take_members(kind, &mut data);
    strip_unstored(&mut data);
    // Time-ordered (UUIDv7): consecutive creates land on the same B-tree pages of the
    // primary key instead of a random page each, which is most of what a large directory's
    // inserts cost. The random bits still make ids unguessable.
    let id = uuid::Uuid::now_v7().to_string();
    let resource = StoredResource {
        id,
        kind,
        data,
        created: ctx.now,
        last_modified: ctx.now,
        version: 1,
    };
    tenant::check_mapping(ctx, kind, None, &resource.data)?;
    Ok((resource, members))
}

/// A POST /Users made and checked, with everything made of it — the response, the mapped
/// records, the event and its JSON text — ready for [`insert_user`]. A new user is in no
/// group: its event view is its whole representation, so none of this needs the store,
/// and all of it is made outside the store's writer (which serialises every write of
/// every directory); a bulk request prepares its users in parallel.
pub(crate) struct PreparedUser {
    resource: StoredResource,
    event: PreparedEvent,
    resp: Response,
}

/// The first half of POST /Users: everything but the write. Refuses what the request
/// alone shows wrong; the store's refusal (uniqueness) comes in [`insert_user`].
pub(crate) fn prepare_user(ctx: &Ctx, params: &Params, body: &Value) -> Result<PreparedUser> {
    let projection = params.projection()?;
    let kind = ResourceKind::User;
    let (resource, _) = made(ctx, kind, body)?;
    let view = render::view(ctx, &resource);
    let resp = if ctx.bodiless {
        bodiless(201, resource.version)
    } else {
        let rt = kind.resource_type();
        let mut resp = Response::json(201, &crate::schema::project(rt, &view, &projection));
        resp.headers.push(("ETag".into(), etag(resource.version)));
        resp
    };
    let records = ctx.mappings.map(|m| m.records(kind, &resource.data));
    let event = PreparedEvent::new(created_event(kind, &resource.id, ctx.now, view, records))?;
    Ok(PreparedUser {
        resource,
        event,
        resp,
    })
}

/// The second half of POST /Users: the write, which checks uniqueness (its only refusal,
/// before any change), inserts, and appends the event. `user` stays the caller's, to
/// free where it suits (a bulk request frees it on the thread that made it).
pub(crate) fn insert_user(ctx: &Ctx, user: &PreparedUser) -> Result<Response> {
    let PreparedUser {
        resource,
        event,
        resp,
    } = user;
    write_checked(ctx, &mut |tx| check_unique(tx, resource, None), &mut |tx| {
        tx.insert(resource.clone())?;
        tx.append_prepared(event)?;
        Ok(())
    })?;
    let mut resp = resp.clone();
    resp.headers.push((
        "Location".into(),
        location(ctx.base_url, resource.kind, &resource.id),
    ));
    Ok(resp)
}

/// A write's response: made in the write transaction, or, when it lists a group's
/// members, after the commit from a read, so the store's writer (which serialises every
/// write of every directory) is never held while a member list is read and serialised.
enum Answer {
    Ready(Response),
    /// Render this resource (as committed) with this status, after the write.
    Later(StoredResource, u16),
}

/// The answer to a write of `r`, inside its transaction.
fn answer(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    r: &StoredResource,
    projection: &Projection,
    status: u16,
) -> Result<Answer> {
    let lists_members = r.kind == ResourceKind::Group
        && projection.includes(r.kind.resource_type(), None, "members");
    // Inside a bulk request the write has not committed yet (a read would not see it),
    // and the bulk response carries no resource bodies anyway.
    if lists_members && ctx.shared.is_none() {
        Ok(Answer::Later(r.clone(), status))
    } else {
        Ok(Answer::Ready(respond(ctx, tx, r, projection, status)?))
    }
}

impl Answer {
    /// The response, after the write committed. A later answer shows the resource as
    /// stored now: this write's state, or a later write's (its ETag says which); when the
    /// resource was deleted meanwhile, this write's state without members.
    fn finish(self, ctx: &Ctx, projection: &Projection) -> Result<Response> {
        match self {
            Answer::Ready(resp) => Ok(resp),
            Answer::Later(written, status) => {
                let mut out = None;
                ctx.store.read(ctx.dir, &mut |tx| {
                    let current = tx.get(written.kind, &written.id)?;
                    let r = current.as_ref().unwrap_or(&written);
                    out = Some(respond(ctx, tx, r, projection, status)?);
                    Ok(())
                })?;
                Ok(out.expect("read succeeded"))
            }
        }
    }
}

/// GET /Users/{id}, GET /Groups/{id}.
pub(crate) fn get(
    ctx: &Ctx,
    kind: ResourceKind,
    id: &str,
    params: &Params,
    req: &Request,
) -> Result<Response> {
    let projection = params.projection()?;
    let mut out = None;
    ctx.store.read(ctx.dir, &mut |tx| {
        // The stored text, written out as it is where the projection keeps it whole.
        let r = tx.get_text(kind, id)?.ok_or_else(|| not_found(kind, id))?;
        if let Some(tags) = req.header("If-None-Match") {
            if etag_matches(tags, r.version) {
                out = Some(Response {
                    status: 304,
                    headers: vec![("ETag".into(), etag(r.version))],
                    body: Vec::new(),
                });
                return Ok(());
            }
        }
        if ctx.bodiless {
            out = Some(bodiless(200, r.version));
            return Ok(());
        }
        let mut body = Vec::with_capacity(1024);
        render::write_text(ctx, tx, &r, &projection, &mut body)?;
        let mut resp = Response::json_bytes(200, body);
        resp.headers.push(("ETag".into(), etag(r.version)));
        out = Some(resp);
        Ok(())
    })?;
    Ok(out.expect("read succeeded"))
}

/// PUT /Users/{id}, PUT /Groups/{id}: replace every client-writable attribute.
pub(crate) fn replace(
    ctx: &Ctx,
    kind: ResourceKind,
    id: &str,
    params: &Params,
    req: &Request,
    body: &Value,
) -> Result<Response> {
    let rt = kind.resource_type();
    let mut data = normalize(rt, body, ctx.mode)?;
    check_required(rt, &data)?;
    tenant::apply(ctx, kind, &mut data, true)?;
    let members = take_members(kind, &mut data);
    strip_unstored(&mut data);
    update(ctx, kind, id, params, req, false, &mut |tx, new| {
        new.data = data.clone();
        match kind {
            ResourceKind::Group => {
                let mut sink = RowSink::new(ctx, tx, id);
                sink.replace(members.clone())?;
                Ok(sink.delta)
            }
            ResourceKind::User => Ok(MemberDelta::default()),
        }
    })
}

/// PATCH /Users/{id}, PATCH /Groups/{id}: atomic — any failing operation changes nothing.
pub(crate) fn patch(
    ctx: &Ctx,
    kind: ResourceKind,
    id: &str,
    params: &Params,
    req: &Request,
    body: &Value,
) -> Result<Response> {
    let rt = kind.resource_type();
    let ops = patch::parse_request(body)?;
    update(ctx, kind, id, params, req, true, &mut |tx, new| {
        let delta = if kind == ResourceKind::Group {
            let mut sink = RowSink::new(ctx, tx, id);
            patch::apply(rt, &mut new.data, &ops, Some(&mut sink), ctx.mode)?;
            sink.delta
        } else {
            patch::apply(rt, &mut new.data, &ops, None, ctx.mode)?;
            MemberDelta::default()
        };
        strip_unstored(&mut new.data);
        check_required(rt, &new.data)?;
        tenant::apply(ctx, kind, &mut new.data, false)?;
        Ok(delta)
    })
}

/// How a PUT or PATCH changes the stored resource (given as `new`, a copy of the stored
/// one) inside the write transaction; returns the membership change.
type Edit<'a> = dyn FnMut(&mut dyn WriteTx, &mut StoredResource) -> Result<MemberDelta> + 'a;

/// The shared path of PUT and PATCH: precondition, change, mapping and uniqueness
/// checks, then commit — all in one transaction.
///
/// A PATCH of a group with more than [`super::Config::large_group_members`] members, when
/// the client asked for no particular attributes, answers 204 No Content (RFC 7644
/// §3.5.2 allows it): one membership change must not serialise the whole member list.
fn update(
    ctx: &Ctx,
    kind: ResourceKind,
    id: &str,
    params: &Params,
    req: &Request,
    is_patch: bool,
    change: &mut Edit,
) -> Result<Response> {
    let projection = params.projection()?;
    let mut out = None;
    write(ctx, &mut |tx| {
        let old = existing(tx, kind, id)?;
        check_if_match(req, &old)?;
        let mut new = old.clone();
        let delta = change(tx, &mut new)?;
        tenant::check_mapping(ctx, kind, Some(&old.data), &new.data)?;
        check_unique(tx, &new, Some(&old))?;
        let stored = commit(ctx, tx, old, new, &delta)?;
        let unasked =
            params.get("attributes").is_none() && params.get("excludedAttributes").is_none();
        out = Some(
            if is_patch
                && unasked
                && kind == ResourceKind::Group
                && tx.has_more_members_than(id, ctx.config.large_group_members)?
            {
                Answer::Ready(bodiless(204, stored.version))
            } else {
                answer(ctx, tx, &stored, &projection, 200)?
            },
        );
        Ok(())
    })?;
    out.expect("write succeeded").finish(ctx, &projection)
}

/// DELETE /Users/{id}, DELETE /Groups/{id}.
pub(crate) fn delete(ctx: &Ctx, kind: ResourceKind, id: &str, req: &Request) -> Result<Response> {
    write(ctx, &mut |tx| {
        let old = existing(tx, kind, id)?;
        check_if_match(req, &old)?;
        // The groups it was in lose a member: tell the host, then delete.
        for gid in tx.groups_of(id)? {
            let Some(group) = tx.get(ResourceKind::Group, &gid)? else {
                continue;
            };
            let mut delta = MemberDelta::default();
            delta.remove(id);
            record(ctx, tx, Some(&group), Some(&group), false, &delta)?;
        }
        record(ctx, tx, Some(&old), None, true, &MemberDelta::default())?;
        tx.delete(kind, id)?;
        Ok(())
    })?;
    Ok(Response {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    })
}

/// Run `f` as this request's write: its own store transaction, or, for an operation of a
/// bulk request, a savepoint of the transaction the bulk's operations share (a failing
/// operation then leaves no trace, and the others still commit).
fn write(ctx: &Ctx, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
    match ctx.shared {
        Some(shared) => shared.savepoint(f),
        None => ctx.store.write(ctx.dir, f),
    }
}

/// [`write`] for a write whose refusals all come before its first change: `check`
/// reads and may refuse; `apply` changes the store and fails only when the store does.
/// It needs no savepoint of its own, in a bulk request (see `bulk::Shared::checked`) or
/// a store's batch of concurrent writes (see [`crate::store::Store::write_checked`]).
fn write_checked(
    ctx: &Ctx,
    check: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    apply: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
) -> Result<()> {
    match ctx.shared {
        Some(shared) => shared.checked(check, apply),
        None => ctx.store.write_checked(ctx.dir, check, apply),
    }
}

/// The resource, or 404.
pub(crate) fn existing(tx: &dyn ReadTx, kind: ResourceKind, id: &str) -> Result<StoredResource> {
    tx.get(kind, id)?.ok_or_else(|| not_found(kind, id))
}

fn not_found(kind: ResourceKind, id: &str) -> ScimError {
    ScimError::not_found(format!("{} '{id}' not found", kind.as_str()))
}

/// Store `new` with the next version when anything changed, and record the change's
/// events; otherwise keep `old` as is, so a repeated identical request is not a change.
fn commit(
    ctx: &Ctx,
    tx: &mut dyn WriteTx,
    old: StoredResource,
    mut new: StoredResource,
    delta: &MemberDelta,
) -> Result<StoredResource> {
    let attributes_changed = new.data != old.data;
    if !attributes_changed && delta.is_empty() {
        return Ok(old);
    }
    new.version = old.version + 1;
    new.last_modified = ctx.now;
    tx.update(new.clone())?;
    record(ctx, tx, Some(&old), Some(&new), attributes_changed, delta)?;
    Ok(new)
}

/// Append the events of one change to the outbox, in the write's transaction.
fn record(
    ctx: &Ctx,
    tx: &mut dyn WriteTx,
    before: Option<&StoredResource>,
    after: Option<&StoredResource>,
    attributes_changed: bool,
    members: &MemberDelta,
) -> Result<()> {
    let Some(r) = after.or(before) else {
        return Ok(());
    };
    let before = before.map(|r| render::view(ctx, r));
    let after = after.map(|r| render::view(ctx, r));
    // The mapped records of the latest state (the last one, for a delete).
    let records = ctx.mappings.map(|m| m.records(r.kind, &r.data));
    let change = Change {
        kind: r.kind,
        id: &r.id,
        before: before.as_ref(),
        after: after.as_ref(),
        attributes_changed,
        members,
        records: records.as_ref(),
    };
    for e in events_for(&change, ctx.now) {
        tx.append_event(e)?;
    }
    Ok(())
}

/// Append a `user.updated` event, with the records of the current mappings, for every
/// user: ids are collected by one streaming scan, events written `batch` users per
/// write transaction (a huge directory never holds one giant transaction). Users
/// deleted meanwhile are skipped. Returns how many events were appended.
pub(crate) fn resync(ctx: &Ctx, batch: usize) -> Result<u64> {
    let mut ids = Vec::new();
    ctx.store.read(ctx.dir, &mut |tx| {
        ids.clear();
        tx.scan(ResourceKind::User, &mut |r| {
            ids.push(r.id.clone());
            true
        })
    })?;
    let mut total = 0u64;
    for chunk in ids.chunks(batch.max(1)) {
        let mut n = 0u64;
        ctx.store.write(ctx.dir, &mut |tx| {
            n = 0;
            for id in chunk {
                let Some(r) = tx.get(ResourceKind::User, id)? else {
                    continue;
                };
                record(ctx, tx, Some(&r), Some(&r), true, &MemberDelta::default())?;
                n += 1;
            }
            Ok(())
        })?;
        total += n;
    }
    Ok(total)
}

/// Write a resource as `projection` selects it, with its ETag (only the ETag when the
/// context wants no body).
fn respond(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    r: &StoredResource,
    projection: &Projection,
    status: u16,
) -> Result<Response> {
    if ctx.bodiless {
        return Ok(bodiless(status, r.version));
    }
    // One allocation for a typical resource instead of a doubling series.
    let mut body = Vec::with_capacity(1024);
    render::write(ctx, tx, r, projection, &mut body)?;
    let mut resp = Response::json_bytes(status, body);
    resp.headers.push(("ETag".into(), etag(r.version)));
    Ok(resp)
}

/// A response with no body: the status and the ETag of `version`.
fn bodiless(status: u16, version: u64) -> Response {
    Response {
        status,
        headers: vec![("ETag".into(), etag(version))],
        body: Vec::new(),
    }
}

/// `password` is accepted but never kept: the provider has no use for a cleartext
/// secret, and what is not stored cannot leak (`changePassword` is advertised false).
fn strip_unstored(data: &mut Value) {
    if let Value::Object(o) = data {
        o.remove("password");
    }
}

/// Pull a group's `members` out of its canonical form: they are stored as rows.
fn take_members(kind: ResourceKind, data: &mut Value) -> Vec<Value> {
    match (kind, data) {
        (ResourceKind::Group, Value::Object(o)) => match o.remove("members") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// 409 when another resource already holds a server-unique value.
fn check_unique(tx: &dyn ReadTx, new: &StoredResource, old: Option<&StoredResource>) -> Result<()> {
    let (key, attr) = match new.kind {
        ResourceKind::User => (IndexKey::UserName, "userName"),
        ResourceKind::Group => (IndexKey::DisplayName, "displayName"),
    };
    let Some(value) = new.data.get(attr).and_then(Value::as_str) else {
        return Ok(());
    };
    if old.is_some_and(|o| o.data.get(attr).and_then(Value::as_str) == Some(value)) {
        return Ok(());
    }
    let taken = tx
        .lookup(new.kind, key, value)?
        .into_iter()
        .any(|other| other != new.id);
    if taken {
        return Err(ScimError::uniqueness(format!(
            "{attr} '{value}' is already taken by another {}",
            new.kind.as_str()
        )));
    }
    Ok(())
}

/// Does an `If-Match`/`If-None-Match` header name this version? (`*` matches any.)
fn etag_matches(header: &str, version: u64) -> bool {
    let current = version.to_string();
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == current)
}

/// 412 when `If-Match` is present and names another version.
pub(crate) fn check_if_match(req: &Request, r: &StoredResource) -> Result<()> {
    match req.header("If-Match") {
        Some(tags) if !etag_matches(tags, r.version) => {
            Err(ScimError::precondition_failed(format!(
                "If-Match '{tags}' does not match the current version {}",
                etag(r.version)
            )))
        }
        _ => Ok(()),
    }
}

/// Membership changes from PATCH/PUT/POST, written straight into the transaction as rows.
///
/// Everything here runs while the store's writer is held, so each change costs what it
/// touches: a replacement diffs through a hash set (one pass over the rows), and a filter
/// other than `value eq` is evaluated only in groups of at most
/// [`super::Config::max_member_filter`] members.
struct RowSink<'a> {
    tx: &'a mut dyn WriteTx,
    group_id: &'a str,
    delta: MemberDelta,
    /// Refuse members that do not exist (400) instead of leaving them out.
    strict: bool,
    max_member_filter: usize,
}

impl<'a> RowSink<'a> {
    fn new(ctx: &Ctx, tx: &'a mut dyn WriteTx, group_id: &'a str) -> Self {
        RowSink {
            tx,
            group_id,
            delta: MemberDelta::default(),
            strict: ctx.mode.strict,
            max_member_filter: ctx.config.max_member_filter,
        }
    }

    /// Resolve a member's kind: the given `type`, else whichever resource has the id;
    /// `None` when no resource of this directory has it.
    fn member_kind(&self, value: &str, given: Option<&str>) -> Result<Option<ResourceKind>> {
        let wanted: &[ResourceKind] = match given {
            Some(t) if t.eq_ignore_ascii_case("User") => &[ResourceKind::User],
            Some(t) if t.eq_ignore_ascii_case("Group") => &[ResourceKind::Group],
            Some(t) => {
                return Err(ScimError::invalid_value(format!(
                    "members.type must be 'User' or 'Group', got '{t}'"
                )))
            }
            None => &[ResourceKind::User, ResourceKind::Group],
        };
        for &k in wanted {
            if self.tx.get(k, value)?.is_some() {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }
}

impl MemberSink for RowSink<'_> {
    fn add(&mut self, members: Vec<Value>) -> Result<()> {
        for m in members {
            let Some(value) = m["value"].as_str() else {
                return Err(ScimError::invalid_value("members.value is required"));
            };
            if value == self.group_id {
                return Err(ScimError::invalid_value(
                    "a group cannot be a member of itself",
                ));
            }
            // A reference to nothing in this directory (ids are ours: it can never come
            // to exist) is left out, like an unknown attribute; strict mode refuses it.
            // The response shows the membership as stored.
            let Some(kind) = self.member_kind(value, m["type"].as_str())? else {
                if self.strict {
                    return Err(ScimError::invalid_value(format!(
                        "member '{value}' does not exist"
                    )));
                }
                log::warn!(target: "scim::provider", "group {}: ignoring unknown member '{value}'", self.group_id);
                continue;
            };
            let row = Member {
                value: value.to_owned(),
                kind,
                display: m["display"].as_str().map(str::to_owned),
            };
            if self.tx.add_member(self.group_id, row.clone())? {
                self.delta.add(row);
            }
        }
        Ok(())
    }

    fn remove(&mut self, ids: &[String]) -> Result<()> {
        for id in ids {
            if self.tx.remove_member(self.group_id, id)? {
                self.delta.remove(id);
            }
        }
        Ok(())
    }

    fn remove_matching(&mut self, filter: &Filter) -> Result<()> {
        let cap = self.max_member_filter;
        if self.tx.has_more_members_than(self.group_id, cap)? {
            return Err(ScimError::bad_request(
                ScimType::TooMany,
                format!(
                    "this member filter is evaluated on every member, and the group has more \
                     than {cap}; remove members by id (`members[value eq \"id\"]`, or a \
                     `value` list)"
                ),
            ));
        }
        let attr = GROUP.attr("members").expect("Group defines members");
        let mut doomed = Vec::new();
        let mut failed = None;
        self.tx.members(self.group_id, &mut |m| {
            let element = super::render::member_json("", &m);
            match matches_value(filter, &element, attr) {
                Ok(true) => doomed.push(m.value),
                Ok(false) => {}
                Err(e) => {
                    failed = Some(e);
                    return false;
                }
            }
            true
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        self.remove(&doomed)
    }

    /// PUT semantics: the rows not in `members` go, the new ones come; one pass over the
    /// rows against a hash set of the wanted ids.
    fn replace(&mut self, members: Vec<Value>) -> Result<()> {
        let wanted: HashSet<&str> = members.iter().filter_map(|m| m["value"].as_str()).collect();
        let mut stale = Vec::new();
        self.tx.members(self.group_id, &mut |m| {
            if !wanted.contains(m.value.as_str()) {
                stale.push(m.value);
            }
            true
        })?;
        drop(wanted);
        self.remove(&stale)?;
        self.add(members)
    }

    fn clear(&mut self) -> Result<()> {
        let mut ids = Vec::new();
        self.tx.members(self.group_id, &mut |m| {
            ids.push(m.value);
            true
        })?;
        self.remove(&ids)
    }
}
