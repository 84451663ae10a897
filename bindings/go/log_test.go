package scim_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	scim "libscim/bindings/go"
)

// collector keeps the warnings about unknown group members a log function receives.
type collector struct {
	mu    sync.Mutex
	lines []string
}

func (c *collector) log(r scim.LogRecord) {
	if r.Target == "scim::provider" && r.Level == scim.LogWarn && strings.Contains(r.Message, "ignoring unknown member") {
		c.mu.Lock()
		c.lines = append(c.lines, r.Message)
		c.mu.Unlock()
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// unknownMember creates a group naming a member that does not exist: the library logs a
// warning (target scim::provider) before Handle returns.
func (f *fixture) unknownMember(t *testing.T, name string) {
	t.Helper()
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":"0000-nobody"}]}`, name)
	if r := f.do(t, "POST", "/Groups", body); r.Status != 201 {
		t.Fatalf("POST /Groups: %d %s", r.Status, r.Body)
	}
}

// The library holds one cgo.Handle per installed logger and the finalizer deletes it
// when SetLogger replaces or clears the logger: none leaks, and records go to the
// current function only.
func TestSetLoggerHandles(t *testing.T) {
	f := newFixture(t)
	defer scim.SetLogger(scim.LogOff, nil)
	if n := scim.LiveLogHandles(); n != 0 {
		t.Fatalf("%d log handles held before the test", n)
	}
	var first, second collector
	if err := scim.SetLogger(scim.LogWarn, first.log); err != nil {
		t.Fatal(err)
	}
	f.unknownMember(t, "one")
	if first.count() != 1 || scim.LiveLogHandles() != 1 {
		t.Fatalf("first logger: %d records, %d handles", first.count(), scim.LiveLogHandles())
	}
	// Replaced: the first handle is deleted before SetLogger returns.
	if err := scim.SetLogger(scim.LogWarn, second.log); err != nil {
		t.Fatal(err)
	}
	if n := scim.LiveLogHandles(); n != 1 {
		t.Fatalf("after replacing: %d handles", n)
	}
	f.unknownMember(t, "two")
	if first.count() != 1 || second.count() != 1 {
		t.Fatalf("after replacing: first %d, second %d records", first.count(), second.count())
	}
	// Cleared, twice: nothing held, nothing delivered.
	for i := 0; i < 2; i++ {
		if err := scim.SetLogger(scim.LogOff, second.log); err != nil {
			t.Fatal(err)
		}
		if n := scim.LiveLogHandles(); n != 0 {
			t.Fatalf("after clearing: %d handles", n)
		}
	}
	f.unknownMember(t, "three")
	if second.count() != 1 {
		t.Fatalf("after clearing: %d records", second.count())
	}
}
