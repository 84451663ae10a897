//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) and the `returned`
//! characteristic.
//!
//! - `returned: never` is always removed, `always` (and `schemas`) always kept;
//! - `request` only when named in `attributes`;
//! - `default` kept unless excluded, or — when `attributes` is given — only when named
//!   (naming `name` keeps all of name; naming `name.givenName` keeps only that part).
//!
//! When both parameters are given, `attributes` wins and `excludedAttributes` is ignored.
//! Unknown attribute names are ignored; malformed paths are 400 `invalidSyntax`.

use super::{AttrType, AttributeDef, ResourceTypeDef, Returned, ALL_SCHEMAS};
use crate::error::{Result, ScimError};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// What a client asked to see.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    /// `Some` when the client gave `attributes`: only these (and `always`) are returned.
    attributes: Option<Vec<AttrPath>>,
    /// `excludedAttributes` (empty when `attributes` is given).
    excluded: Vec<AttrPath>,
}

/// One parsed path, lower-cased for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AttrPath {
    /// The schema URN it is qualified with, if any.
    urn: Option<String>,
    /// The top-level attribute; `None` names the whole schema `urn`.
    attr: Option<String>,
    /// A sub-attribute of `attr`.
    sub: Option<String>,
}

/// [`project`] written straight as JSON: the members of one resource object are handed
/// over one by one ([`ProjectedWriter::member`]) and the kept ones are written, with the
/// same bytes `serde_json` writes for the projected [`Value`], without building it.
pub struct ProjectedWriter<'a> {
    rt: &'a ResourceTypeDef,
    projection: &'a Projection,
    out: &'a mut Vec<u8>,
    written: usize,
    /// For a request without `attributes` or `excludedAttributes`: the top-level names
    /// that projection does not keep as they are ([`reworked`]); every other stored member
    /// is copied whole ([`ProjectedWriter::member_stored`]).
    reworked: Option<&'static Reworked>,
}

impl<'a> ProjectedWriter<'a> {
    /// Open the resource's object (`{`) in `out`.
    pub fn new(rt: &'a ResourceTypeDef, projection: &'a Projection, out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        ProjectedWriter {
            rt,
            projection,
            out,
            written: 0,
            reworked: projection.is_default().then(|| reworked(rt)).flatten(),
        }
    }

    /// [`ProjectedWriter::member_raw`] of a member of a stored object, given also as its
    /// whole text `member` (`"key":value` as `serde_json` writes it). Without `attributes`
    /// or `excludedAttributes`, a member that projection keeps as it is (most of them) is
    /// copied in one piece: its name is not looked up in the schema and nothing is parsed.
    pub(crate) fn member_stored(
        &mut self,
        key: &str,
        member: &str,
        raw: &str,
    ) -> serde_json::Result<()> {
        let whole = self.copies(key, raw)
            || self.reworked.is_some_and(|r| {
                // An extension whose attributes are all returned as they are: its object
                // is copied when written compactly without escapes (then `member_raw`,
                // which writes its members one by one, writes the same bytes).
                r.plain_extensions
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(key))
                    && raw.starts_with('{')
                    && !raw.contains("{}")
                    && !raw
                        .bytes()
                        .any(|b| matches!(b, b'\\' | b' ' | b'\t' | b'\n' | b'\r'))
            });
        if whole && member.len() == key.len() + 3 + raw.len() {
            // The lengths match only when the stored name has no escape and no space
            // stands around the colon: `member` is then the bytes `member_raw` writes.
            if self.written > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(member.as_bytes());
            self.written += 1;
            return Ok(());
        }
        self.member_raw(key, raw)
    }

    /// [`ProjectedWriter::member_raw`] of a member whose value `write` writes as compact
    /// JSON, a string or an object of strings (`id`, `meta`): straight into the output
    /// when the projection keeps the member as it is (see
    /// [`ProjectedWriter::member_stored`]), else written apart and projected. (A `{}`
    /// inside a string changes nothing: `member_raw` would parse the value and write the
    /// same bytes back.)
    pub(crate) fn member_strings(
        &mut self,
        key: &str,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> serde_json::Result<()> {
        let direct = self.copies(key, "") && !needs_escape(key.as_bytes());
        let mark = self.out.len();
        if direct {
            self.key(key);
        }
        let at = self.out.len();
        write(self.out);
        if direct && &self.out[at..] != b"{}" {
            self.written += 1;
            return Ok(());
        }
        let value = self.out.split_off(at);
        self.out.truncate(mark);
        let value = std::str::from_utf8(&value).map_err(serde::ser::Error::custom)?;
        self.member_raw(key, value)
    }

    /// Whether `member_raw` would write member `key` with value `raw` unchanged: under the
    /// default projection, a name it does not rework, and no empty object in the value
    /// (which `write_kept_raw` drops).
    fn copies(&self, key: &str, raw: &str) -> bool {
        self.reworked.is_some_and(|r| {
            !r.names.iter().any(|n| n.eq_ignore_ascii_case(key)) && !raw.contains("{}")
        })
    }

    /// Top-level member `key` of the rendered resource, as [`project`] keeps it.
    pub fn member(&mut self, key: &str, value: &Value) {
        let (rt, p) = (self.rt, self.projection);
        let mark = self.out.len();
        if key.eq_ignore_ascii_case("schemas") {
            self.key(key);
            write_json(self.out, value);
        } else if let Some(ext) = rt.extension(key) {
            let Value::Object(inner) = value else {
                return;
            };
            self.key(key);
            self.out.push(b'{');
            let mut any = false;
            for (k, v) in inner {
                any |= p.write_kept(rt, Some(ext.id), k, v, !any, self.out);
            }
            if !any {
                self.out.truncate(mark);
                return;
            }
            self.out.push(b'}');
        } else if !p.write_kept(rt, None, key, value, self.written == 0, self.out) {
            return;
        }
        self.written += 1;
    }

    /// [`ProjectedWriter::member`] of a value given as compact JSON text (as `serde_json`
    /// writes it): a member the projection keeps whole is copied as it is, without parsing
    /// it into a [`Value`] and writing that back; the rest is parsed and projected.
    pub fn member_raw(&mut self, key: &str, raw: &str) -> serde_json::Result<()> {
        let (rt, p) = (self.rt, self.projection);
        let mark = self.out.len();
        if key.eq_ignore_ascii_case("schemas") {
            self.key(key);
            self.out.extend_from_slice(raw.as_bytes());
        } else if let Some(ext) = rt.extension(key) {
            if !raw.starts_with('{') {
                return Ok(());
            }
            self.key(key);
            self.out.push(b'{');
            let mut any = false;
            for (k, v) in raw_members(raw)? {
                any |= p.write_kept_raw(rt, Some(ext.id), &k, v.get(), !any, self.out)?;
            }
            if !any {
                self.out.truncate(mark);
                return Ok(());
            }
            self.out.push(b'}');
        } else if !p.write_kept_raw(rt, None, key, raw, self.written == 0, self.out)? {
            return Ok(());
        }
        self.written += 1;
        Ok(())
    }

    /// Close the object.
    pub fn finish(self) {
        self.out.push(b'}');
    }

    fn key(&mut self, key: &str) {
        if self.written > 0 {
            self.out.push(b',');
        }
        write_json_str(self.out, &[key]);
        self.out.push(b':');
    }
}

