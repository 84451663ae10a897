package scim

// The only file with #cgo flags. By default the package links the static library
// (target/release/libscim.a), so a Go binary ships alone; build with
// `-tags libscim_shared` to link target/release/libscim.so instead (then the loader
// must find it: LD_LIBRARY_PATH, an rpath or a system directory).
//
// Build the library first: `cargo build --release --lib` at the repository root.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo !libscim_shared LDFLAGS: ${SRCDIR}/../../target/release/libscim.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
#cgo libscim_shared LDFLAGS: -L${SRCDIR}/../../target/release -lscim

#include <stdint.h>
#include <stdlib.h>
#include "scim.h"

// Declared here, defined by //export in callbacks.go (whose preamble may only declare).
extern void goEventsCallback(void *userdata, char *events_json);
extern void goEventsFinalizer(void *userdata);
extern void goLogCallback(void *userdata, uint32_t level, char *target, char *message);

// Integer handles travel as userdata; the cast happens on the C side so Go never turns
// an integer into an unsafe.Pointer.
scim_result go_events_subscribe(const scim_engine *engine, const char *id,
                                              uintptr_t handle, scim_subscription **out) {
	return scim_events_subscribe(engine, id, (scim_events_callback)goEventsCallback,
	                             (void *)handle, (scim_finalizer)goEventsFinalizer, out);
}

scim_result go_set_log_callback(int enabled, uint32_t max_level) {
	return scim_set_log_callback(enabled ? (scim_log_callback)goLogCallback : NULL, NULL,
	                             max_level);
}
*/
import "C"
