package pebble

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/store"
)

// Absent keys in the last level are answered by its bloom filters, for the
// checks of Insert and Claim and for GetMany: Pebble skips L6's filters
// unless an iterator asks, and a small store lives in L6 alone, so without
// them every absent key read an index and a data block.
func TestLastLevelFilters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), Options{})
	var b store.Batch
	for i := range 2000 {
		b.Put(fmt.Appendf(nil, "present/%05d", i), []byte("v"))
	}
	if err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Compact(ctx, []byte{prefixData}, []byte{prefixData + 1}, false); err != nil {
		t.Fatal(err)
	}
	if n := s.db.Metrics().Levels[6].TablesCount; n == 0 {
		t.Fatalf("no table in L6 after a manual compaction: %s", s.db.Metrics())
	}
	for _, tc := range []struct {
		name string
		read func(keys [][]byte) error
	}{
		{"insert", func(keys [][]byte) error {
			var b store.Batch
			for _, k := range keys {
				b.Insert(k, []byte("v"))
			}
			return s.Apply(ctx, &b)
		}},
		{"claim", func(keys [][]byte) error {
			var b store.Batch
			for _, k := range keys {
				b.Claim(k, []byte("v"))
			}
			return s.Apply(ctx, &b)
		}},
		{"get-many", func(keys [][]byte) error {
			_, err := s.GetMany(ctx, keys)
			return err
		}},
		{"get", func(keys [][]byte) error {
			for _, k := range keys {
				if _, err := s.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("get of an absent key: %v", err)
				}
			}
			return nil
		}},
	} {
		keys := make([][]byte, 100)
		for i := range keys {
			keys[i] = fmt.Appendf(nil, "present/%05d-%s-absent", i*20, tc.name)
		}
		before := s.db.Metrics().Filter.Hits
		if err := tc.read(keys); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// A few false positives may read a block; most must not.
		if hits := s.db.Metrics().Filter.Hits - before; hits < 90 {
			t.Errorf("%s of 100 absent keys: %d answered by a bloom filter, want at least 90", tc.name, hits)
		}
	}
}
