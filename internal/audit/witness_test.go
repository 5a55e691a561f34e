package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tdnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/memstore"
	"github.com/domicile/domicile/internal/suite"
)

// cosigner is an in-process witness: it checks the consistency proof the
// log gives it from the size it cosigned last and cosigns with an Ed25519
// cosignature/v1 key.
type cosigner struct {
	t      testing.TB
	h      suite.Hash
	name   string
	key    checkpoint.WitnessKey
	signer *tdnote.Signer

	mu        sync.Mutex
	size      uint64
	root      []byte
	calls     int
	fail      error           // answer this instead
	block     chan struct{}   // if set, wait for it (or ctx) first
	meanwhile func(cp []byte) // if set, called before answering
}

func newCosigner(t testing.TB, h suite.Hash, name string) *cosigner {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	if vkey, err = tdnote.VKeyToCosignatureV1(vkey); err != nil {
		t.Fatal(err)
	}
	s, err := tdnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := checkpoint.ParseWitnessKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &cosigner{t: t, h: h, name: name, key: k, signer: s}
}

// line returns the cosigner's signature line on cp.
func (c *cosigner) line(cp []byte) ([]byte, error) {
	s, err := checkpoint.Parse(cp)
	if err != nil {
		return nil, err
	}
	sig, err := c.signer.Sign(s.Body())
	if err != nil {
		return nil, err
	}
	raw := binary.BigEndian.AppendUint32(nil, c.signer.KeyHash())
	return fmt.Appendf(nil, "— %s %s\n", c.name, base64.StdEncoding.EncodeToString(append(raw, sig...))), nil
}

func (c *cosigner) Publish(ctx context.Context, cp []byte, proof ProofFunc) ([]byte, error) {
	c.mu.Lock()
	c.calls++
	block, fail, meanwhile := c.block, c.fail, c.meanwhile
	c.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	s, err := checkpoint.Parse(cp)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := proof(ctx, c.size)
	if err != nil {
		return nil, fmt.Errorf("proof: %w", err)
	}
	if c.root != nil {
		if err := tlog.VerifyConsistency(c.h, c.size, s.Size, c.root, s.Root, p); err != nil {
			c.t.Errorf("the log's consistency proof %d -> %d: %v", c.size, s.Size, err)
			return nil, err
		}
	}
	c.size, c.root = s.Size, s.Root
	if meanwhile != nil {
		meanwhile(cp)
	}
	return c.line(cp)
}