impl Projection {
    /// [`Projection::apply`] written as `"name":value` (after a comma unless `first`);
    /// returns whether anything was written.
    fn write_kept(
        &self,
        rt: &ResourceTypeDef,
        urn: Option<&str>,
        name: &str,
        value: &Value,
        first: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        let def = rt.resolve(urn, name).map(|r| r.attr);
        let sel = self.decide(rt, urn, name, def);
        if sel == Sel::Not {
            return false;
        }
        let mark = out.len();
        if !first {
            out.push(b',');
        }
        write_json_str(out, &[name]);
        out.push(b':');
        let kept = match value {
            Value::Object(obj) => self.write_subs(&sel, def, obj, out),
            Value::Array(items) if !items.is_empty() => {
                out.push(b'[');
                let mut any = false;
                for item in items {
                    let at = out.len();
                    if any {
                        out.push(b',');
                    }
                    let kept = match item {
                        Value::Object(obj) => self.write_subs(&sel, def, obj, out),
                        other => {
                            write_json(out, other);
                            true
                        }
                    };
                    if kept {
                        any = true;
                    } else {
                        out.truncate(at);
                    }
                }
                out.push(b']');
                any
            }
            other => {
                write_json(out, other);
                true
            }
        };
        if !kept {
            out.truncate(mark);
        }
        kept
    }

