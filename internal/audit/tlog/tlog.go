// Package tlog is the Merkle tree of RFC 6962 §2.1 (RFC 9162 §2.1),
// parameterised by the region's suite hash: leaf hashes, node hashes,
// incremental roots, proof construction over stored perfect subtrees and
// proof verification.
//
// Trees are addressed by perfect subtrees: node (level, index) is the root of
// the leaves [index·2^level, (index+1)·2^level). Level 0 nodes are leaf
// hashes. A tree of size n is the fold of the perfect subtrees of the binary
// decomposition of n (largest first), which equals MTH(D[0:n]).
package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"

	"github.com/domicile/domicile/internal/suite"
)

// ErrProof is wrapped by VerifyInclusion and VerifyConsistency for every
// proof that does not verify.
var ErrProof = errors.New("tlog: proof does not verify")

// ErrRange is wrapped when indexes or sizes do not describe a valid proof
// request (index >= size, old > new, ...).
var ErrRange = errors.New("tlog: index or size out of range")

// LeafHash returns H(0x00 || data).
func LeafHash(h suite.Hash, data []byte) []byte {
	hh := h.New()
	hh.Write([]byte{0})
	hh.Write(data)
	return hh.Sum(nil)
}

// NodeHash returns H(0x01 || left || right).
func NodeHash(h suite.Hash, left, right []byte) []byte {
	hh := h.New()
	hh.Write([]byte{1})
	hh.Write(left)
	hh.Write(right)
	return hh.Sum(nil)
}

// EmptyRoot returns the root of the empty tree, H().
func EmptyRoot(h suite.Hash) []byte { return h.Sum(nil) }

// Node names a perfect subtree.
type Node struct {
	Level uint8
	Index uint64
}

// Frontier is the compact state of a tree: the roots of the perfect
// subtrees of the binary decomposition of its size, largest (leftmost)
// first. Appending a leaf costs O(log n) hashes amortised O(1).
type Frontier struct {
	size  uint64
	nodes [][]byte
}

// NewFrontier rebuilds the frontier of a tree of the given size from the
// roots of its perfect subtrees (as listed by FrontierNodes(size)).
//
// Errors: when len(roots) does not match the size.
func NewFrontier(size uint64, roots [][]byte) (*Frontier, error) {
	if len(roots) != bits.OnesCount64(size) {
		return nil, fmt.Errorf("tlog: a tree of size %d has %d frontier nodes, got %d", size, bits.OnesCount64(size), len(roots))
	}
	return &Frontier{size: size, nodes: append([][]byte(nil), roots...)}, nil
}

// FrontierNodes lists the perfect subtrees whose roots make up the frontier
// of a tree of the given size, largest first.
func FrontierNodes(size uint64) []Node {
	var out []Node
	var start uint64
	for l := 63; l >= 0; l-- {
		if size&(1<<uint(l)) != 0 {
			out = append(out, Node{Level: uint8(l), Index: start >> uint(l)})
			start += 1 << uint(l)
		}
	}
	return out
}

// Size returns the number of leaves.
func (f *Frontier) Size() uint64 { return f.size }

// Clone returns an independent copy.
func (f *Frontier) Clone() *Frontier {
	return &Frontier{size: f.size, nodes: append([][]byte(nil), f.nodes...)}
}

// Append adds one leaf hash and calls emit (if not nil) for every perfect
// subtree completed by it, the leaf itself (level 0) first.
func (f *Frontier) Append(h suite.Hash, leaf []byte, emit func(n Node, hash []byte)) {
	idx := f.size
	if emit != nil {
		emit(Node{0, idx}, leaf)
	}
	cur := leaf
	level := uint8(0)
	// Every trailing one bit of the old size is a subtree merged now.
	for s := f.size; s&1 == 1; s >>= 1 {
		left := f.nodes[len(f.nodes)-1]
		f.nodes = f.nodes[:len(f.nodes)-1]
		cur = NodeHash(h, left, cur)
		level++
		if emit != nil {
			emit(Node{level, idx >> level}, cur)
		}
	}
	f.nodes = append(f.nodes, cur)
	f.size++
}

