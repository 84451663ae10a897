//! Attribute mappings and the reverse lookup.

use super::engine::{engine, scim_engine};
use super::{boundary, check_out, json_arg, json_out, out, scim_result, str_arg, FfiResult};
use crate::directory::Service;
use crate::mapping::MappingEntry;
use crate::schema::ResourceKind;
use std::ffi::c_char;

unsafe fn service(p: *const c_char) -> FfiResult<Service> {
    Ok(str_arg(p, "service")?.parse()?)
}

unsafe fn kind(p: *const c_char) -> FfiResult<ResourceKind> {
    Ok(crate::mapping::entries_kind(str_arg(p, "kind")?)?)
}

/// Directory `id`'s mappings, one per service it feeds, as JSON:
/// `{"uem": {"profile", "users": [entries], "groups": [entries]}, "access": …}` where an
/// entry is `{"target", "source", "required", "immutable", "transform"}`.
/// JSON: the result is `schema/mappings.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_mapping_get(
    engine: *const scim_engine,
    id: *const c_char,
    mappings_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(mappings_json_out, "mappings_json_out")?;
        let m = self::engine(engine)?.mappings(str_arg(id, "id")?)?;
        out(mappings_json_out, "mappings_json_out", json_out(&m)?)
    })
}

/// Add a mapping entry for `service` ("uem"|"access") and `kind` ("users"|"groups"), or
/// change the one with the same target. Validated when set (unknown SCIM path, duplicate
/// target → INVALID_ARGUMENT). Emits no event (see `scim_mapping_resync`). On success the
/// service's whole mapping as JSON.
/// JSON: `entry_json` is `schema/mapping_entry.json`, the result `schema/mapping.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_mapping_entry_set(
    engine: *const scim_engine,
    id: *const c_char,
    service: *const c_char,
    kind: *const c_char,
    entry_json: *const c_char,
    mapping_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(mapping_json_out, "mapping_json_out")?;
        let e = self::engine(engine)?;
        let entry: MappingEntry = json_arg(entry_json, "entry_json")?;
        let m = e.set_mapping_entry(
            str_arg(id, "id")?,
            self::service(service)?,
            self::kind(kind)?,
            &entry,
        )?;
        out(mapping_json_out, "mapping_json_out", json_out(&m)?)
    })
}

/// Remove the entry with `target`; required entries cannot be removed
/// (INVALID_ARGUMENT). On success the service's whole mapping as JSON.
/// JSON: the result is `schema/mapping.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_mapping_entry_remove(
    engine: *const scim_engine,
    id: *const c_char,
    service: *const c_char,
    kind: *const c_char,
    target: *const c_char,
    mapping_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(mapping_json_out, "mapping_json_out")?;
        let m = self::engine(engine)?.remove_mapping_entry(
            str_arg(id, "id")?,
            self::service(service)?,
            self::kind(kind)?,
            str_arg(target, "target")?,
        )?;
        out(mapping_json_out, "mapping_json_out", json_out(&m)?)
    })
}

/// Re-emit `user.updated` (with the current mapped records) for every user of directory
/// `id`, e.g. after a mapping change; `*count_out` is how many.
#[no_mangle]
pub unsafe extern "C" fn scim_mapping_resync(
    engine: *const scim_engine,
    id: *const c_char,
    count_out: *mut u64,
) -> scim_result {
    boundary(|| {
        check_out(count_out, "count_out")?;
        let n = self::engine(engine)?.resync(str_arg(id, "id")?)?;
        out(count_out, "count_out", n)
    })
}

/// The provisioned user whose mapped attribute `target` (of `service`) equals `value`
/// (case-insensitively for emails and user names): `{"id", "resource", "record"}`, or
/// `null` when there is none. Errors: CONFLICT when several users match.
/// JSON: the result is `schema/found_user.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_user_find(
    engine: *const scim_engine,
    id: *const c_char,
    service: *const c_char,
    target: *const c_char,
    value: *const c_char,
    user_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(user_json_out, "user_json_out")?;
        let found = self::engine(engine)?.find_user(
            str_arg(id, "id")?,
            self::service(service)?,
            str_arg(target, "target")?,
            str_arg(value, "value")?,
        )?;
        out(user_json_out, "user_json_out", json_out(&found)?)
    })
}

/// Reset `service`'s mapping to a profile's defaults (`profile`: "workspace-one" or
/// "rfc"). Emits no event (see `scim_mapping_resync`). On success the mapping as JSON.
/// JSON: the result is `schema/mapping.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_mapping_reset(
    engine: *const scim_engine,
    id: *const c_char,
    service: *const c_char,
    profile: *const c_char,
    mapping_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(mapping_json_out, "mapping_json_out")?;
        let profile: crate::mapping::Profile = str_arg(profile, "profile")?.parse()?;
        let m = self::engine(engine)?.reset_mapping(
            str_arg(id, "id")?,
            self::service(service)?,
            profile,
        )?;
        out(mapping_json_out, "mapping_json_out", json_out(&m)?)
    })
}
