package seed

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/nyaruka/phonenumbers"
)

func TestDeterminism(t *testing.T) {
	js := Jurisdictions()
	a := New(42).Customers(200, js)
	b := New(42).Customers(200, js)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different customers (-first +second):\n%s", diff)
	}
	c := New(43).Customers(200, js)
	same := 0
	for i := range a {
		if cmp.Equal(a[i], c[i]) {
			same++
		}
	}
	if same != 0 {
		t.Errorf("seeds 42 and 43 share %d of %d customers", same, len(a))
	}
	ref := time.Date(2030, 6, 15, 13, 0, 0, 0, time.FixedZone("X", 3600))
	d := NewAt(42, ref).Customers(200, js)
	e := NewAt(42, ref.Add(5*time.Hour)).Customers(200, js)
	if !cmp.Equal(d, e) {
		t.Error("NewAt depends on more than the calendar date of ref")
	}
}

func TestJurisdictions(t *testing.T) {
	js := Jurisdictions()
	want := []string{"CN", "RU", "DE", "FR", "US", "BR", "GB", "JP", "IN", "IT", "ES", "NL", "SE", "PL", "CA", "MX"}
	if diff := cmp.Diff(want, js); diff != "" {
		t.Fatalf("Jurisdictions() (-want +got):\n%s", diff)
	}
	js[0] = "XX"
	if Jurisdictions()[0] != "CN" {
		t.Error("Jurisdictions returns shared storage")
	}
	for _, j := range want {
		if !Supported(j) {
			t.Errorf("Supported(%q) = false", j)
		}
	}
	for _, j := range []string{"", "cn", "XX", "EU"} {
		if Supported(j) {
			t.Errorf("Supported(%q) = true", j)
		}
	}
}

func TestCustomerPanicsOnUnsupported(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `"de"`) {
			t.Errorf("recover() = %v, want a panic naming \"de\"", r)
		}
	}()
	New(1).Customer("de")
}

func TestCustomersRoundRobin(t *testing.T) {
	got := New(7).Customers(7, []string{"CN", "CN", "US"})
	want := []string{"CN", "CN", "US", "CN", "CN", "US", "CN"}
	for i, c := range got {
		if c.Jurisdiction != want[i] {
			t.Errorf("customer %d in %s, want %s", i, c.Jurisdiction, want[i])
		}
	}
	if n := len(New(7).Customers(0, nil)); n != 0 {
		t.Errorf("Customers(0) returned %d", n)
	}
	if n := len(New(7).Customers(-3, nil)); n != 0 {
		t.Errorf("Customers(-3) returned %d", n)
	}
	all := New(7).Customers(32, nil)
	if all[15].Jurisdiction != "MX" || all[16].Jurisdiction != "CN" {
		t.Error("empty jurisdiction list does not mean Jurisdictions()")
	}
}

func TestDecoyShape(t *testing.T) {
	// A decoy consumes randomness exactly like a customer: same seed, same record.
	for _, j := range Jurisdictions() {
		if !cmp.Equal(New(9).Decoy(j), New(9).Customer(j)) {
			t.Errorf("%s: decoy differs from customer drawn from the same state", j)
		}
	}
}

var (
	subjectRE = regexp.MustCompile(`^cust-[a-z2-7]{12}$`)
	localRE   = regexp.MustCompile(`^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$`)
	ssnRE     = regexp.MustCompile(`^9\d\d-(0[1-9]|[1-4]\d)-(\d{4})$`)
)

