//! Queries (RFC 7644 §3.4.2, §3.4.3, RFC 9865): filter, sort, paging and projection over
//! one or both resource types.
//!
//! A filter is split into the conditions the store answers from its indexes (equality and
//! `sw` on `id`, `userName`, `displayName`, `externalId`, `emails.value`, `pr` on them, and
//! `and` of those) and a residual it evaluates here. A sort on `userName`, `displayName`,
//! `externalId`, `meta.created` or `meta.lastModified` is an index order. When the store
//! answers the whole filter on one resource type, `totalResults` is an index count and a
//! page is an index seek that reads only the page; otherwise candidates stream through the
//! residual filter once, in bounded memory. A sort the store has no index for keeps only
//! the window up to the requested page, at most [`Config::max_sort_window`]
//! resources (`tooMany` beyond). Whatever the indexes do not answer reads at most
//! [`Config::max_filter_scan`] candidates (`tooMany` beyond): bounded time as well as
//! bounded memory.
//!
//! [`Config::max_sort_window`]: super::Config::max_sort_window
//! [`Config::max_filter_scan`]: super::Config::max_filter_scan

use super::paging::Cursor;
use super::params::{Params, Search};
use super::render::{self, render, Members};
use super::{Ctx, Response};
use crate::error::{Result, ScimError, ScimType};
use crate::filter::{self, AttrPath, CompareOp, CompiledFilter, Filter, Literal};
use crate::schema::{write_json, AttrType, ResourceKind, ResourceTypeDef};
use crate::store::query::{walk, walk_text};
use crate::store::{
    Cond, Key, Order, Position, ReadTx, SortField, Start, StoredResource, StoredText,
};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::VecDeque;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// POST `.search`: the same query, its parameters in the body.
pub(crate) fn search(
    ctx: &Ctx,
    kinds: &[ResourceKind],
    _params: &Params,
    body: &Value,
) -> Result<Response> {
    list(ctx, kinds, Search::from_body(body)?)
}

/// One page of a query, before rendering.
#[derive(Default)]
struct Page {
    total: u64,
    items: Vec<Item>,
    /// Cursor mode: where the next and the previous page start.
    next: Option<Cursor>,
    previous: Option<Cursor>,
}

/// A resource of a page: as stored text when the store answered the whole query (it is
/// only written out, see [`render::write_text`]), parsed when a filter or a sort needed
/// its attributes.
enum Item {
    Text(StoredText),
    Parsed(StoredResource),
}

