//! `scim_server`: the built-in HTTP(S) server.

use super::cast::{take_box, to_box, try_clone_arc, try_ref, Castable, OwnershipBox};
use super::engine::scim_engine;
use super::{boundary, check_out, out, quiet, scim_result, str_arg};
use crate::server::{Server, ServerOptions};
use std::ffi::{c_char, CString};

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
/// The shape is `include/schema/server_options.json`.
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
        let options = if options_json.is_null() {
            ServerOptions::default()
        } else {
            ServerOptions::from_json(str_arg(options_json, "options_json")?)?
        };
        let server = Server::start(e, options)?;
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
