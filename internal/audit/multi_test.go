package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/suite"
)

// storedEntries returns every stored entry's bytes, checking that indexes
// are 0..n-1 without a gap.
func storedEntries(t *testing.T, st store.Store) [][]byte {
	t.Helper()
	kvs, err := st.Scan(context.Background(), prefixEntry, store.PrefixEnd(prefixEntry), 0)
	if err != nil {
		t.Fatal(err)
	}
	raws := make([][]byte, len(kvs))
	for i, kv := range kvs {
		if got := binary.BigEndian.Uint64(kv.Key[len(prefixEntry):]); got != uint64(i) {
			t.Fatalf("entry %d stored at index %d: a gap", i, got)
		}
		raws[i] = kv.Value
	}
	return raws
}

// checkProofs checks l's checkpoint, inclusion and consistency proofs
// against the independent MTH of the stored entries.
func checkProofs(t *testing.T, e *env, l *Log, raws [][]byte) {
	t.Helper()
	ctx := context.Background()
	h := e.s.Hash()
	cpText, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Verify(cpText, e.priv.Public(), e.s.Signature(), h)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != uint64(len(raws)) || !bytes.Equal(cp.Root, independentRoot(h, raws)) {
		t.Fatalf("checkpoint of size %d (stored %d) differs from the independent MTH", cp.Size, len(raws))
	}
	n := cp.Size
	for _, i := range []uint64{0, 1, n / 3, n / 2, n - 2, n - 1, 255, 256, 257} {
		if i >= n {
			continue
		}
		proof, err := l.InclusionProof(ctx, i, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.VerifyInclusion(h, i, n, tlog.LeafHash(h, raws[i]), proof, cp.Root); err != nil {
			t.Fatalf("inclusion of %d in %d: %v", i, n, err)
		}
	}
	for _, old := range []uint64{1, 7, n / 4, n / 2, 256, 513, n - 1} {
		if old == 0 || old >= n {
			continue
		}
		proof, err := l.ConsistencyProof(ctx, old, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.VerifyConsistency(h, old, n, independentRoot(h, raws[:old]), cp.Root, proof); err != nil {
			t.Fatalf("consistency %d -> %d: %v", old, n, err)
		}
	}
}

// TestSeveralProcesses: two and three logs over one store, each appended to
// from many goroutines (Append in batches, aborts, AppendNow) while
// integrating concurrently (background integrators and Syncs from every
// process): every entry is stored exactly once, without a gap, the log
// verifies, and the checkpoints and proofs of every process agree with an
// independent recomputation.
func TestSeveralProcesses(t *testing.T) {
	for _, backend := range []string{"mem", "pebble"} {
		for _, procs := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/processes=%d", backend, procs), func(t *testing.T) {
				testSeveralProcesses(t, backend, procs)
			})
		}
	}
}