    /// [`Projection::write_kept`] of a value given as compact JSON text. The text is
    /// copied when `write_kept` would write it unchanged: the attribute kept whole, none
    /// of its sub-attributes hidden by `returned`, and no empty object in it (an empty
    /// complex value is dropped). Otherwise it is parsed and written by `write_kept`.
    fn write_kept_raw(
        &self,
        rt: &ResourceTypeDef,
        urn: Option<&str>,
        name: &str,
        raw: &str,
        first: bool,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<bool> {
        let def = rt.resolve(urn, name).map(|r| r.attr);
        let sel = self.decide(rt, urn, name, def);
        if sel == Sel::Not {
            return Ok(false);
        }
        let every_sub = def.is_none_or(|d| {
            d.sub_attributes
                .iter()
                .all(|s| matches!(s.returned, Returned::Default | Returned::Always))
        });
        if sel == Sel::Whole && every_sub && !raw.contains("{}") {
            if !first {
                out.push(b',');
            }
            write_json_str(out, &[name]);
            out.push(b':');
            out.extend_from_slice(raw.as_bytes());
            return Ok(true);
        }
        let value: Value = serde_json::from_str(raw)?;
        Ok(self.write_kept(rt, urn, name, &value, first, out))
    }

    /// The kept sub-attributes of one complex value, as an object; `false` (and a partial
    /// write the caller discards) when none is kept.
    fn write_subs(
        &self,
        sel: &Sel,
        def: Option<&AttributeDef>,
        obj: &Map<String, Value>,
        out: &mut Vec<u8>,
    ) -> bool {
        out.push(b'{');
        let mut any = false;
        for (k, v) in obj {
            if !self.keeps_sub(sel, def, k) {
                continue;
            }
            if any {
                out.push(b',');
            }
            write_json_str(out, &[k]);
            out.push(b':');
            write_json(out, v);
            any = true;
        }
        out.push(b'}');
        any
    }
}

/// The members of a JSON object given as text, in order, each value as its own text
/// (borrowed from `text`; a key is copied only when it holds an escape).
pub fn raw_members(text: &str) -> serde_json::Result<Vec<(Cow<'_, str>, &RawValue)>> {
    struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);
    struct Key<'a>(Cow<'a, str>);
    struct KeyVisitor;
    struct MembersVisitor;

    impl<'de> Visitor<'de> for KeyVisitor {
        type Value = Key<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
            Ok(Key(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
            Ok(Key(Cow::Owned(v.to_owned())))
        }
    }
    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            d.deserialize_str(KeyVisitor)
        }
    }
    impl<'de> Visitor<'de> for MembersVisitor {
        type Value = Members<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Members<'de>, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                out.push((k, map.next_value::<&'de RawValue>()?));
            }
            Ok(Members(out))
        }
    }
    impl<'de> Deserialize<'de> for Members<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            d.deserialize_map(MembersVisitor)
        }
    }
    Ok(serde_json::from_str::<Members<'_>>(text)?.0)
}

/// The members of a JSON object written as `serde_json` writes it (compact) with names
/// that hold no escape: for each, its name, its whole text (`"name":value`, what
/// [`ProjectedWriter::member_stored`] copies) and its value's text. `None` for any other
/// text (a space between tokens, an escaped name): [`raw_members`] reads that. A scan of
/// the structure only, for the stored text a store wrote from a parsed value: a third of
/// the instructions of `serde_json`'s parse into [`RawValue`]s.
pub fn compact_members(text: &str) -> Option<Vec<(&str, &str, &str)>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(16);
    if b.first() != Some(&b'{') {
        return None;
    }
    if b.get(1) == Some(&b'}') {
        return (b.len() == 2).then_some(out);
    }
    let mut i = 1;
    loop {
        let start = i;
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let name_end = i + 1 + quote_or_backslash(&b[i + 1..])?;
        if b[name_end] != b'"' || b.get(name_end + 1) != Some(&b':') {
            return None;
        }
        let value = name_end + 2;
        let end = skip_value(b, value).filter(|&end| end > value)?;
        out.push((
            text.get(i + 1..name_end)?,
            text.get(start..end)?,
            text.get(value..end)?,
        ));
        match b.get(end) {
            Some(b',') => i = end + 1,
            Some(b'}') if end + 1 == b.len() => return Some(out),
            _ => return None,
        }
    }
}

/// The end of the compact JSON value starting at `b[i]`: the `,`, `}` or `]` after it;
/// `None` at a space or the end of the text.
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match *b.get(i)? {
            b'"' => i = skip_string(b, i)?,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' | b',' if depth == 0 => return Some(i),
            b'}' | b']' => {
                depth -= 1;
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => return None,
            _ => i += 1,
        }
    }
}

/// The end of the JSON string starting at `b[i]` (its opening quote).
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        i += quote_or_backslash(b.get(i..)?)?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// The first `"` or `\\` in `b`. Eight bytes at a time (the "has a zero byte" word test of
/// [`needs_escape`]): most of a stored resource is the inside of its strings.
fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        if zero_byte(w ^ (ONES * u64::from(b'"'))) || zero_byte(w ^ (ONES * u64::from(b'\\'))) {
            break;
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| i + p)
}

/// The whole text (`"key":value`) of a member [`raw_members`] found in `text`: what
/// [`ProjectedWriter::member_stored`] copies. Empty when the name held an escape (then
/// unescaped into a copy of its own, so it does not point into `text`).
pub fn member_text<'t>(text: &'t str, key: &str, value: &RawValue) -> &'t str {
    let base = text.as_ptr() as usize;
    let at = key.as_ptr() as usize;
    // A name read as it is points into `text`, after its opening quote.
    if at <= base || at > base + text.len() {
        return "";
    }
    let start = at - base - 1;
    let end = (value.get().as_ptr() as usize)
        .wrapping_sub(base)
        .wrapping_add(value.get().len());
    text.get(start..end).unwrap_or("")
}

