package scim

/*
#include <stdlib.h>
#include <string.h>
#include "scim.h"

// What go_handle answers: the response and its view, or the failure's message.
typedef struct {
	scim_response *resp;
	scim_response_view view;
	char *message;
} go_handle_out;

// Engine.Handle in one cgo call: the request's strings lie back to back in the Go buffer
// `blob`, string i from offs[i] to offs[i + 1] (method, path, query, then name and value
// per header; the last offset is where the body starts); the scim_request and its
// headers are built here; the answer's handle (the caller's to free) and view are
// written to *out, or on failure a malloc'd copy of scim_last_error to out->message
// (the caller's to free), read on the thread that failed, so Go needs no
// runtime.LockOSThread. Headers beyond what the stack array holds take one malloc
// (INTERNAL if it fails).
static scim_result go_handle(const scim_engine *engine, const char *blob, const size_t *offs,
                             size_t headers_len, size_t body_len, go_handle_out *out) {
	scim_header on_stack[32];
	scim_header *headers = on_stack;
	if (headers_len > sizeof on_stack / sizeof on_stack[0]) {
		headers = malloc(headers_len * sizeof *headers);
		if (headers == NULL) return SCIM_RESULT_INTERNAL;
	}
#define GO_STR(i) ((scim_str){blob + offs[i], offs[(i) + 1] - offs[i]})
	for (size_t i = 0; i < headers_len; i++) {
		headers[i].name = GO_STR(3 + 2 * i);
		headers[i].value = GO_STR(4 + 2 * i);
	}
	size_t body_off = offs[3 + 2 * headers_len];
	scim_request request = {
		.method = GO_STR(0),
		.path = GO_STR(1),
		.query = GO_STR(2),
		.headers = headers_len ? headers : NULL,
		.headers_len = headers_len,
		.body = body_len ? (const uint8_t *)blob + body_off : NULL,
		.body_len = body_len,
	};
#undef GO_STR
	scim_result r = scim_request_handle(engine, &request, &out->resp, &out->view);
	if (headers != on_stack) free(headers);
	if (r != SCIM_RESULT_OK) out->message = strdup(scim_last_error());
	return r;
}

*/
import "C"

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"runtime"
	"strconv"
	"sync"
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
	call := handleCalls.Get().(*handleCall)
	defer call.release()
	if err := call.pack(&req); err != nil {
		return Response{}, err
	}
	// What e.with and call do, written out: the per-request path allocates no closure.
	e.mu.RLock()
	if e.ptr == nil {
		e.mu.RUnlock()
		return Response{}, closedError("engine")
	}
	r := C.go_handle(e.ptr, (*C.char)(unsafe.Pointer(&call.blob[0])), &call.offs[0],
		C.size_t((len(call.offs)-4)/2), C.size_t(len(req.Body)), &call.out)
	e.mu.RUnlock()
	runtime.KeepAlive(e)
	if r != C.SCIM_RESULT_OK {
		return Response{}, &Error{Code: Result(r), Message: takeCString(call.out.message)}
	}
	resp := readView(&call.out.view)
	C.scim_response_free(call.out.resp)
	return resp, nil
}

// handleCall is what one Handle gives the C side: the request laid out by pack, and
// where go_handle (cgo.go) writes the answer. Handle takes one from handleCalls and puts
// it back, so the request side of a call allocates nothing once the pool is warm.
type handleCall struct {
	blob []byte
	offs []C.size_t
	// Only C pointers: C may be given its address (cgo's rules).
	out C.go_handle_out
}

var handleCalls = sync.Pool{New: func() any { return new(handleCall) }}

// maxPooledBlob: a call whose request needed a larger buffer lets it go rather than
// keeping it in the pool.
const maxPooledBlob = 64 << 10

func (c *handleCall) release() {
	if cap(c.blob) > maxPooledBlob {
		c.blob = nil
	}
	c.out = C.go_handle_out{}
	handleCalls.Put(c)
}

// takeCString returns a string malloc'd on the C side as a Go string and frees it.
func takeCString(s *C.char) string {
	if s == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(s))
	return C.GoString(s)
}

// pack lays the request's strings out back to back in c.blob (method, path, query, then
// a name and a value per header), followed by the body, with each string's offset and
// the body's in c.offs. go_handle builds the scim_request (length-delimited strings)
// from them on the C side: the call passes Go memory holding no Go pointers, valid for
// the call only, so nothing is allocated in C and one cgo call does the whole request
// (a cgo call costs far more than a C call). One pass over the header map; the buffers
// are the pooled call's, grown as needed. A NUL byte is refused (HTTP allows none in
// these), naming the string that holds it.
func (c *handleCall) pack(r *Request) error {
	blob, offs := c.blob[:0], c.offs[:0]
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
	if i := bytes.IndexByte(blob, 0); i >= 0 {
		c.blob, c.offs = blob, offs
		return nulError(offs, i)
	}
	if len(blob) == 0 && len(r.Body) == 0 {
		blob = append(blob, 0) // go_handle takes the address of the first byte
	}
	c.blob, c.offs = append(blob, r.Body...), offs
	return nil
}

// nulError names the packed string (see pack) that holds the NUL byte at offset at.
func nulError(offs []C.size_t, at int) error {
	i := 0
	for i+1 < len(offs) && int(offs[i+1]) <= at {
		i++
	}
	switch {
	case i < 3:
		return argError("request %s contains a NUL byte", [...]string{"method", "path", "query"}[i])
	case i%2 == 1:
		return argError("request header name contains a NUL byte")
	default:
		return argError("request header value contains a NUL byte")
	}
}

// readView copies a response (as scim_request_handle's view shows it) into Go memory in
// one allocation: the body, then every header string, which the library lays out back to
// back (each followed by a NUL) so they are one copy; names and values are substrings
// of that block. The body's capacity ends where the block starts, so the header strings
// stay out of reach of writes through it.
func readView(view *C.scim_response_view) Response {
	n := int(view.headers_len)
	out := Response{Status: int(view.status), Header: make(http.Header, n)}
	bodyLen := int(view.body_len)
	var hs []C.scim_header
	var blockStart unsafe.Pointer
	blockLen := 0
	if n > 0 {
		hs = unsafe.Slice(view.headers, n)
		blockStart = unsafe.Pointer(hs[0].name.data)
		blockLen = int(uintptr(unsafe.Pointer(hs[n-1].value.data)) + uintptr(hs[n-1].value.len) - uintptr(blockStart))
	}
	if bodyLen+blockLen == 0 {
		return out
	}
	buf := make([]byte, bodyLen+blockLen)
	if bodyLen > 0 {
		copy(buf, unsafe.Slice((*byte)(unsafe.Pointer(view.body)), bodyLen))
		out.Body = buf[:bodyLen:bodyLen]
	}
	if n == 0 {
		return out
	}
	copy(buf[bodyLen:], unsafe.Slice((*byte)(blockStart), blockLen))
	block := unsafe.String(&buf[bodyLen], blockLen)
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
