package scim

/*
#include <stdlib.h>
#include "scim.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
	"time"
)

// ServerOptions configures the built-in HTTP(S) server; zero fields take the defaults.
type ServerOptions struct {
	Listen         string // "127.0.0.1:8080"; port 0 picks a free port
	TLSCert        string // PEM file; with TLSKey, the server speaks HTTPS
	TLSKey         string
	MaxHeaderBytes int
	HeaderTimeout  time.Duration // receiving a request head; idle keep-alive
	RequestTimeout time.Duration // receiving a request body
	ShutdownGrace  time.Duration
	// Caps: open connections and requests in flight (503 with Retry-After beyond), and
	// one directory's requests in flight (429 with Retry-After beyond).
	MaxConnections          int
	MaxInFlight             int
	MaxInFlightPerDirectory int
	// A per-directory request rate (429 with Retry-After beyond); nil: none.
	RateLimit *RateLimit
	// The admin API under /admin/api/ (docs/admin-api.md); nil: off.
	Admin *AdminOptions
}

// AdminOptions turns on the admin API with its own bearer credential (at least 24
// visible ASCII characters, never a SCIM token), for loopback clients only unless
// AllowRemote.
type AdminOptions struct {
	Credential  string
	AllowRemote bool
}

// RateLimit is a per-directory token bucket: Burst requests at once, refilled at
// PerSecond.
type RateLimit struct {
	PerSecond uint32
	Burst     uint32
}

// serverOptionsJSON is ServerOptions as the library reads it
// (include/schema/server_options.json; schema_test.go checks the tags against it).
type serverOptionsJSON struct {
	Listen                  string         `json:"listen,omitempty"`
	TLSCert                 string         `json:"tls_cert,omitempty"`
	TLSKey                  string         `json:"tls_key,omitempty"`
	MaxHeaderBytes          int            `json:"max_header_bytes,omitempty"`
	HeaderTimeoutMs         int64          `json:"header_timeout_ms,omitempty"`
	RequestTimeoutMs        int64          `json:"request_timeout_ms,omitempty"`
	ShutdownGraceMs         int64          `json:"shutdown_grace_ms,omitempty"`
	MaxConnections          int            `json:"max_connections,omitempty"`
	MaxInFlight             int            `json:"max_in_flight,omitempty"`
	MaxInFlightPerDirectory int            `json:"max_in_flight_per_directory,omitempty"`
	RateLimit               *rateLimitJSON `json:"rate_limit,omitempty"`
	Admin                   *adminJSON     `json:"admin,omitempty"`
}

type rateLimitJSON struct {
	PerSecond uint32 `json:"per_second"`
	Burst     uint32 `json:"burst"`
}

type adminJSON struct {
	Credential  string `json:"credential"`
	AllowRemote bool   `json:"allow_remote"`
}

// toJSON leaves zero fields out, so the library's defaults apply.
func (opts *ServerOptions) toJSON() serverOptionsJSON {
	o := serverOptionsJSON{
		Listen: opts.Listen, TLSCert: opts.TLSCert, TLSKey: opts.TLSKey,
		MaxHeaderBytes:          max(opts.MaxHeaderBytes, 0),
		HeaderTimeoutMs:         max(opts.HeaderTimeout.Milliseconds(), 0),
		RequestTimeoutMs:        max(opts.RequestTimeout.Milliseconds(), 0),
		ShutdownGraceMs:         max(opts.ShutdownGrace.Milliseconds(), 0),
		MaxConnections:          max(opts.MaxConnections, 0),
		MaxInFlight:             max(opts.MaxInFlight, 0),
		MaxInFlightPerDirectory: max(opts.MaxInFlightPerDirectory, 0),
	}
	if opts.RateLimit != nil {
		o.RateLimit = &rateLimitJSON{PerSecond: opts.RateLimit.PerSecond, Burst: opts.RateLimit.Burst}
	}
	if opts.Admin != nil {
		o.Admin = &adminJSON{Credential: opts.Admin.Credential, AllowRemote: opts.Admin.AllowRemote}
	}
	return o
}

// Server is the library's own HTTP server, serving every directory of an engine on
// threads of its own. Stop it; a finalizer stops a Server no longer referenced.
type Server struct {
	mu  sync.Mutex
	ptr *C.scim_server
}

// StartServer starts serving the engine. The server keeps its own reference to the
// engine. Errors: ErrInvalidArgument (TLSCert without TLSKey, a bad admin credential),
// ErrIO (cannot listen, unreadable certificate).
func (e *Engine) StartServer(opts *ServerOptions) (*Server, error) {
	var o serverOptionsJSON
	if opts != nil {
		o = opts.toJSON()
	}
	js, _ := json.Marshal(o)
	var ptr *C.scim_server
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return call(func() C.scim_result { return C.scim_server_start(eng, s[0], &ptr) })
	}, string(js), "options")
	if err != nil {
		return nil, err
	}
	srv := &Server{ptr: ptr}
	runtime.SetFinalizer(srv, (*Server).Stop)
	return srv, nil
}

// Addr is the address the server listens on ("127.0.0.1:43123").
func (s *Server) Addr() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr == nil {
		return "", closedError("server")
	}
	var p *C.char
	if err := call(func() C.scim_result { return C.scim_server_address_get(s.ptr, &p) }); err != nil {
		return "", err
	}
	runtime.KeepAlive(s)
	return takeString(p), nil
}

// Stop stops accepting, lets in-flight requests finish (up to the grace period) and
// frees the server. Calling it again does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr != nil {
		C.scim_server_free(s.ptr)
		s.ptr = nil
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

// Close is Stop, for io.Closer.
func (s *Server) Close() error { return s.Stop() }
