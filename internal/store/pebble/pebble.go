// Package pebble is the embedded store.Store backend, built on CockroachDB's
// Pebble LSM engine.
//
// On disk every user key is stored under a one-byte prefix and every counter
// under another, so Get and Scan never see counters and a counter never
// collides with a key of the same bytes. Counters are sums kept by a Pebble
// Merger whose name is persisted in the database; renaming it makes existing
// directories unreadable.
//
// Every Apply is synced to the write-ahead log before it returns; Pebble's
// commit pipeline lets concurrent Applies share one sync. Inserts are made
// atomic by per-key locks rather than one store-wide lock.
package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/domicile/domicile/internal/store"
)

// Key spaces: the first byte of every Pebble key.
const (
	prefixData    byte = 'd' // user keys written by Put, Insert, Delete
	prefixCounter byte = 'c' // counters written by Add
)

// defaultCacheSize is the block cache size when Options.CacheSize is zero.
const defaultCacheSize = 64 << 20

// ErrInUse is returned (wrapped) by Open when another process, or another
// Store in this process, holds the directory.
var ErrInUse = errors.New("pebble: directory is in use by another domicile process")

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Cache, if set, is a block cache shared with other stores of the
	// process (see NewCache); CacheSize is then ignored.
	Cache *Cache
	// CacheSize is the size of the store's own block cache in bytes when
	// Cache is nil; zero means 64 MiB.
	CacheSize int64
	// SyncInterval, if positive, is the least time between two syncs of
	// the write-ahead log (Pebble's WALMinSyncInterval). A commit still
	// returns only once its own sync is done; commits that arrive within
	// the interval after a sync wait and share the next one. That saves
	// CPU when many clients commit, and costs a writer that commits back
	// to back with no other work: Go's timers fire up to a millisecond
	// late in an idle process, so it may wait that long for each commit
	// (a lone goroutine's raw puts fell from 3,300-4,800/s to 700/s, 8
	// goroutines' from 16,000 to 5,300/s). Zero: none.
	SyncInterval time.Duration
	// Logger receives Pebble's log messages with every key, value and
	// other argument Pebble does not mark safe redacted. Nil discards
	// them.
	Logger func(format string, args ...any)
}

// Cache is a block cache that several stores of one process share, so that
// the process's cache memory is one bound however many regions it serves.
type Cache struct{ c *pebbledb.Cache }

// NewCache makes a block cache of size bytes (zero or less: 64 MiB). Each
// store opened with it keeps a reference of its own, so Close may come
// before or after theirs.
func NewCache(size int64) *Cache {
	if size <= 0 {
		size = defaultCacheSize
	}
	return &Cache{c: pebbledb.NewCache(size)}
}

// Close drops the caller's reference; the memory is freed once every
// store using the cache is closed too.
func (c *Cache) Close() { c.c.Unref() }

// Store is a store.Store in one local directory. It is safe for concurrent
// use.
type Store struct {
	db    *pebbledb.DB
	lock  *pebbledb.Lock
	locks *keyLocks // per-key locks of conditional writes

	// mu is held shared by every operation and exclusively by Close, so
	// Close waits for operations in flight and later ones see closed.
	mu     sync.RWMutex
	closed bool
}

var _ store.Store = (*Store)(nil)

// Open opens the store in dir, creating the directory and the database if
// they do not exist. It fails with an error wrapping ErrInUse when the
// directory is held by another process.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pebble: open: %w", err)
	}
	lock, err := pebbledb.LockDirectory(dir, vfs.Default)
	if err != nil {
		// Failing to create the lock file is a path error; failing to
		// take the lock is not.
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
		}
		return nil, fmt.Errorf("%w: %s (%v)", ErrInUse, dir, err)
	}
	var cache *pebbledb.Cache
	if opts.Cache != nil {
		cache = opts.Cache.c
	} else {
		cacheSize := opts.CacheSize
		if cacheSize <= 0 {
			cacheSize = defaultCacheSize
		}
		cache = pebbledb.NewCache(cacheSize)
		defer cache.Unref() // the DB holds its own reference
	}
	po := &pebbledb.Options{
		Cache:  cache,
		Lock:   lock,
		Logger: logger{logf: opts.Logger},
		Merger: newCounterMerger(),
	}
	// Bloom filters on every level (later levels inherit L0's): most
	// point reads are the absence checks of Insert (records, audit
	// entries, tokens), which a filter answers without reading a block.
	// Pebble consults L6's filters only for iterators that ask
	// (UseL6Filters), which every point read of the Store does (pointIter).
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	// Most keys arrive in random order (MACs of tokens, random record
	// and token ids), so every L0 table spans the whole key space and
	// each L0 compaction rewrites all of the level below it. Waiting for
	// 8 tables rather than Pebble's 4 halves how often that happens: 73
	// MB of tokens wrote 122 MB into L6 instead of 226-282 MB, and tokens
	// and creates after a burst cost 10-25% less CPU. A point read checks
	// up to 8 more bloom filters, well under a microsecond. Writes stop
	// at 24 sublevels, three times the trigger, as Pebble's defaults.
	po.L0CompactionThreshold = 8
	po.L0StopWritesThreshold = 24
	if iv := opts.SyncInterval; iv > 0 {
		po.WALMinSyncInterval = func() time.Duration { return iv }
	}
	db, err := pebbledb.Open(dir, po)
	if err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	return &Store{db: db, lock: lock, locks: newKeyLocks()}, nil
}

