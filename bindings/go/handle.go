package scim

/*
#include <stdlib.h>
#include <string.h>
#include "scim.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
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
	creq, err := newCRequest(&req)
	if err != nil {
		return Response{}, err
	}
	defer C.free(unsafe.Pointer(creq))
	var cresp *C.scim_response
	err = e.with(func(eng *C.scim_engine) error {
		return call(func() C.scim_result { return C.scim_handle(eng, creq, &cresp) })
	})
	if err != nil {
		return Response{}, err
	}
	defer C.scim_response_free(cresp)
	return readResponse(cresp), nil
}

// newCRequest lays the request out in one C allocation (C never sees Go memory): the
// scim_request, then its headers, then every string NUL-terminated, then the body.
func newCRequest(r *Request) (*C.scim_request, error) {
	nh := 0
	size := int(C.sizeof_scim_request)
	strs := []struct{ s, what string }{{r.Method, "method"}, {r.Path, "path"}, {r.Query, "query"}}
	for name, vs := range r.Header {
		for _, v := range vs {
			nh++
			strs = append(strs, struct{ s, what string }{name, "header name"}, struct{ s, what string }{v, "header value"})
		}
	}
	size += nh * int(C.sizeof_scim_header)
	for _, s := range strs {
		if strings.IndexByte(s.s, 0) >= 0 {
			return nil, argError("request %s contains a NUL byte", s.what)
		}
		size += len(s.s) + 1
	}
	size += len(r.Body)
	base := C.malloc(C.size_t(size))
	if base == nil {
		return nil, &Error{Code: ResultInternal, Message: "out of memory"}
	}
	mem := unsafe.Slice((*byte)(base), size)
	off := int(C.sizeof_scim_request)
	var headers []C.scim_header
	if nh > 0 {
		headers = unsafe.Slice((*C.scim_header)(unsafe.Pointer(&mem[off])), nh)
	}
	off += nh * int(C.sizeof_scim_header)
	put := func(s string) *C.char {
		p := (*C.char)(unsafe.Pointer(&mem[off]))
		off += copy(mem[off:], s)
		mem[off] = 0
		off++
		return p
	}
	creq := (*C.scim_request)(base)
	creq.method = put(r.Method)
	creq.path = put(r.Path)
	creq.query = put(r.Query)
	i := 0
	for name, vs := range r.Header {
		for _, v := range vs {
			headers[i].name = put(name)
			headers[i].value = put(v)
			i++
		}
	}
	creq.headers_len = C.size_t(nh)
	creq.headers = nil
	if nh > 0 {
		creq.headers = &headers[0]
	}
	creq.body_len = C.size_t(len(r.Body))
	creq.body = nil
	if len(r.Body) > 0 {
		copy(mem[off:], r.Body)
		creq.body = (*C.uint8_t)(unsafe.Pointer(&mem[off]))
	}
	return creq, nil
}

func readResponse(resp *C.scim_response) Response {
	out := Response{Status: int(C.scim_response_status(resp)), Header: http.Header{}}
	var body *C.uint8_t
	var n C.size_t
	if C.scim_response_body(resp, &body, &n) == C.SCIM_RESULT_OK && n > 0 {
		out.Body = C.GoBytes(unsafe.Pointer(body), C.int(n))
	}
	count := C.scim_response_header_count(resp)
	for i := C.size_t(0); i < count; i++ {
		var name, value *C.char
		if C.scim_response_header(resp, i, &name, &value) == C.SCIM_RESULT_OK {
			out.Header.Add(C.GoString(name), C.GoString(value))
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
