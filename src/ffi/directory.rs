//! Directories and their tokens.

use super::engine::{engine, scim_engine};
use super::{boundary, check_out, json_arg, json_out, out, scim_result, str_arg};
use crate::directory::{DirectoryUpdate, NewDirectory};
use std::ffi::c_char;

/// Create a directory from `{"name", "domain", "idp": "okta"|"entra"|"generic",
/// "services": ["uem", "access"], "settings": {"enforce_domain", "strict"}}`. On success
/// `*directory_json_out` is the directory as JSON (free it with `scim_string_free`).
///
/// Errors: INVALID_JSON, INVALID_ARGUMENT (a rule; the message names field and rule),
/// CONFLICT (name taken). Thread-safe.
/// JSON: `directory_json` is `schema/new_directory.json`, the result `schema/directory.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_directory_create(
    engine: *const scim_engine,
    directory_json: *const c_char,
    directory_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(directory_json_out, "directory_json_out")?;
        let e = self::engine(engine)?;
        let new: NewDirectory = json_arg(directory_json, "directory_json")?;
        let d = e.create_directory(&new)?;
        out(directory_json_out, "directory_json_out", json_out(&d)?)
    })
}

/// The directory `id` as JSON. Errors: NOT_FOUND. Thread-safe.
/// JSON: the result is `schema/directory.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_directory_get(
    engine: *const scim_engine,
    id: *const c_char,
    directory_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(directory_json_out, "directory_json_out")?;
        let d = self::engine(engine)?.directory(str_arg(id, "id")?)?;
        out(directory_json_out, "directory_json_out", json_out(&d)?)
    })
}

/// Every directory, as a JSON array in creation order. Thread-safe.
/// JSON: the result is an array of `schema/directory.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_directory_list(
    engine: *const scim_engine,
    directories_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(directories_json_out, "directories_json_out")?;
        let all = self::engine(engine)?.directories()?;
        out(
            directories_json_out,
            "directories_json_out",
            json_out(&all)?,
        )
    })
}

/// Change a directory's `domain`, `services` or `settings` (name and IdP are fixed):
/// `update_json` holds only what changes. On success the updated directory as JSON.
/// JSON: `update_json` is `schema/directory_update.json`, the result `schema/directory.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_directory_update(
    engine: *const scim_engine,
    id: *const c_char,
    update_json: *const c_char,
    directory_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(directory_json_out, "directory_json_out")?;
        let e = self::engine(engine)?;
        let update: DirectoryUpdate = json_arg(update_json, "update_json")?;
        let d = e.update_directory(str_arg(id, "id")?, &update)?;
        out(directory_json_out, "directory_json_out", json_out(&d)?)
    })
}

/// Delete a directory with its users, groups and events; its token stops working.
#[no_mangle]
pub unsafe extern "C" fn scim_directory_delete(
    engine: *const scim_engine,
    id: *const c_char,
) -> scim_result {
    boundary(|| Ok(self::engine(engine)?.delete_directory(str_arg(id, "id")?)?))
}

/// Issue a new secret token for directory `id`, valid `lifespan_months` (1–24; 0 means
/// the default, 6). The previous token stops working at once. On success `*token_json_out`
/// is `{"secret", "issued_at", "expires_at", "lifespan_months"}`: the only time the
/// secret is ever available. Errors: NOT_FOUND, INVALID_ARGUMENT (lifespan).
/// JSON: the result is `schema/issued_token.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_token_issue(
    engine: *const scim_engine,
    id: *const c_char,
    lifespan_months: u32,
    token_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(token_json_out, "token_json_out")?;
        let e = self::engine(engine)?;
        let months = (lifespan_months != 0).then_some(lifespan_months);
        let t = e.issue_token(str_arg(id, "id")?, months)?;
        out(token_json_out, "token_json_out", json_out(&t)?)
    })
}

/// Revoke directory `id`'s token: requests with it fail from now on.
#[no_mangle]
pub unsafe extern "C" fn scim_token_revoke(
    engine: *const scim_engine,
    id: *const c_char,
) -> scim_result {
    boundary(|| Ok(self::engine(engine)?.revoke_token(str_arg(id, "id")?)?))
}

/// The directories whose token expires within `within_seconds` from now (expired ones
/// included), soonest first, as a JSON array of directories: what a host warns its
/// admins about.
/// JSON: the result is an array of `schema/directory.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_token_list_expiring(
    engine: *const scim_engine,
    within_seconds: u64,
    directories_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(directories_json_out, "directories_json_out")?;
        let within = time::Duration::seconds(i64::try_from(within_seconds).unwrap_or(i64::MAX));
        let soon = self::engine(engine)?.tokens_expiring_within(within)?;
        out(
            directories_json_out,
            "directories_json_out",
            json_out(&soon)?,
        )
    })
}
