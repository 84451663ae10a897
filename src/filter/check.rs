//! Static checks of a filter against a resource type, before any resource is read, so a
//! filter naming an unknown attribute is a 400 even when nothing would be compared.

use super::ast::{AttrPath, Filter};
use crate::error::{Result, ScimError};
use crate::schema::{AttrType, AttributeDef, ResourceTypeDef};

/// Every attribute path in `filter` names an attribute of `rt` (or `schemas`).
pub fn check(filter: &Filter, rt: &ResourceTypeDef) -> Result<()> {
    match filter {
        Filter::Present(p) | Filter::Compare(p, ..) => top(p, rt).map(drop),
        Filter::ValuePath(p, inner) => {
            let attr = top(p, rt)?.ok_or_else(|| not_complex(p))?;
            if attr.ty != AttrType::Complex {
                return Err(not_complex(p));
            }
            relative(inner, attr)
        }
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, rt)?;
            check(b, rt)
        }
        Filter::Not(f) => check(f, rt),
    }
}

fn not_complex(p: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!(
        "'{p}' is not a complex attribute and cannot take a value filter"
    ))
}

/// Resolve a top-level path; `None` for the `schemas` pseudo-attribute.
fn top(p: &AttrPath, rt: &ResourceTypeDef) -> Result<Option<&'static AttributeDef>> {
    if p.urn.is_none() && p.name.eq_ignore_ascii_case("schemas") && p.sub.is_none() {
        return Ok(None);
    }
    let r = rt
        .resolve(p.urn.as_deref(), &p.name)
        .ok_or_else(|| ScimError::invalid_filter(format!("unknown attribute '{p}' in filter")))?;
    if let Some(sub) = &p.sub {
        if r.attr.sub(sub).is_none() {
            return Err(ScimError::invalid_filter(format!(
                "unknown attribute '{p}' in filter"
            )));
        }
    }
    Ok(Some(r.attr))
}

fn relative(filter: &Filter, parent: &AttributeDef) -> Result<()> {
    match filter {
        Filter::Present(p) | Filter::Compare(p, ..) => {
            if p.urn.is_some() || p.sub.is_some() || parent.sub(&p.name).is_none() {
                return Err(ScimError::invalid_filter(format!(
                    "unknown sub-attribute '{p}' of '{}' in filter",
                    parent.name
                )));
            }
            Ok(())
        }
        Filter::ValuePath(p, _) => Err(ScimError::invalid_filter(format!(
            "value filters cannot nest ('{p}[…]' inside '{}[…]')",
            parent.name
        ))),
        Filter::And(a, b) | Filter::Or(a, b) => {
            relative(a, parent)?;
            relative(b, parent)
        }
        Filter::Not(f) => relative(f, parent),
    }
}
