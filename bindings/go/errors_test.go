package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	scim "libscim/bindings/go"
)

// refused checks that err is the *scim.Error of this code: its Kind, its sentinel.
func refused(t *testing.T, what string, err error, sentinel *scim.Error, kind string) {
	t.Helper()
	var e *scim.Error
	if !errors.As(err, &e) || e.Code != sentinel.Code || !errors.Is(err, sentinel) || e.Kind() != kind {
		t.Errorf("%s: %v (want %s, kind %q)", what, err, sentinel.Code, kind)
	}
}

// Which refusal: each failure carries the code and kind the library set.
func TestErrorKinds(t *testing.T) {
	f := newFixture(t)
	_, err := f.engine.Directory("nope")
	refused(t, "unknown directory", err, scim.ErrNotFound, "not_found")
	_, err = f.engine.CreateDirectory(scim.NewDirectory{Name: "Go tests", Domain: "example.com",
		IdP: scim.IdPGeneric, Services: []scim.Service{scim.ServiceUEM}})
	refused(t, "name taken", err, scim.ErrConflict, "conflict")
	_, err = f.engine.IssueToken(f.dir.ID, 25)
	refused(t, "lifespan", err, scim.ErrInvalidArgument, "invalid_argument")
	_, err = f.engine.LoginBegin(context.Background(), f.dir.ID)
	refused(t, "login without OIDC", err, scim.ErrWrongState, "wrong_state")
	_, err = scim.Open("", &scim.Config{SecretsKey: "not hex"})
	refused(t, "malformed secrets key", err, scim.ErrSecretsKey, "secrets_key")
	if errors.Is(err, scim.ErrIO) || errors.Is(err, scim.ErrInvalidArgument) {
		t.Errorf("a bad secrets key is neither IO nor INVALID_ARGUMENT: %v", err)
	}
	_, err = scim.Open(filepath.Join(t.TempDir(), "no", "such", "scim.db"), nil)
	refused(t, "store cannot be opened", err, scim.ErrIO, "io")
	for _, r := range []scim.Result{scim.ResultUnauthenticated, scim.ResultSecretsKey} {
		if want := "SCIM_RESULT_" + strings.ToUpper(r.Kind()); r.String() != want {
			t.Errorf("%d: %s, want %s", r, r.String(), want)
		}
	}
}

// A Go host seals the OIDC client secret with Config.SecretsKey, and the token exchange
// uses it after a restart; an engine with another key, or none, cannot open it.
func TestOIDCSealedClientSecret(t *testing.T) {
	const keyA, keyB = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
	const secret = "go-very-secret-client-secret"
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "scim.db")
	idp := newFakeIdP(t)
	var nonce atomic.Value // the nonce of the login begun, for the ID token
	idp.setExchange(func(form url.Values, clientID, clientSecret string) string {
		n, _ := nonce.Load().(string)
		if clientID != "go-client" || clientSecret != secret || form.Get("code") != "the-code" || n == "" {
			return ""
		}
		return idp.token(t, idp.key, map[string]any{"nonce": n, "email": "ada@example.com", "email_verified": true})
	})

	open := func(key string) *scim.Engine {
		t.Helper()
		e, err := scim.Open(db, &scim.Config{PublicURL: "https://host.example.com", SecretsKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := open(keyA)
	dir, err := e.CreateDirectory(scim.NewDirectory{Name: "Sealed", Domain: "example.com",
		IdP: scim.IdPOkta, Services: []scim.Service{scim.ServiceUEM}, MappingProfile: scim.ProfileRFC})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.IssueToken(dir.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Handle(scim.Request{Method: "POST", Path: "/scim/v2/" + dir.ID + "/Users",
		Header: http.Header{"Authorization": {"Bearer " + tok.Secret}, "Content-Type": {"application/scim+json"}},
		Body: []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com",` +
			`"emails":[{"type":"work","value":"ada@example.com","primary":true}],"active":true}`)})
	if err != nil || r.Status != 201 {
		t.Fatalf("POST /Users: %v %d %s", err, r.Status, r.Body)
	}
	_, err = e.ConfigureOIDC(dir.ID, scim.OIDCSettings{Attribute: "userName", Config: scim.OIDCConfig{
		ClientID: "go-client", ClientSecret: secret, AllowHTTP: true,
		ConfigURL: idp.url + "/.well-known/openid-configuration",
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	// Sealed at rest: the database file does not hold the secret.
	for _, file := range []string{db, db + "-wal"} {
		raw, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), secret) {
			t.Fatalf("%s holds the client secret in the clear", file)
		}
	}

	for _, key := range []string{keyB, ""} {
		other := open(key)
		_, err = other.LoginBegin(ctx, dir.ID)
		refused(t, "login with key "+key, err, scim.ErrSecretsKey, "secrets_key")
		other.Close()
	}

	e = open(keyA)
	defer e.Close()
	start, err := e.LoginBegin(ctx, dir.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(start.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	nonce.Store(u.Query().Get("nonce"))
	login, err := e.LoginComplete(ctx, dir.ID, "the-code", start.State)
	if err != nil {
		t.Fatalf("LoginComplete with the unsealed secret: %v", err)
	}
	if login.Claims["email"] != "ada@example.com" || login.User.ID == "" {
		b, _ := json.Marshal(login)
		t.Fatalf("login: %s", b)
	}
}
