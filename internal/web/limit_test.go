package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// limitClock is a clock the limiter tests move by hand.
type limitClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *limitClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *limitClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const goodToken = "dmc_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst"

// authed is an authenticated route of the table: 200 for goodToken, 401
// for anything else.
func limited(l *FailureLimiter) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/regions", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+goodToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	return l.Wrap(mux)
}

func send(h http.Handler, path, remote, token string, hdr ...string) int {
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = remote
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func bad(i int) string { return "dmc_bad" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) }

func TestFailureLimiter(t *testing.T) {
	t.Run("ok/valid token passes after bad tokens from its address", func(t *testing.T) {
		clock := &limitClock{t: time.Unix(1e9, 0)}
		h := limited(NewFailureLimiter(10, 6*time.Second, clock.now))
		if c := send(h, "/v1/regions", "10.0.0.1:1000", goodToken); c != 200 {
			t.Fatalf("first request: %d", c)
		}
		for i := range 50 {
			send(h, "/v1/regions", "10.0.0.1:1000", bad(i))
		}
		if c := send(h, "/v1/regions", "10.0.0.1:1001", bad(99)); c != http.StatusTooManyRequests {
			t.Fatalf("a new bad token after 50 failures: %d, want 429", c)
		}
		for range 20 {
			if c := send(h, "/v1/regions", "10.0.0.1:1002", goodToken); c != 200 {
				t.Fatalf("the valid token from the failing address: %d, want 200", c)
			}
		}
	})
	t.Run("ok/other addresses are not affected", func(t *testing.T) {
		h := limited(NewFailureLimiter(10, 6*time.Second, nil))
		for i := range 30 {
			send(h, "/v1/regions", "10.0.0.1:1000", bad(i))
		}
		if c := send(h, "/v1/regions", "10.0.0.2:1000", goodToken); c != 200 {
			t.Fatalf("valid token from another address: %d", c)
		}
	})
	t.Run("fail/brute force from one address is slowed", func(t *testing.T) {
		clock := &limitClock{t: time.Unix(1e9, 0)}
		h := limited(NewFailureLimiter(10, 6*time.Second, clock.now))
		checked := 0
		for i := range 200 {
			if send(h, "/v1/regions", "10.0.0.1:1000", bad(i)) == http.StatusUnauthorized {
				checked++
			}
		}
		if checked != 10 {
			t.Fatalf("%d guesses checked in a burst, want 10", checked)
		}
		clock.add(6 * time.Second)
		if c := send(h, "/v1/regions", "10.0.0.1:1000", bad(300)); c != http.StatusUnauthorized {
			t.Fatalf("after one refill: %d, want one more guess checked (401)", c)
		}
		if c := send(h, "/v1/regions", "10.0.0.1:1000", bad(301)); c != http.StatusTooManyRequests {
			t.Fatalf("second guess after one refill: %d, want 429", c)
		}
	})
	t.Run("fail/a token that keeps failing is refused from every address", func(t *testing.T) {
		h := limited(NewFailureLimiter(10, 6*time.Second, nil))
		for i := range 10 {
			send(h, "/v1/regions", "10.0.1."+string(rune('0'+i))+":1", "dmc_revoked")
		}
		if c := send(h, "/v1/regions", "10.9.9.9:1", "dmc_revoked"); c != http.StatusTooManyRequests {
			t.Fatalf("the failing token from a fresh address: %d, want 429", c)
		}
		if c := send(h, "/v1/regions", "10.9.9.9:1", goodToken); c != 200 {
			t.Fatalf("a valid token from that address: %d", c)
		}
	})
	t.Run("ok/a public route does not make a token known good", func(t *testing.T) {
		h := limited(NewFailureLimiter(10, 6*time.Second, nil))
		for i := range 20 {
			send(h, "/v1/regions", "10.0.0.1:1", bad(i))
		}
		send(h, "/healthz", "10.0.0.1:1", bad(77))
		if c := send(h, "/v1/regions", "10.0.0.1:1", bad(77)); c != http.StatusTooManyRequests {
			t.Fatalf("a guess that passed /healthz first: %d, want 429", c)
		}
	})
	t.Run("ok/X-Forwarded-For is ignored unless the proxy is trusted", func(t *testing.T) {
		h := limited(NewFailureLimiter(10, 6*time.Second, nil))
		// A client cannot dodge its budget by inventing addresses.
		for i := range 20 {
			send(h, "/v1/regions", "10.0.0.1:1", bad(i), "X-Forwarded-For", "192.0.2."+string(rune('0'+i%10)))
		}
		if c := send(h, "/v1/regions", "10.0.0.1:1", bad(50), "X-Forwarded-For", "198.51.100.7"); c != http.StatusTooManyRequests {
			t.Fatalf("untrusted X-Forwarded-For: %d, want 429", c)
		}
		l := NewFailureLimiter(10, 6*time.Second, nil)
		l.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}
		h = limited(l)
		for i := range 20 {
			send(h, "/v1/regions", "10.0.0.1:1", bad(i), "X-Forwarded-For", "203.0.113.5")
		}
		// Another client behind the same trusted proxy is not limited.
		if c := send(h, "/v1/regions", "10.0.0.1:1", bad(60), "X-Forwarded-For", "203.0.113.6"); c != http.StatusUnauthorized {
			t.Fatalf("another client behind the trusted proxy: %d, want 401", c)
		}
		if c := send(h, "/v1/regions", "10.0.0.1:1", bad(61), "X-Forwarded-For", "203.0.113.5"); c != http.StatusTooManyRequests {
			t.Fatalf("the failing client behind the trusted proxy: %d, want 429", c)
		}
	})
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote, xff string
		trusted           []netip.Prefix
		want              string
	}{
		{"ok/no proxies", "192.0.2.1:5", "203.0.113.9", nil, "192.0.2.1"},
		{"ok/untrusted peer", "192.0.2.1:5", "203.0.113.9", trusted, "192.0.2.1"},
		{"ok/trusted peer", "10.1.2.3:5", "203.0.113.9", trusted, "203.0.113.9"},
		{"ok/chain of trusted proxies", "10.1.2.3:5", "203.0.113.9, 10.4.4.4", trusted, "203.0.113.9"},
		{"ok/spoofed left-most ignored", "10.1.2.3:5", "198.51.100.1, 203.0.113.9", trusted, "203.0.113.9"},
		{"fail/malformed chain", "10.1.2.3:5", "nonsense", trusted, "10.1.2.3"},
		{"ok/trusted peer without header", "10.1.2.3:5", "", trusted, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := ClientAddr(r, tt.trusted); got != tt.want {
				t.Fatalf("ClientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

// BenchmarkFailureLimiter: what the limiter adds to every request that
// authenticates (fingerprint, admit, done), from many goroutines.
func BenchmarkFailureLimiter(b *testing.B) {
	l := NewFailureLimiter(10, 6*time.Second, nil)
	h := l.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/v1/records/x", nil)
		r.Header.Set("Authorization", "Bearer dmc_0123456789abcdef0123456789abcdef0123456789abcdef")
		w := httptest.NewRecorder()
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}