/// GET on a collection (or the root): a ListResponse.
pub(crate) fn list(ctx: &Ctx, kinds: &[ResourceKind], search: Search) -> Result<Response> {
    if let (Some(f), true) = (&search.filter, kinds.len() > 1) {
        known_somewhere(f, kinds)?;
    }
    let max = ctx.config.max_results;
    let cursor_mode = search.cursor.is_some();
    if cursor_mode {
        if search.start_index_given {
            return Err(ScimError::invalid_value(
                "'cursor' and 'startIndex' request different pagination methods: give one",
            ));
        }
        if search.count == Some(0) {
            return Err(ScimError::bad_request(
                ScimType::InvalidCount,
                format!("with 'cursor', 'count' must be between 1 and {max}"),
            ));
        }
    }
    let count = search.count.unwrap_or(max).min(max);
    let sort = match &search.sort_by {
        Some(path) => Some(SortSpec::parse(path, kinds)?),
        None => None,
    };
    let plans = kinds
        .iter()
        .map(|&k| Plan::new(search.filter.as_ref(), k, kinds.len() > 1))
        .collect::<Result<Vec<_>>>()?;
    // The order the store keeps an index for, if any.
    let indexed = match &sort {
        None => Some(Order::INSERTION),
        Some(s) => s.field.map(|by| Order {
            by: Some(by),
            descending: search.descending,
        }),
    };
    // Written only when a cursor or a continuation needs it (a lookup by userName does not).
    let query_cell = std::cell::OnceCell::new();
    let query = || {
        query_cell
            .get_or_init(|| query_key(kinds, &search))
            .as_str()
    };
    let now = crate::store::query::nanos(ctx.now);
    let timeout = ctx.config.cursor_timeout_secs;
    let start = match search.cursor.as_deref() {
        None | Some("") => None,
        Some(token) => Some(ctx.paging.open(ctx.dir, query(), token, now, timeout)?),
    };

    // The ListResponse written straight (the bytes serde_json writes for it), its
    // resources copied or written from the store's rows into the body itself.
    let mut body = Vec::new();
    ctx.store.read(ctx.dir, &mut |tx| {
        let page =
            match (&plans[..], indexed) {
                ([plan], Some(order)) if cursor_mode => {
                    by_cursor(ctx, tx, plan, order, start.as_ref(), count)?
                }
                ([plan], Some(order)) => by_index(ctx, tx, plan, order, &search, &query, count)?,
                _ if cursor_mode => return Err(ScimError::invalid_value(
                    "cursor pagination is offered on /Users and /Groups, unsorted or sorted by \
                     userName, displayName, externalId, meta.created or meta.lastModified",
                )),
                _ => by_window(ctx, tx, &plans, sort.as_ref(), &search, count)?,
            };
        body.clear();
        body.reserve(256 + RESOURCE_SIZE * page.items.len().min(PREALLOCATED_PAGE));
        body.extend_from_slice(b"{\"schemas\":[");
        write_json(&mut body, LIST_RESPONSE);
        body.extend_from_slice(b"],\"totalResults\":");
        write_json(&mut body, &page.total);
        if !cursor_mode {
            body.extend_from_slice(b",\"startIndex\":");
            write_json(&mut body, &search.start_index);
        }
        body.extend_from_slice(b",\"itemsPerPage\":");
        write_json(&mut body, &page.items.len());
        for (name, c) in [
            ("previousCursor", &page.previous),
            ("nextCursor", &page.next),
        ] {
            if let Some(c) = c {
                body.push(b',');
                write_json(&mut body, name);
                body.push(b':');
                write_json(&mut body, &ctx.paging.seal(ctx.dir, query(), now, c));
            }
        }
        body.extend_from_slice(b",\"Resources\":[");
        for (i, item) in page.items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            match item {
                Item::Text(r) => render::write_text(ctx, tx, r, &search.projection, &mut body)?,
                Item::Parsed(r) => render::write(ctx, tx, r, &search.projection, &mut body)?,
            }
        }
        body.extend_from_slice(b"]}");
        Ok(())
    })?;
    Ok(Response::json_bytes(200, body))
}

/// Room reserved up front for a page's resources (more grow the vector as needed).
const PREALLOCATED_PAGE: usize = 128;
/// Bytes reserved per resource of a page written out (a provisioned user is about 1 KiB).
const RESOURCE_SIZE: usize = 1024;

/// What identifies a query for its cursors and continuations: the resource types, the
/// filter and the order (not the page or the attributes).
fn query_key(kinds: &[ResourceKind], search: &Search) -> String {
    format!(
        "{kinds:?}|{:?}|{}|{}",
        search.filter,
        search.sort_by.as_deref().unwrap_or("").to_ascii_lowercase(),
        search.descending
    )
}

