package audit

import (
	"context"
	"testing"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/suite"
)

// TestReservedGapIsNotDeletion: a node that dies between reserving an
// index and writing it leaves a gap past the integrated tree and every
// checkpoint. Verify reports it as a reservation (with the entries that
// wait behind it), not as a deletion; a gap inside the integrated tree is
// still a deletion.
func TestReservedGapIsNotDeletion(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	l := e.open(t)
	writeMixed(t, l, e.st, 250)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	later := func(i uint64) []byte {
		en := sampleEntry(int(i))
		en.Index, en.Time, en.Region = i, e.clock.now(), "cn-north"
		return entry.AppendMarshal(nil, &en)
	}

	c := e.st.Clone()
	c.Set(entryKey(252), later(252)) // 250 and 251 reserved, never written
	c.Set(entryKey(253), later(253))
	rep, err := e.verify(c)
	if err != nil {
		t.Fatalf("a reserved index past the tree failed verification: %v", err)
	}
	if rep.Entries != 250 || rep.Reserved != 250 || rep.Waiting != 2 || rep.Signed != 250 {
		t.Fatalf("report: %d entries, reserved %d, waiting %d, signed %d; want 250, 250, 2, 250", rep.Entries, rep.Reserved, rep.Waiting, rep.Signed)
	}

	rep, err = e.verify(e.st)
	if err != nil || rep.Reserved != -1 || rep.Waiting != 0 {
		t.Fatalf("an intact log: %+v, %v", rep, err)
	}

	c = e.st.Clone()
	c.Delete(entryKey(249))
	c.Set(entryKey(252), later(252))
	_, err = e.verify(c)
	wantBad(t, err, 249, -1, "missing")
}
