package scim_test

// Replays the shared tests/vectors/*.json through Engine.Handle, with the semantics of
// tests/vectors/README.md (tests/vectors.rs is the reference). The vectors target a bare
// provider at https://example.com/scim/v2; through the engine each scenario gets a
// directory (generic IdP, "rfc" mapping profile), its tenant URL as ${base}, its path
// prefix on every request, and its bearer token.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	scim "libscim/bindings/go"
)

// ---- JSON that keeps object key order --------------------------------------------------

// obj is a JSON object with its keys in document order.
type obj struct {
	keys []string
	m    map[string]any
}

func (o *obj) get(k string) (any, bool) { v, ok := o.m[k]; return v, ok }

// parse decodes JSON into nil, bool, json.Number, string, []any and *obj.
func parse(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := parseValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func parseValue(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &obj{m: map[string]any{}}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				v, err := parseValue(d)
				if err != nil {
					return nil, err
				}
				if _, dup := o.m[k]; !dup {
					o.keys = append(o.keys, k)
				}
				o.m[k] = v
			}
			_, err := d.Token()
			return o, err
		case '[':
			a := []any{}
			for d.More() {
				v, err := parseValue(d)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := d.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// encode writes v compactly, objects in key order.
func encode(buf *bytes.Buffer, v any) {
	switch v := v.(type) {
	case *obj:
		buf.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			encode(buf, v.m[k])
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			encode(buf, x)
		}
		buf.WriteByte(']')
	default:
		b, _ := json.Marshal(v)
		buf.Write(b)
	}
}

func compact(v any) string {
	var b bytes.Buffer
	encode(&b, v)
	return b.String()
}

func short(v any) string {
	s := compact(v)
	if r := []rune(s); len(r) > 120 {
		return string(r[:120]) + "…"
	}
	return s
}

// ---- Substitution ----------------------------------------------------------------------

var varName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func subst(s string, vars map[string]string) (string, error) {
	var out strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		out.WriteString(rest[:i])
		after := rest[i+2:]
		end := strings.IndexByte(after, '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		name := after[:end]
		v, ok := vars[name]
		if !ok || !varName.MatchString(name) {
			return "", fmt.Errorf("unknown variable ${%s} in %q", name, s)
		}
		out.WriteString(v)
		rest = after[end+1:]
	}
	out.WriteString(rest)
	return out.String(), nil
}

func substValue(v any, vars map[string]string) (any, error) {
	switch v := v.(type) {
	case string:
		return subst(v, vars)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := substValue(x, vars)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case *obj:
		out := &obj{keys: v.keys, m: map[string]any{}}
		for _, k := range v.keys {
			y, err := substValue(v.m[k], vars)
			if err != nil {
				return nil, err
			}
			out.m[k] = y
		}
		return out, nil
	}
	return v, nil
}

// ---- The matcher -----------------------------------------------------------------------

var typeMatchers = map[string]bool{"$any": true, "$string": true, "$number": true, "$datetime": true}

var rfc3339 = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

func isRFC3339(s string) bool {
	m := rfc3339.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	n := func(i int) int { x, _ := strconv.Atoi(m[i]); return x }
	return n(2) >= 1 && n(2) <= 12 && n(3) >= 1 && n(3) <= 31 && n(4) <= 23 && n(5) <= 59 && n(6) <= 60
}

// arrayMatcher recognises {"$contains": [...]} and {"$unordered": [...]}.
func arrayMatcher(o *obj) (string, []any, bool) {
	if len(o.keys) != 1 {
		return "", nil, false
	}
	k := o.keys[0]
	a, ok := o.m[k].([]any)
	if ok && (k == "$contains" || k == "$unordered") {
		return k, a, true
	}
	return "", nil, false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case *obj:
		return "object"
	}
	return "?"
}

