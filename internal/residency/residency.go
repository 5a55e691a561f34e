// Package residency answers where data lives: it knows the ISO 3166-1
// alpha-2 country codes, and a Resolver maps a subject's jurisdiction to the
// region that holds its data. internal/policy builds the Resolver when it
// parses a policy file; the gateway routes with it. The package is a leaf:
// it imports only the standard library.
package residency

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// iso3166 lists every officially assigned ISO 3166-1 alpha-2 code (249
// codes, as maintained by the ISO 3166 Maintenance Agency). Exceptionally or
// transitionally reserved codes such as EU, UK, EL or AN are not assigned
// and are not jurisdictions.
const iso3166 = `
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW
`

var countryCodes = strings.Fields(iso3166)

// Countries returns every officially assigned ISO 3166-1 alpha-2 code, in
// alphabetical order.
func Countries() []string { return slices.Clone(countryCodes) }

// IsCountry reports whether code is an officially assigned ISO 3166-1
// alpha-2 code. It is case-sensitive: codes are upper case.
func IsCountry(code string) bool {
	_, ok := slices.BinarySearch(countryCodes, code)
	return ok
}

// ErrUnknownJurisdiction is wrapped by Resolver.RegionFor when its argument
// is not an officially assigned ISO 3166-1 alpha-2 code.
var ErrUnknownJurisdiction = errors.New("residency: unknown jurisdiction")

// ErrNoRegion is wrapped by Resolver.RegionFor when a valid jurisdiction
// goes to no region.
var ErrNoRegion = errors.New("residency: no region for jurisdiction")

// Region is one region as a Resolver sees it.
type Region struct {
	Name string
	// Countries are the ISO 3166-1 alpha-2 codes the region claims.
	Countries []string
	// CatchAll is true when the region takes every country that no region
	// claims.
	CatchAll bool
}

// Resolver maps jurisdictions to regions. It is immutable and safe for
// concurrent use. The zero Resolver has no regions.
type Resolver struct {
	regions   []string          // in policy order
	byCountry map[string]string // every country that goes somewhere
}

// New returns the resolver of regions, in order: a country goes to the
// first region that claims it, else to the first catch-all region, else
// to the region named fallback ("" for none). It fails on an empty or
// repeated region name, a country that is not an ISO 3166-1 alpha-2 code,
// or a fallback that is not one of the regions.
func New(regions []Region, fallback string) (*Resolver, error) {
	r := &Resolver{byCountry: make(map[string]string, len(countryCodes))}
	catchAll := ""
	for _, reg := range regions {
		if reg.Name == "" || slices.Contains(r.regions, reg.Name) {
			return nil, fmt.Errorf("residency: region name %q is empty or repeated", reg.Name)
		}
		r.regions = append(r.regions, reg.Name)
		for _, c := range reg.Countries {
			if !IsCountry(c) {
				return nil, fmt.Errorf("residency: region %s claims %q, which is not an ISO 3166-1 alpha-2 code", reg.Name, c)
			}
			if _, ok := r.byCountry[c]; !ok {
				r.byCountry[c] = reg.Name
			}
		}
		if reg.CatchAll && catchAll == "" {
			catchAll = reg.Name
		}
	}
	if fallback != "" && !slices.Contains(r.regions, fallback) {
		return nil, fmt.Errorf("residency: fallback region %q is not a region", fallback)
	}
	if catchAll == "" {
		catchAll = fallback
	}
	if catchAll != "" {
		for _, c := range countryCodes {
			if _, ok := r.byCountry[c]; !ok {
				r.byCountry[c] = catchAll
			}
		}
	}
	return r, nil
}

// RegionFor returns the name of the region that holds the data of subjects
// of jurisdiction, an ISO 3166-1 alpha-2 code in either case. Anything
// else (groups such as "EU", alpha-3 codes) gives an error wrapping
// ErrUnknownJurisdiction; a country that goes to no region one wrapping
// ErrNoRegion. Errors never quote more than 8 bytes of the argument.
func (r *Resolver) RegionFor(jurisdiction string) (string, error) {
	code := strings.ToUpper(jurisdiction)
	if !IsCountry(code) {
		if len(jurisdiction) > 8 {
			jurisdiction = jurisdiction[:8] + "..."
		}
		return "", fmt.Errorf("%w %q", ErrUnknownJurisdiction, jurisdiction)
	}
	if name, ok := r.byCountry[code]; ok {
		return name, nil
	}
	return "", fmt.Errorf("%w %s", ErrNoRegion, code)
}

// Regions returns the region names, in order.
func (r *Resolver) Regions() []string { return slices.Clone(r.regions) }

// Has reports whether name is one of the regions.
func (r *Resolver) Has(name string) bool { return slices.Contains(r.regions, name) }