/// Compact JSON, as `serde_json::to_vec` writes it (writing into a `Vec` cannot fail).
pub(crate) fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The parts of one string, concatenated, as a JSON string: the bytes [`write_json`]
/// writes for it. Names, times and URLs rarely hold a byte JSON escapes (`"`, `\\`, a
/// control character): those are copied as they are, the others written by `serde_json`.
pub(crate) fn write_json_str(out: &mut Vec<u8>, parts: &[&str]) {
    if !parts.iter().any(|p| needs_escape(p.as_bytes())) {
        out.push(b'"');
        for part in parts {
            out.extend_from_slice(part.as_bytes());
        }
        out.push(b'"');
    } else {
        write_json(out, &parts.concat());
    }
}

/// Whether `bytes` hold one JSON escapes in a string: a control character, `"` or `\\`.
/// Eight bytes at a time (the "has a byte less than n" and "has a zero byte" word tests):
/// a third of the instructions of a test per byte.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        if w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0
            || zero_byte(w ^ (ONES * u64::from(b'"')))
            || zero_byte(w ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// What a request without `attributes` or `excludedAttributes` does not return exactly as
/// stored, for one resource type; worked out once, from the same [`Projection::decide`]
/// the general path uses.
struct Reworked {
    /// The top-level names whose value it may change: what `returned` hides (`never`,
    /// `request`), whole or in a sub-attribute, and the extension schemas (projected
    /// member by member). Every other member [`ProjectedWriter::member_raw`] copies as it
    /// is, or drops when it holds an empty object ([`ProjectedWriter::copies`] checks
    /// that per value).
    names: Vec<&'static str>,
    /// The extension schemas none of whose attributes it changes.
    plain_extensions: Vec<&'static str>,
    /// The top-level names (of the common and core schemas) it leaves out altogether.
    hidden: Vec<&'static str>,
}

/// [`Reworked`] of `rt` when it is one of the library's own resource types (`None` for
/// a type defined elsewhere: then every member takes the general path).
fn reworked(rt: &ResourceTypeDef) -> Option<&'static Reworked> {
    use super::ResourceKind;
    use std::sync::OnceLock;
    static USER: OnceLock<Reworked> = OnceLock::new();
    static GROUP: OnceLock<Reworked> = OnceLock::new();
    let cell = if std::ptr::eq(rt, ResourceKind::User.resource_type()) {
        &USER
    } else if std::ptr::eq(rt, ResourceKind::Group.resource_type()) {
        &GROUP
    } else {
        return None;
    };
    Some(cell.get_or_init(|| {
        let default = Projection::default();
        // Whether the general path keeps attribute `name` (of schema `urn`) as it is.
        let plain = |urn: Option<&str>, name: &str| {
            let def = rt.resolve(urn, name).map(|r| r.attr);
            let every_sub = def.is_none_or(|d| {
                d.sub_attributes
                    .iter()
                    .all(|s| matches!(s.returned, Returned::Default | Returned::Always))
            });
            every_sub && default.decide(rt, urn, name, def) == Sel::Whole
        };
        let mut names: Vec<&'static str> = rt.extensions.iter().map(|e| e.schema.id).collect();
        let mut hidden = Vec::new();
        for attr in super::COMMON.attributes.iter().chain(rt.schema.attributes) {
            if !plain(None, attr.name) {
                names.push(attr.name);
            }
            let def = rt.resolve(None, attr.name).map(|r| r.attr);
            if default.decide(rt, None, attr.name, def) == Sel::Not {
                hidden.push(attr.name);
            }
        }
        let plain_extensions = rt
            .extensions
            .iter()
            .map(|e| e.schema)
            .filter(|s| s.attributes.iter().all(|a| plain(Some(s.id), a.name)))
            .map(|s| s.id)
            .collect();
        Reworked {
            names,
            plain_extensions,
            hidden,
        }
    }))
}

/// How a list of paths selects one top-level attribute.
#[derive(Debug, PartialEq, Eq)]
enum Sel {
    Not,
    Whole,
    Subs(Vec<String>),
}

