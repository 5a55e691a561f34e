package keyring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/memstore"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/suite"
)

// backends are the stores the job is tested on: the memstore and Pebble.
var backends = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"memstore", func(t testing.TB) store.Store { return memstore.New() }},
	{"pebble", func(t testing.TB) store.Store {
		st, err := pebble.Open(t.TempDir(), pebble.Options{CacheSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// forBackends runs f for both suites on each backend.
func forBackends(t *testing.T, f func(t *testing.T, s suite.Suite, st store.Store)) {
	for _, be := range backends {
		for _, s := range testSuites {
			t.Run(be.name+"/"+string(s.ID()), func(t *testing.T) { f(t, s, be.open(t)) })
		}
	}
}

// waitJob waits until the job is in state want.
func waitJob(t *testing.T, k *Keyring, want JobState) RewrapJob {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := k.RewrapStatus(context.Background())
		if err != nil {
			t.Fatalf("RewrapStatus: %v", err)
		}
		if j.State == want {
			return j
		}
		if j.State == JobFailed || time.Now().After(deadline) {
			t.Fatalf("job is %s (%d/%d, error %q), want %s", j.State, j.Done, j.Total, j.Error, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dataUsage(t *testing.T, k *Keyring) map[uint32]int64 {
	t.Helper()
	st, err := k.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]int64{}
	for _, v := range st.Purposes[0].Versions {
		out[v.Version] = v.DEKs
	}
	return out
}

// TestRewrapJobToTheEnd: rotate, rewrap as a job, retire, destroy; every
// subject key still opens and the old version's material is gone.
func TestRewrapJobToTheEnd(t *testing.T) {
	forBackends(t, func(t *testing.T, s suite.Suite, st store.Store) {
		ctx := context.Background()
		clk := newClock()
		o := opts(st, s)
		o.Now = clk.now
		k := mustOpen(t, o)
		defer k.Close()
		const n = 40
		fields := map[string][]byte{}
		for i := range n {
			name := fmt.Sprintf("subject-%d", i)
			fields[name] = sealField(t, subjectKey(t, k, st, name), s, "value of "+name)
		}
		destroy(t, k, st, "subject-3") // a tombstone among the keys
		delete(fields, "subject-3")
		if _, err := k.Rotate(ctx, Data); err != nil {
			t.Fatal(err)
		}
		// Retiring v1 now is refused with the count.
		err := k.Retire(ctx, Data, 1)
		var inUse *InUseError
		if !errors.As(err, &inUse) || inUse.Count != n-1 || !errors.Is(err, ErrInUse) {
			t.Fatalf("Retire in use = %v, want an InUseError with %d", err, n-1)
		}
		job, started, err := k.StartRewrap(ctx, RewrapOptions{Batch: 7}, nil)
		if err != nil || !started || job.Total != n-1 || job.Target != 2 {
			t.Fatalf("StartRewrap = %+v, %v, %v", job, started, err)
		}
		done := waitJob(t, k, JobDone)
		if done.Done != n-1 || done.Finished.IsZero() {
			t.Errorf("done job = %+v, want %d done", done, n-1)
		}
		if u := dataUsage(t, k); u[1] != 0 || u[2] != n-1 {
			t.Errorf("usage after rewrap = %v", u)
		}
		// A second start is a new job with nothing to do.
		if _, started, err := k.StartRewrap(ctx, RewrapOptions{}, nil); err != nil || !started {
			t.Fatalf("second StartRewrap: %v, %v", started, err)
		}
		if j := waitJob(t, k, JobDone); j.Done != 0 {
			t.Errorf("second job rewrapped %d", j.Done)
		}

		if err := k.Destroy(ctx, Data, 1, nil); !errors.Is(err, ErrNotRetired) {
			t.Errorf("Destroy active = %v, want ErrNotRetired", err)
		}
		if err := k.Retire(ctx, Data, 1); err != nil {
			t.Fatal(err)
		}
		if err := k.Destroy(ctx, Data, 1, nil); !errors.Is(err, ErrTooSoon) {
			t.Errorf("Destroy right after the rotation = %v, want ErrTooSoon", err)
		}
		clk.advance(time.Minute)
		for _, p := range []Purpose{Audit} {
			if err := k.Destroy(ctx, p, 1, nil); !errors.Is(err, ErrNotDestroyable) {
				t.Errorf("Destroy %s v1 = %v", p, err)
			}
		}
		if err := k.Destroy(ctx, Data, 1, nil); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
		if _, err := st.Get(ctx, kekKey(Data, 1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("data v1 still in the store: %v", err)
		}
		if err := k.Destroy(ctx, Data, 1, nil); !errors.Is(err, ErrDestroyed) {
			t.Errorf("Destroy again = %v, want ErrDestroyed", err)
		}
		if _, err := k.kekFor(ctx, Data, 1); !errors.Is(err, ErrDestroyed) {
			t.Errorf("kekFor destroyed = %v, want ErrDestroyed", err)
		}
		ks, err := k.Status(ctx)
		if err != nil || len(ks.Purposes[0].Destroyed) != 1 || len(ks.Purposes[0].Versions) != 1 {
			t.Errorf("Status after destroy = %+v, %v", ks.Purposes[0], err)
		}
		// Every subject key still opens, also after a reopen.
		k.Close()
		k2 := mustOpen(t, o)
		defer k2.Close()
		for name, env := range fields {
			if got, err := openField(k2, name, env); err != nil || got != "value of "+name {
				t.Fatalf("%s after destroy: %q, %v", name, got, err)
			}
		}
	})
}

// TestRewrapJobResumes: a node stops half-way (its lease left behind, as
// by kill -9); another node waits for the lease to expire, then finishes
// from the stored cursor without counting anything twice.
func TestRewrapJobResumes(t *testing.T) {
	forBackends(t, func(t *testing.T, s suite.Suite, st store.Store) {
		ctx := context.Background()
		o := opts(st, s)
		o.JobLease = 300 * time.Millisecond
		o.Node = "a"
		a := mustOpen(t, o)
		const n = 60
		for i := range n {
			subjectKey(t, a, st, fmt.Sprintf("subject-%d", i))
		}
		if _, err := a.Rotate(ctx, Data); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.StartRewrap(ctx, RewrapOptions{Batch: 4, Pause: 20 * time.Millisecond}, nil); err != nil {
			t.Fatal(err)
		}
		for {
			j, err := a.RewrapStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if j.Done >= 12 {
				if j.State != JobRunning || j.Node != "a" {
					t.Errorf("running job = %+v", j)
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		lease, err := st.Get(ctx, []byte(keyRewrapLease))
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		// A crash leaves the lease: put back a live one of node a.
		var l leaseRecord
		if err := json.Unmarshal(lease, &l); err != nil {
			t.Fatal(err)
		}
		l.Expires = time.Now().Add(400 * time.Millisecond)
		raw, _ := json.Marshal(l)
		var b store.Batch
		b.Put([]byte(keyRewrapLease), raw)
		if err := st.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		half, err := a.RewrapStatus(ctx)
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("closed keyring status: %+v, %v", half, err)
		}

		o.Node = "b"
		bk := mustOpen(t, o)
		defer bk.Close()
		before, err := bk.RewrapStatus(ctx)
		if err != nil || before.State != JobRunning || before.Node != "a" || before.Done >= n {
			t.Fatalf("status under a's lease = %+v, %v", before, err)
		}
		bk.ResumeJobs()
		time.Sleep(100 * time.Millisecond)
		if j, _ := bk.RewrapStatus(ctx); j.Done != before.Done {
			t.Errorf("b worked under a's live lease: %d -> %d", before.Done, j.Done)
		}
		done := waitJob(t, bk, JobDone)
		if done.Done != n || done.Node != "b" {
			t.Errorf("resumed job = %+v, want %d done by b", done, n)
		}
		if u := dataUsage(t, bk); u[1] != 0 || u[2] != n {
			t.Errorf("usage = %v", u)
		}
		if n, err := bk.countDEKs(ctx, func(v uint32) bool { return v == 1 }); err != nil || n != 0 {
			t.Errorf("DEKs left on v1: %d, %v", n, err)
		}
	})
}

// TestRewrapJobPaused: an unfinished job whose node is gone and whose lease
// expired reads as paused.
func TestRewrapJobPaused(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	s := suite.IntlSuite()
	k := mustOpen(t, opts(st, s))
	defer k.Close()
	subjectKey(t, k, st, "alice")
	if _, err := k.Rotate(ctx, Data); err != nil {
		t.Fatal(err)
	}
	if _, err := k.RewrapStatus(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("status of no job = %v", err)
	}
	rec := jobRecord{ID: "x", State: JobRunning, Target: 2, Total: 1, Batch: 1, Started: time.Now(), Updated: time.Now()}
	raw, _ := json.Marshal(rec)
	var b store.Batch
	b.Put([]byte(keyRewrapJob), raw)
	if err := st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if j, err := k.RewrapStatus(ctx); err != nil || j.State != JobPaused {
		t.Errorf("status = %+v, %v, want paused", j, err)
	}
	// Starting again follows the unfinished job.
	j, started, err := k.StartRewrap(ctx, RewrapOptions{}, nil)
	if err != nil || started || j.ID != "x" {
		t.Errorf("StartRewrap over an unfinished job = %+v, %v, %v", j, started, err)
	}
	if err := (RewrapOptions{Batch: MaxRewrapBatch + 1}).Validate(); err == nil {
		t.Error("Validate accepts a huge batch")
	}
	if _, _, err := k.StartRewrap(ctx, RewrapOptions{Pause: -time.Second}, nil); err == nil {
		t.Error("StartRewrap accepts a negative pause")
	}
}

// BenchmarkRewrapJob measures the rewrap rate (subject keys per second) of
// the job's steps, without pause, on the memstore and Pebble.
func BenchmarkRewrapJob(b *testing.B) {
	const n = 2000
	for _, be := range backends {
		for _, s := range testSuites {
			b.Run(be.name+"/"+string(s.ID()), func(b *testing.B) {
				ctx := context.Background()
				st := be.open(b)
				o := opts(st, s)
				o.RefreshEvery = -1
				k := mustOpen(b, o)
				defer k.Close()
				for i := range n {
					subjectKey(b, k, st, fmt.Sprintf("subject-%d", i))
				}
				moved := 0
				var elapsed time.Duration
				for b.Loop() {
					if _, err := k.Rotate(ctx, Data); err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					var cursor []byte
					for {
						pr, err := k.rewrapStep(ctx, cursor, DefaultRewrapBatch, func(bt *store.Batch, _ pageResult) error { return st.Apply(ctx, bt) })
						if err != nil {
							b.Fatal(err)
						}
						moved += pr.rewrapped
						cursor = pr.next
						if pr.end {
							break
						}
					}
					elapsed += time.Since(start)
				}
				b.ReportMetric(float64(moved)/elapsed.Seconds(), "keys/s")
			})
		}
	}
}