/// Index paging on one resource type in an indexed order. `query` gives the query's key
/// ([`query_key`]), written when first needed.
fn by_index<'q>(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    plan: &Plan,
    order: Order,
    search: &Search,
    query: &dyn Fn() -> &'q str,
    count: usize,
) -> Result<Page> {
    let skip = (search.start_index - 1) as u64;
    let mut page = Page::default();
    let ttl = std::time::Duration::from_secs(ctx.config.cursor_timeout_secs);
    // Where the previous page of this query ended, when this engine served it.
    let continued = match skip {
        0 => None,
        _ => ctx.paging.continuation(ctx.dir, query(), skip + 1, ttl),
    };
    let mut last = None;
    if plan.residual.is_none() {
        // The store answers the whole filter: an index count, and an index seek from the
        // previous page's end, or by offset from the nearer end. A first page that comes
        // out short holds every match, so its length is the count (an equality filter on
        // a unique attribute, as IdPs look users up, needs no count query).
        let first = skip == 0 && count > 0;
        if !first {
            page.total = tx.count_where(plan.kind, &plan.conds, None)?;
            if count == 0 || skip >= page.total {
                return Ok(page);
            }
        }
        let (start, want) = match continued {
            Some(pos) => (Start::After(pos), count),
            None if skip > page.total / 2 => {
                let want = count.min((page.total - skip) as usize);
                (Start::FromEnd(page.total - skip - want as u64), want)
            }
            None => (Start::Offset(skip), count),
        };
        let backwards = matches!(start, Start::FromEnd(_));
        // `want` is often the largest page allowed while the page holds one match.
        let mut found = Vec::with_capacity(want.min(PREALLOCATED_PAGE));
        walk_text(
            tx,
            plan.kind,
            &plan.conds,
            order,
            start,
            want,
            &mut |pos, r| {
                found.push((pos, r));
                found.len() < want
            },
        )?;
        if first {
            page.total = match found.len() {
                n if n < want => n as u64,
                _ => tx.count_where(plan.kind, &plan.conds, None)?,
            };
        }
        if backwards {
            found.reverse();
        }
        last = found.last().map(|(p, _)| p.clone());
        page.items = found.into_iter().map(|(_, r)| Item::Text(r)).collect();
    } else {
        // One pass through the candidates for the count; the page is the matches after
        // the previous page's end, or at the offset.
        plan.each_match(ctx, tx, order, false, &mut |pos, r, _| {
            let wanted = match &continued {
                Some(c) => order.cmp(&pos, c) == Ordering::Greater,
                None => page.total >= skip,
            };
            if wanted && page.items.len() < count {
                page.items.push(Item::Parsed(r));
                last = Some(pos);
            }
            page.total += 1;
            true
        })?;
    }
    // Where the page ended, for the next page's seek: not when none can follow (a page
    // that reached the end, as a lookup by userName does, would only crowd out the
    // continuations of real paging passes).
    let next = skip + 1 + page.items.len() as u64;
    if let Some(pos) = last.filter(|_| next <= page.total) {
        ctx.paging.remember(ctx.dir, query(), next, pos);
    }
    Ok(page)
}

/// Cursor paging (RFC 9865) on one resource type in an indexed order: each page is a seek
/// from the cursor's position.
fn by_cursor(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    plan: &Plan,
    order: Order,
    from: Option<&Cursor>,
    count: usize,
) -> Result<Page> {
    let backwards = from.is_some_and(|c| c.backwards);
    let mut page = Page::default();
    // One more than the page: whether another page follows in this direction.
    let mut found: VecDeque<(Position, Item)> = VecDeque::new();
    if plan.residual.is_none() {
        page.total = tx.count_where(plan.kind, &plan.conds, None)?;
        let start = match from {
            None => Start::Offset(0),
            Some(c) if c.backwards => Start::Before(c.pos.clone()),
            Some(c) => Start::After(c.pos.clone()),
        };
        walk_text(
            tx,
            plan.kind,
            &plan.conds,
            order,
            start,
            count + 1,
            &mut |pos, r| {
                found.push_back((pos, Item::Text(r)));
                found.len() <= count
            },
        )?;
        if backwards {
            found.make_contiguous().reverse();
        }
    } else {
        // One pass for the count; the page is picked on the way, in bounded memory.
        plan.each_match(ctx, tx, order, false, &mut |pos, r, _| {
            page.total += 1;
            match from {
                Some(c) if c.backwards => {
                    if order.cmp(&pos, &c.pos) == Ordering::Less {
                        found.push_back((pos, Item::Parsed(r)));
                        if found.len() > count + 1 {
                            found.pop_front();
                        }
                    }
                }
                Some(c) if order.cmp(&pos, &c.pos) != Ordering::Greater => {}
                _ => {
                    if found.len() <= count {
                        found.push_back((pos, Item::Parsed(r)));
                    }
                }
            }
            true
        })?;
    }
    let more = found.len() > count;
    if more {
        if backwards {
            found.pop_front();
        } else {
            found.pop_back();
        }
    }
    let first = found.front().map(|(p, _)| p.clone());
    let last = found.back().map(|(p, _)| p.clone());
    let cursor = |backwards: bool, pos: Option<Position>| pos.map(|pos| Cursor { backwards, pos });
    if backwards {
        page.previous = if more { cursor(true, first) } else { None };
        page.next = cursor(false, last);
    } else {
        page.next = if more { cursor(false, last) } else { None };
        page.previous = if from.is_some() {
            cursor(true, first)
        } else {
            None
        };
    }
    page.items = found.into_iter().map(|(_, r)| r).collect();
    Ok(page)
}

