package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The kinds of transfer mechanism.
const (
	// PIPL (art. 38) and the 2024 cross-border provisions.
	KindStandardContract   = "standard-contract"   // a standard contract filed with the CAC
	KindCertification      = "certification"       // personal information protection certification
	KindSecurityAssessment = "security-assessment" // a CAC security assessment, valid 3 years
	// GDPR chapter V.
	KindAdequacy   = "adequacy"   // an adequacy decision (art. 45)
	KindSCC        = "scc"        // standard contractual clauses (art. 46)
	KindBCR        = "bcr"        // binding corporate rules (art. 47)
	KindDerogation = "derogation" // a derogation for a specific situation (art. 49)
	// Exempt transfers under the 2024 provisions (art. 5): not counted.
	KindContractNecessity = "contract-necessity" // necessary for a contract with the individual
	KindHRManagement      = "hr-management"      // cross-border human resources management
	KindEmergency         = "emergency"          // to protect life, health or property in an emergency
)

// MechanismKinds lists the kinds a mechanism may have.
var MechanismKinds = []string{
	KindStandardContract, KindCertification, KindSecurityAssessment,
	KindAdequacy, KindSCC, KindBCR, KindDerogation,
	KindContractNecessity, KindHRManagement, KindEmergency,
}

// AssessmentYears is how long a security assessment is valid at most.
const AssessmentYears = 3

// dateLayout is how dates are written in a policy.
const dateLayout = time.DateOnly

// Mechanism is a legal mechanism for cross-border transfers out of a
// region: a filed standard contract, a certification, a security
// assessment, a GDPR adequacy decision, SCCs, BCRs, a derogation, or one of
// the PIPL exemptions.
type Mechanism struct {
	Name string
	// Region is the exporting region.
	Region string
	// Kind is one of MechanismKinds.
	Kind string
	// Reference is the filing or approval reference; it may be empty for
	// the exempt kinds.
	Reference string
	// To are the destinations: ISO 3166-1 alpha-2 codes, groups (EU,
	// EEA) or "*".
	To []string
	// Recipients are the organisations it covers; empty: any.
	Recipients []string
	// Collections are the collections it covers; empty: all.
	Collections []string
	// ValidFrom is the start of the first day of validity, in the
	// region's time zone. ValidUntil is the start of the last day of
	// validity (the mechanism covers that whole day); zero: open-ended.
	ValidFrom, ValidUntil time.Time
	// Line is the line of the mechanism in the policy file.
	Line int
}

// Counted reports whether transfers under the mechanism count towards the
// region's thresholds: false for the exempt kinds.
func (m *Mechanism) Counted() bool { return !isExemptKind(m.Kind) }

// Level returns what the mechanism can cover: LevelContract for a standard
// contract or certification, LevelAssessment for a security assessment,
// LevelExempt for the exempt kinds, and LevelNone for the GDPR kinds, which
// satisfy regions without thresholds.
func (m *Mechanism) Level() Level {
	switch m.Kind {
	case KindStandardContract, KindCertification:
		return LevelContract
	case KindSecurityAssessment:
		return LevelAssessment
	case KindContractNecessity, KindHRManagement, KindEmergency:
		return LevelExempt
	}
	return LevelNone
}

// Covers reports whether m covers a transfer of collection's data to a
// recipient organisation in destination (an ISO 3166-1 alpha-2 code, in
// either case) at time at. When it does not, the reason says why in words,
// naming what is missing: "valid from 2026-01-01", "expired on
// 2026-12-31", "does not cover destination JP", "does not cover recipient
// X", "does not cover collection Y".
func (m *Mechanism) Covers(collection, destination, recipient string, at time.Time) (bool, string) {
	switch {
	case at.Before(m.ValidFrom):
		return false, "valid from " + m.ValidFrom.Format(dateLayout)
	case !m.ValidUntil.IsZero() && !at.Before(m.end()):
		return false, "expired on " + m.ValidUntil.Format(dateLayout)
	case !coversLocation(m.To, destination):
		return false, "does not cover destination " + strings.ToUpper(destination)
	case len(m.Recipients) > 0 && !slices.Contains(m.Recipients, recipient):
		if recipient == "" {
			return false, "does not cover an unnamed recipient (it covers " + strings.Join(m.Recipients, ", ") + ")"
		}
		return false, "does not cover recipient " + recipient
	case len(m.Collections) > 0 && !slices.Contains(m.Collections, collection):
		return false, "does not cover collection " + collection
	}
	return true, ""
}

