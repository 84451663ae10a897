//! Queries (RFC 7644 §3.4.2, §3.4.3): filter, sort, paging and projection over one or
//! both resource types. Equality on an indexed attribute is a point lookup; everything
//! else streams through the store in stable insertion order.

use super::params::{Params, Search};
use super::render::{render, Members};
use super::{Ctx, Response};
use crate::error::{Result, ScimError};
use crate::filter::{self, AttrPath, CompareOp, CompiledFilter, Filter, Literal};
use crate::schema::{AttrType, ResourceKind, ResourceTypeDef};
use crate::store::{IndexKey, ReadTx, StoredResource};
use serde_json::{json, Value};
use std::cmp::Ordering;
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

/// GET on a collection (or the root): a ListResponse.
pub(crate) fn list(ctx: &Ctx, kinds: &[ResourceKind], search: Search) -> Result<Response> {
    if let (Some(f), true) = (&search.filter, kinds.len() > 1) {
        known_somewhere(f, kinds)?;
    }
    let max = ctx.config.max_results;
    let count = search.count.unwrap_or(max).min(max);
    let skip = search.start_index - 1;
    let sort = match &search.sort_by {
        Some(path) => Some(SortSpec::parse(path, kinds)?),
        None => None,
    };

    let mut page = Vec::new();
    let mut total = 0usize;
    ctx.store.read(ctx.dir, &mut |tx| {
        page.clear();
        total = 0;
        let mut sorted: Vec<(SortKey, StoredResource)> = Vec::new();
        for &kind in kinds {
            let mut plan = Plan::new(search.filter.as_ref(), kind, kinds.len() > 1)?;
            plan.needs_view |= sort.as_ref().is_some_and(|s| derived(&s.path));
            plan.each_match(ctx, tx, &mut |r, view| {
                if let Some(spec) = &sort {
                    let key = spec.key(view.unwrap_or(&r.data));
                    sorted.push((key, r));
                } else {
                    if total >= skip && page.len() < count {
                        page.push(r);
                    }
                    total += 1;
                }
            })?;
        }
        if let Some(spec) = &sort {
            total = sorted.len();
            // Stable: ties keep insertion order.
            sorted.sort_by(|a, b| spec.compare(&a.0, &b.0, search.descending));
            page = sorted
                .drain(..)
                .skip(skip)
                .take(count)
                .map(|(_, r)| r)
                .collect();
        }
        Ok(())
    })?;

    let mut resources = Vec::with_capacity(page.len());
    ctx.store.read(ctx.dir, &mut |tx| {
        resources.clear();
        for r in &page {
            let rt = r.kind.resource_type();
            let members = if search.projection.includes(rt, None, "members") {
                Members::All
            } else {
                Members::Skip
            };
            let groups = search.projection.includes(rt, None, "groups");
            let full = render(ctx, tx, r, &members, groups)?;
            resources.push(crate::schema::project(rt, &full, &search.projection));
        }
        Ok(())
    })?;
    let body = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": search.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    Ok(Response::json(200, &body))
}

/// The rendered resources (users with their `groups`) of one type matching `filter`
/// (every one when `None`) that `accept` keeps. Equality on an indexed attribute, also
/// inside a value path (`emails[type eq "work" and value eq "x"]`), is a point lookup.
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
        plan.each_match(ctx, tx, &mut |r, _| {
            if accept(&r) {
                found.push(r);
            }
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

/// How to find the matches of a filter on one resource type.
struct Plan {
    kind: ResourceKind,
    filter: Option<CompiledFilter>,
    /// A point lookup every match must satisfy.
    lookup: Option<(Option<IndexKey>, String)>,
    members: Members,
    groups: bool,
    /// Whether matching needs the rendered resource (`id`, `meta`, derived attributes), or
    /// can look at the stored attributes alone.
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
            filter: filter.map(|f| compile(f, rt)).transpose()?,
            lookup: None,
            members: Members::Skip,
            groups: false,
            needs_view: false,
        };
        if let Some(f) = filter {
            plan.lookup = point_lookup(f, rt);
            let mut ids = Some(Vec::new());
            visit_paths(f, &mut |path, cmp| {
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
        }
        Ok(plan)
    }

    /// Call `found` with every matching resource and the rendered view the filter saw
    /// (`None` when the stored attributes were enough).
    fn each_match(
        &self,
        ctx: &Ctx,
        tx: &dyn ReadTx,
        found: &mut dyn FnMut(StoredResource, Option<&Value>),
    ) -> Result<()> {
        let mut consider = |r: &StoredResource| -> Result<()> {
            if !self.needs_view {
                if self.filter.as_ref().is_none_or(|f| f.matches(&r.data)) {
                    found(r.clone(), None);
                }
                return Ok(());
            }
            let view = render(ctx, tx, r, &self.members, self.groups)?;
            if self.filter.as_ref().is_none_or(|f| f.matches(&view)) {
                found(r.clone(), Some(&view));
            }
            Ok(())
        };
        match &self.lookup {
            Some((None, id)) => {
                if let Some(r) = tx.get(self.kind, id)? {
                    consider(&r)?;
                }
            }
            Some((Some(key), value)) => {
                for id in tx.lookup(self.kind, *key, value)? {
                    if let Some(r) = tx.get(self.kind, &id)? {
                        consider(&r)?;
                    }
                }
            }
            None => {
                let mut err = None;
                tx.scan(self.kind, &mut |r| match consider(r) {
                    Ok(()) => true,
                    Err(e) => {
                        err = Some(e);
                        false
                    }
                })?;
                if let Some(e) = err {
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// An `attr eq "value"` that every match must satisfy (top level, or inside `and`), on
/// an indexed attribute. `None` as the key means the resource id.
fn point_lookup(f: &Filter, rt: &ResourceTypeDef) -> Option<(Option<IndexKey>, String)> {
    match f {
        Filter::And(a, b) => point_lookup(a, rt).or_else(|| point_lookup(b, rt)),
        Filter::Compare(path, CompareOp::Eq, Literal::Str(v)) => {
            if path
                .urn
                .as_deref()
                .is_some_and(|u| !u.eq_ignore_ascii_case(rt.schema.id))
            {
                return None;
            }
            let name = path.name.to_ascii_lowercase();
            let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
            let key = match (rt.kind, name.as_str(), sub.as_deref()) {
                (_, "id", None) => None,
                (_, "externalid", None) => Some(IndexKey::ExternalId),
                (ResourceKind::User, "username", None) => Some(IndexKey::UserName),
                (ResourceKind::User, "emails", None | Some("value")) => Some(IndexKey::Email),
                (ResourceKind::Group, "displayname", None) => Some(IndexKey::DisplayName),
                _ => return None,
            };
            Some((key, v.clone()))
        }
        // `emails[type eq "work" and value eq "x"]`: `emails.value eq "x"` holds too.
        Filter::ValuePath(path, inner) => {
            let mut found = None;
            and_terms(inner, &mut |t| match (&found, t) {
                (None, Filter::Compare(sub, CompareOp::Eq, lit)) if sub.sub.is_none() => {
                    let outer = AttrPath {
                        sub: Some(sub.name.clone()),
                        ..path.clone()
                    };
                    found = point_lookup(&Filter::Compare(outer, CompareOp::Eq, lit.clone()), rt);
                }
                _ => {}
            });
            found
        }
        _ => None,
    }
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
        Ok(SortSpec {
            path: p.attr,
            case_exact: leaf.case_exact,
            ty: leaf.ty,
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
