//! The C ABI (`include/scim.h`). Converts and delegates; no logic of its own.
//!
//! Conventions (as rustls-ffi): every fallible function returns a [`scim_result`];
//! inputs come first, outputs (`*_out`) last and are written only on success; every
//! exported body runs behind a panic boundary; NULL and UTF-8 are checked on every input;
//! structured values cross as UTF-8 JSON strings that the library allocates and the
//! caller frees with [`scim_string_free`], each shape defined once by a core type and
//! published as a JSON Schema (`include/schema/*.json`, named in each function's doc).
//! After a failure, [`scim_last_error`] describes it on the calling thread, and the code
//! is the core's [`ErrorKind`] (one code per kind).

#![allow(non_camel_case_types)]
// The safety contract of every exported function is in its doc comment (the header).
#![allow(clippy::missing_safety_doc)]

#[doc(hidden)]
pub mod cast;
mod directory;
mod engine;
mod events;
mod handle;
mod log;
mod login;
mod mapping;
mod server;

pub use engine::scim_engine;
pub use events::scim_subscription;
pub use handle::{
    scim_header, scim_request, scim_request_handle, scim_response, scim_response_free,
    scim_response_view, scim_str,
};
pub use server::scim_server;

use crate::error::{ErrorKind, ScimError};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

/// Status of every fallible call. Values are grouped and never reused. Each code but OK
/// is one error kind of the library (`schema/error_kinds.json`: the same names, in snake
/// case, as the bindings' exception classes and errors carry).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum scim_result {
    /// Success.
    SCIM_RESULT_OK = 0,
    /// A required pointer argument was NULL.
    SCIM_RESULT_NULL_PARAMETER = 100,
    /// A string argument was not valid UTF-8.
    SCIM_RESULT_INVALID_UTF8 = 101,
    /// A JSON argument did not parse, or did not have the expected shape.
    SCIM_RESULT_INVALID_JSON = 102,
    /// An argument had a value the operation does not accept (a rule was broken: the
    /// message names the field and the rule).
    SCIM_RESULT_INVALID_ARGUMENT = 103,
    /// The named directory (or other object) does not exist.
    SCIM_RESULT_NOT_FOUND = 200,
    /// The operation conflicts with existing state (a name already taken).
    SCIM_RESULT_CONFLICT = 201,
    /// The operation is not allowed in the object's current state (e.g. a login on a
    /// directory without OpenID Connect settings).
    SCIM_RESULT_WRONG_STATE = 202,
    /// A login was refused; the message starts with its code (`user_deactivated: …`).
    SCIM_RESULT_LOGIN_REFUSED = 203,
    /// A credential (bearer token, admin credential) was missing or not accepted.
    SCIM_RESULT_UNAUTHENTICATED = 204,
    /// The `secrets_key` is malformed, missing for a sealed secret, or does not open the
    /// secrets sealed in the store (another instance's key).
    SCIM_RESULT_SECRETS_KEY = 205,
    /// The store or the operating system failed (disk, network, socket).
    SCIM_RESULT_IO = 300,
    /// An internal error; the message says more.
    SCIM_RESULT_INTERNAL = 301,
    /// The identity provider could not be used (discovery, keys, token endpoint).
    SCIM_RESULT_IDP_FAILED = 302,
    /// Rust code panicked; the library caught it at the boundary.
    SCIM_RESULT_PANIC = 900,
}

use scim_result::*;

