//! Compiled mappings: per-service records, required and immutable checks, and the filter
//! of a reverse lookup.

use super::source::Source;
use super::transform::is_missing;
use super::{service_name, Mapping, MappingEntry};
use crate::error::{Result, ScimError};
use crate::filter::Filter;
use crate::integration::Service;
use crate::schema::ResourceKind;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longest target name, in characters.
const MAX_TARGET_CHARS: usize = 128;

#[derive(Debug)]
pub(crate) struct CompiledEntry {
    pub entry: MappingEntry,
    /// `None` for a `constant` entry without source.
    pub source: Option<Source>,
}

impl CompiledEntry {
    /// The mapped value (`None` when missing).
    pub fn value(&self, data: &Value) -> Option<Value> {
        let v = self.source.as_ref().and_then(|s| s.eval(data));
        match &self.entry.transform {
            Some(t) => t.apply(v),
            None => v.filter(|v| !is_missing(Some(v))).cloned(),
        }
    }

    /// Whether mapped values compare case-insensitively (the source attribute is not
    /// `caseExact`, like `userName` and `emails.value`).
    pub fn case_insensitive(&self) -> bool {
        self.source.as_ref().is_some_and(|s| !s.leaf.case_exact)
    }

    /// Does a mapped value equal `probe`?
    pub fn value_equals(&self, v: &Value, probe: &str) -> bool {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if self.case_insensitive() {
            text.to_lowercase() == probe.to_lowercase()
        } else {
            text == probe
        }
    }
}

#[derive(Debug)]
pub(crate) struct CompiledMapping {
    users: Vec<CompiledEntry>,
    groups: Vec<CompiledEntry>,
}

fn check_target(t: &str) -> std::result::Result<(), String> {
    let n = t.chars().count();
    if n == 0 || n > MAX_TARGET_CHARS {
        return Err(format!("target must be 1 to {MAX_TARGET_CHARS} characters"));
    }
    if !t.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!("target '{t}' must start with a letter"));
    }
    if let Some(c) = t
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(format!(
            "target '{t}' may contain only letters, digits, '_', '-', '.' and ':' (found {c:?})"
        ));
    }
    Ok(())
}

impl CompiledMapping {
    /// Validate and compile; errors name the service (when given), the kind and the entry.
    pub fn compile(m: &Mapping, service: Option<Service>) -> Result<CompiledMapping> {
        let prefix = |kind: ResourceKind| {
            let k = match kind {
                ResourceKind::User => "users",
                ResourceKind::Group => "groups",
            };
            match service {
                Some(s) => format!("mapping for {}: {k}", service_name(s)),
                None => format!("mapping: {k}"),
            }
        };
        let mut out = CompiledMapping {
            users: Vec::new(),
            groups: Vec::new(),
        };
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let p = prefix(kind);
            let mut compiled: Vec<CompiledEntry> = Vec::new();
            for e in m.entries(kind) {
                let fail = |why: String| {
                    ScimError::invalid_value(format!("{p} entry '{}': {why}", e.target))
                };
                check_target(&e.target)
                    .map_err(|why| ScimError::invalid_value(format!("{p}: {why}")))?;
                if compiled
                    .iter()
                    .any(|c| c.entry.target.eq_ignore_ascii_case(&e.target))
                {
                    return Err(ScimError::invalid_value(format!(
                        "{p}: duplicate target '{}'",
                        e.target
                    )));
                }
                if let Some(t) = &e.transform {
                    t.validate().map_err(|err| fail(err.detail))?;
                }
                let constant = e.transform.as_ref().is_some_and(|t| !t.reads_source());
                let source = if e.source.trim().is_empty() {
                    if !constant {
                        return Err(fail("source must not be empty".into()));
                    }
                    None
                } else {
                    Some(Source::parse(kind, &e.source).map_err(|err| fail(err.detail))?)
                };
                compiled.push(CompiledEntry {
                    entry: e.clone(),
                    source,
                });
            }
            let profile = m.profile.mapping();
            for req in profile.entries(kind).iter().filter(|e| e.required) {
                let present = compiled
                    .iter()
                    .any(|c| c.entry.target.eq_ignore_ascii_case(&req.target) && c.entry.required);
                if !present {
                    return Err(ScimError::invalid_value(format!(
                        "{p}: target '{}' is required by the {} profile and must stay a required entry",
                        req.target,
                        m.profile.as_str()
                    )));
                }
            }
            *match kind {
                ResourceKind::User => &mut out.users,
                ResourceKind::Group => &mut out.groups,
            } = compiled;
        }
        Ok(out)
    }

    pub fn entries(&self, kind: ResourceKind) -> &[CompiledEntry] {
        match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        }
    }

    /// The record of a canonical resource: `{target: value}` for each entry with a value.
    pub fn record(&self, kind: ResourceKind, data: &Value) -> Map<String, Value> {
        self.entries(kind)
            .iter()
            .filter_map(|c| Some((c.entry.target.clone(), c.value(data)?)))
            .collect()
    }
}

