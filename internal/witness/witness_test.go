package witness_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/witness"
)

// tree is a region's log as far as a witness sees it: a Merkle tree under
// the suite hash, with checkpoints signed by the region's key.
type tree struct {
	s      suite.Suite
	origin string
	priv   crypto.Signer
	front  *tlog.Frontier
	nodes  map[tlog.Node][]byte
	seed   string // makes the leaves of one tree differ from another's
}

func newTree(t testing.TB, s suite.Suite, origin, seed string) *tree {
	t.Helper()
	priv, err := s.Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := tlog.NewFrontier(0, nil)
	return &tree{s: s, origin: origin, priv: priv, front: f, nodes: map[tlog.Node][]byte{}, seed: seed}
}

// fork returns a copy of tr with the same key and leaves.
func (tr *tree) fork(seed string) *tree {
	nodes := map[tlog.Node][]byte{}
	for k, v := range tr.nodes {
		nodes[k] = v
	}
	return &tree{s: tr.s, origin: tr.origin, priv: tr.priv, front: tr.front.Clone(), nodes: nodes, seed: seed}
}

func (tr *tree) grow(to uint64) {
	for i := tr.front.Size(); i < to; i++ {
		leaf := tlog.LeafHash(tr.s.Hash(), fmt.Appendf(nil, "%s entry %d", tr.seed, i))
		tr.front.Append(tr.s.Hash(), leaf, func(n tlog.Node, h []byte) { tr.nodes[n] = h })
	}
}

func (tr *tree) Node(_ context.Context, n tlog.Node) ([]byte, error) {
	h, ok := tr.nodes[n]
	if !ok {
		return nil, fmt.Errorf("no node %+v", n)
	}
	return h, nil
}

// checkpoint grows the tree to size and signs its checkpoint.
func (tr *tree) checkpoint(t testing.TB, size uint64) []byte {
	t.Helper()
	tr.grow(size)
	return tr.signWith(t, tr.priv)
}

func (tr *tree) signWith(t testing.TB, priv crypto.Signer) []byte {
	t.Helper()
	cp, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: tr.origin, Size: tr.front.Size(), Root: tr.front.Root(tr.s.Hash()), Time: time.Now()},
		tr.s.Signature(), tr.s.Hash(), priv, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// proof grows the tree to size and returns the consistency proof from old.
func (tr *tree) proof(t testing.TB, old, size uint64) [][]byte {
	t.Helper()
	tr.grow(size)
	p, err := tlog.ConsistencyProof(context.Background(), tr.s.Hash(), tr, old, size)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (tr *tree) log() witness.Log {
	return witness.Log{Origin: tr.origin, Keys: []crypto.PublicKey{tr.priv.Public()}, Signature: tr.s.Signature(), Hash: tr.s.Hash()}
}

type env struct {
	t    testing.TB
	skey string
	vkey string
	dir  string
	w    *witness.Witness
	srv  *httptest.Server
}

func newEnv(t testing.TB, logs ...witness.Log) *env {
	t.Helper()
	skey, vkey, err := witness.GenerateKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, skey: skey, vkey: vkey, dir: t.TempDir()}
	e.start(logs...)
	return e
}

// start (re)starts the witness over the env's state directory.
func (e *env) start(logs ...witness.Log) {
	e.t.Helper()
	if e.srv != nil {
		e.srv.Close()
	}
	w, err := witness.New(witness.Options{Key: e.skey, StateDir: e.dir, Logs: logs})
	if err != nil {
		e.t.Fatal(err)
	}
	e.w = w
	e.srv = httptest.NewServer(w)
	e.t.Cleanup(e.srv.Close)
}

func body(old uint64, proof [][]byte, cp []byte) []byte {
	b := fmt.Appendf(nil, "old %d\n", old)
	for _, h := range proof {
		b = append(b, base64.StdEncoding.EncodeToString(h)+"\n"...)
	}
	b = append(b, '\n')
	return append(b, cp...)
}