// match subset-matches actual (present says whether it exists) against expected.
func match(expected, actual any, present bool, at string, errs *[]string) {
	loc := at
	if loc == "" {
		loc = "/"
	}
	fail := func(format string, args ...any) { *errs = append(*errs, loc+": "+fmt.Sprintf(format, args...)) }
	if s, ok := expected.(string); ok && typeMatchers[s] {
		if !present {
			fail("missing (expected %s)", s)
			return
		}
		var ok bool
		switch s {
		case "$any":
			ok = actual != nil
		case "$string":
			_, ok = actual.(string)
		case "$number":
			_, ok = actual.(json.Number)
		case "$datetime":
			str, isStr := actual.(string)
			ok = isStr && isRFC3339(str)
		}
		if !ok {
			fail("expected %s, got %s", s, short(actual))
		}
		return
	}
	if !present {
		fail("missing (expected %s)", short(expected))
		return
	}
	switch e := expected.(type) {
	case *obj:
		if kind, items, ok := arrayMatcher(e); ok {
			arr, ok := actual.([]any)
			if !ok {
				fail("expected an array (%s), got %s %s", kind, typeName(actual), short(actual))
				return
			}
			if kind == "$contains" {
				for i, x := range items {
					found := false
					for _, a := range arr {
						if matches(x, a) {
							found = true
							break
						}
					}
					if !found {
						fail("no element matches $contains[%d] %s", i, short(x))
					}
				}
				return
			}
			if len(arr) != len(items) {
				fail("expected %d elements ($unordered), got %d", len(items), len(arr))
				return
			}
			if !unordered(items, arr) {
				fail("elements do not match %s in any order", short(expected))
			}
			return
		}
		a, ok := actual.(*obj)
		if !ok {
			fail("expected an object, got %s %s", typeName(actual), short(actual))
			return
		}
		for _, k := range e.keys {
			if k == "$absent" {
				names, _ := e.m[k].([]any)
				for _, n := range names {
					n, _ := n.(string)
					if v, has := a.get(n); has {
						*errs = append(*errs, fmt.Sprintf("%s/%s: must be absent, got %s", at, n, short(v)))
					}
				}
				continue
			}
			v, has := a.get(k)
			match(e.m[k], v, has, at+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), errs)
		}
	case []any:
		a, ok := actual.([]any)
		if !ok {
			fail("expected an array, got %s %s", typeName(actual), short(actual))
			return
		}
		if len(a) != len(e) {
			fail("expected %d elements, got %d", len(e), len(a))
			return
		}
		for i := range e {
			match(e[i], a[i], true, fmt.Sprintf("%s/%d", at, i), errs)
		}
	case json.Number:
		n, ok := actual.(json.Number)
		ef, _ := e.Float64()
		af, _ := n.Float64()
		if !ok || ef != af {
			fail("expected %s, got %s", e, short(actual))
		}
	default:
		if compact(expected) != compact(actual) || typeName(expected) != typeName(actual) {
			fail("expected %s, got %s", short(expected), short(actual))
		}
	}
}

func matches(expected, actual any) bool {
	var errs []string
	match(expected, actual, true, "", &errs)
	return len(errs) == 0
}

func unordered(expected, actual []any) bool {
	used := make([]bool, len(actual))
	var try func(i int) bool
	try = func(i int) bool {
		if i == len(expected) {
			return true
		}
		for j := range actual {
			if !used[j] && matches(expected[i], actual[j]) {
				used[j] = true
				if try(i + 1) {
					return true
				}
				used[j] = false
			}
		}
		return false
	}
	return try(0)
}

func matchBody(expected any, body []byte) []string {
	if len(body) == 0 {
		return []string{"body: expected JSON, got an empty body"}
	}
	actual, err := parse(body)
	if err != nil {
		return []string{fmt.Sprintf("body: not JSON (%v): %s", err, body)}
	}
	var errs []string
	match(expected, actual, true, "", &errs)
	return errs
}

