package audit

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/suite"
)

// ErrTampered is wrapped by every *VerifyError.
var ErrTampered = errors.New("audit: log fails verification")

// VerifyError names the first problem Verify found: an entry index, a
// checkpoint size, or both (-1 when not applicable).
type VerifyError struct {
	Entry      int64
	Checkpoint int64
	Msg        string
}

func (e *VerifyError) Error() string {
	switch {
	case e.Entry >= 0:
		return fmt.Sprintf("entry %d: %s", e.Entry, e.Msg)
	case e.Checkpoint >= 0:
		return fmt.Sprintf("checkpoint at size %d: %s", e.Checkpoint, e.Msg)
	}
	return e.Msg
}

// Unwrap makes errors.Is(err, ErrTampered) hold.
func (e *VerifyError) Unwrap() error { return ErrTampered }

// Report is the result of a successful Verify.
type Report struct {
	Origin      string
	Entries     uint64 // entries verified (all stored ones)
	Checkpoints int
	Signed      uint64 // size of the latest checkpoint: entries below are covered by a signature
	Root        []byte // root of the whole log
	Actions     map[entry.Action]int
	Aborted     int // entries of requests that failed (outcome aborted), voids included
	// Reserved is the first index a node reserved but never wrote (it
	// stopped first), past every checkpoint and the integrated tree, so
	// that no signature or tree ever covered it: not evidence of
	// deletion. -1 when there is none. Any running node of the region
	// fills it with a void entry (VoidGrace after seeing it); until then
	// the Waiting entries stored after it cannot be verified.
	Reserved int64
	Waiting  int
}

// integratedReader is a Reader that knows the size of the tree the log
// integrated: a store does; an export does not say, so for an export
// only its checkpoints tell a gap past them from a deletion.
type integratedReader interface {
	Integrated(ctx context.Context) (uint64, error)
}

