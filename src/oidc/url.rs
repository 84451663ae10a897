//! The few URL operations the relying party needs: parse an absolute http(s) URL, and
//! percent-encode query and form values.

use super::error::{oidc_err, OidcResult};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

pub(crate) const WELL_KNOWN_SUFFIX: &str = "/.well-known/openid-configuration";

/// An absolute `http`/`https` URL, checked once.
#[derive(Clone, Debug)]
pub(crate) struct HttpUrl {
    pub uri: http::Uri,
    https: bool,
    /// Host without IPv6 brackets, for DNS and the TLS server name.
    pub host: String,
    pub port: u16,
}

impl HttpUrl {
    /// Parses `s`; `what` names the field in errors. Plain http only when `allow_http`.
    pub fn parse(s: &str, allow_http: bool, what: &str) -> OidcResult<HttpUrl> {
        if s.contains('#') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(oidc_err!(InvalidConfig, "{what} {s:?} is not a valid URL"));
        }
        let uri: http::Uri = s
            .parse()
            .map_err(|e| oidc_err!(InvalidConfig, "{what} {s:?} is not a valid URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(oidc_err!(
                    InvalidConfig,
                    "{what} {s:?} must be an absolute https URL"
                ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| oidc_err!(InvalidConfig, "{what} {s:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(oidc_err!(
                InvalidConfig,
                "{what} {s:?} must not carry credentials"
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(oidc_err!(InvalidConfig, "{what} {s:?} has no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let url = HttpUrl {
            uri,
            https,
            host,
            port,
        };
        // `allow_http` is for an IdP on this machine (tests, a local dev IdP): plain http
        // anywhere else would carry codes, tokens and the client secret in the clear.
        let plain_allowed = allow_http && url.is_loopback();
        if !https && !plain_allowed {
            return Err(oidc_err!(
                InsecureUrl,
                "{what} {s:?} is plain http; https is required (allow_http permits http \
                 only to a loopback host: localhost, 127.0.0.0/8, ::1)"
            ));
        }
        Ok(url)
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// `host[:port]` as sent in the Host header.
    pub fn authority(&self) -> &str {
        self.uri.authority().map(|a| a.as_str()).unwrap_or("")
    }

    /// The origin-form request target (`/path?query`).
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    }
}

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters (a safe encoding for
/// query values and for `application/x-www-form-urlencoded` alike).
pub(crate) fn encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// `k1=v1&k2=v2`, every key and value encoded.
pub(crate) fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode("a b+c/d:é"), "a%20b%2Bc%2Fd%3A%C3%A9");
        assert_eq!(encode_pairs([("x", "1&2"), ("y", "=")]), "x=1%262&y=%3D");
    }

    #[test]
    fn encodes_every_byte_but_unreserved_ones() {
        for b in 0u8..128 {
            let c = char::from(b);
            let want = if c.is_ascii_alphanumeric() || "-._~".contains(c) {
                c.to_string()
            } else {
                format!("%{b:02X}")
            };
            assert_eq!(encode(&c.to_string()), want);
        }
        assert_eq!(encode("€"), "%E2%82%AC");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn parses_and_refuses() {
        let u = HttpUrl::parse("https://idp.example.com/a?b=c", false, "u").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("idp.example.com", 443));
        assert_eq!(u.path_and_query(), "/a?b=c");
        let u = HttpUrl::parse("http://[::1]:8080/", true, "u").unwrap();
        assert!(u.is_loopback());
        assert_eq!(u.authority(), "[::1]:8080");
        for bad in ["ftp://x/", "/relative", "https://u:p@x/", "https://x/#f"] {
            assert!(HttpUrl::parse(bad, true, "u").is_err(), "{bad}");
        }
        let e = HttpUrl::parse("http://x/", false, "u").unwrap_err();
        assert_eq!(e.code(), "insecure_url");
    }

    #[test]
    fn allow_http_is_honoured_only_for_loopback_hosts() {
        for ok in [
            "http://localhost:8080/x",
            "http://127.0.0.1/",
            "http://127.3.2.1:99/",
            "http://[::1]/",
        ] {
            assert!(HttpUrl::parse(ok, true, "u").is_ok(), "{ok}");
            assert_eq!(
                HttpUrl::parse(ok, false, "u").unwrap_err().code(),
                "insecure_url",
                "{ok}"
            );
        }
        for off in [
            "http://idp.example.com/",
            "http://10.0.0.5/",
            "http://[::ffff:10.0.0.5]/",
            "http://localhost.example.com/",
            "http://0.0.0.0/",
        ] {
            assert_eq!(
                HttpUrl::parse(off, true, "u").unwrap_err().code(),
                "insecure_url",
                "{off}"
            );
        }
        assert!(HttpUrl::parse("https://idp.example.com/", false, "u").is_ok());
    }
}
