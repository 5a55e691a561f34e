package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/web"
)

func usageAnswer(u web.GuardUsage) *http.Response {
	h := http.Header{}
	h.Set(web.GuardUsageHeader, web.FormatGuardUsage(u))
	return &http.Response{Header: h}
}

func bearerHeader(tok string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	return h
}

func TestDrainWatch(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	d := newDrainWatch(func() time.Time { return now })
	h := bearerHeader("dmc_one")
	d.observe("a", h, usageAnswer(web.GuardUsage{Principal: "p", Counts: map[string]float64{"records/minute": 100}}))
	d.observe("b", h, usageAnswer(web.GuardUsage{Principal: "p", Counts: map[string]float64{"records/minute": 50}}))
	if got := d.elsewhere("c", h); got != "records/minute=150" {
		t.Errorf("elsewhere for c = %q", got)
	}
	if got := d.elsewhere("a", h); got != "records/minute=50" {
		t.Errorf("elsewhere for a = %q, want b's alone", got)
	}
	// Locked in a: every other region hears it; a's own requests do not.
	d.observe("a", h, usageAnswer(web.GuardUsage{Principal: "p", Locked: true}))
	if got := d.elsewhere("c", h); !strings.Contains(got, "locked=a") {
		t.Errorf("elsewhere for c = %q, want locked=a", got)
	}
	// a serves the principal again (unlocked there, or by break-glass):
	// the lock no longer holds elsewhere.
	d.observe("a", h, usageAnswer(web.GuardUsage{Principal: "p"}))
	if got := d.elsewhere("c", h); strings.Contains(got, "locked") {
		t.Errorf("elsewhere for c = %q after a unlocked it", got)
	}
	// A rotated token replaces the old one's entry; unknown tokens get
	// nothing.
	h2 := bearerHeader("dmc_two")
	d.observe("a", h2, usageAnswer(web.GuardUsage{Principal: "p"}))
	if len(d.byToken) != 1 || d.elsewhere("c", h) != "" {
		t.Errorf("%d token entries; the old token still maps: %q", len(d.byToken), d.elsewhere("c", h))
	}
	if got := d.elsewhere("c", bearerHeader("dmc_other")); got != "" {
		t.Errorf("an unknown token got %q", got)
	}
	// A day later nothing is relayed.
	now = now.Add(25 * time.Hour)
	if got := d.elsewhere("c", h2); got != "" {
		t.Errorf("a day later: %q", got)
	}
}

// The watch stays bounded: past the cap it drops the least recently seen
// tenth at once.
func TestDrainWatchBounded(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	d := newDrainWatch(func() time.Time { return now })
	for i := range maxWatched + 10 {
		now = now.Add(time.Millisecond)
		d.observe("a", bearerHeader(fmt.Sprint("dmc_", i)), usageAnswer(web.GuardUsage{Principal: fmt.Sprint("p", i)}))
	}
	if len(d.by) > maxWatched || len(d.byToken) > maxWatched {
		t.Fatalf("%d principals, %d tokens watched; at most %d", len(d.by), len(d.byToken), maxWatched)
	}
	if d.by["p0"] != nil || d.by[fmt.Sprint("p", maxWatched+9)] == nil {
		t.Error("pruning dropped the wrong principals")
	}
}
