//! Applying operations to a canonical resource (RFC 7644 §3.5.2.1–3).

use super::target::{AttrTarget, Target};
use super::{members, MemberSink, OpKind, PatchOp};
use crate::error::{Result, ScimError};
use crate::filter::{matches_value, parse_path, AttrPath, CompareOp, Filter, Literal, PatchPath};
use crate::schema::{
    normalize_element, normalize_value, AttrType, AttributeDef, Mode, Mutability, Resolved,
    ResourceTypeDef, SchemaDef,
};
use serde_json::{Map, Value};

pub(super) struct Engine<'r, 's> {
    rt: &'r ResourceTypeDef,
    mode: Mode,
    members: Option<&'s mut (dyn MemberSink + 's)>,
}

impl<'r, 's> Engine<'r, 's> {
    pub fn new(
        rt: &'r ResourceTypeDef,
        mode: Mode,
        members: Option<&'s mut (dyn MemberSink + 's)>,
    ) -> Self {
        Engine { rt, mode, members }
    }

    pub fn apply_op(&mut self, resource: &mut Value, op: &PatchOp) -> Result<()> {
        if !resource.is_object() {
            return Err(ScimError::internal("PATCH target is not a JSON object"));
        }
        match &op.path {
            None => match op.op {
                OpKind::Remove => Err(ScimError::no_target("a remove operation needs a `path`")),
                kind => {
                    let value = op.value.as_ref().unwrap_or(&Value::Null);
                    let obj = value.as_object().ok_or_else(|| {
                        ScimError::invalid_value(format!(
                            "a {} operation without `path` needs an object `value`",
                            kind.as_str()
                        ))
                    })?;
                    self.apply_pathless(resource, kind, None, obj)
                }
            },
            Some(path) => {
                let target = self.resolve(path, true)?;
                self.apply_target(resource, op.op, target, op.value.as_ref())
            }
        }
    }

    /// A pathless value (or a schema-URN-keyed object): each key is a path of its own.
    /// `schema` is set for the inner object of a schema URN key.
    fn apply_pathless(
        &mut self,
        resource: &mut Value,
        kind: OpKind,
        schema: Option<&'static SchemaDef>,
        obj: &Map<String, Value>,
    ) -> Result<()> {
        for (key, value) in obj {
            if schema.is_none() && key.eq_ignore_ascii_case("schemas") {
                continue; // recomputed at the end
            }
            let target = match self.schema_by_urn(key) {
                Some(s) if schema.is_none() => Target::Schema(s),
                _ => {
                    let text = match schema {
                        Some(s) => format!("{}:{key}", s.id),
                        None => key.clone(),
                    };
                    match parse_path(&text) {
                        Ok(p) => self.resolve(&p, false)?,
                        Err(_) => self.unknown(false, &text)?,
                    }
                }
            };
            self.apply_target(resource, kind, target, Some(value))?;
        }
        Ok(())
    }

    fn apply_target(
        &mut self,
        resource: &mut Value,
        kind: OpKind,
        target: Target,
        value: Option<&Value>,
    ) -> Result<()> {
        match target {
            Target::Ignore => Ok(()),
            Target::Schema(s) => match kind {
                OpKind::Remove => {
                    if std::ptr::eq(s, self.rt.schema) {
                        return Err(ScimError::invalid_path(format!(
                            "the core schema {} cannot be removed",
                            s.id
                        )));
                    }
                    if let Some(obj) = resource.as_object_mut() {
                        obj.remove(s.id);
                    }
                    Ok(())
                }
                _ => {
                    let obj = value.and_then(Value::as_object).ok_or_else(|| {
                        ScimError::invalid_value(format!(
                            "the value for {} must be an object",
                            s.id
                        ))
                    })?;
                    self.apply_pathless(resource, kind, Some(s), obj)
                }
            },
            Target::Attr(t) => {
                if self.is_members(&t.res) {
                    let sink = self.members.as_deref_mut().expect("checked by is_members");
                    return members::apply(sink, kind, &t, value, self.mode);
                }
                let cont = container(resource, &t.res)?;
                match (&t.filter, t.sub) {
                    (None, None) => self.whole(cont, kind, &t, value),
                    (None, Some(sub)) => self.sub_of_single(cont, kind, &t, sub, value),
                    (Some(f), _) => self.filtered(cont, kind, &t, f, value),
                }
            }
        }
    }

    fn is_members(&self, res: &Resolved) -> bool {
        self.members.is_some()
            && !res.in_extension
            && std::ptr::eq(res.schema, self.rt.schema)
            && res.attr.name == "members"
    }

    fn schema_by_urn(&self, urn: &str) -> Option<&'static SchemaDef> {
        if urn.eq_ignore_ascii_case(self.rt.schema.id) {
            Some(self.rt.schema)
        } else {
            self.rt.extension(urn)
        }
    }

    /// An unqualified name that is no core attribute but the attribute of exactly one
    /// extension: Entra ID's `"path": "manager"` for the enterprise extension's manager.
    fn in_one_extension(&self, name: &str) -> Option<Resolved> {
        let mut found = self.rt.extensions.iter().filter_map(|e| {
            e.schema.attr(name).map(|attr| Resolved {
                schema: e.schema,
                attr,
                in_extension: true,
            })
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// An unknown attribute: an explicit path is an error; a pathless key is ignored in
    /// lenient mode.
    fn unknown(&self, explicit: bool, what: &str) -> Result<Target> {
        if explicit {
            Err(ScimError::invalid_path(format!("no attribute `{what}`")))
        } else if self.mode.strict {
            Err(ScimError::invalid_syntax(format!(
                "unknown attribute `{what}`"
            )))
        } else {
            Ok(Target::Ignore)
        }
    }

    /// A readOnly attribute: an explicit path is an error; a pathless key is ignored
    /// (Okta sends `id` in its pathless replace).
    fn read_only(&self, explicit: bool, what: &str) -> Result<Target> {
        if explicit {
            Err(ScimError::mutability(format!("`{what}` is readOnly")))
        } else {
            Ok(Target::Ignore)
        }
    }

    pub(super) fn resolve(&self, path: &PatchPath, explicit: bool) -> Result<Target> {
        let a = &path.attr;
        let shown = display_path(path);
        // A whole schema: `urn:…:enterprise:2.0:User` parses as urn `…:2.0` + name `User`.
        if path.filter.is_none() && path.sub.is_none() && a.sub.is_none() {
            if let Some(urn) = &a.urn {
                if let Some(s) = self.schema_by_urn(&format!("{urn}:{}", a.name)) {
                    return Ok(Target::Schema(s));
                }
            }
        }
        if let Some(urn) = &a.urn {
            if self.schema_by_urn(urn).is_none() {
                // An extension this type does not have (Entra's custom extensions).
                return if self.mode.strict {
                    Err(ScimError::invalid_path(format!("unknown schema `{urn}`")))
                } else {
                    Ok(Target::Ignore)
                };
            }
        }
        let found = match &a.urn {
            Some(urn) => self.rt.resolve(Some(urn), &a.name),
            // Only in a `path`: the keys of a pathless value are laid out as in the
            // resource, where an extension's attributes sit under its URN.
            None => self
                .rt
                .resolve(None, &a.name)
                .or_else(|| explicit.then(|| self.in_one_extension(&a.name)).flatten()),
        };
        let Some(res) = found else {
            return self.unknown(explicit, &shown);
        };
        if res.attr.mutability == Mutability::ReadOnly {
            return self.read_only(explicit, &shown);
        }
        let sub = match &a.sub {
            None => None,
            Some(s) => match res.attr.sub(s) {
                Some(sub) if res.attr.ty == AttrType::Complex => {
                    if res.attr.multi_valued {
                        return Err(ScimError::invalid_path(format!(
                            "`{shown}` is ambiguous: `{}` is multi-valued; use a value filter",
                            res.attr.name
                        )));
                    }
                    if sub.mutability == Mutability::ReadOnly {
                        return self.read_only(explicit, &shown);
                    }
                    Some(sub)
                }
                _ => return self.unknown(explicit, &shown),
            },
        };
        let filter_sub = match &path.filter {
            None => {
                if path.sub.is_some() {
                    return Err(ScimError::invalid_path(format!("invalid path `{shown}`")));
                }
                None
            }
            Some(_) => {
                if !res.attr.multi_valued || res.attr.ty != AttrType::Complex {
                    return Err(ScimError::invalid_path(format!(
                        "`{}` is not a multi-valued complex attribute; it takes no value filter",
                        res.attr.name
                    )));
                }
                match &path.sub {
                    None => None,
                    Some(s) => match res.attr.sub(s) {
                        Some(sub) if sub.mutability == Mutability::ReadOnly => {
                            return self.read_only(explicit, &shown)
                        }
                        Some(sub) => Some(sub),
                        None => {
                            return Err(ScimError::invalid_path(format!(
                                "`{}` has no sub-attribute `{s}`",
                                res.attr.name
                            )))
                        }
                    },
                }
            }
        };
        Ok(Target::Attr(AttrTarget {
            res,
            sub,
            filter: path.filter.clone(),
            filter_sub,
            path: shown,
        }))
    }

    // ---- value helpers -------------------------------------------------------------

    /// One value of `attr` (an element of a multi-valued one), canonical, or `None`.
    fn norm_elem(&self, attr: &AttributeDef, v: &Value, path: &str) -> Result<Option<Value>> {
        normalize_element(attr, &coerce_complex(attr, v), path, self.mode)
    }

    /// The elements of a multi-valued `attr` (a lone element counts as one), canonical.
    fn norm_multi(&self, attr: &AttributeDef, v: &Value, path: &str) -> Result<Vec<Value>> {
        let arr = as_elements(attr, v);
        Ok(match normalize_value(attr, &arr, path, self.mode)? {
            None => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(other) => vec![other],
        })
    }

    // ---- the three target shapes ---------------------------------------------------

    /// `displayName`, `name`, `emails`.
    fn whole(
        &self,
        cont: &mut Map<String, Value>,
        kind: OpKind,
        t: &AttrTarget,
        value: Option<&Value>,
    ) -> Result<()> {
        let attr = t.res.attr;
        let old = cont.get(attr.name).cloned();
        let value = single_of_array(attr, value.unwrap_or(&Value::Null), &t.path)?;
        let new: Option<Value> = match kind {
            OpKind::Add if attr.multi_valued => {
                let mut arr = match &old {
                    Some(Value::Array(a)) => a.clone(),
                    _ => Vec::new(),
                };
                let mut touched = Vec::new();
                for el in self.norm_multi(attr, value, &t.path)? {
                    if !arr.contains(&el) {
                        arr.push(el);
                        touched.push(arr.len() - 1);
                    }
                }
                fix_primary(&mut arr, &touched, &t.path)?;
                Some(Value::Array(arr))
            }
            OpKind::Replace if attr.multi_valued => {
                let arr = self.norm_multi(attr, value, &t.path)?;
                let all: Vec<usize> = (0..arr.len()).collect();
                let mut arr = arr;
                fix_primary(&mut arr, &all, &t.path)?;
                (!arr.is_empty()).then_some(Value::Array(arr))
            }
            OpKind::Add | OpKind::Replace => match self.norm_elem(attr, value, &t.path)? {
                None if kind == OpKind::Add => return Ok(()),
                None => None,
                Some(Value::Object(new)) if attr.ty == AttrType::Complex => {
                    // RFC 7644 §3.5.2.3: the given sub-attributes replace, the rest stay.
                    let mut merged = match &old {
                        Some(Value::Object(o)) => o.clone(),
                        _ => Map::new(),
                    };
                    merged.extend(new);
                    Some(Value::Object(merged))
                }
                Some(v) => Some(v),
            },
            OpKind::Remove => match value {
                Value::Null => None,
                v if attr.multi_valued => {
                    let given = self.norm_multi(attr, v, &t.path)?;
                    let mut arr = match &old {
                        Some(Value::Array(a)) => a.clone(),
                        _ => Vec::new(),
                    };
                    arr.retain(|el| !given.iter().any(|g| same_element(attr, el, g)));
                    (!arr.is_empty()).then_some(Value::Array(arr))
                }
                _ => None,
            },
        };
        check_change(attr, old.as_ref(), new.as_ref(), &t.path)?;
        set(cont, attr.name, new);
        Ok(())
    }

    /// `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`.
    fn sub_of_single(
        &self,
        cont: &mut Map<String, Value>,
        kind: OpKind,
        t: &AttrTarget,
        sub: &AttributeDef,
        value: Option<&Value>,
    ) -> Result<()> {
        let attr = t.res.attr;
        let old = cont.get(attr.name).cloned();
        let mut parent = match &old {
            Some(Value::Object(o)) => o.clone(),
            _ => Map::new(),
        };
        let new_sub = match kind {
            OpKind::Remove => None,
            _ => match self.norm_elem(sub, value.unwrap_or(&Value::Null), &t.path)? {
                None if kind == OpKind::Add => return Ok(()),
                v => v,
            },
        };
        set(&mut parent, sub.name, new_sub);
        let new = (!parent.is_empty()).then_some(Value::Object(parent));
        check_change(attr, old.as_ref(), new.as_ref(), &t.path)?;
        set(cont, attr.name, new);
        Ok(())
    }

    /// `emails[type eq "work"]`, `emails[type eq "work"].value`.
    fn filtered(
        &self,
        cont: &mut Map<String, Value>,
        kind: OpKind,
        t: &AttrTarget,
        filter: &Filter,
        value: Option<&Value>,
    ) -> Result<()> {
        let attr = t.res.attr;
        let old = cont.get(attr.name).cloned();
        let mut arr = match &old {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let mut matched = Vec::new();
        for (i, el) in arr.iter().enumerate() {
            if matches_value(filter, el, attr)? {
                matched.push(i);
            }
        }
        let value = value.unwrap_or(&Value::Null);
        let mut touched = Vec::new();
        match (kind, t.filter_sub) {
            (OpKind::Remove, None) => {
                // No match: nothing to do (clients resend removals).
                let mut i = 0;
                arr.retain(|_| {
                    i += 1;
                    !matched.contains(&(i - 1))
                });
            }
            (OpKind::Remove, Some(sub)) => {
                for &i in &matched {
                    if let Some(el) = arr[i].as_object_mut() {
                        let old_sub = el.remove(sub.name);
                        check_change(sub, old_sub.as_ref(), None, &t.path)?;
                    }
                }
            }
            (_, Some(sub)) => {
                let new_sub = self.norm_elem(sub, value, &t.path)?;
                if matched.is_empty() {
                    let Some(new_sub) = new_sub else {
                        return Ok(());
                    };
                    let el = self.create_element(attr, filter, sub.name, new_sub, t)?;
                    arr.push(el);
                    touched.push(arr.len() - 1);
                } else {
                    for &i in &matched {
                        if let Some(el) = arr[i].as_object_mut() {
                            let old_sub = el.get(sub.name).cloned();
                            check_change(sub, old_sub.as_ref(), new_sub.as_ref(), &t.path)?;
                            set(el, sub.name, new_sub.clone());
                            touched.push(i);
                        }
                    }
                }
            }
            (_, None) => {
                let new_el = self.norm_elem(attr, value, &t.path)?;
                if matched.is_empty() {
                    let Some(Value::Object(new_el)) = new_el else {
                        return Ok(());
                    };
                    let Some(mut el) = (kind == OpKind::Add)
                        .then(|| eq_pairs(filter, attr))
                        .flatten()
                    else {
                        return Err(no_match(t));
                    };
                    el.extend(new_el);
                    let el = self
                        .norm_elem(attr, &Value::Object(el), &t.path)?
                        .ok_or_else(|| no_match(t))?;
                    arr.push(el);
                    touched.push(arr.len() - 1);
                } else {
                    for &i in &matched {
                        let old_el = arr[i].clone();
                        let el = match (kind, &new_el) {
                            (OpKind::Add, Some(Value::Object(n))) => {
                                let mut m = old_el.as_object().cloned().unwrap_or_default();
                                m.extend(n.clone());
                                Value::Object(m)
                            }
                            (_, Some(n)) => n.clone(),
                            (_, None) => Value::Null,
                        };
                        check_element(attr, Some(&old_el), Some(&el), &t.path)?;
                        arr[i] = el;
                        touched.push(i);
                    }
                }
            }
        }
        fix_primary(&mut arr, &touched, &t.path)?;
        arr.retain(|el| !is_empty(el));
        let new = (!arr.is_empty()).then_some(Value::Array(arr));
        check_change(attr, old.as_ref(), new.as_ref(), &t.path)?;
        set(cont, attr.name, new);
        Ok(())
    }

    /// No element matches `emails[type eq "work"].value`: create `{"type": "work",
    /// "value": …}` when the filter is a conjunction of `eq` comparisons (Entra does this).
    fn create_element(
        &self,
        attr: &AttributeDef,
        filter: &Filter,
        sub: &str,
        value: Value,
        t: &AttrTarget,
    ) -> Result<Value> {
        let mut el = eq_pairs(filter, attr).ok_or_else(|| no_match(t))?;
        el.insert(sub.to_owned(), value);
        self.norm_elem(attr, &Value::Object(el), &t.path)?
            .ok_or_else(|| no_match(t))
    }
}

fn no_match(t: &AttrTarget) -> ScimError {
    ScimError::no_target(format!("no value matches `{}`", t.path))
}

fn display_path(p: &PatchPath) -> String {
    match &p.filter {
        None => p.attr.to_string(),
        Some(_) => {
            let mut s = p.attr.to_string();
            s.push_str("[…]");
            if let Some(sub) = &p.sub {
                s.push('.');
                s.push_str(sub);
            }
            s
        }
    }
}

/// The object that holds `res`'s attribute: the resource itself, or its extension object
/// (created when missing; [`finish`] drops it again if it stays empty).
fn container<'r>(resource: &'r mut Value, res: &Resolved) -> Result<&'r mut Map<String, Value>> {
    let root = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::internal("PATCH target is not a JSON object"))?;
    if !res.in_extension {
        return Ok(root);
    }
    let ext = root
        .entry(res.schema.id)
        .or_insert_with(|| Value::Object(Map::new()));
    if !ext.is_object() {
        *ext = Value::Object(Map::new());
    }
    Ok(ext.as_object_mut().expect("just made an object"))
}

