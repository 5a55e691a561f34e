package audit

import (
	"context"
	"fmt"

	"github.com/domicile/domicile/internal/audit/checkpoint"
)

// SignedRange is the stored checkpoints that one audit key signed.
type SignedRange struct {
	Checkpoints int
	First, Last uint64 // their smallest and largest size
}

// SignedBy reads every stored checkpoint and returns, by the key hash of
// its region signature (the one under the log's origin), which
// checkpoints each key signed. It checks no signature: a verifier does
// (Verify); this is the index that tells an auditor which key covers
// which range.
//
// Errors: the store's, wrapped; ErrCorrupt for a checkpoint that does not
// parse.
func (l *Log) SignedBy(ctx context.Context) (map[[4]byte]SignedRange, error) {
	cps, err := StoreReader(l.st, l.Hash()).Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	out := map[[4]byte]SignedRange{}
	for _, c := range cps {
		s, err := checkpoint.Parse(c.Text)
		if err != nil {
			return nil, fmt.Errorf("%w: checkpoint at size %d: %v", ErrCorrupt, c.Size, err)
		}
		for _, sg := range s.Sigs {
			if sg.Name != s.Origin {
				continue
			}
			r := out[sg.KeyHash]
			if r.Checkpoints == 0 {
				r.First = c.Size
			}
			r.Checkpoints++
			r.Last = c.Size
			out[sg.KeyHash] = r
			break
		}
	}
	return out, nil
}
