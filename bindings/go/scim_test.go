package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	scim "libscim/bindings/go"
)

// fixture is an engine with one directory (generic IdP, RFC profile) and its token.
type fixture struct {
	engine *scim.Engine
	dir    scim.Directory
	token  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	eng, err := scim.Open("", &scim.Config{PublicURL: "https://host.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	dir, err := eng.CreateDirectory(scim.NewDirectory{
		Name: "Go tests", Domain: "example.com", IdP: scim.IdPGeneric,
		Services: []scim.Service{scim.ServiceUEM}, MappingProfile: scim.ProfileRFC,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := eng.IssueToken(dir.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{engine: eng, dir: dir, token: tok.Secret}
}

func (f *fixture) do(t *testing.T, method, path, body string) scim.Response {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + f.token}}
	if body != "" {
		h.Set("Content-Type", "application/scim+json")
	}
	resp, err := f.engine.Handle(scim.Request{Method: method, Path: "/scim/v2/" + f.dir.ID + path, Header: h, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestVersion(t *testing.T) {
	if v := scim.Version(); !strings.Contains(v, ".") {
		t.Fatalf("version %q", v)
	}
}

func TestDirectoriesAndTokens(t *testing.T) {
	f := newFixture(t)
	if !strings.HasPrefix(f.dir.TenantURL, "https://host.example.com/scim/v2/") || f.dir.IdP != scim.IdPGeneric {
		t.Fatalf("directory %+v", f.dir)
	}
	got, err := f.engine.Directory(f.dir.ID)
	if err != nil || got.Token == nil || got.Token.LifespanMonths != 6 || got.Created.IsZero() {
		t.Fatalf("Directory: %+v %v", got, err)
	}
	domain := "example.org"
	up, err := f.engine.UpdateDirectory(f.dir.ID, scim.DirectoryUpdate{Domain: &domain,
		Settings: &scim.DirectorySettings{EnforceDomain: true}})
	if err != nil || up.Domain != "example.org" || !up.Settings.EnforceDomain {
		t.Fatalf("UpdateDirectory: %+v %v", up, err)
	}
	all, err := f.engine.Directories()
	if err != nil || len(all) != 1 || all[0].ID != f.dir.ID {
		t.Fatalf("Directories: %+v %v", all, err)
	}
	if r := f.do(t, "GET", "/Users", ""); r.Status != 200 {
		t.Fatalf("GET /Users with the token: %d %s", r.Status, r.Body)
	}
	// A new token replaces the old one; a revoked token stops working.
	tok, err := f.engine.IssueToken(f.dir.ID, 12)
	if err != nil || tok.LifespanMonths != 12 || !tok.ExpiresAt.After(tok.IssuedAt) {
		t.Fatalf("IssueToken: %+v %v", tok, err)
	}
	r := f.do(t, "GET", "/Users", "")
	var se *scim.ScimError
	if r.Status != 401 || !errors.As(r.Err(), &se) || se.Status != 401 || se.Detail == "" {
		t.Fatalf("old token: %d %v", r.Status, r.Err())
	}
	f.token = tok.Secret
	if r := f.do(t, "GET", "/Users", ""); r.Status != 200 || r.Err() != nil {
		t.Fatalf("new token: %d %s", r.Status, r.Body)
	}
	if err := f.engine.RevokeToken(f.dir.ID); err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, "GET", "/Users", ""); r.Status != 401 {
		t.Fatalf("revoked token: %d", r.Status)
	}
	if err := f.engine.DeleteDirectory(f.dir.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.Directory(f.dir.ID); !errors.Is(err, scim.ErrNotFound) {
		t.Fatalf("deleted directory: %v", err)
	}
}

func TestScimErrorResponse(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`)
	var se *scim.ScimError
	if !errors.As(r.Err(), &se) || se.Status != 400 || se.ScimType == "" || se.Detail == "" {
		t.Fatalf("POST without userName: %d %v", r.Status, r.Err())
	}
	r = f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`)
	if r.Status != 201 || r.Err() != nil || r.Header.Get("Location") == "" || r.Header.Get("Etag") != `W/"1"` {
		t.Fatalf("POST: %d %v %s", r.Status, r.Header, r.Body)
	}
	r = f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`)
	if !errors.As(r.Err(), &se) || se.Status != 409 || se.ScimType != "uniqueness" {
		t.Fatalf("duplicate: %v", r.Err())
	}
}

// Handle packs every string and the body into one buffer for one cgo call; beyond 32
// headers the C side allocates their array. Non-ASCII text early on shifts every later
// offset: what the library answers shows each part arrived whole.
func TestHandleCarriesEveryPart(t *testing.T) {
	f := newFixture(t)
	h := http.Header{"Authorization": {"Bearer " + f.token}, "Content-Type": {"application/scim+json"}}
	for i := 0; i < 40; i++ {
		h.Add(fmt.Sprintf("X-Extra-%d", i), strings.Repeat("é", i))
	}
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"zoë.名@example.com","name":{"familyName":"名前"}}`
	r, err := f.engine.Handle(scim.Request{Method: "POST", Path: "/scim/v2/" + f.dir.ID + "/Users", Header: h, Body: []byte(body)})
	if err != nil || r.Status != 201 {
		t.Fatalf("POST with 42 headers: %v %d %s", err, r.Status, r.Body)
	}
	var u struct {
		ID       string
		UserName string
		Name     struct{ FamilyName string }
	}
	if err := json.Unmarshal(r.Body, &u); err != nil || u.UserName != "zoë.名@example.com" || u.Name.FamilyName != "名前" {
		t.Fatalf("created: %v %s", err, r.Body)
	}
	if loc := r.Header.Get("Location"); loc != f.dir.TenantURL+"/Users/"+u.ID {
		t.Fatalf("Location %q", loc)
	}
	q := "filter=" + url.QueryEscape(`userName eq "zoë.名@example.com"`)
	r, err = f.engine.Handle(scim.Request{Method: "GET", Path: "/scim/v2/" + f.dir.ID + "/Users", Query: q, Header: h})
	if err != nil || r.Status != 200 || !strings.Contains(string(r.Body), u.ID) {
		t.Fatalf("filter: %v %d %s", err, r.Status, r.Body)
	}
	// No headers, no body: answered (401: no token).
	r, err = f.engine.Handle(scim.Request{Method: "GET", Path: "/scim/v2/" + f.dir.ID + "/Users"})
	if err != nil || r.Status != 401 {
		t.Fatalf("bare request: %v %d", err, r.Status)
	}
}

func TestMisuse(t *testing.T) {
	var e *scim.Error
	_, err := scim.Open("store\x00.db", nil)
	if !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("NUL in path: %v", err)
	}
	_, err = scim.Open("", &scim.Config{Provider: &scim.ProviderConfig{MaxResults: -1}})
	if !errors.As(err, &e) || e.Code != scim.ResultInvalidJSON || e.Message == "" {
		t.Fatalf("negative max_results: %v", err)
	}
	f := newFixture(t)
	_, err = f.engine.CreateDirectory(scim.NewDirectory{Name: "bad/name", Domain: "example.com", IdP: scim.IdPOkta, Services: []scim.Service{scim.ServiceUEM}})
	if !errors.As(err, &e) || e.Code != scim.ResultInvalidArgument || !strings.HasPrefix(e.Message, "name: ") {
		t.Fatalf("bad name: %#v", err)
	}
	if !errors.Is(err, scim.ErrInvalidArgument) || errors.Is(err, scim.ErrNotFound) {
		t.Fatalf("errors.Is on %v", err)
	}
	_, err = f.engine.CreateDirectory(scim.NewDirectory{Name: "Go tests", Domain: "example.com", IdP: scim.IdPGeneric, Services: []scim.Service{scim.ServiceUEM}})
	if !errors.Is(err, scim.ErrConflict) {
		t.Fatalf("name taken: %v", err)
	}
	_, err = f.engine.CreateDirectory(scim.NewDirectory{Name: "x", Domain: "example.com", IdP: "myspace", Services: []scim.Service{scim.ServiceUEM}})
	if !errors.As(err, &e) || e.Code != scim.ResultInvalidJSON || !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("unknown IdP: %v", err)
	}
	if _, err := f.engine.Directory("nope"); !errors.Is(err, scim.ErrNotFound) {
		t.Fatalf("unknown directory: %v", err)
	}
	if _, err := f.engine.IssueToken(f.dir.ID, 25); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("lifespan 25: %v", err)
	}
	if _, err := f.engine.IssueToken("a\x00b", 0); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("NUL in id: %v", err)
	}
	if err := f.engine.Ack(f.dir.ID, 1000); !errors.Is(err, scim.ErrConflict) {
		t.Fatalf("ack beyond the last event: %v", err)
	}
	if _, err := f.engine.NextEvents(context.Background(), "nope", 10, 0); !errors.Is(err, scim.ErrNotFound) {
		t.Fatalf("events of an unknown directory: %v", err)
	}
	if _, err := f.engine.NextEvents(context.Background(), f.dir.ID, 0, 0); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("limit 0: %v", err)
	}
	if _, err := f.engine.StartServer(&scim.ServerOptions{TLSCert: "cert.pem"}); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("tls_cert without key: %v", err)
	}
	if _, err := f.engine.StartServer(&scim.ServerOptions{Listen: "256.0.0.1:1"}); !errors.Is(err, scim.ErrInvalidJSON) {
		t.Fatalf("bad listen address: %v", err)
	}
	if _, err := f.engine.StartServer(&scim.ServerOptions{Admin: &scim.AdminOptions{Credential: "scim_0123456789abcdef0123456789"}}); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("a SCIM token as the admin credential: %v", err)
	}
	// A NUL byte is refused before the call, naming where it is.
	for _, c := range []struct {
		req  scim.Request
		what string
	}{
		{scim.Request{Method: "G\x00T", Path: "/scim/v2/"}, "request method contains a NUL byte"},
		{scim.Request{Method: "GET", Path: "/scim/v2/\x00"}, "request path contains a NUL byte"},
		{scim.Request{Method: "GET", Path: "/scim/v2/", Query: "a=\x00"}, "request query contains a NUL byte"},
		{scim.Request{Method: "GET", Path: "/scim/v2/", Header: http.Header{"A": {"1"}, "X\x00": {"v"}}},
			"request header name contains a NUL byte"},
		{scim.Request{Method: "GET", Path: "/scim/v2/", Header: http.Header{"A": {"1"}, "X": {"v", "w\x00"}}},
			"request header value contains a NUL byte"},
	} {
		var e *scim.Error
		_, err := f.engine.Handle(c.req)
		if !errors.As(err, &e) || e.Code != scim.ResultInvalidArgument || e.Message != c.what {
			t.Fatalf("%q: %#v", c.what, err)
		}
	}
	// A NUL byte in the body is data.
	if r, err := f.engine.Handle(scim.Request{Method: "POST", Path: "/scim/v2/" + f.dir.ID + "/Users", Body: []byte("{\x00}")}); err != nil || r.Status != 401 {
		t.Fatalf("NUL in the body: %v %d", err, r.Status)
	}
	// Refused by the library itself: the code and its message cross from the C side.
	for _, c := range []struct {
		req  scim.Request
		what string
	}{
		{scim.Request{Method: "GET", Path: "/scim/v2/\xff"}, "request.path is not valid UTF-8"},
		{scim.Request{Method: "GET", Path: "/scim/v2/" + f.dir.ID + "/Users", Header: http.Header{"X-Bad": {"\xc3("}}},
			"request.headers[0].value is not valid UTF-8"},
	} {
		_, err := f.engine.Handle(c.req)
		if !errors.As(err, &e) || e.Code != scim.ResultInvalidUTF8 || e.Message != c.what {
			t.Fatalf("%q: %#v, want INVALID_UTF8 %q", c.what, err, c.what)
		}
	}
	if _, err := f.engine.Subscribe(f.dir.ID, nil); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("nil callback: %v", err)
	}
	if _, err := f.engine.Subscribe("nope", func([]scim.Event) {}); !errors.Is(err, scim.ErrNotFound) {
		t.Fatalf("subscribe to an unknown directory: %v", err)
	}
	if s := scim.ResultNotFound.String(); s != "SCIM_RESULT_NOT_FOUND" {
		t.Fatalf("Result.String: %q", s)
	}

	// Close is idempotent; afterwards every method fails with ErrClosed.
	if err := f.engine.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = f.engine.Directory(f.dir.ID)
	if !errors.Is(err, scim.ErrClosed) || !errors.Is(err, scim.ErrWrongState) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := f.engine.Handle(scim.Request{Method: "GET", Path: "/"}); !errors.Is(err, scim.ErrClosed) {
		t.Fatalf("Handle after Close: %v", err)
	}
	rec := httptest.NewRecorder()
	f.engine.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/scim/v2/x/Users", nil))
	if rec.Code != 503 {
		t.Fatalf("handler after Close: %d", rec.Code)
	}
}

