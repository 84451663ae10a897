//! Filter evaluation (RFC 7644 §3.4.2.2).
//!
//! A [`Filter`] is first *compiled* against the schema: every attribute path is resolved
//! (unknown attributes are an `invalidFilter` error whatever the data), operators and
//! literals are checked against the attribute type, case-insensitive literals are
//! lowercased and dateTime literals parsed once. The compiled form then evaluates against
//! any number of resources without failing and, for ASCII data, without allocating.

use super::ast::{AttrPath, CompareOp, Filter, Literal};
use crate::error::{Result, ScimError};
use crate::schema::{AttrType, AttributeDef, ResourceTypeDef, Returned};
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Does `resource` (a rendered resource: canonical attributes plus `id`, `meta`, and the
/// derived `members`/`groups` when present) match `filter`?
pub fn matches(filter: &Filter, resource: &Value, rt: &ResourceTypeDef) -> Result<bool> {
    Ok(compile(filter, rt)?.matches(resource))
}

/// Does one element of the multi-valued complex attribute `attr` match a value filter
/// (`emails[type eq "work"]`)? Paths in `filter` are relative to `attr`'s sub-attributes.
pub fn matches_value(filter: &Filter, element: &Value, attr: &AttributeDef) -> Result<bool> {
    Ok(compile_value(filter, attr)?.matches(element))
}

/// Check `filter` against resource type `rt` and prepare it for repeated evaluation with
/// [`CompiledFilter::matches`] (use this when scanning many resources).
pub fn compile(filter: &Filter, rt: &ResourceTypeDef) -> Result<CompiledFilter> {
    Ok(CompiledFilter {
        root: compile_node(filter, Scope::Resource(rt))?,
    })
}

/// Like [`compile`], for a query across several resource types (RFC 7644 §3.4.2.1 root
/// queries): an attribute this type does not define is absent on its resources, so
/// `attr eq x` never matches and `attr ne x` always does, instead of an error.
pub fn compile_for_root(filter: &Filter, rt: &ResourceTypeDef) -> Result<CompiledFilter> {
    Ok(CompiledFilter {
        root: compile_node(filter, Scope::Root(rt))?,
    })
}

/// Like [`compile`], for a value filter over the elements of complex attribute `attr`.
pub fn compile_value(filter: &Filter, attr: &AttributeDef) -> Result<CompiledFilter> {
    if attr.ty != AttrType::Complex {
        return Err(ScimError::invalid_filter(format!(
            "value filter on attribute '{}', which is not complex",
            attr.name
        )));
    }
    Ok(CompiledFilter {
        root: compile_node(filter, Scope::Element(attr))?,
    })
}

/// A filter resolved against a schema; evaluation cannot fail.
#[derive(Debug)]
pub struct CompiledFilter {
    root: Node,
}

impl CompiledFilter {
    /// Does `value` (a resource for [`compile`], one element for [`compile_value`]) match?
    pub fn matches(&self, value: &Value) -> bool {
        eval(&self.root, value)
    }
}

/// `schemas` is not in the schema definitions but RFC 7644 filters on it; URNs compare
/// case-insensitively.
static SCHEMAS_ATTR: AttributeDef =
    AttributeDef::string("schemas", "The schema URNs the resource conforms to.").multi();

#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a ResourceTypeDef),
    /// A resource of one of several types queried together: unknown attributes are absent.
    Root(&'a ResourceTypeDef),
    Element(&'a AttributeDef),
}

/// Where values live: `base[ext]?[name]` then, per element, `[sub]`.
#[derive(Debug)]
struct Access {
    ext: Option<&'static str>,
    name: &'static str,
    sub: Option<&'static str>,
}

#[derive(Debug)]
enum Node {
    Present(Access),
    Cmp(Access, Cmp),
    ValuePath(Access, Box<Node>),
    Not(Box<Node>),
    /// Chains of `and` / `or` are flattened, so evaluation depth follows the real
    /// nesting (bounded by the parser's MAX_DEPTH), not the length of the chain.
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// A typed comparison; `ne` is compiled as `not(eq)`.
#[derive(Debug)]
enum Cmp {
    /// `folded` is the lowercased literal when the comparison ignores case.
    Str {
        op: CompareOp,
        lit: String,
        folded: Option<String>,
        ascii: bool,
    },
    Num(CompareOp, Number),
    Bool(bool),
    Time(CompareOp, OffsetDateTime),
}

/// How a comparison on an attribute the resource type lacks evaluates: as on an absent value.
fn absent(f: &Filter) -> Node {
    let never = Node::Or(Vec::new());
    match f {
        Filter::Compare(_, CompareOp::Ne, _) | Filter::Compare(_, CompareOp::Eq, Literal::Null) => {
            Node::Not(Box::new(never))
        }
        _ => never,
    }
}

fn compile_node(f: &Filter, scope: Scope<'_>) -> Result<Node> {
    if let Scope::Root(rt) = scope {
        if let Filter::Present(p) | Filter::Compare(p, ..) | Filter::ValuePath(p, _) = f {
            let known = rt.resolve(p.urn.as_deref(), &p.name).is_some()
                || (p.urn.is_none() && p.name.eq_ignore_ascii_case("schemas"));
            if !known {
                return Ok(absent(f));
            }
            return compile_node(f, Scope::Resource(rt));
        }
    }
    Ok(match f {
        Filter::And(..) => Node::And(compile_chain(f, true, scope)?),
        Filter::Or(..) => Node::Or(compile_chain(f, false, scope)?),
        Filter::Not(a) => Node::Not(Box::new(compile_node(a, scope)?)),
        Filter::Present(path) => Node::Present(resolve(path, scope)?.0),
        Filter::Compare(path, op, Literal::Null) => {
            let (access, _) = resolve(path, scope)?;
            match op {
                CompareOp::Eq => Node::Not(Box::new(Node::Present(access))),
                CompareOp::Ne => Node::Present(access),
                _ => {
                    return Err(ScimError::invalid_filter(format!(
                        "null can only be compared with 'eq' or 'ne' (attribute '{path}')"
                    )))
                }
            }
        }
        Filter::Compare(path, op, lit) => {
            let (mut access, def) = resolve(path, scope)?;
            let target = if def.ty == AttrType::Complex {
                // A complex attribute compares through its `value` sub-attribute.
                let value = match (access.sub, def.sub("value")) {
                    (None, Some(v)) => v,
                    _ => {
                        return Err(ScimError::invalid_filter(format!(
                            "complex attribute '{path}' cannot be compared directly; name one of its sub-attributes"
                        )))
                    }
                };
                access.sub = Some(value.name);
                value
            } else {
                def
            };
            let cmp = compile_cmp(path, target, *op, lit)?;
            if *op == CompareOp::Ne {
                Node::Not(Box::new(Node::Cmp(access, cmp)))
            } else {
                Node::Cmp(access, cmp)
            }
        }
        Filter::ValuePath(path, inner) => {
            let rt = match scope {
                Scope::Resource(rt) | Scope::Root(rt) => rt,
                Scope::Element(_) => {
                    return Err(ScimError::invalid_filter(format!(
                        "value paths cannot be nested ('{path}[...]' inside a value filter)"
                    )))
                }
            };
            if path.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "value filter must follow an attribute, not the sub-attribute '{path}'"
                )));
            }
            let (access, def) = resolve(path, Scope::Resource(rt))?;
            if def.ty != AttrType::Complex {
                return Err(ScimError::invalid_filter(format!(
                    "value filter on attribute '{path}', which is not complex"
                )));
            }
            Node::ValuePath(access, Box::new(compile_node(inner, Scope::Element(def))?))
        }
    })
}

