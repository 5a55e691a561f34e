package gateway

import (
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/web"
)

// drainWatch is the gateway's part in stopping a drain spread over regions.
// Each region's guard keeps its own state and budget; the gateway, which
// sees every region's answers, remembers (in memory only, never on disk)
// what each region last reported of a principal's activity (counts of
// non-personal signals by rule window) and whether one locked it, and
// sends every region, with each request, the sum of what the others
// reported. A lock in one region then holds in every region from the
// principal's next request on, and the budgets count what a principal
// reads across regions. It knows principals only by id and their tokens
// only by a hash. Several gateway nodes each see their own share.
type drainWatch struct {
	mu      sync.Mutex
	byToken map[[16]byte]string // hash of a bearer token -> principal id
	by      map[string]*activity
	now     func() time.Time
}

// activity is what the regions reported of one principal.
type activity struct {
	regions  map[string]map[string]float64 // region -> counts by "signal/window"
	lockedIn string
	token    [16]byte // hash of the latest bearer token seen
	seen     time.Time
}

// maxWatched bounds the principals remembered; the least recently seen go
// first. A day is the longest rule window.
const (
	maxWatched = 100000
	watchTTL   = 24 * time.Hour
)

func newDrainWatch(now func() time.Time) *drainWatch {
	if now == nil {
		now = time.Now
	}
	return &drainWatch{byToken: map[[16]byte]string{}, by: map[string]*activity{}, now: now}
}

func tokenHash(h http.Header) ([16]byte, bool) {
	scheme, tok, ok := strings.Cut(h.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return [16]byte{}, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	var k [16]byte
	copy(k[:], sum[:])
	return k, true
}

// elsewhere returns the header value to send to region for a request with
// hdr: what the other regions reported of its principal ("" if nothing).
func (d *drainWatch) elsewhere(region string, hdr http.Header) string {
	k, ok := tokenHash(hdr)
	if !ok {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.by[d.byToken[k]]
	if a == nil || d.now().Sub(a.seen) > watchTTL {
		return ""
	}
	sum := map[string]float64{}
	for r, counts := range a.regions {
		if r == region {
			continue
		}
		for c, n := range counts {
			sum[c] += n
		}
	}
	v := web.EncodeGuardCounts(sum)
	if a.lockedIn != "" && a.lockedIn != region {
		if v != "" {
			v += ";"
		}
		v += "locked=" + a.lockedIn
	}
	return v
}

// observe records what region's answer to a request with hdr reported.
func (d *drainWatch) observe(region string, hdr http.Header, resp *http.Response) {
	rep := web.ParseGuardUsage(resp.Header.Get(web.GuardUsageHeader))
	if rep.Principal == "" {
		return
	}
	k, hasToken := tokenHash(hdr)
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if len(d.by) >= maxWatched {
		d.prune(now)
	}
	a := d.by[rep.Principal]
	if a == nil {
		a = &activity{regions: map[string]map[string]float64{}}
		d.by[rep.Principal] = a
	}
	if hasToken && a.token != k {
		// A principal's tokens are known by the latest one seen: a rotated
		// one leaves no entry behind.
		delete(d.byToken, a.token)
		d.byToken[k], a.token = rep.Principal, k
	}
	a.seen = now
	a.regions[region] = rep.Counts
	switch {
	case rep.Locked && a.lockedIn == "":
		a.lockedIn = region
	case !rep.Locked && a.lockedIn == region:
		// The region that locked it serves it again (unlocked there, or by
		// break-glass): the lock no longer holds elsewhere.
		a.lockedIn = ""
	}
}

// forget drops what is known of principal: an administrator unlocked it.
func (d *drainWatch) forget(principal string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.by, principal)
}

// prune drops the principals not seen for a day and, when that frees too
// little, a tenth of the rest, least recently seen first (by a cut-off
// time); and the tokens of the principals dropped.
func (d *drainWatch) prune(now time.Time) {
	for p, a := range d.by {
		if now.Sub(a.seen) > watchTTL {
			delete(d.by, p)
		}
	}
	if len(d.by) >= maxWatched*9/10 {
		seen := make([]time.Time, 0, len(d.by))
		for _, a := range d.by {
			seen = append(seen, a.seen)
		}
		slices.SortFunc(seen, func(x, y time.Time) int { return x.Compare(y) })
		cut := seen[len(seen)/10]
		for p, a := range d.by {
			if !a.seen.After(cut) {
				delete(d.by, p)
			}
		}
	}
	for k, p := range d.byToken {
		if d.by[p] == nil {
			delete(d.byToken, k)
		}
	}
}
