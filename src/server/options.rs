//! The server options as JSON (the C ABI's `options_json`, the bindings' server options;
//! `include/schema/server_options.json`): every field optional, a default for each, and
//! the rules checked here.

use super::{RateLimit, ServerOptions, TlsFiles};
use crate::admin::AdminOptions;
use crate::error::{Result, ScimError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// [`ServerOptions`] as JSON: `{"listen": "127.0.0.1:0", "tls_cert": "cert.pem",
/// "tls_key": "key.pem", "max_header_bytes": 65536, "header_timeout_ms": 10000,
/// "request_timeout_ms": 60000, "shutdown_grace_ms": 30000, "max_connections": 512,
/// "max_in_flight": 256, "max_in_flight_per_directory": 64,
/// "rate_limit": {"per_second": 50, "burst": 100},
/// "admin": {"credential": "…", "allow_remote": false}}`. An absent (or null) field takes
/// the default of [`ServerOptions::default`]; `rate_limit` and `admin` are off unless
/// given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerOptionsJson {
    /// Where to listen (`"127.0.0.1:8080"`); port 0 picks a free port.
    pub listen: Option<std::net::SocketAddr>,
    /// The certificate chain (PEM file) for HTTPS; goes with `tls_key`.
    pub tls_cert: Option<String>,
    /// The private key (PEM file) for HTTPS; goes with `tls_cert`.
    pub tls_key: Option<String>,
    pub max_header_bytes: Option<usize>,
    pub header_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub shutdown_grace_ms: Option<u64>,
    /// At least 1.
    pub max_connections: Option<usize>,
    /// At least 1.
    pub max_in_flight: Option<usize>,
    /// At least 1.
    pub max_in_flight_per_directory: Option<usize>,
    /// A directory's request rate; absent or null: no rate limit.
    pub rate_limit: Option<RateLimitJson>,
    /// The admin API; absent or null: none.
    pub admin: Option<AdminJson>,
}

/// `{"per_second": 50, "burst": 100}`: both at least 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitJson {
    pub per_second: u32,
    pub burst: u32,
}

/// `{"credential": "…", "allow_remote": false}`: the admin API's bearer credential (at
/// least 24 visible ASCII characters, never a SCIM token), for loopback clients only
/// unless `allow_remote`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminJson {
    pub credential: String,
    #[serde(default)]
    pub allow_remote: bool,
}

impl std::fmt::Debug for AdminJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminJson")
            .field("credential", &"<redacted>")
            .field("allow_remote", &self.allow_remote)
            .finish()
    }
}

impl ServerOptions {
    /// The options from their JSON text: `invalid_json` when it does not parse or has an
    /// unknown field, `invalid_argument` when a value breaks a rule.
    pub fn from_json(text: &str) -> Result<ServerOptions> {
        let json: ServerOptionsJson = serde_json::from_str(text)
            .map_err(|e| ScimError::invalid_json(format!("server options: {e}")))?;
        ServerOptions::try_from(json)
    }
}

impl TryFrom<ServerOptionsJson> for ServerOptions {
    type Error = ScimError;