/// Queries the store cannot order: several resource types, or a sort without an index.
/// Candidates stream through the residual filter; the page is cut from the concatenation,
/// or, sorted, from a window of the first `startIndex + count - 1` results kept in memory.
fn by_window(
    ctx: &Ctx,
    tx: &dyn ReadTx,
    plans: &[Plan],
    sort: Option<&SortSpec>,
    search: &Search,
    count: usize,
) -> Result<Page> {
    let skip = search.start_index - 1;
    let window = skip.saturating_add(count);
    let cap = ctx.config.max_sort_window;
    if sort.is_some() && window > cap {
        return Err(ScimError::bad_request(
            ScimType::TooMany,
            format!(
                "sorting by this attribute keeps startIndex + count - 1 results in memory, \
                 at most {cap}; sort by an indexed attribute, or page with a smaller startIndex"
            ),
        ));
    }
    let mut page = Page::default();
    // Sorted: (key, type, sequence, resource), trimmed to the window as it grows.
    let mut kept: Vec<Kept> = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let needs_view = sort.is_some_and(|s| derived(&s.path));
        plan.each_match(
            ctx,
            tx,
            Order::INSERTION,
            needs_view,
            &mut |pos, r, view| {
                page.total += 1;
                match sort {
                    Some(spec) => {
                        let key = spec.key(view.as_ref().unwrap_or(&r.data));
                        kept.push((key, i, pos.seq, r));
                        if kept.len() >= window.max(1) * 2 {
                            kept.sort_by(|a, b| window_order(spec, search.descending, a, b));
                            kept.truncate(window);
                        }
                    }
                    None => {
                        if page.total > skip as u64 && page.items.len() < count {
                            page.items.push(Item::Parsed(r));
                        }
                    }
                }
                true
            },
        )?;
    }
    if let Some(spec) = sort {
        kept.sort_by(|a, b| window_order(spec, search.descending, a, b));
        page.items = kept
            .into_iter()
            .skip(skip)
            .take(count)
            .map(|(.., r)| Item::Parsed(r))
            .collect();
    }
    Ok(page)
}

/// A result kept in the window of an unindexed sort: its sort value, its resource type's
/// place in the query and its insertion sequence, and the resource.
type Kept = (SortKey, usize, u64, StoredResource);

/// The window's order: by the sort value, ties in insertion order (types in the order the
/// query names them).
fn window_order(spec: &SortSpec, descending: bool, a: &Kept, b: &Kept) -> Ordering {
    spec.compare(&a.0, &b.0, descending)
        .then((a.1, a.2).cmp(&(b.1, b.2)))
}

/// The rendered resources (users with their `groups`) of one type matching `filter`
/// (every one when `None`) that `accept` keeps. Equality on an indexed attribute, also
/// inside a value path (`emails[type eq "work" and value eq "x"]`), is an index lookup.
pub(crate) fn find(
    ctx: &Ctx,
    kind: ResourceKind,
    filter: Option<&Filter>,
    accept: &mut dyn FnMut(&StoredResource) -> bool,
) -> Result<Vec<Value>> {
    let plan = Plan::new(filter, kind, false)?;
    let mut out = Vec::new();
    ctx.store.read(ctx.dir, &mut |tx| {
        let mut found = Vec::new();
        plan.each_match(ctx, tx, Order::INSERTION, false, &mut |_, r, _| {
            if accept(&r) {
                found.push(r);
            }
            true
        })?;
        out = found
            .iter()
            .map(|r| render(ctx, tx, r, &Members::Skip, true))
            .collect::<Result<_>>()?;
        Ok(())
    })?;
    Ok(out)
}

/// At the root, an attribute may be missing from some types, but not from all of them.
fn known_somewhere(f: &Filter, kinds: &[ResourceKind]) -> Result<()> {
    let mut unknown = None;
    visit_paths(f, &mut |p, _| {
        let known = (p.urn.is_none() && p.name.eq_ignore_ascii_case("schemas"))
            || kinds.iter().any(|k| {
                k.resource_type()
                    .resolve(p.urn.as_deref(), &p.name)
                    .is_some()
            });
        if !known && unknown.is_none() {
            unknown = Some(p.to_string());
        }
    });
    match unknown {
        Some(p) => Err(ScimError::invalid_filter(format!(
            "unknown attribute '{p}' in filter"
        ))),
        None => Ok(()),
    }
}

