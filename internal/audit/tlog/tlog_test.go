package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/suite"
)

// The reference: RFC 6962 §2.1 written directly over the list of leaves,
// sharing no code with the package except the suite hash.

func refLeaf(h suite.Hash, d []byte) []byte { return h.Sum(append([]byte{0}, d...)) }

func refNode(h suite.Hash, l, r []byte) []byte {
	return h.Sum(append(append([]byte{1}, l...), r...))
}

func refK(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func refMTH(h suite.Hash, d [][]byte) []byte {
	switch len(d) {
	case 0:
		return h.Sum(nil)
	case 1:
		return refLeaf(h, d[0])
	}
	k := refK(len(d))
	return refNode(h, refMTH(h, d[:k]), refMTH(h, d[k:]))
}

func refPath(h suite.Hash, m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := refK(len(d))
	if m < k {
		return append(refPath(h, m, d[:k]), refMTH(h, d[k:]))
	}
	return append(refPath(h, m-k, d[k:]), refMTH(h, d[:k]))
}

func refSubproof(h suite.Hash, m int, d [][]byte, b bool) [][]byte {
	n := len(d)
	if m == n {
		if b {
			return nil
		}
		return [][]byte{refMTH(h, d)}
	}
	k := refK(n)
	if m <= k {
		return append(refSubproof(h, m, d[:k], b), refMTH(h, d[k:]))
	}
	return append(refSubproof(h, m-k, d[k:], false), refMTH(h, d[:k]))
}

func refProof(h suite.Hash, m int, d [][]byte) [][]byte {
	if m == 0 || m == len(d) {
		return nil
	}
	return refSubproof(h, m, d, true)
}

// memNodes is a NodeReader filled by Frontier.Append.
type memNodes map[Node][]byte

func (m memNodes) Node(_ context.Context, n Node) ([]byte, error) {
	v, ok := m[n]
	if !ok {
		return nil, fmt.Errorf("node %v not stored", n)
	}
	return v, nil
}

func leaves(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("entry %d", i))
	}
	return out
}

var hashes = []suite.Hash{suite.SHA256(), suite.SM3()}

func equalLists(a, b [][]byte) bool {
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

func build(h suite.Hash, d [][]byte) (memNodes, []*Frontier) {
	nodes := memNodes{}
	f, _ := NewFrontier(0, nil)
	snaps := []*Frontier{f.Clone()}
	for _, x := range d {
		f.Append(h, LeafHash(h, x), func(n Node, v []byte) {
			if _, dup := nodes[n]; dup {
				panic(fmt.Sprintf("node %v emitted twice", n))
			}
			nodes[n] = v
		})
		snaps = append(snaps, f.Clone())
	}
	return nodes, snaps
}

func TestRootsAgainstReference(t *testing.T) {
	ctx := context.Background()
	for _, h := range hashes {
		t.Run(h.ID(), func(t *testing.T) {
			d := leaves(300)
			nodes, snaps := build(h, d)
			for n := 0; n <= 300; n++ {
				want := refMTH(h, d[:n])
				if got := snaps[n].Root(h); !bytes.Equal(got, want) {
					t.Fatalf("frontier root of size %d differs", n)
				}
				got, err := Root(ctx, h, nodes, uint64(n))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("stored root of size %d differs (err %v)", n, err)
				}
				// A frontier rebuilt from stored nodes gives the same root.
				var roots [][]byte
				for _, fn := range FrontierNodes(uint64(n)) {
					roots = append(roots, nodes[fn])
				}
				f, err := NewFrontier(uint64(n), roots)
				if err != nil || !bytes.Equal(f.Root(h), want) {
					t.Fatalf("rebuilt frontier of size %d differs (err %v)", n, err)
				}
			}
		})
	}
}

func TestInclusionAgainstReference(t *testing.T) {
	ctx := context.Background()
	for _, h := range hashes {
		t.Run(h.ID(), func(t *testing.T) {
			d := leaves(300)
			nodes, _ := build(h, d)
			sizes := []int{}
			for n := 1; n <= 64; n++ {
				sizes = append(sizes, n)
			}
			sizes = append(sizes, 127, 128, 129, 255, 256, 257, 299, 300)
			for _, n := range sizes {
				root := refMTH(h, d[:n])
				for m := 0; m < n; m++ {
					want := refPath(h, m, d[:n])
					got, err := InclusionProof(ctx, h, nodes, uint64(m), uint64(n))
					if err != nil {
						t.Fatal(err)
					}
					if !equalLists(got, want) {
						t.Fatalf("inclusion proof of %d in %d differs from the reference", m, n)
					}
					leaf := LeafHash(h, d[m])
					if err := VerifyInclusion(h, uint64(m), uint64(n), leaf, got, root); err != nil {
						t.Fatalf("proof of %d in %d: %v", m, n, err)
					}
					checkInclusionRejects(t, h, uint64(m), uint64(n), leaf, got, root)
				}
			}
		})
	}
}