/// Compile the operands of a chain of `and` (or `or`) of any shape, in order, without
/// recursing along the chain.
fn compile_chain(f: &Filter, and: bool, scope: Scope<'_>) -> Result<Vec<Node>> {
    let mut out = Vec::new();
    let mut stack = vec![f];
    while let Some(f) = stack.pop() {
        match (f, and) {
            (Filter::And(a, b), true) | (Filter::Or(a, b), false) => {
                stack.push(b);
                stack.push(a);
            }
            _ => out.push(compile_node(f, scope)?),
        }
    }
    Ok(out)
}

/// Resolve a path to its access route and the definition of what it names (the
/// sub-attribute's definition when the path has one).
fn resolve(path: &AttrPath, scope: Scope<'_>) -> Result<(Access, &'static AttributeDef)> {
    let unknown = || ScimError::invalid_filter(format!("unknown attribute '{path}' in filter"));
    let (access, top): (Access, &'static AttributeDef) = match scope {
        Scope::Resource(rt) | Scope::Root(rt) => {
            let (ext, def) = match rt.resolve(path.urn.as_deref(), &path.name) {
                Some(r) => (r.in_extension.then_some(r.schema.id), r.attr),
                None if path.name.eq_ignore_ascii_case("schemas")
                    && path
                        .urn
                        .as_deref()
                        .is_none_or(|u| u.eq_ignore_ascii_case(rt.schema.id)) =>
                {
                    (None, &SCHEMAS_ATTR)
                }
                None => return Err(unknown()),
            };
            (
                Access {
                    ext,
                    name: def.name,
                    sub: None,
                },
                def,
            )
        }
        Scope::Element(parent) => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "paths inside a value filter on '{}' must be plain sub-attribute names, found '{path}'",
                    parent.name
                )));
            }
            let def = parent.sub(&path.name).ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "unknown sub-attribute '{}.{}' in filter",
                    parent.name, path.name
                ))
            })?;
            (
                Access {
                    ext: None,
                    name: def.name,
                    sub: None,
                },
                def,
            )
        }
    };
    check_filterable(top, path)?;
    match &path.sub {
        None => Ok((access, top)),
        Some(sub) => {
            let def = top.sub(sub).ok_or_else(|| {
                ScimError::invalid_filter(format!("unknown sub-attribute '{path}' in filter"))
            })?;
            check_filterable(def, path)?;
            Ok((
                Access {
                    sub: Some(def.name),
                    ..access
                },
                def,
            ))
        }
    }
}

