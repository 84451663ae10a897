//! `scim_engine`: the engine handle (shared, thread-safe).

use super::cast::{free_arc, to_arc, try_ref, Castable, OwnershipArc};
use super::{boundary, check_out, json_arg, opt_str_arg, out, quiet, scim_result, FfiResult};
use crate::engine::{Engine, EngineConfig};
use std::ffi::c_char;
use std::sync::Arc;

/// An engine: directories, tokens, the SCIM protocol, events.
///
/// Thread-safety: every function taking a `const scim_engine *` may be called from any
/// number of threads at once. Free it once with `scim_engine_free`, after every call
/// using it has returned (a running `scim_server` keeps its own reference).
pub struct scim_engine {
    _private: [u8; 0],
}

/// The handle is `Arc::into_raw` of the engine: shared by the host and by every server
/// and subscription started on it.
impl Castable for scim_engine {
    type Ownership = OwnershipArc;
    type RustType = Engine;
}

/// Borrow the engine behind a handle (the argument is named `engine` in every function).
pub(crate) unsafe fn engine<'a>(p: *const scim_engine) -> FfiResult<&'a Engine> {
    try_ref(p, "engine")
}

/// Open an engine on the durable store in the file `path` (created when missing), or in
/// memory when `path` is NULL, or on a shared PostgreSQL database when `path` is a
/// `postgres://user:password@host:port/dbname` URL (several engines, in several
/// processes, may share it; libscim creates and migrates its tables). `config_json` (NULL for defaults) is an object such as
/// `{"public_url": "https://host.example.com", "scim_path": "/scim/v2",
///   "provider": {"strict": false, "max_results": 1000, "max_operations": 1000,
///   "max_payload_size": 1048576, "large_group_members": 1000},
///   "secrets_key": "<64 hex characters: seals stored OIDC client secrets>",
///   "events": {"max_age_secs": 604800, "max_count": 1000000}}`.
/// `events` bounds each directory's outbox: acknowledged events are always deleted;
/// unacknowledged ones older than `max_age_secs` or beyond the newest `max_count` are
/// dropped, oldest first, with a warning in the log (null: no limit).
/// On success `*engine_out` owns a new engine.
///
/// Errors: NULL_PARAMETER, INVALID_UTF8, INVALID_JSON, SECRETS_KEY (`secrets_key` is not
/// 64 hex characters, or does not open the secrets sealed in a shared database), IO (the
/// store cannot be opened).
/// JSON: `config_json` is `schema/engine_config.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_engine_open(
    path: *const c_char,
    config_json: *const c_char,
    engine_out: *mut *mut scim_engine,
) -> scim_result {
    boundary(|| {
        check_out(engine_out, "engine_out")?;
        let path = opt_str_arg(path, "path")?;
        let config: EngineConfig = if config_json.is_null() {
            EngineConfig::default()
        } else {
            json_arg(config_json, "config_json")?
        };
        let engine = Engine::open(path.map(std::path::Path::new), config)?;
        out(engine_out, "engine_out", to_arc(Arc::new(engine)))
    })
}

/// Free an engine. NULL is a no-op. Never free the same engine twice. Servers and
/// subscriptions started on it keep it open until they are freed too.
#[no_mangle]
pub unsafe extern "C" fn scim_engine_free(engine: *mut scim_engine) {
    quiet(|| free_arc(engine))
}
