package audit

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Keys says, for each key of the key set (in its order), which
	// checkpoints it signed.
	Keys []KeyUse
	// Kept are the sizes of the kept checkpoints (VerifyOptions.Kept)
	// the log was proved to extend.
	Kept []uint64
	// Witnessed says, for each witness of VerifyOptions.Witnesses (in its
	// order), the largest verified checkpoint it cosigned.
	Witnessed []Witnessed
}

// Witnessed is the newest checkpoint a witness cosigned: the witness saw
// (and checked consistent with what it saw before) the log of that size.
type Witnessed struct {
	Name string
	Size uint64
	Time time.Time // when the witness cosigned it
}

// KeyUse is what one audit key signed in a verified log.
type KeyUse struct {
	KeyHash     [4]byte // as checkpoints name it
	Checkpoints int     // stored checkpoints it signed
	First, Last uint64  // their smallest and largest size (0 when none)
	// Introduced is the index of the entry that announced the key (its
	// rotation, naming its fingerprint), -1 when the log has none: the
	// region's first key, or a rotation recorded before keys were named.
	Introduced int64
}

// VerifyOptions are Verify's inputs besides the log.
type VerifyOptions struct {
	// Keys are the region's audit public keys (current and earlier); each
	// checkpoint must be signed by the one its key hash names. Required.
	Keys *checkpoint.KeySet
	// Kept are signed checkpoints the verifier kept from earlier: each
	// must verify with Keys, and the log must extend it (same root at its
	// size), so a log cut short or rewritten since fails.
	Kept [][]byte
	// Witnesses must each have cosigned at least one stored checkpoint;
	// every cosignature that claims to be theirs must verify.
	Witnesses []checkpoint.WitnessKey
	// Progress, if not nil, is called every 4096 entries with the count
	// and the reader's Total.
	Progress func(done, total int)
}

// leafHasher is a Reader that says which hash its RawEntry.Leaf values
// are of: the log's tree's now (a store), or the exporter's (an export).
type leafHasher interface {
	leafHash(ctx context.Context) (string, error)
}

