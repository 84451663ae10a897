// A small Go HTTP service that embeds libscim: it mounts the SCIM endpoint at
// /scim/v2/ on its own mux, next to its own routes, and prints every provisioning event
// it receives (then acknowledges it).
//
//	(cd bindings/go && go generate) && cd examples/go && go run . -listen 127.0.0.1:8080
//
// It is a module of its own (go.mod) that requires libscim/bindings/go with a replace
// to this checkout, as any host's module would.
//
// It prints the tenant URL and a bearer token to paste into the IdP (Okta, Entra, or
// any SCIM client).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	scim "libscim/bindings/go"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	db := flag.String("db", "", "SQLite file for the store (empty: in memory)")
	publicURL := flag.String("public-url", "", "URL clients reach this service at (default http://<listen>)")
	name := flag.String("directory", "Example", "name of the directory to serve")
	flag.Parse()
	if err := run(*listen, *db, *publicURL, *name); err != nil {
		log.Fatal(err)
	}
}

func run(listen, db, publicURL, name string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	engine, err := scim.Open(db, &scim.Config{PublicURL: publicURL})
	if err != nil {
		return err
	}
	defer engine.Close()

	dir, err := directory(engine, name)
	if err != nil {
		return err
	}
	// The secret is only ever shown when issued, so each start issues a fresh one.
	token, err := engine.IssueToken(dir.ID, 0)
	if err != nil {
		return err
	}
	fmt.Printf("libscim %s\ntenant URL: %s\ntoken:      %s\n", scim.Version(), dir.TenantURL, token.Secret)

	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", engine.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	events := make(chan error, 1)
	go func() { events <- printEvents(ctx, engine, dir.ID) }()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-events
}

// directory returns the directory called name, created when missing.
func directory(engine *scim.Engine, name string) (scim.Directory, error) {
	all, err := engine.Directories()
	if err != nil {
		return scim.Directory{}, err
	}
	for _, d := range all {
		if d.Name == name {
			return d, nil
		}
	}
	return engine.CreateDirectory(scim.NewDirectory{
		Name: name, Domain: "example.com", IdP: scim.IdPGeneric,
		Services: []scim.Service{scim.ServiceUEM, scim.ServiceAccess},
	})
}

// printEvents pulls the directory's events until ctx ends, printing and acknowledging
// each batch.
func printEvents(ctx context.Context, engine *scim.Engine, dirID string) error {
	for {
		evs, err := engine.NextEvents(ctx, dirID, 100, 30*time.Second)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range evs {
			fmt.Printf("event %d: %s %s %s %s\n", e.Seq, e.Kind, e.ResourceType, e.ResourceID, e.Data)
		}
		if len(evs) > 0 {
			if err := engine.Ack(dirID, evs[len(evs)-1].Seq); err != nil {
				return err
			}
		}
	}
}
