package scim_test

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	scim "libscim/bindings/go"
)

// BenchmarkHandle times Engine.Handle on the request of benches/ffi/scenario.json, the
// one `cargo bench --bench ffi` times through Engine::handle in Rust: the difference is
// what cgo and the binding cost per request. benches/ffi/run.py (`make bench-ffi`) runs
// both and prints it.
func BenchmarkHandle(b *testing.B) {
	raw, err := os.ReadFile("../../benches/ffi/scenario.json")
	if err != nil {
		b.Fatal(err)
	}
	var sc struct {
		Config    scim.Config       `json:"config"`
		Directory scim.NewDirectory `json:"directory"`
		User      json.RawMessage   `json:"user"`
		Request   struct {
			Method, Path, Query string
			Headers             [][2]string
		} `json:"request"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		b.Fatal(err)
	}
	eng, err := scim.Open("", &sc.Config)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	dir, err := eng.CreateDirectory(sc.Directory)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := eng.IssueToken(dir.ID, 0)
	if err != nil {
		b.Fatal(err)
	}
	created, err := eng.Handle(scim.Request{
		Method: "POST", Path: "/scim/v2/" + dir.ID + "/Users",
		Header: http.Header{"Authorization": {"Bearer " + tok.Secret}, "Content-Type": {"application/scim+json"}},
		Body:   sc.User,
	})
	if err != nil || created.Status != http.StatusCreated {
		b.Fatalf("create: %v %d %s", err, created.Status, created.Body)
	}
	var user struct{ ID string }
	if err := json.Unmarshal(created.Body, &user); err != nil {
		b.Fatal(err)
	}
	fill := strings.NewReplacer("{directory}", dir.ID, "{user}", user.ID, "{token}", tok.Secret).Replace
	req := scim.Request{
		Method: fill(sc.Request.Method), Path: fill(sc.Request.Path), Query: fill(sc.Request.Query),
		Header: http.Header{},
	}
	for _, h := range sc.Request.Headers {
		req.Header.Add(fill(h[0]), fill(h[1]))
	}
	// The answer is the user itself: the benchmark measures a real read.
	first, err := eng.Handle(req)
	if err != nil || first.Status != http.StatusOK || !strings.Contains(string(first.Body), user.ID) {
		b.Fatalf("get: %v %d %s", err, first.Status, first.Body)
	}
	b.ReportAllocs()
	// CPU time as the Rust and Python benchmarks measure it (see cpuTimes); this
	// goroutine stays on one thread so that thread's clock is the calls' own.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	thread, process := cpuTimes(b)
	for i := 0; i < b.N; i++ {
		resp, err := eng.Handle(req)
		if err != nil || resp.Status != http.StatusOK {
			b.Fatalf("%v %d", err, resp.Status)
		}
	}
	thread2, process2 := cpuTimes(b)
	b.ReportMetric(float64(thread2-thread)/float64(b.N), "thread-cpu-ns/op")
	b.ReportMetric(float64(process2-process)/float64(b.N), "cpu-ns/op")
}

// cpuTimes is the calling thread's CPU time (what the calls themselves cost, the figure
// the FFI benchmark compares: on a machine shared with other work, wall time mostly
// measures waiting for a core) and the process's (every thread: the Go runtime's
// scheduler and collector too).
func cpuTimes(b *testing.B) (thread, process time.Duration) {
	clock := func(id uintptr) time.Duration {
		var ts syscall.Timespec
		if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, id, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
			b.Fatal(errno)
		}
		return time.Duration(ts.Nano())
	}
	const clockProcessCPUTime, clockThreadCPUTime = 2, 3 // <time.h> on Linux
	return clock(clockThreadCPUTime), clock(clockProcessCPUTime)
}
