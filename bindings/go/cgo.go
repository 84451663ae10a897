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

// Integer handles travel as userdata; the cast happens on the C side so Go never turns
// an integer into an unsafe.Pointer.
scim_result go_events_subscribe(const scim_engine *engine, const char *id,
                                              uintptr_t handle, scim_subscription **out) {
	return scim_subscription_start(engine, id, (scim_event_callback)goEventsCallback,
	                             (void *)handle, (scim_finalizer)goEventsFinalizer, out);
}

// Engine.Handle in one cgo call: the request's strings lie back to back in the Go buffer
// `blob`, string i from offs[i] to offs[i + 1] (method, path, query, then name and value
// per header; the last offset is where the body starts); the scim_request and its
// headers are built here and the answer's view is written to *view_out. The response is
// the caller's to free. Headers beyond what the stack array holds take one malloc
// (INTERNAL if it fails).
scim_result go_handle(const scim_engine *engine, const char *blob, const size_t *offs,
                      size_t headers_len, size_t body_len,
                      scim_response **response_out, scim_response_view *view_out) {
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
	scim_result r = scim_request_handle(engine, &request, response_out, view_out);
	if (headers != on_stack) free(headers);
	return r;
}

scim_result go_set_log_callback(int enabled, uint32_t max_level) {
	return scim_set_log_callback(enabled ? (scim_log_callback)goLogCallback : NULL, NULL,
	                             max_level);
}
*/
import "C"
