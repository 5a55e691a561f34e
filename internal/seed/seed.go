// Package seed generates deterministic synthetic customers for development
// vaults (`domicile dev`) and end-to-end tests.
//
// Every value is made up but shaped like the real thing in its jurisdiction:
// names in the local script, national identifiers with correct check digits,
// phone numbers valid per libphonenumber metadata, local-style addresses whose
// city agrees with the identifier and the phone area code where the country
// encodes one. Some choices keep the data from touching real people:
//
//   - e-mail domains are reserved by RFC 2606 (example.com, example.net,
//     example.org, their subdomains and the .example top-level domain);
//   - US SSNs use the never-issued 9xx area with a group outside the ITIN
//     ranges, and Canadian SINs start with 0, which is never assigned;
//   - US and Canadian phone numbers are in the 555-0100..0199 block that is
//     reserved for fiction.
//
// Other identifiers (for example a German tax id) are merely well-formed and
// may coincide with a real one; they are never paired with a real name.
package seed

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Field names of a Customer's Fields map.
const (
	FieldName        = "name"
	FieldEmail       = "email"
	FieldPhone       = "phone"
	FieldNationalID  = "national_id"
	FieldDateOfBirth = "date_of_birth"
	FieldAddress     = "address"
)

// SubjectIDPrefix starts every generated SubjectID.
const SubjectIDPrefix = "cust-"

const (
	// idAlphabet is the lower-case RFC 4648 base32 alphabet.
	idAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
	idLen      = 12
	// pcgStream is the fixed second PCG seed word; the caller's seed is the first.
	pcgStream = 0x646f6d6963696c65 // "domicile"
	// maxPhoneTries bounds the generate-and-validate loop for phone numbers.
	maxPhoneTries = 32
	minAge        = 18
	maxAge        = 90
)

// Customer is one synthetic customer of the `customers` collection.
type Customer struct {
	SubjectID    string            // SubjectIDPrefix + 12 random lower-case base32 chars
	Jurisdiction string            // ISO 3166-1 alpha-2
	Fields       map[string]string // name, email, phone, national_id, date_of_birth, address
}

// Generator makes deterministic customers from a seed: two generators built
// with the same seed and reference date return the same customers for the
// same sequence of calls. A Generator is not safe for concurrent use.
type Generator struct {
	rng *rand.Rand
	ref time.Time // reference date for ages, midnight UTC
}

// New returns a Generator seeded with seed whose ages are relative to
// 2026-01-01. It never reads the clock.
func New(seed uint64) *Generator {
	return NewAt(seed, time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC))
}

// NewAt is like New but computes ages relative to the calendar date of ref
// (its time of day and location are ignored).
func NewAt(seed uint64, ref time.Time) *Generator {
	y, m, d := ref.Date()
	return &Generator{
		rng: rand.New(rand.NewPCG(seed, pcgStream)),
		ref: time.Date(y, m, d, 0, 0, 0, 0, time.UTC),
	}
}

// Jurisdictions returns, in a fixed order, the ISO 3166-1 alpha-2 codes that
// Customer accepts. The caller owns the returned slice.
func Jurisdictions() []string {
	out := make([]string, len(jurisdictionOrder))
	copy(out, jurisdictionOrder)
	return out
}

// Supported reports whether Customer accepts jurisdiction.
func Supported(jurisdiction string) bool {
	_, ok := countries[jurisdiction]
	return ok
}

// Customer returns the next customer resident in jurisdiction, which must be
// one of Jurisdictions() (upper case); Customer panics otherwise, as the list
// is fixed at compile time and Supported can check user input first.
func (g *Generator) Customer(jurisdiction string) Customer {
	c, ok := countries[jurisdiction]
	if !ok {
		panic("seed: unsupported jurisdiction " + strconv.Quote(jurisdiction))
	}
	id := g.subjectID()
	p := person{female: g.rng.IntN(2) == 1, dob: g.birthDate()}
	who := c.make(g, p)
	return Customer{
		SubjectID:    id,
		Jurisdiction: jurisdiction,
		Fields: map[string]string{
			FieldName:        who.name,
			FieldEmail:       g.email(jurisdiction, who),
			FieldPhone:       g.phone(c.dial, jurisdiction, who.phones),
			FieldNationalID:  who.nationalID,
			FieldDateOfBirth: p.dob.Format(time.DateOnly),
			FieldAddress:     who.address,
		},
	}
}

// Customers returns n customers assigned round-robin over jurisdictions, so
// listing a code twice doubles its share. An empty list means Jurisdictions().
// Like Customer, it panics on an unsupported code.
func (g *Generator) Customers(n int, jurisdictions []string) []Customer {
	if len(jurisdictions) == 0 {
		jurisdictions = jurisdictionOrder
	}
	out := make([]Customer, 0, max(n, 0))
	for i := range max(n, 0) {
		out = append(out, g.Customer(jurisdictions[i%len(jurisdictions)]))
	}
	return out
}

