//! `scim_request_handle`: answer one SCIM request for hosts with their own HTTP server.
//!
//! One call per request: the request goes in as length-delimited strings (no copy on the
//! host's side to terminate them), the response comes out as a handle plus a view of its
//! status, headers and body (no call per part or per header).

use super::cast::{free_box, to_box, Castable, OwnershipBox};
use super::engine::{engine, scim_engine};
use super::{boundary, check_out, null, out, quiet, scim_result, Failure, FfiResult};
use crate::engine::Engine;
use crate::provider::{Request, Response};
use std::cell::RefCell;
use std::ffi::c_char;
use zeroize::Zeroize;

/// A UTF-8 string by address and length. `data` may be NULL when `len` is 0. Strings the
/// library hands out (response headers) are also followed by a NUL byte not counted in
/// `len`, so `data` can be used as a C string.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct scim_str {
    pub data: *const c_char,
    pub len: usize,
}

/// One header: name and value.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct scim_header {
    pub name: scim_str,
    pub value: scim_str,
}

/// One HTTP request as the host received it. `method` and `path` are required (their
/// `data` is never NULL); `path` is the full URL path (`/scim/v2/<directory-id>/Users`),
/// still percent-encoded; `query` is the raw query string without `?` (empty for none);
/// `headers` points to `headers_len` headers (NULL when 0); `body` to `body_len` bytes
/// (NULL when 0). The library reads them during the call only and keeps nothing.
#[repr(C)]
pub struct scim_request {
    pub method: scim_str,
    pub path: scim_str,
    pub query: scim_str,
    pub headers: *const scim_header,
    pub headers_len: usize,
    pub body: *const u8,
    pub body_len: usize,
}

/// A response; its parts are read through the `scim_response_view` that
/// `scim_request_handle` fills. Free it once with `scim_response_free`; the view points
/// into it until then. Thread-safety: it may be read from any thread, and is never
/// changed; free it after every reader is done.
pub struct scim_response {
    _private: [u8; 0],
}

/// The handle owns the response.
impl Castable for scim_response {
    type Ownership = OwnershipBox;
    type RustType = Answer;
}

/// Every part of a response, pointing into it (valid until `scim_response_free`):
/// `body` points to `body_len` bytes (NULL when empty), `headers` to `headers_len`
/// headers (NULL when none), in the order the library produced them. The header strings
/// lie back to back, in that order, each followed by a NUL byte: from
/// `headers[0].name.data` to the NUL after the last value is one block, which a binding
/// may copy at once.
#[repr(C)]
pub struct scim_response_view {
    pub status: u16,
    pub body: *const u8,
    pub body_len: usize,
    pub headers: *const scim_header,
    pub headers_len: usize,
}

/// What a response handle owns: the status and body as the engine answered them, and
/// the header strings in one NUL-separated block with a view of each.
pub struct Answer {
    status: u16,
    body: Vec<u8>,
    /// Never changed after `answer` built it: `headers` points into it (read only
    /// through them).
    _block: Vec<u8>,
    headers: Vec<scim_header>,
}

/// A string argument given by address and length.
unsafe fn str_view<'a>(s: scim_str, name: impl FnOnce() -> String) -> FfiResult<&'a str> {
    if s.len == 0 {
        return Ok("");
    }
    if s.data.is_null() {
        return Err(Failure(
            scim_result::SCIM_RESULT_NULL_PARAMETER,
            format!("{} is NULL", name()),
        ));
    }
    std::str::from_utf8(std::slice::from_raw_parts(s.data.cast::<u8>(), s.len)).map_err(|_| {
        Failure(
            scim_result::SCIM_RESULT_INVALID_UTF8,
            format!("{} is not valid UTF-8", name()),
        )
    })
}

/// A required string argument: NULL `data` is NULL_PARAMETER even when empty.
unsafe fn required<'a>(s: scim_str, name: &str) -> FfiResult<&'a str> {
    if s.data.is_null() {
        return Err(null(name));
    }
    str_view(s, || name.to_owned())
}

/// Copy `req` into `into`, reusing the buffers of its strings, headers and body: no
/// allocation when they are large enough (see [`SCRATCH`]).
unsafe fn fill(into: &mut Request, req: &scim_request) -> FfiResult {
    let set = |s: &mut String, v: &str| {
        s.clear();
        s.push_str(v);
    };
    set(&mut into.method, required(req.method, "request.method")?);
    set(&mut into.path, required(req.path, "request.path")?);
    set(
        &mut into.query,
        str_view(req.query, || "request.query".into())?,
    );
    let headers = if req.headers_len == 0 {
        &[][..]
    } else if req.headers.is_null() {
        return Err(null("request.headers"));
    } else {
        std::slice::from_raw_parts(req.headers, req.headers_len)
    };
    into.headers.truncate(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let name = str_view(h.name, || format!("request.headers[{i}].name"))?;
        let value = str_view(h.value, || format!("request.headers[{i}].value"))?;
        match into.headers.get_mut(i) {
            Some((n, v)) => {
                set(n, name);
                set(v, value);
            }
            None => into.headers.push((name.to_owned(), value.to_owned())),
        }
    }
    into.body.clear();
    if req.body_len > 0 {
        if req.body.is_null() {
            return Err(null("request.body"));
        }
        into.body
            .extend_from_slice(std::slice::from_raw_parts(req.body, req.body_len));
    }
    Ok(())
}

