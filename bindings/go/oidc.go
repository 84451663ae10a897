package scim

/*
#include "scim.h"
*/
import "C"

import (
	"context"
	"time"
)

// OIDCConfig is a directory's OpenID Connect relying-party configuration; zero
// optional fields take the library's defaults.
type OIDCConfig struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// ConfigURL is the discovery document's URL
	// ("https://idp.example.com/.well-known/openid-configuration").
	ConfigURL string   `json:"config_url"`
	Scopes    []string `json:"scopes,omitempty"`
	// Claim identifies the user ("email" by default; "sub" is safer).
	Claim       string   `json:"claim,omitempty"`
	AllowedAlgs []string `json:"allowed_algs,omitempty"` // "RS256", "PS256", "ES256", …
	// LeewaySecs is the clock skew allowed (nil: 60 s).
	LeewaySecs           *uint32           `json:"leeway_secs,omitempty"`
	ExtraAuthorizeParams map[string]string `json:"extra_authorize_params,omitempty"`
	// AllowHTTP permits http:// URLs: loopback tests only.
	AllowHTTP   bool   `json:"allow_http,omitempty"`
	CABundlePEM string `json:"ca_bundle_pem,omitempty"`
	// RequireEmailVerified (nil: true) requires email_verified with the email claim.
	RequireEmailVerified *bool `json:"require_email_verified,omitempty"`
	// TokenEndpointAuth: "auto" (default), "client_secret_basic", "client_secret_post".
	TokenEndpointAuth string `json:"token_endpoint_auth,omitempty"`
}

// OIDCSettings is a directory's login: the configuration, and the mapped attribute
// the identifying claim must equal ("email" by default, or "externalId", …).
type OIDCSettings struct {
	Config    OIDCConfig `json:"config"`
	Attribute string     `json:"attribute,omitempty"`
}

// LoginStart is a started login: send the browser to AuthorizationURL.
type LoginStart struct {
	AuthorizationURL string
	State            string
	ExpiresAt        time.Time
}

type loginStartJSON struct {
	AuthorizationURL string `json:"authorization_url"`
	State            string `json:"state"`
	ExpiresAt        int64  `json:"expires_at"`
}

// Login is a successful login: the provisioned, active user and the validated claims.
type Login struct {
	User   FoundUser      `json:"user"`
	Claims map[string]any `json:"claims"`
}

// ConfigureOIDC sets directory dirID's OpenID Connect login and returns the directory,
// whose Login holds the redirect URI to register at the IdP. No network I/O.
// Errors: ErrInvalidJSON, ErrInvalidArgument (an http URL without AllowHTTP, …).
func (e *Engine) ConfigureOIDC(dirID string, settings OIDCSettings) (Directory, error) {
	var out Directory
	js, err := jsonString(settings)
	if err != nil {
		return out, err
	}
	err = e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result { return C.scim_oidc_configure(eng, s[0], s[1], p) })
	}, dirID, "directory id", js, "settings")
	return out, err
}

// LoginBegin starts a login. It may fetch the IdP's discovery document. Errors:
// ErrWrongState (no login configured), ErrIdPFailed.
func (e *Engine) LoginBegin(ctx context.Context, dirID string) (LoginStart, error) {
	var raw loginStartJSON
	err := withContext(ctx, &raw, func(out *loginStartJSON) error {
		return e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
			return jsonCall(out, func(p **C.char) C.scim_result { return C.scim_login_begin(eng, s[0], p) })
		}, dirID, "directory id")
	})
	if err != nil {
		return LoginStart{}, err
	}
	return LoginStart{raw.AuthorizationURL, raw.State, time.Unix(raw.ExpiresAt, 0)}, nil
}

// LoginComplete completes a login from the callback's code and state: token exchange,
// ID-token validation, then the provisioned, active user. Errors: ErrLoginRefused
// (see Error.LoginCode), ErrIdPFailed.
func (e *Engine) LoginComplete(ctx context.Context, dirID, code, state string) (Login, error) {
	var out Login
	err := withContext(ctx, &out, func(out *Login) error {
		return e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
			return jsonCall(out, func(p **C.char) C.scim_result { return C.scim_login_complete(eng, s[0], s[1], s[2], p) })
		}, dirID, "directory id", code, "code", state, "state")
	})
	return out, err
}

// ValidateIDToken validates an ID token from the host's own browser flow with the nonce
// it sent (fetching the IdP's keys when needed), then finds the provisioned, active
// user, as LoginComplete.
func (e *Engine) ValidateIDToken(ctx context.Context, dirID, idToken, nonce string) (Login, error) {
	var out Login
	err := withContext(ctx, &out, func(out *Login) error {
		return e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
			return jsonCall(out, func(p **C.char) C.scim_result { return C.scim_id_token_validate(eng, s[0], s[1], s[2], p) })
		}, dirID, "directory id", idToken, "id token", nonce, "nonce")
	})
	return out, err
}

// withContext runs a blocking call that does network I/O so that the caller gets
// ctx.Err() as soon as ctx is done. The C ABI cannot cancel the call: it then goes on
// in the background until the library's own timeouts end it (and Close waits for it);
// its result is dropped.
func withContext[T any](ctx context.Context, out *T, f func(*T) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ctx.Done() == nil {
		return f(out)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.err = f(&r.v)
		done <- r
	}()
	select {
	case r := <-done:
		*out = r.v
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