fn set(obj: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    match v {
        Some(v) if !is_empty(&v) => {
            obj.insert(key.to_owned(), v);
        }
        _ => {
            obj.remove(key);
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A string, number or boolean given for a complex attribute with a `value`
/// sub-attribute means `{"value": x}` (Entra's `manager`, bare member ids).
fn coerce_complex(attr: &AttributeDef, v: &Value) -> Value {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_)
            if attr.ty == AttrType::Complex && attr.sub("value").is_some() =>
        {
            let mut m = Map::new();
            m.insert("value".to_owned(), v.clone());
            Value::Object(m)
        }
        _ => v.clone(),
    }
}

/// Entra ID sends a single-valued complex attribute (`manager`) as a one-element array,
/// `[{"value": "<id>", "$ref": null}]`: that is its one value, an empty array is none,
/// and more than one element is 400 `invalidValue`.
fn single_of_array<'v>(attr: &AttributeDef, v: &'v Value, path: &str) -> Result<&'v Value> {
    match v {
        Value::Array(a) if !attr.multi_valued && attr.ty == AttrType::Complex => match a.as_slice()
        {
            [] => {
                static NONE: Value = Value::Null;
                Ok(&NONE)
            }
            [one] => Ok(one),
            more => Err(ScimError::invalid_value(format!(
                "`{path}` is single-valued; {} values were given",
                more.len()
            ))),
        },
        other => Ok(other),
    }
}