impl Projection {
    /// Parse the comma-separated `attributes` and `excludedAttributes` parameters.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection> {
        let attributes = attributes.map(parse_list).transpose()?;
        // An empty `attributes=` means no restriction rather than "nothing".
        let attributes = attributes.filter(|a| !a.is_empty());
        let excluded = match (&attributes, excluded) {
            (None, Some(e)) => parse_list(e)?,
            _ => Vec::new(),
        };
        Ok(Projection {
            attributes,
            excluded,
        })
    }

    /// Whether the client gave neither `attributes` nor `excludedAttributes`.
    pub(crate) fn is_default(&self) -> bool {
        self.attributes.is_none() && self.excluded.is_empty()
    }

    /// Would the rendered resource include top-level attribute `name` of schema `urn`
    /// (`None` = core/common)? Lets the provider skip loading what is not returned, such
    /// as a large group's `members`.
    pub fn includes(&self, rt: &ResourceTypeDef, urn: Option<&str>, name: &str) -> bool {
        let urn = urn.filter(|u| !u.eq_ignore_ascii_case(rt.schema.id));
        if urn.is_none() && name.eq_ignore_ascii_case("schemas") {
            return true;
        }
        if let Some(r) = reworked(rt).filter(|_| urn.is_none() && self.is_default()) {
            // What `decide` answers, worked out once per resource type.
            return !r.hidden.iter().any(|n| n.eq_ignore_ascii_case(name));
        }
        let def = rt.resolve(urn, name).map(|r| r.attr);
        !matches!(self.decide(rt, urn, name, def), Sel::Not)
    }

    /// What to keep of one top-level attribute: nothing, all of it (less the sub-attributes
    /// `returned` hides), or the listed sub-attributes.
    fn decide(
        &self,
        rt: &ResourceTypeDef,
        urn: Option<&str>,
        name: &str,
        def: Option<&AttributeDef>,
    ) -> Sel {
        let returned = def.map_or(Returned::Default, |d| d.returned);
        let complex = def.is_some_and(|d| d.ty == AttrType::Complex);
        match returned {
            Returned::Never => return Sel::Not,
            Returned::Always => return Sel::Whole,
            _ => {}
        }
        if let Some(list) = &self.attributes {
            return match select(list, rt, urn, name) {
                Sel::Subs(_) if !complex => Sel::Not,
                sel => sel,
            };
        }
        if returned == Returned::Request {
            return Sel::Not;
        }
        match select(&self.excluded, rt, urn, name) {
            Sel::Whole => Sel::Not,
            Sel::Subs(subs) if complex => Sel::Subs(subs),
            _ => Sel::Whole,
        }
    }

    /// Whether sub-attribute `sub` of a kept attribute stays.
    fn keeps_sub(&self, sel: &Sel, def: Option<&AttributeDef>, sub: &str) -> bool {
        let returned = def
            .and_then(|d| d.sub(sub))
            .map_or(Returned::Default, |s| s.returned);
        match returned {
            Returned::Never => return false,
            Returned::Always => return true,
            _ => {}
        }
        let named = |subs: &[String]| subs.iter().any(|s| s.eq_ignore_ascii_case(sub));
        if self.attributes.is_some() {
            match sel {
                Sel::Whole => true,
                Sel::Subs(subs) => named(subs),
                Sel::Not => false,
            }
        } else {
            returned != Returned::Request
                && match sel {
                    Sel::Subs(subs) => !named(subs),
                    Sel::Whole => true,
                    Sel::Not => false,
                }
        }
    }

    /// The projected value of one top-level attribute, `None` to drop it. Kept values
    /// are moved, not copied.
    fn apply(
        &self,
        rt: &ResourceTypeDef,
        urn: Option<&str>,
        name: &str,
        value: Value,
    ) -> Option<Value> {
        let def = rt.resolve(urn, name).map(|r| r.attr);
        let sel = self.decide(rt, urn, name, def);
        if sel == Sel::Not {
            return None;
        }
        let filter = |obj: Map<String, Value>| -> Option<Value> {
            let kept: Map<String, Value> = obj
                .into_iter()
                .filter(|(k, _)| self.keeps_sub(&sel, def, k))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        };
        match value {
            Value::Object(obj) => filter(obj),
            Value::Array(items) => {
                let empty = items.is_empty();
                let kept: Vec<Value> = items
                    .into_iter()
                    .filter_map(|item| match item {
                        Value::Object(obj) => filter(obj),
                        other => Some(other),
                    })
                    .collect();
                (!kept.is_empty() || empty).then_some(Value::Array(kept))
            }
            other => Some(other),
        }
    }
}

/// How `list` names top-level attribute `name` of schema `urn` (`None` = core/common).
fn select(list: &[AttrPath], rt: &ResourceTypeDef, urn: Option<&str>, name: &str) -> Sel {
    let mut subs = Vec::new();
    for p in list {
        if !same_schema(p.urn.as_deref(), rt, urn) {
            continue;
        }
        match (&p.attr, &p.sub) {
            (None, _) => return Sel::Whole,
            (Some(a), None) if a.eq_ignore_ascii_case(name) => return Sel::Whole,
            (Some(a), Some(s)) if a.eq_ignore_ascii_case(name) => subs.push(s.clone()),
            _ => {}
        }
    }
    if subs.is_empty() {
        Sel::Not
    } else {
        Sel::Subs(subs)
    }
}