// end returns the first instant after the last day of validity; the zero
// time for an open-ended mechanism.
func (m *Mechanism) end() time.Time {
	if m.ValidUntil.IsZero() {
		return time.Time{}
	}
	return m.ValidUntil.AddDate(0, 0, 1)
}

// Mechanism returns the mechanism called name.
func (p *Policy) Mechanism(name string) (*Mechanism, bool) {
	for i := range p.Mechanisms {
		if p.Mechanisms[i].Name == name {
			return &p.Mechanisms[i], true
		}
	}
	return nil, false
}

// MechanismsOf returns the mechanisms of the region called region, in the
// order of the policy file.
func (p *Policy) MechanismsOf(region string) []*Mechanism {
	var out []*Mechanism
	for i := range p.Mechanisms {
		if p.Mechanisms[i].Region == region {
			out = append(out, &p.Mechanisms[i])
		}
	}
	return out
}

func isExemptKind(kind string) bool {
	return kind == KindContractNecessity || kind == KindHRManagement || kind == KindEmergency
}

var (
	mechanismKeys = []string{"name", "region", "kind", "reference", "to", "recipients", "collections", "valid_from", "valid_until"}
	mechanismName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
)

// parseMechanisms reads the mechanisms section; regions and collections
// must have been read.
func (p *parser) parseMechanisms(node *yaml.Node, pol *Policy) []Mechanism {
	items, ok := p.sequence(node, "mechanisms", "list the transfer mechanisms, each starting with \"- name:\"")
	if !ok {
		return nil
	}
	var out []Mechanism
	var valid []bool // whether each one is valid enough to check for overlaps
	seen := map[string]int{}
	for _, item := range items {
		m, ok := p.parseMechanism(item, pol)
		if m == nil {
			continue
		}
		if line, dup := seen[m.Name]; dup && m.Name != "" {
			p.errorf(item, "give each mechanism its own name", "duplicate mechanism %q (first on line %d)", m.Name, line)
			continue
		}
		seen[m.Name] = m.Line
		out = append(out, *m)
		valid = append(valid, ok)
	}
	p.checkOverlaps(out, valid)
	return out
}

// parseMechanism reads one mechanism. m is nil when item is not a mapping;
// ok is false when a part the overlap check needs is missing or wrong.
func (p *parser) parseMechanism(item *yaml.Node, pol *Policy) (m *Mechanism, ok bool) {
	fields := p.mapping(item, "mechanism", mechanismKeys)
	if fields == nil {
		return nil, false
	}
	m = &Mechanism{Line: item.Line}
	p.require(item, fields, "mechanism", "name", "region", "kind", "to", "valid_from")
	if e, has := fields["name"]; has {
		if s, sok := p.str(e.value, "mechanism name"); sok {
			m.Name = s
			if !mechanismName.MatchString(s) {
				p.errorf(e.value, "use lower-case letters, digits, hyphens and underscores, starting with a letter, such as cn-us-standard-contract", "invalid mechanism name %q", s)
			}
		}
	}
	loc, regionOK := p.mechanismRegion(fields, pol, m)
	kindOK := p.mechanismKind(item, fields, m)
	toOK := false
	if e, has := fields["to"]; has {
		m.To, toOK = p.destinations(e.value)
	}
	if e, has := fields["recipients"]; has {
		m.Recipients = p.recipients(e.value)
	}
	if e, has := fields["collections"]; has {
		m.Collections = p.mechanismCollections(e.value, pol)
	}
	datesOK := p.validity(item, fields, loc, m)
	return m, regionOK && kindOK && toOK && datesOK
}