/// A directory's mappings for the services it feeds, validated and compiled: what the
/// protocol edge enforces and what every event's `records` are made of.
#[derive(Debug)]
pub struct DirectoryMapping {
    mappings: BTreeMap<Service, Mapping>,
    compiled: Vec<(Service, CompiledMapping)>,
}

impl DirectoryMapping {
    /// Compile one mapping per fed service.
    pub fn compile(mappings: &BTreeMap<Service, Mapping>) -> Result<DirectoryMapping> {
        let compiled = mappings
            .iter()
            .map(|(s, m)| Ok((*s, CompiledMapping::compile(m, Some(*s))?)))
            .collect::<Result<_>>()?;
        Ok(DirectoryMapping {
            mappings: mappings.clone(),
            compiled,
        })
    }

    /// The mappings this was compiled from.
    pub fn mappings(&self) -> &BTreeMap<Service, Mapping> {
        &self.mappings
    }

    /// `{"uem": {…}, "access": {…}}`: the record of a canonical resource per service.
    pub fn records(&self, kind: ResourceKind, data: &Value) -> Value {
        Value::Object(
            self.compiled
                .iter()
                .map(|(s, m)| {
                    (
                        service_name(*s).to_owned(),
                        Value::Object(m.record(kind, data)),
                    )
                })
                .collect(),
        )
    }

    /// 400 `invalidValue` when a required entry of any service has no value.
    pub fn check_required(&self, kind: ResourceKind, data: &Value) -> Result<()> {
        // (source, target) → services lacking it, in first-seen order.
        let mut missing: Vec<(&str, &str, Vec<&str>)> = Vec::new();
        for (s, m) in &self.compiled {
            for c in m.entries(kind).iter().filter(|c| c.entry.required) {
                if c.value(data).is_some() {
                    continue;
                }
                let (src, tgt) = (c.entry.source.as_str(), c.entry.target.as_str());
                match missing.iter_mut().find(|(a, b, _)| *a == src && *b == tgt) {
                    Some((_, _, services)) => services.push(service_name(*s)),
                    None => missing.push((src, tgt, vec![service_name(*s)])),
                }
            }
        }
        match missing.first() {
            None => Ok(()),
            Some((src, tgt, services)) => Err(ScimError::invalid_value(format!(
                "required attribute '{src}' (Workspace ONE '{tgt}' for {}) is missing",
                services.join(", ")
            ))),
        }
    }

    /// 400 `mutability` when an immutable entry had a value in `old` and `new` changes
    /// or removes it.
    pub fn check_immutable(&self, kind: ResourceKind, old: &Value, new: &Value) -> Result<()> {
        for (s, m) in &self.compiled {
            for c in m.entries(kind).iter().filter(|c| c.entry.immutable) {
                let Some(before) = c.value(old) else {
                    continue;
                };
                let after = c.value(new);
                if after.as_ref() == Some(&before) {
                    continue;
                }
                let what = format!(
                    "'{}' (Workspace ONE '{}' for {}) is immutable once provisioned",
                    c.entry.source,
                    c.entry.target,
                    service_name(*s)
                );
                return Err(ScimError::mutability(match after {
                    Some(a) => format!("{what}: cannot change {before} to {a}"),
                    None => format!("{what}: cannot remove {before}"),
                }));
            }
        }
        Ok(())
    }

    /// The entry of `target` for `service` and `kind`: 400 when the directory does not
    /// feed the service, 404 when no entry has that target.
    pub(crate) fn entry(
        &self,
        service: Service,
        kind: ResourceKind,
        target: &str,
    ) -> Result<&CompiledEntry> {
        let (_, m) = self
            .compiled
            .iter()
            .find(|(s, _)| *s == service)
            .ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "the directory does not feed '{}'",
                    service_name(service)
                ))
            })?;
        m.entries(kind)
            .iter()
            .find(|c| c.entry.target.eq_ignore_ascii_case(target))
            .ok_or_else(|| {
                ScimError::not_found(format!(
                    "no {} mapping entry with target '{target}' for {}",
                    kind.as_str(),
                    service_name(service)
                ))
            })
    }

    /// A filter that finds every candidate whose `target` may equal `value` (exact for a
    /// plain or case-transformed source; `None` when only a scan can tell), with the
    /// entry that decides.
    pub(crate) fn lookup(
        &self,
        service: Service,
        kind: ResourceKind,
        target: &str,
        value: &str,
    ) -> Result<(Option<Filter>, &CompiledEntry)> {
        use super::Transform::*;
        let c = self.entry(service, kind, target)?;
        let Some(source) = &c.source else {
            return Err(ScimError::invalid_value(format!(
                "target '{target}' is a constant: it identifies no one"
            )));
        };
        let filter = match &c.entry.transform {
            None => Some(source.equals(value)?),
            // A case change only matters to a case-exact source.
            Some(Lowercase | Uppercase) if !source.leaf.case_exact => Some(source.equals(value)?),
            _ => None,
        };
        Ok((filter, c))
    }
}
