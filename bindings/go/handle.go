package scim

/*
#include <stdlib.h>
#include "scim.h"

// Defined in cgo.go.
extern scim_result go_handle(const scim_engine *engine, const char *blob, const size_t *offs,
                             size_t headers_len, size_t body_len,
                             scim_response **response_out, scim_response_view *view_out);
*/
import "C"

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"
	"unsafe"
)

// Request is one HTTP request as the host received it.
type Request struct {
	Method string
	// Path is the full URL path, still percent-encoded ("/scim/v2/<directory-id>/Users").
	Path string
	// Query is the raw query string without "?".
	Query  string
	Header http.Header
	Body   []byte
}

// Response is the library's answer: status, headers and body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Err returns a *ScimError for an error response (status 400 or more), else nil.
func (r *Response) Err() error {
	if r.Status < 400 {
		return nil
	}
	return parseScimError(r.Status, r.Body)
}

// Handle answers one SCIM request: authentication, routing and the protocol, the same
// answer the built-in server gives. A client's mistake is an error Response (see
// Response.Err), not an error of Handle, which fails only for bad arguments or a closed
// engine. Safe for concurrent use.
func (e *Engine) Handle(req Request) (Response, error) {
	blob, offs, err := packRequest(&req)
	if err != nil {
		return Response{}, err
	}
	// What e.with and call do, written out: the per-request path allocates no closure.
	var out struct {
		resp *C.scim_response
		view C.scim_response_view
	}
	e.mu.RLock()
	if e.ptr == nil {
		e.mu.RUnlock()
		return Response{}, closedError("engine")
	}
	runtime.LockOSThread() // scim_last_error is per thread
	r := C.go_handle(e.ptr, (*C.char)(unsafe.Pointer(&blob[0])), &offs[0],
		C.size_t((len(offs)-4)/2), C.size_t(len(req.Body)), &out.resp, &out.view)
	if r != C.SCIM_RESULT_OK {
		err = &Error{Code: Result(r), Message: C.GoString(C.scim_last_error())}
	}
	runtime.UnlockOSThread()
	e.mu.RUnlock()
	runtime.KeepAlive(e)
	if err != nil {
		return Response{}, err
	}
	resp := readView(&out.view)
	C.scim_response_free(out.resp)
	return resp, nil
}

// packRequest lays the request's strings out back to back in one Go buffer (method,
// path, query, then a name and a value per header), followed by the body, and returns
// it with each string's offset and the body's. go_handle (cgo.go) builds the
// scim_request (length-delimited strings) from them on the C side: the call passes Go
// memory holding no Go pointers, valid for the call only, so nothing is allocated in C
// and one cgo call does the whole request (a cgo call costs far more than a C call).
// A NUL byte is refused: HTTP allows none in these.
func packRequest(r *Request) ([]byte, []C.size_t, error) {
	for _, s := range [...]struct{ s, what string }{{r.Method, "method"}, {r.Path, "path"}, {r.Query, "query"}} {
		if strings.IndexByte(s.s, 0) >= 0 {
			return nil, nil, argError("request %s contains a NUL byte", s.what)
		}
	}
	nh := 0
	size := len(r.Method) + len(r.Path) + len(r.Query) + len(r.Body)
	for name, vs := range r.Header {
		if len(vs) > 0 && strings.IndexByte(name, 0) >= 0 {
			return nil, nil, argError("request header name contains a NUL byte")
		}
		for _, v := range vs {
			if strings.IndexByte(v, 0) >= 0 {
				return nil, nil, argError("request header value contains a NUL byte")
			}
			nh++
			size += len(name) + len(v)
		}
	}
	blob := make([]byte, 0, size)
	offs := make([]C.size_t, 0, 4+2*nh)
	put := func(s string) {
		offs = append(offs, C.size_t(len(blob)))
		blob = append(blob, s...)
	}
	put(r.Method)
	put(r.Path)
	put(r.Query)
	for name, vs := range r.Header {
		for _, v := range vs {
			put(name)
			put(v)
		}
	}
	offs = append(offs, C.size_t(len(blob)))
	if len(blob) == 0 && len(r.Body) == 0 {
		blob = append(blob, 0) // go_handle takes the address of the first byte
	}
	return append(blob, r.Body...), offs, nil
}

// readView copies a response (as scim_request_handle's view shows it) into Go memory:
// the body in one copy, and every header string in one more, since the library lays
// them out back to back (each followed by a NUL): names and values are slices of it.
func readView(view *C.scim_response_view) Response {
	n := int(view.headers_len)
	out := Response{Status: int(view.status), Header: make(http.Header, n)}
	if view.body_len > 0 {
		out.Body = C.GoBytes(unsafe.Pointer(view.body), C.int(view.body_len))
	}
	if n == 0 {
		return out
	}
	hs := unsafe.Slice(view.headers, n)
	start := uintptr(unsafe.Pointer(hs[0].name.data))
	end := uintptr(unsafe.Pointer(hs[n-1].value.data)) + uintptr(hs[n-1].value.len)
	block := C.GoStringN(hs[0].name.data, C.int(end-start))
	values := make([]string, n) // one allocation for every header's value slice
	at := 0
	for i := range hs {
		name := block[at : at+int(hs[i].name.len)]
		at += len(name) + 1
		values[i] = block[at : at+int(hs[i].value.len)]
		at += len(values[i]) + 1
		key := textproto.CanonicalMIMEHeaderKey(name)
		if prev, ok := out.Header[key]; ok {
			out.Header[key] = append(prev, values[i])
		} else {
			out.Header[key] = values[i : i+1 : i+1]
		}
	}
	return out
}

// Handler returns an http.Handler serving the engine's SCIM endpoint. Mount it at the
// engine's scim path without stripping the prefix: the engine routes on the full URL
// path, `mux.Handle("/scim/v2/", engine.Handler())`. Safe for concurrent use.
func (e *Engine) Handler() http.Handler { return handler{e} }

type handler struct{ e *Engine }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read one byte past the limit, so an oversized body gets the engine's 413 rather
	// than a truncated body being parsed.
	body, err := io.ReadAll(io.LimitReader(r.Body, h.e.maxBody+1))
	if err != nil {
		writeScimError(w, http.StatusBadRequest, "", "cannot read the request body: "+err.Error())
		return
	}
	header := r.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if r.Host != "" {
		header.Set("Host", r.Host)
	}
	resp, err := h.e.Handle(Request{
		Method: r.Method,
		Path:   r.URL.EscapedPath(),
		Query:  r.URL.RawQuery,
		Header: header,
		Body:   body,
	})
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrClosed) {
			status = http.StatusServiceUnavailable
		} else if errors.Is(err, ErrInvalidArgument) {
			status = http.StatusBadRequest
		}
		writeScimError(w, status, "", err.Error())
		return
	}
	dst := w.Header()
	for k, vs := range resp.Header {
		dst[k] = vs
	}
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.Body)
	}
}

func writeScimError(w http.ResponseWriter, status int, scimType, detail string) {
	b, _ := json.Marshal(struct {
		Schemas  []string `json:"schemas"`
		Status   string   `json:"status"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail"`
	}{[]string{"urn:ietf:params:scim:api:messages:2.0:Error"}, strconv.Itoa(status), scimType, detail})
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