// acquire checks ctx and holds s.mu shared if the store is open; the caller
// releases s.mu when acquire returns nil.
func (s *Store) acquire(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: %s: %w", op, err)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("pebble: %s: %w", op, store.ErrClosed)
	}
	return nil
}

// Get implements store.Store. It reads through an iterator that consults
// every level's bloom filters, as GetMany does (see pointIter): a Get of an
// absent key costs 2.5 times less than Pebble's own DB.Get, which skips the
// last level's, and a Get of a present key the same (BenchmarkGet).
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := s.acquire(ctx, "get"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	it, err := s.pointIter()
	if err != nil {
		return nil, fmt.Errorf("pebble: get: %w", err)
	}
	v, ok, err := seek(it, prefixed(prefixData, key), true)
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("pebble: get: %w", err)
	case !ok:
		return nil, fmt.Errorf("pebble: get: %w", store.ErrNotFound)
	}
	return v, nil
}

// pointIter returns an iterator for point reads of data keys, by
// SeekPrefixGE (see seek). Most keys read by point are absent (token
// anchors, tombstones, the subject key of a new subject, the keys an
// Insert or Claim checks): it consults the bloom filters of every level,
// the last one's included, which Pebble skips by default. A store small
// enough to live in that level would otherwise read an index and a data
// block for every absent key (a quarter of a tokenize's CPU).
func (s *Store) pointIter() (*pebbledb.Iterator, error) {
	return s.db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{prefixData}, UpperBound: []byte{prefixData + 1}, UseL6Filters: true})
}

// seek reads the prefixed key pk with it: whether it exists and, with
// value, a copy of its value (empty, not nil, for an empty value).
func seek(it *pebbledb.Iterator, pk []byte, value bool) ([]byte, bool, error) {
	if !it.SeekPrefixGE(pk) {
		// Not found, or a read failed: the next seek would clear the
		// error, so look now.
		return nil, false, it.Error()
	}
	if !bytes.Equal(it.Key(), pk) {
		return nil, false, nil
	}
	if !value {
		return nil, true, nil
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, false, err
	}
	return append([]byte{}, v...), true, nil
}

// ctxCheckEvery is how many pairs Scan reads between context checks.
const ctxCheckEvery = 256

// Scan implements store.Store.
func (s *Store) Scan(ctx context.Context, start, end []byte, limit int) (kvs []store.KV, err error) {
	if err := s.acquire(ctx, "scan"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil, nil
	}
	upper := []byte{prefixData + 1}
	if end != nil {
		upper = prefixed(prefixData, end)
	}
	iter, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{
		LowerBound: prefixed(prefixData, start),
		UpperBound: upper,
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: scan: %w", err)
	}
	defer func() {
		if cerr := iter.Close(); cerr != nil && err == nil {
			kvs, err = nil, fmt.Errorf("pebble: scan: %w", cerr)
		}
	}()
	for ok := iter.First(); ok && (limit <= 0 || len(kvs) < limit); ok = iter.Next() {
		if len(kvs)%ctxCheckEvery == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("pebble: scan: %w", err)
			}
		}
		v, err := iter.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("pebble: scan: %w", err)
		}
		k := iter.Key()[1:]
		// One allocation per pair; the capacity limit keeps an append
		// to the key from overwriting the value.
		buf := make([]byte, 0, len(k)+len(v))
		buf = append(append(buf, k...), v...)
		kvs = append(kvs, store.KV{Key: buf[:len(k):len(k)], Value: buf[len(k):]})
	}
	if err := iter.Error(); err != nil {
		return nil, fmt.Errorf("pebble: scan: %w", err)
	}
	return kvs, nil
}

// Counter implements store.Store.
func (s *Store) Counter(ctx context.Context, key []byte) (int64, error) {
	if err := s.acquire(ctx, "counter"); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(prefixed(prefixCounter, key))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pebble: counter: %w", err)
	}
	n, derr := decodeCounter(v)
	if err := errors.Join(derr, closer.Close()); err != nil {
		return 0, fmt.Errorf("pebble: counter: %w", err)
	}
	return n, nil
}

// Close implements store.Store. It waits for operations in flight; closing
// a closed Store does nothing and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := errors.Join(s.db.Close(), s.lock.Close()); err != nil {
		return fmt.Errorf("pebble: close: %w", err)
	}
	return nil
}

// prefixed returns prefix followed by key in a new slice.
func prefixed(prefix byte, key []byte) []byte {
	out := make([]byte, 1+len(key))
	out[0] = prefix
	copy(out[1:], key)
	return out
}

// GetMany implements store.MultiGetter with one iterator for every key:
// each key is a prefix seek (which the bloom filters answer for most
// absent keys), without setting up a new read of every level per key.
func (s *Store) GetMany(ctx context.Context, keys [][]byte) ([][]byte, error) {
	if err := s.acquire(ctx, "get many"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	it, err := s.pointIter()
	if err != nil {
		return nil, fmt.Errorf("pebble: get many: %w", err)
	}
	// Seek in ascending key order, so that the iterator stays in a table
	// from one key to the next rather than open another at each seek.
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	var pk []byte
	for _, i := range order {
		pk = append(append(pk[:0], prefixData), keys[i]...)
		v, _, err := seek(it, pk, true)
		if err != nil {
			_ = it.Close()
			return nil, fmt.Errorf("pebble: get many: %w", err)
		}
		out[i] = v
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("pebble: get many: %w", err)
	}
	return out, nil
}