    fn try_from(o: ServerOptionsJson) -> Result<ServerOptions> {
        let defaults = ServerOptions::default();
        let tls = match (o.tls_cert, o.tls_key) {
            (Some(c), Some(k)) => Some(TlsFiles {
                cert_chain: c.into(),
                private_key: k.into(),
            }),
            (None, None) => None,
            _ => return Err(ScimError::invalid_value("tls_cert and tls_key go together")),
        };
        let invalid = |what: &str| ScimError::invalid_value(format!("{what} must be at least 1"));
        let positive = |v: Option<usize>, default: usize, what: &str| match v {
            Some(0) => Err(invalid(what)),
            v => Ok(v.unwrap_or(default)),
        };
        let rate_limit = match o.rate_limit {
            Some(r) if r.per_second == 0 => return Err(invalid("rate_limit.per_second")),
            Some(r) if r.burst == 0 => return Err(invalid("rate_limit.burst")),
            r => r.map(|r| RateLimit {
                per_second: r.per_second,
                burst: r.burst,
            }),
        };
        let admin = o
            .admin
            .map(|a| AdminOptions::new(&a.credential).map(|opts| opts.allow_remote(a.allow_remote)))
            .transpose()?;
        // Every field named: a new option must be decided on here too.
        Ok(ServerOptions {
            addr: o.listen.unwrap_or(defaults.addr),
            tls,
            max_header_bytes: o.max_header_bytes.unwrap_or(defaults.max_header_bytes),
            header_timeout: o
                .header_timeout_ms
                .map_or(defaults.header_timeout, Duration::from_millis),
            request_timeout: o
                .request_timeout_ms
                .map_or(defaults.request_timeout, Duration::from_millis),
            shutdown_grace: o
                .shutdown_grace_ms
                .map_or(defaults.shutdown_grace, Duration::from_millis),
            max_connections: positive(
                o.max_connections,
                defaults.max_connections,
                "max_connections",
            )?,
            max_in_flight: positive(o.max_in_flight, defaults.max_in_flight, "max_in_flight")?,
            max_in_flight_per_directory: positive(
                o.max_in_flight_per_directory,
                defaults.max_in_flight_per_directory,
                "max_in_flight_per_directory",
            )?,
            rate_limit,
            admin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn defaults_when_empty() {
        let o = ServerOptions::from_json("{}").unwrap();
        let d = ServerOptions::default();
        assert_eq!(o.addr, d.addr);
        assert_eq!(o.max_in_flight, d.max_in_flight);
        assert!(o.rate_limit.is_none() && o.admin.is_none() && o.tls.is_none());
    }

    #[test]
    fn each_refusal_has_its_kind() {
        let kind = |text: &str| ServerOptions::from_json(text).unwrap_err().kind;
        assert_eq!(kind("{"), ErrorKind::InvalidJson);
        assert_eq!(kind(r#"{"listen": 5}"#), ErrorKind::InvalidJson);
        assert_eq!(kind(r#"{"bogus": 1}"#), ErrorKind::InvalidJson);
        assert_eq!(kind(r#"{"tls_cert": "c.pem"}"#), ErrorKind::InvalidArgument);
        assert_eq!(kind(r#"{"max_in_flight": 0}"#), ErrorKind::InvalidArgument);
        assert_eq!(
            kind(r#"{"rate_limit": {"per_second": 0, "burst": 1}}"#),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            kind(r#"{"admin": {"credential": "short"}}"#),
            ErrorKind::InvalidArgument
        );
        let e = ServerOptions::from_json(r#"{"max_connections": 0}"#).unwrap_err();
        assert_eq!(e.detail, "max_connections must be at least 1");
    }

    #[test]
    fn serde_checks_the_same_rules() {
        let o: ServerOptions = serde_json::from_str(r#"{"max_in_flight": 2}"#).unwrap();
        assert_eq!(o.max_in_flight, 2);
        let e = serde_json::from_str::<ServerOptions>(r#"{"max_in_flight": 0}"#).unwrap_err();
        assert!(
            e.to_string().contains("max_in_flight must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn given_values_are_kept() {
        let o = ServerOptions::from_json(
            r#"{"listen": "127.0.0.1:0", "request_timeout_ms": 1500, "max_in_flight": 3,
                "rate_limit": {"per_second": 5, "burst": 7},
                "admin": {"credential": "abcdefghijklmnopqrstuvwxyz", "allow_remote": true}}"#,
        )
        .unwrap();
        assert_eq!(o.addr.port(), 0);
        assert_eq!(o.request_timeout, Duration::from_millis(1500));
        assert_eq!(o.max_in_flight, 3);
        assert_eq!(
            o.rate_limit,
            Some(RateLimit {
                per_second: 5,
                burst: 7
            })
        );
        assert!(o.admin.unwrap().allow_remote);
    }
}
