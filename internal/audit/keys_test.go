package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// rotatingEnv is a log whose signer is rotated through keys, each rotation
// recorded with its introduction entry as the region service records it.
type rotatingEnv struct {
	*env
	keys []crypto.Signer
	cur  atomic.Int32
}

func newRotatingEnv(t *testing.T, s suite.Suite, n int) *rotatingEnv {
	e := &rotatingEnv{env: newEnv(t, s)}
	e.keys = append(e.keys, e.priv)
	for range n - 1 {
		k, err := s.Signature().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		e.keys = append(e.keys, k)
	}
	e.opts.Signer = func() (crypto.Signer, error) { return e.keys[e.cur.Load()], nil }
	return e
}

func (e *rotatingEnv) pubs(idx ...int) []crypto.PublicKey {
	var out []crypto.PublicKey
	for _, i := range idx {
		out = append(out, e.keys[i].Public())
	}
	return out
}

// rotate records the introduction of the next key, lets the outgoing key
// sign a checkpoint over it, then makes the next key current.
func (e *rotatingEnv) rotate(t *testing.T, l *Log) {
	t.Helper()
	ctx := context.Background()
	next := int(e.cur.Load()) + 1
	rule, err := KeyIntroRule(l.Origin(), uint32(next+1), e.keys[next].Public(), e.s.Signature(), e.s.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AppendNow(ctx, entry.Entry{RequestID: "rot", Principal: "admin", Action: entry.Key, Decision: "allow", Rule: rule, Outcome: entry.OK}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e.cur.Store(int32(next))
}

// TestVerifyKeyHistory checks that a log signed by three successive audit
// keys verifies with all three, names which key signed what and where
// each was introduced, and fails naming the first checkpoint whose key is
// missing from the set.
func TestVerifyKeyHistory(t *testing.T) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(s.ID()), func(t *testing.T) {
			ctx := context.Background()
			e := newRotatingEnv(t, s, 3)
			l := e.open(t)
			writeMixed(t, l, e.st, 150) // checkpoint at 100 (every 100)
			e.rotate(t, l)              // entry 150 introduces key 2; key 1 signs 151
			writeMixed(t, l, e.st, 100)
			e.rotate(t, l) // entry 251 introduces key 3; key 2 signs 252 (and 200)
			writeMixed(t, l, e.st, 60)
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			verify := func(keys ...int) (*Report, error) {
				return Verify(ctx, StoreReader(e.st, s.Hash()), VerifyOptions{Keys: testKeys(t, s.Signature(), s.Hash(), e.pubs(keys...)...)})
			}
			rep, err := verify(0, 1, 2)
			if err != nil {
				t.Fatal(err)
			}
			// Key 1 signs through the checkpoint over key 2's
			// introduction (151), key 2 from after it through 252, key 3
			// the rest.
			k := rep.Keys
			if k[0].Introduced != -1 || k[0].Last != 151 || k[1].Introduced != 150 || k[1].First <= 151 || k[1].Last != 252 ||
				k[2].Introduced != 251 || k[2].First <= 252 || k[2].Last != 312 || k[0].Checkpoints+k[1].Checkpoints+k[2].Checkpoints != rep.Checkpoints {
				t.Fatalf("key uses %+v", k)
			}
			_, err = verify(0, 2)
			wantBad(t, err, -1, int64(k[1].First), "not among the 2 audit key(s)")
			_, err = verify(1, 2)
			wantBad(t, err, -1, int64(k[0].First), "not among the 2 audit key(s)")
			// The order of the set does not matter.
			if _, err := verify(2, 0, 1); err != nil {
				t.Fatalf("keys in another order: %v", err)
			}
		})
	}
}

