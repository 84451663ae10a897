package scim

// The functions C calls back. This file's preamble may only declare (cgo's rule for
// files with //export); the helpers that pass these functions to C are in cgo.go.

/*
#include <stdint.h>
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

//export goEventsCallback
func goEventsCallback(userdata unsafe.Pointer, eventsJSON *C.char) {
	st := cgo.Handle(uintptr(userdata)).Value().(*subState)
	var events []Event
	if err := json.Unmarshal([]byte(C.GoString(eventsJSON)), &events); err != nil {
		st.recordPanic(fmt.Errorf("decoding events: %w", err))
		return
	}
	defer func() {
		if p := recover(); p != nil {
			st.recordPanic(p)
		}
	}()
	st.fn(events)
}

//export goEventsFinalizer
func goEventsFinalizer(userdata unsafe.Pointer) {
	cgo.Handle(uintptr(userdata)).Delete()
}

func (st *subState) recordPanic(p any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.panicked == nil {
		st.panicked = p
	}
}

func fmtAny(v any) string { return fmt.Sprint(v) }

// liveLogHandles counts the cgo handles of log functions the library holds (SetLogger
// makes one, goLogFinalizer deletes it), so a test can tell none leaks.
var liveLogHandles atomic.Int64

//export goLogCallback
func goLogCallback(userdata unsafe.Pointer, level C.uint32_t, target, message *C.char) {
	fn := cgo.Handle(uintptr(userdata)).Value().(func(LogRecord))
	defer func() { _ = recover() }() // a panic must not cross into the library's thread
	fn(LogRecord{Level: LogLevel(level), Target: C.GoString(target), Message: C.GoString(message)})
}

// goLogFinalizer is called by the library, once per SetLogger that installed fn, when a
// later SetLogger replaces or clears it (after its last call has returned).
//
//export goLogFinalizer
func goLogFinalizer(userdata unsafe.Pointer) {
	cgo.Handle(uintptr(userdata)).Delete()
	liveLogHandles.Add(-1)
}
