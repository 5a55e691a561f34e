package app

import (
	"sync"

	"github.com/domicile/domicile/internal/store/pebble"
)

// Default cache sizes of a process (see Caches). With them, `domicile dev`
// (four regions) keeps at most 64 MiB of blocks and 4 x 16,384 subject keys
// (about 7 MiB a region at ~0.4 KiB a key) however much data it holds.
const (
	DefaultBlockCache = 64 << 20
	DefaultKeyCache   = 16384
)

// Caches are the memory a process keeps for speed, sized once for the
// whole process rather than per region:
//   - one Pebble block cache shared by every embedded store it opens (a
//     region on PostgreSQL uses the database's);
//   - per region, an LRU of unwrapped subject keys (keyring.Options
//     CacheSize), about 0.4 KiB each: the secret, not its cipher.
//
// The rest of a region's memory is Pebble's memtables (4 MiB, up to two
// while one flushes), the audit log's pending batch and the guard's
// per-principal windows, all bounded by traffic rather than data.
type Caches struct {
	blocks *pebble.Cache
	keys   int
	close  sync.Once
}

// NewCaches makes a process's caches: blockBytes of Pebble block cache
// shared by its embedded stores and keys unwrapped subject keys per region.
// Zero or less means the defaults. Close it after the regions.
func NewCaches(blockBytes int64, keys int) *Caches {
	if blockBytes <= 0 {
		blockBytes = DefaultBlockCache
	}
	if keys <= 0 {
		keys = DefaultKeyCache
	}
	return &Caches{blocks: pebble.NewCache(blockBytes), keys: keys}
}

// Close releases the process's reference to the block cache; later calls
// do nothing.
func (c *Caches) Close() {
	if c != nil {
		c.close.Do(c.blocks.Close)
	}
}

// blockCache is the shared block cache, nil for a nil Caches (the store
// then makes its own, as offline tools want).
func (c *Caches) blockCache() *pebble.Cache {
	if c == nil {
		return nil
	}
	return c.blocks
}

// keyCache is the number of subject keys a region keeps unwrapped.
func (c *Caches) keyCache() int {
	if c == nil {
		return DefaultKeyCache
	}
	return c.keys
}