// TestVerifyKeptCheckpoint checks verification against checkpoints the
// verifier kept: a log that extends them passes; one cut short or with a
// rewritten entry fails, naming where.
func TestVerifyKeptCheckpoint(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.CNSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 130)
	kept, err := l.Checkpoint(ctx) // size 130
	if err != nil {
		t.Fatal(err)
	}
	writeMixed(t, l, e.st, 90)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	verify := func(st store.Store, kept ...[]byte) (*Report, error) {
		return Verify(ctx, StoreReader(st, e.s.Hash()), VerifyOptions{Keys: testKeys(t, e.s.Signature(), e.s.Hash(), e.priv.Public()), Kept: kept})
	}
	rep, err := verify(e.st, kept)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Kept) != 1 || rep.Kept[0] != 130 || rep.Entries != 220 {
		t.Fatalf("report: kept %v, %d entries; want [130], 220", rep.Kept, rep.Entries)
	}

	t.Run("fail/truncated", func(t *testing.T) {
		// An insider removes the tail and every checkpoint over it, and
		// sets the tree size back: only the kept checkpoint tells.
		c := e.st.Clone()
		var b store.Batch
		for i := uint64(120); i < 220; i++ {
			b.Delete(entryKey(i))
		}
		kvs, _ := c.Scan(ctx, prefixCheckpoint, store.PrefixEnd(prefixCheckpoint), 0)
		for _, kv := range kvs {
			if binary.BigEndian.Uint64(kv.Key[len(prefixCheckpoint):]) > 120 {
				b.Delete(kv.Key)
			}
		}
		b.Put(keySize, binary.BigEndian.AppendUint64(nil, 120))
		if err := c.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		if _, err := verify(c); err != nil {
			t.Fatalf("without the kept checkpoint the cut log verifies (as it must, alone): %v", err)
		}
		_, err := verify(c, kept)
		wantBad(t, err, 120, 130, "truncated")
	})
	t.Run("fail/rewritten", func(t *testing.T) {
		// Entry 110 rewritten with its leaf, tree and every later
		// checkpoint rebuilt and re-signed (the insider holds the key):
		// the stored log is consistent, the kept checkpoint is not.
		c := e.st.Clone()
		var b store.Batch
		for _, kv := range mustScan(t, c, []byte("a/")) {
			b.Delete(kv.Key)
		}
		if err := c.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		e2 := *e
		e2.st = c
		e2.opts.Store = c
		l2 := e2.open(t)
		writeMixed(t, l2, c, 110)
		other := sampleEntry(110)
		other.Principal = "someone-else"
		if err := l2.AppendNow(ctx, other); err != nil {
			t.Fatal(err)
		}
		writeMixed(t, l2, c, 109)
		if _, err := l2.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := verify(c); err != nil {
			t.Fatalf("the rebuilt log verifies alone: %v", err)
		}
		_, err := verify(c, kept)
		wantBad(t, err, -1, 130, "kept checkpoint's root differs")
	})
	t.Run("fail/foreign", func(t *testing.T) {
		other := newEnv(t, suite.CNSuite())
		lo := other.open(t)
		writeMixed(t, lo, other.st, 10)
		cp, err := lo.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = verify(e.st, cp)
		wantBad(t, err, -1, -1, "kept checkpoint does not verify")
	})
}

func mustScan(t *testing.T, st store.Store, prefix []byte) []store.KV {
	t.Helper()
	kvs, err := st.Scan(context.Background(), prefix, store.PrefixEnd(prefix), 0)
	if err != nil {
		t.Fatal(err)
	}
	return kvs
}

// TestLogExportIsIntegratedPrefix checks that a running log's export
// holds the integrated tree and a checkpoint over all of it, not a
// reservation still in flight.
func TestLogExportIsIntegratedPrefix(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 40)
	var b store.Batch
	p, err := l.Append(ctx, &b, sampleEntry(40)) // reserved, not yet stored
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AppendNow(ctx, sampleEntry(41)); err != nil { // stored behind the reservation
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, NewExportReader(&buf), VerifyOptions{Keys: testKeys(t, e.s.Signature(), e.s.Hash(), e.priv.Public())})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 40 || rep.Signed != 40 || rep.Reserved != -1 {
		t.Fatalf("export: %d entries, signed through %d, reserved %d; want 40, 40, -1", rep.Entries, rep.Signed, rep.Reserved)
	}
	if err := e.st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	l.Commit(p)
}

// cosignStored adds w's cosignature to the stored checkpoint of size;
// corrupt spoils it.
func cosignStored(t *testing.T, w *cosigner, st store.Store, size uint64, corrupt bool) {
	t.Helper()
	ctx := context.Background()
	text, err := st.Get(ctx, checkpointKey(size))
	if err != nil {
		t.Fatal(err)
	}
	line, err := w.line(text)
	if err != nil {
		t.Fatal(err)
	}
	if corrupt {
		i := len(line) - 10 // in the base64 of the signature
		line[i] = map[bool]byte{true: 'B', false: 'A'}[line[i] == 'A']
	}
	out, err := checkpoint.AddCosignatures(text, line)
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	b.Put(checkpointKey(size), out)
	if err := st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyWitnesses checks that verify with witnesses reports the newest
// checkpoint each cosigned, and fails when one cosigned none or when a
// cosignature claiming to be a witness's does not verify.
func TestVerifyWitnesses(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.CNSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 120)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	writeMixed(t, l, e.st, 30)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	w1, w2 := newCosigner(t, e.s.Hash(), "witness.example/w1"), newCosigner(t, e.s.Hash(), "witness.example/w2")
	cosignStored(t, w1, e.st, 120, false)
	verify := func(st store.Store, ws ...*cosigner) (*Report, error) {
		var keys []checkpoint.WitnessKey
		for _, w := range ws {
			keys = append(keys, w.key)
		}
		return Verify(ctx, StoreReader(st, e.s.Hash()), VerifyOptions{Keys: testKeys(t, e.s.Signature(), e.s.Hash(), e.priv.Public()), Witnesses: keys})
	}
	rep, err := verify(e.st, w1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Witnessed) != 1 || rep.Witnessed[0].Size != 120 || rep.Witnessed[0].Name != w1.name {
		t.Fatalf("witnessed %+v, want w1 through 120", rep.Witnessed)
	}
	_, err = verify(e.st, w1, w2)
	wantBad(t, err, -1, -1, "no checkpoint is cosigned by witness witness.example/w2")

	c := e.st.Clone()
	cosignStored(t, w2, c, 150, true)
	_, err = verify(c, w1, w2)
	wantBad(t, err, -1, 150, "does not verify")
	// Without asking for w2, its line is a signature like any other.
	if _, err := verify(c, w1); err != nil {
		t.Fatalf("a bad line of a witness not asked for: %v", err)
	}
}
