//! `scim_request_handle`: answer one SCIM request for hosts with their own HTTP server.

use super::cast::{free_box, to_box, try_ref, Castable, OwnershipBox};
use super::engine::{engine, scim_engine};
use super::{boundary, check_out, null, out, quiet, scim_result, str_arg, FfiResult};
use crate::provider::{Request, Response};
use std::ffi::{c_char, CString};

/// One request header.
#[repr(C)]
pub struct scim_header {
    pub name: *const c_char,
    pub value: *const c_char,
}

/// One HTTP request as the host received it. `path` is the full URL path
/// (`/scim/v2/<directory-id>/Users`); `query` is the raw query string without `?` (NULL
/// or "" for none); `headers` points to `headers_len` headers (NULL when 0); `body` to
/// `body_len` bytes (NULL when 0). Nothing is kept after the call returns.
#[repr(C)]
pub struct scim_request {
    pub method: *const c_char,
    pub path: *const c_char,
    pub query: *const c_char,
    pub headers: *const scim_header,
    pub headers_len: usize,
    pub body: *const u8,
    pub body_len: usize,
}

/// A response: status, headers and body. Owned by the caller; free it with
/// `scim_response_free`. Not thread-safe to free while another thread reads it.
pub struct scim_response {
    _private: [u8; 0],
}

/// The handle owns the response.
impl Castable for scim_response {
    type Ownership = OwnershipBox;
    type RustType = Owned;
}

/// A response with its header strings kept as C strings for the accessors, and an array
/// of `scim_header` pointing into them for `scim_response_read`.
pub struct Owned {
    status: u16,
    headers: Vec<(CString, CString)>,
    /// Points into `headers`: a `CString`'s bytes stay where they are while it lives, and
    /// `headers` is never changed after `own` built this.
    views: Vec<scim_header>,
    body: Vec<u8>,
}

unsafe fn convert(req: &scim_request) -> FfiResult<Request> {
    let headers = if req.headers_len == 0 {
        Vec::new()
    } else {
        if req.headers.is_null() {
            return Err(null("request.headers"));
        }
        std::slice::from_raw_parts(req.headers, req.headers_len)
            .iter()
            .map(|h| {
                Ok((
                    str_arg(h.name, "header name")?.to_owned(),
                    str_arg(h.value, "header value")?.to_owned(),
                ))
            })
            .collect::<FfiResult<Vec<_>>>()?
    };
    let body = if req.body_len == 0 {
        Vec::new()
    } else {
        if req.body.is_null() {
            return Err(null("request.body"));
        }
        std::slice::from_raw_parts(req.body, req.body_len).to_vec()
    };
    Ok(Request {
        method: str_arg(req.method, "request.method")?.to_owned(),
        path: str_arg(req.path, "request.path")?.to_owned(),
        query: if req.query.is_null() {
            String::new()
        } else {
            str_arg(req.query, "request.query")?.to_owned()
        },
        headers,
        body,
    })
}

fn own(r: Response) -> Owned {
    let headers: Vec<(CString, CString)> = r
        .headers
        .into_iter()
        .filter_map(|(k, v)| Some((CString::new(k).ok()?, CString::new(v).ok()?)))
        .collect();
    let views = headers
        .iter()
        .map(|(k, v)| scim_header {
            name: k.as_ptr(),
            value: v.as_ptr(),
        })
        .collect();
    Owned {
        status: r.status,
        headers,
        views,
        body: r.body,
    }
}

/// Answer one SCIM request: authentication, routing, the protocol — the same answer as
/// the built-in server gives. A client's mistake is a SCIM error *response* (4xx), not a
/// failure of this call; the call fails only for bad arguments. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn scim_request_handle(
    engine: *const scim_engine,
    request: *const scim_request,
    response_out: *mut *mut scim_response,
) -> scim_result {
    boundary(|| {
        check_out(response_out, "response_out")?;
        let e = self::engine(engine)?;
        if request.is_null() {
            return Err(null("request"));
        }
        let req = convert(&*request)?;
        let resp = own(e.handle(&req));
        out(response_out, "response_out", to_box(resp))
    })
}

unsafe fn response<'a>(p: *const scim_response) -> FfiResult<&'a Owned> {
    try_ref(p, "response")
}

/// The HTTP status of a response (0 when `response` is NULL).
#[no_mangle]
pub unsafe extern "C" fn scim_response_status(response: *const scim_response) -> u16 {
    std::panic::catch_unwind(|| self::response(response).map_or(0, |r| r.status)).unwrap_or(0)
}

/// The body: `*body_out` points into the response (valid until it is freed) and
/// `*len_out` is its length.
#[no_mangle]
pub unsafe extern "C" fn scim_response_body(
    response: *const scim_response,
    body_out: *mut *const u8,
    len_out: *mut usize,
) -> scim_result {
    boundary(|| {
        check_out(body_out, "body_out")?;
        check_out(len_out, "len_out")?;
        let r = self::response(response)?;
        out(body_out, "body_out", r.body.as_ptr())?;
        out(len_out, "len_out", r.body.len())
    })
}

/// How many headers the response has.
#[no_mangle]
pub unsafe extern "C" fn scim_response_header_count(response: *const scim_response) -> usize {
    std::panic::catch_unwind(|| self::response(response).map_or(0, |r| r.headers.len()))
        .unwrap_or(0)
}

/// Header `index` (0-based): name and value point into the response (valid until it is
/// freed). Errors: NULL_PARAMETER, INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub unsafe extern "C" fn scim_response_header(
    response: *const scim_response,
    index: usize,
    name_out: *mut *const c_char,
    value_out: *mut *const c_char,
) -> scim_result {
    boundary(|| {
        check_out(name_out, "name_out")?;
        check_out(value_out, "value_out")?;
        let r = self::response(response)?;
        let (k, v) = r.headers.get(index).ok_or_else(|| {
            super::Failure(
                scim_result::SCIM_RESULT_INVALID_ARGUMENT,
                format!("header index {index} out of range ({})", r.headers.len()),
            )
        })?;
        out(name_out, "name_out", k.as_ptr())?;
        out(value_out, "value_out", v.as_ptr())
    })
}

/// Every part of a response at once, for a binding's per-request path (one call instead
/// of one per part and per header). `body` points to `body_len` bytes (NULL when empty),
/// `headers` to `headers_len` headers (NULL when none); both live inside the response
/// and stay valid until it is freed.
#[repr(C)]
pub struct scim_response_view {
    pub status: u16,
    pub body: *const u8,
    pub body_len: usize,
    pub headers: *const scim_header,
    pub headers_len: usize,
}

/// Fill `*view_out` with the response's status, body and headers (see
/// `scim_response_view`): the same as `scim_response_status`, `scim_response_body` and
/// `scim_response_header` for every index, in one call. Errors: NULL_PARAMETER.
#[no_mangle]
pub unsafe extern "C" fn scim_response_read(
    response: *const scim_response,
    view_out: *mut scim_response_view,
) -> scim_result {
    boundary(|| {
        check_out(view_out, "view_out")?;
        let r = self::response(response)?;
        let or_null = |empty: bool, p: *const u8| if empty { std::ptr::null() } else { p };
        let view = scim_response_view {
            status: r.status,
            body: or_null(r.body.is_empty(), r.body.as_ptr()),
            body_len: r.body.len(),
            headers: if r.views.is_empty() {
                std::ptr::null()
            } else {
                r.views.as_ptr()
            },
            headers_len: r.views.len(),
        };
        out(view_out, "view_out", view)
    })
}

/// Free a response. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn scim_response_free(response: *mut scim_response) {
    quiet(|| free_box(response))
}
