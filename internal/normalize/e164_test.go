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

// libNormalize is NormalizePhone by libphonenumber's own functions alone,
// for a number in international form.
func libNormalize(s string) (string, bool) {
	num, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

// TestInternationalFormExact holds NormalizePhone's shortcut to the
// parser's answer over every region's example numbers written the ways
// people write them (libphonenumber's international format, and the digits
// with random spaces, hyphens, dots and parentheses), near-valid numbers,
// and numbers whose national part starts with a national prefix.
func TestInternationalFormExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 11))
	seps := []string{"", " ", "-", ".", "(", ")", " (", ") ", " - "}
	scatter := func(s string) string {
		out := []byte{'+'}
		for i := 1; i < len(s); i++ {
			if rng.IntN(3) == 0 {
				out = append(out, seps[rng.IntN(len(seps))]...)
			}
			out = append(out, s[i])
		}
		return string(out)
	}
	var regions []string
	for region := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, region)
	}
	slices.Sort(regions) // the same cases every run
	var cases []string
	for _, region := range regions {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE} {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			e164 := phonenumbers.Format(ex, phonenumbers.E164)
			cc := strconv.Itoa(int(ex.GetCountryCode()))
			cases = append(cases, e164, phonenumbers.Format(ex, phonenumbers.INTERNATIONAL), scatter(e164), scatter(e164),
				e164[:len(e164)-1], e164+"0", "+"+cc+"0"+e164[1+len(cc):], "+"+cc+" (0) "+e164[1+len(cc):])
		}
	}
	fast, agree := 0, 0
	for _, s := range cases {
		want, wantOK := libNormalize(s)
		got, ok := internationalForm(s)
		if ok {
			fast++
			if !wantOK || got != want {
				t.Errorf("%q: the shortcut gives %q, the parser %q (valid=%v)", s, got, want, wantOK)
			}
		}
		n, err := NormalizePhone(s, "")
		if (err == nil) != wantOK || n != want {
			t.Errorf("%q: NormalizePhone = %q, %v; the parser %q (valid=%v)", s, n, err, want, wantOK)
		} else {
			agree++
		}
	}
	if fast < len(cases)/3 {
		t.Fatalf("only %d of %d cases took the shortcut: the test does not exercise it", fast, len(cases))
	}
	t.Logf("%d cases, %d on the shortcut, %d agree", len(cases), fast, agree)
}

// FuzzInternationalForm: whatever the input, the shortcut answers only
// what the parser answers.
func FuzzInternationalForm(f *testing.F) {
	for _, s := range []string{"+1 (202) 555-0143", "+49 30 901820", "+44 (0) 20 7946 0958", "+86 138 0013 8000", "+39 06 6982 0000", "+7 (495) 123-45-67", "+800 1234 5678", "+1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxPhoneLength {
			return // NormalizePhone refuses it before the shortcut, as the parser does
		}
		got, ok := internationalForm(s)
		if !ok {
			return
		}
		if want, wantOK := libNormalize(s); !wantOK || got != want {
			t.Fatalf("%q: the shortcut gives %q, the parser %q (valid=%v)", s, got, want, wantOK)
		}
	})
}
