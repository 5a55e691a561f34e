package witnesshttp_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/witnesshttp"
	"github.com/domicile/domicile/internal/store/memstore"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/witness"
)

// region is an audit log of one region in memory.
type region struct {
	s    suite.Suite
	priv crypto.Signer
	st   *memstore.Store
}

func newRegion(t testing.TB, s suite.Suite) *region {
	t.Helper()
	priv, err := s.Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &region{s: s, priv: priv, st: memstore.New()}
}

func (r *region) witnessLog() witness.Log {
	return witness.Log{Origin: "domicile/cn-north", Keys: []crypto.PublicKey{r.priv.Public()}, Signature: r.s.Signature(), Hash: r.s.Hash()}
}

// open opens the region's log publishing to w; logf gets its background
// errors.
func (r *region) open(t testing.TB, w audit.Witness, logf func(string, ...any)) *audit.Log {
	t.Helper()
	l, err := audit.Open(context.Background(), audit.Options{Store: r.st, Region: "cn-north", Origin: "domicile/cn-north",
		Hash: r.s.Hash(), Signature: r.s.Signature(), Signer: func() (crypto.Signer, error) { return r.priv, nil },
		Witness: w, Logf: logf, Manual: true, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func write(t testing.TB, l *audit.Log, n int) {
	t.Helper()
	for i := range n {
		if err := l.AppendNow(context.Background(), entry.Entry{RequestID: fmt.Sprint("r", i), Principal: "svc", Action: entry.Read, Outcome: entry.OK}); err != nil {
			t.Fatal(err)
		}
	}
}

// witnessServer runs internal/witness behind httptest, counting requests
// and their answers.
type witnessServer struct {
	*httptest.Server
	w    *witness.Witness
	key  checkpoint.WitnessKey
	mu   sync.Mutex
	reqs []int // status of each answer
}

func startWitness(t testing.TB, skey, dir string, logs ...witness.Log) *witnessServer {
	t.Helper()
	if skey == "" {
		var err error
		if skey, _, err = witness.GenerateKey("witness.example/w1"); err != nil {
			t.Fatal(err)
		}
	}
	w, err := witness.New(witness.Options{Key: skey, StateDir: dir, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	k, err := checkpoint.ParseWitnessKey(w.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	ws := &witnessServer{w: w, key: k}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		w.ServeHTTP(rec, r)
		ws.mu.Lock()
		ws.reqs = append(ws.reqs, rec.status)
		ws.mu.Unlock()
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *witnessServer) statuses() []int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	out := ws.reqs
	ws.reqs = nil
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func fmtStatuses(s []int) string { return fmt.Sprint(s) }

func TestPublishChain(t *testing.T) {
	ctx := context.Background()
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(s.ID()), func(t *testing.T) {
			r := newRegion(t, s)
			ws := startWitness(t, "", t.TempDir(), r.witnessLog())
			var errs []string
			logf := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
			client := &witnesshttp.Witness{URL: ws.URL + "/", Key: &ws.key}
			l := r.open(t, client, logf)
			for round, n := range []int{3, 10, 250, 1} {
				write(t, l, n)
				cp, err := l.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ws.key.Verify(cp); err != nil {
					t.Fatalf("round %d: %v\n%s\nerrors: %q", round, err, cp, errs)
				}
				// One request each, answered 200: the client knew the size.
				if st := ws.statuses(); fmtStatuses(st) != "[200]" {
					t.Fatalf("round %d: answers %v", round, st)
				}
			}
			if len(errs) > 0 {
				t.Fatalf("errors: %q", errs)
			}
		})
	}
}

// TestPublishLearnsSize: a new client (a restarted or another node)
// starts from 0, gets 409 with the witness's size and retries once from
// there; a stale checkpoint is skipped quietly.
func TestPublishLearnsSize(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, suite.CNSuite())
	ws := startWitness(t, "", t.TempDir(), r.witnessLog())
	a := r.open(t, &witnesshttp.Witness{URL: ws.URL}, nil)
	write(t, a, 7)
	if _, err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	ws.statuses()

	var errs []string
	logf := func(f string, args ...any) { errs = append(errs, fmt.Sprintf(f, args...)) }
	b := r.open(t, &witnesshttp.Witness{URL: ws.URL}, logf)
	write(t, b, 9)
	cp, err := b.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.key.Verify(cp); err != nil {
		t.Fatalf("%v; errors %q", err, errs)
	}
	if st := ws.statuses(); fmtStatuses(st) != "[409 200]" {
		t.Fatalf("answers %v, want 409 then 200", st)
	}

	// Stale: the witness has cosigned a larger tree than this checkpoint.
	sc, _ := checkpoint.Parse(cp)
	stale := &witnesshttp.Witness{URL: ws.URL}
	first, err := r.st.Get(ctx, append([]byte("a/c/"), 0, 0, 0, 0, 0, 0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := stale.Publish(ctx, first, func(ctx context.Context, old uint64) ([][]byte, error) {
		return b.ConsistencyProof(ctx, old, 7)
	})
	if err != nil || lines != nil {
		t.Fatalf("stale checkpoint (7 < %d): %q, %v", sc.Size, lines, err)
	}
}

func TestPublishErrors(t *testing.T) {
	ctx := context.Background()
	r := newRegion(t, suite.IntlSuite())
	other := newRegion(t, suite.IntlSuite())
	ws := startWitness(t, "", t.TempDir(), other.witnessLog()) // knows another key
	var mu sync.Mutex
	var errs []string
	logf := func(f string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf(f, args...))
	}
	l := r.open(t, &witnesshttp.Witness{URL: ws.URL}, logf)
	write(t, l, 2)
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.key.Verify(cp); !errors.Is(err, checkpoint.ErrNotCosigned) {
		t.Fatalf("cosigned by a witness that does not trust the key: %v", err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "Forbidden") {
		t.Fatalf("errors %q, want one 403", errs)
	}

	// A pinned key that is not the witness's: the answer is refused.
	good := startWitness(t, "", t.TempDir(), r.witnessLog())
	_, vkey, err := witness.GenerateKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := checkpoint.ParseWitnessKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	c := &witnesshttp.Witness{URL: good.URL, Key: &wrong}
	proof := func(ctx context.Context, old uint64) ([][]byte, error) { return l.ConsistencyProof(ctx, old, 2) }
	if lines, err := c.Publish(ctx, cp, proof); err == nil || !strings.Contains(err.Error(), "no usable cosignature") {
		t.Fatalf("wrong pinned key: %q, %v", lines, err)
	}
	// The proof callback's error.
	fresh := &witnesshttp.Witness{URL: good.URL}
	if _, err := fresh.Publish(ctx, cp, func(context.Context, uint64) ([][]byte, error) { return nil, errors.New("no tree") }); err == nil || !strings.Contains(err.Error(), "no tree") {
		t.Fatalf("proof error: %v", err)
	}
	// Nothing listening.
	down := &witnesshttp.Witness{URL: "http://127.0.0.1:1"}
	if _, err := down.Publish(ctx, cp, proof); err == nil {
		t.Fatal("published to nothing")
	}
	// A malformed checkpoint is not sent.
	if _, err := fresh.Publish(ctx, []byte("x"), proof); err == nil {
		t.Fatal("published a malformed checkpoint")
	}
	// A witness answering 200 without a cosignature.
	empty := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer empty.Close()
	if _, err := (&witnesshttp.Witness{URL: empty.URL}).Publish(ctx, cp, proof); err == nil {
		t.Fatal("an empty 200 was taken for a cosignature")
	}
	// Headers are sent, and a URL prefix is kept.
	auth := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "Bearer x" || req.URL.Path != "/prefix/add-checkpoint" {
			http.Error(rw, "no", http.StatusForbidden)
			return
		}
		http.StripPrefix("/prefix", good.w).ServeHTTP(rw, req)
	}))
	defer auth.Close()
	withAuth := &witnesshttp.Witness{URL: auth.URL + "/prefix", Header: http.Header{"Authorization": {"Bearer x"}}}
	if lines, err := withAuth.Publish(ctx, cp, proof); err != nil || lines == nil {
		t.Fatalf("with a header: %q, %v", lines, err)
	}
}
