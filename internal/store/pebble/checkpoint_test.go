package pebble

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/internal/store"
)

// TestCheckpointOnline: a checkpoint taken while writers go on holds every
// batch acknowledged before it was called, whole, plus the mark, which the
// live store never sees; the copy opens as a store of its own.
func TestCheckpointOnline(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), Options{})
	put := func(key string) error {
		var b store.Batch
		b.Put([]byte(key+"/a"), []byte("v"))
		b.Put([]byte(key+"/b"), []byte("v"))
		b.Add([]byte("count"), 1)
		return s.Apply(ctx, &b)
	}
	for i := range 200 {
		if err := put(fmt.Sprintf("before-%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if err := put(fmt.Sprintf("during-%d-%06d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var mark store.Batch
	mark.Put([]byte("mark"), []byte("pending"))
	dir := filepath.Join(t.TempDir(), "copy")
	err := s.Checkpoint(ctx, dir, &mark)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, []byte("mark")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the live store sees the copy's mark: %v", err)
	}
	cp := openTest(t, dir, Options{})
	if v, err := cp.Get(ctx, []byte("mark")); err != nil || string(v) != "pending" {
		t.Fatalf("the copy's mark: %q, %v", v, err)
	}
	kvs, err := cp.Scan(ctx, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	before, pairs := 0, map[string]int{}
	for _, kv := range kvs {
		k := string(kv.Key)
		if k == "mark" {
			continue
		}
		pairs[k[:len(k)-2]]++
		if k[:6] == "before" {
			before++
		}
	}
	if before != 400 {
		t.Errorf("the copy holds %d of the 400 keys written before the checkpoint", before)
	}
	for k, n := range pairs {
		if n != 2 {
			t.Errorf("batch %s is in the copy in part (%d of 2 keys)", k, n)
		}
	}
	n, err := cp.Counter(ctx, []byte("count"))
	if err != nil || n != int64(len(pairs)) {
		t.Errorf("the copy's counter is %d (%v), its batches %d", n, err, len(pairs))
	}
}

func TestCheckpointRefuses(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), Options{})
	t.Run("fail/exists", func(t *testing.T) {
		if err := s.Checkpoint(ctx, t.TempDir(), nil); err == nil {
			t.Fatal("a checkpoint into an existing directory was taken")
		}
	})
	t.Run("fail/closed", func(t *testing.T) {
		s2 := openTest(t, t.TempDir(), Options{})
		_ = s2.Close()
		dir := filepath.Join(t.TempDir(), "copy")
		if err := s2.Checkpoint(ctx, dir, nil); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("checkpoint of a closed store: %v", err)
		}
	})
	t.Run("ok/no-mark", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "copy")
		if err := s.Checkpoint(ctx, dir, nil); err != nil {
			t.Fatal(err)
		}
		_ = openTest(t, dir, Options{})
	})
}
