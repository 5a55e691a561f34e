// Package policy reads and validates Domicile's policy file and answers the
// questions the rest of the vault asks of it: which region holds the data of
// a jurisdiction, and which collections and fields exist.
//
// A policy is one YAML file:
//
//	version: 1
//	default_region: us-east
//	regions:
//	  - name: cn-north
//	    suite: cn
//	    residency: strict
//	    jurisdictions: [CN]
//	  - name: us-east
//	    suite: intl
//	    residency: standard
//	    jurisdictions: ["*"]
//	collections:
//	  - name: customers
//	    fields:
//	      - name: email
//	        type: email
//	        index: true
//
// Parse and Load check everything and report every problem at once, each
// with its file, line and column and a hint on how to fix it. Unknown keys
// are errors, so that a misspelt key never silently drops a rule. A Policy
// is read-only once parsed and safe for concurrent use.
package policy

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/residency"
	"github.com/domicile/domicile/internal/suite"
)

// Version is the policy file format version this package reads.
const Version = 1

// Policy is a parsed, validated policy file. Treat it as read-only once
// Parse has returned it: RegionFor answers from an index Parse builds.
type Policy struct {
	// Source is the file name the policy was read from, for messages.
	Source string
	// DefaultRegion names the region holding the data of jurisdictions no
	// region claims when no region lists "*"; it may be empty.
	DefaultRegion string
	Regions       []Region
	Collections   []Collection
	// Purposes are the purposes a request may state.
	Purposes []string
	// Roles say what each role may do and see.
	Roles []Role
	// Mechanisms are the legal mechanisms for cross-border transfers
	// (standard contracts, assessments, adequacy decisions, ...).
	Mechanisms []Mechanism
	// Transfers are the cross-border transfer rules.
	Transfers []Transfer
	// Guard configures detection: rules, baselines, honeytokens and
	// where alerts go.
	Guard Guard

	// resolver maps every ISO 3166-1 country code to its region; Parse
	// builds it, with resolverDefault as the DefaultRegion it saw.
	resolver        *residency.Resolver
	resolverDefault string
}

// Residency is a region's residency mode.
type Residency string

// The residency modes.
const (
	// Strict: the region's data, and everything derived from it, stays
	// in the region, and every clear read from outside the region is a
	// cross-border transfer that needs a transfer rule with a legal basis.
	// This is what PIPL (CN), 152-FZ (RU) and the GDPR (EU/EEA) call for.
	Strict Residency = "strict"
	// Standard: the data is stored only in the region, but reads from
	// other locations do not need a transfer rule; they are still
	// recorded in the audit log.
	Standard Residency = "standard"
)

// Region is one region: where data lives, under which suite.
type Region struct {
	Name      string
	Suite     suite.ID
	Residency Residency
	// Jurisdictions are the entries as written: ISO 3166-1 alpha-2 codes,
	// the groups "EU" and "EEA", or "*".
	Jurisdictions []string
	// Abroad is what happens to clear values when a principal located
	// outside a strict region reads them without a transfer rule.
	Abroad Abroad
	// TimeZone is the region's time zone (time_zone, an IANA name;
	// default UTC): the transfer ledger's year starts on 1 January in it,
	// and mechanisms' dates are days in it. Parse never leaves it nil.
	TimeZone *time.Location
	// Thresholds are the region's yearly transfer thresholds; nil when it
	// has none.
	Thresholds *Thresholds
	// Line is the line of the region in the policy file.
	Line int
}

// Field types.
const (
	TypeString     = "string"
	TypeText       = "text"
	TypeEmail      = "email"
	TypePhone      = "phone"
	TypeDate       = "date"
	TypeNationalID = "national_id"
)

// Field size limits, in bytes.
const (
	DefaultMaxLength = 1024
	MaxMaxLength     = 65536
)

// Collection is a kind of record, such as customers, and its fields.
type Collection struct {
	Name   string
	Fields []Field
	// Line is the line of the collection in the policy file.
	Line int
}

// Field is one field of a collection.
type Field struct {
	Name string
	// Type is "string", "text", "email", "phone", "date" or
	// "national_id".
	Type string
	// Normalizer names the normalize function applied before indexing
	// (and to validate values); it defaults from Type: email, phone, date
	// and national_id to their own normaliser, string and text to "none".
	Normalizer string
	// Index enables equality search through a blind index.
	Index bool
	// MaxLength is the longest value accepted, in bytes (default 1024, at
	// most 65536).
	MaxLength int
	// Required fields must be present in every record.
	Required bool
	// Mask is how the field shows when a reader may see it only masked
	// (see the Mask constants); default "redact".
	Mask string
	// Token is the kind of token the field's values get ("" for none):
	// random, deterministic or fpe; TokenFormat is the fpe format.
	Token       string
	TokenFormat string
	// Sensitive marks sensitive personal information (PIPL art. 28:
	// national ids, financial accounts, health, biometrics, precise
	// location, minors' data), which the transfer thresholds count
	// apart. It defaults to true for national_id fields, false otherwise.
	Sensitive bool
	// Line is the line of the field in the policy file.
	Line int
}

