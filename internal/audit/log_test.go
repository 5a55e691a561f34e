package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/domicile/domicile/internal/store/memstore"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// clock is an injected clock advanced by tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	st    *memstore.Store
	s     suite.Suite
	priv  crypto.Signer
	clock *clock
	opts  Options
}

func newEnv(t testing.TB, s suite.Suite) *env {
	t.Helper()
	priv, err := s.Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: memstore.New(), s: s, priv: priv, clock: &clock{t: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}}
	e.opts = Options{Store: e.st, Region: "cn-north", Origin: "domicile.example/cn-north", Hash: s.Hash(), Signature: s.Signature(),
		Signer: func() (crypto.Signer, error) { return priv, nil }, Now: e.clock.now, CheckpointEvery: 100,
		CheckpointInterval: time.Hour, Manual: true}
	return e
}

func (e *env) open(t testing.TB) *Log {
	t.Helper()
	l, err := Open(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func (e *env) verify(st store.Store) (*Report, error) {
	return Verify(context.Background(), StoreReader(st, e.s.Hash()), VerifyOptions{Keys: testKeys(nil, e.s.Signature(), e.s.Hash(), e.priv.Public())})
}

// testKeys is the key set of pubs; tb nil panics on a bad key.
func testKeys(tb testing.TB, sig suite.Signature, h suite.Hash, pubs ...crypto.PublicKey) *checkpoint.KeySet {
	ks, err := checkpoint.NewKeySet(sig, h, pubs...)
	if err != nil {
		if tb == nil {
			panic(err)
		}
		tb.Helper()
		tb.Fatal(err)
	}
	return ks
}

func sampleEntry(i int) entry.Entry {
	actions := []entry.Action{entry.Create, entry.Read, entry.Search, entry.Patch, entry.Delete, entry.Erase, entry.Detokenize}
	return entry.Entry{
		RequestID: fmt.Sprintf("req-%d", i), Principal: fmt.Sprintf("svc-%d", i%5), Location: "CN",
		Action: actions[i%len(actions)], Collection: "customers", Records: []string{fmt.Sprintf("cn-north_r%d", i)},
		Fields: []string{"email"}, Subjects: []entry.SubjectMAC{bytes.Repeat([]byte{byte(i)}, 32)},
		Purpose: "support", Decision: "clear", Rule: "in-region", Outcome: entry.OK,
	}
}

// writeMixed appends n entries: creates in the caller's batch with a record
// write, reads with AppendNow, and every 10th as a batch of two.
func writeMixed(t testing.TB, l *Log, st store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; {
		e := sampleEntry(i)
		switch {
		case i%10 == 9 && i+1 < n:
			var b store.Batch
			b.Put([]byte("r/"+rand.Text()), []byte("ciphertext"))
			p, err := l.Append(ctx, &b, e, sampleEntry(i+1))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Apply(ctx, &b); err != nil {
				t.Fatal(err)
			}
			l.Commit(p)
			i += 2
		case e.Action == entry.Read || e.Action == entry.Search:
			if err := l.AppendNow(ctx, e); err != nil {
				t.Fatal(err)
			}
			i++
		default:
			var b store.Batch
			b.Insert([]byte("r/"+rand.Text()), []byte("ciphertext"))
			p, err := l.Append(ctx, &b, e)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Apply(ctx, &b); err != nil {
				t.Fatal(err)
			}
			l.Commit(p)
			i++
		}
		if i%37 == 0 {
			if err := l.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMixedWorkloadVerifies(t *testing.T) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(s.ID()), func(t *testing.T) {
			e := newEnv(t, s)
			l := e.open(t)
			writeMixed(t, l, e.st, 1000)
			if _, err := l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			rep, err := e.verify(e.st)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Entries != 1000 || rep.Signed != 1000 || rep.Checkpoints < 10 {
				t.Fatalf("report %+v", rep)
			}
			root, _ := l.Root(context.Background(), 1000)
			if !bytes.Equal(rep.Root, root) {
				t.Fatal("verified root differs from the log's")
			}
		})
	}
}

// independentRoot is MTH over the stored entries, computed here from the
// RFC 6962 definition with the suite hash only.
func independentRoot(h suite.Hash, leaves [][]byte) []byte {
	if len(leaves) == 0 {
		return h.Sum(nil)
	}
	if len(leaves) == 1 {
		return h.Sum(append([]byte{0}, leaves[0]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return h.Sum(append(append([]byte{1}, independentRoot(h, leaves[:k])...), independentRoot(h, leaves[k:])...))
}

func TestServedProofsVerifyIndependently(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.CNSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 700)
	cpText, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Verify(cpText, e.priv.Public(), suite.SM2(), suite.SM3())
	if err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for i := uint64(0); i < cp.Size; i++ {
		raw, _, err := l.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	if !bytes.Equal(independentRoot(suite.SM3(), raws), cp.Root) {
		t.Fatal("checkpoint root differs from the independent MTH")
	}
	for _, i := range []uint64{0, 1, 99, 150, 255, 256, 299, 511, 512, 513, 698, 699} {
		proof, err := l.InclusionProof(ctx, i, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		// Independent check: fold the path by hand (RFC 9162 §2.1.3.2).
		r := suite.SM3().Sum(append([]byte{0}, raws[i]...))
		fn, sn := i, cp.Size-1
		for _, p := range proof {
			if fn%2 == 1 || fn == sn {
				r = suite.SM3().Sum(append(append([]byte{1}, p...), r...))
				for fn%2 == 0 && fn != 0 {
					fn, sn = fn/2, sn/2
				}
			} else {
				r = suite.SM3().Sum(append(append([]byte{1}, r...), p...))
			}
			fn, sn = fn/2, sn/2
		}
		if sn != 0 || !bytes.Equal(r, cp.Root) {
			t.Fatalf("inclusion proof of %d does not verify independently", i)
		}
	}
	for _, old := range []uint64{1, 100, 128, 200, 256, 257, 299, 512, 699, 700} {
		proof, err := l.ConsistencyProof(ctx, old, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.VerifyConsistency(suite.SM3(), old, cp.Size, independentRoot(suite.SM3(), raws[:old]), cp.Root, proof); err != nil {
			t.Fatalf("consistency %d -> %d: %v", old, cp.Size, err)
		}
	}
	if _, err := l.InclusionProof(ctx, 700, 700); !errors.Is(err, ErrRange) {
		t.Fatalf("proof beyond the tree: %v", err)
	}
}

func wantBad(t *testing.T, err error, entryIdx, cpSize int64, substr string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) || !errors.Is(err, ErrTampered) {
		t.Fatalf("Verify error = %v, want a *VerifyError", err)
	}
	if ve.Entry != entryIdx || ve.Checkpoint != cpSize || !strings.Contains(err.Error(), substr) {
		t.Fatalf("Verify error = %q (entry %d, checkpoint %d), want entry %d, checkpoint %d, containing %q",
			err, ve.Entry, ve.Checkpoint, entryIdx, cpSize, substr)
	}
}

func TestTamperedCopiesFail(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.CNSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 1000)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(e.st); err != nil {
		t.Fatal(err)
	}
	other, _ := suite.SM2().GenerateKey(rand.Reader)
	raws, _ := StoreReader(e.st, e.s.Hash()).Checkpoints(ctx)
	var cpSizes []int64
	for _, r := range raws {
		cpSizes = append(cpSizes, int64(r.Size))
	}
	// after returns the first checkpoint size above i.
	after := func(i int64) int64 {
		for _, s := range cpSizes {
			if s > i {
				return s
			}
		}
		t.Fatalf("no checkpoint after %d in %v", i, cpSizes)
		return 0
	}
	prev := func(i int64) int64 {
		p := int64(0)
		for _, s := range cpSizes {
			if s <= i {
				p = s
			}
		}
		return p
	}

	t.Run("fail/one-byte-of-one-entry", func(t *testing.T) {
		raw := rawGet(e.st, entryKey(500))
		for _, off := range []int{0, 5, 12, 20, len(raw) / 2, len(raw) - 1} {
			c := e.st.Clone()
			v := bytes.Clone(raw)
			v[off] ^= 0x01
			c.Set([]byte(entryKey(500)), v)
			_, err := e.verify(c)
			wantBad(t, err, 500, -1, "entry 500")
		}
	})
	t.Run("fail/one-byte-and-its-leaf", func(t *testing.T) {
		c := e.st.Clone()
		v := bytes.Clone(rawGet(c, entryKey(500)))
		off := bytes.Index(v, []byte("req-500"))
		v[off+6] = '1' // "req-501": still parses
		c.Set([]byte(entryKey(500)), v)
		tile := bytes.Clone(rawGet(c, tileKey(prefixNode, 0, 500/tileWidth)))
		copy(tile[(500%tileWidth)*32:], tlog.LeafHash(suite.SM3(), v))
		c.Set(tileKey(prefixNode, 0, 500/tileWidth), tile)
		_, err := e.verify(c)
		wantBad(t, err, -1, after(500), fmt.Sprintf("an entry in %d..%d was altered", prev(500), after(500)-1))
	})
	t.Run("fail/delete-one-entry", func(t *testing.T) {
		c := e.st.Clone()
		c.Delete(entryKey(300))
		_, err := e.verify(c)
		wantBad(t, err, 300, -1, "missing")
	})
	t.Run("fail/swap-two-entries", func(t *testing.T) {
		c := e.st.Clone()
		a, b := rawGet(c, entryKey(200)), rawGet(c, entryKey(700))
		c.Set([]byte(entryKey(200)), b)
		c.Set([]byte(entryKey(700)), a)
		_, err := e.verify(c)
		wantBad(t, err, 200, -1, "swapped")
	})
	t.Run("fail/truncate-and-resign", func(t *testing.T) {
		c := e.st.Clone()
		for i := uint64(600); i < 1000; i++ {
			c.Delete(entryKey(i))
		}
		kvs, _ := c.Scan(ctx, []byte("a/"), store.PrefixEnd([]byte("a/")), 0)
		for _, kv := range kvs {
			if bytes.HasPrefix(kv.Key, prefixNode) || bytes.HasPrefix(kv.Key, prefixCheckpoint) {
				c.Delete(kv.Key)
			}
		}
		c.Delete(keySize)
		c.Delete(keyLatest)
		// Rebuild the tree of the first 600 entries and sign it with
		// another key, as an attacker would (with this package's code).
		o := e.opts
		o.Store = c
		o.Signer = func() (crypto.Signer, error) { return other, nil }
		o.CheckpointEvery = 100
		lc, err := Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lc.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		lc.Close()
		_, err = e.verify(c)
		wantBad(t, err, -1, 600, "not signed by the region's key")
	})
	t.Run("fail/truncate-keeping-checkpoints", func(t *testing.T) {
		c := e.st.Clone()
		for i := uint64(850); i < 1000; i++ {
			c.Delete(entryKey(i))
		}
		_, err := e.verify(c)
		wantBad(t, err, 850, -1, "removed")
	})
	t.Run("fail/replace-a-checkpoint", func(t *testing.T) {
		c := e.st.Clone()
		a, b := after(500), after(700)
		c.Set([]byte(checkpointKey(uint64(b))), rawGet(c, checkpointKey(uint64(a))))
		_, err := e.verify(c)
		wantBad(t, err, -1, b, fmt.Sprintf("says size %d", a))
	})
	t.Run("fail/replace-a-checkpoint-other-key", func(t *testing.T) {
		c := e.st.Clone()
		b := after(700)
		s, _ := checkpoint.Parse(rawGet(c, checkpointKey(uint64(b))))
		cp, _ := checkpoint.Sign(s.Checkpoint, suite.SM2(), suite.SM3(), other, rand.Reader)
		c.Set([]byte(checkpointKey(uint64(b))), cp)
		_, err := e.verify(c)
		wantBad(t, err, -1, b, "not signed by the region's key")
	})
	t.Run("fail/wrong-algorithm", func(t *testing.T) {
		other, _ := suite.ECDSAP256().GenerateKey(rand.Reader)
		_, err := Verify(ctx, StoreReader(e.st, e.s.Hash()), VerifyOptions{Keys: testKeys(t, suite.ECDSAP256(), suite.SHA256(), other.Public())})
		wantBad(t, err, -1, cpSizes[0], "signed with SM2/SM3, expected ECDSA-P256/SHA-256")
	})
	t.Run("ok/untouched", func(t *testing.T) {
		if _, err := e.verify(e.st.Clone()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 250)
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	verifyExport := func(b []byte) (*Report, error) {
		return Verify(ctx, NewExportReader(bytes.NewReader(b)), VerifyOptions{Keys: testKeys(t, suite.ECDSAP256(), suite.SHA256(), e.priv.Public())})
	}
	rep, err := verifyExport(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 250 || rep.Signed < 200 || rep.Checkpoints < 2 {
		t.Fatalf("report %+v", rep)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	first := 1 + rep.Checkpoints
	t.Run("fail/edited-json-form", func(t *testing.T) {
		ls := append([]string(nil), lines...)
		ls[first+42] = strings.Replace(ls[first+42], `"principal":"svc-2"`, `"principal":"svc-3"`, 1)
		_, err := verifyExport([]byte(strings.Join(ls, "\n") + "\n"))
		wantBad(t, err, 42, -1, "JSON form")
	})
	t.Run("fail/dropped-line", func(t *testing.T) {
		ls := append(append([]string(nil), lines[:first+42]...), lines[first+43:]...)
		_, err := verifyExport([]byte(strings.Join(ls, "\n") + "\n"))
		wantBad(t, err, 42, -1, "missing")
	})
}

func TestFailedApplyLeavesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 50)
	full := errors.New("disk full")
	e.st.SetFailApply(func(b *store.Batch) error {
		for _, op := range b.Ops() {
			if bytes.HasPrefix(op.Key, []byte("r/")) {
				return full
			}
		}
		return nil
	})
	var b store.Batch
	b.Insert([]byte("r/new"), []byte("ciphertext"))
	p, err := l.Append(ctx, &b, sampleEntry(50))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Apply(ctx, &b); !errors.Is(err, full) {
		t.Fatalf("Apply = %v", err)
	}
	l.Abort(p)
	if rawGet(e.st, []byte("r/new")) != nil {
		t.Fatal("the record was stored")
	}
	e.st.SetFailApply(nil)
	writeMixed(t, l, e.st, 10)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := e.verify(e.st)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 61 {
		t.Fatalf("entries = %d, want 61", rep.Entries)
	}
	_, got, err := l.Entry(ctx, 50)
	if err != nil || got.Outcome != entry.Aborted || got.RequestID != "req-50" {
		t.Fatalf("entry 50 = %+v, %v; want the aborted attempt", got, err)
	}
}

func TestClosedStoreFailsClosed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	e.opts.MaxBacklog = 8
	l := e.open(t)
	writeMixed(t, l, e.st, 5)
	e.st.Close()
	for i := 0; i < 8; i++ {
		err := l.AppendNow(ctx, sampleEntry(i))
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("AppendNow on a closed store = %v", err)
		}
		_ = l.Sync(ctx)
	}
	if err := l.AppendNow(ctx, sampleEntry(9)); !errors.Is(err, ErrBacklog) {
		t.Fatalf("AppendNow with a full backlog = %v, want ErrBacklog", err)
	}
	if l.Err() == nil {
		t.Fatal("Err() is nil after failed integrations")
	}
}

func TestAbortAfterAmbiguousCommitKeepsEntry(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	var b store.Batch
	p, err := l.Append(ctx, &b, sampleEntry(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	l.Abort(p) // as if Apply had reported a timeout after committing
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	_, got, err := l.Entry(ctx, 0)
	if err != nil || got.Outcome != entry.OK {
		t.Fatalf("entry 0 = %+v, %v", got, err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(e.st); err != nil {
		t.Fatal(err)
	}
}

func TestCrashRecoveryFillsGaps(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.CNSuite())
	l, err := Open(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	writeMixed(t, l, e.st, 10)
	var b1, b2 store.Batch
	if _, err := l.Append(ctx, &b1, sampleEntry(10)); err != nil { // never applied
		t.Fatal(err)
	}
	p2, err := l.Append(ctx, &b2, sampleEntry(11), sampleEntry(12))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Apply(ctx, &b2); err != nil {
		t.Fatal(err)
	}
	l.Commit(p2)
	// Crash: the log is dropped without Close. Entries after the hole
	// older than VoidGrace prove it is stale: Open voids it.
	e.clock.add(DefaultVoidGrace)
	l2 := e.open(t)
	if l2.Size() != 13 {
		t.Fatalf("recovered size %d, want 13", l2.Size())
	}
	_, got, err := l2.Entry(ctx, 10)
	if err != nil || got.Action != entry.Void {
		t.Fatalf("entry 10 = %+v, %v; want void", got, err)
	}
	// The rest of the dead process's block (13..63) is voided once later
	// entries have waited for VoidGrace.
	writeMixed(t, l2, e.st, 5)
	if l2.Size() != 13 {
		t.Fatalf("size %d before the grace period, want 13", l2.Size())
	}
	e.clock.add(DefaultVoidGrace)
	if _, err := l2.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.verify(e.st); err != nil || rep.Entries != DefaultLeaseBlock+5 || rep.Actions[entry.Void] != DefaultLeaseBlock-12 {
		t.Fatalf("verify after recovery: %+v, %v", rep, err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	e.opts.Manual = false
	e.opts.IntegrateBatch = 16
	e.opts.CheckpointEvery = 64
	l, err := Open(ctx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[uint64]bool{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var b store.Batch
				b.Put([]byte(fmt.Sprintf("r/%d/%d", w, i)), []byte("x"))
				p, err := l.Append(ctx, &b, sampleEntry(w*each+i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[p.First()] {
					t.Errorf("index %d reserved twice", p.First())
				}
				seen[p.First()] = true
				mu.Unlock()
				if i%9 == 4 { // this request's write fails
					l.Abort(p)
					continue
				}
				if err := e.st.Apply(ctx, &b); err != nil {
					t.Error(err)
				}
				l.Commit(p)
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < workers*each; i++ {
		if !seen[i] {
			t.Fatalf("index %d never reserved", i)
		}
	}
	rep, err := e.verify(e.st)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != workers*each {
		t.Fatalf("entries %d, want %d", rep.Entries, workers*each)
	}
}

func TestCheckpointTriggers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.CNSuite())
	e.opts.CheckpointEvery = 1000
	e.opts.CheckpointInterval = 10 * time.Second
	wpath := filepath.Join(t.TempDir(), "witness")
	e.opts.Witness = NewFileWitness(wpath)
	l := e.open(t)
	writeMixed(t, l, e.st, 5)
	if _, err := l.LatestCheckpoint(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("checkpoint before T: %v", err)
	}
	e.clock.add(10 * time.Second)
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	cp, err := l.LatestCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Verify(cp, e.priv.Public(), suite.SM2(), suite.SM3())
	if err != nil || c.Size != 5 || !c.Time.Equal(e.clock.now()) {
		t.Fatalf("checkpoint %+v, %v", c, err)
	}
	// Nothing new: no new checkpoint however late.
	e.clock.add(time.Hour)
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := l.LatestCheckpoint(); !bytes.Equal(again, cp) {
		t.Fatal("a checkpoint was signed without new entries")
	}
	w, err := os.ReadFile(wpath)
	if err != nil || !bytes.Equal(w, cp) {
		t.Fatalf("witness file = %q, %v", w, err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 100)
	var all []entry.Entry
	cursor := ""
	for {
		page, next, err := l.List(ctx, Filter{Principal: "svc-2", Action: entry.Create}, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	want := 0
	for i := range 100 {
		s := sampleEntry(i)
		if s.Principal == "svc-2" && s.Action == entry.Create {
			want++
		}
	}
	if len(all) != want || want == 0 {
		t.Fatalf("listed %d, want %d", len(all), want)
	}
	page, _, err := l.List(ctx, Filter{Record: "cn-north_r42"}, "", 10)
	if err != nil || len(page) != 1 || page[0].Index != 42 {
		t.Fatalf("by record: %+v, %v", page, err)
	}
	if _, _, err := l.List(ctx, Filter{}, "x", 10); !errors.Is(err, ErrCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestNoSubjectInStore(t *testing.T) {
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	ctx := context.Background()
	if err := l.AppendNow(ctx, entry.Entry{Action: entry.Read, Principal: "svc", Outcome: entry.OK,
		Subjects: []entry.SubjectMAC{suite.IntlSuite().MAC().Sum([]byte("key"), []byte("alice@example.com"))}}); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendNow(ctx, entry.Entry{Action: entry.Read, Principal: "alice@example.com (CEO)", Outcome: entry.OK}); err == nil {
		t.Fatal("free text accepted as a principal")
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e.st.Raw(), []byte("alice")) {
		t.Fatal("a submitted value reached the store")
	}
}

// rawGet returns the stored value of key, or nil.
func rawGet(st *memstore.Store, key []byte) []byte {
	v, err := st.Get(context.Background(), key)
	if err != nil {
		return nil
	}
	return v
}

// A lease reserves LeaseBlock indexes while appends come one at a time, and
// one LeaseBlock more for each append that queued behind the previous lease
// (up to MaxLeaseFactor): under concurrency a block no longer lasts one
// round of appends, each waiting for a lease's fsync. It shrinks back once
// appends stop queueing.
func TestLeaseGrowsWithQueuedAppends(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	const block, queued = 8, 5
	e.opts.LeaseBlock = block
	l := e.open(t)
	next := func() uint64 {
		v := rawGet(e.st, keyNext)
		if len(v) != 8 {
			t.Fatalf("a/m/next is %x", v)
		}
		return binary.BigEndian.Uint64(v)
	}
	appendOne := func(i int) {
		if err := l.AppendNow(ctx, sampleEntry(i)); err != nil {
			t.Error(err)
		}
	}
	for i := range block { // one lease, for appends one at a time
		appendOne(i)
	}
	if got := next(); got != block {
		t.Fatalf("after %d lone appends a/m/next = %d, want %d", block, got, block)
	}
	// The next lease waits in the store while queued appends pile up
	// behind it.
	leasing, release := make(chan struct{}), make(chan struct{})
	e.st.SetFailApply(func(b *store.Batch) error {
		for _, op := range b.Ops() {
			if bytes.Equal(op.Key, keyNext) && op.Kind == store.OpExpect {
				close(leasing)
				<-release
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	wg.Go(func() { appendOne(block) })
	<-leasing
	e.st.SetFailApply(nil)
	for i := range queued {
		wg.Go(func() { appendOne(block + 1 + i) })
	}
	for l.leaseWaiting.Load() != 1+queued {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got := next(); got != 2*block {
		t.Fatalf("the lease the appends queued behind: a/m/next = %d, want %d", got, 2*block)
	}
	// The rest of that block, then one more: a lease of 1+queued blocks.
	n := block + 1 + queued
	for ; n < 3*block; n++ {
		appendOne(n)
	}
	if got, want := next(), uint64(2*block+(1+queued)*block); got != want {
		t.Fatalf("after %d appends queued for a lease, the next reserved up to %d, want %d", queued, got, want)
	}
	// Nobody queued for that one: back to one block.
	for ; n < 2*block+(1+queued)*block+1; n++ {
		appendOne(n)
	}
	if got, want := next(), uint64(3*block+(1+queued)*block); got != want {
		t.Fatalf("a lease nobody queued for reserved up to %d, want %d", got, want)
	}
}
