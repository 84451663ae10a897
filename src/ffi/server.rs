//! `scim_server`: the built-in HTTP(S) server.

use super::cast::{take_box, to_box, try_clone_arc, try_ref, Castable, OwnershipBox};
use super::engine::scim_engine;
use super::{boundary, check_out, json_arg, out, quiet, scim_result, Failure};
use crate::server::{RateLimit, Server, ServerOptions, TlsFiles};
use std::ffi::{c_char, CString};
use std::time::Duration;

/// A running server. Start it with `scim_server_start`; stop and free it with
/// `scim_server_free`. Thread-safety: `scim_server_address_get` may be called from any
/// thread; stop it once, from one thread.
pub struct scim_server {
    _private: [u8; 0],
}

/// The handle owns the server: `scim_server_free` takes it back to stop it.
impl Castable for scim_server {
    type Ownership = OwnershipBox;
    type RustType = Server;
}

/// The server options as JSON (every field optional).
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Options {
    /// `"127.0.0.1:8080"`; port 0 picks a free port.
    listen: Option<std::net::SocketAddr>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    max_header_bytes: Option<usize>,
    header_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    shutdown_grace_ms: Option<u64>,
    max_connections: Option<usize>,
    max_in_flight: Option<usize>,
    max_in_flight_per_directory: Option<usize>,
    /// `{"per_second": 50, "burst": 100}`; absent or null: no rate limit.
    rate_limit: Option<RateLimitOption>,
    /// `{"credential": "…", "allow_remote": false}`; absent or null: no admin API.
    admin: Option<AdminOption>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminOption {
    credential: String,
    #[serde(default)]
    allow_remote: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitOption {
    per_second: u32,
    burst: u32,
}

/// Start serving every directory of `engine` over HTTP (or HTTPS with `tls_cert` and
/// `tls_key` PEM files), on threads of the library's own. `options_json` (NULL for
/// defaults): `{"listen": "127.0.0.1:0", "tls_cert": "cert.pem", "tls_key": "key.pem",
/// "max_header_bytes": 65536, "header_timeout_ms": 10000, "request_timeout_ms": 60000,
/// "shutdown_grace_ms": 30000, "max_connections": 512, "max_in_flight": 256,
/// "max_in_flight_per_directory": 64, "rate_limit": {"per_second": 50, "burst": 100},
/// "admin": {"credential": "<at least 24 visible ASCII characters>", "allow_remote": false}}`
/// (the values shown are the defaults, except `rate_limit` and `admin`: none unless
/// given). `admin` turns on the admin API under `/admin/api/` (docs/admin-api.md) with
/// this bearer credential (never a SCIM token: one starting `scim_` is refused), for
/// loopback clients only unless `allow_remote`.
/// `request_timeout_ms` bounds receiving a body; a request the engine started is
/// answered with its outcome. Beyond the connection and in-flight caps: `503` with
/// `Retry-After`; beyond a directory's share or rate: `429` with `Retry-After`.
/// The server holds its own reference to the engine.
///
/// Errors: INVALID_JSON, INVALID_ARGUMENT (tls_cert without tls_key; a limit of 0; an
/// admin credential too short, not visible ASCII, or a SCIM token),
/// IO (cannot listen, unreadable certificate).
#[no_mangle]
pub unsafe extern "C" fn scim_server_start(
    engine: *const scim_engine,
    options_json: *const c_char,
    server_out: *mut *mut scim_server,
) -> scim_result {
    boundary(|| {
        check_out(server_out, "server_out")?;
        let e = try_clone_arc(engine, "engine")?;
        let o: Options = if options_json.is_null() {
            Options::default()
        } else {
            json_arg(options_json, "options_json")?
        };
        let defaults = ServerOptions::default();
        let tls = match (o.tls_cert, o.tls_key) {
            (Some(c), Some(k)) => Some(TlsFiles {
                cert_chain: c.into(),
                private_key: k.into(),
            }),
            (None, None) => None,
            _ => {
                return Err(Failure(
                    scim_result::SCIM_RESULT_INVALID_ARGUMENT,
                    "tls_cert and tls_key go together".into(),
                ))
            }
        };
        let invalid = |what: &str| {
            Failure(
                scim_result::SCIM_RESULT_INVALID_ARGUMENT,
                format!("{what} must be at least 1"),
            )
        };
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
            .map(|a| {
                crate::admin::AdminOptions::new(&a.credential)
                    .map(|opts| opts.allow_remote(a.allow_remote))
                    .map_err(|e| Failure(scim_result::SCIM_RESULT_INVALID_ARGUMENT, e.detail))
            })
            .transpose()?;
        // Every field named: a new option must be decided on here too.
        let options = ServerOptions {
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
        };
        let server = Server::start(e, options)
            .map_err(|err| Failure(scim_result::SCIM_RESULT_IO, err.detail))?;
        out(server_out, "server_out", to_box(server))
    })
}

/// The address the server listens on (`"127.0.0.1:43123"`); free it with
/// `scim_string_free`.
#[no_mangle]
pub unsafe extern "C" fn scim_server_address_get(
    server: *const scim_server,
    address_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(address_out, "address_out")?;
        let s = try_ref(server, "server")?;
        let addr = CString::new(s.local_addr().to_string()).unwrap_or_default();
        out(address_out, "address_out", addr.into_raw())
    })
}

/// Stop accepting, let in-flight requests finish (up to the grace period), and free the
/// server. NULL is a no-op. Never use the handle afterwards.
#[no_mangle]
pub unsafe extern "C" fn scim_server_free(server: *mut scim_server) {
    quiet(|| {
        if let Some(server) = take_box(server) {
            server.stop();
        }
    })
}
