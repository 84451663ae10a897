//! Query parameters (RFC 7644 §3.4.2) from a URL query string or a SearchRequest body.

use crate::error::{Result, ScimError};
use crate::filter::{parse_filter, Filter};
use crate::schema::Projection;
use serde_json::Value;
use std::borrow::Cow;

/// The decoded query string: name/value pairs in order.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

/// A parsed query: what to find, in which order, which page, which attributes.
#[derive(Debug, Default)]
pub(crate) struct Search {
    pub filter: Option<Filter>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub start_index: usize,
    /// Whether the client gave `startIndex` (index pagination asked for explicitly).
    pub start_index_given: bool,
    pub count: Option<usize>,
    /// RFC 9865 cursor pagination: `Some("")` asks for the first page.
    pub cursor: Option<String>,
    pub projection: Projection,
}

impl Params {
    pub fn parse(query: &str) -> Result<Params> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let k = decode(k)?;
            let v = decode(v).map_err(|e| {
                if k.eq_ignore_ascii_case("filter") {
                    ScimError::invalid_filter(e.detail)
                } else {
                    e
                }
            })?;
            pairs.push((k, v));
        }
        Ok(Params { pairs })
    }

    /// The first value of a parameter (names match case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `attributes` / `excludedAttributes`.
    pub fn projection(&self) -> Result<Projection> {
        Projection::parse(self.get("attributes"), self.get("excludedAttributes"))
    }

    /// The query parameters of a GET list request.
    pub fn search(&self) -> Result<Search> {
        let int = |name: &str| -> Result<Option<i64>> {
            match self.get(name) {
                None | Some("") => Ok(None),
                Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                    ScimError::invalid_value(format!("'{name}' must be an integer, got '{v}'"))
                }),
            }
        };
        Search::build(
            self.get("filter"),
            self.get("sortBy"),
            self.get("sortOrder"),
            int("startIndex")?,
            int("count")?,
            self.get("cursor"),
            self.projection()?,
        )
    }
}

impl Search {
    fn build(
        filter: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        cursor: Option<&str>,
        projection: Projection,
    ) -> Result<Search> {
        let descending = match sort_order.map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be 'ascending' or 'descending', got '{o}'"
                )))
            }
        };
        Ok(Search {
            filter: filter.map(parse_filter).transpose()?,
            sort_by: sort_by
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            descending,
            // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0.
            start_index: start_index.unwrap_or(1).max(1) as usize,
            start_index_given: start_index.is_some(),
            count: count.map(|c| c.max(0) as usize),
            cursor: cursor.map(|c| c.trim().to_owned()),
            projection,
        })
    }

    /// The parameters of a `POST .search` body (RFC 7644 §3.4.3).
    pub fn from_body(body: &Value) -> Result<Search> {
        const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
        let field = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
                .filter(|v| !v.is_null())
        };
        let schemas_ok = field("schemas")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(SEARCH_REQUEST)));
        if !schemas_ok {
            return Err(ScimError::invalid_syntax(format!(
                "a SearchRequest must list '{SEARCH_REQUEST}' in 'schemas'"
            )));
        }
        let string = |name: &str| -> Result<Option<String>> {
            match field(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                // `attributes` may also be an array of names.
                Some(Value::Array(a)) if name.ends_with("ttributes") => a
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::invalid_value(format!("'{name}' must list strings"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(|v| Some(v.join(","))),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{name}' must be a string"
                ))),
            }
        };
        let int = |name: &str| -> Result<Option<i64>> {
            match field(name) {
                None => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    ScimError::invalid_value(format!("'{name}' must be an integer"))
                }),
            }
        };
        let filter = string("filter")?;
        if let (Some(_), true) = (&filter, field("filter").is_some_and(|v| !v.is_string())) {
            return Err(ScimError::invalid_filter("'filter' must be a string"));
        }
        let attributes = string("attributes")?;
        let excluded = string("excludedAttributes")?;
        Search::build(
            filter.as_deref(),
            string("sortBy")?.as_deref(),
            string("sortOrder")?.as_deref(),
            int("startIndex")?,
            int("count")?,
            string("cursor")?.as_deref(),
            Projection::parse(attributes.as_deref(), excluded.as_deref())?,
        )
    }
}

/// Percent-decode one `application/x-www-form-urlencoded` component (`+` is a space).
/// Strict where the decoder is lenient: a `%` not followed by two hex digits is a 400
/// naming its byte, and so is a result that is not UTF-8.
pub(crate) fn decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    if let Some(i) = b.iter().enumerate().position(|(i, &c)| {
        c == b'%'
            && !b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    }) {
        return Err(ScimError::invalid_value(format!(
            "bad percent-escape in query at byte {i}"
        )));
    }
    let spaced = if s.contains('+') {
        Cow::Owned(s.replace('+', " "))
    } else {
        Cow::Borrowed(s)
    };
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| ScimError::invalid_value("query parameter is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_okta_query() {
        let p = Params::parse(
            "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        )
        .unwrap();
        assert_eq!(
            p.get("filter"),
            Some("userName eq \"test.user@okta.local\"")
        );
        assert_eq!(p.get("COUNT"), Some("100"));
    }

    #[test]
    fn decodes_form_components() {
        assert_eq!(decode("a+b%2B%2b%20c").unwrap(), "a b++ c");
        assert_eq!(decode("%C3%A9t%c3%a9").unwrap(), "été");
        assert_eq!(decode("").unwrap(), "");
        assert_eq!(decode("100%25").unwrap(), "100%");
        // Each bad escape is refused at its byte (after a good one too).
        for (bad, at) in [
            ("%", 0),
            ("%4", 0),
            ("ab%4", 2),
            ("%41%", 3),
            ("%%41", 0),
            ("%g1", 0),
            ("%1g", 0),
            // `u8::from_str_radix` took a sign: "%+5" was byte 5.
            ("%+5", 0),
            ("%-5", 0),
            ("x%é", 1),
        ] {
            let e = decode(bad).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(crate::ScimType::InvalidValue))
            );
            assert_eq!(
                e.detail,
                format!("bad percent-escape in query at byte {at}"),
                "{bad}"
            );
        }
        for bad in ["%ff", "%C3", "%C3%28", "%ED%A0%80"] {
            assert_eq!(
                decode(bad).unwrap_err().detail,
                "query parameter is not valid UTF-8",
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_bad_escapes_and_utf8() {
        assert_eq!(Params::parse("filter=%zz").unwrap_err().status, 400);
        let e = Params::parse("filter=%ff%fe").unwrap_err();
        assert_eq!(e.scim_type, Some(crate::ScimType::InvalidFilter));
        assert!(Params::parse("count=abc").unwrap().search().is_err());
    }

    #[test]
    fn clamps_paging() {
        let s = Params::parse("startIndex=-4&count=-1")
            .unwrap()
            .search()
            .unwrap();
        assert_eq!((s.start_index, s.count), (1, Some(0)));
    }
}