// Parse parses and validates the policy in data; file names it in
// messages. On any problem it returns a nil Policy and a *ErrorList holding
// every problem found, sorted by line.
func Parse(file string, data []byte) (*Policy, error) {
	p := &parser{file: file}
	pol := p.parse(data)
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, &p.errs
	}
	res, err := pol.newResolver()
	if err != nil {
		// Parse validated what the resolver checks; this is a bug.
		return nil, &ErrorList{{File: file, Msg: err.Error()}}
	}
	pol.resolver, pol.resolverDefault = res, pol.DefaultRegion
	return pol, nil
}

// newResolver returns the resolver of the policy's regions.
func (p *Policy) newResolver() (*residency.Resolver, error) {
	regs := make([]residency.Region, len(p.Regions))
	for i := range p.Regions {
		r := &p.Regions[i]
		regs[i] = residency.Region{Name: r.Name, Countries: r.Countries(), CatchAll: r.IsCatchAll()}
	}
	return residency.New(regs, p.DefaultRegion)
}

// Resolver returns the policy's jurisdiction -> region resolver: what
// RegionFor answers, by region name, without the rest of the policy. The
// gateway routes with it. A Policy not made by Parse, or changed since,
// gets one built from its regions now (nil if they are not valid).
func (p *Policy) Resolver() *residency.Resolver {
	if p.resolver != nil && p.resolverDefault == p.DefaultRegion {
		return p.resolver
	}
	res, _ := p.newResolver()
	return res
}

// Load reads and parses the policy file at path. A file that cannot be read
// gives the error from os.ReadFile; an invalid one a *ErrorList.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Region returns the region called name.
func (p *Policy) Region(name string) (*Region, bool) {
	for i := range p.Regions {
		if p.Regions[i].Name == name {
			return &p.Regions[i], true
		}
	}
	return nil, false
}

// Collection returns the collection called name.
func (p *Policy) Collection(name string) (*Collection, bool) {
	for i := range p.Collections {
		if p.Collections[i].Name == name {
			return &p.Collections[i], true
		}
	}
	return nil, false
}

// Field returns the field called name.
func (c *Collection) Field(name string) (*Field, bool) {
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			return &c.Fields[i], true
		}
	}
	return nil, false
}

// RegionFor returns the region that holds the data of subjects of
// jurisdiction, an ISO 3166-1 alpha-2 code in either case. A country that
// a region names (directly or through a group) goes to that region; any
// other country goes to the region listing "*", or else to DefaultRegion.
//
// A jurisdiction that is not an officially assigned code (including groups
// such as "EU", and alpha-3 codes) gives an error wrapping
// ErrUnknownJurisdiction; a country the policy sends nowhere gives one
// wrapping ErrNoRegion.
func (p *Policy) RegionFor(jurisdiction string) (*Region, error) {
	code := strings.ToUpper(jurisdiction)
	if !IsCountry(code) {
		if len(jurisdiction) > 8 {
			jurisdiction = jurisdiction[:8] + "..."
		}
		return nil, fmt.Errorf("%w %q (want an ISO 3166-1 alpha-2 country code such as DE)", ErrUnknownJurisdiction, jurisdiction)
	}
	if p.resolver != nil && p.resolverDefault == p.DefaultRegion {
		name, err := p.resolver.RegionFor(code)
		if err != nil {
			return nil, fmt.Errorf("%w %s", ErrNoRegion, code)
		}
		if r, ok := p.Region(name); ok {
			return r, nil
		}
	}
	// A Policy not made by Parse, or whose regions changed since.
	if i := p.regionIndex(code); i >= 0 {
		return &p.Regions[i], nil
	}
	if r, ok := p.Region(p.DefaultRegion); ok {
		return r, nil
	}
	return nil, fmt.Errorf("%w %s", ErrNoRegion, code)
}

// regionIndex returns the index of the region that lists country code,
// else of the region listing "*"; -1 if there is none.
func (p *Policy) regionIndex(code string) int {
	catchAll := -1
	for i := range p.Regions {
		r := &p.Regions[i]
		if r.Covers(code) {
			return i
		}
		if catchAll < 0 && r.IsCatchAll() {
			catchAll = i
		}
	}
	return catchAll
}

// Covers reports whether the region names jurisdiction (case-insensitive)
// as a country code or through a group. A "*" entry is not expanded here,
// since it depends on the other regions: use Policy.RegionFor to resolve a
// jurisdiction.
func (r *Region) Covers(jurisdiction string) bool {
	code := strings.ToUpper(jurisdiction)
	if !IsCountry(code) {
		return false
	}
	for _, j := range r.Jurisdictions {
		if j == code || slices.Contains(groups[j], code) {
			return true
		}
	}
	return false
}

// IsCatchAll reports whether the region lists "*", taking every country
// that no other region claims.
func (r *Region) IsCatchAll() bool {
	return slices.Contains(r.Jurisdictions, Everywhere)
}

// Countries returns the countries the region names directly or through a
// group, sorted and without duplicates; "*" is not expanded.
func (r *Region) Countries() []string {
	var cs []string
	for _, j := range r.Jurisdictions {
		cs = append(cs, expand(j)...)
	}
	slices.Sort(cs)
	return slices.Compact(cs)
}
