//! Filter and path parser: a small hand-written scanner plus recursive descent over the
//! RFC 7644 §3.4.2.2 filter grammar and the §3.5.2 PATCH path grammar.
//!
//! ```text
//! filter    = or
//! or        = and *( "or" and )                       ; left-associative
//! and       = unary *( "and" unary )                  ; left-associative
//! unary     = "not" "(" or ")" / "(" or ")" / attrExp / valuePath
//! attrExp   = attrPath "pr" / attrPath compareOp compValue
//! valuePath = attrPath "[" valFilter "]"               ; no nesting
//! path      = attrPath / valuePath [ "." subAttr ]     ; PATCH path
//! ```
//!
//! Keywords (`and`, `or`, `not`, operators, `true`/`false`/`null`) are case-insensitive.
//! Every error names what was expected and the byte offset where parsing failed; input is
//! bounded by [`MAX_FILTER_LEN`] and nesting by [`MAX_DEPTH`], so hostile input can
//! neither panic nor exhaust the stack.

use super::ast::{AttrPath, CompareOp, Filter, Literal, PatchPath};
use crate::error::{Result, ScimError};
use serde_json::Number;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8192;
/// Deepest nesting of parentheses / `not` / value paths accepted.
pub const MAX_DEPTH: usize = 32;

/// Parse a filter (`userName eq "bjensen" and not (emails co "example.org")`).
pub fn parse_filter(s: &str) -> Result<Filter> {
    let mut p = Parser::new(s, Mode::Filter, 0);
    if s.len() > MAX_FILTER_LEN {
        return Err(p.fail(format!(
            "filter is {} bytes long; at most {MAX_FILTER_LEN} are allowed",
            s.len()
        )));
    }
    p.skip_ws();
    if p.at_end() {
        return Err(p.fail("filter is empty"));
    }
    let f = p.parse_or(0, false)?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.err_at(
            p.pos,
            format!(
                "expected 'and', 'or' or end of filter, found {}",
                p.describe_next()
            ),
        ));
    }
    Ok(f)
}