// jsonPointer resolves an RFC 6901 pointer.
func jsonPointer(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := v.(type) {
		case *obj:
			x, ok := c.get(tok)
			if !ok {
				return nil, false
			}
			v = x
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// ---- Running ---------------------------------------------------------------------------

type scenarioEnv struct {
	engine *scim.Engine
	prefix string // "/scim/v2/<directory id>"
	auth   string
	base   string
}

func newScenarioEnv(t *testing.T, strict bool, cursorTimeout *uint64) *scenarioEnv {
	t.Helper()
	cfg := &scim.Config{PublicURL: "https://example.com"}
	if cursorTimeout != nil {
		cfg.Provider = &scim.ProviderConfig{CursorTimeoutSecs: cursorTimeout}
	}
	eng, err := scim.Open("", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	dir, err := eng.CreateDirectory(scim.NewDirectory{
		Name: "vectors", Domain: "example.com", IdP: scim.IdPGeneric,
		Services: []scim.Service{scim.ServiceUEM}, MappingProfile: scim.ProfileRFC,
		// Resources exactly as the IdP sent them, like the bare provider the vectors
		// were written against: no ws1b domain filled in.
		Settings: scim.DirectorySettings{Strict: strict, FillDomain: &noFill},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := eng.IssueToken(dir.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &scenarioEnv{engine: eng, prefix: "/scim/v2/" + dir.ID, auth: "Bearer " + tok.Secret, base: dir.TenantURL}
}

func str(v any) string { s, _ := v.(string); return s }

func buildRequest(req *obj, vars map[string]string, env *scenarioEnv) (scim.Request, error) {
	var r scim.Request
	var err error
	field := func(k string) string {
		if err != nil {
			return ""
		}
		v, _ := req.get(k)
		var s string
		s, err = subst(str(v), vars)
		return s
	}
	r.Method = field("method")
	r.Path = env.prefix + field("path")
	r.Query = field("query")
	r.Header = http.Header{}
	hasCT := false
	if h, ok := req.m["headers"].(*obj); ok {
		for _, name := range h.keys {
			v, e := subst(str(h.m[name]), vars)
			if e != nil {
				return r, e
			}
			r.Header.Add(name, v)
			hasCT = hasCT || strings.EqualFold(name, "content-type")
		}
	}
	if raw, ok := req.m["raw_body"].(string); ok {
		s, e := subst(raw, vars)
		if e != nil {
			return r, e
		}
		r.Body = []byte(s)
	} else if b, ok := req.m["body"]; ok && b != nil {
		v, e := substValue(b, vars)
		if e != nil {
			return r, e
		}
		r.Body = []byte(compact(v))
	}
	if len(r.Body) > 0 && !hasCT {
		r.Header.Add("Content-Type", "application/scim+json")
	}
	r.Header.Set("Authorization", env.auth)
	return r, err
}

func header(resp *scim.Response, name string) (string, bool) {
	for k, vs := range resp.Header {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

func checkResponse(exp *obj, resp *scim.Response, vars map[string]string) []string {
	var errs []string
	want, _ := exp.m["status"].(json.Number)
	if ws, _ := want.Int64(); int(ws) != resp.Status {
		errs = append(errs, fmt.Sprintf("status: expected %s, got %d", want, resp.Status))
	}
	if h, ok := exp.m["headers"].(*obj); ok {
		for _, name := range h.keys {
			w := str(h.m[name])
			got, has := header(resp, name)
			switch {
			case w == "$absent" && !has, w == "$any" && has:
			case w == "$absent":
				errs = append(errs, fmt.Sprintf("header %s: must be absent, got %q", name, got))
			case !has:
				errs = append(errs, fmt.Sprintf("header %s: missing (expected %q)", name, w))
			default:
				ws, err := subst(w, vars)
				if err != nil {
					errs = append(errs, fmt.Sprintf("header %s: %v", name, err))
				} else if ws != got {
					errs = append(errs, fmt.Sprintf("header %s: expected %q, got %q", name, ws, got))
				}
			}
		}
	}
	if e, _ := exp.m["empty_body"].(bool); e && len(resp.Body) > 0 {
		errs = append(errs, "body: expected empty, got "+string(resp.Body))
	}
	if b, ok := exp.m["body"]; ok && b != nil {
		b, err := substValue(b, vars)
		if err != nil {
			errs = append(errs, "expect.body: "+err.Error())
		} else {
			errs = append(errs, matchBody(b, resp.Body)...)
		}
	}
	return errs
}

func capture(spec *obj, resp *scim.Response, vars map[string]string) []string {
	var errs []string
	body, _ := parse(resp.Body)
	for _, name := range spec.keys {
		src := str(spec.m[name])
		var got string
		var ok bool
		if h, isHeader := strings.CutPrefix(src, "header:"); isHeader {
			got, ok = header(resp, h)
		} else if body != nil {
			var v any
			if v, ok = jsonPointer(body, src); ok {
				if s, isStr := v.(string); isStr {
					got = s
				} else {
					got = compact(v)
				}
			}
		}
		if ok {
			vars[name] = got
		} else {
			errs = append(errs, fmt.Sprintf("capture %s: %s not found in the response", name, src))
		}
	}
	return errs
}

func pretty(body []byte) string {
	if len(body) == 0 {
		return "(empty)"
	}
	var b bytes.Buffer
	if json.Indent(&b, body, "      ", "  ") != nil {
		return string(body)
	}
	return "      " + b.String()
}

// stepFailure is one failing step: its key ("file › step N") and the report.
type stepFailure struct {
	key    string
	errs   []string
	report string
}

// runScenario returns the failing steps, and the number of steps.
func runScenario(t *testing.T, file string, sc *obj) ([]stepFailure, int) {
	name := str(sc.m["name"])
	strict := false
	var cursorTimeout *uint64
	if c, ok := sc.m["config"].(*obj); ok {
		strict, _ = c.m["strict"].(bool)
		if n, ok := c.m["cursor_timeout_secs"].(json.Number); ok {
			v, err := strconv.ParseUint(n.String(), 10, 64)
			if err != nil {
				t.Fatalf("%s: config.cursor_timeout_secs: %v", file, err)
			}
			cursorTimeout = &v
		}
	}
	env := newScenarioEnv(t, strict, cursorTimeout)
	vars := map[string]string{"base": env.base}
	steps, _ := sc.m["steps"].([]any)
	var failures []stepFailure
	fail := func(i int, errs []string, report string) {
		failures = append(failures, stepFailure{fmt.Sprintf("%s › step %d", file, i+1), errs, report})
	}
	for i, s := range steps {
		step := s.(*obj)
		sname := str(step.m["name"])
		if sname == "" {
			sname = fmt.Sprintf("#%d", i+1)
		}
		req, _ := step.m["request"].(*obj)
		exp, _ := step.m["expect"].(*obj)
		if req == nil || exp == nil {
			fail(i, nil, fmt.Sprintf("%s › %s › step %d %q: malformed step", file, name, i+1, sname))
			continue
		}
		r, err := buildRequest(req, vars, env)
		if err != nil {
			fail(i, nil, fmt.Sprintf("%s › %s › step %d %q: cannot build request: %v", file, name, i+1, sname, err))
			continue
		}
		resp, err := env.engine.Handle(r)
		if err != nil {
			fail(i, nil, fmt.Sprintf("%s › %s › step %d %q: Handle: %v", file, name, i+1, sname, err))
			continue
		}
		var errs []string
		if c, ok := step.m["capture"].(*obj); ok {
			errs = append(errs, capture(c, &resp, vars)...)
		}
		errs = append(errs, checkResponse(exp, &resp, vars)...)
		if len(errs) > 0 {
			q := ""
			if r.Query != "" {
				q = "?" + r.Query
			}
			msg := fmt.Sprintf("%s › %s › step %d %q: %s %s%s\n", file, name, i+1, sname, r.Method, r.Path, q)
			for _, e := range errs {
				msg += "    - " + e + "\n"
			}
			msg += fmt.Sprintf("    actual: %d %v\n%s\n", resp.Status, resp.Header, pretty(resp.Body))
			fail(i, errs, msg)
		}
	}
	return failures, len(steps)
}

func vectorFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join("..", "..", "tests", "vectors", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in tests/vectors (%v)", err)
	}
	sort.Strings(files)
	return files
}

var noFill = false

func TestVectors(t *testing.T) {
	var failures []string
	total := 0
	for _, f := range vectorFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sc, ok := v.(*obj)
		if !ok {
			t.Fatalf("%s: not an object", f)
		}
		fails, n := runScenario(t, filepath.Base(f), sc)
		total += n
		for _, fl := range fails {
			failures = append(failures, fl.report)
		}
	}
	sort.Strings(failures)
	t.Logf("%d steps: %d pass, %d fail", total, total-len(failures), len(failures))
	if len(failures) > 0 {
		t.Errorf("%d of %d steps failed:\n\n%s", len(failures), total, strings.Join(failures, "\n"))
	}
}

// The matcher itself, so a matcher bug can't make every vector pass.
func TestVectorMatcher(t *testing.T) {
	j := func(s string) any {
		v, err := parse([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return v
	}
	cases := []struct {
		e, a string
		ok   bool
	}{
		{`{"a":1}`, `{"a":1,"b":2}`, true},
		{`{"a":1}`, `{"b":1}`, false},
		{`{"a":1}`, `{"a":"1"}`, false},
		{`{"n":1}`, `{"n":1.0}`, true},
		{`{"z":null}`, `{}`, false},
		{`{"z":null}`, `{"z":null}`, true},
		{`{"$absent":["p"]}`, `{"p":null}`, false},
		{`{"$absent":["p"]}`, `{"q":1}`, true},
		{`[{"v":1},{"v":2}]`, `[{"v":2},{"v":1}]`, false},
		{`[{"v":1}]`, `[{"v":1},{"v":2}]`, false},
		{`{"$contains":[{"v":2}]}`, `[{"v":1},{"v":2}]`, true},
		{`{"$contains":[{"v":3}]}`, `[{"v":1},{"v":2}]`, false},
		{`{"$unordered":[{"v":2},{"v":1}]}`, `[{"v":1},{"v":2}]`, true},
		{`{"$unordered":[{"v":1},{"v":1}]}`, `[{"v":1},{"v":2}]`, false},
		{`{"a":"$any"}`, `{"a":false}`, true},
		{`{"a":"$any"}`, `{"a":null}`, false},
		{`{"a":"$string"}`, `{"a":1}`, false},
		{`{"a":"$number"}`, `{"a":"3"}`, false},
		{`{"a":"$datetime"}`, `{"a":"2024-05-01T12:00:00.123+02:00"}`, true},
		{`{"a":"$datetime"}`, `{"a":"2024-13-01T12:00:00Z"}`, false},
		{`{"a":"$datetime"}`, `{"a":"2024-05-01T12:00:00"}`, false},
		{`{"t":true}`, `{"t":"true"}`, false},
		{`"abc"`, `"ABC"`, false},
	}
	for _, c := range cases {
		if got := matches(j(c.e), j(c.a)); got != c.ok {
			t.Errorf("match(%s, %s) = %v, want %v", c.e, c.a, got, c.ok)
		}
	}
	vars := map[string]string{"u": "42"}
	if s, err := subst("x/${u}/y", vars); err != nil || s != "x/42/y" {
		t.Errorf("subst: %q %v", s, err)
	}
	if _, err := subst("${nope}", vars); err == nil {
		t.Error("an unknown variable must fail")
	}
	if v, ok := jsonPointer(j(`{"a":[{"b~/":"x"}]}`), "/a/0/b~0~1"); !ok || v != "x" {
		t.Errorf("jsonPointer: %v %v", v, ok)
	}
}