/// The value of a multi-valued attribute as an array (a lone element is one element).
fn as_elements(attr: &AttributeDef, v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::Array(a) => Value::Array(a.iter().map(|e| coerce_complex(attr, e)).collect()),
        other => Value::Array(vec![coerce_complex(attr, other)]),
    }
}

/// Element equality for removal by value: by `value` when the given element has one.
fn same_element(attr: &AttributeDef, el: &Value, given: &Value) -> bool {
    match (given.get("value"), attr.sub("value")) {
        (Some(g), Some(def)) => el.get("value").is_some_and(|v| same(def, v, g)),
        _ => el == given,
    }
}

fn same(attr: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !attr.case_exact => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}

/// Immutable attributes may be assigned once; a different value afterwards (or removal)
/// is 400 `mutability`. Recurses into single-valued complex values.
fn check_change(
    attr: &AttributeDef,
    old: Option<&Value>,
    new: Option<&Value>,
    path: &str,
) -> Result<()> {
    let old = old.filter(|v| !v.is_null());
    if attr.mutability == Mutability::Immutable {
        if let Some(o) = old {
            if !new.is_some_and(|n| same(attr, o, n)) {
                return Err(ScimError::mutability(format!(
                    "`{path}` is immutable and already has a value"
                )));
            }
        }
    }
    if !attr.multi_valued {
        check_element(attr, old, new, path)?;
    }
    Ok(())
}