// integratedReader is a Reader that knows the size of the tree the log
// integrated: a store does; an export does not say, so for an export
// only its checkpoints tell a gap past them from a deletion.
type integratedReader interface {
	Integrated(ctx context.Context) (uint64, error)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keyIntro is the rule of the entry that records the rotation of the
// audit key to version v whose fingerprint is fp (see
// checkpoint.Fingerprint).
func keyIntro(v uint32, fp []byte) string {
	return fmt.Sprintf("rotate:audit:v%d:key:%s", v, hex.EncodeToString(fp))
}

// KeyIntroRule is the rule of the entry recording the rotation of the audit
// key to version v, public key pub: it names the key's fingerprint under
// the log's origin, so the introduction of each key is itself a logged
// (and then signed) event that Verify matches to the checkpoints the key
// signs.
//
// Errors: when pub is not a key of sig.
func KeyIntroRule(origin string, v uint32, pub crypto.PublicKey, sig suite.Signature, h suite.Hash) (string, error) {
	fp, err := checkpoint.Fingerprint(origin, pub, sig, h)
	if err != nil {
		return "", err
	}
	return keyIntro(v, fp), nil
}

// Verify checks the log read from r offline, with the region's audit
// public keys, each of its own signature scheme, and the log's hash (from
// o.Keys):
//
//   - every checkpoint parses, names the Alg of a key of the set (its
//     scheme and the set's hash), is signed by the key of the set its key
//     hash names, is filed under its own size, shares
//     one origin with the others and is not older than the previous one;
//   - entries are stored at 0, 1, 2, ... without a gap, each parses
//     strictly, says its own index and (when the reader has stored leaf
//     hashes) matches its leaf hash;
//   - the tree recomputed over the entries has, at each checkpoint's size
//     (stored or kept), that checkpoint's root. As both roots are
//     recomputed from the same entries, each checkpoint is thereby proved
//     to extend the previous one (a consistency proof between them would
//     check nothing more);
//   - no checkpoint, stored or kept, covers more entries than are stored;
//   - each of o.Witnesses cosigned at least one stored checkpoint, and every
//     cosignature by one of them verifies (the report names the newest
//     checkpoint each cosigned).
//
// A gap past every checkpoint and past the integrated tree (what a node
// that stopped between reserving an index and writing it leaves, until a
// running node voids it) is not a failure: the report names it in
// Reserved and counts the entries after it, unverified, in Waiting.
//
// Problems are reported in index order: the first bad entry, or the first
// checkpoint whose range holds an undetected change.
//
// Errors: a *VerifyError (wrapping ErrTampered) naming the first bad entry
// or checkpoint; r's errors, wrapped.
func Verify(ctx context.Context, r Reader, o VerifyOptions) (*Report, error) {
	if o.Keys == nil {
		return nil, errors.New("audit: verify: no audit keys given")
	}
	hash, progress := o.Keys.Hash(), o.Progress
	raw, err := r.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Actions: map[entry.Action]int{}, Reserved: -1, Keys: make([]KeyUse, o.Keys.Len()), Witnessed: make([]Witnessed, len(o.Witnesses))}
	for i := range rep.Keys {
		rep.Keys[i].Introduced = -1
	}
	var covered uint64 // entries below it were in a signed or integrated tree
	if ir, ok := r.(integratedReader); ok {
		if covered, err = ir.Integrated(ctx); err != nil {
			return nil, err
		}
	}
	type cp struct {
		size uint64
		root []byte
		h    suite.Hash // of its tree, as its alg line names it
		kept bool
		bad  string // why it is invalid, reported when the walk reaches it
	}
	// A checkpoint naming other algorithms means the verifier was given
	// the wrong suite (or the log is not this region's): say so at once.
	// A log that changed its hash (a suite migration) has checkpoints of
	// each; every one is checked against the tree of its own hash.
	trees := map[string]*tlog.Frontier{}
	hashes := []suite.Hash{hash}
	tree := func(h suite.Hash) *tlog.Frontier {
		f, ok := trees[h.ID()]
		if !ok {
			f, _ = tlog.NewFrontier(0, nil)
			trees[h.ID()] = f
			if !slices.ContainsFunc(hashes, func(x suite.Hash) bool { return x.ID() == h.ID() }) {
				hashes = append(hashes, h)
			}
		}
		return f
	}
	tree(hash)
	for _, rc := range raw {
		s, err := checkpoint.Parse(rc.Text)
		if err != nil {
			continue
		}
		h, ok := o.Keys.AlgHash(s.Alg)
		if !ok {
			return nil, &VerifyError{Entry: -1, Checkpoint: int64(rc.Size), Msg: fmt.Sprintf("signed with %s, expected %s", s.Alg, strings.Join(o.Keys.Algs(), " or "))}
		}
		tree(h)
	}
	cps := make([]cp, 0, len(raw)+len(o.Kept))
	var prevTime time.Time
	for i, rc := range raw {
		c := cp{size: rc.Size, h: hash}
		v, k, err := o.Keys.Verify(rc.Text)
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
			c.h, _ = o.Keys.AlgHash(v.Alg) // Verify checked it
			prevTime = v.Time
			if rep.Origin == "" {
				rep.Origin = v.Origin
			}
			for j, w := range o.Witnesses {
				t, err := w.Verify(rc.Text)
				switch {
				case errors.Is(err, checkpoint.ErrNotCosigned):
				case err != nil:
					c.bad = err.Error()
				default:
					rep.Witnessed[j] = Witnessed{Name: w.Name(), Size: v.Size, Time: t}
				}
			}
			ku := &rep.Keys[k]
			if ku.Checkpoints == 0 {
				ku.First = v.Size
			}
			ku.Checkpoints++
			ku.Last = v.Size
		}
		cps = append(cps, c)
	}
	for _, b := range o.Kept {
		v, _, err := o.Keys.Verify(b)
		if err != nil {
			return nil, &VerifyError{Entry: -1, Checkpoint: -1, Msg: fmt.Sprintf("the kept checkpoint does not verify: %v", err)}
		}
		if rep.Origin != "" && v.Origin != rep.Origin {
			return nil, &VerifyError{Entry: -1, Checkpoint: int64(v.Size), Msg: fmt.Sprintf("the kept checkpoint is of log %q, not %q", v.Origin, rep.Origin)}
		}
		h, _ := o.Keys.AlgHash(v.Alg) // Verify checked it
		tree(h)
		cps = append(cps, cp{size: v.Size, root: v.Root, h: h, kept: true})
	}
	// In size order (a stored one out of order was marked bad above), each
	// kept one after the stored ones of its size.
	slices.SortStableFunc(cps, func(a, b cp) int {
		if c := cmp.Compare(a.size, b.size); c != 0 {
			return c
		}
		return cmp.Compare(btoi(a.kept), btoi(b.kept))
	})
	// The reader's leaf hashes are of the log's tree now, which may be
	// of another hash than the verifier's (a log that changed its hash).
	leafH := hash
	if lr, ok := r.(leafHasher); ok {
		id, err := lr.leafHash(ctx)
		if err != nil {
			return nil, err
		}
		if h, err := suite.HashByID(id); err == nil {
			leafH = h
			tree(h)
		}
	}
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
			if !bytes.Equal(c.root, trees[c.h.ID()].Root(c.h)) {
				what := "signed root differs from the entries"
				if c.kept {
					what = "the kept checkpoint's root differs from the log's at its size (history rewritten or forked)"
				}
				return &VerifyError{Entry: -1, Checkpoint: int64(c.size), Msg: fmt.Sprintf(
					"%s: an entry in %d..%d was altered, added or removed (first unverified entry %d)", what, prevSize, c.size-1, prevSize)}
			}
			prevSize = c.size
			if c.kept {
				rep.Kept = append(rep.Kept, c.size)
				continue
			}
			rep.Checkpoints++
			rep.Signed = c.size
		}
		return nil
	}
	if err := checkAt(0); err != nil {
		return nil, err
	}
	for _, c := range cps {
		covered = max(covered, c.size)
	}
	intros := map[string]int64{} // fingerprint (hex) → index of the entry introducing it
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
		for _, h := range hashes {
			leaf := tlog.LeafHash(h, re.Data)
			if re.Leaf != nil && h.ID() == leafH.ID() && !bytes.Equal(leaf, re.Leaf) {
				return &VerifyError{Entry: int64(i), Checkpoint: -1, Msg: "altered: its bytes do not match its leaf hash in the tree"}
			}
			trees[h.ID()].Append(h, leaf, nil)
		}
		rep.Actions[e.Action]++
		if e.Action == entry.Key {
			if _, fp, ok := strings.Cut(e.Rule, ":key:"); ok && strings.HasPrefix(e.Rule, "rotate:audit:") {
				intros[fp] = int64(i)
			}
		}
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
		if c.kept {
			return nil, &VerifyError{Entry: int64(count), Checkpoint: int64(c.size), Msg: fmt.Sprintf(
				"truncated: the kept checkpoint covers %d entries but the log has %d (entries %d..%d are gone)", c.size, count, count, c.size-1)}
		}
		return nil, &VerifyError{Entry: int64(count), Checkpoint: -1, Msg: fmt.Sprintf(
			"missing: the log ends at %d entries but a checkpoint covers %d (entries %d..%d were removed)", count, c.size, count, c.size-1)}
	}
	if progress != nil {
		progress(int(count), total)
	}
	for i, w := range rep.Witnessed {
		if w.Size == 0 {
			return nil, &VerifyError{Entry: -1, Checkpoint: -1, Msg: fmt.Sprintf("no checkpoint is cosigned by witness %s: the log's checkpoints were not published to it, or not accepted", o.Witnesses[i].Name())}
		}
	}
	rep.Entries = count
	rep.Root = trees[hash.ID()].Root(hash)
	for i := range rep.Keys {
		copy(rep.Keys[i].KeyHash[:], o.Keys.Fingerprint(rep.Origin, i))
		// A key introduced before the log changed its hash is named by
		// its fingerprint under the hash of that time.
		for _, h := range hashes {
			if at, ok := intros[hex.EncodeToString(o.Keys.FingerprintWith(rep.Origin, i, h))]; ok {
				rep.Keys[i].Introduced = at
				break
			}
		}
	}
	return rep, nil
}
