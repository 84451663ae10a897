//! The filter and path AST (RFC 7644 §3.4.2.2 and §3.5.2 ABNF).

use serde_json::Number;

/// An attribute path: optional schema URN, attribute name, optional sub-attribute.
/// Inside a value filter (`emails[type eq "work"]`) paths are relative to the
/// multi-valued attribute, so `name` is then the sub-attribute name and `urn` is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn new(name: &str) -> Self {
        AttrPath {
            urn: None,
            name: name.to_owned(),
            sub: None,
        }
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// A comparison value: JSON string, number, boolean or null.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// `attrPath pr`
    Present(AttrPath),
    /// `attrPath op value`
    Compare(AttrPath, CompareOp, Literal),
    /// `attrPath[valFilter]` — `attr.sub` is always `None`; the inner filter's paths are
    /// relative to the attribute's sub-attributes.
    ValuePath(AttrPath, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// A PATCH `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath [ "." subAttr ]`.
/// Also the source syntax of mapping entries (`emails[type eq "work"].value`).
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    /// The attribute; `attr.sub` is set for `name.givenName`, and `None` when `filter` is set.
    pub attr: AttrPath,
    /// The value filter of a value path.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value path (`emails[...].value`).
    pub sub: Option<String>,
}

impl std::fmt::Display for Literal {
    /// The literal as a filter writes it: a JSON string, number, `true`, `false` or `null`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Serializing a `&str` cannot fail; the fallback keeps `fmt` total.
            Literal::Str(s) => match serde_json::to_string(s) {
                Ok(quoted) => f.write_str(&quoted),
                Err(_) => Err(std::fmt::Error),
            },
            Literal::Num(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

impl std::fmt::Display for Filter {
    /// The filter in RFC 7644 syntax, such that [`super::parse_filter`] returns the same
    /// AST: an `and`/`or` operand that is itself an `and`/`or` is parenthesized, so the
    /// tree's shape never depends on precedence or associativity.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn operand(f: &mut std::fmt::Formatter<'_>, x: &Filter) -> std::fmt::Result {
            match x {
                Filter::And(..) | Filter::Or(..) => write!(f, "({x})"),
                _ => write!(f, "{x}"),
            }
        }
        match self {
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare(p, op, v) => write!(f, "{p} {} {v}", op.as_str()),
            Filter::ValuePath(p, inner) => write!(f, "{p}[{inner}]"),
            Filter::And(a, b) | Filter::Or(a, b) => {
                operand(f, a)?;
                f.write_str(if matches!(self, Filter::And(..)) {
                    " and "
                } else {
                    " or "
                })?;
                operand(f, b)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
        }
    }
}

impl std::fmt::Display for PatchPath {
    /// The path in RFC 7644 §3.5.2 syntax (`emails[type eq "work"].value`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