func (e *env) postRaw(b []byte) (int, string, []byte) {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), out
}

func (e *env) post(old uint64, proof [][]byte, cp []byte) (int, string, []byte) {
	e.t.Helper()
	return e.postRaw(body(old, proof, cp))
}

// cosigned posts and checks that the answer is a cosignature on cp that
// verifies with the witness's vkey, by Domicile and by x/mod's note.
func (e *env) cosigned(old uint64, proof [][]byte, cp []byte) {
	e.t.Helper()
	code, ct, out := e.post(old, proof, cp)
	if code != http.StatusOK {
		e.t.Fatalf("old %d: %d %s: %s", old, code, ct, out)
	}
	full, err := checkpoint.AddCosignatures(cp, out)
	if err != nil {
		e.t.Fatalf("answer %q: %v", out, err)
	}
	k, err := checkpoint.ParseWitnessKey(e.vkey)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := k.Verify(full); err != nil {
		e.t.Fatalf("cosignature: %v\n%s", err, full)
	}
	if _, err := note.Open(full, note.VerifierList(k.Verifier())); err != nil {
		e.t.Fatalf("note.Open: %v", err)
	}
}

func (e *env) refused(want int, old uint64, proof [][]byte, cp []byte) []byte {
	e.t.Helper()
	code, _, out := e.post(old, proof, cp)
	if code != want {
		e.t.Fatalf("old %d: got %d (%s), want %d", old, code, out, want)
	}
	return out
}

func TestGoodChain(t *testing.T) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(s.ID()), func(t *testing.T) {
			tr := newTree(t, s, "domicile/"+string(s.ID()), "a")
			e := newEnv(t, tr.log())
			e.cosigned(0, nil, tr.checkpoint(t, 5))
			e.cosigned(5, tr.proof(t, 5, 17), tr.checkpoint(t, 17))
			// The same tree again: cosigned again, no proof needed.
			e.cosigned(17, nil, tr.checkpoint(t, 17))
			e.cosigned(17, tr.proof(t, 17, 256), tr.checkpoint(t, 256))
			e.cosigned(256, tr.proof(t, 256, 1000), tr.checkpoint(t, 1000))
			if e.w.VerifierKey() != e.vkey || e.w.Name() != "witness.example/w1" {
				t.Fatalf("witness %s %s", e.w.Name(), e.w.VerifierKey())
			}
		})
	}
}

func TestBadProof(t *testing.T) {
	tr := newTree(t, suite.CNSuite(), "domicile/cn-north", "a")
	e := newEnv(t, tr.log())
	e.cosigned(0, nil, tr.checkpoint(t, 7))
	cp := tr.checkpoint(t, 30)
	good := tr.proof(t, 7, 30)
	bad := append([][]byte(nil), good...)
	bad[1] = bytes.Clone(bad[1])
	bad[1][0] ^= 1
	e.refused(http.StatusUnprocessableEntity, 7, bad, cp)
	e.refused(http.StatusUnprocessableEntity, 7, good[:len(good)-1], cp)
	e.refused(http.StatusUnprocessableEntity, 7, nil, cp)
	// A proof from size 0 must be empty.
	e2 := newEnv(t, tr.log())
	e2.refused(http.StatusUnprocessableEntity, 0, good, cp)
	// Nothing was recorded: the good proof still works from 7.
	e.cosigned(7, good, cp)
}

func TestStaleOld(t *testing.T) {
	tr := newTree(t, suite.IntlSuite(), "domicile/eu-central", "a")
	e := newEnv(t, tr.log())
	e.cosigned(0, nil, tr.checkpoint(t, 10))
	e.cosigned(10, tr.proof(t, 10, 20), tr.checkpoint(t, 20))
	cp := tr.checkpoint(t, 30)
	for _, old := range []uint64{0, 10, 25} {
		code, ct, out := e.post(old, tr.proof(t, old, 30), cp)
		if code != http.StatusConflict || ct != witness.SizeContentType || string(out) != "20\n" {
			t.Fatalf("old %d: %d %q %q, want 409 %s \"20\\n\"", old, code, ct, out, witness.SizeContentType)
		}
	}
	// Rolling back below the cosigned size: the old size (20) is beyond
	// the checkpoint's.
	old := newTree(t, suite.IntlSuite(), "domicile/eu-central", "a")
	old.priv = tr.priv
	e.refused(http.StatusBadRequest, 20, nil, old.checkpoint(t, 15))
	e.cosigned(20, tr.proof(t, 20, 30), cp)
}

