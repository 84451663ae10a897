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
	o := map[string]any{}
	if opts != nil {
		if opts.Listen != "" {
			o["listen"] = opts.Listen
		}
		if opts.TLSCert != "" {
			o["tls_cert"] = opts.TLSCert
		}
		if opts.TLSKey != "" {
			o["tls_key"] = opts.TLSKey
		}
		if opts.MaxHeaderBytes > 0 {
			o["max_header_bytes"] = opts.MaxHeaderBytes
		}
		if opts.HeaderTimeout > 0 {
			o["header_timeout_ms"] = opts.HeaderTimeout.Milliseconds()
		}
		if opts.MaxConnections > 0 {
			o["max_connections"] = opts.MaxConnections
		}
		if opts.MaxInFlight > 0 {
			o["max_in_flight"] = opts.MaxInFlight
		}
		if opts.MaxInFlightPerDirectory > 0 {
			o["max_in_flight_per_directory"] = opts.MaxInFlightPerDirectory
		}
		if opts.RateLimit != nil {
			o["rate_limit"] = map[string]uint32{"per_second": opts.RateLimit.PerSecond, "burst": opts.RateLimit.Burst}
		}
		if opts.Admin != nil {
			o["admin"] = map[string]any{"credential": opts.Admin.Credential, "allow_remote": opts.Admin.AllowRemote}
		}
		if opts.RequestTimeout > 0 {
			o["request_timeout_ms"] = opts.RequestTimeout.Milliseconds()
		}
		if opts.ShutdownGrace > 0 {
			o["shutdown_grace_ms"] = opts.ShutdownGrace.Milliseconds()
		}
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
