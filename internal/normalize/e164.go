package normalize

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// ValidE164 reports whether s is a valid E.164 number in normal form: the
// phone normaliser accepts it and gives it back unchanged. It is the
// definition; E164Check is the fast way to the same answer.
func ValidE164(s string) bool {
	n, err := NormalizePhone(s, "")
	return err == nil && n == s
}

// E164Check answers ValidE164 for many numbers that share the "+" and the
// country calling code (the candidates of an fpe cycle walk) at about a
// third of the cost: it reads off s the number libphonenumber's parser
// would build instead of parsing it (parsing is half of the cost, most of
// it in the extension and national-prefix regular expressions), and checks
// its validity with patterns compiled once (numberTypes).
//
// It is exact. ValidE164(s) holds only when parsing s gives back the
// calling code and national number written in s, which is the number
// E164Check checks; so when the built number is invalid, so is s. The
// parser changes the national number in one case only: when it starts
// with the national prefix of the calling code's main region (the "0" of
// "+440..."), which the parser may strip. For those numbers, and for
// calling codes the parser would split differently, E164Check asks
// ValidE164 itself. TestE164CheckExact compares the two over random and
// near-valid numbers of every calling code.
type E164Check struct {
	cc    int // the country calling code, 0 when ValidE164 decides
	ccLen int // its digits in s, after the "+"
	*ccRules
}

// NewE164Check returns the check for numbers that start with "+" and
// ccLen digits of calling code, as s does; s is "+" and at least ccLen
// digits.
func NewE164Check(s string, ccLen int) E164Check {
	codes := phonenumbers.GetSupportedCallingCodes()
	// The parser takes the shortest prefix that is a calling code.
	for i := 1; i < ccLen; i++ {
		if c, _ := strconv.Atoi(s[1 : 1+i]); codes[c] {
			return E164Check{}
		}
	}
	cc, err := strconv.Atoi(s[1 : 1+ccLen])
	if err != nil || !codes[cc] {
		return E164Check{}
	}
	rules, ok := phoneRules()[cc]
	if !ok {
		return E164Check{}
	}
	return E164Check{cc: cc, ccLen: ccLen, ccRules: rules}
}

// Valid reports ValidE164(s) for s of the shape NewE164Check was given.
func (p E164Check) Valid(s string) bool {
	valid, decided := p.exact(s)
	if !decided {
		return ValidE164(s)
	}
	return valid
}

// exact is Valid without the parser: decided is false for the numbers only
// ValidE164 can answer (see E164Check).
func (p E164Check) exact(s string) (valid, decided bool) {
	nsn := s[1+p.ccLen:]
	if p.cc == 0 || (p.natPref != nil && p.natPref.MatchString(nsn)) || len(nsn) < 2 {
		return false, false
	}
	// The number the parser would build has nsn, leading zeros included
	// (Italy's "06..."), as its national significant number: its validity
	// is nsn's.
	if _, err := strconv.ParseUint(nsn, 10, 64); err != nil {
		return false, false
	}
	return p.ccRules.valid(nsn), true
}

// internationalForm returns the normal form of s without the parser when s
// is a number written in international form with nothing but spaces,
// hyphens, dots and parentheses between its digits, and the digits left
// are a valid number that E164Check decides. The parser would build the
// same number: it drops such punctuation before anything else, finds no
// extension (which needs a letter, "#", "," or ";"), and splits the digits
// as E164Check does. ok is false for anything else, which the parser
// handles (TestInternationalFormExact compares the two).
func internationalForm(s string) (e164 string, ok bool) {
	if len(s) < 3 || s[0] != '+' {
		return "", false
	}
	b := make([]byte, 1, len(s))
	b[0] = '+'
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	if len(b) < 4 || len(b) > 17 || b[1] == '0' { // E.164: at most 15 digits; no calling code starts with 0
		return "", false
	}
	c := string(b)
	for ccLen := 1; ccLen <= 3 && ccLen < len(c)-2; ccLen++ {
		check := NewE164Check(c, ccLen)
		if check.cc == 0 {
			continue
		}
		if valid, decided := check.exact(c); valid && decided {
			return c, true
		}
		return "", false
	}
	return "", false
}

// validNumber is phonenumbers.IsValidNumber(num), without its allocations
// (see numberTypes) and, for calling codes shared by several regions,
// checking the number once.
func validNumber(num *phonenumbers.PhoneNumber) bool {
	rules := phoneRules()[int(num.GetCountryCode())]
	if rules == nil {
		return phonenumbers.IsValidNumber(num)
	}
	return rules.valid(phonenumbers.GetNationalSignificantNumber(num))
}

// valid is phonenumbers.IsValidNumber for a number of the calling code of
// p with national significant number nsn. Where a calling code
// has several regions, IsValidNumber finds the number's region (the first
// whose leading digits match, or for which the number is valid) and then
// checks the number against that region again; this checks it once.
func (p *ccRules) valid(nsn string) bool {
	if len(p.regions) == 1 {
		return p.regions[0].types.valid(nsn)
	}
	for _, r := range p.regions {
		if r.leading != nil {
			if r.leading.MatchString(nsn) {
				return r.types.valid(nsn)
			}
		} else if r.types.valid(nsn) {
			return true
		}
	}
	return false
}