func TestRefusals(t *testing.T) {
	tr := newTree(t, suite.CNSuite(), "domicile/cn-north", "a")
	e := newEnv(t, tr.log())
	cp := tr.checkpoint(t, 4)

	// Signed by a key the witness does not trust for the origin.
	other, err := suite.CNSuite().Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.refused(http.StatusForbidden, 0, nil, tr.signWith(t, other))
	// A tampered checkpoint: the signature does not verify.
	e.refused(http.StatusForbidden, 0, nil, bytes.Replace(cp, []byte("\n4\n"), []byte("\n5\n"), 1))
	// Signed with the right key pair but another suite's algorithms.
	intl := newTree(t, suite.IntlSuite(), "domicile/cn-north", "a")
	e.refused(http.StatusForbidden, 0, nil, intl.checkpoint(t, 4))
	// Unknown origin.
	unknown := newTree(t, suite.CNSuite(), "domicile/elsewhere", "a")
	e.refused(http.StatusNotFound, 0, nil, unknown.checkpoint(t, 4))
	// Old size beyond the checkpoint's.
	e.refused(http.StatusBadRequest, 5, nil, cp)

	// Malformed bodies.
	for name, b := range map[string]string{
		"empty":            "",
		"no old line":      "\n" + string(cp),
		"old leading zero": "old 00\n\n" + string(cp),
		"old negative":     "old -1\n\n" + string(cp),
		"old not a number": "old x\n\n" + string(cp),
		"no blank line":    "old 0\n" + string(cp),
		"bad proof line":   "old 0\n!!!\n\n" + string(cp),
		"no checkpoint":    "old 0\n\n",
		"bad checkpoint":   "old 0\n\nfoo\n",
		"too many proofs":  "old 0\n" + strings.Repeat("AAAA\n", witness.MaxProofLines+1) + "\n" + string(cp),
	} {
		if code, _, out := e.postRaw([]byte(b)); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, out)
		}
	}
	if code, _, _ := e.postRaw(bytes.Repeat([]byte("x"), witness.MaxBody+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", code)
	}
	resp, err := http.Get(e.srv.URL + "/add-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	// After all that, nothing was recorded.
	e.cosigned(0, nil, cp)
}

func TestKeyRotation(t *testing.T) {
	tr := newTree(t, suite.IntlSuite(), "domicile/us-east", "a")
	oldKey := tr.priv
	newKey, err := suite.IntlSuite().Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	l := tr.log()
	l.Keys = []crypto.PublicKey{oldKey.Public(), newKey.Public()}
	e := newEnv(t, l)
	e.cosigned(0, nil, tr.checkpoint(t, 3))
	tr.grow(9)
	e.cosigned(3, tr.proof(t, 3, 9), tr.signWith(t, newKey))
}

func TestFork(t *testing.T) {
	a := newTree(t, suite.CNSuite(), "domicile/cn-north", "a")
	a.grow(6)
	b := a.fork("b") // the same first 6 entries, then others
	e := newEnv(t, a.log())
	e.cosigned(0, nil, a.checkpoint(t, 10))
	// The same size with another root: a fork, refused with 409 (not a
	// size answer).
	code, ct, out := e.post(10, nil, b.checkpoint(t, 10))
	if code != http.StatusConflict || ct == witness.SizeContentType {
		t.Fatalf("fork at the same size: %d %s %s", code, ct, out)
	}
	// A larger tree on the other branch: its own proof does not lead from
	// the cosigned root.
	e.refused(http.StatusUnprocessableEntity, 10, b.proof(t, 10, 20), b.checkpoint(t, 20))
	// The honest branch goes on.
	e.cosigned(10, a.proof(t, 10, 20), a.checkpoint(t, 20))
}

func TestRestartKeepsState(t *testing.T) {
	tr := newTree(t, suite.CNSuite(), "domicile/cn-north", "a")
	e := newEnv(t, tr.log())
	e.cosigned(0, nil, tr.checkpoint(t, 12))
	e.start(tr.log())
	code, ct, out := e.post(0, nil, tr.checkpoint(t, 40))
	if code != http.StatusConflict || ct != witness.SizeContentType || string(out) != "12\n" {
		t.Fatalf("after restart: %d %s %q, want 409 \"12\\n\"", code, ct, out)
	}
	e.cosigned(12, tr.proof(t, 12, 40), tr.checkpoint(t, 40))
	// The state file is the cosigned checkpoint, and no temporary file is
	// left.
	ents, err := os.ReadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "domicile%2Fcn-north.checkpoint" {
		t.Fatalf("state directory: %v", ents)
	}
	st, err := os.ReadFile(filepath.Join(e.dir, ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := checkpoint.Parse(st); err != nil || s.Size != 40 {
		t.Fatalf("state: %v\n%s", err, st)
	}
	// A corrupt state file stops the witness from starting.
	if err := os.WriteFile(filepath.Join(e.dir, ents[0].Name()), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := witness.New(witness.Options{Key: e.skey, StateDir: e.dir, Logs: []witness.Log{tr.log()}}); err == nil {
		t.Fatal("a corrupt state file was accepted")
	}
}

func TestKeys(t *testing.T) {
	skey, vkey, err := witness.GenerateKey("witness.example/k")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(skey, "PRIVATE+KEY+witness.example/k+") {
		t.Fatalf("skey %q", skey)
	}
	if got, err := witness.VerifierKey(skey + "\n"); err != nil || got != vkey {
		t.Fatalf("VerifierKey = %q, %v; want %q", got, err, vkey)
	}
	if _, err := checkpoint.ParseWitnessKey(vkey); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "a b", "a+b", "témoin"} {
		if _, _, err := witness.GenerateKey(name); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", name)
		}
	}
	for _, bad := range []string{"", vkey, "PRIVATE+KEY+x+00000000+AAAA"} {
		if _, err := witness.VerifierKey(bad); err == nil {
			t.Errorf("VerifierKey(%q) succeeded", bad)
		}
	}
	tr := newTree(t, suite.CNSuite(), "domicile/cn-north", "a")
	for name, o := range map[string]witness.Options{
		"no state dir": {Key: skey, Logs: []witness.Log{tr.log()}},
		"no logs":      {Key: skey, StateDir: t.TempDir()},
		"bad key":      {Key: vkey, StateDir: t.TempDir(), Logs: []witness.Log{tr.log()}},
		"twice":        {Key: skey, StateDir: t.TempDir(), Logs: []witness.Log{tr.log(), tr.log()}},
		"no log keys":  {Key: skey, StateDir: t.TempDir(), Logs: []witness.Log{{Origin: "x", Signature: tr.s.Signature(), Hash: tr.s.Hash()}}},
	} {
		if _, err := witness.New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// FuzzParseRequest: no input makes the request parser panic, and what it
// accepts has the shape it promises.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("old 0\n\nx\n"))
	f.Add([]byte("old 12\nAAAA\nBBBB\n\nsome checkpoint\n"))
	f.Add([]byte("old 01\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		old, proof, cp, err := witness.ParseRequest(b)
		if err != nil {
			return
		}
		if len(proof) > witness.MaxProofLines || !bytes.HasPrefix(b, fmt.Appendf(nil, "old %d\n", old)) || !bytes.HasSuffix(b, cp) {
			t.Fatalf("ParseRequest(%q) = %d %d %q", b, old, len(proof), cp)
		}
	})
}