type witnessEnv struct {
	st   *memstore.Store
	s    suite.Suite
	priv crypto.Signer
	o    Options
	logs *logLines
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newWitnessEnv(t testing.TB, s suite.Suite, w Witness) *witnessEnv {
	t.Helper()
	priv, err := s.Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &witnessEnv{st: memstore.New(), s: s, priv: priv, logs: &logLines{}}
	e.o = Options{Store: e.st, Region: "cn-north", Origin: "domicile/cn-north", Hash: s.Hash(), Signature: s.Signature(),
		Signer: func() (crypto.Signer, error) { return priv, nil }, Witness: w, Logf: e.logs.logf,
		CheckpointInterval: time.Hour, Manual: true}
	return e
}

func (e *witnessEnv) open(t testing.TB) *Log {
	t.Helper()
	l, err := Open(context.Background(), e.o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t testing.TB, l *Log, n int) {
	t.Helper()
	for i := range n {
		e := entry.Entry{RequestID: fmt.Sprintf("req-%d", i), Principal: "svc", Action: entry.Read, Collection: "customers", Outcome: entry.OK}
		if err := l.AppendNow(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// stored returns a/c/<size> and a/m/checkpoint.
func (e *witnessEnv) stored(t testing.TB, size uint64) (atSize, latest []byte) {
	t.Helper()
	ctx := context.Background()
	atSize, err := e.st.Get(ctx, checkpointKey(size))
	if err != nil {
		t.Fatal(err)
	}
	latest, err = e.st.Get(ctx, keyLatest)
	if err != nil {
		t.Fatal(err)
	}
	return atSize, latest
}

func TestWitnessCosignaturesStored(t *testing.T) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(s.ID()), func(t *testing.T) {
			ctx := context.Background()
			c := newCosigner(t, s.Hash(), "witness.example/w1")
			file := filepath.Join(t.TempDir(), "witness")
			e := newWitnessEnv(t, s, Witnesses{c, NewFileWitness(file)})
			l := e.open(t)
			for round, n := range []int{5, 12, 1, 300} {
				appendN(t, l, n)
				cp, err := l.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.key.Verify(cp); err != nil {
					t.Fatalf("round %d: the checkpoint returned: %v\n%s\nlog:\n%s", round, err, cp, e.logs)
				}
				if _, err := checkpoint.Verify(cp, e.priv.Public(), s.Signature(), s.Hash()); err != nil {
					t.Fatalf("round %d: region signature: %v", round, err)
				}
				sc, _ := checkpoint.Parse(cp)
				atSize, latest := e.stored(t, sc.Size)
				if !bytes.Equal(atSize, cp) || !bytes.Equal(latest, cp) {
					t.Fatalf("round %d: stored\n%s\nand\n%s\nwant\n%s", round, atSize, latest, cp)
				}
			}
			// The file witness got the checkpoints as signed, uncosigned.
			b, err := os.ReadFile(file)
			if err != nil || bytes.Count(b, []byte("— witness.example/w1 ")) != 0 || bytes.Count(b, []byte("— domicile/cn-north ")) != 4 {
				t.Fatalf("file witness: %v\n%s", err, b)
			}
			// Earlier checkpoints keep their cosignatures, and the whole
			// log still verifies.
			kvs, err := e.st.Scan(ctx, prefixCheckpoint, store.PrefixEnd(prefixCheckpoint), 0)
			if err != nil || len(kvs) != 4 {
				t.Fatalf("stored checkpoints: %d, %v", len(kvs), err)
			}
			for _, kv := range kvs {
				if _, err := c.key.Verify(kv.Value); err != nil {
					t.Fatalf("stored %x: %v", kv.Key, err)
				}
			}
			ks, err := checkpoint.NewKeySet(s.Signature(), s.Hash(), e.priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(ctx, StoreReader(e.st, s.Hash()), VerifyOptions{Keys: ks}); err != nil {
				t.Fatalf("Verify of a log with cosigned checkpoints: %v", err)
			}
			// A restarted log goes on from the cosigned latest checkpoint.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2 := e.open(t)
			appendN(t, l2, 3)
			cp, err := l2.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.key.Verify(cp); err != nil {
				t.Fatalf("after restart: %v", err)
			}
		})
	}
}

// TestWitnessCosignaturesMerge: another node added a cosignature to the
// stored checkpoint while this one was publishing: both are kept.
func TestWitnessCosignaturesMerge(t *testing.T) {
	ctx := context.Background()
	s := suite.CNSuite()
	c1 := newCosigner(t, s.Hash(), "witness.example/w1")
	c2 := newCosigner(t, s.Hash(), "witness.example/w2")
	e := newWitnessEnv(t, s, c1)
	c1.meanwhile = func(cp []byte) {
		sc, _ := checkpoint.Parse(cp)
		line, err := c2.line(cp)
		if err != nil {
			t.Error(err)
			return
		}
		other, err := checkpoint.AddCosignatures(cp, line)
		if err != nil {
			t.Error(err)
			return
		}
		var b store.Batch
		b.Expect(checkpointKey(sc.Size), cp)
		b.Put(checkpointKey(sc.Size), other)
		b.Expect(keyLatest, cp)
		b.Put(keyLatest, other)
		if err := e.st.Apply(ctx, &b); err != nil {
			t.Error(err)
		}
	}
	l := e.open(t)
	appendN(t, l, 4)
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*cosigner{c1, c2} {
		if _, err := c.key.Verify(cp); err != nil {
			t.Fatalf("%s: %v\n%s\nlog:\n%s", c.name, err, cp, e.logs)
		}
	}
	atSize, latest := e.stored(t, 4)
	if !bytes.Equal(atSize, cp) || !bytes.Equal(latest, cp) {
		t.Fatalf("stored\n%s\n%s\nwant\n%s", atSize, latest, cp)
	}
	// The next integration is not confused by the rewritten latest
	// checkpoint.
	c1.meanwhile = nil
	appendN(t, l, 4)
	cp, err = l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sc, _ := checkpoint.Parse(cp); sc.Size != 8 {
		t.Fatalf("next checkpoint at %d", sc.Size)
	}
	if _, err := c1.key.Verify(cp); err != nil {
		t.Fatal(err)
	}
}

// TestWitnessFailure: a failing witness is logged, the checkpoint stays
// as signed, and the next one is cosigned when the witness is back.
func TestWitnessFailure(t *testing.T) {
	ctx := context.Background()
	s := suite.IntlSuite()
	c := newCosigner(t, s.Hash(), "witness.example/w1")
	c.fail = errors.New("witness down")
	e := newWitnessEnv(t, s, c)
	l := e.open(t)
	appendN(t, l, 3)
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.key.Verify(cp); !errors.Is(err, checkpoint.ErrNotCosigned) {
		t.Fatalf("cosigned by a failing witness: %v", err)
	}
	if !strings.Contains(e.logs.String(), "witness: checkpoint at size 3: witness down") {
		t.Fatalf("log: %s", e.logs)
	}
	c.mu.Lock()
	c.fail = nil
	c.mu.Unlock()
	appendN(t, l, 3)
	if cp, err = l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.key.Verify(cp); err != nil {
		t.Fatal(err)
	}
	// A witness answering garbage: logged, nothing stored.
	e2 := newWitnessEnv(t, s, witnessFunc(func(context.Context, []byte, ProofFunc) ([]byte, error) {
		return []byte("not a signature line\n"), nil
	}))
	l2 := e2.open(t)
	appendN(t, l2, 2)
	cp, err = l2.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sc, _ := checkpoint.Parse(cp); len(sc.Sigs) != 1 || !strings.Contains(e2.logs.String(), "storing cosignatures") {
		t.Fatalf("garbage answer: %s\nlog: %s", cp, e2.logs)
	}
}

type witnessFunc func(ctx context.Context, cp []byte, proof ProofFunc) ([]byte, error)

func (f witnessFunc) Publish(ctx context.Context, cp []byte, proof ProofFunc) ([]byte, error) {
	return f(ctx, cp, proof)
}

// TestWitnessSlowDoesNotBlockIntegration: while the witness hangs, the
// background integrator goes on integrating and signing; the latest
// checkpoint is published once it answers.
func TestWitnessSlowDoesNotBlockIntegration(t *testing.T) {
	s := suite.CNSuite()
	c := newCosigner(t, s.Hash(), "witness.example/w1")
	c.block = make(chan struct{})
	e := newWitnessEnv(t, s, c)
	e.o.Manual = false
	e.o.IntegrateBatch = 1
	e.o.CheckpointEvery = 1
	l := e.open(t)
	const n = 40
	appendN(t, l, n)
	for i := 0; i < 2000 && l.Size() < n; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if l.Size() != n {
		t.Fatalf("integrated %d of %d entries while the witness hung", l.Size(), n)
	}
	cp, err := l.LatestCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	if sc, _ := checkpoint.Parse(cp); sc.Size != n {
		t.Fatalf("latest checkpoint at %d, want %d", sc.Size, n)
	}
	close(c.block)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, latest := e.stored(t, n)
	if _, err := c.key.Verify(latest); err != nil {
		t.Fatalf("latest checkpoint after the witness answered: %v\nlog: %s", err, e.logs)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls >= n {
		t.Fatalf("%d publications for %d checkpoints: queued checkpoints were not skipped", c.calls, n)
	}
}
