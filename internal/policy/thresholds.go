package policy

import (
	"fmt"
	"math"
	"time"

	// The IANA time zone database, so that time_zone works on machines
	// without /usr/share/zoneinfo (distroless and scratch images).
	_ "time/tzdata"

	"gopkg.in/yaml.v3"
)

// Level is a step of the mechanism ladder: what a transfer mechanism can
// cover, and what a year's transfers need. Levels are ordered: a mechanism
// of level l satisfies what Thresholds.Required returns when l >= it.
type Level int

// The levels, lowest first.
const (
	// LevelNone: no PIPL standing. Regions without thresholds need it
	// (nothing to count), and the GDPR mechanisms (adequacy, scc, bcr,
	// derogation), which have no thresholds, have it.
	LevelNone Level = iota
	// LevelExempt: the counts need no mechanism (PIPL: fewer than
	// 100,000 individuals' non-sensitive personal information and no
	// sensitive personal information since 1 January). It is also the
	// level of the exempt kinds (contract-necessity, hr-management,
	// emergency), whose transfers are not counted at all.
	LevelExempt
	// LevelContract: a filed standard contract or a certification.
	LevelContract
	// LevelAssessment: a CAC security assessment.
	LevelAssessment
)

// String returns the level in words.
func (l Level) String() string {
	switch l {
	case LevelNone:
		return "none"
	case LevelExempt:
		return "exempt"
	case LevelContract:
		return "standard contract or certification"
	case LevelAssessment:
		return "security assessment"
	}
	return fmt.Sprintf("level %d", int(l))
}

// The PIPL numbers (Provisions on Promoting and Regulating Cross-Border
// Data Flows, 2024, art. 7 and 8), counted in distinct individuals since 1
// January.
const (
	// PIPLExemptBelow: fewer non-sensitive individuals than this, and no
	// sensitive ones, need no mechanism.
	PIPLExemptBelow = 100_000
	// PIPLContractMax: up to this many non-sensitive individuals, a
	// standard contract or a certification suffices.
	PIPLContractMax = 1_000_000
	// PIPLSensitiveContractBelow: fewer sensitive individuals than this,
	// a standard contract or a certification suffices.
	PIPLSensitiveContractBelow = 10_000
)

// ThresholdPresets are the presets transfer_thresholds may name.
var ThresholdPresets = []string{"pipl"}

// Thresholds are a region's yearly transfer thresholds: the counts of
// distinct individuals whose personal information left the region since 1
// January (in the region's time zone) that decide which mechanism a
// transfer needs.
type Thresholds struct {
	// ExemptBelow: fewer non-sensitive individuals than this, with no
	// sensitive ones, need no mechanism.
	ExemptBelow int64
	// ContractMax: the most non-sensitive individuals a standard contract
	// or certification covers; beyond it a security assessment is needed.
	ContractMax int64
	// SensitiveContractBelow: a standard contract or certification covers
	// fewer sensitive individuals than this; from it on a security
	// assessment is needed.
	SensitiveContractBelow int64
}

// preset returns the thresholds a preset names.
func preset(name string) (Thresholds, bool) {
	switch name {
	case "pipl":
		return Thresholds{ExemptBelow: PIPLExemptBelow, ContractMax: PIPLContractMax, SensitiveContractBelow: PIPLSensitiveContractBelow}, true
	}
	return Thresholds{}, false
}

// Required returns the mechanism level that yearly counts of distinct
// individuals need: nonSensitive and sensitive are the counts including the
// transfer being decided. With the PIPL numbers: 99,999 non-sensitive and
// no sensitive individuals are exempt; 100,000 to 1,000,000 non-sensitive,
// or 1 to 9,999 sensitive, need a contract; more than 1,000,000
// non-sensitive or 10,000 sensitive need an assessment. Nil thresholds
// (a region without them) need LevelNone.
func (t *Thresholds) Required(nonSensitive, sensitive int64) Level {
	switch {
	case t == nil:
		return LevelNone
	case sensitive >= t.SensitiveContractBelow || nonSensitive > t.ContractMax:
		return LevelAssessment
	case sensitive > 0 || nonSensitive >= t.ExemptBelow:
		return LevelContract
	}
	return LevelExempt
}

