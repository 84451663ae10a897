package scim

/*
#include "scim.h"
extern scim_result go_log_set_callback(uintptr_t handle, uint32_t max_level);
*/
import "C"

import "runtime/cgo"

// LogLevel is a log record's severity: 1 error … 5 trace.
type LogLevel uint32

// The levels.
const (
	LogOff LogLevel = iota
	LogError
	LogWarn
	LogInfo
	LogDebug
	LogTrace
)

// LogRecord is one record of the library's log.
type LogRecord struct {
	Level   LogLevel
	Target  string // "scim::server", "scim::access", …
	Message string
}

// SetLogger sends the library's log records at maxLevel and more severe to fn; a nil fn
// (or LogOff) turns logging off, the default. Logging is process wide and replaces any
// earlier logger; the library keeps fn (through a cgo.Handle) until then, and gives it
// back once its last call has returned. fn may be called from any thread, concurrently,
// and must not call SetLogger (ErrWrongState). Errors: ErrWrongState when another Rust
// logger owns the process.
func SetLogger(maxLevel LogLevel, fn func(LogRecord)) error {
	if fn == nil || maxLevel == LogOff {
		return call(func() C.scim_result { return C.go_log_set_callback(0, 0) })
	}
	h := cgo.NewHandle(fn)
	liveLogHandles.Add(1)
	err := call(func() C.scim_result { return C.go_log_set_callback(C.uintptr_t(h), C.uint32_t(maxLevel)) })
	if err != nil {
		// The library kept nothing, so no finalizer will delete the handle.
		h.Delete()
		liveLogHandles.Add(-1)
	}
	return err
}
