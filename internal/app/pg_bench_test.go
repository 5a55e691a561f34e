package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/gateway"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
	"github.com/domicile/domicile/internal/vault"
)

// The benchmarks of issue 8: creates and gets over HTTP, through the
// gateway and a real HTTP hop to the region's nodes, with the embedded
// Pebble store (one node) and PostgreSQL (one node, and two nodes sharing
// one database), at 8 clients, in the same run:
//
//	go test ./internal/app -run '^$' -bench Split -benchtime 3000x
//
// All nodes run in this process and share its CPUs; PostgreSQL runs on the
// same machine. They skip without the PostgreSQL test server (and fail
// when CI is set).

// splitBackend is how BenchmarkSplit stores a region.
type splitBackend struct {
	name  string
	nodes int
	pg    bool
}

var splitBackends = []splitBackend{{"pebble", 1, false}, {"postgres", 1, true}, {"postgres", 2, true}}

// roundRobin sends each request to the next of several nodes.
type roundRobin struct {
	next  atomic.Uint64
	nodes []*url.URL
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	u := rr.nodes[rr.next.Add(1)%uint64(len(rr.nodes))]
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
	return http.DefaultTransport.RoundTrip(req)
}

// newSplitBenchEnv starts the region's nodes on the backend, each behind
// its own HTTP server, and the gateway in front of them.
func newSplitBenchEnv(b *testing.B, sb splitBackend, regionName, jurisdiction string) *benchEnv {
	b.Helper()
	pol := benchPolicy(b)
	token := access.NewToken()
	// An administrator in the region's own country, as newBenchEnv has.
	admin := access.Account{ID: "bench", Kind: "service", Roles: []string{"admin"}, Location: jurisdiction}
	cfg := RegionConfig{Policy: pol, Name: regionName, Dir: filepath.Join(b.TempDir(), regionName),
		Secret: []byte("bench"), KDF: benchKDF}
	if sb.pg {
		cfg.Store = pgtest.NewDatabase(b)
	}
	e := &benchEnv{pol: pol, token: token}
	rr := &roundRobin{}
	for range sb.nodes {
		r, err := OpenRegion(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		if err := EnsurePrincipals(context.Background(), []*Region{r}, []Bootstrap{{Account: admin, Token: token}}); err != nil {
			b.Fatal(err)
		}
		if e.region == nil {
			e.region = r
		}
		rr.nodes = append(rr.nodes, serveBench(b, r.Handler))
	}
	backends := map[string]gateway.Backend{}
	for _, pr := range pol.Regions {
		backends[pr.Name] = gateway.Backend{URL: rr.nodes[0], Transport: rr}
	}
	gw, err := gateway.New(gateway.Options{Resolver: pol.Resolver(), Backends: backends})
	if err != nil {
		b.Fatal(err)
	}
	e.url = serveBench(b, gw).String()
	g := seed.New(7)
	for range 500 {
		c := g.Customer(jurisdiction)
		e.recs = append(e.recs, vault.NewRecord{Collection: "customers", Subject: c.SubjectID, Jurisdiction: c.Jurisdiction, Fields: c.Fields})
	}
	return e
}

// serveBench serves h on a free port of 127.0.0.1 until b ends.
func serveBench(b *testing.B, h http.Handler) *url.URL {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

func BenchmarkSplit(b *testing.B) {
	const clients = 8
	for _, sb := range splitBackends {
		name := fmt.Sprintf("%s/nodes=%d/clients=%d", sb.name, sb.nodes, clients)
		b.Run("create/"+name, func(b *testing.B) {
			e := newSplitBenchEnv(b, sb, "us-east", "US")
			c, err := client.New(e.url, e.token, client.WithPurpose("support"))
			if err != nil {
				b.Fatal(err)
			}
			runClients(b, clients, func(i int) error {
				r := e.record(i)
				_, err := c.Create(context.Background(), []client.NewRecord{{Collection: r.Collection, Subject: r.Subject, Jurisdiction: r.Jurisdiction, Fields: r.Fields}}, "")
				return err
			})
		})
		b.Run("get/"+name, func(b *testing.B) {
			e := newSplitBenchEnv(b, sb, "us-east", "US")
			ids := e.store(b, 2000)
			c, err := client.New(e.url, e.token, client.WithPurpose("support"))
			if err != nil {
				b.Fatal(err)
			}
			runClients(b, clients, func(i int) error {
				_, err := c.Get(context.Background(), ids[i%len(ids)])
				return err
			})
		})
	}
}