fn check_filterable(def: &AttributeDef, path: &AttrPath) -> Result<()> {
    if def.returned == Returned::Never {
        return Err(ScimError::invalid_filter(format!(
            "attribute '{path}' cannot be used in a filter"
        )));
    }
    Ok(())
}

fn compile_cmp(path: &AttrPath, def: &AttributeDef, op: CompareOp, lit: &Literal) -> Result<Cmp> {
    use CompareOp::*;
    let ty = def.ty;
    let bad_op = || {
        ScimError::invalid_filter(format!(
            "operator '{}' is not supported for '{path}' ({})",
            op.as_str(),
            ty.as_str()
        ))
    };
    let bad_lit = |what: &str| {
        ScimError::invalid_filter(format!(
            "'{path}' ({}) cannot be compared with {what}",
            ty.as_str()
        ))
    };
    let lit_kind = match lit {
        Literal::Str(_) => "a string",
        Literal::Num(_) => "a number",
        Literal::Bool(_) => "a boolean",
        Literal::Null => "null",
    };
    let op_eq = if op == Ne { Eq } else { op };
    match ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let Literal::Str(s) = lit else {
                return Err(bad_lit(lit_kind));
            };
            let case_exact = def.case_exact || ty == AttrType::Binary;
            if ty == AttrType::Binary && !matches!(op, Eq | Ne) {
                return Err(bad_op());
            }
            Ok(Cmp::Str {
                op: op_eq,
                lit: s.clone(),
                folded: (!case_exact).then(|| s.to_lowercase()),
                ascii: s.is_ascii(),
            })
        }
        AttrType::Integer | AttrType::Decimal => {
            let Literal::Num(n) = lit else {
                return Err(bad_lit(lit_kind));
            };
            if matches!(op, Co | Sw | Ew) {
                return Err(bad_op());
            }
            Ok(Cmp::Num(op_eq, n.clone()))
        }
        AttrType::Boolean => {
            let b = match lit {
                Literal::Bool(b) => *b,
                Literal::Str(s) if s.eq_ignore_ascii_case("true") => true,
                Literal::Str(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(bad_lit(lit_kind)),
            };
            if !matches!(op, Eq | Ne) {
                return Err(bad_op());
            }
            Ok(Cmp::Bool(b))
        }
        AttrType::DateTime => {
            let Literal::Str(s) = lit else {
                return Err(bad_lit(lit_kind));
            };
            if matches!(op, Co | Sw | Ew) {
                return Err(bad_op());
            }
            let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                ScimError::invalid_filter(format!(
                    "'{path}' is a dateTime, but {s:?} is not an RFC 3339 date-time"
                ))
            })?;
            Ok(Cmp::Time(op_eq, t))
        }
        AttrType::Complex => Err(bad_op()),
    }
}

fn eval(node: &Node, base: &Value) -> bool {
    match node {
        Node::And(all) => all.iter().all(|n| eval(n, base)),
        Node::Or(any) => any.iter().any(|n| eval(n, base)),
        Node::Not(a) => !eval(a, base),
        Node::Present(access) => access.any(base, is_present),
        Node::Cmp(access, cmp) => access.any(base, |v| cmp.test(v)),
        Node::ValuePath(access, inner) => access.any(base, |el| eval(inner, el)),
    }
}

