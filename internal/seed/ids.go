package seed

import (
	"strings"
	"time"
)

// Check-digit algorithms for national identifiers. Each takes the payload
// without its check characters. Inputs are produced by this package, so they
// are trusted to be well-formed.

// cnCheck returns the check character of an 18-character Chinese resident
// identity number (GB 11643-1999): ISO 7064 MOD 11-2 over the first 17 digits.
func cnCheck(body17 string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(body17[i]-'0') * w
	}
	return "10X98765432"[sum%11]
}

// inseeKey returns the two-digit key of a French NIR: 97 - (n mod 97), where
// n is the 13-digit number.
func inseeKey(nir13 string) string {
	n := 0
	for _, c := range nir13 {
		n = (n*10 + int(c-'0')) % 97
	}
	return pad(97-n, 2)
}

// cpfDigits returns the two check digits of a Brazilian CPF.
func cpfDigits(body9 string) string {
	d := []byte(body9)
	for range 2 {
		sum := 0
		for i, c := range d {
			sum += int(c-'0') * (len(d) + 1 - i)
		}
		r := sum % 11
		if r < 2 {
			d = append(d, '0')
		} else {
			d = append(d, byte('0'+11-r))
		}
	}
	return string(d[9:])
}

// deTaxCheck returns the check digit of a German Steuer-ID: ISO 7064
// MOD 11,10 over the first ten digits.
func deTaxCheck(body10 string) byte {
	product := 10
	for _, c := range body10 {
		sum := (int(c-'0') + product) % 10
		if sum == 0 {
			sum = 10
		}
		product = sum * 2 % 11
	}
	check := 11 - product
	if check == 10 {
		check = 0
	}
	return byte('0' + check)
}

// luhnCheck returns the Luhn check digit for body (Canadian SIN, Swedish
// personnummer).
func luhnCheck(body string) byte {
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 { // doubled: rightmost payload digit sits next to the check digit
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// peselCheck returns the check digit of a Polish PESEL.
func peselCheck(body10 string) byte {
	weights := [10]int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3}
	sum := 0
	for i, w := range weights {
		sum += int(body10[i]-'0') * w
	}
	return byte('0' + (10-sum%10)%10)
}

// bsnCheck returns the last digit of a Dutch BSN (the "11-proef": the digits
// weighted 9..2 and -1 sum to a multiple of 11) and false if no digit works.
func bsnCheck(body8 string) (byte, bool) {
	sum := 0
	for i, c := range body8 {
		sum += int(c-'0') * (9 - i)
	}
	r := sum % 11
	return byte('0' + r), r < 10
}

// dniLetter returns the control letter of a Spanish DNI.
func dniLetter(n int) byte { return "TRWAGMYFPDXBNJZSQVHLCKE"[n%23] }

// myNumberCheck returns the check digit of a Japanese Individual Number.
func myNumberCheck(body11 string) byte {
	sum := 0
	for n := 1; n <= 11; n++ {
		p := int(body11[11-n] - '0')
		q := n + 1
		if n >= 7 {
			q = n - 5
		}
		sum += p * q
	}
	r := sum % 11
	if r <= 1 {
		return '0'
	}
	return byte('0' + 11 - r)
}

// itCheck returns the control character of an Italian codice fiscale.
func itCheck(body15 string) byte {
	odd := [36]int{ // values of 0-9 then A-Z in odd (1st, 3rd, ...) positions
		1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
		1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
	}
	sum := 0
	for i := range len(body15) {
		c := body15[i]
		idx := int(c - '0')
		if c >= 'A' {
			idx = 10 + int(c-'A')
		}
		if i%2 == 0 {
			sum += odd[idx]
		} else if c >= 'A' {
			sum += int(c - 'A')
		} else {
			sum += int(c - '0')
		}
	}
	return byte('A' + sum%26)
}

// itFiscalCode builds a codice fiscale from the person's data; belfiore is
// the cadastral code of the comune of birth.
func itFiscalCode(family, given string, dob time.Time, female bool, belfiore string) string {
	fc, fv := consonantsVowels(family)
	gc, gv := consonantsVowels(given)
	var b strings.Builder
	b.WriteString((fc + fv + "XXX")[:3])
	if len(gc) >= 4 {
		b.WriteString(gc[:1] + gc[2:4])
	} else {
		b.WriteString((gc + gv + "XXX")[:3])
	}
	b.WriteString(pad(dob.Year()%100, 2))
	b.WriteByte("ABCDEHLMPRST"[dob.Month()-1])
	day := dob.Day()
	if female {
		day += 40
	}
	b.WriteString(pad(day, 2))
	b.WriteString(belfiore)
	return b.String() + string(itCheck(b.String()))
}

// consonantsVowels splits the ASCII-folded, upper-cased letters of s.
func consonantsVowels(s string) (consonants, vowels string) {
	for _, c := range strings.ToUpper(asciiFold(s)) {
		switch {
		case strings.ContainsRune("AEIOU", c):
			vowels += string(c)
		case 'A' <= c && c <= 'Z':
			consonants += string(c)
		}
	}
	return consonants, vowels
}

// curpAlphabet orders the characters for the CURP check digit; Ñ counts.
var curpAlphabet = []rune("0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ")

// curpCheck returns the check digit of a Mexican CURP.
func curpCheck(body17 string) byte {
	sum := 0
	for i, c := range []rune(body17) {
		v := 0
		for j, a := range curpAlphabet {
			if a == c {
				v = j
				break
			}
		}
		sum += v * (18 - i)
	}
	return byte('0' + (10-sum%10)%10)
}

// curp builds a CURP. The paternal surname, maternal surname and given name
// contribute initials and first internal vowel/consonants; state is the
// two-letter CURP state code. Ñ is written as X, as RENAPO does.
func curp(paternal, maternal, given string, dob time.Time, female bool, state, homoclave string) string {
	up := func(s string) string {
		return strings.ToUpper(asciiFold(strings.NewReplacer("ñ", "x", "Ñ", "X").Replace(s)))
	}
	p, m, n := up(paternal), up(maternal), up(given)
	internal := func(s string, vowel bool) byte {
		for i := 1; i < len(s); i++ {
			isVowel := strings.IndexByte("AEIOU", s[i]) >= 0
			if isVowel == vowel && 'A' <= s[i] && s[i] <= 'Z' {
				return s[i]
			}
		}
		return 'X'
	}
	var b strings.Builder
	b.WriteByte(p[0])
	b.WriteByte(internal(p, true))
	b.WriteByte(m[0])
	b.WriteByte(n[0])
	b.WriteString(dob.Format("060102"))
	if female {
		b.WriteByte('M')
	} else {
		b.WriteByte('H')
	}
	b.WriteString(state)
	b.WriteByte(internal(p, false))
	b.WriteByte(internal(m, false))
	b.WriteByte(internal(n, false))
	b.WriteString(homoclave)
	return b.String() + string(curpCheck(b.String()))
}