/// How to find the matches of a filter on one resource type: conditions the store
/// answers, and the residual filter evaluated on what it returns.
struct Plan {
    kind: ResourceKind,
    /// Every match satisfies these; with no residual they are the whole filter.
    conds: Vec<Cond>,
    /// The part of the filter the store cannot answer (`None`: nothing left).
    residual: Option<CompiledFilter>,
    members: Members,
    groups: bool,
    /// Whether the residual needs the rendered resource (`id`, `meta`, derived
    /// attributes), or can look at the stored attributes alone.
    needs_view: bool,
}

/// Is this path to something only the rendered resource has?
fn derived(p: &AttrPath) -> bool {
    p.urn.is_none()
        && ["id", "meta", "members", "groups"]
            .iter()
            .any(|n| p.name.eq_ignore_ascii_case(n))
}

impl Plan {
    /// `root`: the query spans several resource types (attributes a type lacks are absent).
    fn new(filter: Option<&Filter>, kind: ResourceKind, root: bool) -> Result<Self> {
        let rt = kind.resource_type();
        let compile = if root {
            filter::compile_for_root
        } else {
            filter::compile
        };
        let mut plan = Plan {
            kind,
            conds: Vec::new(),
            residual: None,
            members: Members::Skip,
            groups: false,
            needs_view: false,
        };
        let Some(f) = filter else {
            return Ok(plan);
        };
        // The whole filter is checked against the schema even when the store answers it.
        compile(f, rt)?;
        let mut rest: Vec<&Filter> = Vec::new();
        and_terms(f, &mut |t| match pushed(t, rt) {
            Some(c) => plan.conds.push(c),
            None => {
                plan.conds.extend(implied(t, rt));
                rest.push(t);
            }
        });
        let Some(residual) = rest
            .iter()
            .map(|t| (*t).clone())
            .reduce(|a, b| Filter::And(Box::new(a), Box::new(b)))
        else {
            return Ok(plan);
        };
        plan.residual = Some(compile(&residual, rt)?);
        let mut ids = Some(Vec::new());
        visit_paths(&residual, &mut |path, cmp| {
            plan.needs_view |= derived(path);
            if path.urn.is_none() && path.name.eq_ignore_ascii_case("groups") {
                plan.groups = true;
            }
            if path.urn.is_none() && path.name.eq_ignore_ascii_case("members") {
                match (cmp, &mut ids) {
                    (Some((CompareOp::Eq, Literal::Str(v))), Some(ids))
                        if path
                            .sub
                            .as_deref()
                            .is_none_or(|s| s.eq_ignore_ascii_case("value")) =>
                    {
                        ids.push(v.clone())
                    }
                    _ => ids = None,
                }
            }
        });
        plan.members = match ids {
            Some(ids) if ids.is_empty() => Members::Skip,
            Some(ids) => Members::Only(ids),
            None => Members::All,
        };
        Ok(plan)
    }

    /// Visit every match in `order` — the store's candidates that pass the residual
    /// filter — with the rendered view when one was made (or `want_view` asked for it),
    /// until `visit` returns `false`.
    fn each_match(
        &self,
        ctx: &Ctx,
        tx: &dyn ReadTx,
        order: Order,
        want_view: bool,
        visit: &mut dyn FnMut(Position, StoredResource, Option<Value>) -> bool,
    ) -> Result<()> {
        let mut err = None;
        let budget = ctx.config.max_filter_scan;
        let mut read = 0usize;
        walk(
            tx,
            self.kind,
            &self.conds,
            order,
            Start::Offset(0),
            // One past the budget: whether there are more is all that is left to know.
            budget.saturating_add(1),
            &mut |pos, r| {
                read += 1;
                if read > budget {
                    err = Some(ScimError::bad_request(
                        ScimType::TooMany,
                        format!(
                            "this query reads every candidate resource (a filter or sort the \
                             indexes do not answer), and there are more than {budget}; narrow \
                             it with an indexed condition (equality or `sw` on userName, \
                             displayName, externalId, emails.value or id)"
                        ),
                    ));
                    return false;
                }
                match self.check(ctx, tx, &r, want_view) {
                    Ok(Some(view)) => visit(pos, r, view),
                    Ok(None) => true,
                    Err(e) => {
                        err = Some(e);
                        false
                    }
                }
            },
        )?;
        err.map_or(Ok(()), Err)
    }

