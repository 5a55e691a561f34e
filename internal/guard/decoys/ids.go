package decoys

import (
	"strconv"
	"strings"
	"time"
)

// National identifiers in each country's written form, with their check
// characters. The algorithms are the published ones; ids_test.go checks
// each against a published sample number.

// cnID returns a Chinese resident identity number (GB 11643-1999): the
// six-digit area code, the date of birth, a sequence number that is odd
// for men, and the ISO 7064 MOD 11-2 check character.
func cnID(r *rnd, area string, p person) string {
	seq := 2*r.IntN(499) + 2 // 002..998, even: a woman
	if !p.female {
		seq--
	}
	body := area + p.dob.Format("20060102") + pad(seq, 3)
	return body + string(mod11_2(body))
}

// mod11_2 is the ISO 7064 MOD 11-2 check character of 17 digits.
func mod11_2(body string) byte {
	sum := 0
	for i := range len(body) {
		sum += int(body[i]-'0') * (1 << (17 - i) % 11)
	}
	return "10X98765432"[sum%11]
}

// ruPassport returns a Russian internal passport number, "SSYY NNNNNN":
// the region's code and the two digits of the issue year (at 14, renewed
// at 20 and 45; Soviet passports were exchanged from 1997 to 2004).
func ruPassport(r *rnd, okato string, p person, now time.Time) string {
	age := now.Year() - p.dob.Year()
	issue := p.dob.Year() + 14
	switch {
	case age > 45:
		issue = p.dob.Year() + 45
	case age > 20:
		issue = p.dob.Year() + 20
	}
	if issue < 1997 {
		issue = r.between(1997, 2004)
	}
	return okato + pad(issue%100, 2) + " " + pad(r.between(100001, 999999), 6)
}

// deTaxID returns a German Steuer-ID: ten digits, not starting with 0, in
// which exactly one digit appears twice, then the ISO 7064 MOD 11,10
// check digit.
func deTaxID(r *rnd) string {
	for {
		d := r.Perm(10)
		i, j := r.IntN(10), r.IntN(10)
		if i == j {
			continue
		}
		d[j] = d[i]
		if d[0] == 0 {
			continue
		}
		var b strings.Builder
		for _, x := range d {
			b.WriteByte(byte('0' + x))
		}
		return b.String() + string(mod11_10(b.String()))
	}
}

// mod11_10 is the ISO 7064 MOD 11,10 check digit.
func mod11_10(body string) byte {
	p := 10
	for i := range len(body) {
		s := (int(body[i]-'0') + p) % 10
		if s == 0 {
			s = 10
		}
		p = s * 2 % 11
	}
	return byte('0' + (11-p)%10)
}

// frNIR returns a French social security number (NIR): sex, year and
// month of birth, the INSEE code of the commune, an order number and the
// key 97 - (number mod 97).
func frNIR(r *rnd, commune string, p person) string {
	sex := "1"
	if p.female {
		sex = "2"
	}
	body := sex + p.dob.Format("0601") + commune + pad(r.between(1, 999), 3)
	return body + nirKey(body)
}

// nirKey is the key of a 13-digit NIR: 97 - (number mod 97).
func nirKey(body string) string {
	n := 0
	for i := range len(body) {
		n = (n*10 + int(body[i]-'0')) % 97
	}
	return pad(97-n, 2)
}

// usSSN returns a Social Security number in an area the SSA assigns
// (001-899 but 666), group 01-99 and serial 0001-9999.
func usSSN(r *rnd) string {
	area := r.between(1, 898)
	if area >= 666 {
		area++
	}
	return pad(area, 3) + "-" + pad(r.between(1, 99), 2) + "-" + pad(r.between(1, 9999), 4)
}

// brCPF returns a Brazilian CPF whose ninth digit is the fiscal region
// and whose last two are the mod-11 check digits.
func brCPF(r *rnd, region string) string {
	for {
		d := r.digits(8) + region
		if d == strings.Repeat(d[:1], 9) {
			continue
		}
		d += cpfChecks(d)
		return d[:3] + "." + d[3:6] + "." + d[6:9] + "-" + d[9:]
	}
}