// TestGeneratedCustomers checks 2,000 customers over all jurisdictions.
func TestGeneratedCustomers(t *testing.T) {
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	customers := New(20260101).Customers(2000, Jurisdictions())
	seen := map[string]bool{}
	upper := 0
	for _, c := range customers {
		t.Run("", func(t *testing.T) {
			f := c.Fields
			where := fmt.Sprintf("%s %s", c.Jurisdiction, c.SubjectID)
			if !subjectRE.MatchString(c.SubjectID) {
				t.Errorf("%s: bad SubjectID", where)
			}
			if seen[c.SubjectID] {
				t.Errorf("%s: duplicate SubjectID", where)
			}
			seen[c.SubjectID] = true
			if len(f) != 6 {
				t.Errorf("%s: %d fields, want 6: %v", where, len(f), f)
			}
			for k, v := range f {
				if strings.TrimSpace(v) == "" || v != strings.TrimSpace(v) {
					t.Errorf("%s: field %s = %q", where, k, v)
				}
			}

			dob, err := time.Parse(time.DateOnly, f[FieldDateOfBirth])
			if err != nil {
				t.Fatalf("%s: date_of_birth: %v", where, err)
			}
			if a := age(dob, ref); a < 18 || a > 90 {
				t.Errorf("%s: age %d on %s", where, a, ref.Format(time.DateOnly))
			}

			checkPhone(t, where, c.Jurisdiction, f[FieldPhone])
			if checkEmail(t, where, f[FieldEmail]) {
				upper++
			}
			checkScript(t, where, c.Jurisdiction, f[FieldName])
			if err := verifyNationalID(c.Jurisdiction, f[FieldNationalID], dob, f[FieldName]); err != nil {
				t.Errorf("%s: national_id %q: %v", where, f[FieldNationalID], err)
			}
		})
	}
	if upper < 100 || upper > 600 {
		t.Errorf("%d of 2000 e-mails have upper case; want an occasional few hundred", upper)
	}
}

func age(dob, ref time.Time) int {
	a := ref.Year() - dob.Year()
	if ref.Month() < dob.Month() || ref.Month() == dob.Month() && ref.Day() < dob.Day() {
		a--
	}
	return a
}

func TestAgeBoundaries(t *testing.T) {
	for _, ref := range []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		first, last := birthRange(ref)
		if age(last, ref) != 18 || age(last.AddDate(0, 0, 1), ref) != 17 ||
			age(first, ref) != 90 || age(first.AddDate(0, 0, -1), ref) != 91 {
			t.Errorf("ref %s: birth range [%s, %s] misses the age limits",
				ref.Format(time.DateOnly), first.Format(time.DateOnly), last.Format(time.DateOnly))
		}
		g := NewAt(3, ref)
		for range 5000 {
			if d := g.birthDate(); d.Before(first) || d.After(last) {
				t.Fatalf("ref %s: birth date %s outside range", ref.Format(time.DateOnly), d.Format(time.DateOnly))
			}
		}
	}
}

func checkPhone(t *testing.T, where, region, phone string) {
	t.Helper()
	n, err := phonenumbers.Parse(phone, "ZZ")
	if err != nil {
		t.Errorf("%s: phone %q: %v", where, phone, err)
		return
	}
	if !phonenumbers.IsValidNumberForRegion(n, region) {
		t.Errorf("%s: phone %q not valid for %s", where, phone, region)
	}
	if e164 := phonenumbers.Format(n, phonenumbers.E164); e164 != phone {
		t.Errorf("%s: phone %q is not E.164 (%q)", where, phone, e164)
	}
}

// checkEmail reports whether the address has upper-case letters.
func checkEmail(t *testing.T, where, email string) bool {
	t.Helper()
	if strings.Count(email, "@") != 1 {
		t.Errorf("%s: email %q", where, email)
		return false
	}
	local, domain, _ := strings.Cut(email, "@")
	if !localRE.MatchString(local) || len(local) > 64 {
		t.Errorf("%s: email local part %q", where, local)
	}
	if !reservedDomain(strings.ToLower(domain)) {
		t.Errorf("%s: email domain %q is not reserved for examples", where, domain)
	}
	return email != strings.ToLower(email)
}

// reservedDomain reports whether d is under a name RFC 2606 reserves.
func reservedDomain(d string) bool {
	for _, r := range []string{"example.com", "example.net", "example.org"} {
		if d == r || strings.HasSuffix(d, "."+r) {
			return true
		}
	}
	return strings.HasSuffix(d, ".example")
}