/// Immutable sub-attributes of one complex value.
fn check_element(
    attr: &AttributeDef,
    old: Option<&Value>,
    new: Option<&Value>,
    path: &str,
) -> Result<()> {
    if attr.ty != AttrType::Complex {
        return Ok(());
    }
    for sub in attr.sub_attributes {
        if sub.mutability != Mutability::Immutable {
            continue;
        }
        let o = old.and_then(|v| v.get(sub.name));
        let n = new.and_then(|v| v.get(sub.name));
        check_change(sub, o, n, &format!("{path}.{}", sub.name))?;
    }
    Ok(())
}

/// At most one element may be `primary`: when touched elements set it, the others lose
/// it; two new primaries are an error.
fn fix_primary(arr: &mut [Value], touched: &[usize], path: &str) -> Result<()> {
    let is_primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
    let new: Vec<usize> = touched
        .iter()
        .copied()
        .filter(|&i| is_primary(&arr[i]))
        .collect();
    match new.as_slice() {
        [] => Ok(()),
        [p] => {
            for (i, el) in arr.iter_mut().enumerate() {
                if i != *p && is_primary(el) {
                    el["primary"] = Value::Bool(false);
                }
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "more than one `{path}` value is primary"
        ))),
    }
}

/// `type eq "work" and primary eq true` → `{"type": "work", "primary": true}`; `None` for
/// any other filter.
fn eq_pairs(filter: &Filter, attr: &AttributeDef) -> Option<Map<String, Value>> {
    fn walk(f: &Filter, attr: &AttributeDef, out: &mut Map<String, Value>) -> Option<()> {
        match f {
            Filter::Compare(
                AttrPath {
                    urn: None,
                    name,
                    sub: None,
                },
                CompareOp::Eq,
                lit,
            ) => {
                let def = attr.sub(name)?;
                let v = match lit {
                    Literal::Str(s) => Value::String(s.clone()),
                    Literal::Num(n) => Value::Number(n.clone()),
                    Literal::Bool(b) => Value::Bool(*b),
                    Literal::Null => return None,
                };
                out.insert(def.name.to_owned(), v);
                Some(())
            }
            Filter::And(a, b) => {
                walk(a, attr, out)?;
                walk(b, attr, out)
            }
            _ => None,
        }
    }
    let mut out = Map::new();
    walk(filter, attr, &mut out)?;
    Some(out)
}

/// Drop empty values and recompute `schemas`: core id, then the extensions present.
pub(super) fn finish(rt: &ResourceTypeDef, resource: &mut Value) -> Result<()> {
    let obj = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::internal("PATCH target is not a JSON object"))?;
    obj.retain(|k, v| {
        if k == "schemas" {
            return true;
        }
        prune(v);
        !is_empty(v)
    });
    let schemas = rt.schema_ids(obj);
    obj.insert("schemas".to_owned(), schemas);
    Ok(())
}

fn prune(v: &mut Value) {
    match v {
        Value::Object(o) => o.retain(|_, c| {
            prune(c);
            !is_empty(c)
        }),
        Value::Array(a) => a.retain_mut(|c| {
            prune(c);
            !is_empty(c)
        }),
        _ => {}
    }
}