// Root returns MTH of the leaves appended so far.
func (f *Frontier) Root(h suite.Hash) []byte {
	if len(f.nodes) == 0 {
		return EmptyRoot(h)
	}
	r := f.nodes[len(f.nodes)-1]
	for i := len(f.nodes) - 2; i >= 0; i-- {
		r = NodeHash(h, f.nodes[i], r)
	}
	return r
}

// NodeReader returns stored perfect subtree roots.
type NodeReader interface {
	// Node returns the root of the perfect subtree n, which must be
	// complete in the tree being proved.
	Node(ctx context.Context, n Node) ([]byte, error)
}

// prover builds proofs from perfect subtrees.
type prover struct {
	ctx context.Context
	h   suite.Hash
	r   NodeReader
	err error
}

// mth returns MTH(D[a:b]) for a range that is either a perfect aligned
// subtree or the right border of a tree (the only ranges RFC 6962 proofs
// name), reading O(log(b-a)) nodes.
func (p *prover) mth(a, b uint64) []byte {
	if p.err != nil {
		return nil
	}
	n := b - a
	if n&(n-1) == 0 && a%n == 0 {
		level := uint8(bits.TrailingZeros64(n))
		v, err := p.r.Node(p.ctx, Node{level, a >> level})
		if err != nil {
			p.err = err
		}
		return v
	}
	k := splitPoint(n)
	left := p.mth(a, a+k)
	right := p.mth(a+k, b)
	if p.err != nil {
		return nil
	}
	return NodeHash(p.h, left, right)
}

// splitPoint returns the largest power of two smaller than n (n >= 2).
func splitPoint(n uint64) uint64 { return 1 << (63 - bits.LeadingZeros64(n-1)) }

// path is PATH(m, D[a:b]) of RFC 6962 §2.1.1.
func (p *prover) path(m, a, b uint64, out [][]byte) [][]byte {
	n := b - a
	if n <= 1 {
		return out
	}
	k := splitPoint(n)
	if m < k {
		out = p.path(m, a, a+k, out)
		return append(out, p.mth(a+k, b))
	}
	out = p.path(m-k, a+k, b, out)
	return append(out, p.mth(a, a+k))
}

// subproof is SUBPROOF(m, D[a:b], complete) of RFC 6962 §2.1.2.
func (p *prover) subproof(m, a, b uint64, complete bool, out [][]byte) [][]byte {
	n := b - a
	if m == n {
		if complete {
			return out
		}
		return append(out, p.mth(a, b))
	}
	k := splitPoint(n)
	if m <= k {
		out = p.subproof(m, a, a+k, complete, out)
		return append(out, p.mth(a+k, b))
	}
	out = p.subproof(m-k, a+k, b, false, out)
	return append(out, p.mth(a, a+k))
}

// InclusionProof returns the audit path of leaf index in the tree of the
// given size, reading perfect subtree roots from r.
//
// Errors: ErrRange (wrapped) when index >= size; r's errors, wrapped.
func InclusionProof(ctx context.Context, h suite.Hash, r NodeReader, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("%w: leaf %d in a tree of size %d", ErrRange, index, size)
	}
	p := &prover{ctx: ctx, h: h, r: r}
	out := p.path(index, 0, size, nil)
	if p.err != nil {
		return nil, fmt.Errorf("tlog: inclusion proof: %w", p.err)
	}
	return out, nil
}

// ConsistencyProof returns the proof that the tree of size old is a prefix
// of the tree of size new. It is empty when old == new or old == 0.
//
// Errors: ErrRange (wrapped) when old > new; r's errors, wrapped.
func ConsistencyProof(ctx context.Context, h suite.Hash, r NodeReader, old, new uint64) ([][]byte, error) {
	if old > new {
		return nil, fmt.Errorf("%w: old size %d > new size %d", ErrRange, old, new)
	}
	if old == 0 || old == new {
		return nil, nil
	}
	p := &prover{ctx: ctx, h: h, r: r}
	out := p.subproof(old, 0, new, true, nil)
	if p.err != nil {
		return nil, fmt.Errorf("tlog: consistency proof: %w", p.err)
	}
	return out, nil
}

