//! OpenID Connect login through a directory's IdP.

use super::engine::{engine, scim_engine};
use super::{boundary, check_out, json_arg, json_out, out, scim_result, str_arg};
use crate::directory::DirectoryOidc;
use std::ffi::c_char;

/// Configure directory `id`'s OpenID Connect login from
/// `{"config": {"client_id", "client_secret", "config_url", "scopes"?, "claim"?,
/// "allowed_algs"?, "leeway_secs"?, "extra_authorize_params"?, "allow_http"?,
/// "ca_bundle_pem"?, "require_email_verified"?}, "attribute": "email"}`. The redirect URI
/// is the directory's (in the returned directory JSON, under `login`).
/// JSON: `settings_json` is `schema/oidc_settings.json`, the result `schema/directory.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_oidc_configure(
    engine: *const scim_engine,
    id: *const c_char,
    settings_json: *const c_char,
    directory_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(directory_json_out, "directory_json_out")?;
        let e = self::engine(engine)?;
        let s: DirectoryOidc = json_arg(settings_json, "settings_json")?;
        let d = e.set_oidc(str_arg(id, "id")?, s.config, &s.attribute)?;
        out(directory_json_out, "directory_json_out", json_out(&d)?)
    })
}

/// Start a login: `{"authorization_url", "state", "expires_at"}`; send the browser to the
/// URL. Does network I/O (discovery) on first use. Errors: WRONG_STATE (no login
/// configured), IDP_FAILED (discovery), SECRETS_KEY (the client secret was sealed with
/// another `secrets_key`, or the engine has none).
/// JSON: the result is `schema/login_start.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_login_begin(
    engine: *const scim_engine,
    id: *const c_char,
    start_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(start_json_out, "start_json_out")?;
        let s = self::engine(engine)?.login_begin(str_arg(id, "id")?)?;
        out(start_json_out, "start_json_out", json_out(&s)?)
    })
}

/// Complete a login from the callback's `code` and `state`: `{"user": {"id", "resource",
/// "record"}, "claims": {…}}`. Errors: LOGIN_REFUSED (the message starts with the code:
/// `not_provisioned`, `user_deactivated`, `email_not_verified`, `state_unknown`,
/// `expired`, …), IDP_FAILED (token exchange, discovery, keys).
/// JSON: the result is `schema/login.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_login_complete(
    engine: *const scim_engine,
    id: *const c_char,
    code: *const c_char,
    state: *const c_char,
    login_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(login_json_out, "login_json_out")?;
        let l = self::engine(engine)?.login_complete(
            str_arg(id, "id")?,
            str_arg(code, "code")?,
            str_arg(state, "state")?,
        )?;
        out(login_json_out, "login_json_out", json_out(&l)?)
    })
}

/// Validate an ID token from the host's own browser flow with the nonce it sent, then
/// find the provisioned, active user, as `scim_login_complete`.
/// JSON: the result is `schema/login.json`.
#[no_mangle]
pub unsafe extern "C" fn scim_id_token_validate(
    engine: *const scim_engine,
    id: *const c_char,
    id_token: *const c_char,
    nonce: *const c_char,
    login_json_out: *mut *mut c_char,
) -> scim_result {
    boundary(|| {
        check_out(login_json_out, "login_json_out")?;
        let l = self::engine(engine)?.validate_id_token(
            str_arg(id, "id")?,
            str_arg(id_token, "id_token")?,
            str_arg(nonce, "nonce")?,
        )?;
        out(login_json_out, "login_json_out", json_out(&l)?)
    })
}

/// Turn directory `id`'s OpenID Connect login off.
#[no_mangle]
pub unsafe extern "C" fn scim_oidc_clear(
    engine: *const scim_engine,
    id: *const c_char,
) -> scim_result {
    boundary(|| Ok(self::engine(engine)?.clear_oidc(str_arg(id, "id")?)?))
}