/// What a thread's [`SCRATCH`] may keep between calls, in bytes of capacity: a larger
/// request's buffers are let go after its call.
const SCRATCH_KEEP: usize = 64 << 10;

thread_local! {
    /// The request this thread's last `scim_request_handle` converted, refilled in place
    /// by the next one (strings, headers, body), so that the conversion allocates
    /// nothing once the buffers are large enough (one allocation per string otherwise).
    static SCRATCH: RefCell<Request> = RefCell::new(Request::default());
}

/// Convert `req` and answer it. The conversion goes into the thread's [`SCRATCH`], or
/// into a new request when that is in use (a nested call: a log callback that handles
/// a request) or gone (the thread is ending).
unsafe fn handle(e: &Engine, req: &scim_request) -> FfiResult<Response> {
    let reused = SCRATCH.try_with(|cell| {
        let mut scratch = cell.try_borrow_mut().ok()?;
        let answer = fill(&mut scratch, req).map(|()| e.handle(&scratch));
        // What may be secret (the bearer token, a password in a body) is wiped now rather
        // than kept in the thread's buffers until its next call.
        for (_, value) in scratch.headers.iter_mut() {
            value.zeroize();
        }
        scratch.body.zeroize();
        let kept = scratch.method.capacity()
            + scratch.path.capacity()
            + scratch.query.capacity()
            + scratch.body.capacity()
            + scratch.headers.capacity() * std::mem::size_of::<(String, String)>()
            + (scratch.headers.iter())
                .map(|(n, v)| n.capacity() + v.capacity())
                .sum::<usize>();
        if kept > SCRATCH_KEEP {
            *scratch = Request::default();
        }
        Some(answer)
    });
    match reused {
        Ok(Some(answer)) => answer,
        _ => {
            let mut fresh = Request::default();
            fill(&mut fresh, req)?;
            Ok(e.handle(&fresh))
        }
    }
}

/// Lay the response's headers out for C: one block of NUL-terminated strings and a view
/// of each (two allocations, whatever the number of headers). The body moves as it is.
fn answer(r: Response) -> Answer {
    // A NUL inside a header would end its C string early: such a header (the engine
    // makes none) is left out rather than cut.
    let fits = |(k, v): &&(String, String)| !k.contains('\0') && !v.contains('\0');
    let size = r
        .headers
        .iter()
        .filter(fits)
        .map(|(k, v)| k.len() + v.len() + 2);
    let mut block = Vec::with_capacity(size.sum());
    let mut spans = Vec::with_capacity(r.headers.len());
    for (k, v) in r.headers.iter().filter(fits) {
        let name = block.len();
        block.extend_from_slice(k.as_bytes());
        block.push(0);
        let value = block.len();
        block.extend_from_slice(v.as_bytes());
        block.push(0);
        spans.push((name, k.len(), value, v.len()));
    }
    // The block is complete: its address no longer changes.
    let at = |offset: usize, len: usize| scim_str {
        data: block[offset..].as_ptr().cast(),
        len,
    };
    let headers = spans
        .into_iter()
        .map(|(name, name_len, value, value_len)| scim_header {
            name: at(name, name_len),
            value: at(value, value_len),
        })
        .collect();
    Answer {
        status: r.status,
        body: r.body,
        _block: block,
        headers,
    }
}

fn view(a: &Answer) -> scim_response_view {
    scim_response_view {
        status: a.status,
        body: if a.body.is_empty() {
            std::ptr::null()
        } else {
            a.body.as_ptr()
        },
        body_len: a.body.len(),
        headers: if a.headers.is_empty() {
            std::ptr::null()
        } else {
            a.headers.as_ptr()
        },
        headers_len: a.headers.len(),
    }
}

/// Answer one SCIM request: authentication, routing, the protocol — the same answer as
/// the built-in server gives. On success `*response_out` owns the response and
/// `*view_out` shows its status, body and headers (pointing into it). A client's mistake
/// is a SCIM error *response* (4xx), not a failure of this call; the call fails only for
/// bad arguments: NULL_PARAMETER (naming the argument or request field), INVALID_UTF8.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn scim_request_handle(
    engine: *const scim_engine,
    request: *const scim_request,
    response_out: *mut *mut scim_response,
    view_out: *mut scim_response_view,
) -> scim_result {
    boundary(|| {
        check_out(response_out, "response_out")?;
        check_out(view_out, "view_out")?;
        let e = self::engine(engine)?;
        let request = request.as_ref().ok_or_else(|| null("request"))?;
        let answer = answer(handle(e, request)?);
        let v = view(&answer);
        out(response_out, "response_out", to_box(answer))?;
        out(view_out, "view_out", v)
    })
}

/// Free a response. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn scim_response_free(response: *mut scim_response) {
    quiet(|| free_box(response))
}
