package policy

import (
	"slices"
	"strings"

	"github.com/domicile/domicile/internal/residency"
)

// The jurisdiction groups a policy may name.
const (
	// GroupEU is the 27 member states of the European Union.
	GroupEU = "EU"
	// GroupEEA is the European Economic Area: the EU plus Iceland,
	// Liechtenstein and Norway.
	GroupEEA = "EEA"
	// Everywhere, written "*", stands for every country that no other
	// region claims.
	Everywhere = "*"
)

// euMembers are the member states of the European Union (since 2020).
const euMembers = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"

// eeaOnly are the EEA members outside the EU.
const eeaOnly = "IS LI NO"

var (
	// countryCodes are the ISO 3166-1 alpha-2 codes, package residency's.
	countryCodes = residency.Countries()
	groups       = map[string][]string{
		GroupEU:  strings.Fields(euMembers),
		GroupEEA: slices.Concat(strings.Fields(euMembers), strings.Fields(eeaOnly)),
	}
)

// wellKnownMistakes maps codes people write for a country to its assigned
// code.
var wellKnownMistakes = map[string]string{
	"UK": "GB", // the United Kingdom's assigned code is GB
	"EL": "GR", // the EU writes Greece EL; ISO 3166 assigns GR
}

// Countries returns every officially assigned ISO 3166-1 alpha-2 code, in
// alphabetical order. It is residency.Countries.
func Countries() []string { return residency.Countries() }

// IsCountry reports whether code is an officially assigned ISO 3166-1
// alpha-2 code. It is case-sensitive: codes are upper case. It is
// residency.IsCountry.
func IsCountry(code string) bool { return residency.IsCountry(code) }

// Group returns the member countries of a jurisdiction group ("EU" or
// "EEA"), and false for any other name.
func Group(name string) ([]string, bool) {
	g, ok := groups[name]
	return slices.Clone(g), ok
}

// expand returns the countries a jurisdiction entry stands for: itself for
// a country, the members for a group, nothing for "*" or a bad entry.
func expand(entry string) []string {
	if g, ok := groups[entry]; ok {
		return g
	}
	if IsCountry(entry) {
		return []string{entry}
	}
	return nil
}
