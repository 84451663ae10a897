package scim

/*
#include <stdlib.h>
#include "scim.h"
*/
import "C"

import (
	"encoding/json"
	"math"
	"time"
	"unsafe"
)

// IdP is the identity provider a directory is connected to.
type IdP string

// The identity providers.
const (
	IdPOkta    IdP = "okta"
	IdPEntra   IdP = "entra"
	IdPGeneric IdP = "generic"
)

// Service is a downstream service a directory feeds.
type Service string

// The services.
const (
	ServiceUEM    Service = "uem"
	ServiceAccess Service = "access"
)

// MappingProfile is the attribute mapping a directory's services start from.
type MappingProfile string

// The built-in mapping profiles; "" takes the IdP's default (WorkspaceOne for Okta and
// Entra, RFC for a generic IdP).
const (
	ProfileWorkspaceOne MappingProfile = "workspace-one"
	ProfileRFC          MappingProfile = "rfc"
)

// DirectorySettings is a directory's behaviour.
type DirectorySettings struct {
	// EnforceDomain rejects a userName or work email outside the directory's domain.
	EnforceDomain bool `json:"enforce_domain"`
	// Strict rejects unknown attributes and schema URNs instead of ignoring them.
	Strict bool `json:"strict"`
	// FillDomain gives users and groups created or replaced without a ws1b domain the
	// directory's; nil keeps the library default (on).
	FillDomain *bool `json:"fill_domain,omitempty"`
}

// NewDirectory is what CreateDirectory needs.
type NewDirectory struct {
	Name           string            `json:"name"`
	Domain         string            `json:"domain"`
	IdP            IdP               `json:"idp"`
	Services       []Service         `json:"services"`
	Settings       DirectorySettings `json:"settings"`
	MappingProfile MappingProfile    `json:"mapping_profile,omitempty"`
}

// DirectoryUpdate holds what UpdateDirectory changes; nil fields stay as they are.
type DirectoryUpdate struct {
	Domain   *string            `json:"domain,omitempty"`
	Services []Service          `json:"services,omitempty"`
	Settings *DirectorySettings `json:"settings,omitempty"`
}

// TokenInfo describes a directory's token (never its secret).
type TokenInfo struct {
	IssuedAt       time.Time `json:"issued_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	LifespanMonths int       `json:"lifespan_months"`
}

// Token is a newly issued token: the only time its secret is available.
type Token struct {
	Secret string `json:"secret"`
	TokenInfo
}

// Directory is one IdP integration: its own users, groups, token and settings.
type Directory struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Domain   string            `json:"domain"`
	IdP      IdP               `json:"idp"`
	Services []Service         `json:"services"`
	Settings DirectorySettings `json:"settings"`
	Created  time.Time         `json:"created"`
	// Token is the current token, nil when none was issued or it was revoked.
	Token *TokenInfo `json:"token"`
	// TenantURL is the SCIM base URL to give the IdP.
	TenantURL string `json:"tenant_url"`
	// Login is the OpenID Connect login, nil until ConfigureOIDC.
	Login *LoginInfo `json:"login"`
}

// LoginInfo is what an admin sees of a directory's OpenID Connect login (no secret).
type LoginInfo struct {
	ClientID  string `json:"client_id"`
	ConfigURL string `json:"config_url"`
	Claim     string `json:"claim"`
	Attribute string `json:"attribute"`
	// RedirectURI is the sign-in redirect URI to register at the IdP.
	RedirectURI string `json:"redirect_uri"`
	// LoginURL is where a browser starts a login.
	LoginURL string `json:"login_url"`
}

// CreateDirectory creates a directory. Errors: ErrInvalidArgument (a rule; the message
// names the field), ErrConflict (name taken).
func (e *Engine) CreateDirectory(d NewDirectory) (Directory, error) {
	var out Directory
	js, err := json.Marshal(d)
	if err != nil {
		return out, argError("directory: %v", err)
	}
	err = e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result { return C.scim_directory_create(eng, s[0], p) })
	}, string(js), "directory")
	return out, err
}

// Directory returns directory id. Errors: ErrNotFound.
func (e *Engine) Directory(id string) (Directory, error) {
	var out Directory
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result { return C.scim_directory_get(eng, s[0], p) })
	}, id, "id")
	return out, err
}

// Directories returns every directory in creation order.
func (e *Engine) Directories() ([]Directory, error) {
	var out []Directory
	err := e.with(func(eng *C.scim_engine) error {
		return jsonCall(&out, func(p **C.char) C.scim_result { return C.scim_directory_list(eng, p) })
	})
	return out, err
}

// UpdateDirectory changes a directory's domain, services or settings.
func (e *Engine) UpdateDirectory(id string, u DirectoryUpdate) (Directory, error) {
	var out Directory
	js, err := json.Marshal(u)
	if err != nil {
		return out, argError("update: %v", err)
	}
	err = e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result { return C.scim_directory_update(eng, s[0], s[1], p) })
	}, id, "id", string(js), "update")
	return out, err
}

// DeleteDirectory deletes a directory with its users, groups and events.
func (e *Engine) DeleteDirectory(id string) error {
	return e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return call(func() C.scim_result { return C.scim_directory_delete(eng, s[0]) })
	}, id, "id")
}

// IssueToken issues a new bearer token for directory id, valid lifespanMonths (1–24; 0
// for the default, 6). The previous token stops working at once.
func (e *Engine) IssueToken(id string, lifespanMonths int) (Token, error) {
	var out Token
	if lifespanMonths < 0 || uint64(lifespanMonths) > math.MaxUint32 {
		return out, argError("lifespan_months: must be 0 to 24 (got %d)", lifespanMonths)
	}
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result {
			return C.scim_token_issue(eng, s[0], C.uint32_t(lifespanMonths), p)
		})
	}, id, "id")
	return out, err
}

// RevokeToken revokes directory id's token: requests with it fail from now on.
func (e *Engine) RevokeToken(id string) error {
	return e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return call(func() C.scim_result { return C.scim_token_revoke(eng, s[0]) })
	}, id, "id")
}

// withStrings runs f with the engine's handle and C copies of the strings, given as
// value, name pairs (the name is for the error when a value holds a NUL).
func (e *Engine) withStrings(f func(*C.scim_engine, []*C.char) error, pairs ...string) error {
	cs := make([]*C.char, 0, len(pairs)/2)
	defer func() {
		for _, c := range cs {
			C.free(unsafe.Pointer(c))
		}
	}()
	for i := 0; i+1 < len(pairs); i += 2 {
		c, err := cstring(pairs[i], pairs[i+1])
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
	return e.with(func(eng *C.scim_engine) error { return f(eng, cs) })
}
