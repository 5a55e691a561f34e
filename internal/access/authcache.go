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
	mu sync.Mutex
	m  map[string]authEntry
}

type authEntry struct {
	acc *Account
	at  time.Time
}

// get returns the account remembered for mac if it was found less than
// AuthCacheTTL before now.
func (c *authCache) get(mac []byte, now time.Time) (*Account, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[string(mac)]
	if !ok {
		return nil, false
	}
	if age := now.Sub(e.at); age < 0 || age >= AuthCacheTTL {
		delete(c.m, string(mac))
		return nil, false
	}
	return e.acc, true
}

func (c *authCache) put(mac []byte, a *Account, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
}
