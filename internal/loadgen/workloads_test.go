package loadgen_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/loadgen"
	"github.com/domicile/domicile/internal/policy"
)

// Each Domicile workload runs for a moment against a real dev vault (the
// example policy, four regions) and this process as the server: requests
// succeed, items are counted, and the server's CPU and memory are read.
func TestDomicileWorkloads(t *testing.T) {
	ctx := context.Background()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	d, err := app.StartDev(ctx, app.DevConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Policy: pol,
		KDF: keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	tok, err := os.ReadFile(d.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	target := loadgen.Target{Addr: d.URL, Token: strings.TrimSpace(string(tok))}
	for _, tc := range []struct {
		name    string
		perItem int
	}{{"create", 1}, {"get", 1}, {"tokenize", 10}} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := loadgen.Domicile(ctx, target, tc.name, "t", loadgen.DomicileOptions{Batch: 10, Pool: 8})
			if err != nil {
				t.Fatal(err)
			}
			res := runMeasured(t, loadgen.Config{Workers: 2, Duration: 300 * time.Millisecond, MaxOps: 200, ServerPID: os.Getpid()}, w.Op)
			if res.Errors != 0 || res.Requests == 0 {
				t.Fatalf("%d requests, %d failed (first: %s)", res.Requests, res.Errors, res.FirstError)
			}
			if res.Items != res.Requests*int64(tc.perItem) {
				t.Errorf("%d items for %d requests, want %d each", res.Items, res.Requests, tc.perItem)
			}
			if res.PeakRSS <= 0 || res.P50 <= 0 || res.P99 < res.P50 {
				t.Errorf("implausible result %+v", res)
			}
		})
	}
	if _, err := loadgen.Domicile(ctx, target, "drop-table", "t", loadgen.DomicileOptions{}); err == nil {
		t.Error("an unknown workload was accepted")
	}
	if _, err := loadgen.Domicile(ctx, loadgen.Target{Addr: "http://192.0.2.1:8700"}, "create", "t", loadgen.DomicileOptions{}); err == nil {
		t.Error("a load aimed off this machine was accepted")
	}
}

// A bad token makes every request fail: counted as errors, with the first
// reason kept, never as items.
func TestRunCountsFailures(t *testing.T) {
	ctx := context.Background()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	d, err := app.StartDev(ctx, app.DevConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Policy: pol, Seed: false,
		KDF: keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	w, err := loadgen.Domicile(ctx, loadgen.Target{Addr: d.URL, Token: "dmc_wrong"}, "create", "t", loadgen.DomicileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := runMeasured(t, loadgen.Config{Workers: 1, Duration: 100 * time.Millisecond, MaxOps: 20}, w.Op)
	if res.Items != 0 || res.Errors == 0 || !strings.Contains(res.FirstError, "401") {
		t.Errorf("items %d, errors %d, first %q; want only 401 failures", res.Items, res.Errors, res.FirstError)
	}
}

// runMeasured runs c, doubling its duration while Run measured nothing: on a
// busy machine (a CI runner under -race) a short window can hold no whole
// request, and a longer one, tried a bounded number of times, makes the
// test depend on the code rather than on the runner's speed.
func runMeasured(t *testing.T, c loadgen.Config, op loadgen.Op) loadgen.Result {
	t.Helper()
	for try := 0; ; try++ {
		res, err := loadgen.Run(context.Background(), c, op)
		if errors.Is(err, loadgen.ErrNothingMeasured) && try < 6 {
			t.Logf("%v; trying %v", err, 2*c.Duration)
			c.Duration *= 2
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
}

// A run whose every request straddles the measured part's edges is an
// error, not a result of zeros.
func TestRunMeasuredNothing(t *testing.T) {
	slow := func(ctx context.Context, _, _ int) (int, error) {
		time.Sleep(50 * time.Millisecond)
		return 1, nil
	}
	_, err := loadgen.Run(context.Background(), loadgen.Config{Workers: 1, Duration: time.Millisecond}, slow)
	if !errors.Is(err, loadgen.ErrNothingMeasured) {
		t.Fatalf("got %v, want ErrNothingMeasured", err)
	}
}
