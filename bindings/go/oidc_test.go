package scim_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	scim "libscim/bindings/go"
)

// fakeIdP is a loopback OpenID provider: discovery and JWKS, and a signer of ID tokens.
type fakeIdP struct {
	srv *httptest.Server
	url string // set before the server starts, so handlers read it race-free
	key *rsa.PrivateKey
	mu  sync.Mutex
	// exchange, when set (setExchange), answers the token endpoint: the ID token for the
	// request's form and client credentials, or "" to refuse them (401 invalid_client).
	exchange func(form url.Values, clientID, clientSecret string) string
}

func (idp *fakeIdP) setExchange(f func(form url.Values, clientID, clientSecret string) string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.exchange = f
}

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &fakeIdP{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		u := idp.url
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		idp.mu.Lock()
		exchange := idp.exchange
		idp.mu.Unlock()
		if err := r.ParseForm(); err != nil || exchange == nil {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		tok := exchange(r.PostForm, id, secret)
		if tok == "" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "id_token": tok})
	})
	idp.srv = httptest.NewUnstartedServer(mux)
	idp.url = "http://" + idp.srv.Listener.Addr().String()
	idp.srv.Start()
	t.Cleanup(idp.srv.Close)
	return idp
}

// token signs an ID token for client "go-client" with these claims over the defaults.
func (idp *fakeIdP) token(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	now := time.Now().Unix()
	c := map[string]any{"iss": idp.url, "aud": "go-client", "sub": "00u1", "iat": now, "exp": now + 300}
	for k, v := range claims {
		c[k] = v
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + enc(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestOIDC(t *testing.T) {
	f := newFixture(t)
	idp := newFakeIdP(t)
	ctx := context.Background()
	var e *scim.Error

	r := f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","active":true}`)
	if r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	var ada struct{ ID string }
	json.Unmarshal(r.Body, &ada)

	if _, err := f.engine.LoginBegin(ctx, f.dir.ID); !errors.Is(err, scim.ErrWrongState) {
		t.Fatalf("login before configuring: %v", err)
	}
	settings := scim.OIDCSettings{Attribute: "userName", Config: scim.OIDCConfig{
		ClientID: "go-client", ClientSecret: "s3cret",
		ConfigURL: idp.url + "/.well-known/openid-configuration",
	}}
	if _, err := f.engine.ConfigureOIDC(f.dir.ID, settings); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("http without AllowHTTP: %v", err)
	}
	settings.Config.AllowHTTP = true
	dir, err := f.engine.ConfigureOIDC(f.dir.ID, settings)
	if err != nil || dir.Login == nil || !strings.Contains(dir.Login.RedirectURI, "/callback") || dir.Login.ClientID != "go-client" {
		t.Fatalf("ConfigureOIDC: %+v %v", dir.Login, err)
	}

	start, err := f.engine.LoginBegin(ctx, f.dir.ID)
	if err != nil || !strings.HasPrefix(start.AuthorizationURL, idp.url+"/authorize?") ||
		!strings.Contains(start.AuthorizationURL, "state="+start.State) || !start.ExpiresAt.After(time.Now()) {
		t.Fatalf("LoginBegin: %+v %v", start, err)
	}

	// A valid ID token finds the provisioned user.
	tok := idp.token(t, idp.key, map[string]any{"nonce": "n-1", "email": "ada@example.com", "email_verified": true})
	login, err := f.engine.ValidateIDToken(ctx, f.dir.ID, tok, "n-1")
	if err != nil || login.User.ID != ada.ID || login.Claims["email"] != "ada@example.com" || len(login.User.Resource) == 0 {
		t.Fatalf("ValidateIDToken: %+v %v", login, err)
	}
	// Refusals carry a stable code.
	refused := func(what, token, nonce, code string) {
		t.Helper()
		_, err := f.engine.ValidateIDToken(ctx, f.dir.ID, token, nonce)
		if !errors.As(err, &e) || !errors.Is(err, scim.ErrLoginRefused) || (code != "" && e.LoginCode() != code) || e.LoginCode() == "" {
			t.Errorf("%s: %v (code %q)", what, err, e.LoginCode())
		}
	}
	refused("wrong nonce", tok, "n-2", "")
	refused("unknown user", idp.token(t, idp.key, map[string]any{"nonce": "n", "email": "bob@example.com", "email_verified": true}), "n", "not_provisioned")
	refused("email not verified", idp.token(t, idp.key, map[string]any{"nonce": "n", "email": "ada@example.com"}), "n", "email_not_verified")
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	refused("foreign key", idp.token(t, other, map[string]any{"nonce": "n", "email": "ada@example.com", "email_verified": true}), "n", "")
	refused("expired", idp.token(t, idp.key, map[string]any{"nonce": "n", "email": "ada@example.com", "email_verified": true,
		"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()}), "n", "expired")
	r = f.do(t, "PATCH", "/Users/"+ada.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
	if r.Status != 200 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	refused("deactivated", idp.token(t, idp.key, map[string]any{"nonce": "n", "email": "ada@example.com", "email_verified": true}), "n", "user_deactivated")

	if _, err := f.engine.LoginComplete(ctx, f.dir.ID, "code", "forged-state"); !errors.As(err, &e) || e.LoginCode() != "state_unknown" {
		t.Fatalf("forged state: %v", err)
	}
	if _, err := f.engine.LoginBegin(ctx, "nope"); !errors.Is(err, scim.ErrNotFound) {
		t.Fatalf("unknown directory: %v", err)
	}
}

// A context ends the wait for an IdP that does not answer.
func TestOIDCContext(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	defer slow.Close()
	defer close(release) // let the library's call finish before the engine closes
	_, err := f.engine.ConfigureOIDC(f.dir.ID, scim.OIDCSettings{Attribute: "userName", Config: scim.OIDCConfig{
		ClientID: "c", ClientSecret: "s", ConfigURL: slow.URL + "/.well-known/openid-configuration", AllowHTTP: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = f.engine.LoginBegin(ctx, f.dir.ID)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("LoginBegin against a silent IdP: %v after %v", err, time.Since(start))
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := f.engine.ValidateIDToken(cancelled, f.dir.ID, "x.y.z", "n"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestMappings(t *testing.T) {
	f := newFixture(t)
	all, err := f.engine.Mappings(f.dir.ID)
	m, ok := all[scim.ServiceUEM]
	if err != nil || !ok || m.Profile != scim.ProfileRFC || len(m.Users) == 0 {
		t.Fatalf("Mappings: %+v %v", all, err)
	}
	m, err = f.engine.SetMappingEntry(f.dir.ID, scim.ServiceUEM, scim.KindUsers, scim.MappingEntry{
		Target: "email", Source: `emails[type eq "work"].value`, Transform: &scim.Transform{Kind: "lowercase"},
	})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range m.Users {
		found = found || (e.Target == "email" && e.Transform != nil && e.Transform.Kind == "lowercase")
	}
	if !found {
		t.Fatalf("entry not set: %+v", m.Users)
	}
	if _, err := f.engine.SetMappingEntry(f.dir.ID, scim.ServiceUEM, "devices", scim.MappingEntry{Target: "x", Source: "userName"}); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("bad kind: %v", err)
	}
	r := f.do(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada","emails":[{"type":"work","value":"ADA@Example.com"}]}`)
	if r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	u, err := f.engine.FindUser(f.dir.ID, scim.ServiceUEM, "email", "ada@example.com")
	if err != nil || u == nil || !strings.Contains(string(u.Record), `"email":"ada@example.com"`) {
		t.Fatalf("FindUser: %+v %v", u, err)
	}
	if u, err := f.engine.FindUser(f.dir.ID, scim.ServiceUEM, "email", "nobody@example.com"); err != nil || u != nil {
		t.Fatalf("FindUser (none): %+v %v", u, err)
	}
	if n, err := f.engine.ResyncMappings(f.dir.ID); err != nil || n != 1 {
		t.Fatalf("ResyncMappings: %d %v", n, err)
	}
	m, err = f.engine.RemoveMappingEntry(f.dir.ID, scim.ServiceUEM, scim.KindUsers, "email")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Users {
		if e.Target == "email" {
			t.Fatal("entry not removed")
		}
	}
	if _, err := f.engine.RemoveMappingEntry(f.dir.ID, scim.ServiceUEM, scim.KindUsers, "userName"); !errors.Is(err, scim.ErrInvalidArgument) {
		t.Fatalf("removing a required entry: %v", err)
	}
}