// mechanismRegion reads the exporting region and returns its time zone
// (UTC when the region is unknown).
func (p *parser) mechanismRegion(fields map[string]entry, pol *Policy, m *Mechanism) (*time.Location, bool) {
	e, has := fields["region"]
	if !has {
		return time.UTC, false
	}
	s, ok := p.str(e.value, "region")
	if !ok {
		return time.UTC, false
	}
	m.Region = s
	r, ok := pol.Region(s)
	if !ok {
		p.errorf(e.value, regionHint(s, pol), "mechanism for unknown region %q", s)
		return time.UTC, false
	}
	if r.TimeZone == nil {
		return time.UTC, true
	}
	return r.TimeZone, true
}

// regionHint hints at the region nearest to s, or lists them.
func regionHint(s string, pol *Policy) string {
	names := make([]string, len(pol.Regions))
	for i, r := range pol.Regions {
		names[i] = r.Name
	}
	if h := didYouMean(s, names); h != "" {
		return h
	}
	return "name the exporting region, one of " + strings.Join(names, ", ")
}

// mechanismKind reads the kind and, for kinds that need one, the
// reference.
func (p *parser) mechanismKind(item *yaml.Node, fields map[string]entry, m *Mechanism) bool {
	ok := false
	if e, has := fields["kind"]; has {
		if s, sok := p.str(e.value, "kind"); sok {
			m.Kind = s
			ok = slices.Contains(MechanismKinds, s)
			if !ok {
				p.errorf(e.value, oneOf(s, MechanismKinds, "kinds"), "unknown mechanism kind %q", s)
			}
		}
	}
	at := item
	if e, has := fields["reference"]; has {
		m.Reference, _ = p.str(e.value, "reference")
		at = e.value
	}
	if ok && !isExemptKind(m.Kind) && strings.TrimSpace(m.Reference) == "" && !contains(p.guessed[item], "reference") {
		p.errorf(at, "add \"reference: ...\" with the filing or approval reference, such as the CAC filing number or the decision that grants it",
			"%s mechanism %q has no reference", m.Kind, m.Name)
	}
	return ok
}

// destinations reads a list of destinations: ISO codes, groups or "*".
func (p *parser) destinations(node *yaml.Node) ([]string, bool) {
	to, nodes := p.strList(node, "to", "list the destinations, such as [US] or [\"*\"]")
	if len(nodes) == 0 {
		if node.Kind == yaml.SequenceNode {
			p.errorf(node, "list at least one destination: ISO 3166-1 alpha-2 codes, EU, EEA or \"*\"", "to is empty")
		}
		return nil, false
	}
	var out []string
	for i, s := range to {
		if _, group := Group(s); s != Everywhere && !IsCountry(s) && !group {
			p.errorf(nodes[i], destinationHint(s), "unknown destination %q", s)
			continue
		}
		if slices.Contains(out, s) {
			p.errorf(nodes[i], "remove the second entry", "destination %q listed twice", s)
			continue
		}
		out = append(out, s)
	}
	return out, len(out) > 0
}

// destinationHint says how to write a destination like s.
func destinationHint(s string) string {
	u := strings.ToUpper(s)
	_, group := Group(u)
	switch {
	case u != s && (IsCountry(u) || group):
		return fmt.Sprintf("write codes in upper case: %q", u)
	case wellKnownMistakes[u] != "":
		return fmt.Sprintf("the ISO 3166-1 code is %q", wellKnownMistakes[u])
	}
	return "use ISO 3166-1 alpha-2 codes such as US, the groups EU and EEA, or \"*\" for every destination"
}

