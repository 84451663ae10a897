package scim

/*
#include <stdlib.h>
#include "scim.h"
extern scim_result go_events_subscribe(const scim_engine *engine, const char *id,
                                      uintptr_t handle, scim_subscription **out);
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
)

// Event is one committed change of a directory, in the order of Seq.
type Event struct {
	Seq          uint64          `json:"seq"`
	Kind         string          `json:"kind"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	Time         time.Time       `json:"time"`
	Data         json.RawMessage `json:"data"`
}

// pollSlice bounds each blocking C wait, so a cancelled context or a Close is noticed
// within it.
const pollSlice = 100 * time.Millisecond

// NextEvents waits up to timeout for events of directory dirID not yet delivered and
// returns up to limit of them (none when the timeout passes first). It returns
// ctx.Err() when ctx is done before any event arrived. Delivered events come again
// after a restart until acknowledged with Ack. Safe for concurrent use. It is
// NextGroupEvents for consumer group "default".
func (e *Engine) NextEvents(ctx context.Context, dirID string, limit int, timeout time.Duration) ([]Event, error) {
	return e.NextGroupEvents(ctx, dirID, "", limit, timeout)
}

// NextGroupEvents is NextEvents for consumer group group ("" is "default"): each group
// receives every event, in order, on its own acknowledged cursor. Across engines and
// processes on one database, a group's stream of a directory is leased to one consumer
// at a time (the configuration's "event_lease_ms", default 30000, renewed by every call
// and by AckGroup) and handed again from the acknowledged cursor to the next consumer
// when the holder stops renewing. Errors: ErrNotFound, ErrInvalidArgument (a group name
// longer than 64 bytes or with control characters).
func (e *Engine) NextGroupEvents(ctx context.Context, dirID, group string, limit int, timeout time.Duration) ([]Event, error) {
	if limit <= 0 {
		return nil, argError("limit: must be positive (got %d)", limit)
	}
	deadline := time.Now().Add(timeout)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wait := min(time.Until(deadline), pollSlice)
		if d, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(d))
		}
		wait = max(wait, 0)
		events, err := e.nextEvents(dirID, group, limit, wait)
		if err != nil || len(events) > 0 {
			return events, err
		}
		if !time.Now().Before(deadline) {
			return events, nil
		}
	}
}

func (e *Engine) nextEvents(dirID, group string, limit int, wait time.Duration) ([]Event, error) {
	events := []Event{}
	if group == "" {
		err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
			return jsonCall(&events, func(p **C.char) C.scim_result {
				return C.scim_event_next(eng, s[0], C.size_t(limit), C.uint32_t(wait.Milliseconds()), p)
			})
		}, dirID, "directory id")
		return events, err
	}
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&events, func(p **C.char) C.scim_result {
			return C.scim_event_group_next(eng, s[0], s[1], C.size_t(limit), C.uint32_t(wait.Milliseconds()), p)
		})
	}, dirID, "directory id", group, "group")
	return events, err
}

// Ack acknowledges every event of directory dirID up to seq: applied, never delivered
// again. Errors: ErrNotFound, ErrConflict (seq beyond the last event). It is AckGroup
// for consumer group "default".
func (e *Engine) Ack(dirID string, seq uint64) error {
	return e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return call(func() C.scim_result { return C.scim_event_ack(eng, s[0], C.uint64_t(seq)) })
	}, dirID, "directory id")
}

// AckGroup is Ack for consumer group group: an event is deleted once every group
// acknowledged it. Errors: ErrNotFound, ErrConflict, ErrInvalidArgument (the group name).
func (e *Engine) AckGroup(dirID, group string, seq uint64) error {
	return e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return call(func() C.scim_result { return C.scim_event_group_ack(eng, s[0], s[1], C.uint64_t(seq)) })
	}, dirID, "directory id", group, "group")
}

// EventGroup is one consumer group's position in a directory's outbox.
type EventGroup struct {
	Group string `json:"group"`
	// Acked: every event up to it was applied by the group.
	Acked uint64 `json:"acked"`
	// Delivered: every event up to it was handed to the lease holder.
	Delivered uint64 `json:"delivered"`
	// Owner is the consumer holding the lease ("" when none).
	Owner string `json:"owner"`
	// LeaseUntil is when the lease ends, in milliseconds since the Unix epoch by the
	// store's clock.
	LeaseUntil int64 `json:"lease_until"`
}

// EventGroups lists directory dirID's consumer groups, by name. Errors: ErrNotFound.
func (e *Engine) EventGroups(dirID string) ([]EventGroup, error) {
	out := []EventGroup{}
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result { return C.scim_event_group_list(eng, s[0], p) })
	}, dirID, "directory id")
	return out, err
}

// EventStats is the state of a directory's outbox.
type EventStats struct {
	// LastSeq is the last sequence number handed out (0 before the first event).
	LastSeq uint64 `json:"last_seq"`
	// Acked is the acknowledged cursor.
	Acked uint64 `json:"acked"`
	// Kept is how many events the outbox holds.
	Kept uint64 `json:"kept"`
	// Dropped counts unacknowledged events that retention deleted after the
	// acknowledged cursor: a consumer never receives them.
	Dropped uint64 `json:"dropped"`
}

// EventStats reports directory dirID's outbox. Errors: ErrNotFound.
func (e *Engine) EventStats(dirID string) (EventStats, error) {
	var out EventStats
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result { return C.scim_event_stats_get(eng, s[0], p) })
	}, dirID, "directory id")
	return out, err
}

// Subscription delivers a directory's events to a function as they commit. Close it.
type Subscription struct {
	mu  sync.Mutex
	ptr *C.scim_subscription
	st  *subState
}

// subState is what the library's thread reaches through the integer handle.
type subState struct {
	fn       func([]Event)
	mu       sync.Mutex
	panicked any
}

// Subscribe calls fn with each batch of directory dirID's events, in order, on a thread
// of the library's own (never concurrently with itself). Acknowledge with Ack. fn must
// not call the subscription's Close. A panic in fn is recovered (the batch is lost) and
// Close reports it.
func (e *Engine) Subscribe(dirID string, fn func([]Event)) (*Subscription, error) {
	if fn == nil {
		return nil, argError("fn is nil")
	}
	st := &subState{fn: fn}
	h := cgo.NewHandle(st)
	var ptr *C.scim_subscription
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return call(func() C.scim_result { return C.go_events_subscribe(eng, s[0], C.uintptr_t(h), &ptr) })
	}, dirID, "directory id")
	if err != nil {
		// The library never saw the handle, so no finalizer will delete it.
		h.Delete()
		return nil, err
	}
	sub := &Subscription{ptr: ptr, st: st}
	runtime.SetFinalizer(sub, (*Subscription).Close)
	return sub, nil
}

// Close stops the subscription, waiting for a callback in progress. Idempotent. It
// returns an error when fn panicked.
func (s *Subscription) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr != nil {
		C.scim_subscription_free(s.ptr)
		s.ptr = nil
		runtime.SetFinalizer(s, nil)
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.st.panicked != nil {
		return &Error{Code: ResultPanic, Message: "subscription callback panicked: " + fmtAny(s.st.panicked)}
	}
	return nil
}
