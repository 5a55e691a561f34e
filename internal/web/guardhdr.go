package web

import (
	"slices"
	"strconv"
	"strings"
)

// The headers by which the gateway relays a principal's activity between
// regions (see internal/gateway's drainWatch): counts of non-personal
// signals by rule window, never a value.
const (
	// GuardUsageHeader, on a region's answer to the gateway, reports the
	// principal's activity in that region: "p=ID;signal/window=N;...",
	// with "locked=1" when the principal is locked there. The gateway
	// never relays it to clients.
	GuardUsageHeader = "Domicile-Guard-Usage"
	// GuardElsewhereHeader, on the gateway's request to a region, carries
	// the principal's activity in the other regions:
	// "signal/window=N;...;locked=REGION".
	GuardElsewhereHeader = "Domicile-Guard-Elsewhere"
)

// GuardUsage is a parsed GuardUsageHeader.
type GuardUsage struct {
	Principal string
	Counts    map[string]float64
	Locked    bool
}

// EncodeGuardCounts writes counts as "signal/window=N" pairs separated by
// ";", sorted by key.
func EncodeGuardCounts(counts map[string]float64) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(";")
		}
		b.WriteString(k + "=" + strconv.FormatFloat(counts[k], 'f', -1, 64))
	}
	return b.String()
}

// FormatGuardUsage writes a GuardUsageHeader value.
func FormatGuardUsage(u GuardUsage) string {
	v := "p=" + u.Principal
	if c := EncodeGuardCounts(u.Counts); c != "" {
		v += ";" + c
	}
	if u.Locked {
		v += ";locked=1"
	}
	return v
}

// ParseGuardUsage reads a GuardUsageHeader value; a value without a
// principal gives the zero GuardUsage.
func ParseGuardUsage(s string) GuardUsage {
	u := GuardUsage{Counts: map[string]float64{}}
	parsePairs(s, func(k, v string) {
		switch k {
		case "p":
			u.Principal = v
		case "locked":
			u.Locked = v == "1"
		default:
			count(u.Counts, k, v)
		}
	})
	return u
}

// ParseGuardElsewhere reads a GuardElsewhereHeader value: the counts, and
// the region that locked the principal ("" if none).
func ParseGuardElsewhere(s string) (counts map[string]float64, lockedIn string) {
	counts = map[string]float64{}
	parsePairs(s, func(k, v string) {
		if k == "locked" {
			lockedIn = v
			return
		}
		count(counts, k, v)
	})
	return counts, lockedIn
}

// parsePairs calls f for each "k=v" of s, at most 64, each key at most 64
// bytes; the header comes from the network, so the rest is ignored.
func parsePairs(s string, f func(k, v string)) {
	for i, kv := range strings.Split(s, ";") {
		if i == 64 {
			return
		}
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k != "" && len(k) <= 64 && len(v) <= 128 {
			f(k, v)
		}
	}
}

// count adds a finite, non-negative count to counts: a peer can only make
// a principal's budget tighter.
func count(counts map[string]float64, k, v string) {
	n, err := strconv.ParseFloat(v, 64)
	if err == nil && n >= 0 && n <= 1e12 {
		counts[k] += n
	}
}