func checkInclusionRejects(t *testing.T, h suite.Hash, m, n uint64, leaf []byte, proof [][]byte, root []byte) {
	t.Helper()
	bad := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%d in %d: %s verified", m, n, name)
		}
	}
	other := LeafHash(h, []byte("other"))
	bad("other leaf", VerifyInclusion(h, m, n, other, proof, root))
	bad("other root", VerifyInclusion(h, m, n, leaf, proof, other))
	if m+1 < n {
		bad("next index", VerifyInclusion(h, m+1, n, leaf, proof, root))
	}
	if len(proof) > 0 {
		bad("short proof", VerifyInclusion(h, m, n, leaf, proof[:len(proof)-1], root))
		for i := range proof {
			p := append([][]byte(nil), proof...)
			p[i] = append([]byte(nil), p[i]...)
			p[i][0] ^= 1
			bad(fmt.Sprintf("flipped hash %d", i), VerifyInclusion(h, m, n, leaf, p, root))
		}
	}
	bad("long proof", VerifyInclusion(h, m, n, leaf, append(append([][]byte(nil), proof...), other), root))
}

func TestConsistencyAgainstReference(t *testing.T) {
	ctx := context.Background()
	for _, h := range hashes {
		t.Run(h.ID(), func(t *testing.T) {
			d := leaves(300)
			nodes, _ := build(h, d)
			roots := make([][]byte, 301)
			for n := range roots {
				roots[n] = refMTH(h, d[:n])
			}
			pairs := [][2]int{{100, 300}, {128, 256}, {129, 300}, {255, 257}, {1, 300}, {299, 300}}
			for n := 0; n <= 64; n++ {
				for m := 0; m <= n; m++ {
					pairs = append(pairs, [2]int{m, n})
				}
			}
			for _, pr := range pairs {
				m, n := pr[0], pr[1]
				want := refProof(h, m, d[:n])
				got, err := ConsistencyProof(ctx, h, nodes, uint64(m), uint64(n))
				if err != nil {
					t.Fatal(err)
				}
				if !equalLists(got, want) {
					t.Fatalf("consistency proof %d->%d differs from the reference", m, n)
				}
				if err := VerifyConsistency(h, uint64(m), uint64(n), roots[m], roots[n], got); err != nil {
					t.Fatalf("consistency %d->%d: %v", m, n, err)
				}
				if m == 0 || m == n {
					continue
				}
				other := LeafHash(h, []byte("x"))
				for name, err := range map[string]error{
					"old root":  VerifyConsistency(h, uint64(m), uint64(n), other, roots[n], got),
					"new root":  VerifyConsistency(h, uint64(m), uint64(n), roots[m], other, got),
					"empty":     VerifyConsistency(h, uint64(m), uint64(n), roots[m], roots[n], nil),
					"truncated": VerifyConsistency(h, uint64(m), uint64(n), roots[m], roots[n], got[:len(got)-1]),
					"extended":  VerifyConsistency(h, uint64(m), uint64(n), roots[m], roots[n], append(append([][]byte(nil), got...), other)),
					"sizes":     VerifyConsistency(h, uint64(m-1), uint64(n), roots[m], roots[n], got),
				} {
					if err == nil {
						t.Fatalf("%d->%d: bad %s verified", m, n, name)
					}
				}
				for i := range got {
					p := append([][]byte(nil), got...)
					p[i] = append([]byte(nil), p[i]...)
					p[i][len(p[i])-1] ^= 0x80
					if VerifyConsistency(h, uint64(m), uint64(n), roots[m], roots[n], p) == nil {
						t.Fatalf("%d->%d: flipped hash %d verified", m, n, i)
					}
				}
			}
		})
	}
}

func TestRangeErrors(t *testing.T) {
	h := suite.SHA256()
	ctx := context.Background()
	if _, err := InclusionProof(ctx, h, memNodes{}, 3, 3); !errors.Is(err, ErrRange) {
		t.Fatalf("InclusionProof(3,3) = %v", err)
	}
	if _, err := ConsistencyProof(ctx, h, memNodes{}, 4, 3); !errors.Is(err, ErrRange) {
		t.Fatalf("ConsistencyProof(4,3) = %v", err)
	}
	if err := VerifyInclusion(h, 0, 0, nil, nil, nil); !errors.Is(err, ErrRange) {
		t.Fatalf("VerifyInclusion(0,0) = %v", err)
	}
	// Equal roots of different hashes never cross-verify: SM3 and SHA-256
	// trees of the same leaves differ.
	d := leaves(5)
	if bytes.Equal(refMTH(suite.SM3(), d), refMTH(suite.SHA256(), d)) {
		t.Fatal("SM3 and SHA-256 roots are equal")
	}
}

func BenchmarkFrontierAppend(b *testing.B) {
	for _, h := range hashes {
		b.Run(h.ID(), func(b *testing.B) {
			f, _ := NewFrontier(0, nil)
			leaf := make([]byte, 200)
			b.SetBytes(int64(len(leaf)))
			for b.Loop() {
				f.Append(h, LeafHash(h, leaf), nil)
			}
		})
	}
}
