package tokens

import (
	"regexp"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"

	"github.com/domicile/domicile/internal/normalize"
)

// validPhone reports whether s is a valid E.164 number in normal form: the
// phone normaliser accepts it and gives it back unchanged. It is the
// definition; phoneCheck is the fast way to the same answer.
func validPhone(s string) bool {
	n, err := normalize.NormalizePhone(s, "")
	return err == nil && n == s
}

// phoneCheck answers validPhone for the candidates of one cycle walk, which
// all share the "+" and the country calling code, at about a third of the
// cost: it builds the number libphonenumber's parser would build instead
// of parsing it (parsing is half of validPhone's time, most of it in the
// extension and national-prefix regular expressions).
//
// It is exact. validPhone(s) holds only when parsing s gives back the
// calling code and national number written in s, which is the number
// phoneCheck builds; so when the built number is invalid, so is s. The
// parser changes the national number in one case only: when it starts
// with the national prefix of the calling code's main region (the "0" of
// "+440..."), which the parser may strip. For those candidates, and for
// calling codes the parser would split differently, phoneCheck asks
// validPhone itself. TestPhoneCheckExact compares the two over random and
// near-valid numbers of every calling code.
type phoneCheck struct {
	cc      int            // the country calling code, 0 when validPhone decides
	ccLen   int            // its digits in s, after the "+"
	natPref *regexp.Regexp // the national prefix for parsing, anchored; nil when none
}

// newPhoneCheck returns the check for numbers that start with "+" and
// ccLen digits of calling code, as s does.
func newPhoneCheck(s string, ccLen int) phoneCheck {
	codes := phonenumbers.GetSupportedCallingCodes()
	// The parser takes the shortest prefix that is a calling code.
	for i := 1; i < ccLen; i++ {
		if c, _ := strconv.Atoi(s[1 : 1+i]); codes[c] {
			return phoneCheck{}
		}
	}
	cc, err := strconv.Atoi(s[1 : 1+ccLen])
	if err != nil || !codes[cc] {
		return phoneCheck{}
	}
	re, ok := nationalPrefixes()[cc]
	if !ok {
		return phoneCheck{}
	}
	return phoneCheck{cc: cc, ccLen: ccLen, natPref: re}
}

// valid reports validPhone(s) for s of the shape newPhoneCheck was given.
func (p phoneCheck) valid(s string) bool {
	nsn := s[1+p.ccLen:]
	if p.cc == 0 || (p.natPref != nil && p.natPref.MatchString(nsn)) || len(nsn) < 2 {
		return validPhone(s)
	}
	v, err := strconv.ParseUint(nsn, 10, 64)
	if err != nil {
		return validPhone(s)
	}
	num := &phonenumbers.PhoneNumber{CountryCode: ptr(int32(p.cc)), NationalNumber: &v}
	// As the parser records leading zeros of the national number (Italy's
	// "06...") so that formatting gives them back.
	if nsn[0] == '0' {
		num.ItalianLeadingZero = ptr(true)
		zeros := 1
		for zeros < len(nsn)-1 && nsn[zeros] == '0' {
			zeros++
		}
		if zeros != 1 {
			num.NumberOfLeadingZeros = ptr(int32(zeros))
		}
	}
	return phonenumbers.IsValidNumber(num)
}

func ptr[T any](v T) *T { return &v }

// nationalPrefixes maps each calling code to its main region's national
// prefix for parsing, anchored as the parser anchors it (nil: the region
// has none). It is built once from libphonenumber's metadata, which is
// compiled into the binary and never changes while it runs.
var nationalPrefixes = sync.OnceValue(func() map[int]*regexp.Regexp {
	out := map[int]*regexp.Regexp{}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return out // every calling code then takes validPhone
	}
	for _, md := range coll.GetMetadata() {
		cc := int(md.GetCountryCode())
		if phonenumbers.GetRegionCodeForCountryCode(cc) != md.GetId() {
			continue
		}
		var re *regexp.Regexp
		if p := md.GetNationalPrefixForParsing(); p != "" {
			var err error
			if re, err = regexp.Compile("^(?:" + p + ")"); err != nil {
				continue // validPhone decides
			}
		}
		out[cc] = re
	}
	return out
})
