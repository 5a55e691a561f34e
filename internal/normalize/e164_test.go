package normalize

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/domicile/domicile/internal/token/format"
)

// libValid is ValidE164 by libphonenumber's own functions alone: what the
// shortcuts of E164Check and validNumber must agree with.
func libValid(s string) bool {
	num, err := phonenumbers.Parse(s, "")
	return err == nil && phonenumbers.IsValidNumber(num) && phonenumbers.Format(num, phonenumbers.E164) == s
}

// TestE164CheckExact holds E164Check and ValidE164 (whose validity check
// takes validNumber's shortcut) to libphonenumber's own answer over
// numbers of every calling code: random national numbers of every length
// (with and without leading zeros and national prefixes), and numbers one
// to seven digits away from each region's example numbers, which are
// valid about as often as a cycle walk's candidates.
func TestE164CheckExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 7))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	var cases []string
	codes := phonenumbers.GetSupportedCallingCodes()
	ccs := make([]int, 0, len(codes))
	for cc := range codes {
		ccs = append(ccs, cc)
	}
	slices.Sort(ccs)
	for _, cc := range ccs {
		for n := 6; n <= 12; n++ {
			for range 4 {
				cases = append(cases, "+"+strconv.Itoa(cc)+digits(n))
			}
			cases = append(cases, "+"+strconv.Itoa(cc)+"0"+digits(n-1), "+"+strconv.Itoa(cc)+"1"+digits(n-1))
		}
		for _, region := range phonenumbers.GetRegionCodesForCountryCode(cc) {
			for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE,
				phonenumbers.TOLL_FREE, phonenumbers.VOIP, phonenumbers.UAN} {
				ex := phonenumbers.GetExampleNumberForType(region, typ)
				if ex == nil {
					continue
				}
				s := phonenumbers.Format(ex, phonenumbers.E164)
				cases = append(cases, s)
				for k := 1; k <= 7 && k < len(s)-2; k++ {
					cases = append(cases, s[:len(s)-k]+digits(k))
				}
			}
		}
	}
	valid, fast := 0, 0
	for _, s := range cases {
		ccLen, err := format.SplitE164(s)
		if err != nil {
			continue
		}
		want := libValid(s)
		if got := ValidE164(s); got != want {
			t.Errorf("%s: ValidE164 says valid=%v, libphonenumber says %v", s, got, want)
		}
		check := NewE164Check(s, ccLen)
		if check.cc != 0 && (check.natPref == nil || !check.natPref.MatchString(s[1+ccLen:])) {
			fast++
		}
		if got := check.Valid(s); got != want {
			t.Errorf("%s: E164Check says valid=%v, libphonenumber says %v", s, got, want)
		}
		if want {
			valid++
		}
	}
	// The comparison means something only if both answers occur often.
	if valid < len(cases)/10 || valid > len(cases)*9/10 || fast < len(cases)/2 {
		t.Fatalf("%d of %d cases valid, %d on the fast path: the sample does not exercise both answers of the fast path", valid, len(cases), fast)
	}
	t.Logf("%d cases, %d valid, %d on the fast path", len(cases), valid, fast)
}