/// A short, stable name for a result code (a static string; never free it).
#[no_mangle]
pub extern "C" fn scim_result_name(result: scim_result) -> *const c_char {
    let s: &'static CStr = match result {
        SCIM_RESULT_OK => c"SCIM_RESULT_OK",
        SCIM_RESULT_NULL_PARAMETER => c"SCIM_RESULT_NULL_PARAMETER",
        SCIM_RESULT_INVALID_UTF8 => c"SCIM_RESULT_INVALID_UTF8",
        SCIM_RESULT_INVALID_JSON => c"SCIM_RESULT_INVALID_JSON",
        SCIM_RESULT_INVALID_ARGUMENT => c"SCIM_RESULT_INVALID_ARGUMENT",
        SCIM_RESULT_NOT_FOUND => c"SCIM_RESULT_NOT_FOUND",
        SCIM_RESULT_CONFLICT => c"SCIM_RESULT_CONFLICT",
        SCIM_RESULT_WRONG_STATE => c"SCIM_RESULT_WRONG_STATE",
        SCIM_RESULT_LOGIN_REFUSED => c"SCIM_RESULT_LOGIN_REFUSED",
        SCIM_RESULT_UNAUTHENTICATED => c"SCIM_RESULT_UNAUTHENTICATED",
        SCIM_RESULT_SECRETS_KEY => c"SCIM_RESULT_SECRETS_KEY",
        SCIM_RESULT_IO => c"SCIM_RESULT_IO",
        SCIM_RESULT_INTERNAL => c"SCIM_RESULT_INTERNAL",
        SCIM_RESULT_IDP_FAILED => c"SCIM_RESULT_IDP_FAILED",
        SCIM_RESULT_PANIC => c"SCIM_RESULT_PANIC",
    };
    s.as_ptr()
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// The message of the last failed call on this thread ("" after a success). The pointer
/// stays valid until the next libscim call on the same thread; do not free it.
#[no_mangle]
pub extern "C" fn scim_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The library's version, as `SCIM_VERSION_STRING` of the header it was built with
/// (for example "1.0.0"): a static string; never free it.
#[no_mangle]
pub extern "C" fn scim_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The library's version as a number, `major * 1000000 + minor * 1000 + patch`, as
/// `SCIM_VERSION_NUMBER` of the header it was built with. A host built against this
/// header can run with the library when `scim_version_number() / 1000000 ==
/// SCIM_VERSION_MAJOR && scim_version_number() >= SCIM_VERSION_NUMBER`: the same major
/// version (the soname's) and at least the minor version it was compiled against.
#[no_mangle]
pub extern "C" fn scim_version_number() -> u32 {
    const NUMBER: u32 = version_part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + version_part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + version_part(env!("CARGO_PKG_VERSION_PATCH"));
    NUMBER
}

/// One decimal part of the crate's version, at compile time (minor and patch must stay
/// below 1000 for the number's encoding).
const fn version_part(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u32;
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "version part is not a number");
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    assert!(n < 1000, "version part too large for scim_version_number");
    n
}

/// Free a string the library returned. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn scim_string_free(s: *mut c_char) {
    if !s.is_null() {
        drop(CString::from_raw(s));
    }
}

/// A failure on its way to C: a code and a message.
#[doc(hidden)]
pub struct Failure(pub scim_result, pub String);

/// Each kind of the core is one code (and back): the code is the kind the core set.
impl From<ErrorKind> for scim_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NullParameter => SCIM_RESULT_NULL_PARAMETER,
            ErrorKind::InvalidUtf8 => SCIM_RESULT_INVALID_UTF8,
            ErrorKind::InvalidJson => SCIM_RESULT_INVALID_JSON,
            ErrorKind::InvalidArgument => SCIM_RESULT_INVALID_ARGUMENT,
            ErrorKind::NotFound => SCIM_RESULT_NOT_FOUND,
            ErrorKind::Conflict => SCIM_RESULT_CONFLICT,
            ErrorKind::WrongState => SCIM_RESULT_WRONG_STATE,
            ErrorKind::LoginRefused => SCIM_RESULT_LOGIN_REFUSED,
            ErrorKind::Unauthenticated => SCIM_RESULT_UNAUTHENTICATED,
            ErrorKind::SecretsKey => SCIM_RESULT_SECRETS_KEY,
            ErrorKind::Io => SCIM_RESULT_IO,
            ErrorKind::Internal => SCIM_RESULT_INTERNAL,
            ErrorKind::IdpFailed => SCIM_RESULT_IDP_FAILED,
            ErrorKind::Panic => SCIM_RESULT_PANIC,
        }
    }
}