/// Parse a PATCH path (`emails[type eq "work"].value`). Surrounding whitespace is ignored.
pub fn parse_path(s: &str) -> Result<PatchPath> {
    let trimmed_start = s.trim_start_matches(is_ws_char);
    let base = s.len() - trimmed_start.len();
    let t = trimmed_start.trim_end_matches(is_ws_char);
    let mut p = Parser::new(t, Mode::Path, base);
    if s.len() > MAX_FILTER_LEN {
        return Err(p.fail(format!(
            "path is {} bytes long; at most {MAX_FILTER_LEN} are allowed",
            s.len()
        )));
    }
    if t.is_empty() {
        return Err(p.fail("path is empty"));
    }
    let (at, w) = p.word();
    if w.is_empty() {
        return Err(p.err_at(
            at,
            format!("expected an attribute path, found {}", p.describe_next()),
        ));
    }
    let attr = p.attr_path(w, at)?;
    if p.peek() == Some(b'[') {
        let open = p.pos;
        if attr.sub.is_some() {
            return Err(p.err_at(
                open,
                format!("value filter must follow an attribute, not the sub-attribute '{attr}'"),
            ));
        }
        p.pos += 1;
        let filter = p.parse_or(1, true)?;
        p.skip_ws();
        p.expect_close(b']', open)?;
        let mut sub = None;
        if p.peek() == Some(b'.') {
            p.pos += 1;
            let (at, w) = p.word();
            p.check_name(w, at)?;
            sub = Some(w.to_owned());
        }
        if !p.at_end() {
            return Err(p.err_at(
                p.pos,
                format!("expected end of path, found {}", p.describe_next()),
            ));
        }
        return Ok(PatchPath {
            attr,
            filter: Some(filter),
            sub,
        });
    }
    if !p.at_end() {
        return Err(p.err_at(
            p.pos,
            format!("expected '[' or end of path, found {}", p.describe_next()),
        ));
    }
    Ok(PatchPath {
        attr,
        filter: None,
        sub: None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Filter,
    Path,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_ws_char(c: char) -> bool {
    c.is_ascii() && is_ws(c as u8)
}

/// Bytes that end a word: whitespace and the structural characters.
fn is_delim(b: u8) -> bool {
    is_ws(b) || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Characters accepted in a schema URN prefix (RFC 8141 NSS characters, ASCII only).
fn is_urn_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._:%+=@;$!*',/?#~&".contains(&b)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    mode: Mode,
    /// Offset of `s` within the caller's string (leading whitespace trimmed by parse_path).
    base: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str, mode: Mode, base: usize) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            pos: 0,
            mode,
            base,
        }
    }

    fn fail(&self, detail: impl Into<String>) -> ScimError {
        let detail = detail.into();
        match self.mode {
            Mode::Filter => ScimError::invalid_filter(format!("invalid filter: {detail}")),
            Mode::Path => ScimError::invalid_path(format!("invalid path: {detail}")),
        }
    }

    fn err_at(&self, at: usize, detail: impl std::fmt::Display) -> ScimError {
        self.fail(format!("{detail} (at byte {})", at + self.base))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// The word starting at `pos` (possibly empty), without consuming it.
    fn peek_word(&self) -> (usize, &'a str) {
        let start = self.pos;
        let mut end = start;
        while end < self.b.len() && !is_delim(self.b[end]) {
            end += 1;
        }
        // Delimiters are ASCII, so `start..end` lies on char boundaries.
        (start, &self.s[start..end])
    }

    fn word(&mut self) -> (usize, &'a str) {
        let (start, w) = self.peek_word();
        self.pos = start + w.len();
        (start, w)
    }

    /// A short, quoted description of what comes next, for error messages.
    fn describe_next(&self) -> String {
        match self.peek() {
            None => "end of input".to_owned(),
            Some(b) if is_delim(b) => format!("'{}'", b as char),
            Some(_) => {
                let (_, w) = self.peek_word();
                describe_word(w)
            }
        }
    }

    fn depth_check(&self, depth: usize, at: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            Err(self.err_at(
                at,
                format!(
                    "nesting deeper than {MAX_DEPTH} levels of parentheses, 'not' and value paths"
                ),
            ))
        } else {
            Ok(())
        }
    }

    fn expect_close(&mut self, close: u8, open_at: usize) -> Result<()> {
        if self.peek() == Some(close) {
            self.pos += 1;
            Ok(())
        } else {
            let what = if close == b')' { "')'" } else { "']'" };
            Err(self.err_at(
                self.pos,
                format!(
                    "expected {what}, 'and' or 'or', found {} (opened at byte {})",
                    self.describe_next(),
                    open_at + self.base
                ),
            ))
        }
    }

    /// Consume the keyword `kw` (case-insensitive, whole word) if it comes next.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let (start, w) = self.peek_word();
        if w.eq_ignore_ascii_case(kw) {
            self.pos = start + w.len();
            true
        } else {
            false
        }
    }

    fn parse_or(&mut self, depth: usize, in_vp: bool) -> Result<Filter> {
        let mut left = self.parse_and(depth, in_vp)?;
        while self.eat_keyword("or") {
            let right = self.parse_and(depth, in_vp)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self, depth: usize, in_vp: bool) -> Result<Filter> {
        let mut left = self.parse_unary(depth, in_vp)?;
        while self.eat_keyword("and") {
            let right = self.parse_unary(depth, in_vp)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_group(&mut self, depth: usize, in_vp: bool) -> Result<Filter> {
        let open = self.pos;
        self.depth_check(depth + 1, open)?;
        self.pos += 1;
        let inner = self.parse_or(depth + 1, in_vp)?;
        self.skip_ws();
        self.expect_close(b')', open)?;
        Ok(inner)
    }

    fn parse_unary(&mut self, depth: usize, in_vp: bool) -> Result<Filter> {
        self.skip_ws();
        let at = self.pos;
        match self.peek() {
            None => {
                return Err(self.err_at(
                    at,
                    "expected an attribute path, '(' or 'not', found end of input",
                ))
            }
            Some(b'(') => return self.parse_group(depth, in_vp),
            Some(b) if is_delim(b) => {
                return Err(self.err_at(
                    at,
                    format!(
                        "expected an attribute path, '(' or 'not', found {}",
                        self.describe_next()
                    ),
                ))
            }
            Some(_) => {}
        }
        let (at, w) = self.word();
        if w.eq_ignore_ascii_case("not") {
            self.skip_ws();
            if self.peek() != Some(b'(') {
                return Err(self.err_at(
                    self.pos,
                    format!("expected '(' after 'not', found {}", self.describe_next()),
                ));
            }
            let inner = self.parse_group(depth, in_vp)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") {
            return Err(self.err_at(
                at,
                format!(
                    "expected an attribute path, '(' or 'not', found {}",
                    describe_word(w)
                ),
            ));
        }
        let path = self.attr_path(w, at)?;
        if in_vp && (path.urn.is_some() || path.sub.is_some()) {
            return Err(self.err_at(
                at,
                format!(
                    "attribute paths inside a value filter must be plain sub-attribute names, found '{path}'"
                ),
            ));
        }
        if self.peek() == Some(b'[') {
            let open = self.pos;
            if in_vp {
                return Err(self.err_at(open, "value paths cannot be nested"));
            }
            if path.sub.is_some() {
                return Err(self.err_at(
                    open,
                    format!(
                        "value filter must follow an attribute, not the sub-attribute '{path}'"
                    ),
                ));
            }
            self.depth_check(depth + 1, open)?;
            self.pos += 1;
            let inner = self.parse_or(depth + 1, true)?;
            self.skip_ws();
            self.expect_close(b']', open)?;
            if self.peek() == Some(b'.') {
                return Err(self.err_at(
                    self.pos,
                    "a sub-attribute after a value path ('attr[...].sub') is not allowed in a filter",
                ));
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.skip_ws();
        let (op_at, op) = self.word();
        if op.is_empty() {
            return Err(self.err_at(
                op_at,
                format!(
                    "expected an operator after '{path}', found {}",
                    self.describe_next()
                ),
            ));
        }
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => {
                self.skip_ws();
                let (_, next) = self.peek_word();
                if self.peek() == Some(b'"') || literal_keyword(next) || starts_number(next) {
                    return Err(self.err_at(self.pos, "operator 'pr' takes no value"));
                }
                return Ok(Filter::Present(path));
            }
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => {
                return Err(self.err_at(
                    op_at,
                    format!(
                        "unknown operator {} after '{path}' (expected eq, ne, co, sw, ew, gt, ge, lt, le or pr)",
                        describe_word(op)
                    ),
                ))
            }
        };
        let value = self.parse_value(op)?;
        Ok(Filter::Compare(path, op, value))
    }

    fn parse_value(&mut self, op: CompareOp) -> Result<Literal> {
        self.skip_ws();
        let at = self.pos;
        if self.peek() == Some(b'"') {
            return self.parse_string().map(Literal::Str);
        }
        let (_, w) = self.word();
        if w.is_empty() {
            return Err(self.err_at(
                at,
                format!(
                    "expected a value after operator '{}', found {}",
                    op.as_str(),
                    self.describe_next()
                ),
            ));
        }
        if w.eq_ignore_ascii_case("true") {
            Ok(Literal::Bool(true))
        } else if w.eq_ignore_ascii_case("false") {
            Ok(Literal::Bool(false))
        } else if w.eq_ignore_ascii_case("null") {
            Ok(Literal::Null)
        } else if starts_number(w) {
            self.parse_number(w, at).map(Literal::Num)
        } else {
            Err(self.err_at(
                at,
                format!(
                    "expected a value (a JSON string, number, true, false or null), found {}",
                    describe_word(w)
                ),
            ))
        }
    }

    fn parse_number(&self, w: &str, at: usize) -> Result<Number> {
        if !is_json_number(w.as_bytes()) {
            return Err(self.err_at(at, format!("invalid JSON number {}", describe_word(w))));
        }
        serde_json::from_str::<Number>(w)
            .map_err(|_| self.err_at(at, format!("number {} is out of range", describe_word(w))))
    }

    /// A JSON string starting at `pos` (which holds the opening quote): its extent is
    /// found here, its escapes are decoded by serde_json.
    fn parse_string(&mut self) -> Result<String> {
        let open = self.pos;
        let mut end = open + 1;
        let mut escaped = false;
        // Up to the closing quote, or to a control character (which serde_json refuses).
        loop {
            match self.b.get(end) {
                Some(b'"') => break,
                Some(&b) if b < 0x20 => break,
                Some(b'\\') if end + 1 < self.b.len() => {
                    escaped = true;
                    end += 2
                }
                Some(b'\\') => {
                    return Err(self.err_at(open, "unterminated string (ends inside an escape)"))
                }
                Some(_) => end += 1,
                None => return Err(self.err_at(open, "unterminated string (no closing '\"')")),
            }
        }
        // The stop bytes are ASCII: `open..=end` lies on char boundaries.
        let literal = &self.s[open..=end];
        self.pos = end + 1;
        if !escaped && self.b[end] == b'"' {
            // Nothing to decode: the string is what lies between the quotes.
            return Ok(self.s[open + 1..end].to_owned());
        }
        serde_json::from_str(literal).map_err(|e| {
            // The byte serde_json stopped at; its lines are those of the literal.
            let line_start: usize = literal
                .split_inclusive('\n')
                .take(e.line().saturating_sub(1))
                .map(str::len)
                .sum();
            let at = open + (line_start + e.column()).saturating_sub(1);
            if at == end && self.b[end] < 0x20 {
                return self.err_at(
                    at,
                    format!(
                        "unescaped control character U+{:04X} in string",
                        self.b[end]
                    ),
                );
            }
            let what = if e.classify() == serde_json::error::Category::Eof {
                // The literal is closed: only a `\u` with fewer than four digits ends early.
                "invalid \\u escape: expected four hexadecimal digits".to_owned()
            } else {
                let text = e.to_string();
                match text.rsplit_once(" at line ") {
                    Some((what, _)) => what.to_owned(),
                    None => text,
                }
            };
            self.err_at(at, format!("invalid string: {what}"))
        })
    }

    /// Check an ATTRNAME (`ALPHA *(ALPHA / DIGIT / "-" / "_")` or `$ref`).
    fn check_name(&self, name: &str, at: usize) -> Result<()> {
        let b = name.as_bytes();
        let ok = name.eq_ignore_ascii_case("$ref")
            || (b.first().is_some_and(u8::is_ascii_alphabetic)
                && b.iter().all(|&c| is_name_char(c)));
        if ok {
            Ok(())
        } else if name.is_empty() {
            Err(self.err_at(at, "expected an attribute name"))
        } else {
            Err(self.err_at(
                at,
                format!(
                    "invalid attribute name {}: it must start with a letter and contain only letters, digits, '-' and '_'",
                    describe_word(name)
                ),
            ))
        }
    }

    /// Split and check an attribute path word: `[urn ":"] name ["." sub]`.
    fn attr_path(&self, w: &str, at: usize) -> Result<AttrPath> {
        let b = w.as_bytes();
        let (urn, rest, rest_at) = if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"urn:") {
            // `rfind` always succeeds: the word contains "urn:".
            let colon = w.rfind(':').unwrap_or(3);
            let urn = &w[..colon];
            if urn.len() <= 4 || !urn.bytes().all(is_urn_char) {
                return Err(self.err_at(at, format!("invalid schema URN {}", describe_word(urn))));
            }
            (Some(urn.to_owned()), &w[colon + 1..], at + colon + 1)
        } else {
            if let Some(i) = w.find(':') {
                return Err(self.err_at(
                    at + i,
                    format!(
                        "unexpected ':' in attribute path {} (schema-qualified paths start with 'urn:')",
                        describe_word(w)
                    ),
                ));
            }
            (None, w, at)
        };
        if rest.is_empty() {
            return Err(self.err_at(rest_at, "expected an attribute name after the schema URN"));
        }
        let (name, sub) = match rest.find('.') {
            None => (rest, None),
            Some(i) => (&rest[..i], Some((&rest[i + 1..], rest_at + i + 1))),
        };
        self.check_name(name, rest_at)?;
        let sub = match sub {
            None => None,
            Some((s, s_at)) => {
                if let Some(j) = s.find('.') {
                    return Err(self.err_at(
                        s_at + j,
                        format!(
                            "attribute path {} has more than one sub-attribute level",
                            describe_word(w)
                        ),
                    ));
                }
                self.check_name(s, s_at)?;
                Some(s.to_owned())
            }
        };
        Ok(AttrPath {
            urn,
            name: name.to_owned(),
            sub,
        })
    }
}

fn literal_keyword(w: &str) -> bool {
    ["true", "false", "null"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

fn starts_number(w: &str) -> bool {
    w.as_bytes()
        .first()
        .is_some_and(|&b| b == b'-' || b.is_ascii_digit())
}

/// RFC 8259 §6: `-? (0 / [1-9] DIGIT*) [. DIGIT+] [(e/E) [+/-] DIGIT+]`.
fn is_json_number(b: &[u8]) -> bool {
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Quote a (possibly hostile) word for an error message: escaped and truncated.
fn describe_word(w: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::from("'");
    for (n, c) in w.chars().enumerate() {
        if n == MAX {
            out.push_str("...");
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Filter {
        parse_filter(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn json_number_grammar() {
        for ok in ["0", "-0", "12", "1.5", "-1.5e10", "1E+2", "0.0e-0"] {
            assert!(is_json_number(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.2.3", "NaN",
        ] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn left_associative() {
        let f = p("a pr and b pr and c pr");
        let a = || Box::new(Filter::Present(AttrPath::new("a")));
        let b = || Box::new(Filter::Present(AttrPath::new("b")));
        let c = || Box::new(Filter::Present(AttrPath::new("c")));
        assert_eq!(f, Filter::And(Box::new(Filter::And(a(), b())), c()));
    }

    #[test]
    fn error_offsets() {
        let e = parse_filter("userName eq").unwrap_err();
        assert!(e.detail.contains("at byte 11"), "{}", e.detail);
        let e = parse_path("  emails[type eq]").unwrap_err();
        assert!(e.detail.contains("at byte 16"), "{}", e.detail);
    }
}
