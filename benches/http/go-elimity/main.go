// The Go peer of the HTTP benchmark (benches/http/run.py): a SCIM 2.0 server built on
// github.com/elimity-com/scim with an in-memory store written for the benchmark — users in
// a map by id with a userName index (so `userName eq` is a lookup) and an insertion order
// for paging, groups with member sets. It is what a Go team would write in an afternoon;
// the benchmark measures libscim against it and against a bare hyper server.
//
//	go run . -listen 127.0.0.1:PORT -token-file F [-preload N -ids-out FILE]
//
// -preload fills the store with N users shaped like the benchmark's Bulk payload before
// listening (the library has no /Bulk) and writes their ids, one a line, to -ids-out.
// Every request needs `Authorization: Bearer <the token in -token-file>`.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// largeGroup mirrors libscim's large_group_members: a PATCH of a bigger group answers 204
// instead of rendering every member.
const largeGroup = 1000

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

type record struct {
	id         string
	externalID optional.String
	attrs      scim.ResourceAttributes
	created    time.Time
	modified   time.Time
	version    int
}

func (r *record) resource() scim.Resource {
	created, modified := r.created, r.modified
	return scim.Resource{
		ID:         r.id,
		ExternalID: r.externalID,
		Attributes: r.attrs,
		Meta: scim.Meta{
			Created:      &created,
			LastModified: &modified,
			Version:      fmt.Sprintf("W/\"%d\"", r.version),
		},
	}
}

// takeExternalID moves externalId out of the attributes: the library renders it from
// Resource.ExternalID.
func takeExternalID(attrs scim.ResourceAttributes) optional.String {
	v, ok := attrs["externalId"].(string)
	delete(attrs, "externalId")
	if !ok {
		return optional.String{}
	}
	return optional.NewString(v)
}

func notFound(id string) error { return scimerrors.ScimErrorResourceNotFound(id) }

func badRequest(detail string) error { return scimerrors.ScimErrorBadRequest(detail) }

// page cuts [startIndex, startIndex+count) out of n ordered items.
func page(n, startIndex, count int) (int, int) {
	from := startIndex - 1
	if from > n {
		from = n
	}
	to := from + count
	if to > n {
		to = n
	}
	return from, to
}

// ---- Users ----------------------------------------------------------------------------

type users struct {
	mu     sync.RWMutex
	byID   map[string]*record
	byName map[string]string // lower-cased userName → id
	order  []string          // ids in creation order
	sorted []string          // ids by userName, rebuilt after a change when asked for
}

func newUsers() *users {
	return &users{byID: map[string]*record{}, byName: map[string]string{}}
}

func userName(attrs scim.ResourceAttributes) (string, error) {
	name, ok := attrs["userName"].(string)
	if !ok || name == "" {
		return "", badRequest("userName is required")
	}
	return name, nil
}

func (u *users) create(attrs scim.ResourceAttributes) (*record, error) {
	name, err := userName(attrs)
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(name)
	now := time.Now().UTC()
	rec := &record{id: newID(), externalID: takeExternalID(attrs), attrs: attrs, created: now, modified: now, version: 1}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, taken := u.byName[key]; taken {
		return nil, scimerrors.ScimErrorUniqueness
	}
	u.byID[rec.id] = rec
	u.byName[key] = rec.id
	u.order = append(u.order, rec.id)
	u.sorted = nil
	return rec, nil
}

func (u *users) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	rec, err := u.create(attrs)
	if err != nil {
		return scim.Resource{}, err
	}
	return rec.resource(), nil
}

func (u *users) Get(_ *http.Request, id string) (scim.Resource, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	rec, ok := u.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	return rec.resource(), nil
}

// userNameEq recognises `userName eq "…"`, answered by the index.
func userNameEq(e filter.Expression) (string, bool) {
	a, ok := e.(*filter.AttributeExpression)
	if !ok || a.Operator != filter.EQ || a.AttributePath.SubAttribute != nil ||
		!strings.EqualFold(a.AttributePath.AttributeName, "userName") {
		return "", false
	}
	v, ok := a.CompareValue.(string)
	return v, ok
}

// sortedIDs returns the ids ordered by userName; the caller holds the write lock.
func (u *users) sortedIDs() []string {
	if u.sorted == nil {
		s := make([]string, len(u.order))
		copy(s, u.order)
		sort.Slice(s, func(i, j int) bool {
			return strings.ToLower(u.byID[s[i]].attrs["userName"].(string)) <
				strings.ToLower(u.byID[s[j]].attrs["userName"].(string))
		})
		u.sorted = s
	}
	return u.sorted
}