impl From<ScimError> for Failure {
    fn from(e: ScimError) -> Self {
        Failure(e.kind.into(), e.detail)
    }
}

impl From<crate::engine::LoginError> for Failure {
    fn from(e: crate::engine::LoginError) -> Self {
        // The message starts with the login error's stable code: "user_deactivated: …".
        Failure(e.kind().into(), e.to_string())
    }
}

#[doc(hidden)]
pub type FfiResult<T = ()> = Result<T, Failure>;

fn set_last_error(msg: &str) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        // Every call clears it: after a success (the usual case) it is already empty,
        // and clearing it again would cost an allocation per call on the hot path.
        if msg.is_empty() && e.as_bytes().is_empty() {
            return;
        }
        *e = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    });
}

/// Run an exported body: clear the last error, catch panics, record failures.
pub(crate) fn boundary(f: impl FnOnce() -> FfiResult) -> scim_result {
    set_last_error("");
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(())) => SCIM_RESULT_OK,
        Ok(Err(Failure(code, msg))) => {
            set_last_error(&msg);
            code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_last_error(&format!("internal panic caught at the C boundary: {what}"));
            SCIM_RESULT_PANIC
        }
    }
}

/// Like [`boundary`] for functions that cannot fail in a way worth reporting (`*_free`):
/// only panics are contained.
pub(crate) fn quiet(f: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
}

pub(crate) fn null(name: &str) -> Failure {
    Failure(SCIM_RESULT_NULL_PARAMETER, format!("{name} is NULL"))
}

/// A required C string argument.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    CStr::from_ptr(p).to_str().map_err(|_| {
        Failure(
            SCIM_RESULT_INVALID_UTF8,
            format!("{name} is not valid UTF-8"),
        )
    })
}

/// An optional C string argument (NULL = absent).
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        str_arg(p, name).map(Some)
    }
}

/// A JSON argument parsed into `T`.
pub(crate) unsafe fn json_arg<T: serde::de::DeserializeOwned>(
    p: *const c_char,
    name: &str,
) -> FfiResult<T> {
    let s = str_arg(p, name)?;
    serde_json::from_str(s).map_err(|e| Failure(SCIM_RESULT_INVALID_JSON, format!("{name}: {e}")))
}

/// Hand a JSON value to C as an allocated string.
pub(crate) fn json_out(v: &impl serde::Serialize) -> FfiResult<*mut c_char> {
    let s = serde_json::to_string(v)
        .map_err(|e| Failure(SCIM_RESULT_INTERNAL, format!("serialising: {e}")))?;
    Ok(CString::new(s)
        .map_err(|_| Failure(SCIM_RESULT_INTERNAL, "NUL in output".into()))?
        .into_raw())
}

/// Write an output pointer, after checking it is not NULL.
pub(crate) unsafe fn out<T>(p: *mut T, name: &str, value: T) -> FfiResult {
    if p.is_null() {
        return Err(null(name));
    }
    p.write(value);
    Ok(())
}

/// Check an output pointer before doing any work, so nothing happens when it is NULL.
pub(crate) fn check_out<T>(p: *mut T, name: &str) -> FfiResult {
    if p.is_null() {
        Err(null(name))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// One code per kind, each named by `scim_result_name` as the kind is named.
    #[test]
    fn kinds_and_codes_are_one_to_one() {
        let codes: HashSet<u32> = ErrorKind::ALL
            .iter()
            .map(|&k| scim_result::from(k) as u32)
            .collect();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        assert!(!codes.contains(&(SCIM_RESULT_OK as u32)));
        for kind in ErrorKind::ALL {
            let name = unsafe { CStr::from_ptr(scim_result_name(kind.into())) };
            let expected = format!("SCIM_RESULT_{}", kind.name().to_uppercase());
            assert_eq!(name.to_str().unwrap(), expected);
        }
    }
}