// cpfChecks returns the two check digits of the nine digits of a CPF.
func cpfChecks(body string) string {
	d := body
	for range 2 {
		sum := 0
		for i := range len(d) {
			sum += int(d[i]-'0') * (len(d) + 1 - i)
		}
		d += strconv.Itoa(mod11Digit(sum))
	}
	return d[len(body):]
}

// mod11Digit is 11 - sum mod 11, or 0 where that has two digits.
func mod11Digit(sum int) int {
	if c := 11 - sum%11; c < 10 {
		return c
	}
	return 0
}

// gbNINO returns a National Insurance number with an allocatable prefix.
func gbNINO(r *rnd) string {
	for {
		pre := r.letters("ABCEGHJKLMNOPRSTWXYZ", 1) + r.letters("ABCEGHJKLMNPRSTWXYZ", 1)
		switch pre {
		case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
			continue
		}
		return pre + r.digits(6) + r.letters("ABCD", 1)
	}
}

// jpMyNumber returns a Japanese Individual Number: eleven digits and the
// check digit of the Cabinet Office ordinance.
func jpMyNumber(r *rnd) string {
	body := strconv.Itoa(r.between(1, 9)) + r.digits(10)
	return body + strconv.Itoa(myNumberCheck(body))
}

// myNumberCheck is the check digit of the first eleven digits of an
// Individual Number.
func myNumberCheck(body string) int {
	sum := 0
	for n := 1; n <= 11; n++ {
		q := n + 1
		if n >= 7 {
			q = n - 5
		}
		sum += int(body[11-n]-'0') * q
	}
	return mod11Digit(sum)
}

// inPAN returns an Indian Permanent Account Number: three letters, P for
// a person, the surname's initial, four digits and a letter.
func inPAN(r *rnd, surname string) string {
	const az = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	return r.letters(az, 3) + "P" + strings.ToUpper(ascii(surname)[:1]) + pad(r.between(1, 9999), 4) + r.letters(az, 1)
}

// itFiscalCode returns an Italian codice fiscale: letters of the surname
// and name, year, month letter and day (plus 40 for women) of birth, the
// cadastral code of the comune and the check letter.
func itFiscalCode(family, given string, p person, comune string) string {
	fc, fv := consonantsVowels(family)
	gc, gv := consonantsVowels(given)
	var b strings.Builder
	b.WriteString((fc + fv + "XXX")[:3])
	if len(gc) >= 4 {
		b.WriteString(gc[:1] + gc[2:4])
	} else {
		b.WriteString((gc + gv + "XXX")[:3])
	}
	day := p.dob.Day()
	if p.female {
		day += 40
	}
	b.WriteString(p.dob.Format("06") + string("ABCDEHLMPRST"[p.dob.Month()-1]) + pad(day, 2) + comune)
	return b.String() + string(itCheck(b.String()))
}

// itCheck is the check letter of the first 15 characters of a codice
// fiscale.
func itCheck(s string) byte {
	// Odd positions (1st, 3rd, ...) weigh digits and letters alike by this
	// table; even positions by their value (0-9, A=0 ... Z=25).
	odd := [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}
	sum := 0
	for i := range len(s) {
		v := int(s[i] - 'A')
		if s[i] <= '9' {
			v = int(s[i] - '0')
		}
		if i%2 == 0 {
			v = odd[v]
		}
		sum += v
	}
	return byte('A' + sum%26)
}

// consonantsVowels splits the upper-cased ASCII letters of a name.
func consonantsVowels(s string) (consonants, vowels string) {
	for _, c := range strings.ToUpper(ascii(s)) {
		switch {
		case strings.ContainsRune("AEIOU", c):
			vowels += string(c)
		case 'A' <= c && c <= 'Z':
			consonants += string(c)
		}
	}
	return consonants, vowels
}

// esDNI returns a Spanish DNI: eight digits and the mod-23 letter.
func esDNI(r *rnd) string {
	n := r.between(1_000_000, 79_999_999)
	return pad(n, 8) + string(dniLetter(n))
}

// dniLetter is the control letter of DNI number n.
func dniLetter(n int) byte {
	return "TRWAGMYFPDXBNJZSQVHLCKE"[n%23]
}

