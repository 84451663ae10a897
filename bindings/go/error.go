package scim

/*
#include "scim.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// Result is the status code of a C ABI call (scim_result). Values are grouped: 1xx the
// caller's arguments, 2xx the state of the objects named, 3xx the store or the system,
// 900 a caught panic.
type Result uint32

// The codes of include/scim.h.
const (
	ResultOK              Result = C.SCIM_RESULT_OK
	ResultNullParameter   Result = C.SCIM_RESULT_NULL_PARAMETER
	ResultInvalidUTF8     Result = C.SCIM_RESULT_INVALID_UTF8
	ResultInvalidJSON     Result = C.SCIM_RESULT_INVALID_JSON
	ResultInvalidArgument Result = C.SCIM_RESULT_INVALID_ARGUMENT
	ResultNotFound        Result = C.SCIM_RESULT_NOT_FOUND
	ResultConflict        Result = C.SCIM_RESULT_CONFLICT
	ResultWrongState      Result = C.SCIM_RESULT_WRONG_STATE
	ResultLoginRefused    Result = C.SCIM_RESULT_LOGIN_REFUSED
	ResultUnauthenticated Result = C.SCIM_RESULT_UNAUTHENTICATED
	ResultSecretsKey      Result = C.SCIM_RESULT_SECRETS_KEY
	ResultIO              Result = C.SCIM_RESULT_IO
	ResultInternal        Result = C.SCIM_RESULT_INTERNAL
	ResultIdPFailed       Result = C.SCIM_RESULT_IDP_FAILED
	ResultPanic           Result = C.SCIM_RESULT_PANIC
)

// String is the code's stable name, as scim_result_name gives it ("SCIM_RESULT_NOT_FOUND").
func (r Result) String() string {
	switch r {
	case ResultOK, ResultNullParameter, ResultInvalidUTF8, ResultInvalidJSON,
		ResultInvalidArgument, ResultNotFound, ResultConflict, ResultWrongState,
		ResultLoginRefused, ResultUnauthenticated, ResultSecretsKey, ResultIO,
		ResultInternal, ResultIdPFailed, ResultPanic:
		return C.GoString(C.scim_result_name(C.scim_result(r)))
	}
	return "SCIM_RESULT_" + strconv.FormatUint(uint64(r), 10)
}

// kinds is the library's error kind of each code (include/schema/error_kinds.json, the
// one definition; schema_test.go checks this table against it).
var kinds = map[Result]string{
	ResultNullParameter:   "null_parameter",
	ResultInvalidUTF8:     "invalid_utf8",
	ResultInvalidJSON:     "invalid_json",
	ResultInvalidArgument: "invalid_argument",
	ResultNotFound:        "not_found",
	ResultConflict:        "conflict",
	ResultWrongState:      "wrong_state",
	ResultLoginRefused:    "login_refused",
	ResultUnauthenticated: "unauthenticated",
	ResultSecretsKey:      "secrets_key",
	ResultIO:              "io",
	ResultInternal:        "internal",
	ResultIdPFailed:       "idp_failed",
	ResultPanic:           "panic",
}

// Kind is the library's error kind of the code ("not_found", "secrets_key", …): one
// kind per code; "" for OK or a code this binding does not know.
func (r Result) Kind() string { return kinds[r] }

// Error is a failed libscim call: the code (and so its kind, Kind) and the library's
// message. Use errors.As to get it, or errors.Is with the sentinels below.
type Error struct {
	Code    Result
	Message string
	wrapped error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "libscim: " + e.Code.String()
	}
	return fmt.Sprintf("libscim: %s: %s", e.Code, e.Message)
}

// Kind is the library's error kind of the code ("secrets_key", "not_found", …).
func (e *Error) Kind() string { return e.Code.Kind() }

// LoginCode is the stable reason of a refused login (ErrLoginRefused), the start of
// its message: "not_provisioned", "user_deactivated", "email_not_verified",
// "state_unknown", "expired", …; "" for any other error.
func (e *Error) LoginCode() string {
	if e.Code != ResultLoginRefused {
		return ""
	}
	code, _, _ := strings.Cut(e.Message, ":")
	return code
}

// Unwrap gives ErrClosed for a call on a closed object.
func (e *Error) Unwrap() error { return e.wrapped }

// Is matches the sentinel of the error's code. ErrInvalidArgument also matches the
// other 1xx codes (the caller's mistake: NULL, bad UTF-8, bad JSON) and ErrInternal
// also matches a caught panic.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Message != "" {
		return false
	}
	switch {
	case t.Code == e.Code:
		return true
	case t.Code == ResultInvalidArgument:
		return e.Code >= 100 && e.Code < 200
	case t.Code == ResultInternal:
		return e.Code == ResultPanic
	}
	return false
}

// Sentinels for errors.Is, one per code.
var (
	ErrNullParameter   = &Error{Code: ResultNullParameter}
	ErrInvalidUTF8     = &Error{Code: ResultInvalidUTF8}
	ErrInvalidJSON     = &Error{Code: ResultInvalidJSON}
	ErrInvalidArgument = &Error{Code: ResultInvalidArgument}
	ErrNotFound        = &Error{Code: ResultNotFound}
	ErrConflict        = &Error{Code: ResultConflict}
	ErrWrongState      = &Error{Code: ResultWrongState}
	ErrLoginRefused    = &Error{Code: ResultLoginRefused}
	ErrUnauthenticated = &Error{Code: ResultUnauthenticated}
	ErrSecretsKey      = &Error{Code: ResultSecretsKey}
	ErrIO              = &Error{Code: ResultIO}
	ErrInternal        = &Error{Code: ResultInternal}
	ErrIdPFailed       = &Error{Code: ResultIdPFailed}
	ErrPanic           = &Error{Code: ResultPanic}
)

// ErrClosed is wrapped by the *Error (code WRONG_STATE) a method returns when its
// object was closed.
var ErrClosed = errors.New("libscim: object is closed")

func closedError(what string) error {
	return &Error{Code: ResultWrongState, Message: what + " is closed", wrapped: ErrClosed}
}

func argError(format string, args ...any) error {
	return &Error{Code: ResultInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// call runs one C call and, when it fails, reads scim_last_error on the same OS thread
// (the message is thread-local in the library, and a goroutine may otherwise move to
// another thread between the two calls).
func call(f func() C.scim_result) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := f()
	if r == C.SCIM_RESULT_OK {
		return nil
	}
	return &Error{Code: Result(r), Message: C.GoString(C.scim_last_error())}
}

// ScimError is a SCIM error response (RFC 7644 §3.12): what a client did wrong, as the
// protocol answers it. Response.Err returns it.
type ScimError struct {
	Status   int
	ScimType string // "" when the RFC defines none for the case
	Detail   string
}

func (e *ScimError) Error() string {
	if e.ScimType == "" {
		return fmt.Sprintf("scim: %d: %s", e.Status, e.Detail)
	}
	return fmt.Sprintf("scim: %d %s: %s", e.Status, e.ScimType, e.Detail)
}

func parseScimError(status int, body []byte) *ScimError {
	var b struct {
		ScimType string `json:"scimType"`
		Detail   string `json:"detail"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return &ScimError{Status: status, Detail: string(body)}
	}
	return &ScimError{Status: status, ScimType: b.ScimType, Detail: b.Detail}
}
