package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// Tree nodes are stored in tiles, as in C2SP tlog-tiles: the tile (t, k)
// holds the hashes of nodes (8t, 256k) .. (8t, 256k+255), concatenated; the
// right-most tile of each tile level may be partial and is rewritten as it
// grows. A node of level 8t+r (r < 8) is recomputed from the 2^r hashes
// below it in its tile. An integration pass of a few hundred entries thus
// writes a handful of keys instead of two per entry, and a proof still
// reads O(log n) keys.
const (
	tileHeight = 8
	tileWidth  = 1 << tileHeight
)

func tileKey(prefix []byte, t uint8, k uint64) []byte {
	b := append(make([]byte, 0, len(prefix)+9), prefix...)
	b = append(b, t)
	return binary.BigEndian.AppendUint64(b, k)
}

// treeHash is the hash of the log's tree and where its tiles are: the
// first hash's under a/t/, a later one's (Rehash) under a/h/<hash id>/,
// named by the a/m/hash marker.
type treeHash struct {
	h     suite.Hash
	tiles []byte // prefix of the tile keys
	raw   []byte // the stored marker, nil when absent (the first hash)
}

// tilePrefix is where the tiles of a tree hashed with h live once the
// marker names h.
func tilePrefix(h suite.Hash) []byte { return []byte("a/h/" + h.ID() + "/") }

// readTreeHash reads the marker: the tree's hash is first when there is
// none.
func readTreeHash(ctx context.Context, st store.Store, first suite.Hash) (*treeHash, error) {
	v, err := st.Get(ctx, keyHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &treeHash{h: first, tiles: prefixNode}, nil
	case err != nil:
		return nil, fmt.Errorf("audit: reading the tree's hash: %w", err)
	}
	h, err := suite.HashByID(string(v))
	if err != nil {
		return nil, fmt.Errorf("audit: %w: the tree's hash: %v", ErrCorrupt, err)
	}
	return &treeHash{h: h, tiles: tilePrefix(h), raw: v}, nil
}

// tileNodes reads nodes from stored tiles.
type tileNodes struct {
	st    store.Store
	h     suite.Hash
	tiles []byte // tile key prefix
}

func (r tileNodes) Node(ctx context.Context, n tlog.Node) ([]byte, error) {
	t, rem := n.Level/tileHeight, n.Level%tileHeight
	first := n.Index << rem
	k, pos := first/tileWidth, int(first%tileWidth)
	tile, err := r.st.Get(ctx, tileKey(r.tiles, t, k))
	if err != nil {
		return nil, fmt.Errorf("tree tile %d/%d: %w", t, k, err)
	}
	hs := r.h.Size()
	count := 1 << rem
	if len(tile)%hs != 0 || len(tile) < (pos+count)*hs {
		return nil, fmt.Errorf("tree tile %d/%d: %w: %d bytes, node %d/%d not complete", t, k, ErrCorrupt, len(tile), n.Level, n.Index)
	}
	hashes := make([][]byte, count)
	for i := range hashes {
		hashes[i] = tile[(pos+i)*hs : (pos+i+1)*hs]
	}
	for len(hashes) > 1 {
		for i := 0; i < len(hashes); i += 2 {
			hashes[i/2] = tlog.NodeHash(r.h, hashes[i], hashes[i+1])
		}
		hashes = hashes[:len(hashes)/2]
	}
	return bytes.Clone(hashes[0]), nil
}

// edgeTile is the right-most tile of one tile level.
type edgeTile struct {
	k    uint64
	data []byte
}

// tileWriter collects the nodes emitted by one integration pass into the
// right-edge tiles.
type tileWriter struct {
	hs      int
	tiles   []byte             // tile key prefix
	edges   map[uint8]edgeTile // copy-on-write of Log.edges
	touched map[string][]byte  // tile key -> content to Put
	err     error
}

func newTileWriter(hs int, tiles []byte, edges map[uint8]edgeTile) *tileWriter {
	w := &tileWriter{hs: hs, tiles: tiles, edges: make(map[uint8]edgeTile, len(edges)), touched: map[string][]byte{}}
	for t, e := range edges {
		w.edges[t] = edgeTile{k: e.k, data: e.data[:len(e.data):len(e.data)]} // appends copy
	}
	return w
}

func (w *tileWriter) emit(n tlog.Node, h []byte) {
	if n.Level%tileHeight != 0 || w.err != nil {
		return
	}
	t := n.Level / tileHeight
	k, pos := n.Index/tileWidth, int(n.Index%tileWidth)
	e := w.edges[t]
	if e.k != k {
		e = edgeTile{k: k}
	}
	if len(e.data) != pos*w.hs {
		w.err = fmt.Errorf("audit: integrate: %w: tile %d/%d has %d bytes, node %d comes next", ErrCorrupt, t, k, len(e.data), n.Index)
		return
	}
	e.data = append(e.data, h...)
	w.edges[t] = e
	w.touched[string(tileKey(w.tiles, t, k))] = e.data
}

func (w *tileWriter) write(b *store.Batch) {
	for k, v := range w.touched {
		b.Put([]byte(k), v)
	}
}

// loadEdges reads the right-edge tiles of a tree of the given size.
func loadEdges(ctx context.Context, st store.Store, tiles []byte, hs int, size uint64) (map[uint8]edgeTile, error) {
	edges := map[uint8]edgeTile{}
	for t := uint8(0); ; t++ {
		count := size >> (uint(t) * tileHeight) // nodes of level 8t
		if count == 0 {
			return edges, nil
		}
		k, width := count/tileWidth, int(count%tileWidth)
		if width == 0 {
			continue // the edge tile is full; the next node starts a new one
		}
		v, err := st.Get(ctx, tileKey(tiles, t, k))
		if err != nil {
			return nil, fmt.Errorf("audit: load: tree tile %d/%d: %w", t, k, err)
		}
		// Another process may have grown the tile since size was read:
		// its first width hashes are those of this tree.
		if len(v) < width*hs || len(v)%hs != 0 {
			return nil, fmt.Errorf("audit: load: %w: tree tile %d/%d is %d bytes, want %d", ErrCorrupt, t, k, len(v), width*hs)
		}
		edges[t] = edgeTile{k: k, data: v[: width*hs : width*hs]}
	}
}

// leafTiles pages through the level-0 tiles for StoreReader.
type leafTiles struct {
	st    store.Store
	hs    int
	tiles []byte // tile key prefix
	k     uint64
	data  []byte
	ok    bool
}

// leaf returns the stored leaf hash of index i, nil if none.
func (lt *leafTiles) leaf(ctx context.Context, i uint64) ([]byte, error) {
	k := i / tileWidth
	if !lt.ok || lt.k != k {
		v, err := lt.st.Get(ctx, tileKey(lt.tiles, 0, k))
		if errors.Is(err, store.ErrNotFound) {
			v = nil
		} else if err != nil {
			return nil, err
		}
		lt.k, lt.data, lt.ok = k, v, true
	}
	pos := int(i%tileWidth) * lt.hs
	if pos+lt.hs > len(lt.data) {
		return nil, nil
	}
	return lt.data[pos : pos+lt.hs], nil
}