// nlBSN returns a Dutch burgerservicenummer that passes the 11-proef: the
// digits weighted 9..2 and -1 sum to a multiple of 11.
func nlBSN(r *rnd) string {
	for {
		body := strconv.Itoa(r.between(1, 6)) + r.digits(7)
		if c, ok := bsnCheck(body); ok {
			return body + strconv.Itoa(c)
		}
	}
}

// bsnCheck returns the last digit that makes the eight digits of body a
// BSN, and false if no digit does.
func bsnCheck(body string) (int, bool) {
	sum := 0
	for i := range len(body) {
		sum += int(body[i]-'0') * (9 - i)
	}
	return sum % 11, sum%11 < 10
}

// sePersonnummer returns a Swedish personnummer, YYYYMMDD-NNNC: the third
// birth-number digit is odd for men, C is the Luhn digit over YYMMDDNNN.
func sePersonnummer(r *rnd, p person) string {
	nnn := r.digits(2) + strconv.Itoa(sexDigit(r, p))
	return p.dob.Format("20060102") + "-" + nnn + string(luhn(p.dob.Format("060102")+nnn))
}

// plPESEL returns a Polish PESEL: YYMMDD (month plus 20 for births in the
// 2000s), a serial whose last digit is odd for men, and the check digit.
func plPESEL(r *rnd, p person) string {
	month := int(p.dob.Month())
	if p.dob.Year() >= 2000 {
		month += 20
	}
	body := p.dob.Format("06") + pad(month, 2) + p.dob.Format("02") + r.digits(3) + strconv.Itoa(sexDigit(r, p))
	return body + strconv.Itoa(peselCheck(body))
}

// peselCheck is the check digit of the first ten digits of a PESEL.
func peselCheck(body string) int {
	sum := 0
	for i, w := range [10]int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3} {
		sum += int(body[i]-'0') * w
	}
	return (10 - sum%10) % 10
}

// caSIN returns a Canadian Social Insurance Number, "NNN NNN NNN": the
// first digit is that of the province of registration, the last the Luhn
// digit.
func caSIN(r *rnd, province string) string {
	body := province + r.digits(7)
	s := body + string(luhn(body))
	return s[:3] + " " + s[3:6] + " " + s[6:]
}

// luhn is the Luhn check digit of body.
func luhn(body string) byte {
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// mxCURP returns a Mexican CURP: initials and inner consonants of the
// names, date of birth, sex, state, a homoclave and the check digit.
func mxCURP(r *rnd, paternal, maternal, given string, p person, state string) string {
	up := func(s string) string {
		return strings.ToUpper(ascii(strings.NewReplacer("ñ", "x", "Ñ", "X").Replace(s)))
	}
	pa, ma, gi := up(paternal), up(maternal), up(given)
	inner := func(s string, vowel bool) string {
		for i := 1; i < len(s); i++ {
			if strings.IndexByte("AEIOU", s[i]) >= 0 == vowel && 'A' <= s[i] && s[i] <= 'Z' {
				return s[i : i+1]
			}
		}
		return "X"
	}
	sex := "H"
	if p.female {
		sex = "M"
	}
	homoclave := r.digits(1)
	if p.dob.Year() >= 2000 {
		homoclave = r.letters("ABCDEFGHIJKLMNPQRSTUVWXYZ", 1)
	}
	s := pa[:1] + inner(pa, true) + ma[:1] + gi[:1] + p.dob.Format("060102") + sex + state +
		inner(pa, false) + inner(ma, false) + inner(gi, false) + homoclave
	return s + strconv.Itoa(curpCheck(s))
}

// curpCheck is the check digit of the first 17 characters of a CURP.
func curpCheck(s string) int {
	const alphabet = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ" // & stands for Ñ, never written here
	sum := 0
	for i := range len(s) {
		sum += strings.IndexByte(alphabet, s[i]) * (18 - i)
	}
	return (10 - sum%10) % 10
}

// sexDigit returns a random digit that is odd for a man, even for a woman.
func sexDigit(r *rnd, p person) int {
	d := 2 * r.IntN(5)
	if !p.female {
		d++
	}
	return d
}

// pad formats v as a zero-padded decimal of width w.
func pad(v, w int) string {
	s := strconv.Itoa(v)
	if len(s) < w {
		s = strings.Repeat("0", w-len(s)) + s
	}
	return s
}
