// Package decoys makes the decoy customers (honeytokens) that the breach
// detector plants in a region: guard.Guard.Seed creates them like any
// record and raises a critical alert when one is read.
//
// A decoy must not be told apart from a real customer by anything in it,
// so each is drawn fresh from a generator seeded by crypto/rand and looks
// like a customer of its country: a name in the local script and order, a
// national identifier in the country's written form with valid check
// characters, a mobile number valid for the country by libphonenumber's
// metadata, an address in local style, an e-mail address at a mail
// provider common there, and a date of birth of an adult. The values are
// made up; any of them may coincide with a real person's, but never all of
// them, and Domicile never contacts anyone.
//
// The package is a leaf: it depends on the guard's types and the phone
// metadata only, never on the development sample data (internal/seed).
package decoys

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"

	"github.com/domicile/domicile/internal/guard"
)

// Field names of a decoy's Fields: those of the policy's customers
// collection.
const (
	FieldName        = "name"
	FieldEmail       = "email"
	FieldPhone       = "phone"
	FieldNationalID  = "national_id"
	FieldDateOfBirth = "date_of_birth"
	FieldAddress     = "address"
)

const (
	minAge = 18
	maxAge = 90
	// maxPhoneTries bounds the draw-and-validate loop of phone numbers;
	// with the prefixes of each country far fewer are needed.
	maxPhoneTries = 1000
)

// Generator makes decoy customers. It is safe for concurrent use.
type Generator struct {
	mu  sync.Mutex
	r   rnd
	now func() time.Time
}

var _ guard.DecoyGenerator = (*Generator)(nil)

// New returns a Generator seeded from crypto/rand, so that nobody can
// predict its decoys.
func New() *Generator {
	var seed [32]byte
	crand.Read(seed[:]) // never fails (crypto/rand panics rather)
	return &Generator{r: rnd{rand.New(rand.NewChaCha8(seed))}, now: time.Now}
}

// Jurisdictions returns, sorted, the ISO 3166-1 alpha-2 codes that the
// Generator makes decoys of.
func Jurisdictions() []string {
	return slices.Clone(jurisdictionOrder)
}

var jurisdictionOrder = []string{"BR", "CA", "CN", "DE", "ES", "FR", "GB", "IN", "IT", "JP", "MX", "NL", "PL", "RU", "SE", "US"}

// Supported reports whether the Generator makes decoys of jurisdiction (an
// ISO 3166-1 alpha-2 code, in either case).
func (g *Generator) Supported(jurisdiction string) bool {
	_, ok := countries[strings.ToUpper(jurisdiction)]
	return ok
}