// The http.Handler adapter on a real mux under httptest, 64 goroutines at once, each
// creating, reading, patching, listing and deleting its own user.
func TestHandlerConcurrent(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", f.engine.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/scim/v2/" + f.dir.ID
	client := srv.Client()

	do := func(method, url, body string) (int, http.Header, []byte, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, url, rd)
		if err != nil {
			return 0, nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+f.token)
		if body != "" {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b, err
	}

	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			check := func(what string, status, want int, body []byte, err error) bool {
				if err == nil && status == want {
					return true
				}
				errs <- fmt.Errorf("goroutine %d: %s: status %d (want %d), %v: %s", i, what, status, want, err, body)
				return false
			}
			user := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d@example.com","active":true}`, i)
			st, h, b, err := do("POST", base+"/Users", user)
			if !check("POST", st, 201, b, err) {
				return
			}
			if h.Get("Content-Type") != "application/scim+json" {
				errs <- fmt.Errorf("goroutine %d: content type %q", i, h.Get("Content-Type"))
			}
			var u struct {
				ID       string `json:"id"`
				UserName string `json:"userName"`
			}
			if err := json.Unmarshal(b, &u); err != nil || u.ID == "" {
				errs <- fmt.Errorf("goroutine %d: created body %s: %v", i, b, err)
				return
			}
			st, _, b, err = do("GET", base+"/Users/"+u.ID, "")
			if !check("GET", st, 200, b, err) {
				return
			}
			patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
			st, _, b, err = do("PATCH", base+"/Users/"+u.ID, patch)
			if !check("PATCH", st, 200, b, err) {
				return
			}
			st, _, b, err = do("GET", base+"/Users?filter=userName%20eq%20%22"+u.UserName+"%22", "")
			if !check("filter", st, 200, b, err) {
				return
			}
			if !strings.Contains(string(b), `"totalResults":1`) {
				errs <- fmt.Errorf("goroutine %d: filter: %s", i, b)
			}
			st, _, b, err = do("DELETE", base+"/Users/"+u.ID, "")
			check("DELETE", st, 204, b, err)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The mux still serves the host's own routes, and the engine its discovery.
	if st, _, b, err := do("GET", srv.URL+"/healthz", ""); st != 200 || string(b) != "ok" || err != nil {
		t.Errorf("healthz: %d %s %v", st, b, err)
	}
	if st, _, b, err := do("GET", base+"/ServiceProviderConfig", ""); st != 200 || err != nil {
		t.Errorf("ServiceProviderConfig: %d %s %v", st, b, err)
	}
	if st, _, _, _ := do("GET", base+"/Users?count=0", ""); st != 200 {
		t.Errorf("list: %d", st)
	}
}

