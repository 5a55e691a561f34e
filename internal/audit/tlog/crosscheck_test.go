package tlog_test

// Cross-checks of the hand-written tree against
// github.com/transparency-dev/merkle (v0.0.2), for both suite hashes:
//
//   - every stored perfect subtree and every root of sizes 0..1000 against
//     merkle's compact.Range;
//   - inclusion proofs (every leaf of every size up to 70, sampled leaves of
//     sizes around powers of two up to 1000) and consistency proofs (every
//     old <= new up to 70, sampled pairs up to 1000) against the proof
//     merkle's proof package describes (node IDs fetched from the nodes
//     compact.Range emitted, then Rehash), byte for byte;
//   - every such proof verified by both verifiers, and altered proofs,
//     indexes, sizes and roots given to both: the two must always agree, and
//     both must reject every alteration of the proof's content.
//
// One known, harmless difference is left out: merkle's VerifyInclusion
// rejects a leaf hash that is not Size() bytes long, tlog's only compares the
// computed root (so a size-1 tree with leaf == root of any length verifies).
//
// merkle is used under a LogHasher written over suite.Hash; that hasher is in
// turn checked against merkle's own rfc6962 hasher (SHA-256) and against SM3
// called directly from gmsm, so the tree code is the only thing under test.

import (
	"bytes"
	"context"
	"crypto"
	_ "crypto/sha256" // registers crypto.SHA256 for rfc6962.DefaultHasher
	"fmt"
	"testing"

	"github.com/emmansun/gmsm/sm3"
	"github.com/transparency-dev/merkle"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/suite"
)

// logHasher is merkle.LogHasher over a suite hash (RFC 6962 §2.1 prefixes).
type logHasher struct{ h suite.Hash }

var _ merkle.LogHasher = logHasher{}

func (l logHasher) EmptyRoot() []byte { return l.h.New().Sum(nil) }
func (l logHasher) Size() int         { return l.h.Size() }

func (l logHasher) HashLeaf(leaf []byte) []byte {
	hh := l.h.New()
	hh.Write([]byte{rfc6962.RFC6962LeafHashPrefix})
	hh.Write(leaf)
	return hh.Sum(nil)
}

func (l logHasher) HashChildren(left, right []byte) []byte {
	hh := l.h.New()
	hh.Write([]byte{rfc6962.RFC6962NodeHashPrefix})
	hh.Write(left)
	hh.Write(right)
	return hh.Sum(nil)
}

// sm3Hasher is the same hasher written directly on gmsm's SM3, sharing no
// code with internal/suite.
type sm3Hasher struct{}

func (sm3Hasher) EmptyRoot() []byte { return sm3.New().Sum(nil) }
func (sm3Hasher) Size() int         { return sm3.Size }
func (sm3Hasher) HashLeaf(leaf []byte) []byte {
	s := sm3.Sum(append([]byte{0}, leaf...))
	return s[:]
}
func (sm3Hasher) HashChildren(l, r []byte) []byte {
	s := sm3.Sum(append(append([]byte{1}, l...), r...))
	return s[:]
}

type xcase struct {
	h   suite.Hash
	ref merkle.LogHasher // written independently of internal/suite
}

var xcases = []xcase{
	{suite.SHA256(), rfc6962.New(crypto.SHA256)},
	{suite.SM3(), sm3Hasher{}},
}

// nodeMap is a tlog.NodeReader over the nodes tlog.Frontier emitted.
type nodeMap map[tlog.Node][]byte

func (m nodeMap) Node(_ context.Context, n tlog.Node) ([]byte, error) {
	v, ok := m[n]
	if !ok {
		return nil, fmt.Errorf("node %v not stored", n)
	}
	return v, nil
}

// xtree is one log built twice: by tlog.Frontier and by compact.Range.
type xtree struct {
	lh     logHasher
	leaves [][]byte                  // leaf hashes
	tnodes nodeMap                   // emitted by tlog.Frontier.Append
	mnodes map[compact.NodeID][]byte // visited by compact.Range.Append
	roots  [][]byte                  // roots[n]: merkle's root of the first n leaves
}

const xmax = 1000