// Decoy returns a new decoy customer resident in jurisdiction: a random
// subject id (a version 4 UUID, as customer ids often are) and every field
// of the customers collection. It fails for an unsupported jurisdiction.
func (g *Generator) Decoy(jurisdiction string) (guard.DecoyRecord, error) {
	j := strings.ToUpper(jurisdiction)
	c, ok := countries[j]
	if !ok {
		return guard.DecoyRecord{}, fmt.Errorf("decoys: no decoys for jurisdiction %q", jurisdiction)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := &g.r
	p := person{female: r.IntN(2) == 0, dob: r.birthDate(g.now())}
	who := c.make(r, p, g.now())
	prefixes := who.phones
	if prefixes == "" {
		prefixes = c.mobile
	}
	return guard.DecoyRecord{
		Subject:      r.uuid(),
		Jurisdiction: j,
		Fields: map[string]string{
			FieldName:        who.name,
			FieldEmail:       r.email(who, c.domains),
			FieldPhone:       r.phone(j, strings.Fields(prefixes)),
			FieldNationalID:  who.nationalID,
			FieldDateOfBirth: p.dob.Format(time.DateOnly),
			FieldAddress:     who.address,
		},
	}, nil
}

// person is what is decided before the country's part runs.
type person struct {
	female bool
	dob    time.Time
}

// identity is the country's part of a customer.
type identity struct {
	name          string // in the local script and order
	given, family string // for e-mail addresses: Latin script
	nationalID    string
	address       string
	phones        string // mobile prefixes near the address, if the country has them
}

// country makes the customers of one jurisdiction.
type country struct {
	make    func(r *rnd, p person, now time.Time) identity
	mobile  string // space-separated national prefixes of mobile numbers
	domains string // space-separated mail domains common in the country
}

// rnd is the generator's source with the draws the countries use.
type rnd struct{ *rand.Rand }

func (r *rnd) pick(xs []string) string { return xs[r.IntN(len(xs))] }

// between returns a uniform int in [lo, hi].
func (r *rnd) between(lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// chance reports true with probability 1/n.
func (r *rnd) chance(n int) bool { return r.IntN(n) == 0 }

// digits returns n random decimal digits.
func (r *rnd) digits(n int) string { return r.letters("0123456789", n) }

// letters returns n bytes drawn from set.
func (r *rnd) letters(set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}

// uuid returns a random version 4 UUID.
func (r *rnd) uuid() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// birthDate returns a date on which a person is minAge to maxAge years old
// on now's date.
func (r *rnd) birthDate(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	latest := today.AddDate(-minAge, 0, 0)
	earliest := today.AddDate(-maxAge-1, 0, 1)
	days := int(latest.Sub(earliest).Hours() / 24)
	return earliest.AddDate(0, 0, r.IntN(days+1))
}

// phone returns a mobile number of region in E.164, valid by
// libphonenumber's metadata: a prefix, then random digits up to the length
// of the region's example mobile number.
func (r *rnd) phone(region string, prefixes []string) string {
	ex := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	cc := fmt.Sprint(ex.GetCountryCode())
	length := len(phonenumbers.GetNationalSignificantNumber(ex))
	for range maxPhoneTries {
		p := ""
		if len(prefixes) > 0 {
			p = r.pick(prefixes)
		}
		s := "+" + cc + p + r.digits(max(length-len(p), 0))
		n, err := phonenumbers.Parse(s, region)
		if err != nil || !phonenumbers.IsValidNumberForRegion(n, region) || phonenumbers.Format(n, phonenumbers.E164) != s {
			continue
		}
		if t := phonenumbers.GetNumberType(n); t == phonenumbers.MOBILE || t == phonenumbers.FIXED_LINE_OR_MOBILE {
			return s
		}
	}
	// Not reached with the prefixes above (the tests draw thousands); the
	// example number is valid by construction.
	return phonenumbers.Format(ex, phonenumbers.E164)
}

// email returns an address built from the person's Latin-script name, or
// a random handle, at one of domains or a worldwide provider.
func (r *rnd) email(who identity, domains string) string {
	given, family := strings.ToLower(ascii(who.given)), strings.ToLower(ascii(who.family))
	var local string
	switch r.IntN(9) {
	case 0:
		local = given + "." + family
	case 1:
		local = given + family + r.digits(2)
	case 2:
		local = given[:1] + family
	case 3:
		local = family + "." + given
	case 4:
		local = given + "_" + family + pad(r.between(1, 999), 1)
	case 5:
		local = family + given[:1] + pad(r.between(1950, 2010), 4)
	case 6:
		local = given + "." + family + r.digits(1)
	case 7:
		local = given + pad(r.between(1, 99), 2)
	default:
		local = r.letters("bcdfghjklmnprstvz", 1) + r.letters("aeiou", 1) + r.letters("bcdfghjklmnprstvz", 1) +
			r.letters("aeiou", 1) + r.digits(r.between(2, 4))
	}
	ds := strings.Fields(domains)
	if r.chance(3) {
		ds = []string{"gmail.com", "outlook.com", "hotmail.com", "yahoo.com"}
	}
	return local + "@" + r.pick(ds)
}

// ascii folds a Latin-script name to ASCII letters and digits: accents
// dropped, ß as ss, spaces, hyphens and apostrophes removed.
func ascii(s string) string {
	s = strings.NewReplacer("ß", "ss", "ı", "i", "ł", "l", "Ł", "L", "ø", "o", "Ø", "O", "æ", "ae", "Æ", "AE").Replace(s)
	var b strings.Builder
	for _, c := range norm.NFD.String(s) {
		if c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c)) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// list splits a comma-separated list.
func list(s string) []string {
	out := strings.Split(s, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// romanized splits "native:latin" pairs, as in "王:wang,李:li".
func romanized(s string) [][2]string {
	var out [][2]string
	for _, e := range list(s) {
		native, latin, _ := strings.Cut(e, ":")
		out = append(out, [2]string{native, latin})
	}
	return out
}
