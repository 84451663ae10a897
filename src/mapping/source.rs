//! A mapping source: a SCIM attribute path resolved against the schema once, then
//! evaluated against canonical resources, and turned into a filter for reverse lookups.

use crate::error::{Result, ScimError};
use crate::filter::{self, AttrPath, CompareOp, CompiledFilter, Filter, Literal};
use crate::schema::{AttrType, AttributeDef, ResourceKind};
use serde_json::{Number, Value};

/// Attributes that are not stored with the resource, so not mappable.
const UNMAPPABLE: &[&str] = &["id", "meta", "password", "groups", "members", "schemas"];

#[derive(Debug)]
pub(crate) struct Source {
    /// The extension URN the attribute is nested under in canonical form.
    urn: Option<&'static str>,
    /// The attribute (canonical spelling).
    name: &'static str,
    multi: bool,
    /// The value filter as written and compiled.
    filter: Option<(Filter, CompiledFilter)>,
    /// The sub-attribute (canonical spelling).
    sub: Option<&'static str>,
    /// The attribute whose value the source yields.
    pub leaf: &'static AttributeDef,
}

impl Source {
    pub fn parse(kind: ResourceKind, text: &str) -> Result<Source> {
        let bad = |why: String| ScimError::invalid_value(format!("source '{text}': {why}"));
        let path = filter::parse_path(text).map_err(|e| bad(e.detail))?;
        let rt = kind.resource_type();
        let resolved = rt
            .resolve(path.attr.urn.as_deref(), &path.attr.name)
            .ok_or_else(|| {
                bad(format!(
                    "unknown {} attribute '{}'",
                    kind.as_str(),
                    AttrPath {
                        sub: None,
                        ..path.attr.clone()
                    }
                ))
            })?;
        let attr = resolved.attr;
        if UNMAPPABLE.iter().any(|n| n.eq_ignore_ascii_case(attr.name)) {
            return Err(bad(format!("'{}' is not a mappable attribute", attr.name)));
        }
        let filter = match path.filter {
            Some(f) => {
                let compiled = filter::compile_value(&f, attr).map_err(|e| bad(e.detail))?;
                Some((f, compiled))
            }
            None => None,
        };
        let sub = match path.attr.sub.as_deref().or(path.sub.as_deref()) {
            Some(s) => Some(
                attr.sub(s)
                    .ok_or_else(|| bad(format!("'{}' has no sub-attribute '{s}'", attr.name)))?,
            ),
            None => None,
        };
        let leaf = sub.unwrap_or(attr);
        if leaf.ty == AttrType::Complex {
            return Err(bad(format!(
                "'{}' is complex: name one of its sub-attributes (e.g. '{}.value')",
                attr.name, attr.name
            )));
        }
        Ok(Source {
            urn: resolved.in_extension.then_some(resolved.schema.id),
            name: attr.name,
            multi: attr.multi_valued,
            filter,
            sub: sub.map(|s| s.name),
            leaf,
        })
    }

    /// The value of this source in a canonical (or rendered) resource: `None` when
    /// absent or `null`. Multi-valued: the first matching element, the primary first.
    pub fn eval<'v>(&self, data: &'v Value) -> Option<&'v Value> {
        let base = match self.urn {
            Some(u) => data.get(u)?,
            None => data,
        };
        let mut v = base.get(self.name)?;
        let matches = |e: &Value| self.filter.as_ref().is_none_or(|(_, f)| f.matches(e));
        if self.multi {
            let items = v.as_array()?;
            let mut candidates = items.iter().filter(|e| matches(e));
            let first = candidates.next()?;
            v = std::iter::once(first)
                .chain(candidates)
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .unwrap_or(first);
        } else if !matches(v) {
            return None;
        }
        if let Some(s) = self.sub {
            v = v.get(s)?;
        }
        (!v.is_null()).then_some(v)
    }

    /// A filter every resource whose source equals `value` matches:
    /// `externalId eq "v"`, `name.givenName eq "v"`,
    /// `emails[type eq "work" and value eq "v"]`.
    pub fn equals(&self, value: &str) -> Result<Filter> {
        let literal = match self.leaf.ty {
            AttrType::Boolean => match value {
                v if v.eq_ignore_ascii_case("true") => Literal::Bool(true),
                v if v.eq_ignore_ascii_case("false") => Literal::Bool(false),
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "'{value}' is not a boolean"
                    )))
                }
            },
            AttrType::Integer | AttrType::Decimal => {
                let n: Number = value
                    .parse()
                    .map_err(|_| ScimError::invalid_value(format!("'{value}' is not a number")))?;
                Literal::Num(n)
            }
            _ => Literal::Str(value.to_owned()),
        };
        let attr = |sub: Option<&str>| AttrPath {
            urn: self.urn.map(str::to_owned),
            name: self.name.to_owned(),
            sub: sub.map(str::to_owned),
        };
        Ok(match (&self.filter, self.sub) {
            (Some((f, _)), Some(sub)) => Filter::ValuePath(
                attr(None),
                Box::new(Filter::And(
                    Box::new(f.clone()),
                    Box::new(Filter::Compare(AttrPath::new(sub), CompareOp::Eq, literal)),
                )),
            ),
            (Some((f, _)), None) => Filter::And(
                Box::new(Filter::ValuePath(attr(None), Box::new(f.clone()))),
                Box::new(Filter::Compare(attr(None), CompareOp::Eq, literal)),
            ),
            (None, sub) => Filter::Compare(attr(sub), CompareOp::Eq, literal),
        })
    }
}