func TestEventGroups(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Both groups exist before the event: each receives it, on its own cursor.
	for _, g := range []string{"audit", "sync"} {
		if err := f.engine.AckGroup(f.dir.ID, g, 0); err != nil {
			t.Fatal(err)
		}
	}
	r := f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"grp"}`)
	if r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	audit, err := f.engine.NextGroupEvents(ctx, f.dir.ID, "audit", 100, time.Second)
	if err != nil || len(audit) == 0 || audit[len(audit)-1].Kind != "user.created" {
		t.Fatalf("audit: %+v %v", audit, err)
	}
	last := audit[len(audit)-1].Seq
	if err := f.engine.AckGroup(f.dir.ID, "audit", last); err != nil {
		t.Fatal(err)
	}
	sync, err := f.engine.NextGroupEvents(ctx, f.dir.ID, "sync", 100, time.Second)
	if err != nil || len(sync) != len(audit) || sync[len(sync)-1].Seq != last {
		t.Fatalf("sync: %+v %v", sync, err)
	}
	groups, err := f.engine.EventGroups(f.dir.ID)
	if err != nil || len(groups) != 2 || groups[0].Group != "audit" || groups[0].Acked != last ||
		groups[1].Group != "sync" || groups[1].Acked >= last || groups[1].Owner == "" {
		t.Fatalf("groups: %+v %v", groups, err)
	}
	if err := f.engine.AckGroup(f.dir.ID, "sync", 1000); !errors.Is(err, scim.ErrConflict) {
		t.Fatalf("ack past the end: %v", err)
	}
	if _, err := f.engine.NextGroupEvents(ctx, f.dir.ID, "bad\tname", 10, 0); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("bad group name: %v", err)
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Nothing yet: the timeout passes and the result is empty.
	start := time.Now()
	evs, err := f.engine.NextEvents(ctx, f.dir.ID, 10, 150*time.Millisecond)
	if err != nil || len(evs) != 0 || time.Since(start) < 140*time.Millisecond {
		t.Fatalf("empty: %v %v after %v", evs, err, time.Since(start))
	}
	// A waiting consumer wakes up when a change commits.
	got := make(chan []scim.Event, 1)
	go func() {
		evs, err := f.engine.NextEvents(ctx, f.dir.ID, 10, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- evs
	}()
	time.Sleep(50 * time.Millisecond)
	r := f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ev"}`)
	if r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	var id struct{ ID string }
	json.Unmarshal(r.Body, &id)
	var evs1 []scim.Event
	select {
	case evs1 = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	if len(evs1) == 0 || evs1[0].ResourceID != id.ID || evs1[0].Seq == 0 || evs1[0].Kind == "" ||
		evs1[0].ResourceType == "" || evs1[0].Time.IsZero() || len(evs1[0].Data) == 0 {
		t.Fatalf("events: %+v", evs1)
	}
	last := evs1[len(evs1)-1].Seq
	if err := f.engine.Ack(f.dir.ID, last); err != nil {
		t.Fatal(err)
	}
	// Delivered events are not delivered again.
	evs, err = f.engine.NextEvents(ctx, f.dir.ID, 10, 0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("after ack: %+v %v", evs, err)
	}

	// A cancelled context ends a long wait promptly.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	_, err = f.engine.NextEvents(cctx, f.dir.ID, 10, time.Minute)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Fatalf("cancel: %v after %v", err, time.Since(start))
	}
	dctx, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if _, err := f.engine.NextEvents(dctx, f.dir.ID, 10, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}

	// Close waits for a wait in progress, which then fails with ErrClosed.
	done := make(chan error, 1)
	go func() {
		_, err := f.engine.NextEvents(ctx, f.dir.ID, 10, time.Minute)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	f.engine.Close()
	select {
	case err := <-done:
		if !errors.Is(err, scim.ErrClosed) {
			t.Fatalf("wait across Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("NextEvents did not return after Close")
	}
}

func TestSubscribe(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var seen []scim.Event
	arrived := make(chan struct{}, 16)
	sub, err := f.engine.Subscribe(f.dir.ID, func(evs []scim.Event) {
		mu.Lock()
		seen = append(seen, evs...)
		mu.Unlock()
		arrived <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"sub"}`)
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("no batch within 5 s")
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[0].Seq == 0 {
		t.Fatalf("seen %+v", seen)
	}
	if err := f.engine.Ack(f.dir.ID, seen[len(seen)-1].Seq); err != nil {
		t.Fatal(err)
	}

	// A panicking callback does not take the process down; Close reports it.
	boom := make(chan struct{}, 16)
	sub, err = f.engine.Subscribe(f.dir.ID, func([]scim.Event) {
		boom <- struct{}{}
		panic("boom")
	})
	if err != nil {
		t.Fatal(err)
	}
	f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"sub2"}`)
	select {
	case <-boom:
	case <-time.After(5 * time.Second):
		t.Fatal("no batch within 5 s")
	}
	if err := sub.Close(); !errors.Is(err, scim.ErrPanic) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panicking callback: %v", err)
	}
}

func TestServer(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var records []scim.LogRecord
	if err := scim.SetLogger(scim.LogInfo, func(r scim.LogRecord) {
		mu.Lock()
		records = append(records, r)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	defer scim.SetLogger(scim.LogOff, nil)
	srv, err := f.engine.StartServer(&scim.ServerOptions{Listen: "127.0.0.1:0", ShutdownGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Addr()
	if err != nil || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Addr: %q %v", addr, err)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/scim/v2/"+f.dir.ID+"/ServiceProviderConfig", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Addr(); !errors.Is(err, scim.ErrClosed) {
		t.Fatalf("Addr after Stop: %v", err)
	}
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the server still answers after Stop")
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, r := range records {
		found = found || (r.Level == scim.LogInfo && r.Target == "scim::server" && strings.Contains(r.Message, addr))
	}
	if !found {
		t.Fatalf("no 'listening on' record among %+v", records)
	}
}

func TestEventRetention(t *testing.T) {
	maxCount, noAge := uint64(2), uint64(0)
	eng, err := scim.Open("", &scim.Config{Events: &scim.EventRetention{MaxCount: &maxCount, MaxAgeSecs: &noAge}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	dir, err := eng.CreateDirectory(scim.NewDirectory{
		Name: "Kept", Domain: "example.com", IdP: scim.IdPGeneric,
		Services: []scim.Service{scim.ServiceUEM}, MappingProfile: scim.ProfileRFC,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := eng.IssueToken(dir.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{engine: eng, dir: dir, token: tok.Secret}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if r := f.do(t, "POST", "/Users", `{"userName":"`+n+`@example.com"}`); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}
	// An acknowledgement runs retention: #1 is deleted, #2 and #3 are dropped.
	if err := eng.Ack(dir.ID, 1); err != nil {
		t.Fatal(err)
	}
	stats, err := eng.EventStats(dir.ID)
	want := scim.EventStats{LastSeq: 5, Acked: 1, Kept: 2, Dropped: 2}
	if err != nil || stats != want {
		t.Fatalf("stats: %+v %v, want %+v", stats, err, want)
	}
	evs, err := eng.NextEvents(context.Background(), dir.ID, 10, 0)
	if err != nil || len(evs) != 2 || evs[0].Seq != 4 {
		t.Fatalf("events: %+v %v", evs, err)
	}
	if _, err := eng.EventStats("nope"); !errors.Is(err, scim.ErrNotFound) {
		t.Fatalf("unknown directory: %v", err)
	}
}