/// Present: exists and is not null, "", [] or {} (RFC 7644 §3.4.2.2 `pr`).
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Case-insensitive key lookup; the exact (canonical) spelling is tried first.
fn get_ci<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Apply `f` to `v`, or to each of its elements when it is an array; true if any is true.
fn any_flat(v: &Value, f: &mut impl FnMut(&Value) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(f),
        _ => f(v),
    }
}

impl Access {
    /// Is `f` true for any value this path reaches in `base`?
    fn any(&self, base: &Value, mut f: impl FnMut(&Value) -> bool) -> bool {
        let Value::Object(obj) = base else {
            return false;
        };
        let obj = match self.ext {
            None => obj,
            Some(urn) => match get_ci(obj, urn) {
                Some(Value::Object(ext)) => ext,
                _ => return false,
            },
        };
        let Some(v) = get_ci(obj, self.name) else {
            return false;
        };
        match self.sub {
            None => any_flat(v, &mut f),
            Some(sub) => {
                let mut one = |el: &Value| match el {
                    Value::Object(o) => get_ci(o, sub).is_some_and(|sv| any_flat(sv, &mut f)),
                    _ => false,
                };
                match v {
                    Value::Array(items) => items.iter().any(&mut one),
                    _ => one(v),
                }
            }
        }
    }
}

fn ord_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        // `ne` is compiled to not(eq); co/sw/ew never reach here.
        CompareOp::Ne | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

impl Cmp {
    fn test(&self, v: &Value) -> bool {
        match (self, v) {
            (
                Cmp::Str {
                    op,
                    lit,
                    folded,
                    ascii,
                },
                Value::String(s),
            ) => match folded {
                None => str_exact(*op, s, lit),
                Some(_) if *ascii && s.is_ascii() => str_ascii_ci(*op, s, lit),
                Some(folded) => str_unicode_ci(*op, s, folded),
            },
            (Cmp::Num(op, lit), Value::Number(n)) => {
                num_cmp(n, lit).is_some_and(|ord| ord_matches(*op, ord))
            }
            (Cmp::Bool(b), Value::Bool(x)) => b == x,
            (Cmp::Time(op, lit), Value::String(s)) => {
                OffsetDateTime::parse(s, &Rfc3339).is_ok_and(|t| ord_matches(*op, t.cmp(lit)))
            }
            _ => false,
        }
    }
}

fn str_exact(op: CompareOp, s: &str, lit: &str) -> bool {
    match op {
        CompareOp::Co => s.contains(lit),
        CompareOp::Sw => s.starts_with(lit),
        CompareOp::Ew => s.ends_with(lit),
        _ => ord_matches(op, s.cmp(lit)),
    }
}

/// Case-insensitive comparison when both sides are ASCII: no allocation.
fn str_ascii_ci(op: CompareOp, s: &str, lit: &str) -> bool {
    let (s, l) = (s.as_bytes(), lit.as_bytes());
    match op {
        CompareOp::Eq => s.eq_ignore_ascii_case(l),
        CompareOp::Sw => s.len() >= l.len() && s[..l.len()].eq_ignore_ascii_case(l),
        CompareOp::Ew => s.len() >= l.len() && s[s.len() - l.len()..].eq_ignore_ascii_case(l),
        CompareOp::Co => l.is_empty() || s.windows(l.len()).any(|w| w.eq_ignore_ascii_case(l)),
        _ => ord_matches(
            op,
            s.iter()
                .map(u8::to_ascii_lowercase)
                .cmp(l.iter().map(u8::to_ascii_lowercase)),
        ),
    }
}

/// Case-insensitive comparison by Unicode lowercase; `folded` is the lowercased literal.
fn str_unicode_ci(op: CompareOp, s: &str, folded: &str) -> bool {
    let lower = || s.chars().flat_map(char::to_lowercase);
    match op {
        CompareOp::Eq => lower().eq(folded.chars()),
        CompareOp::Sw => {
            let mut it = lower();
            folded.chars().all(|c| it.next() == Some(c))
        }
        CompareOp::Ew => s.to_lowercase().ends_with(folded),
        CompareOp::Co => s.to_lowercase().contains(folded),
        _ => ord_matches(op, lower().cmp(folded.chars())),
    }
}

/// Numeric order: exact for integers (i64/u64), as f64 otherwise.
fn num_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    fn int(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}
