package scim

/*
#include "scim.h"
extern scim_result go_set_log_callback(int enabled, uint32_t max_level);
*/
import "C"

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
// earlier logger. fn may be called from any thread, concurrently, and must not call
// SetLogger. Errors: ErrWrongState when another Rust logger owns the process.
func SetLogger(maxLevel LogLevel, fn func(LogRecord)) error {
	enabled := C.int(0)
	if fn != nil && maxLevel != LogOff {
		logger.Store(&fn)
		enabled = 1
	}
	err := call(func() C.scim_result { return C.go_set_log_callback(enabled, C.uint32_t(maxLevel)) })
	if enabled == 0 || err != nil {
		logger.Store(nil)
	}
	return err
}
