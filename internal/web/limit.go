package web

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/errcode"
)

// FailureLimiter slows down addresses that keep failing authentication: each
// address has a bucket of Burst failures that refills one every Refill; an
// address with an empty bucket gets 429 rate_limited until it refills.
// Requests from other addresses, and successful ones, are not affected. It
// keeps only addresses and counts, in memory.
type FailureLimiter struct {
	Burst  int
	Refill time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

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
	return &FailureLimiter{Burst: burst, Refill: refill, now: now, buckets: map[string]*bucket{}}
}

const maxTracked = 100000

func (l *FailureLimiter) take(addr string, failed bool) (blocked bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[addr]
	if !ok {
		if !failed {
			return false, 0
		}
		if len(l.buckets) >= maxTracked {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.Burst), last: now}
		l.buckets[addr] = b
	}
	b.tokens = min(float64(l.Burst), b.tokens+now.Sub(b.last).Seconds()/l.Refill.Seconds())
	b.last = now
	if failed {
		b.tokens--
	}
	if b.tokens < 0 {
		return true, time.Duration((1 - b.tokens) * float64(l.Refill))
	}
	return false, 0
}

// prune drops the buckets that have refilled.
func (l *FailureLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()/l.Refill.Seconds() >= float64(l.Burst) {
			delete(l.buckets, k)
		}
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Wrap answers 429 to addresses over their failure budget and counts the
// 401 answers of h against the caller's address.
func (l *FailureLimiter) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr(r)
		if blocked, retry := l.take(addr, false); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
			WriteError(w, r, nil, errcode.New(errcode.RateLimited, "too many failed authentications from this address"))
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized {
			l.take(addr, true)
		}
	})
}
