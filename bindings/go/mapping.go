package scim

/*
#include "scim.h"
*/
import "C"

import (
	"encoding/json"
)

// ResourceKind names the entries of a mapping: those for users or for groups.
type ResourceKind string

// The resource kinds.
const (
	KindUsers  ResourceKind = "users"
	KindGroups ResourceKind = "groups"
)

// Transform is what a mapping entry does to its source value: Kind is "lowercase",
// "uppercase", "email_local_part", "email_domain", "default" or "constant" (the last two
// with Value).
type Transform struct {
	Kind  string `json:"kind"`
	Value any    `json:"value,omitempty"`
}

// MappingEntry maps one SCIM attribute path (Source) to a service's attribute (Target).
type MappingEntry struct {
	Target    string     `json:"target"`
	Source    string     `json:"source"`
	Required  bool       `json:"required"`
	Immutable bool       `json:"immutable,omitempty"`
	Transform *Transform `json:"transform,omitempty"`
}

// Mapping is one service's entries, for users and for groups.
type Mapping struct {
	Profile MappingProfile `json:"profile"`
	Users   []MappingEntry `json:"users"`
	Groups  []MappingEntry `json:"groups"`
}

// FoundUser is a provisioned user: its SCIM id, the resource as SCIM renders it, and
// its mapped record for the service searched.
type FoundUser struct {
	ID       string          `json:"id"`
	Resource json.RawMessage `json:"resource"`
	Record   json.RawMessage `json:"record"`
}

// Mappings returns directory dirID's mappings, one per service it feeds.
func (e *Engine) Mappings(dirID string) (map[Service]Mapping, error) {
	var out map[Service]Mapping
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result { return C.scim_mapping_get(eng, s[0], p) })
	}, dirID, "directory id")
	return out, err
}

// SetMappingEntry adds an entry to a service's mapping for kind, or replaces the one
// with the same target, and returns the service's whole mapping. It emits no event:
// ResyncMappings does. Errors: ErrInvalidArgument (unknown SCIM path, …).
func (e *Engine) SetMappingEntry(dirID string, service Service, kind ResourceKind, entry MappingEntry) (Mapping, error) {
	var out Mapping
	js, err := json.Marshal(entry)
	if err != nil {
		return out, argError("entry: %v", err)
	}
	err = e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result {
			return C.scim_mapping_entry_set(eng, s[0], s[1], s[2], s[3], p)
		})
	}, dirID, "directory id", string(service), "service", string(kind), "kind", string(js), "entry")
	return out, err
}

// RemoveMappingEntry removes the entry with target (a required one cannot be removed)
// and returns the service's whole mapping.
func (e *Engine) RemoveMappingEntry(dirID string, service Service, kind ResourceKind, target string) (Mapping, error) {
	var out Mapping
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result {
			return C.scim_mapping_entry_remove(eng, s[0], s[1], s[2], s[3], p)
		})
	}, dirID, "directory id", string(service), "service", string(kind), "kind", target, "target")
	return out, err
}

// ResyncMappings emits user.updated, with the current mapped records, for every user of
// the directory (after a mapping change) and returns how many.
func (e *Engine) ResyncMappings(dirID string) (uint64, error) {
	var n C.uint64_t
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return call(func() C.scim_result { return C.scim_mapping_resync(eng, s[0], &n) })
	}, dirID, "directory id")
	return uint64(n), err
}

// FindUser returns the provisioned user whose mapped attribute target (of service)
// equals value (case-insensitively for emails and user names), or nil when there is
// none. Errors: ErrConflict when several users match.
func (e *Engine) FindUser(dirID string, service Service, target, value string) (*FoundUser, error) {
	var out *FoundUser
	err := e.withStrings(func(eng *C.scim_engine, s []*C.char) error {
		return jsonCall(&out, func(p **C.char) C.scim_result {
			return C.scim_user_find(eng, s[0], s[1], s[2], s[3], p)
		})
	}, dirID, "directory id", string(service), "service", target, "target", value, "value")
	return out, err
}