// buildX appends xmax leaves to both trees, checking after every append that
// tlog's frontier root, tlog.Root over the stored nodes and compact.Range's
// root agree, and at the end that both emitted the same perfect subtrees.
func buildX(t *testing.T, c xcase) *xtree {
	t.Helper()
	ctx := context.Background()
	x := &xtree{
		lh:     logHasher{c.h},
		tnodes: nodeMap{},
		mnodes: map[compact.NodeID][]byte{},
		roots:  make([][]byte, 0, xmax+1),
	}
	rf := &compact.RangeFactory{Hash: x.lh.HashChildren}
	cr := rf.NewEmptyRange(0)
	f, err := tlog.NewFrontier(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; ; n++ {
		want, err := cr.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			want = x.lh.EmptyRoot() // GetRootHash gives nil for an empty range
		}
		x.roots = append(x.roots, want)
		if got := f.Root(c.h); !bytes.Equal(got, want) {
			t.Fatalf("size %d: frontier root %x, merkle %x", n, got, want)
		}
		got, err := tlog.Root(ctx, c.h, x.tnodes, uint64(n))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: stored root %x (err %v), merkle %x", n, got, err, want)
		}
		if n == xmax {
			break
		}
		leaf := c.ref.HashLeaf([]byte(fmt.Sprintf("crosscheck entry %d", n)))
		if tl := tlog.LeafHash(c.h, []byte(fmt.Sprintf("crosscheck entry %d", n))); !bytes.Equal(tl, leaf) {
			t.Fatalf("leaf %d: tlog.LeafHash %x, reference %x", n, tl, leaf)
		}
		x.leaves = append(x.leaves, leaf)
		f.Append(c.h, leaf, func(id tlog.Node, v []byte) { x.tnodes[id] = v })
		if err := cr.Append(leaf, func(id compact.NodeID, v []byte) { x.mnodes[id] = v }); err != nil {
			t.Fatal(err)
		}
	}
	if len(x.tnodes) != len(x.mnodes) {
		t.Fatalf("tlog stored %d nodes, compact.Range visited %d", len(x.tnodes), len(x.mnodes))
	}
	for id, v := range x.mnodes {
		if got := x.tnodes[tlog.Node{Level: uint8(id.Level), Index: id.Index}]; !bytes.Equal(got, v) {
			t.Fatalf("node (%d,%d): tlog %x, merkle %x", id.Level, id.Index, got, v)
		}
	}
	return x
}