// recipients reads the recipient organisations.
func (p *parser) recipients(node *yaml.Node) []string {
	names, nodes := p.strList(node, "recipients", "list the recipient organisations, such as [acme-us], or remove the key to cover any")
	var out []string
	for i, s := range names {
		if strings.TrimSpace(s) == "" {
			p.errorf(nodes[i], "name the organisation, or remove the entry", "empty recipient")
			continue
		}
		if slices.Contains(out, s) {
			p.errorf(nodes[i], "remove the second entry", "recipient %q listed twice", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// mechanismCollections reads the collections a mechanism covers.
func (p *parser) mechanismCollections(node *yaml.Node, pol *Policy) []string {
	names, nodes := p.strList(node, "collections", "list the collections it covers, such as [customers], or remove the key to cover all")
	if node.Kind == yaml.SequenceNode && len(node.Content) == 0 {
		p.errorf(node, "list the collections it covers, or remove the key to cover all of them", "collections is empty")
	}
	var out []string
	for i, s := range names {
		if _, ok := pol.Collection(s); !ok {
			var known []string
			for _, c := range pol.Collections {
				known = append(known, c.Name)
			}
			p.errorf(nodes[i], oneOf(s, known, "collections"), "mechanism covers unknown collection %q", s)
			continue
		}
		if slices.Contains(out, s) {
			p.errorf(nodes[i], "remove the second entry", "collection %q listed twice", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// validity reads valid_from and valid_until, dates in loc.
func (p *parser) validity(item *yaml.Node, fields map[string]entry, loc *time.Location, m *Mechanism) bool {
	e, has := fields["valid_from"]
	if !has {
		return false
	}
	from, ok := p.date(e.value, "valid_from", loc)
	if !ok {
		return false
	}
	m.ValidFrom = from
	u, has := fields["valid_until"]
	if !has {
		if m.Kind == KindSecurityAssessment {
			p.errorf(item, fmt.Sprintf("add \"valid_until: ...\": a security assessment is valid for %d years, until %s at the latest",
				AssessmentYears, lastAssessmentDay(from).Format(dateLayout)), "security assessment %q has no valid_until", m.Name)
		}
		return true
	}
	until, ok := p.date(u.value, "valid_until", loc)
	if !ok {
		return false
	}
	m.ValidUntil = until
	switch {
	case until.Before(from):
		p.errorf(u.value, "valid_until is the last day of validity, on or after valid_from", "valid_until %s is before valid_from %s",
			until.Format(dateLayout), from.Format(dateLayout))
		return false
	case m.Kind == KindSecurityAssessment && until.After(lastAssessmentDay(from)):
		p.errorf(u.value, fmt.Sprintf("a security assessment is valid for %d years: end it on %s at the latest, and file for renewal before it expires",
			AssessmentYears, lastAssessmentDay(from).Format(dateLayout)),
			"security assessment %q is valid for more than %d years (%s to %s)", m.Name, AssessmentYears, from.Format(dateLayout), until.Format(dateLayout))
	}
	return true
}

// lastAssessmentDay returns the last day a security assessment that takes
// effect on from may be valid: the day before its third anniversary.
func lastAssessmentDay(from time.Time) time.Time {
	return from.AddDate(AssessmentYears, 0, -1)
}

// date reads a calendar date written YYYY-MM-DD, as the start of that day
// in loc.
func (p *parser) date(node *yaml.Node, what string, loc *time.Location) (time.Time, bool) {
	s, ok := p.str(node, what)
	if !ok {
		return time.Time{}, false
	}
	d, err := time.ParseInLocation(dateLayout, s, loc)
	if err != nil {
		p.errorf(node, "write a date as YYYY-MM-DD, such as 2026-01-01", "invalid %s %q", what, s)
		return time.Time{}, false
	}
	return d, true
}

// checkOverlaps reports mechanisms of the same region and kind whose
// validity overlaps and that cover a common destination, recipient and
// collection: the ledger could not tell which one a transfer falls under.
// valid says which mechanisms parsed well enough to compare.
func (p *parser) checkOverlaps(ms []Mechanism, valid []bool) {
	for j := range ms {
		for i := range j {
			a, b := &ms[i], &ms[j]
			if !valid[i] || !valid[j] || a.Region != b.Region || a.Kind != b.Kind || !overlapping(a, b) {
				continue
			}
			dest, ok := commonDestination(a.To, b.To)
			if !ok || !intersects(a.Recipients, b.Recipients) || !intersects(a.Collections, b.Collections) {
				continue
			}
			if b.ValidFrom.Before(a.ValidFrom) {
				a, b = b, a // report the one that starts later
			}
			p.errs = append(p.errs, &Error{File: p.file, Line: b.Line,
				Msg: fmt.Sprintf("mechanism %q overlaps %q (line %d): both are %s mechanisms of region %s covering %s from %s",
					b.Name, a.Name, a.Line, a.Kind, a.Region, dest, b.ValidFrom.Format(dateLayout)),
				Hint: overlapHint(a, b)})
		}
	}
}

// overlapHint says how to end the overlap of a and b, b starting no
// earlier than a.
func overlapHint(a, b *Mechanism) string {
	if a.ValidFrom.Equal(b.ValidFrom) {
		return "end the earlier one before the later one starts (a renewal starts the day after), or remove one of them"
	}
	return fmt.Sprintf("end the earlier one before the later one starts: give %q \"valid_until: %s\" (a renewal starts the day after)",
		a.Name, b.ValidFrom.AddDate(0, 0, -1).Format(dateLayout))
}

// overlapping reports whether the validity periods of a and b share a day.
func overlapping(a, b *Mechanism) bool {
	aEnds, bEnds := !a.ValidUntil.IsZero(), !b.ValidUntil.IsZero()
	return (!aEnds || !b.ValidFrom.After(a.ValidUntil)) && (!bEnds || !a.ValidFrom.After(b.ValidUntil))
}

// commonDestination returns a destination both lists cover, in words.
func commonDestination(a, b []string) (string, bool) {
	switch {
	case slices.Contains(a, Everywhere) && slices.Contains(b, Everywhere):
		return "every destination", true
	case slices.Contains(a, Everywhere):
		return b[0], true
	case slices.Contains(b, Everywhere):
		return a[0], true
	}
	for _, x := range a {
		for _, c := range expand(x) {
			if coversLocation(b, c) {
				return c, true
			}
		}
	}
	return "", false
}

// intersects reports whether two lists, where empty means any, share an
// entry.
func intersects(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// checkTransferMechanism checks the mechanism a transfer rule names: it
// must be one of the rule's region, and cover every destination of the
// rule and its collection. Problems are reported at the rule's line.
func (p *parser) checkTransferMechanism(item *yaml.Node, t *Transfer, pol *Policy) {
	m, ok := pol.Mechanism(t.Mechanism)
	if !ok {
		var names []string
		for _, x := range pol.MechanismsOf(t.From) {
			names = append(names, x.Name)
		}
		hint := didYouMean(t.Mechanism, names)
		switch {
		case hint != "":
		case len(names) > 0:
			hint = "name a mechanism of region " + t.From + ": " + strings.Join(names, ", ")
		default:
			hint = "add the mechanism under mechanisms:, with region " + t.From
		}
		p.errorf(item, hint, "transfer rule %q names unknown mechanism %q", t.Name, t.Mechanism)
		return
	}
	if _, known := pol.Region(t.From); !known {
		return // reported already
	}
	if m.Region != t.From {
		p.errorf(item, "name a mechanism of region "+t.From+", or add one", "transfer rule %q from region %s names mechanism %q (line %d) of region %s",
			t.Name, t.From, m.Name, m.Line, m.Region)
		return
	}
	if missing := uncovered(m.To, t.To); len(missing) > 0 {
		list := strings.Join(missing, ", ")
		p.errorf(item, fmt.Sprintf("add %s to the mechanism's to (now %s), or remove %s from the rule", list, strings.Join(m.To, ", "), list),
			"mechanism %q (line %d) does not cover destination %s of transfer rule %q", m.Name, m.Line, list, t.Name)
	}
	if t.Collection != "" && len(m.Collections) > 0 && !slices.Contains(m.Collections, t.Collection) {
		p.errorf(item, fmt.Sprintf("add %s to the mechanism's collections (now %s), or name another mechanism", t.Collection, strings.Join(m.Collections, ", ")),
			"mechanism %q (line %d) does not cover collection %s of transfer rule %q", m.Name, m.Line, t.Collection, t.Name)
	}
}

// uncovered returns the entries of to that destinations do not cover: a
// group must be covered in full, and "*" only by "*".
func uncovered(destinations, to []string) []string {
	if slices.Contains(destinations, Everywhere) {
		return nil
	}
	var out []string
	for _, x := range to {
		if x == Everywhere {
			out = append(out, `"*"`)
			continue
		}
		for _, c := range expand(x) {
			if !coversLocation(destinations, c) {
				out = append(out, x)
				break
			}
		}
	}
	return out
}