// Verify checks the log read from r offline, with the region's audit public
// key and its suite's signature and hash:
//
//   - every checkpoint parses, names Alg(sig, hash), is signed by pub, is
//     filed under its own size, shares one origin with the others and is
//     not older than the previous one;
//   - entries are stored at 0, 1, 2, ... without a gap, each parses
//     strictly, says its own index and (when the reader has stored leaf
//     hashes) matches its leaf hash;
//   - the tree recomputed over the entries has, at each checkpoint's size,
//     that checkpoint's root. As both roots are recomputed from the same
//     entries, each checkpoint is thereby proved to extend the previous one
//     (a consistency proof between them would check nothing more);
//   - no checkpoint covers more entries than are stored.
//
// A gap past every checkpoint and past the integrated tree (what a node
// that stopped between reserving an index and writing it leaves, until a
// running node voids it) is not a failure: the report names it in
// Reserved and counts the entries after it, unverified, in Waiting.
//
// Problems are reported in index order: the first bad entry, or the first
// checkpoint whose range holds an undetected change. progress, if not nil,
// is called every 4096 entries with the count and r.Total().
//
// Errors: a *VerifyError (wrapping ErrTampered) naming the first bad entry
// or checkpoint; r's errors, wrapped.
func Verify(ctx context.Context, r Reader, pub crypto.PublicKey, sig suite.Signature, hash suite.Hash, progress func(done, total int)) (*Report, error) {
	raw, err := r.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Actions: map[entry.Action]int{}, Reserved: -1}
	var covered uint64 // entries below it were in a signed or integrated tree
	if ir, ok := r.(integratedReader); ok {
		if covered, err = ir.Integrated(ctx); err != nil {
			return nil, err
		}
	}
	type cp struct {
		size uint64
		root []byte
		bad  string // why it is invalid, reported when the walk reaches it
	}
	// A checkpoint naming other algorithms means the verifier was given
	// the wrong suite (or the log is not this region's): say so at once.
	want := checkpoint.Alg(sig, hash)
	for _, rc := range raw {
		if s, err := checkpoint.Parse(rc.Text); err == nil && s.Alg != want {
			return nil, &VerifyError{Entry: -1, Checkpoint: int64(rc.Size), Msg: fmt.Sprintf("signed with %s, expected %s", s.Alg, want)}
		}
	}
	cps := make([]cp, 0, len(raw))
	var prevTime time.Time
	for i, rc := range raw {
		c := cp{size: rc.Size}
		v, err := checkpoint.Verify(rc.Text, pub, sig, hash)
		switch {
		case err != nil:
			c.bad = err.Error()
		case v.Size != rc.Size:
			c.bad = fmt.Sprintf("it says size %d (replaced or moved)", v.Size)
		case rep.Origin != "" && v.Origin != rep.Origin:
			c.bad = fmt.Sprintf("origin %q differs from %q", v.Origin, rep.Origin)
		case i > 0 && raw[i-1].Size >= rc.Size:
			c.bad = "checkpoints are not in ascending size"
		case v.Time.Before(prevTime):
			c.bad = fmt.Sprintf("signed at %s, before the previous checkpoint (%s)", v.Time, prevTime)
		default:
			c.root = v.Root
			prevTime = v.Time
			if rep.Origin == "" {
				rep.Origin = v.Origin
			}
		}
		cps = append(cps, c)
	}
	f, _ := tlog.NewFrontier(0, nil)
	next := 0 // index into cps
	total := r.Total()
	prevSize := uint64(0)
	checkAt := func(size uint64) error {
		for next < len(cps) && cps[next].size <= size {
			c := cps[next]
			next++
			if c.size < size {
				continue // already passed (only when sizes are out of order)
			}
			if c.bad != "" {
				return &VerifyError{Entry: -1, Checkpoint: int64(c.size), Msg: c.bad}
			}
			if !bytes.Equal(c.root, f.Root(hash)) {
				return &VerifyError{Entry: -1, Checkpoint: int64(c.size), Msg: fmt.Sprintf(
					"signed root differs from the entries: an entry in %d..%d was altered, added or removed (first unverified entry %d)", prevSize, c.size-1, prevSize)}
			}
			prevSize = c.size
			rep.Checkpoints++
			rep.Signed = c.size
		}
		return nil
	}
	if err := checkAt(0); err != nil {
		return nil, err
	}
	for _, rc := range raw {
		covered = max(covered, rc.Size)
	}
	var count uint64
	err = r.Entries(ctx, func(re RawEntry) error {
		i := count
		if rep.Reserved >= 0 {
			rep.Waiting++
			return nil
		}
		if (re.Index > i || re.Data == nil) && i >= covered {
			// Reserved, never written, never in a tree: count what
			// waits behind it.
			rep.Reserved = int64(i)
			if re.Data != nil {
				rep.Waiting++
			}
			return nil
		}
		if re.Index != i {
			if re.Index < i {
				return &VerifyError{Entry: int64(re.Index), Checkpoint: -1, Msg: "stored out of order"}
			}
			return &VerifyError{Entry: int64(i), Checkpoint: -1, Msg: fmt.Sprintf("missing (deleted): the next stored entry is %d", re.Index)}
		}
		if re.Data == nil {
			return &VerifyError{Entry: int64(i), Checkpoint: -1, Msg: "missing (deleted)"}
		}
		e, err := entry.Parse(re.Data)
		if err != nil {
			return &VerifyError{Entry: int64(i), Checkpoint: -1, Msg: fmt.Sprintf("altered: %v", err)}
		}
		if e.Index != i {
			return &VerifyError{Entry: int64(i), Checkpoint: -1, Msg: fmt.Sprintf("holds entry %d (entries moved or swapped)", e.Index)}
		}
		leaf := tlog.LeafHash(hash, re.Data)
		if re.Leaf != nil && !bytes.Equal(leaf, re.Leaf) {
			return &VerifyError{Entry: int64(i), Checkpoint: -1, Msg: "altered: its bytes do not match its leaf hash in the tree"}
		}
		f.Append(hash, leaf, nil)
		rep.Actions[e.Action]++
		if e.Outcome == entry.Aborted {
			rep.Aborted++
		}
		count++
		if progress != nil && count%4096 == 0 {
			progress(int(count), total)
		}
		return checkAt(count)
	})
	if err != nil {
		return nil, err
	}
	if next < len(cps) {
		c := cps[next]
		if c.bad != "" {
			return nil, &VerifyError{Entry: -1, Checkpoint: int64(c.size), Msg: c.bad}
		}
		return nil, &VerifyError{Entry: int64(count), Checkpoint: -1, Msg: fmt.Sprintf(
			"missing: the log ends at %d entries but a checkpoint covers %d (entries %d..%d were removed)", count, c.size, count, c.size-1)}
	}
	if progress != nil {
		progress(int(count), total)
	}
	rep.Entries = count
	rep.Root = f.Root(hash)
	return rep, nil
}