    /// Whether `r` (which satisfies the conditions) matches: `Some` with the rendered view
    /// when one was made (or `want_view` asked for it), `None` when it does not match.
    fn check(
        &self,
        ctx: &Ctx,
        tx: &dyn ReadTx,
        r: &StoredResource,
        want_view: bool,
    ) -> Result<Option<Option<Value>>> {
        let Some(f) = &self.residual else {
            return Ok(Some(if want_view {
                Some(render(ctx, tx, r, &self.members, self.groups)?)
            } else {
                None
            }));
        };
        if !self.needs_view && !want_view {
            return Ok(f.matches(&r.data).then_some(None));
        }
        let view = render(ctx, tx, r, &self.members, self.groups)?;
        Ok(f.matches(&view).then_some(Some(view)))
    }
}

/// The indexed key a filter path names on a resource type, if any: `emails` stands for
/// `emails.value`.
fn indexed_key(path: &AttrPath, rt: &ResourceTypeDef) -> Option<Key> {
    if path
        .urn
        .as_deref()
        .is_some_and(|u| !u.eq_ignore_ascii_case(rt.schema.id))
    {
        return None;
    }
    let is = |name: &str| path.name.eq_ignore_ascii_case(name);
    match path.sub.as_deref() {
        None if is("userName") => Some(Key::UserName),
        None if is("displayName") => Some(Key::DisplayName),
        None if is("externalId") => Some(Key::ExternalId),
        None => is("emails").then_some(Key::Email),
        Some(sub) => (is("emails") && sub.eq_ignore_ascii_case("value")).then_some(Key::Email),
    }
}

/// The store condition equivalent to a filter term, when there is one.
fn pushed(f: &Filter, rt: &ResourceTypeDef) -> Option<Cond> {
    match f {
        Filter::Compare(path, CompareOp::Eq, Literal::Str(v))
            if path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("id") =>
        {
            Some(Cond::Id(v.clone()))
        }
        Filter::Compare(path, op @ (CompareOp::Eq | CompareOp::Sw), Literal::Str(v)) => {
            let key = indexed_key(path, rt)?;
            Some(match op {
                CompareOp::Eq => Cond::Eq(key, key.probe(v)),
                _ => Cond::StartsWith(key, key.probe(v)),
            })
        }
        // `emails pr` also holds for an email without a value: only `emails.value pr` is
        // the index's presence.
        Filter::Present(path)
            if path.sub.is_some() || !path.name.eq_ignore_ascii_case("emails") =>
        {
            indexed_key(path, rt).map(Cond::Present)
        }
        _ => None,
    }
}

/// A condition every match of a term satisfies, though the term says more:
/// `emails[type eq "work" and value eq "x"]` implies `emails.value eq "x"`.
fn implied(f: &Filter, rt: &ResourceTypeDef) -> Option<Cond> {
    let Filter::ValuePath(path, inner) = f else {
        return None;
    };
    let mut found = None;
    and_terms(inner, &mut |t| {
        if let (None, Filter::Compare(sub, op @ (CompareOp::Eq | CompareOp::Sw), lit)) = (&found, t)
        {
            if sub.sub.is_none() {
                let outer = AttrPath {
                    sub: Some(sub.name.clone()),
                    ..path.clone()
                };
                found = pushed(&Filter::Compare(outer, *op, lit.clone()), rt);
            }
        }
    });
    found
}

/// Every term of a conjunction (`a and (b and c)` → a, b, c).
fn and_terms<'f>(f: &'f Filter, visit: &mut dyn FnMut(&'f Filter)) {
    match f {
        Filter::And(a, b) => {
            and_terms(a, visit);
            and_terms(b, visit);
        }
        other => visit(other),
    }
}

/// Visit every top-level attribute path of a filter, with its comparison when it has one.
/// A path visitor: the path, and its comparison when it has one.
type PathVisitor<'a> = dyn FnMut(&AttrPath, Option<(CompareOp, &Literal)>) + 'a;

fn visit_paths(f: &Filter, visit: &mut PathVisitor) {
    match f {
        Filter::Present(p) | Filter::ValuePath(p, _) => visit(p, None),
        Filter::Compare(p, op, lit) => visit(p, Some((*op, lit))),
        Filter::And(a, b) | Filter::Or(a, b) => {
            visit_paths(a, visit);
            visit_paths(b, visit);
        }
        Filter::Not(inner) => visit_paths(inner, visit),
    }
}

/// `sortBy`: which value orders the results.
struct SortSpec {
    path: AttrPath,
    case_exact: bool,
    ty: AttrType,
    /// The index that keeps this order, if the store has one.
    field: Option<SortField>,
}

