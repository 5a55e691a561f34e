package audit

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/suite"
)

// TestRehash moves a log's tree from SHA-256 to SM3 while a second
// process of the region has it open: checkpoints before the switch name
// SHA-256, those after SM3, the log verifies across the switch (each
// checkpoint against the tree of its own hash), the second process follows
// the switch at its next integration, a reopened log keeps the new hash,
// and an entry altered before the switch is caught.
func TestRehash(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	other := e.open(t)            // another node of the region
	const before, after = 300, 60 // more than a tile of leaves before
	for i := range before {
		if err := l.AppendNow(ctx, sampleEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	old, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The other node catches up with the tree (same size), so that only
	// the hash marker tells it of the switch.
	if _, err := other.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	oldRoot, err := l.Root(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	size, root0, err := l.Rehash(ctx, suite.SM3())
	if err != nil || size != before || !bytes.Equal(root0, oldRoot) {
		t.Fatalf("Rehash = %d, %x, %v; want %d, %x", size, root0, err, before, oldRoot)
	}
	if l.Hash().ID() != "SM3" {
		t.Fatalf("Hash after Rehash = %s", l.Hash().ID())
	}
	if again, _, err := l.Rehash(ctx, suite.SM3()); err != nil || again != before {
		t.Fatalf("second Rehash = %d, %v", again, err)
	}
	for i := before; i < before+after; i++ {
		w := l
		if i%2 == 1 {
			w = other
		}
		if err := w.AppendNow(ctx, sampleEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := other.Checkpoint(ctx)
	if err != nil {
		t.Fatalf("checkpoint on the other node after the switch: %v", err)
	}
	if other.Hash().ID() != "SM3" {
		t.Fatalf("the other node still hashes with %s", other.Hash().ID())
	}
	if !strings.Contains(string(old), "alg ECDSA-P256/SHA-256\n") || !strings.Contains(string(cp), "alg ECDSA-P256/SM3\n") {
		t.Fatalf("checkpoints name %q and %q", old, cp)
	}
	verify := func() (*Report, error) {
		ks, err := checkpoint.NewKeySet(suite.ECDSAP256(), suite.SM3(), e.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		return Verify(ctx, StoreReader(e.st, suite.SM3()), VerifyOptions{Keys: ks, Kept: [][]byte{old}})
	}
	rep, err := verify()
	if err != nil {
		t.Fatalf("verify across the switch: %v", err)
	}
	// Two nodes lease blocks of indexes: the unused rest of a block is
	// voided, so the log holds more entries than were appended.
	root, err := other.Root(ctx, rep.Signed)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries < before+after || rep.Checkpoints < 2 || !bytes.Equal(rep.Root, root) || rep.Signed != rep.Entries || len(rep.Kept) != 1 {
		t.Fatalf("report %+v, root %x", rep, root)
	}
	// The export carries the new hash and verifies offline the same way.
	var exp bytes.Buffer
	if err := l.Export(ctx, &exp); err != nil {
		t.Fatal(err)
	}
	ks, _ := checkpoint.NewKeySet(suite.ECDSAP256(), suite.SM3(), e.priv.Public())
	if _, err := Verify(ctx, NewExportReader(&exp), VerifyOptions{Keys: ks}); err != nil {
		t.Fatalf("verify the export: %v", err)
	}
	// A reopened log keeps hashing with SM3, and its proofs are of it.
	l3 := e.open(t)
	if l3.Hash().ID() != "SM3" {
		t.Fatalf("reopened log hashes with %s", l3.Hash().ID())
	}
	if err := l3.AppendNow(ctx, sampleEntry(before+after)); err != nil {
		t.Fatal(err)
	}
	if _, err := l3.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(); err != nil {
		t.Fatalf("verify after a reopen: %v", err)
	}
	// An entry altered before the switch breaks the old checkpoint.
	raw := rawGet(e.st, entryKey(7))
	e.st.Set(entryKey(7), bytes.Replace(raw, []byte("req-7"), []byte("req-8"), 1))
	if _, err := verify(); err == nil {
		t.Fatal("an entry altered before the switch verified")
	}
}

// TestRehashCatchesUp: entries appended while the new tree is built (here:
// not yet integrated when Rehash starts) are added to it before the
// switch, and the log verifies.
func TestRehashCatchesUp(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	for i := range 300 {
		if err := l.AppendNow(ctx, sampleEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 300; i < 320; i++ {
		if err := l.AppendNow(ctx, sampleEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	size, _, err := l.Rehash(ctx, suite.SM3())
	if err != nil || size != 320 {
		t.Fatalf("Rehash = %d, %v; want 320", size, err)
	}
	// Another process opening the log now finds the whole tree of 320
	// under the new hash.
	l2 := e.open(t)
	if r1, err := l.Root(ctx, 320); err != nil {
		t.Fatal(err)
	} else if r2, err := l2.Root(ctx, 320); err != nil || !bytes.Equal(r1, r2) {
		t.Fatalf("a reopened log's root at 320: %x, %v; want %x", r2, err, r1)
	}
	if err := l.AppendNow(ctx, sampleEntry(320)); err != nil {
		t.Fatal(err)
	}
	if cp, err := l.Checkpoint(ctx); err != nil || !strings.Contains(string(cp), "\n321\n") {
		t.Fatalf("checkpoint after the switch: %q, %v", cp, err)
	}
	ks, err := checkpoint.NewKeySet(suite.ECDSAP256(), suite.SM3(), e.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, StoreReader(e.st, suite.SM3()), VerifyOptions{Keys: ks})
	if err != nil || rep.Entries != 321 || rep.Signed != 321 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}