// ccRules is what E164Check and validNumber need of libphonenumber's
// metadata for one calling code.
type ccRules struct {
	// natPref is the national prefix for parsing of the calling code's
	// main region, anchored as the parser anchors it; nil when none.
	natPref *regexp.Regexp
	// regions are the calling code's regions in libphonenumber's order.
	regions []regionRule
}

// regionRule is one region of a calling code: its leading digits, anchored
// (nil when the region has none; used only where regions share the
// calling code), and its number types.
type regionRule struct {
	leading *regexp.Regexp
	types   *numberTypes
}

// numberTypes is one region's number descriptions, as
// phonenumbers.IsValidNumberForRegion reads them: a number is valid when
// it matches the general description and the description of at least one
// type. The library builds "^(?:" + pattern + ")$" and looks it up in its
// cache twice for every description it tries, on every call: a fifth of
// the bytes a create allocated. Here each is compiled once.
type numberTypes struct {
	general numberDesc
	// others are premium rate, toll free, shared cost, VoIP, personal
	// number, pager, UAN, voicemail and fixed line, in the library's
	// order.
	others []numberDesc
	// mobile is tried only when its pattern is not the fixed line's.
	mobile          numberDesc
	sameMobileFixed bool
}

// numberDesc is one number description: the lengths it allows (any, when
// none are listed) and its national number pattern, anchored at both ends
// (nil for an empty pattern, which only the empty number matches).
type numberDesc struct {
	lengths []int32
	pattern *regexp.Regexp
}

func (d *numberDesc) match(nsn string) bool {
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(nsn))) {
		return false
	}
	if d.pattern == nil {
		return nsn == ""
	}
	return d.pattern.MatchString(nsn)
}

// valid reports whether getNumberTypeHelper would give nsn a type other
// than UNKNOWN.
func (t *numberTypes) valid(nsn string) bool {
	if !t.general.match(nsn) {
		return false
	}
	for i := range t.others {
		if t.others[i].match(nsn) {
			return true
		}
	}
	return !t.sameMobileFixed && t.mobile.match(nsn)
}

// newNumberTypes compiles md's number descriptions.
func newNumberTypes(md *phonenumbers.PhoneMetadata) (*numberTypes, error) {
	desc := func(d *phonenumbers.PhoneNumberDesc) (numberDesc, error) {
		if d == nil {
			return numberDesc{}, errors.New("no description")
		}
		nd := numberDesc{lengths: d.PossibleLength}
		if p := d.GetNationalNumberPattern(); p != "" {
			re, err := regexp.Compile("^(?:" + p + ")$")
			if err != nil {
				return numberDesc{}, err
			}
			nd.pattern = re
		}
		return nd, nil
	}
	t := &numberTypes{sameMobileFixed: md.GetSameMobileAndFixedLinePattern()}
	var err error
	if t.general, err = desc(md.GetGeneralDesc()); err != nil {
		return nil, err
	}
	if t.mobile, err = desc(md.GetMobile()); err != nil {
		return nil, err
	}
	for _, d := range []*phonenumbers.PhoneNumberDesc{md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(),
		md.GetVoip(), md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail(), md.GetFixedLine()} {
		nd, err := desc(d)
		if err != nil {
			return nil, err
		}
		t.others = append(t.others, nd)
	}
	return t, nil
}

// phoneRules maps each calling code to its rules. It is built once from
// libphonenumber's metadata, which is compiled into the binary and never
// changes while it runs; a calling code missing from it (its metadata did
// not compile here) takes libphonenumber's own path.
var phoneRules = sync.OnceValue(func() map[int]*ccRules {
	out := map[int]*ccRules{}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return out
	}
	// Non-geographic calling codes share the id "001": key by both.
	type key struct {
		id string
		cc int
	}
	meta := map[key]*phonenumbers.PhoneMetadata{}
	for _, md := range coll.GetMetadata() {
		meta[key{md.GetId(), int(md.GetCountryCode())}] = md
	}
	anchored := func(p string) (*regexp.Regexp, error) {
		if p == "" {
			return nil, nil
		}
		return regexp.Compile("^(?:" + p + ")")
	}
next:
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		regions := phonenumbers.GetRegionCodesForCountryCode(cc)
		if len(regions) == 0 {
			continue
		}
		main := meta[key{regions[0], cc}]
		if main == nil {
			continue
		}
		natPref, err := anchored(main.GetNationalPrefixForParsing())
		if err != nil {
			continue
		}
		rules := &ccRules{natPref: natPref}
		for _, code := range regions {
			md := meta[key{code, cc}]
			if md == nil {
				continue next
			}
			leading, err := anchored(md.GetLeadingDigits())
			if err != nil {
				continue next
			}
			types, err := newNumberTypes(md)
			if err != nil {
				continue next
			}
			rules.regions = append(rules.regions, regionRule{leading: leading, types: types})
		}
		out[cc] = rules
	}
	return out
})
