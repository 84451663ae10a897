package scim

// The only file with #cgo flags. The package links the library in its own lib/
// directory, which `go generate` fills (generate.go): by default the static library
// (lib/libscim.a), so a Go binary ships alone; with `-tags libscim_shared` the shared one
// (lib/libscim.so), found at run time through an rpath to lib/ (or LD_LIBRARY_PATH, a
// system directory).

/*
#cgo CFLAGS: -I${SRCDIR}/lib
#cgo !libscim_shared LDFLAGS: ${SRCDIR}/lib/libscim.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
#cgo libscim_shared LDFLAGS: -L${SRCDIR}/lib -lscim -Wl,-rpath,${SRCDIR}/lib

#include <stdint.h>
#include <stdlib.h>
#include "scim.h"

// Declared here, defined by //export in callbacks.go (whose preamble may only declare).
extern void goEventsCallback(void *userdata, char *events_json);
extern void goEventsFinalizer(void *userdata);
extern void goLogCallback(void *userdata, uint32_t level, char *target, char *message);
extern void goLogFinalizer(void *userdata);

// Integer handles travel as userdata; the cast happens on the C side so Go never turns
// an integer into an unsafe.Pointer.
scim_result go_events_subscribe(const scim_engine *engine, const char *id,
                                              uintptr_t handle, scim_subscription **out) {
	return scim_subscription_start(engine, id, (scim_event_callback)goEventsCallback,
	                             (void *)handle, (scim_finalizer)goEventsFinalizer, out);
}

// handle 0: logging off. Otherwise the library keeps the handle until it replaces or
// clears the callback, then gives it to goLogFinalizer, which deletes it.
scim_result go_log_set_callback(uintptr_t handle, uint32_t max_level) {
	if (handle == 0) return scim_log_set_callback(NULL, NULL, NULL, 0);
	return scim_log_set_callback((scim_log_callback)goLogCallback, (void *)handle,
	                             (scim_finalizer)goLogFinalizer, max_level);
}
*/
import "C"
