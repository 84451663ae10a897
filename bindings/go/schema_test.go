package scim

// The Go types against the one definition of every JSON value of the ABI:
// include/schema/*.json, generated from the library's Rust types. A struct's json tags
// are exactly its schema's properties, and the error kinds and codes are the library's.
// (An internal test: the wire structs of some options are unexported.)

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func loadSchema(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "include", "schema", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// schemaProperties: the property names of an object schema, or of every branch of a
// union, following $ref into $defs.
func schemaProperties(s, defs map[string]any) map[string]bool {
	out := map[string]bool{}
	if ref, ok := s["$ref"].(string); ok {
		return schemaProperties(defs[ref[strings.LastIndex(ref, "/")+1:]].(map[string]any), defs)
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for k := range props {
			out[k] = true
		}
	}
	for _, key := range []string{"oneOf", "anyOf", "allOf"} {
		branches, _ := s[key].([]any)
		for _, b := range branches {
			if m := b.(map[string]any); m["type"] != "null" {
				for k := range schemaProperties(m, defs) {
					out[k] = true
				}
			}
		}
	}
	return out
}

// jsonFields: the names a struct's fields have in JSON (embedded structs flattened).
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			for k := range jsonFields(f.Type) {
				out[k] = true
			}
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" || !f.IsExported() {
			continue
		}
		out[name] = true
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestStructsMatchTheSchemas(t *testing.T) {
	cases := []struct {
		v          any
		schema     string
		definition string // in $defs; "" for the root
		// Properties the Go type leaves out on purpose, each with its reason.
		omitted map[string]string
	}{
		{Config{}, "engine_config", "", nil},
		{ProviderConfig{}, "engine_config", "Config", map[string]string{
			"base_url": "ignored in an engine's configuration: each directory has its own"}},
		{EventRetention{}, "engine_config", "EventRetention", nil},
		{NewDirectory{}, "new_directory", "", nil},
		{DirectorySettings{}, "directory", "DirectorySettings", nil},
		{DirectoryUpdate{}, "directory_update", "", nil},
		{Directory{}, "directory", "", nil},
		{TokenInfo{}, "directory", "TokenInfo", nil},
		{LoginInfo{}, "directory", "LoginInfo", nil},
		{Token{}, "issued_token", "", nil},
		{Event{}, "event", "", nil},
		{EventGroup{}, "event_group", "", nil},
		{EventStats{}, "event_stats", "", nil},
		{Mapping{}, "mapping", "", nil},
		{MappingEntry{}, "mapping_entry", "", nil},
		{Transform{}, "mapping_entry", "Transform", nil},
		{FoundUser{}, "found_user", "FoundUser", nil},
		{OIDCSettings{}, "oidc_settings", "", nil},
		{OIDCConfig{}, "oidc_settings", "OidcConfig", map[string]string{
			"redirect_uri": "the engine sets a directory's own"}},
		{loginStartJSON{}, "login_start", "", nil},
		{Login{}, "login", "", nil},
		{serverOptionsJSON{}, "server_options", "", nil},
		{rateLimitJSON{}, "server_options", "RateLimitJson", nil},
		{adminJSON{}, "server_options", "AdminJson", nil},
	}
	for _, c := range cases {
		typ := reflect.TypeOf(c.v)
		s := loadSchema(t, c.schema)
		defs, _ := s["$defs"].(map[string]any)
		target := s
		if c.definition != "" {
			target = defs[c.definition].(map[string]any)
		}
		want := schemaProperties(target, defs)
		for name := range c.omitted {
			if !want[name] {
				t.Errorf("%s: %q is no longer in the schema: drop it from the omitted list", typ.Name(), name)
			}
			delete(want, name)
		}
		if got := jsonFields(typ); !reflect.DeepEqual(keys(got), keys(want)) {
			t.Errorf("%s: json fields %v, schema %s%s: %v", typ.Name(), keys(got), c.schema, "#"+c.definition, keys(want))
		}
	}
}

func TestErrorKindsMatchTheLibrary(t *testing.T) {
	s := loadSchema(t, "error_kinds")
	seen := 0
	for _, k := range s["kinds"].([]any) {
		k := k.(map[string]any)
		r := Result(k["code"].(float64))
		if r.Kind() != k["kind"] || r.String() != k["result"] {
			t.Errorf("code %d: kind %q, name %s; the library says %v, %v", r, r.Kind(), r, k["kind"], k["result"])
		}
		seen++
	}
	if seen != len(kinds) {
		t.Errorf("the library has %d kinds, this binding %d", seen, len(kinds))
	}
}
