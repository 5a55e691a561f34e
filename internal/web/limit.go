package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/errcode"
)

// FailureLimiter slows down failing authentication without ever refusing
// a valid token for what other tokens did.
//
// Tokens are 256 random bits: guessing one is hopeless, so what the limiter
// guards against is a client that keeps failing (a brute force, a service
// with a revoked token) wasting the regions' work, and what it must never
// allow is an attacker refusing service to others by failing on purpose.
// It keeps two kinds of failure budgets, each a bucket of Burst failures
// that refills one every Refill:
//
//   - per presented token: a token that keeps failing is refused (429
//     rate_limited) without being checked. A valid token never fails, so
//     this budget never refuses it; nobody else can spend it without
//     holding the token.
//   - per client address: an address that keeps failing is refused for
//     requests whose token the limiter does not know to be good: one that
//     did not authenticate through it within KnownGoodTTL. A brute force
//     from one address is so held to one guess per Refill after its Burst.
//
// A token is known good once a request with it got an answer other than
// 401, from any address; a 401 forgets it. So a valid token passes even
// from an address that is over its budget, unless the limiter has never
// seen it authenticate (a new token, or a restarted gateway) and it
// shares its address with a client failing at that moment: its 429 then
// carries Retry-After, and the token passes once the address's budget
// refills.
//
// Tokens are tracked by fingerprint, an HMAC-SHA256 under a key random to
// the process, never in clear. The client address is the connection's
// (RemoteAddr); X-Forwarded-For is believed only when the connection
// comes from one of TrustedProxies. Everything is in memory.
type FailureLimiter struct {
	Burst  int
	Refill time.Duration
	// TrustedProxies are the networks whose X-Forwarded-For is believed;
	// empty believes none (the default).
	TrustedProxies []netip.Prefix
	now            func() time.Time
	key            [32]byte
	macs           sync.Pool // of hash.Hash: HMAC-SHA256 under key, reset

	mu      sync.Mutex
	buckets map[string]*bucket   // "a" + address, "t" + fingerprint
	good    map[string]time.Time // fingerprint -> last success
}

// KnownGoodTTL is how long a token that authenticated stays exempt from
// its address's failure budget.
const KnownGoodTTL = 24 * time.Hour

type bucket struct {
	tokens float64
	last   time.Time
}

// NewFailureLimiter returns a limiter of burst failures refilled one per
// refill.
func NewFailureLimiter(burst int, refill time.Duration, now func() time.Time) *FailureLimiter {
	if now == nil {
		now = time.Now
	}
	l := &FailureLimiter{Burst: burst, Refill: refill, now: now, buckets: map[string]*bucket{}, good: map[string]time.Time{}}
	rand.Read(l.key[:])
	l.macs.New = func() any { return hmac.New(sha256.New, l.key[:]) }
	return l
}

const maxTracked = 100000

// fingerprint is the keyed hash of the request's bearer credential, or ""
// when it presents none.
func (l *FailureLimiter) fingerprint(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		return ""
	}
	// Every request is fingerprinted: reuse the HMAC states (a new one
	// is two hash states and their buffers).
	m := l.macs.Get().(hash.Hash)
	m.Write([]byte(strings.TrimSpace(h)))
	var sum [sha256.Size]byte
	fp := string(m.Sum(sum[:0])[:16])
	m.Reset()
	l.macs.Put(m)
	return fp
}

// refill brings b up to date.
func (l *FailureLimiter) refill(b *bucket, now time.Time) {
	b.tokens = min(float64(l.Burst), b.tokens+now.Sub(b.last).Seconds()/l.Refill.Seconds())
	b.last = now
}

func (l *FailureLimiter) retry(b *bucket) time.Duration {
	return time.Duration((1 - b.tokens) * float64(l.Refill))
}

// admit reports whether a request from addr presenting the credential fp
// may go on, and if not, when to retry.
func (l *FailureLimiter) admit(addr, fp string) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if fp != "" {
		if b := l.buckets["t"+fp]; b != nil {
			if l.refill(b, now); b.tokens < 1 {
				return false, l.retry(b)
			}
		}
		if at, ok := l.good[fp]; ok {
			if now.Sub(at) < KnownGoodTTL {
				return true, 0
			}
			delete(l.good, fp)
		}
	}
	if b := l.buckets["a"+addr]; b != nil {
		if l.refill(b, now); b.tokens < 1 {
			return false, l.retry(b)
		}
	}
	return true, 0
}

// done records the outcome of an admitted request.
func (l *FailureLimiter) done(addr, fp string, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !failed {
		if fp != "" {
			if len(l.good) >= maxTracked {
				l.pruneGood(now)
			}
			l.good[fp] = now
		}
		return
	}
	if fp != "" {
		delete(l.good, fp)
		l.spend("t"+fp, now)
	}
	l.spend("a"+addr, now)
}

// spend takes one failure from the bucket of key.
func (l *FailureLimiter) spend(key string, now time.Time) {
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxTracked {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.Burst), last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	b.tokens--
}

// prune drops the buckets that have refilled.
func (l *FailureLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()/l.Refill.Seconds() >= float64(l.Burst) {
			delete(l.buckets, k)
		}
	}
}

// pruneGood drops the known-good tokens that expired, and if that is not
// enough, all of them: they become known again at their next success.
func (l *FailureLimiter) pruneGood(now time.Time) {
	for k, at := range l.good {
		if now.Sub(at) >= KnownGoodTTL {
			delete(l.good, k)
		}
	}
	if len(l.good) >= maxTracked {
		clear(l.good)
	}
}

// ClientAddr returns the address of the client that made r: the host of
// r.RemoteAddr, or, when that is one of trusted (proxies whose headers are
// believed), the right-most address of X-Forwarded-For that is not itself
// a trusted proxy. With no trusted proxies, X-Forwarded-For is ignored.
// Only rate limiting and logs use it: never an access decision.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 {
		return host
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(ip.Unmap(), trusted) {
		return host
	}
	// Each proxy appends the address it received the request from; walk
	// back from the right past our own proxies.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			return host // a malformed chain: trust nothing of it
		}
		if !isTrusted(a.Unmap(), trusted) {
			return a.Unmap().String()
		}
		host = a.Unmap().String()
	}
	return host
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Wrap answers 429 to requests over their failure budget (see
// FailureLimiter) and counts the 401 answers of h against the presented
// token and the client's address.
func (l *FailureLimiter) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := ClientAddr(r, l.TrustedProxies)
		fp := l.fingerprint(r)
		if ok, retry := l.admit(addr, fp); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
			WriteError(w, r, nil, errcode.New(errcode.RateLimited, "too many failed authentications with this token or from this address"))
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		switch {
		case sw.status == http.StatusUnauthorized:
			l.done(addr, fp, true)
		case fp != "" && sw.status >= 200 && sw.status < 300 && authenticatedRoute(r.Pattern):
			l.done(addr, fp, false)
		}
	})
}

// authenticated are the patterns of the routes whose success means that a
// region authenticated the token: routes that are not public and that the
// gateway always hands to a region (by record id, by region, to any or
// every region). A tokenize or detokenize can succeed at the gateway with
// items that reach no region, and a public route succeeds with any
// header: neither proves a token good.
var authenticated = func() map[string]bool {
	m := map[string]bool{}
	for _, rt := range Routes {
		switch rt.Gateway {
		case ByRecordID, ByRegion, AnyRegion, FanOut:
			if !rt.Public {
				m[rt.Pattern()] = true
			}
		}
	}
	return m
}()

func authenticatedRoute(pattern string) bool { return authenticated[pattern] }