// Root returns MTH of the tree of the given size from stored nodes.
//
// Errors: r's errors, wrapped.
func Root(ctx context.Context, h suite.Hash, r NodeReader, size uint64) ([]byte, error) {
	if size == 0 {
		return EmptyRoot(h), nil
	}
	p := &prover{ctx: ctx, h: h, r: r}
	root := p.mth(0, size)
	if p.err != nil {
		return nil, fmt.Errorf("tlog: root: %w", p.err)
	}
	return root, nil
}

// RootFromInclusion computes the root implied by an inclusion proof
// (RFC 9162 §2.1.3.2).
//
// Errors: ErrRange or ErrProof (wrapped) for a malformed proof.
func RootFromInclusion(h suite.Hash, index, size uint64, leaf []byte, proof [][]byte) ([]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("%w: leaf %d in a tree of size %d", ErrRange, index, size)
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range proof {
		if len(p) != h.Size() {
			return nil, fmt.Errorf("%w: proof hash of %d bytes", ErrProof, len(p))
		}
		if sn == 0 {
			return nil, fmt.Errorf("%w: proof too long", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			r = NodeHash(h, p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = NodeHash(h, r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return nil, fmt.Errorf("%w: proof too short", ErrProof)
	}
	return r, nil
}

// VerifyInclusion checks that leaf (a leaf hash) is at index in the tree of
// the given size and root.
//
// Errors: ErrProof or ErrRange (wrapped) on any failure.
func VerifyInclusion(h suite.Hash, index, size uint64, leaf []byte, proof [][]byte, root []byte) error {
	got, err := RootFromInclusion(h, index, size, leaf, proof)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, root) {
		return fmt.Errorf("%w: computed root differs", ErrProof)
	}
	return nil
}

// VerifyConsistency checks that the tree (oldSize, oldRoot) is a prefix of
// the tree (newSize, newRoot), per RFC 9162 §2.1.4.2.
//
// Errors: ErrProof or ErrRange (wrapped) on any failure.
func VerifyConsistency(h suite.Hash, oldSize, newSize uint64, oldRoot, newRoot []byte, proof [][]byte) error {
	switch {
	case oldSize > newSize:
		return fmt.Errorf("%w: old size %d > new size %d", ErrRange, oldSize, newSize)
	case oldSize == newSize:
		if len(proof) != 0 {
			return fmt.Errorf("%w: non-empty proof for equal sizes", ErrProof)
		}
		if !bytes.Equal(oldRoot, newRoot) {
			return fmt.Errorf("%w: roots differ at equal sizes", ErrProof)
		}
		return nil
	case oldSize == 0:
		if len(proof) != 0 {
			return fmt.Errorf("%w: non-empty proof from the empty tree", ErrProof)
		}
		return nil
	}
	if len(proof) == 0 {
		return fmt.Errorf("%w: empty proof", ErrProof)
	}
	for _, p := range proof {
		if len(p) != h.Size() {
			return fmt.Errorf("%w: proof hash of %d bytes", ErrProof, len(p))
		}
	}
	// If the old size is a power of two, the old root is the first node.
	if oldSize&(oldSize-1) == 0 {
		proof = append([][]byte{oldRoot}, proof...)
	}
	fn, sn := oldSize-1, newSize-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return fmt.Errorf("%w: proof too long", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			fr = NodeHash(h, c, fr)
			sr = NodeHash(h, c, sr)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			sr = NodeHash(h, sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("%w: proof too short", ErrProof)
	}
	if !bytes.Equal(fr, oldRoot) || !bytes.Equal(sr, newRoot) {
		return fmt.Errorf("%w: computed roots differ", ErrProof)
	}
	return nil
}