#[derive(Debug)]
enum SortKey {
    Missing,
    Bool(bool),
    Num(f64),
    Time(OffsetDateTime),
    Str(String),
}

impl SortSpec {
    fn parse(path: &str, kinds: &[ResourceKind]) -> Result<SortSpec> {
        let bad =
            || ScimError::invalid_value(format!("sortBy '{path}' is not a sortable attribute"));
        let p = filter::parse_path(path).map_err(|_| bad())?;
        if p.filter.is_some() {
            return Err(bad());
        }
        let attr = kinds
            .iter()
            .find_map(|k| {
                k.resource_type()
                    .resolve(p.attr.urn.as_deref(), &p.attr.name)
            })
            .ok_or_else(bad)?
            .attr;
        let leaf = match &p.attr.sub {
            Some(s) => attr.sub(s).ok_or_else(bad)?,
            None if attr.ty == AttrType::Complex => attr.sub("value").ok_or_else(bad)?,
            None => attr,
        };
        let core = p.attr.urn.as_deref().is_none_or(|u| {
            kinds
                .iter()
                .all(|k| u.eq_ignore_ascii_case(k.resource_type().schema.id))
        });
        let name = p.attr.name.to_ascii_lowercase();
        let sub = p.attr.sub.as_deref().map(str::to_ascii_lowercase);
        let field = match (core, name.as_str(), sub.as_deref()) {
            (false, ..) => None,
            (true, "username", None) => Some(SortField::UserName),
            (true, "displayname", None) => Some(SortField::DisplayName),
            (true, "externalid", None) => Some(SortField::ExternalId),
            (true, "meta", Some("created")) => Some(SortField::Created),
            (true, "meta", Some("lastmodified")) => Some(SortField::LastModified),
            _ => None,
        };
        Ok(SortSpec {
            path: p.attr,
            case_exact: leaf.case_exact,
            ty: leaf.ty,
            field,
        })
    }

    /// The sort value of a rendered resource: for multi-valued attributes, the primary
    /// value, else the first (RFC 7644 §3.4.2.3).
    fn key(&self, view: &Value) -> SortKey {
        let mut v = field(view, self.path.urn.as_deref(), &self.path.name);
        if let Some(Value::Array(items)) = v {
            v = items
                .iter()
                .find(|i| i.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| items.first());
        }
        let sub = self.path.sub.as_deref().or(match v {
            Some(Value::Object(_)) => Some("value"),
            _ => None,
        });
        if let (Some(s), Some(obj)) = (sub, v) {
            v = field(obj, None, s);
        }
        match v {
            Some(Value::Bool(b)) => SortKey::Bool(*b),
            Some(Value::Number(n)) => n.as_f64().map_or(SortKey::Missing, SortKey::Num),
            Some(Value::String(s)) if self.ty == AttrType::DateTime => {
                OffsetDateTime::parse(s, &Rfc3339).map_or(SortKey::Missing, SortKey::Time)
            }
            Some(Value::String(s)) if self.case_exact => SortKey::Str(s.clone()),
            Some(Value::String(s)) => SortKey::Str(s.to_lowercase()),
            _ => SortKey::Missing,
        }
    }

    /// Missing values sort last in either direction.
    fn compare(&self, a: &SortKey, b: &SortKey, descending: bool) -> Ordering {
        use SortKey::*;
        let ord = match (a, b) {
            (Missing, Missing) => return Ordering::Equal,
            (Missing, _) => return Ordering::Greater,
            (_, Missing) => return Ordering::Less,
            (Bool(x), Bool(y)) => x.cmp(y),
            (Num(x), Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
            (Time(x), Time(y)) => x.cmp(y),
            (Str(x), Str(y)) => x.cmp(y),
            _ => Ordering::Equal,
        };
        if descending {
            ord.reverse()
        } else {
            ord
        }
    }
}

/// A field of a rendered resource by case-insensitive name, under an extension URN if given.
fn field<'v>(obj: &'v Value, urn: Option<&str>, name: &str) -> Option<&'v Value> {
    let get = |o: &'v Value, key: &str| -> Option<&'v Value> {
        o.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    };
    match urn {
        Some(u) if get(obj, u).is_some() => get(get(obj, u)?, name),
        _ => get(obj, name),
    }
}
