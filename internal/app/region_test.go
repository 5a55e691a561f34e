package app

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/policy"
)

// TestOpenRegionFailureReleases: when OpenRegion fails after the audit
// log is open (building the tokens, the access engine or the guard), it
// leaves nothing behind: no goroutine (the audit log's background work,
// the store's) and no lock on the data directory. Each policy below
// passed Parse and is then broken where only that step looks.
func TestOpenRegionFailureReleases(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(p *policy.Policy)
		want  string
	}{
		{"fail/tokens", func(p *policy.Policy) { p.Collections[0].Fields[0].Normalizer = "no-such-normalizer" }, "tokens"},
		{"fail/access", func(p *policy.Policy) { p.Roles[0].Condition = "principal.((" }, "condition"},
		{"fail/guard", func(p *policy.Policy) { p.Guard.Rules[0].Signal = "no-such-signal" }, "guard"},
	}
	base := runtime.NumGoroutine()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cn-north")
	open := func(pol *policy.Policy) (*Region, error) {
		return OpenRegion(ctx, RegionConfig{Policy: pol, Name: "cn-north", Dir: dir, Secret: []byte("leak"), KDF: benchKDF})
	}
	// A first start creates the region, its keys and its audit log.
	r, err := open(examplePolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests { // not subtests: their goroutines would count
		bad := examplePolicy(t)
		tt.spoil(bad)
		before := settle(base)
		for range 3 {
			r, err := open(bad)
			if err == nil {
				r.Close()
				t.Fatalf("%s: OpenRegion accepted the broken policy", tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: OpenRegion failed elsewhere: %v", tt.name, err)
			}
		}
		if n := settle(before); n > before {
			buf := make([]byte, 1<<20)
			t.Fatalf("%s: %d goroutines before three failed starts, %d after:\n%s", tt.name, before, n, buf[:runtime.Stack(buf, true)])
		}
		// The store was closed too: the directory opens again.
		r, err := open(examplePolicy(t))
		if err != nil {
			t.Fatalf("%s: after failed starts: %v", tt.name, err)
		}
		r.Close()
	}
}

func examplePolicy(t *testing.T) *policy.Policy {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// settle waits up to five seconds for the goroutine count to fall to
// want, and returns the last count.
func settle(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	return n
}
