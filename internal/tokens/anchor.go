package tokens

import (
	"context"
	"encoding/binary"

	"github.com/domicile/domicile/internal/store"
)

// This file holds the layout of a deterministic token's anchor. The anchor
// (x/d/<ver><mac>) holds the token's generation, 4 bytes big-endian, which
// every write of an entry of the token creates or expects. A new token
// that a stand-alone Tokenize claims (tokenizer.claimNew) holds its region
// entry in the same value, after the generation: one key per new token
// rather than two. The second key's memtable insert, flush and compaction
// cost 12-17% of a new token's server CPU on dev (8 and 64 clients). Every
// reader takes both layouts: a region entry folded into the anchor, or
// apart at x/d/<ver><mac>/.

// foldsAnchor reports whether new deterministic tokens of key version v
// fold their region entry into their anchor.
func (s *Service) foldsAnchor(v uint32) bool { return v > s.apartAnchor && s.currentRules(v) }

// foldedAnchor is the anchor of a new token, generation 1, with its region
// entry.
func foldedAnchor(entry []byte) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(entry)), 1), entry...)
}

// folded reports whether v, an anchor's value, holds a region entry.
func folded(v []byte) bool { return len(v) > 4 }

// splitAnchor returns the generation of an anchor's value and the region
// entry folded into it (nil: none, the layout of every anchor of earlier
// builds); false when the value is too short to be an anchor.
func splitAnchor(v []byte) (gen uint32, entry []byte, ok bool) {
	if len(v) < 4 {
		return 0, nil, false
	}
	if len(v) > 4 {
		entry = v[4:]
	}
	return binary.BigEndian.Uint32(v), entry, true
}

// loadFoldMode returns the highest token key version whose new
// deterministic tokens keep their region entry apart from their anchor
// (0: none); later versions fold it into the anchor (see foldsAnchor).
// Earlier builds read a folded anchor as corrupt, so a region that served
// requests before this build keeps the old layout for its current version:
// once every node of the region runs this build, rotating the token key
// starts the folded one.
func loadFoldMode(ctx context.Context, st store.Store, cur uint32) (uint32, error) {
	return loadMode(ctx, st, keyFoldMode, "anchor mode", cur)
}
