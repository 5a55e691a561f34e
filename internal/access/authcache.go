package access

import (
	"sync"
	"time"
)

// AuthCacheTTL bounds how long a successful authentication is remembered.
// Changes made through this Directory (disable, lock, rotate) take effect
// at once; a change made by another node sharing the store takes effect
// here within AuthCacheTTL.
const AuthCacheTTL = time.Second

// authCacheMax bounds the number of remembered tokens; when full, the
// cache starts over.
const authCacheMax = 4096

// authCache remembers, by token MAC, the active account that a recent
// Authenticate found, so that a busy client costs two store reads and a
// JSON decode once a second rather than on every request. It holds MACs,
// never tokens.
type authCache struct {
	mu    sync.Mutex
	m     map[string]authEntry
	epoch uint64 // counts resets
}

type authEntry struct {
	acc *Account
	at  time.Time
}

// get returns the account remembered for mac if it was found less than
// AuthCacheTTL before now. On a miss it returns the cache's epoch, which
// the caller passes to put with what it then reads from the store.
func (c *authCache) get(mac []byte, now time.Time) (a *Account, ok bool, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[string(mac)]
	if !ok {
		return nil, false, c.epoch
	}
	if age := now.Sub(e.at); age < 0 || age >= AuthCacheTTL {
		delete(c.m, string(mac))
		return nil, false, c.epoch
	}
	return e.acc, true, c.epoch
}

// put remembers a for mac, unless the cache was reset since get returned
// epoch: the account was then read while a change was being written, and
// may be the state from before it.
func (c *authCache) put(mac []byte, a *Account, now time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if c.m == nil || len(c.m) >= authCacheMax {
		c.m = make(map[string]authEntry)
	}
	c.m[string(mac)] = authEntry{acc: a, at: now}
}

// reset forgets everything: after any change to a principal.
func (c *authCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
	c.epoch++
}
