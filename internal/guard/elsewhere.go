package guard

// A principal's activity in the other regions. The guard's state stays
// per region, but a drain that spreads its reads over regions must meet one
// budget: the gateway relays, with each request, what the principal did
// elsewhere (counts of non-personal signals, by rule window, and whether
// another region locked it), and each region adds that to its own counts
// when it evaluates its rules. A principal that sends these itself, going
// around the gateway, can only lock itself sooner.

// Elsewhere is what a principal did in the other regions, as the gateway
// relays it.
type Elsewhere struct {
	// Counts are by "signal/window", such as "records/minute".
	Counts map[string]float64
	// LockedIn names a region whose guard locked the principal, "" if none.
	LockedIn string
}

// LockedElsewhereRule is the rule name of the alert raised when a principal
// locked in another region is locked here too.
const LockedElsewhereRule = "locked-elsewhere"

// Usage returns the principal's counts in this region for every signal and
// window a rule watches, by "signal/window", for the gateway to relay to
// the other regions. A principal this node has not seen has none.
func (g *Guard) Usage(principal string) map[string]float64 {
	g.mu.RLock()
	ps := g.ps[principal]
	g.mu.RUnlock()
	if ps == nil {
		return nil
	}
	now := g.now()
	out := map[string]float64{}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for i := range g.rules {
		r := &g.rules[i]
		if n := ps.series[r.gi].count(r.ref, now); n > 0 {
			out[r.Signal+"/"+r.Window] = n
		}
	}
	return out
}