// Limit returns the count a mechanism of level l covers up to (inclusive):
// of sensitive individuals if sensitive, else of non-sensitive ones. It is
// math.MaxInt64 for LevelAssessment and for nil thresholds. LevelNone
// covers what LevelExempt does: what needs no mechanism.
func (t *Thresholds) Limit(l Level, sensitive bool) int64 {
	switch {
	case t == nil || l >= LevelAssessment:
		return math.MaxInt64
	case l == LevelContract && sensitive:
		return t.SensitiveContractBelow - 1
	case l == LevelContract:
		return t.ContractMax
	case sensitive:
		return 0
	}
	return t.ExemptBelow - 1
}

// Headroom returns how many more individuals (non-sensitive, sensitive)
// mechanisms of level l cover beyond the given counts; negative: over by
// that many. For reports and 80%/95% warnings. An unbounded limit gives
// math.MaxInt64.
func (t *Thresholds) Headroom(l Level, nonSensitive, sensitive int64) (int64, int64) {
	return headroom(t.Limit(l, false), nonSensitive), headroom(t.Limit(l, true), sensitive)
}

// headroom returns limit - count, saturating instead of overflowing.
func headroom(limit, count int64) int64 {
	switch {
	case limit == math.MaxInt64:
		return math.MaxInt64
	case count < 0 && limit > math.MaxInt64+count:
		return math.MaxInt64
	}
	return limit - count
}

// thresholdKeys are the keys of transfer_thresholds.
var thresholdKeys = []string{"preset", "exempt_below", "contract_max", "sensitive_contract_below"}

// parseThresholds reads a region's transfer_thresholds: a preset, and
// numbers that override it (all three without a preset).
func (p *parser) parseThresholds(node *yaml.Node) *Thresholds {
	m := p.mapping(node, "transfer_thresholds", thresholdKeys)
	if m == nil {
		return nil
	}
	var t Thresholds
	ok := true
	if e, has := m["preset"]; has {
		s, sok := p.str(e.value, "preset")
		if sok {
			t, sok = preset(s)
			if !sok {
				p.errorf(e.value, oneOf(s, ThresholdPresets, "presets"), "unknown transfer threshold preset %q", s)
			}
		}
		ok = sok
	} else if contains(p.guessed[node], "preset") {
		ok = false // a misspelt preset, reported already
	} else {
		for _, k := range thresholdKeys[1:] {
			if _, has := m[k]; has {
				continue
			}
			ok = false
			if !contains(p.guessed[node], k) {
				p.errorf(node, fmt.Sprintf("add \"%s: ...\", or \"preset: pipl\" for the PIPL numbers", k), "transfer_thresholds has no %s", k)
			}
		}
	}
	for _, f := range []struct {
		key string
		n   *int64
	}{{"exempt_below", &t.ExemptBelow}, {"contract_max", &t.ContractMax}, {"sensitive_contract_below", &t.SensitiveContractBelow}} {
		if e, has := m[f.key]; has {
			ok = p.positive(e.value, f.key, f.n) && ok
		}
	}
	if !ok {
		return nil
	}
	if t.ContractMax < t.ExemptBelow {
		at := node
		if e, has := m["contract_max"]; has {
			at = e.value
		}
		p.errorf(at, fmt.Sprintf("make contract_max at least exempt_below (%d): a contract covers more than needs none", t.ExemptBelow),
			"contract_max %d is below exempt_below %d", t.ContractMax, t.ExemptBelow)
		return nil
	}
	return &t
}

// positive reads a count above zero into n.
func (p *parser) positive(node *yaml.Node, what string, n *int64) bool {
	v, ok := p.integer(node, what)
	if !ok {
		return false
	}
	if v <= 0 {
		p.errorf(node, "write a number of individuals above 0, such as 100000", "%s must be positive, not %d", what, v)
		return false
	}
	*n = int64(v)
	return true
}

// parseTimeZone reads an IANA time zone name.
func (p *parser) parseTimeZone(node *yaml.Node) (*time.Location, bool) {
	s, ok := p.str(node, "time_zone")
	if !ok {
		return nil, false
	}
	loc, err := loadLocation(s)
	if err != nil {
		p.errorf(node, "write an IANA time zone name such as Asia/Shanghai, Europe/Berlin or UTC", "unknown time zone %q", s)
		return nil, false
	}
	return loc, true
}

// loadLocation is time.LoadLocation without "" and "Local", which name the
// machine's zone rather than the region's.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q depends on the machine", name)
	}
	return time.LoadLocation(name)
}