func testSeveralProcesses(t *testing.T, backend string, procs int) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	var st store.Store = e.st
	if backend == "pebble" {
		ps, err := pebble.Open(t.TempDir(), pebble.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ps.Close() })
		st = ps
	}
	e.opts.Store = st
	e.opts.Manual = false
	e.opts.IntegrateBatch = 8
	e.opts.CheckpointEvery = 50
	e.opts.LeaseBlock = 16
	logs := make([]*Log, procs)
	for i := range logs {
		l, err := Open(ctx, e.opts)
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = l
	}
	const workers, each = 6, 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := map[string]int{} // request id -> times acknowledged
	aborted := map[string]bool{}
	stop := make(chan struct{})
	var syncers sync.WaitGroup
	for _, l := range logs {
		syncers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := l.Sync(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for pi, l := range logs {
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					n := (pi*workers+w)*each + i
					en := sampleEntry(n)
					switch {
					case i%3 == 0:
						if err := l.AppendNow(ctx, en); err != nil {
							t.Error(err)
							return
						}
					default:
						es := []entry.Entry{en}
						if i%7 == 1 {
							e2 := sampleEntry(n)
							e2.RequestID += "-b"
							es = append(es, e2)
						}
						var b store.Batch
						b.Put(fmt.Appendf(nil, "r/%d", n), []byte("x"))
						p, err := l.Append(ctx, &b, es...)
						if err != nil {
							t.Error(err)
							return
						}
						if i%11 == 5 { // the request's own write fails
							l.Abort(p)
							mu.Lock()
							for _, x := range es {
								aborted[x.RequestID] = true
							}
							mu.Unlock()
							continue
						}
						if err := st.Apply(ctx, &b); err != nil {
							t.Error(err)
							l.Abort(p)
							return
						}
						l.Commit(p)
						en = es[len(es)-1]
						if len(es) == 2 {
							mu.Lock()
							written[es[0].RequestID]++
							mu.Unlock()
						}
					}
					mu.Lock()
					written[en.RequestID]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(stop)
	syncers.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A new process integrates whatever the last one left.
	last, err := Open(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer last.Close()
	if _, err := last.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	raws := storedEntries(t, st)
	seen := map[string]int{}
	voids := 0
	for i, raw := range raws {
		en, err := entry.Parse(raw)
		if err != nil || en.Index != uint64(i) {
			t.Fatalf("entry %d: %v", i, err)
		}
		switch {
		case en.Action == entry.Void:
			voids++
		case en.Outcome == entry.Aborted:
			if !aborted[en.RequestID] {
				t.Fatalf("entry %d (%s) aborted, but its write succeeded", i, en.RequestID)
			}
		default:
			seen[en.RequestID]++
		}
	}
	for id, n := range written {
		if seen[id] != n {
			t.Fatalf("request %s acknowledged %d times, stored %d times", id, n, seen[id])
		}
	}
	if len(seen) != len(written) {
		t.Fatalf("%d requests stored, %d acknowledged", len(seen), len(written))
	}
	rep, err := Verify(ctx, StoreReader(st, e.s.Hash()), VerifyOptions{Keys: testKeys(t, e.s.Signature(), e.s.Hash(), e.priv.Public())})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != uint64(len(raws)) || rep.Signed != rep.Entries {
		t.Fatalf("report %+v, %d stored", rep, len(raws))
	}
	var stale int64
	for _, l := range logs {
		stale += l.stale.Load()
	}
	t.Logf("%d entries (%d void), %d checkpoints, %d stale integrations retried", rep.Entries, voids, rep.Checkpoints, stale)
	checkProofs(t, e, last, raws)
}

// TestStaleIntegrator: two processes take turns appending and integrating,
// so each integrates from a stale tree half of the time: the stale pass
// fails its compare-and-set, reloads and retries; the tiles stay right.
func TestStaleIntegrator(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.CNSuite())
	e.opts.CheckpointEvery = 40
	e.opts.LeaseBlock = 8
	a, b := e.open(t), e.open(t)
	for round := range 60 {
		l := []*Log{a, b}[round%2]
		writeMixed(t, l, e.st, 7+round%5)
	}
	// Both integrate the same range concurrently, many times.
	for range 20 {
		writeMixed(t, a, e.st, 3)
		writeMixed(t, b, e.st, 3)
		var wg sync.WaitGroup
		for _, l := range []*Log{a, b, a, b} {
			wg.Go(func() {
				if _, err := l.Checkpoint(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if a.stale.Load() == 0 || b.stale.Load() == 0 {
		t.Fatalf("stale integrations: %d, %d; want some in both", a.stale.Load(), b.stale.Load())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	raws := storedEntries(t, e.st)
	if b.Size() != uint64(len(raws)) {
		t.Fatalf("size %d, %d stored", b.Size(), len(raws))
	}
	if _, err := e.verify(e.st); err != nil {
		t.Fatal(err)
	}
	checkProofs(t, e, b, raws)
	// a's last checkpoint verifies too, and is a prefix of b's tree.
	cpA, _ := a.LatestCheckpoint()
	ca, err := checkpoint.Verify(cpA, e.priv.Public(), e.s.Signature(), e.s.Hash())
	if err != nil || !bytes.Equal(ca.Root, independentRoot(e.s.Hash(), raws[:ca.Size])) {
		t.Fatalf("a's checkpoint: %+v, %v", ca, err)
	}
}

// TestDeadProcessBlockVoided: a process leases a block and dies without
// using it (and one with an index reserved but never written): the other
// fills the holes with void entries after VoidGrace, not before.
func TestDeadProcessBlockVoided(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	a := e.open(t)
	writeMixed(t, a, e.st, 3)
	var lost store.Batch
	if _, err := a.Append(ctx, &lost, sampleEntry(3)); err != nil { // never applied
		t.Fatal(err)
	}
	dead, err := Open(ctx, e.opts) // leases a block, then "dies" (no Close)
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.lease(ctx, 1); err != nil {
		t.Fatal(err)
	}
	b := e.open(t)
	writeMixed(t, b, e.st, 10)
	e.clock.add(DefaultVoidGrace - time.Millisecond)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Size() != 3 {
		t.Fatalf("size %d before the grace period, want 3", b.Size())
	}
	e.clock.add(time.Millisecond)
	if _, err := b.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// a's block (4..63) and the dead block (64..127) are void, b's 10
	// entries follow.
	if want := uint64(2 * DefaultLeaseBlock); b.Size() != want+10 {
		t.Fatalf("size %d, want %d", b.Size(), want+10)
	}
	rep, err := e.verify(e.st)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Actions[entry.Void] != 2*DefaultLeaseBlock-3 {
		t.Fatalf("report %+v", rep)
	}
	// b wrote them (the metric domicile_audit_void_entries_total).
	if got := b.Voids(); got != 2*DefaultLeaseBlock-3 {
		t.Fatalf("b.Voids() = %d, want %d", got, 2*DefaultLeaseBlock-3)
	}
	// The writer of the voided index 3 gets ErrConflict and retries; a
	// then leases a fresh block instead of handing out voided indexes.
	if err := e.st.Apply(ctx, &lost); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Apply over a voided index = %v", err)
	}
	if err := a.AppendNow(ctx, sampleEntry(99)); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil { // b voids its idle rest (138..191)
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	raws := storedEntries(t, e.st)
	if got, _ := entry.Parse(raws[len(raws)-1]); got.RequestID != "req-99" {
		t.Fatalf("last entry %+v", got)
	}
	if _, err := e.verify(e.st); err != nil {
		t.Fatal(err)
	}
}

// TestAppendNowRetriesVoidedIndex: AppendNow whose index was voided by
// another process retries with a new one.
func TestAppendNowRetriesVoidedIndex(t *testing.T) {
	ctx := context.Background()
	e, a, b := voidedWriter(t)
	if err := a.AppendNow(ctx, sampleEntry(7)); err != nil {
		t.Fatal(err)
	}
	// a's new block follows b's: b's pass voids its own idle rest at once.
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	raws := storedEntries(t, e.st)
	if got, _ := entry.Parse(raws[len(raws)-1]); got.RequestID != "req-7" || a.Size() != uint64(len(raws)) {
		t.Fatalf("last entry %+v, size %d of %d", got, a.Size(), len(raws))
	}
	if _, err := e.verify(e.st); err != nil {
		t.Fatal(err)
	}
}

// voidedWriter returns two processes' logs over one store, where b has
// voided the rest of a's block without a knowing.
func voidedWriter(t *testing.T) (e *env, a, b *Log) {
	t.Helper()
	ctx := context.Background()
	e = newEnv(t, suite.IntlSuite())
	a, b = e.open(t), e.open(t)
	writeMixed(t, a, e.st, 2)
	writeMixed(t, b, e.st, 2) // b's block starts at 64: a's rest stalls it
	// b voids a's idle rest after the grace period; a does not know.
	e.clock.add(DefaultVoidGrace)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Size() != DefaultLeaseBlock+2 {
		t.Fatalf("size %d", b.Size())
	}
	return e, a, b
}

// TestApplyRetriesVoidedIndex: Apply retries the caller's batch with a
// fresh reservation when another process voided its index, and does not
// retry a conflict of the caller's own writes.
func TestApplyRetriesVoidedIndex(t *testing.T) {
	ctx := context.Background()
	e, a, b := voidedWriter(t)
	var w store.Batch
	w.Insert([]byte("w/record"), []byte("v"))
	if err := a.Apply(ctx, &w, sampleEntry(7)); err != nil {
		t.Fatalf("Apply after the index was voided: %v", err)
	}
	if got, err := e.st.Get(ctx, []byte("w/record")); err != nil || string(got) != "v" {
		t.Fatalf("the caller's write = %q, %v", got, err)
	}
	var again store.Batch
	again.Insert([]byte("w/record"), []byte("other"))
	if err := a.Apply(ctx, &again, sampleEntry(8)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Apply of a batch that conflicts by itself: %v, want ErrConflict", err)
	}
	if got, _ := e.st.Get(ctx, []byte("w/record")); string(got) != "v" {
		t.Fatalf("a failed Apply changed the caller's key: %q", got)
	}
	// a's new block follows b's: b's pass voids its own idle rest at once.
	for _, l := range []*Log{b, a} {
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.verify(e.st); err != nil {
		t.Fatal(err)
	}
}

// TestIdleBlockVoidedByOwner: a process whose unused block stalls later
// entries voids it at once; Close hands an unused block back.
func TestIdleBlockVoidedByOwner(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	a, b := e.open(t), e.open(t)
	writeMixed(t, a, e.st, 2)
	writeMixed(t, b, e.st, 2)
	if err := a.Sync(ctx); err != nil { // no clock advance needed
		t.Fatal(err)
	}
	if a.Size() != DefaultLeaseBlock+2 {
		t.Fatalf("size %d", a.Size())
	}
	// b's block (66..127) is unused: Close returns it.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	writeMixed(t, a, e.st, 3)
	if a.Size() != DefaultLeaseBlock+5 {
		t.Fatalf("size %d after b closed", a.Size())
	}
	if _, err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(e.st); err != nil {
		t.Fatal(err)
	}
}
