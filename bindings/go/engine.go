// Package scim is the Go binding of libscim: an embeddable SCIM 2.0 service provider
// (directories, tokens, the protocol, change events) behind its C ABI (include/scim.h).
//
// An Engine is safe for concurrent use by many goroutines. Every object that owns a C
// handle has an idempotent Close, and a finalizer closes it should it be forgotten.
package scim

/*
#include <stdlib.h>
#include "scim.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Version is the library's version ("1.0.0").
func Version() string { return C.GoString(C.scim_version()) }

// Config is the engine's configuration; zero fields take the library's defaults.
type Config struct {
	// PublicURL is the scheme, host and port clients reach the host at
	// ("https://host.example.com"); directories' tenant URLs derive from it.
	PublicURL string `json:"public_url,omitempty"`
	// ScimPath is the path every directory's SCIM base lives under ("/scim/v2").
	ScimPath string `json:"scim_path,omitempty"`
	// LoginPath is the path each directory's login lives under ("/login"):
	// <PublicURL><LoginPath>/<id> starts one, …/<id>/callback is the redirect URI.
	LoginPath string `json:"login_path,omitempty"`
	// Provider holds protocol limits and strictness.
	Provider *ProviderConfig `json:"provider,omitempty"`
	// SecretsKey is 64 hex characters: the key sealing secrets the engine must keep
	// usable (a directory's OIDC client secret) in the store. Keep it outside the
	// database; without it such secrets are stored as given.
	SecretsKey string `json:"secrets_key,omitempty"`
	// Events is the outbox retention; nil keeps the defaults.
	Events *EventRetention `json:"events,omitempty"`
	// EventLeaseMs is how long a consumer keeps its group's stream of a directory after
	// taking or acknowledging events (0: the default, 30000).
	EventLeaseMs uint64 `json:"event_lease_ms,omitempty"`
}

// EventRetention bounds each directory's outbox. Acknowledged events are always deleted;
// unacknowledged ones beyond these limits are dropped oldest first, and each drop is
// logged (target "scim::events") and counted in the directory's event stats.
type EventRetention struct {
	// MaxAgeSecs drops unacknowledged events older than this many seconds. nil: the
	// default (604800, 7 days); a pointer to 0: no age limit.
	MaxAgeSecs *uint64 `json:"max_age_secs,omitempty"`
	// MaxCount keeps at most this many unacknowledged events per directory, the newest.
	// nil: the default (1000000); a pointer to 0 keeps none; math.MaxUint64: no limit.
	MaxCount *uint64 `json:"max_count,omitempty"`
}

// ProviderConfig holds the SCIM protocol's limits; zero means the default.
type ProviderConfig struct {
	Strict         bool `json:"strict,omitempty"`
	MaxResults     int  `json:"max_results,omitempty"`
	MaxOperations  int  `json:"max_operations,omitempty"`
	MaxPayloadSize int  `json:"max_payload_size,omitempty"`
	// CursorTimeoutSecs is how long a pagination cursor stays valid between pages
	// (nil: 600 s).
	CursorTimeoutSecs *uint64 `json:"cursor_timeout_secs,omitempty"`
	// MaxSortWindow bounds the results a sort without an index keeps in memory.
	MaxSortWindow int `json:"max_sort_window,omitempty"`
	// LargeGroupMembers: a PATCH of a group with more members answers 204 unless
	// attributes are asked for.
	LargeGroupMembers int `json:"large_group_members,omitempty"`
	// MaxFilterScan bounds the resources a query reads for what the indexes do not
	// answer (400 tooMany beyond).
	MaxFilterScan int `json:"max_filter_scan,omitempty"`
	// MaxMemberFilter: a PATCH removing members by a filter other than `value eq` is
	// refused (400 tooMany) in groups with more members.
	MaxMemberFilter int `json:"max_member_filter,omitempty"`
}

// Engine owns directories, tokens, the SCIM protocol and the events over one store.
// Safe for concurrent use; Close waits for the calls in progress.
type Engine struct {
	mu  sync.RWMutex // read-held by every call, write-held by Close
	ptr *C.scim_engine
	// maxBody is how much of a request body the http.Handler reads.
	maxBody int64
}

// Open opens an engine on the durable store in the file path (created when missing),
// or in memory when path is "". cfg may be nil for the defaults.
func Open(path string, cfg *Config) (*Engine, error) {
	var cpath, ccfg *C.char
	if path != "" {
		p, err := cstring(path, "path")
		if err != nil {
			return nil, err
		}
		cpath = p
		defer C.free(unsafe.Pointer(cpath))
	}
	maxBody := int64(1 << 20)
	if cfg != nil {
		js, err := json.Marshal(cfg)
		if err != nil {
			return nil, argError("config: %v", err)
		}
		if ccfg, err = cstring(string(js), "config"); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(ccfg))
		if cfg.Provider != nil && cfg.Provider.MaxPayloadSize > 0 {
			maxBody = int64(cfg.Provider.MaxPayloadSize)
		}
	}
	var ptr *C.scim_engine
	if err := call(func() C.scim_result { return C.scim_engine_open(cpath, ccfg, &ptr) }); err != nil {
		return nil, err
	}
	e := &Engine{ptr: ptr, maxBody: maxBody}
	runtime.SetFinalizer(e, (*Engine).Close)
	return e, nil
}

// Close frees the engine after the calls in progress return. Calling it again does
// nothing; other methods then fail with ErrClosed. A running Server keeps its own
// reference and goes on serving until stopped.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ptr != nil {
		C.scim_engine_free(e.ptr)
		e.ptr = nil
		runtime.SetFinalizer(e, nil)
	}
	return nil
}

// with runs f with the engine's handle, which stays valid until f returns.
func (e *Engine) with(f func(*C.scim_engine) error) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return closedError("engine")
	}
	err := f(e.ptr)
	runtime.KeepAlive(e)
	return err
}

// cstring copies s to C memory (free it with C.free); a NUL inside is an argument error.
func cstring(s, what string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, argError("%s contains a NUL byte", what)
	}
	return C.CString(s), nil
}

// takeString copies a string the library allocated and frees it.
func takeString(p *C.char) string {
	s := C.GoString(p)
	C.scim_string_free(p)
	return s
}

// jsonCall runs a C call that returns an allocated JSON string and decodes it into out.
func jsonCall(out any, f func(**C.char) C.scim_result) error {
	var p *C.char
	if err := call(func() C.scim_result { return f(&p) }); err != nil {
		return err
	}
	js := takeString(p)
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(js), out); err != nil {
		return &Error{Code: ResultInternal, Message: "decoding the library's JSON: " + err.Error()}
	}
	return nil
}

// jsonString encodes v for a JSON argument.
func jsonString(v any) (string, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return "", argError("%v", err)
	}
	return string(js), nil
}
