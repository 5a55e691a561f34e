package policy

import (
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
	countryCodes = strings.Fields(iso3166)
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
// alphabetical order.
func Countries() []string { return slices.Clone(countryCodes) }

// IsCountry reports whether code is an officially assigned ISO 3166-1
// alpha-2 code. It is case-sensitive: codes are upper case.
func IsCountry(code string) bool {
	_, ok := slices.BinarySearch(countryCodes, code)
	return ok
}

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