func (u *users) GetAll(r *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	sortBy := r.URL.Query().Get("sortBy")
	if sortBy != "" && !strings.EqualFold(sortBy, "userName") {
		return scim.Page{}, badRequest("sortBy supports userName only")
	}
	if sortBy != "" {
		u.mu.Lock() // the sorted order may be rebuilt
		defer u.mu.Unlock()
	} else {
		u.mu.RLock()
		defer u.mu.RUnlock()
	}
	ids := u.order
	if sortBy != "" {
		ids = u.sortedIDs()
	}
	if p.FilterValidator != nil {
		if name, ok := userNameEq(p.FilterValidator.GetFilter()); ok {
			ids = nil
			if id, found := u.byName[strings.ToLower(name)]; found {
				ids = []string{id}
			}
		} else {
			var matched []string
			for _, id := range ids {
				rec := u.byID[id]
				if p.FilterValidator.PassesFilter(rec.withCommon()) == nil {
					matched = append(matched, id)
				}
			}
			ids = matched
		}
	}
	from, to := page(len(ids), p.StartIndex, p.Count)
	resources := make([]scim.Resource, 0, to-from)
	for _, id := range ids[from:to] {
		resources = append(resources, u.byID[id].resource())
	}
	return scim.Page{TotalResults: len(ids), Resources: resources}, nil
}

// withCommon is the record as a filter sees it (id and externalId included).
func (r *record) withCommon() map[string]interface{} {
	m := make(map[string]interface{}, len(r.attrs)+2)
	for k, v := range r.attrs {
		m[k] = v
	}
	m["id"] = r.id
	if r.externalID.Present() {
		m["externalId"] = r.externalID.Value()
	}
	return m
}

// rename moves the userName index entry; the caller holds the write lock.
func (u *users) rename(rec *record, attrs scim.ResourceAttributes) error {
	name, err := userName(attrs)
	if err != nil {
		return err
	}
	oldKey := strings.ToLower(rec.attrs["userName"].(string))
	key := strings.ToLower(name)
	if key != oldKey {
		if _, taken := u.byName[key]; taken {
			return scimerrors.ScimErrorUniqueness
		}
		delete(u.byName, oldKey)
		u.byName[key] = rec.id
		u.sorted = nil
	}
	return nil
}

func (u *users) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	rec, ok := u.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	if err := u.rename(rec, attrs); err != nil {
		return scim.Resource{}, err
	}
	rec.externalID = takeExternalID(attrs)
	rec.attrs = attrs
	rec.modified = time.Now().UTC()
	rec.version++
	return rec.resource(), nil
}

func (u *users) Delete(_ *http.Request, id string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	rec, ok := u.byID[id]
	if !ok {
		return notFound(id)
	}
	delete(u.byID, id)
	delete(u.byName, strings.ToLower(rec.attrs["userName"].(string)))
	for i, o := range u.order {
		if o == id {
			u.order = append(u.order[:i], u.order[i+1:]...)
			break
		}
	}
	u.sorted = nil
	return nil
}

// Patch applies add/replace/remove on top-level attributes (with or without a path).
func (u *users) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	rec, ok := u.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	attrs := make(scim.ResourceAttributes, len(rec.attrs))
	for k, v := range rec.attrs {
		attrs[k] = v
	}
	for _, op := range ops {
		switch {
		case op.Path == nil:
			m, ok := op.Value.(map[string]interface{})
			if !ok || op.Op == scim.PatchOperationRemove {
				return scim.Resource{}, badRequest("a PATCH without path needs an object value")
			}
			for k, v := range m {
				attrs[k] = v
			}
		case op.Path.ValueExpression != nil || op.Path.SubAttribute != nil ||
			op.Path.AttributePath.SubAttribute != nil:
			return scim.Resource{}, badRequest("only top-level paths are supported")
		case op.Op == scim.PatchOperationRemove:
			delete(attrs, op.Path.AttributePath.AttributeName)
		default:
			attrs[op.Path.AttributePath.AttributeName] = op.Value
		}
	}
	if err := u.rename(rec, attrs); err != nil {
		return scim.Resource{}, err
	}
	if ext := takeExternalID(attrs); ext.Present() {
		rec.externalID = ext
	}
	rec.attrs = attrs
	rec.modified = time.Now().UTC()
	rec.version++
	return rec.resource(), nil
}