// Decoy returns a honeytoken customer for jurisdiction. It is drawn from
// exactly the same distribution as Customer, SubjectID included, so nothing in
// its shape tells it apart; callers record which subjects are decoys.
func (g *Generator) Decoy(jurisdiction string) Customer {
	return g.Customer(jurisdiction)
}

// person is what is decided before the country-specific part runs.
type person struct {
	female bool
	dob    time.Time
}

// identity is the country-specific part of a customer.
type identity struct {
	name          string   // display name in the local script and order
	given, family string   // for e-mail local parts; folded to ASCII later
	nationalID    string   // in the country's customary written form
	address       string   // one line, local conventions
	phones        []string // national-number templates, see fill
}

// country describes one supported jurisdiction.
type country struct {
	dial string // ITU country calling code, without "+"
	make func(g *Generator, p person) identity
}

var jurisdictionOrder = []string{
	"CN", "RU", "DE", "FR", "US", "BR",
	"GB", "JP", "IN", "IT", "ES", "NL", "SE", "PL", "CA", "MX",
}

// countries is a read-only table.
var countries = map[string]country{
	"CN": {"86", makeCN},
	"RU": {"7", makeRU},
	"DE": {"49", makeDE},
	"FR": {"33", makeFR},
	"US": {"1", makeUS},
	"BR": {"55", makeBR},
	"GB": {"44", makeGB},
	"JP": {"81", makeJP},
	"IN": {"91", makeIN},
	"IT": {"39", makeIT},
	"ES": {"34", makeES},
	"NL": {"31", makeNL},
	"SE": {"46", makeSE},
	"PL": {"48", makePL},
	"CA": {"1", makeCA},
	"MX": {"52", makeMX},
}

func (g *Generator) subjectID() string {
	var b [len(SubjectIDPrefix) + idLen]byte
	copy(b[:], SubjectIDPrefix)
	v := g.rng.Uint64()
	for i := len(SubjectIDPrefix); i < len(b); i++ {
		b[i] = idAlphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// birthDate returns a date on which a person is between minAge and maxAge
// years old (inclusive) at g.ref.
func (g *Generator) birthDate() time.Time {
	earliest, latest := birthRange(g.ref)
	days := int(latest.Sub(earliest).Hours() / 24)
	return earliest.AddDate(0, 0, g.rng.IntN(days+1))
}

// birthRange returns the first and last birth dates of people aged minAge to
// maxAge on ref.
func birthRange(ref time.Time) (earliest, latest time.Time) {
	return yearsBefore(ref, maxAge+1).AddDate(0, 0, 1), yearsBefore(ref, minAge)
}

// yearsBefore returns the same calendar day n years before t, or the last day
// of the month when that day does not exist (29 February).
func yearsBefore(t time.Time, n int) time.Time {
	d := t.AddDate(-n, 0, 0)
	if d.Day() != t.Day() {
		d = d.AddDate(0, 0, -d.Day())
	}
	return d
}

// pick returns a uniformly chosen element of xs.
func pick[T any](g *Generator, xs []T) T { return xs[g.rng.IntN(len(xs))] }

// between returns a uniform int in [lo, hi].
func (g *Generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

// chance reports true with probability 1/n.
func (g *Generator) chance(n int) bool { return g.rng.IntN(n) == 0 }

// digits returns n random decimal digits.
func (g *Generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

// fill expands a number template: '#' is any digit, 'X' is 1-9 and 'N' is
// 2-9; any other byte is copied.
func (g *Generator) fill(tmpl string) string {
	b := []byte(tmpl)
	for i, c := range b {
		switch c {
		case '#':
			b[i] = byte('0' + g.rng.IntN(10))
		case 'X':
			b[i] = byte('1' + g.rng.IntN(9))
		case 'N':
			b[i] = byte('2' + g.rng.IntN(8))
		}
	}
	return string(b)
}

// phone returns an E.164 number valid for region, built from templates. It
// retries a bounded number of times and then falls back to libphonenumber's
// example mobile number, which is valid by construction.
func (g *Generator) phone(dial, region string, templates []string) string {
	for range maxPhoneTries {
		s := "+" + dial + g.fill(pick(g, templates))
		if validPhone(s, region) {
			return s
		}
	}
	return phonenumbers.Format(phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE), phonenumbers.E164)
}

// validPhone reports whether the E.164 string s is a valid number of region.
func validPhone(s, region string) bool {
	n, err := phonenumbers.Parse(s, region)
	return err == nil && phonenumbers.IsValidNumberForRegion(n, region) &&
		phonenumbers.Format(n, phonenumbers.E164) == s
}

// pad formats v as a zero-padded decimal of width w.
func pad(v, w int) string {
	s := strconv.Itoa(v)
	if len(s) < w {
		s = strings.Repeat("0", w-len(s)) + s
	}
	return s
}
