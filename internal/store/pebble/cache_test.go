package pebble

import (
	"context"
	"testing"

	"github.com/domicile/domicile/internal/store"
)

// Two stores share one block cache; the cache's owner may let go of it
// before the stores close, and each store keeps serving its own data.
func TestSharedCache(t *testing.T) {
	c := NewCache(8 << 20)
	a := openTest(t, t.TempDir(), Options{Cache: c})
	b := openTest(t, t.TempDir(), Options{Cache: c})
	c.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		s   *Store
		val string
	}{{a, "a"}, {b, "b"}} {
		var batch store.Batch
		batch.Put([]byte("k"), []byte(tc.val))
		if err := tc.s.Apply(ctx, &batch); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		s    *Store
		want string
	}{{a, "a"}, {b, "b"}} {
		got, err := tc.s.Get(ctx, []byte("k"))
		if err != nil || string(got) != tc.want {
			t.Errorf("Get = %q, %v; want %q", got, err, tc.want)
		}
	}
}