// ---- Groups ---------------------------------------------------------------------------

type group struct {
	record
	members map[string]struct{}
}

type groups struct {
	mu    sync.RWMutex
	byID  map[string]*group
	order []string
}

func memberIDs(v interface{}) ([]string, error) {
	list, ok := v.([]interface{})
	if !ok {
		return nil, badRequest("members must be a list")
	}
	ids := make([]string, 0, len(list))
	for _, m := range list {
		obj, ok := m.(map[string]interface{})
		if !ok {
			return nil, badRequest("a member must be an object")
		}
		id, ok := obj["value"].(string)
		if !ok {
			return nil, badRequest("a member needs a value")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// memberFilter recognises `members[value eq "…"]`.
func memberFilter(p *filter.Path) (string, bool) {
	if p == nil || !strings.EqualFold(p.AttributePath.AttributeName, "members") || p.ValueExpression == nil {
		return "", false
	}
	a, ok := p.ValueExpression.(*filter.AttributeExpression)
	if !ok || a.Operator != filter.EQ || !strings.EqualFold(a.AttributePath.AttributeName, "value") {
		return "", false
	}
	v, ok := a.CompareValue.(string)
	return v, ok
}

func (g *group) resource(withMembers bool) scim.Resource {
	res := g.record.resource()
	attrs := make(scim.ResourceAttributes, len(g.attrs)+1)
	for k, v := range g.attrs {
		attrs[k] = v
	}
	if withMembers && len(g.members) > 0 {
		members := make([]map[string]interface{}, 0, len(g.members))
		for id := range g.members {
			members = append(members, map[string]interface{}{"value": id, "type": "User"})
		}
		attrs["members"] = members
	}
	res.Attributes = attrs
	return res
}

func (gs *groups) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	g := &group{members: map[string]struct{}{}}
	if v, ok := attrs["members"]; ok {
		ids, err := memberIDs(v)
		if err != nil {
			return scim.Resource{}, err
		}
		for _, id := range ids {
			g.members[id] = struct{}{}
		}
		delete(attrs, "members")
	}
	now := time.Now().UTC()
	g.record = record{id: newID(), externalID: takeExternalID(attrs), attrs: attrs, created: now, modified: now, version: 1}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gs.byID[g.id] = g
	gs.order = append(gs.order, g.id)
	return g.resource(true), nil
}

func (gs *groups) Get(_ *http.Request, id string) (scim.Resource, error) {
	gs.mu.RLock()
	defer gs.mu.RUnlock()
	g, ok := gs.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	return g.resource(true), nil
}

func (gs *groups) GetAll(_ *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	gs.mu.RLock()
	defer gs.mu.RUnlock()
	ids := gs.order
	if p.FilterValidator != nil {
		var matched []string
		for _, id := range ids {
			if p.FilterValidator.PassesFilter(gs.byID[id].resource(true).Attributes) == nil {
				matched = append(matched, id)
			}
		}
		ids = matched
	}
	from, to := page(len(ids), p.StartIndex, p.Count)
	resources := make([]scim.Resource, 0, to-from)
	for _, id := range ids[from:to] {
		resources = append(resources, gs.byID[id].resource(true))
	}
	return scim.Page{TotalResults: len(ids), Resources: resources}, nil
}

func (gs *groups) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	members := map[string]struct{}{}
	if v, ok := attrs["members"]; ok {
		ids, err := memberIDs(v)
		if err != nil {
			return scim.Resource{}, err
		}
		for _, m := range ids {
			members[m] = struct{}{}
		}
		delete(attrs, "members")
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	g, ok := gs.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	g.members = members
	g.externalID = takeExternalID(attrs)
	g.attrs = attrs
	g.modified = time.Now().UTC()
	g.version++
	return g.resource(true), nil
}

func (gs *groups) Delete(_ *http.Request, id string) error {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if _, ok := gs.byID[id]; !ok {
		return notFound(id)
	}
	delete(gs.byID, id)
	for i, o := range gs.order {
		if o == id {
			gs.order = append(gs.order[:i], gs.order[i+1:]...)
			break
		}
	}
	return nil
}

// Patch changes members one by one in the set, so its cost does not depend on the
// group's size; a large group answers 204 like libscim does.
func (gs *groups) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	g, ok := gs.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	for _, op := range ops {
		if err := g.apply(op); err != nil {
			return scim.Resource{}, err
		}
	}
	g.modified = time.Now().UTC()
	g.version++
	if len(g.members) > largeGroup {
		return scim.Resource{}, nil
	}
	return g.resource(true), nil
}

func (g *group) apply(op scim.PatchOperation) error {
	if member, ok := memberFilter(op.Path); ok {
		if op.Op != scim.PatchOperationRemove {
			return badRequest("members[value eq …] is supported for remove only")
		}
		delete(g.members, member)
		return nil
	}
	if op.Path == nil {
		m, ok := op.Value.(map[string]interface{})
		if !ok || op.Op == scim.PatchOperationRemove {
			return badRequest("a PATCH without path needs an object value")
		}
		for k, v := range m {
			if err := g.apply(scim.PatchOperation{Op: op.Op, Path: &filter.Path{
				AttributePath: filter.AttributePath{AttributeName: k}}, Value: v}); err != nil {
				return err
			}
		}
		return nil
	}
	name := op.Path.AttributePath.AttributeName
	if op.Path.ValueExpression != nil || op.Path.SubAttribute != nil || op.Path.AttributePath.SubAttribute != nil {
		return badRequest("unsupported path " + op.Path.String())
	}
	if !strings.EqualFold(name, "members") {
		if op.Op == scim.PatchOperationRemove {
			delete(g.attrs, name)
		} else {
			g.attrs[name] = op.Value
		}
		return nil
	}
	switch op.Op {
	case scim.PatchOperationRemove:
		g.members = map[string]struct{}{}
		return nil
	case scim.PatchOperationReplace:
		g.members = map[string]struct{}{}
	}
	ids, err := memberIDs(op.Value)
	if err != nil {
		return err
	}
	for _, m := range ids {
		g.members[m] = struct{}{}
	}
	return nil
}

// ---- Server ---------------------------------------------------------------------------

// benchUser is the user the benchmark's Bulk load creates (benches/http/run.py user_body).
func benchUser(i int) scim.ResourceAttributes {
	name := fmt.Sprintf("user%07d@example.com", i)
	return scim.ResourceAttributes{
		"schemas":     []interface{}{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    name,
		"externalId":  fmt.Sprintf("ext%07d", i),
		"name":        map[string]interface{}{"givenName": "Given" + strconv.Itoa(i), "familyName": "Family" + strconv.Itoa(i)},
		"displayName": "Given" + strconv.Itoa(i) + " Family" + strconv.Itoa(i),
		"emails":      []interface{}{map[string]interface{}{"value": name, "type": "work", "primary": true}},
		"active":      true,
	}
}

func preload(u *users, n int, idsOut string) error {
	f, err := os.Create(idsOut)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		rec, err := u.create(benchUser(i))
		if err != nil {
			_ = f.Close()
			return err
		}
		if _, err := w.WriteString(rec.id + "\n"); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func bearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	tokenFile := flag.String("token-file", "", "file holding the bearer token (required)")
	n := flag.Int("preload", 0, "users to create before listening")
	idsOut := flag.String("ids-out", "", "where -preload writes the ids it created")
	flag.Parse()
	if *tokenFile == "" || (*n > 0 && *idsOut == "") {
		log.Fatal("-token-file is required, and -ids-out with -preload")
	}
	raw, err := os.ReadFile(*tokenFile)
	if err != nil {
		log.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		log.Fatalf("%s is empty", *tokenFile)
	}

	u := newUsers()
	if *n > 0 {
		if err := preload(u, *n, *idsOut); err != nil {
			log.Fatalf("preload: %v", err)
		}
	}
	server, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			MaxResults:       1000,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []scim.ResourceType{
			{
				ID:       optional.NewString("User"),
				Name:     "User",
				Endpoint: "/Users",
				Schema:   schema.CoreUserSchema(),
				Handler:  u,
			},
			{
				ID:       optional.NewString("Group"),
				Name:     "Group",
				Endpoint: "/Groups",
				Schema:   schema.CoreGroupSchema(),
				Handler:  &groups{byID: map[string]*group{}},
			},
		},
	}, scim.WithBaseURL("http://"+*listen+"/v2"))
	if err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: bearer(token, server), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		_ = srv.Close()
	}()
	fmt.Printf("elimity-com/scim server on http://%s/v2 (%d users preloaded)\n", ln.Addr(), *n)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