/// Does a path qualified by `path_urn` address schema `urn` of `rt`?
fn same_schema(path_urn: Option<&str>, rt: &ResourceTypeDef, urn: Option<&str>) -> bool {
    let core = |u: &str| u.eq_ignore_ascii_case(rt.schema.id);
    match (path_urn, urn) {
        (None, None) => true,
        (Some(p), None) => core(p),
        (Some(p), Some(u)) => p.eq_ignore_ascii_case(u),
        (None, Some(_)) => false,
    }
}

fn parse_list(s: &str) -> Result<Vec<AttrPath>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse_path)
        .collect()
}

fn parse_path(raw: &str) -> Result<AttrPath> {
    let malformed = || ScimError::invalid_syntax(format!("malformed attribute path '{raw}'"));
    let lower = raw.to_ascii_lowercase();
    let (urn, rest) = if lower.starts_with("urn:") {
        // A known schema URN names the whole schema; otherwise the attribute follows the
        // last ':' (attribute names contain no ':').
        if ALL_SCHEMAS
            .iter()
            .any(|s| s.id.eq_ignore_ascii_case(&lower))
        {
            return Ok(AttrPath {
                urn: Some(lower),
                attr: None,
                sub: None,
            });
        }
        let known = ALL_SCHEMAS
            .iter()
            .map(|s| s.id.to_ascii_lowercase())
            .find(|id| {
                lower.len() > id.len()
                    && lower.starts_with(id.as_str())
                    && lower[id.len()..].starts_with(':')
            });
        match known {
            Some(id) => {
                let rest = lower[id.len() + 1..].to_owned();
                (Some(id), rest)
            }
            None => {
                let i = lower.rfind(':').ok_or_else(malformed)?;
                (Some(lower[..i].to_owned()), lower[i + 1..].to_owned())
            }
        }
    } else {
        (None, lower)
    };
    let mut parts = rest.split('.');
    let attr = parts.next().unwrap_or_default().to_owned();
    let sub = parts.next().map(str::to_owned);
    let valid = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$')
    };
    if parts.next().is_some() || !valid(&attr) || !sub.as_deref().is_none_or(valid) {
        return Err(malformed());
    }
    Ok(AttrPath {
        urn,
        attr: Some(attr),
        sub,
    })
}

/// Apply `returned` rules and the projection to a fully rendered resource.
pub fn project(rt: &ResourceTypeDef, resource: &Value, p: &Projection) -> Value {
    project_owned(rt, resource.clone(), p)
}