// checkScript checks that names are written in the jurisdiction's script.
func checkScript(t *testing.T, where, j, name string) {
	t.Helper()
	var want *unicode.RangeTable
	switch j {
	case "CN":
		want = unicode.Han
	case "RU":
		want = unicode.Cyrillic
	case "JP":
		for _, r := range name {
			if r != ' ' && !unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) {
				t.Errorf("%s: name %q has non-Japanese %q", where, name, r)
			}
		}
		return
	default:
		want = unicode.Latin
	}
	for _, r := range name {
		if unicode.IsLetter(r) && !unicode.Is(want, r) {
			t.Errorf("%s: name %q has %q outside the expected script", where, name, r)
		}
	}
}

func TestDiacriticsAppear(t *testing.T) {
	cs := New(5).Customers(300, []string{"DE", "FR", "PL", "SE", "ES"})
	found := map[string]bool{}
	for _, c := range cs {
		for _, r := range c.Fields[FieldName] {
			if r > unicode.MaxASCII {
				found[c.Jurisdiction] = true
			}
		}
	}
	if len(found) != 5 {
		t.Errorf("diacritics seen only in %v", found)
	}
}

// TestPhoneTemplates samples every phone template; together with the
// 2,000-customer test this keeps the generate-and-check loop from needing
// its fallback.
func TestPhoneTemplates(t *testing.T) {
	t.Parallel()
	samples := 64
	if testing.Short() {
		samples = 8
	}
	sets := map[string][][]string{
		"CN": {cnMobile}, "JP": {jpMobile}, "IN": {inMobile}, "RU": {ruMobile},
		"DE": {deMobile}, "FR": {frMobile}, "GB": {gbMobile}, "PL": {plMobile},
		"IT": {itMobile}, "ES": {esMobile}, "NL": {nlMobile}, "SE": {seMobile},
	}
	for _, c := range usCities {
		sets["US"] = append(sets["US"], c.phones)
	}
	for _, c := range caCities {
		sets["CA"] = append(sets["CA"], c.phones)
	}
	for _, c := range mxCities {
		sets["MX"] = append(sets["MX"], c.phones)
	}
	for _, c := range brCities {
		sets["BR"] = append(sets["BR"], c.phones)
	}
	if len(sets) != len(countries) {
		t.Fatalf("templates for %d jurisdictions, want %d", len(sets), len(countries))
	}
	g := New(11)
	for region, lists := range sets {
		for _, list := range lists {
			for _, tmpl := range list {
				bad := 0
				for range samples {
					s := "+" + countries[region].dial + g.fill(tmpl)
					if !validPhone(s, region) {
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%s: template %q: %d of %d invalid", region, tmpl, bad, samples)
				}
			}
		}
	}
}

func TestPhoneFallback(t *testing.T) {
	got := New(1).phone("44", "GB", []string{"00000"})
	if !validPhone(got, "GB") {
		t.Errorf("fallback %q is not a valid GB number", got)
	}
}

func TestAsciiFold(t *testing.T) {
	for in, want := range map[string]string{
		"Jürgen": "jurgen", "Élodie": "elodie", "Lefèvre": "lefevre", "Łukasz": "lukasz",
		"Groß": "gross", "van den Berg": "vandenberg", "D'Angelo": "dangelo",
		"Jean-Baptiste": "jean-baptiste", "Алексей": "aleksey", "Фёдоров": "fedorov",
		"Щукин": "shchukin", "Åsa": "asa", "Núñez": "nunez", "Yılmaz": "yilmaz", "王": "",
	} {
		if got := asciiFold(in); got != want {
			t.Errorf("asciiFold(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkCustomer(b *testing.B) {
	g := New(1)
	js := Jurisdictions()
	i := 0
	for b.Loop() {
		g.Customer(js[i%len(js)])
		i++
	}
}

func ExampleGenerator_Customers() {
	for _, c := range New(2026).Customers(2, []string{"CN", "FR"}) {
		fmt.Println(c.Jurisdiction, subjectRE.MatchString(c.SubjectID), len(c.Fields))
	}
	// Output:
	// CN true 6
	// FR true 6
}
