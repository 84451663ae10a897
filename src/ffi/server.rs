//! `scim_server`: the built-in HTTP(S) server.

use super::engine::{engine, scim_engine};
use super::{boundary, check_out, json_arg, out, quiet, scim_result, Failure};
use crate::server::{Server, ServerOptions, TlsFiles};
use std::ffi::{c_char, CString};
use std::time::Duration;

/// A running server. Start it with `scim_server_start`; stop and free it with
/// `scim_server_stop`. Thread-safety: `scim_server_address` may be called from any
/// thread; stop it once, from one thread.
pub struct scim_server {
    _private: [u8; 0],
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
    request_timeout_ms: Option<u64>,
    shutdown_grace_ms: Option<u64>,
}

/// Start serving every directory of `engine` over HTTP (or HTTPS with `tls_cert` and
/// `tls_key` PEM files), on threads of the library's own. `options_json` (NULL for
/// defaults): `{"listen": "127.0.0.1:0", "tls_cert": "cert.pem", "tls_key": "key.pem",
/// "max_header_bytes": 65536, "request_timeout_ms": 60000, "shutdown_grace_ms": 30000}`.
/// The server holds its own reference to the engine.
///
/// Errors: INVALID_JSON, INVALID_ARGUMENT (tls_cert without tls_key), IO (cannot listen,
/// unreadable certificate).
#[no_mangle]
pub unsafe extern "C" fn scim_server_start(
    engine: *const scim_engine,
    options_json: *const c_char,
    server_out: *mut *mut scim_server,
) -> scim_result {
    boundary(|| {
        check_out(server_out, "server_out")?;
        let e = self::engine(engine)?.clone();
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
        let options = ServerOptions {
            addr: o.listen.unwrap_or(defaults.addr),
            tls,
            max_header_bytes: o.max_header_bytes.unwrap_or(defaults.max_header_bytes),
            request_timeout: o
                .request_timeout_ms
                .map_or(defaults.request_timeout, Duration::from_millis),
            shutdown_grace: o
                .shutdown_grace_ms
                .map_or(defaults.shutdown_grace, Duration::from_millis),
            ..defaults
        };
        let server = Server::start(e, options)
            .map_err(|err| Failure(scim_result::SCIM_RESULT_IO, err.detail))?;
        out(
            server_out,
            "server_out",
            Box::into_raw(Box::new(server)) as *mut scim_server,
        )
    })
}

/// The address the server listens on (`"127.0.0.1:43123"`); free it with
/// `scim_string_free`.
#[no_mangle]
pub unsafe extern "C" fn scim_server_address(
    server: *const scim_server,
    address_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(address_out, "address_out")?;
        let s = (server as *const Server)
            .as_ref()
            .ok_or_else(|| super::null("server"))?;
        let addr = CString::new(s.local_addr().to_string()).unwrap_or_default();
        out(address_out, "address_out", addr.into_raw())
    })
}

/// Stop accepting, let in-flight requests finish (up to the grace period), and free the
/// server. NULL is a no-op. Never use the handle afterwards.
#[no_mangle]
pub unsafe extern "C" fn scim_server_stop(server: *mut scim_server) {
    quiet(|| {
        if !server.is_null() {
            Box::from_raw(server as *mut Server).stop();
        }
    })
}