/// [`project`] of a resource the caller no longer needs: kept values are moved.
pub fn project_owned(rt: &ResourceTypeDef, resource: Value, p: &Projection) -> Value {
    let Value::Object(obj) = resource else {
        return resource;
    };
    let mut out = Map::with_capacity(obj.len());
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key, value);
        } else if let Some(ext) = rt.extension(&key) {
            let Value::Object(inner) = value else {
                continue;
            };
            let kept: Map<String, Value> = inner
                .into_iter()
                .filter_map(|(k, v)| {
                    let v = p.apply(rt, Some(ext.id), &k, v)?;
                    Some((k, v))
                })
                .collect();
            if !kept.is_empty() {
                out.insert(key, Value::Object(kept));
            }
        } else if let Some(v) = p.apply(rt, None, &key, value) {
            out.insert(key, v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ResourceKind;
    use serde_json::json;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        // Every ASCII byte and a few beyond, at every position of a word and of the
        // remainder after the last whole word, alone and split across parts.
        let mut specials: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        specials.extend(["é", "\u{2028}", "😀", "\u{7f}"].map(String::from));
        for special in &specials {
            for at in 0..19 {
                let mut s = "x".repeat(19);
                s.replace_range(at..at + 1, special);
                let mut expected = Vec::new();
                write_json(&mut expected, &s);
                let mut whole = Vec::new();
                write_json_str(&mut whole, &[&s]);
                assert_eq!(whole, expected, "{s:?}");
                let cut = s.char_indices().map(|(i, _)| i).nth(at / 2).unwrap_or(0);
                let mut split = Vec::new();
                write_json_str(&mut split, &[&s[..cut], "", &s[cut..]]);
                assert_eq!(split, expected, "{s:?} cut at {cut}");
            }
        }
        let mut empty = Vec::new();
        write_json_str(&mut empty, &[]);
        assert_eq!(empty, b"\"\"");
    }

    /// The members of `resource` written by `member` (parsed) and by `member_raw` (from
    /// the stored text).
    fn both(resource: &Value, p: &Projection) -> (String, String) {
        let rt = ResourceKind::User.resource_type();
        let mut parsed = Vec::new();
        let mut w = ProjectedWriter::new(rt, p, &mut parsed);
        for (k, v) in resource.as_object().unwrap() {
            w.member(k, v);
        }
        w.finish();
        let text = serde_json::to_string(resource).unwrap();
        let mut raw = Vec::new();
        let mut w = ProjectedWriter::new(rt, p, &mut raw);
        for (k, v) in raw_members(&text).unwrap() {
            w.member_raw(&k, v.get()).unwrap();
        }
        w.finish();
        (
            String::from_utf8(parsed).unwrap(),
            String::from_utf8(raw).unwrap(),
        )
    }

    /// The members of the object `text` written by `member_stored` (the copying path)
    /// and by `member_raw`.
    fn stored(text: &str, p: &Projection) -> (String, String) {
        let rt = ResourceKind::User.resource_type();
        let (mut copied, mut raw) = (Vec::new(), Vec::new());
        let mut w = ProjectedWriter::new(rt, p, &mut copied);
        for (k, v) in raw_members(text).unwrap() {
            w.member_stored(&k, member_text(text, &k, v), v.get())
                .unwrap();
        }
        w.finish();
        let mut w = ProjectedWriter::new(rt, p, &mut raw);
        for (k, v) in raw_members(text).unwrap() {
            w.member_raw(&k, v.get()).unwrap();
        }
        w.finish();
        (
            String::from_utf8(copied).unwrap(),
            String::from_utf8(raw).unwrap(),
        )
    }

    #[test]
    fn stored_members_copied_whole_are_written_as_projected() {
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let ws1b = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User";
        let resource = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ext, ws1b],
            "userName": "ann\"q\\u\u{1}é@example.com",
            "PASSWORD": "never returned, whatever its case",
            "name": {"givenName": "Ann", "familyName": "{}"},
            "addresses": [{}, {"locality": "X"}],
            "ims": [{}],
            "phoneNumbers": [],
            "x-unknown\"key": {"a": [1, 2.5, -3e-7, null, true]},
            "emails": [{"value": "a@b", "type": "work", "primary": true}],
            ext: {"department": "R&D", "manager": {}},
            ws1b: {"domain": "example.com"},
            "meta": {"resourceType": "User", "location": "http://h/Users/1"}
        });
        let projections = [
            Projection::default(),
            Projection::parse(Some("userName,name.givenName,addresses"), None).unwrap(),
            Projection::parse(None, Some("emails,name.familyName,meta.location")).unwrap(),
            Projection::parse(Some(&format!("{ext}:department,password")), None).unwrap(),
            Projection::parse(None, Some(&format!("{ws1b}:domain"))).unwrap(),
        ];
        // As serde_json writes it, and spaced out as PostgreSQL's jsonb writes it (a
        // member or extension with a space around its colon is not copied whole).
        let compact = serde_json::to_string(&resource).unwrap();
        let spaced = serde_json::to_string_pretty(&resource).unwrap();
        let ws1b_spaced = compact.replace(
            r#"{"domain":"example.com"}"#,
            r#"{"domain": "example.com"}"#,
        );
        for p in &projections {
            for text in [&compact, &spaced, &ws1b_spaced] {
                let (copied, raw) = stored(text, p);
                assert_eq!(copied, raw, "projection {p:?} of {text}");
            }
            let (parsed, _) = both(&resource, p);
            assert_eq!(stored(&compact, p).0, parsed, "projection {p:?}");
        }
        let out: Value = serde_json::from_str(&stored(&compact, &projections[0]).0).unwrap();
        assert!(out.get("PASSWORD").is_none());
        assert_eq!(out[ws1b], json!({"domain": "example.com"}));
        assert_eq!(out[ext], json!({"department": "R&D"}));
        assert_eq!(out["addresses"], json!([{"locality": "X"}]));
        let out: Value = serde_json::from_str(&stored(&compact, &projections[4]).0).unwrap();
        assert!(out.get(ws1b).is_none(), "{out}");
    }

    #[test]
    fn the_default_projection_includes_what_decide_keeps() {
        let p = Projection::default();
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let rt = kind.resource_type();
            let mut names: Vec<String> = crate::schema::COMMON
                .attributes
                .iter()
                .chain(rt.schema.attributes)
                .flat_map(|a| [a.name.to_owned(), a.name.to_uppercase()])
                .collect();
            names.extend(["members", "groups", "password", "x-unknown"].map(String::from));
            for name in &names {
                let def = rt.resolve(None, name).map(|r| r.attr);
                let kept = p.decide(rt, None, name, def) != Sel::Not;
                assert_eq!(p.includes(rt, None, name), kept, "{kind:?} {name}");
            }
            assert!(!p.includes(rt, None, "PassWord") || kind == ResourceKind::Group);
        }
    }

    #[test]
    fn a_resource_type_defined_elsewhere_takes_the_general_path() {
        use crate::schema::SchemaDef;
        static ATTRS: [AttributeDef; 1] =
            [AttributeDef::string("secretish", "s").returned(Returned::Never)];
        static SCHEMA: SchemaDef = SchemaDef {
            id: "urn:example:secret",
            name: "S",
            description: "s",
            attributes: &ATTRS,
        };
        // Of kind User, but not the library's User: its own `returned` rules apply.
        static RT: ResourceTypeDef = ResourceTypeDef {
            kind: ResourceKind::User,
            name: "T",
            endpoint: "/T",
            description: "t",
            schema: &SCHEMA,
            extensions: &[],
        };
        let p = Projection::default();
        assert!(!p.includes(&RT, None, "secretish"));
        assert!(p.includes(&RT, None, "userName"));
        let text = r#"{"schemas":["urn:example:secret"],"userName":"u","secretish":"s"}"#;
        let mut out = Vec::new();
        let mut w = ProjectedWriter::new(&RT, &p, &mut out);
        for (k, m, v) in compact_members(text).unwrap() {
            w.member_stored(k, m, v).unwrap();
        }
        w.finish();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"schemas":["urn:example:secret"],"userName":"u"}"#
        );
    }

    #[test]
    fn quote_or_backslash_finds_the_first_one() {
        for len in 0..20 {
            for at in 0..len {
                for c in [b'"', b'\\', b'!', b'#', b'[', b'\x80', 0] {
                    let mut b = vec![b'a'; len];
                    b[at] = c;
                    b.push(b'"');
                    let naive = b.iter().position(|&x| x == b'"' || x == b'\\');
                    assert_eq!(quote_or_backslash(&b), naive, "{b:?}");
                    b.pop();
                    let naive = b.iter().position(|&x| x == b'"' || x == b'\\');
                    assert_eq!(quote_or_backslash(&b), naive, "{b:?}");
                }
            }
        }
    }

    #[test]
    fn compact_members_are_the_members_serde_json_reads() {
        let values = [
            json!({}),
            json!({"a": 1}),
            json!({"schemas": ["x"], "s": "q\"{,}]\\", "n": -1.5e-9, "t": true, "z": null,
                   "o": {"p": [{}, [], {"q": [1, {"r": "}"}]}]}, "e": [], "u": "é\u{1}"}),
        ];
        for v in &values {
            let text = serde_json::to_string(v).unwrap();
            let scanned = compact_members(&text).expect("compact");
            let read: Vec<(String, String, String)> = raw_members(&text)
                .unwrap()
                .iter()
                .map(|(k, r)| {
                    (
                        k.to_string(),
                        member_text(&text, k, r).into(),
                        r.get().into(),
                    )
                })
                .collect();
            let scanned: Vec<(String, String, String)> = scanned
                .into_iter()
                .map(|(k, m, r)| (k.into(), m.into(), r.into()))
                .collect();
            assert_eq!(scanned, read, "{text}");
        }
        // Not as serde_json writes it, or a name with an escape: left to `raw_members`.
        for text in [
            "{\"a\": 1}",
            "{ \"a\":1}",
            "{\"a\":[1, 2]}",
            "{\"a\\\"b\":1}",
            "[1]",
            "{\"a\":1",
            "{\"a\":1}x",
            "{\"a\":}",
            "{\"a\":\"x}",
            "",
        ] {
            assert!(compact_members(text).is_none(), "{text}");
        }
    }

    #[test]
    fn stored_text_is_written_as_the_parsed_value_is() {
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let resource = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ext],
            "userName": "ann\"q\\u\u{1}é@example.com",
            "password": "never returned",
            "name": {"givenName": "Ann", "familyName": "{}"},
            "addresses": [{}, {"locality": "X"}],
            "ims": [{}],
            "phoneNumbers": [],
            "x-unknown\"key": {"a": [1, 2.5, -3e-7, null, true]},
            "emails": [{"value": "a@b", "type": "work", "primary": true}],
            ext: {"department": "R&D", "manager": {}},
            "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User": "not an object",
            "meta": {"resourceType": "User", "location": "http://h/Users/1"}
        });
        let projections = [
            Projection::default(),
            Projection::parse(Some("userName,name.givenName,addresses"), None).unwrap(),
            Projection::parse(None, Some("emails,name.familyName,meta.location")).unwrap(),
            Projection::parse(Some(&format!("{ext}:department,password")), None).unwrap(),
        ];
        for p in &projections {
            let (parsed, raw) = both(&resource, p);
            assert_eq!(raw, parsed, "projection {p:?}");
        }
        // What the default projection hides or drops stays out of the copied text too.
        let (_, raw) = both(&resource, &projections[0]);
        let out: Value = serde_json::from_str(&raw).unwrap();
        assert!(out.get("password").is_none());
        assert!(out.get("ims").is_none());
        assert_eq!(out["addresses"], json!([{"locality": "X"}]));
        assert_eq!(out[ext], json!({"department": "R&D"}));
        assert_eq!(out["name"]["familyName"], "{}");
        assert_eq!(out["phoneNumbers"], json!([]));
    }
}