// fetch turns merkle's proof description into hashes, reading the nodes
// compact.Range emitted, as a store-backed prover would.
func (x *xtree) fetch(t *testing.T, n proof.Nodes) [][]byte {
	t.Helper()
	hs := make([][]byte, len(n.IDs))
	for i, id := range n.IDs {
		v, ok := x.mnodes[id]
		if !ok {
			t.Fatalf("merkle wants node (%d,%d), not stored", id.Level, id.Index)
		}
		hs[i] = v
	}
	out, err := n.Rehash(hs, x.lh.HashChildren)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCrossCheckHasher(t *testing.T) {
	for _, c := range xcases {
		t.Run(c.h.ID(), func(t *testing.T) {
			lh := logHasher{c.h}
			a, b := c.ref.HashLeaf([]byte("a")), c.ref.HashLeaf([]byte("b"))
			for name, pair := range map[string][2][]byte{
				"empty":      {lh.EmptyRoot(), c.ref.EmptyRoot()},
				"leaf":       {lh.HashLeaf([]byte("a")), a},
				"node":       {lh.HashChildren(a, b), c.ref.HashChildren(a, b)},
				"tlog/empty": {tlog.EmptyRoot(c.h), c.ref.EmptyRoot()},
				"tlog/leaf":  {tlog.LeafHash(c.h, []byte("a")), a},
				"tlog/node":  {tlog.NodeHash(c.h, a, b), c.ref.HashChildren(a, b)},
			} {
				if !bytes.Equal(pair[0], pair[1]) {
					t.Errorf("%s: %x, reference %x", name, pair[0], pair[1])
				}
			}
			if lh.Size() != c.ref.Size() {
				t.Errorf("size %d, reference %d", lh.Size(), c.ref.Size())
			}
		})
	}
}

// inclusionSizes are the tree sizes proved: all up to 70, the edges around
// powers of two, and the largest tree.
func inclusionSizes() []int {
	var s []int
	for n := 1; n <= 70; n++ {
		s = append(s, n)
	}
	return append(s, 127, 128, 129, 255, 256, 257, 511, 512, 513, 999, xmax)
}

// inclusionIndexes are the leaves proved in a tree of size n: all of them up
// to 70 leaves; in larger trees the first and last few, those around powers
// of two, and every 29th.
func inclusionIndexes(n int) []int {
	var out []int
	for m := 0; m < n; m++ {
		near := m < 3 || m >= n-3 || m%29 == 0
		for p := 4; p <= n && !near; p *= 2 {
			near = m >= p-1 && m <= p
		}
		if n <= 70 || near {
			out = append(out, m)
		}
	}
	return out
}

// consistencyPairs: every old <= new up to 70, and pairs of interesting
// sizes up to xmax.
func consistencyPairs() [][2]int {
	var p [][2]int
	for n := 0; n <= 70; n++ {
		for m := 0; m <= n; m++ {
			p = append(p, [2]int{m, n})
		}
	}
	big := []int{1, 2, 3, 7, 8, 9, 63, 64, 65, 127, 128, 129, 255, 256, 257, 300, 511, 512, 513, 777, 999, xmax}
	for _, n := range big[8:] {
		for _, m := range big {
			if m <= n {
				p = append(p, [2]int{m, n})
			}
		}
	}
	return p
}

func TestCrossCheckMerkle(t *testing.T) {
	for _, c := range xcases {
		t.Run(c.h.ID(), func(t *testing.T) {
			t.Parallel()
			x := buildX(t, c)
			t.Run("inclusion", func(t *testing.T) { crossInclusion(t, c.h, x) })
			t.Run("consistency", func(t *testing.T) { crossConsistency(t, c.h, x) })
		})
	}
}

func crossInclusion(t *testing.T, h suite.Hash, x *xtree) {
	ctx := context.Background()
	other := x.lh.HashLeaf([]byte("not in the log"))
	for _, n := range inclusionSizes() {
		size := uint64(n)
		root := x.roots[n]
		for _, m := range inclusionIndexes(n) {
			idx := uint64(m)
			leaf := x.leaves[m]
			got, err := tlog.InclusionProof(ctx, h, x.tnodes, idx, size)
			if err != nil {
				t.Fatalf("tlog inclusion %d in %d: %v", m, n, err)
			}
			nodes, err := proof.Inclusion(idx, size)
			if err != nil {
				t.Fatal(err)
			}
			if want := x.fetch(t, nodes); !equalHashes(got, want) {
				t.Fatalf("inclusion %d in %d: tlog proof %x, merkle %x", m, n, got, want)
			}
			if err := proof.VerifyInclusion(x.lh, idx, size, leaf, got, root); err != nil {
				t.Fatalf("merkle rejects tlog's proof of %d in %d: %v", m, n, err)
			}
			if err := tlog.VerifyInclusion(h, idx, size, leaf, got, root); err != nil {
				t.Fatalf("tlog rejects its proof of %d in %d: %v", m, n, err)
			}
			if !alter(n, m) {
				continue
			}
			// Alterations. Content changes must fail both; index and size
			// changes need only agree (a proof can be valid at another
			// index or size with the same shape).
			type alt struct {
				name       string
				idx, size  uint64
				leaf, root []byte
				p          [][]byte
				mustReject bool
			}
			alts := []alt{
				{"other leaf", idx, size, other, root, got, true},
				{"other root", idx, size, leaf, other, got, true},
				{"extended", idx, size, leaf, root, appendHash(got, other), true},
				{"index+1", idx + 1, size, leaf, root, got, false},
				{"size+1", idx, size + 1, leaf, root, got, false},
				{"size-1", idx, size - 1, leaf, root, got, false},
			}
			if m > 0 {
				alts = append(alts, alt{"index-1", idx - 1, size, leaf, root, got, false})
			}
			if len(got) > 0 {
				alts = append(alts,
					alt{"truncated", idx, size, leaf, root, got[:len(got)-1], true},
					alt{"first dropped", idx, size, leaf, root, got[1:], true})
			}
			if len(got) > 1 {
				alts = append(alts, alt{"swapped", idx, size, leaf, root, swapped(got), true})
			}
			for _, i := range flipAt(n, len(got)) {
				alts = append(alts, alt{fmt.Sprintf("flip %d", i), idx, size, leaf, root, flipped(got, i), true})
			}
			for _, a := range alts {
				et := tlog.VerifyInclusion(h, a.idx, a.size, a.leaf, a.p, a.root)
				em := proof.VerifyInclusion(x.lh, a.idx, a.size, a.leaf, a.p, a.root)
				if (et == nil) != (em == nil) {
					t.Fatalf("inclusion %d in %d, %s: tlog %v, merkle %v", m, n, a.name, et, em)
				}
				if a.mustReject && et == nil {
					t.Fatalf("inclusion %d in %d, %s: verified", m, n, a.name)
				}
			}
		}
	}
}

func crossConsistency(t *testing.T, h suite.Hash, x *xtree) {
	ctx := context.Background()
	other := x.lh.HashLeaf([]byte("not a root"))
	for _, pr := range consistencyPairs() {
		m, n := pr[0], pr[1]
		old, new := uint64(m), uint64(n)
		r1, r2 := x.roots[m], x.roots[n]
		got, err := tlog.ConsistencyProof(ctx, h, x.tnodes, old, new)
		if err != nil {
			t.Fatalf("tlog consistency %d->%d: %v", m, n, err)
		}
		nodes, err := proof.Consistency(old, new)
		if err != nil {
			t.Fatal(err)
		}
		if want := x.fetch(t, nodes); !equalHashes(got, want) {
			t.Fatalf("consistency %d->%d: tlog proof %x, merkle %x", m, n, got, want)
		}
		if err := proof.VerifyConsistency(x.lh, old, new, got, r1, r2); err != nil {
			t.Fatalf("merkle rejects tlog's proof %d->%d: %v", m, n, err)
		}
		if err := tlog.VerifyConsistency(h, old, new, r1, r2, got); err != nil {
			t.Fatalf("tlog rejects its proof %d->%d: %v", m, n, err)
		}
		if !alter(n, m) {
			continue
		}
		type alt struct {
			name       string
			old, new   uint64
			r1, r2     []byte
			p          [][]byte
			mustReject bool
		}
		// From the empty tree every new root is consistent, so root
		// changes there must only agree.
		rootsMatter := m > 0
		alts := []alt{
			{"other old root", old, new, other, r2, got, rootsMatter},
			{"other new root", old, new, r1, other, got, rootsMatter},
			{"extended", old, new, r1, r2, appendHash(got, other), true},
			{"new+1", old, new + 1, r1, r2, got, false},
			{"old+1", old + 1, new, r1, r2, got, false},
		}
		if m > 0 {
			alts = append(alts, alt{"old-1", old - 1, new, r1, r2, got, false})
		}
		if n > 0 {
			alts = append(alts, alt{"new-1", old, new - 1, r1, r2, got, false})
		}
		if len(got) > 0 {
			alts = append(alts,
				alt{"empty", old, new, r1, r2, nil, true},
				alt{"truncated", old, new, r1, r2, got[:len(got)-1], true},
				alt{"first dropped", old, new, r1, r2, got[1:], true},
				alt{"old root prepended", old, new, r1, r2, append([][]byte{r1}, got...), true})
		}
		if len(got) > 1 {
			alts = append(alts, alt{"swapped", old, new, r1, r2, swapped(got), true})
		}
		for _, i := range flipAt(n, len(got)) {
			alts = append(alts, alt{fmt.Sprintf("flip %d", i), old, new, r1, r2, flipped(got, i), true})
		}
		for _, a := range alts {
			if a.old > a.new {
				continue // both refuse; tlog says ErrRange
			}
			et := tlog.VerifyConsistency(h, a.old, a.new, a.r1, a.r2, a.p)
			em := proof.VerifyConsistency(x.lh, a.old, a.new, a.p, a.r1, a.r2)
			if (et == nil) != (em == nil) {
				t.Fatalf("consistency %d->%d, %s: tlog %v, merkle %v", m, n, a.name, et, em)
			}
			if a.mustReject && et == nil {
				t.Fatalf("consistency %d->%d, %s: verified", m, n, a.name)
			}
		}
	}
}

// alter says whether to try the alterations of the proof for leaf (or old
// size) m in a tree of size n: always up to 32 leaves, else for m at the
// edges and every fourth m (keeping the test fast under -race).
func alter(n, m int) bool { return n <= 32 || m <= 1 || m >= n-1 || m%4 == 0 }

// flipAt lists the elements of a proof of length l in a tree of size n to
// alter: every one in trees of up to 32 leaves, else the first, a middle and
// the last (keeping the test fast under -race).
func flipAt(n, l int) []int {
	if n <= 32 || l <= 3 {
		out := make([]int, l)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return []int{0, l / 2, l - 1}
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func appendHash(p [][]byte, h []byte) [][]byte {
	return append(append([][]byte(nil), p...), h)
}

func swapped(p [][]byte) [][]byte {
	q := append([][]byte(nil), p...)
	q[0], q[1] = q[1], q[0]
	return q
}

func flipped(p [][]byte, i int) [][]byte {
	q := append([][]byte(nil), p...)
	q[i] = append([]byte(nil), q[i]...)
	q[i][len(q[i])/2] ^= 0x10
	return q
}
