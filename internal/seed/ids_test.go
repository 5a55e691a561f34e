package seed

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The verifiers below are written independently of ids.go, from the public
// descriptions of each scheme, so that a bug in the generator's arithmetic
// cannot hide behind the same bug in the test.

var errCheck = errors.New("check digit mismatch")

func num(s string) []int {
	out := make([]int, len(s))
	for i, c := range s {
		out[i] = int(c - '0')
	}
	return out
}

// verifyNationalID checks id against the scheme of jurisdiction j and
// against the customer's date of birth (and sex, via the name) where the
// scheme encodes them.
func verifyNationalID(j, id string, dob time.Time, name string) error {
	switch j {
	case "CN":
		return verifyCN(id, dob, name)
	case "FR":
		return verifyFR(id, dob)
	case "BR":
		return verifyBR(id)
	case "US":
		m := ssnRE.FindStringSubmatch(id)
		if m == nil || m[2] == "0000" {
			return errors.New("not a 9xx SSN with a non-ITIN group")
		}
	case "DE":
		return verifyDE(id)
	case "PL":
		return verifyPL(id, dob)
	case "SE":
		return verifySE(id, dob)
	case "NL":
		if !regexp.MustCompile(`^\d{9}$`).MatchString(id) {
			return errors.New("not 9 digits")
		}
		d, sum := num(id), 0
		for i := range 8 {
			sum += d[i] * (9 - i)
		}
		if (sum-d[8])%11 != 0 {
			return errCheck
		}
	case "ES":
		if !regexp.MustCompile(`^\d{8}[A-Z]$`).MatchString(id) {
			return errors.New("not 8 digits and a letter")
		}
		n, _ := strconv.Atoi(id[:8])
		if id[8] != "TRWAGMYFPDXBNJZSQVHLCKE"[n%23] {
			return errCheck
		}
	case "JP":
		if !regexp.MustCompile(`^\d{12}$`).MatchString(id) {
			return errors.New("not 12 digits")
		}
		weights := []int{6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
		d, sum := num(id), 0
		for i, w := range weights {
			sum += d[i] * w
		}
		want := 0
		if r := sum % 11; r > 1 {
			want = 11 - r
		}
		if d[11] != want {
			return errCheck
		}
	case "CA":
		if !regexp.MustCompile(`^0\d\d \d{3} \d{3}$`).MatchString(id) {
			return errors.New("not a 0xx xxx xxx SIN")
		}
		if !luhnValid(strings.ReplaceAll(id, " ", "")) {
			return errCheck
		}
	case "IT":
		return verifyIT(id, dob)
	case "MX":
		return verifyMX(id, dob)
	case "RU":
		if !regexp.MustCompile(`^\d{4} \d{6}$`).MatchString(id) {
			return errors.New("not a 4+6 digit passport series and number")
		}
		yy, _ := strconv.Atoi(id[2:4])
		issue := 2000 + yy
		if yy > 26 {
			issue = 1900 + yy
		}
		if issue < 1997 || issue > 2026 || issue < dob.Year()+14 {
			return fmt.Errorf("issue year %d implausible for birth year %d", issue, dob.Year())
		}
	case "GB":
		if !regexp.MustCompile(`^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$`).MatchString(id) {
			return errors.New("not a NINO")
		}
	case "IN":
		if !regexp.MustCompile(`^[A-Z]{3}P[A-Z]\d{4}[A-Z]$`).MatchString(id) {
			return errors.New("not an individual's PAN")
		}
		if _, family, _ := strings.Cut(name, " "); id[4] != family[0] {
			return errors.New("PAN fifth letter is not the surname initial")
		}
	default:
		return fmt.Errorf("no verifier for %s", j)
	}
	return nil
}

func verifyCN(id string, dob time.Time, name string) error {
	if !regexp.MustCompile(`^\d{17}[\dX]$`).MatchString(id) {
		return errors.New("not 17 digits and a check character")
	}
	known := false
	for _, d := range cnDistricts {
		known = known || d.code == id[:6]
	}
	if !known {
		return fmt.Errorf("region %s not in the table", id[:6])
	}
	if id[6:14] != dob.Format("20060102") {
		return fmt.Errorf("birth date %s, date_of_birth %s", id[6:14], dob.Format(time.DateOnly))
	}
	// ISO 7064 MOD 11-2: sum of d_i * 2^(17-i) mod 11, plus the check value, is 1 mod 11.
	sum := 0
	for i, d := range num(id[:17]) {
		sum += d * (1 << (17 - i) % 11)
	}
	check := 10
	if id[17] != 'X' {
		check = int(id[17] - '0')
	}
	if (sum+check)%11 != 1 {
		return errCheck
	}
	female := false
	for _, s := range cnSurnames {
		given, ok := strings.CutPrefix(name, s.native)
		if !ok {
			continue
		}
		for _, f := range cnFemale {
			female = female || f.native == given
		}
	}
	if seq := int(id[16] - '0'); (seq%2 == 0) != female {
		return fmt.Errorf("sequence parity disagrees with the sex of %q", name)
	}
	return nil
}

func verifyFR(id string, dob time.Time) error {
	if !regexp.MustCompile(`^[12]\d{14}$`).MatchString(id) {
		return errors.New("not 15 digits starting with 1 or 2")
	}
	if id[1:5] != dob.Format("0601") {
		return fmt.Errorf("YYMM %s, date_of_birth %s", id[1:5], dob.Format(time.DateOnly))
	}
	n, _ := strconv.ParseInt(id[:13], 10, 64)
	key, _ := strconv.ParseInt(id[13:], 10, 64)
	if key != 97-n%97 {
		return errCheck
	}
	return nil
}

func verifyBR(id string) error {
	if !regexp.MustCompile(`^\d{3}\.\d{3}\.\d{3}-\d{2}$`).MatchString(id) {
		return errors.New("not formatted as a CPF")
	}
	d := num(strings.NewReplacer(".", "", "-", "").Replace(id))
	for k := 9; k <= 10; k++ {
		sum := 0
		for i := range k {
			sum += d[i] * (k + 1 - i)
		}
		want := sum * 10 % 11 % 10
		if d[k] != want {
			return errCheck
		}
	}
	return nil
}

func verifyDE(id string) error {
	if !regexp.MustCompile(`^[1-9]\d{10}$`).MatchString(id) {
		return errors.New("not 11 digits")
	}
	counts := map[rune]int{}
	for _, c := range id[:10] {
		counts[c]++
	}
	if len(counts) != 9 {
		return fmt.Errorf("first ten digits use %d distinct digits, want 9", len(counts))
	}
	p := 10
	for _, d := range num(id[:10]) {
		s := (d + p) % 10
		if s == 0 {
			s = 10
		}
		p = 2 * s % 11
	}
	if (11-p)%10 != int(id[10]-'0') {
		return errCheck
	}
	return nil
}

func verifyPL(id string, dob time.Time) error {
	if !regexp.MustCompile(`^\d{11}$`).MatchString(id) {
		return errors.New("not 11 digits")
	}
	mm, _ := strconv.Atoi(id[2:4])
	year := 1900
	if mm > 20 {
		year, mm = 2000, mm-20
	}
	yy, _ := strconv.Atoi(id[:2])
	if got := fmt.Sprintf("%04d-%02d-%s", year+yy, mm, id[4:6]); got != dob.Format(time.DateOnly) {
		return fmt.Errorf("encodes %s", got)
	}
	d, sum := num(id), 0
	for i, w := range []int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3, 1} {
		sum += d[i] * w
	}
	if sum%10 != 0 {
		return errCheck
	}
	return nil
}

func luhnValid(s string) bool {
	sum := 0
	for i, d := range num(s) {
		if (len(s)-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func verifySE(id string, dob time.Time) error {
	if !regexp.MustCompile(`^\d{8}-\d{4}$`).MatchString(id) {
		return errors.New("not YYYYMMDD-NNNN")
	}
	if id[:8] != dob.Format("20060102") {
		return errors.New("birth date mismatch")
	}
	if !luhnValid(id[2:8] + id[9:]) {
		return errCheck
	}
	return nil
}

func verifyIT(id string, dob time.Time) error {
	if !regexp.MustCompile(`^[A-Z]{6}\d{2}[ABCDEHLMPRST]\d{2}[A-Z]\d{3}[A-Z]$`).MatchString(id) {
		return errors.New("not shaped like a codice fiscale")
	}
	if id[6:8] != dob.Format("06") || id[8] != "ABCDEHLMPRST"[dob.Month()-1] {
		return errors.New("birth year/month mismatch")
	}
	if day, _ := strconv.Atoi(id[9:11]); day%40 != dob.Day() {
		return errors.New("birth day mismatch")
	}
	// Odd-position values, from the Agenzia delle Entrate table.
	odd := map[byte]int{
		'0': 1, '1': 0, '2': 5, '3': 7, '4': 9, '5': 13, '6': 15, '7': 17, '8': 19, '9': 21,
		'A': 1, 'B': 0, 'C': 5, 'D': 7, 'E': 9, 'F': 13, 'G': 15, 'H': 17, 'I': 19, 'J': 21,
		'K': 2, 'L': 4, 'M': 18, 'N': 20, 'O': 11, 'P': 3, 'Q': 6, 'R': 8, 'S': 12, 'T': 14,
		'U': 16, 'V': 10, 'W': 22, 'X': 25, 'Y': 24, 'Z': 23,
	}
	sum := 0
	for i := range 15 {
		c := id[i]
		switch {
		case i%2 == 0:
			sum += odd[c]
		case c <= '9':
			sum += int(c - '0')
		default:
			sum += int(c - 'A')
		}
	}
	if id[15] != byte('A'+sum%26) {
		return errCheck
	}
	return nil
}

func verifyMX(id string, dob time.Time) error {
	if !regexp.MustCompile(`^[A-Z]{4}\d{6}[HM][A-Z]{2}[A-Z]{3}[0-9A-Z]\d$`).MatchString(id) {
		return errors.New("not shaped like a CURP")
	}
	if id[4:10] != dob.Format("060102") {
		return errors.New("birth date mismatch")
	}
	const alphabet = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ" // '&' stands for Ñ
	sum := 0
	for i := range 17 {
		sum += strings.IndexByte(alphabet, id[i]) * (18 - i)
	}
	if int(id[17]-'0') != (10-sum%10)%10 {
		return errCheck
	}
	return nil
}

// TestKnownAnswers checks the generator's check-digit functions against
// identifiers published as examples.
func TestKnownAnswers(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"CN GB 11643-1999 example", "11010519491231002" + string(cnCheck("11010519491231002")), "11010519491231002X"},
		{"BR CPF 111.444.777-35", cpfDigits("111444777"), "35"},
		{"DE Steuer-ID 86095742719", string(deTaxCheck("8609574271")), "9"},
		{"PL PESEL 44051401359", string(peselCheck("4405140135")), "9"},
		{"SE personnummer 811228-9874", string(luhnCheck("811228987")), "4"},
		{"CA SIN 046 454 286", string(luhnCheck("04645428")), "6"},
		{"ES DNI 12345678Z", string(dniLetter(12345678)), "Z"},
		{"JP My Number 123456789018", string(myNumberCheck("12345678901")), "8"},
		{"IT RSSMRA85T10A562S", string(itCheck("RSSMRA85T10A562")), "S"},
		{"IT Mario Rossi", itFiscalCode("Rossi", "Mario", time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC), false, "A562"), "RSSMRA85T10A562S"},
		{"FR NIR key (computed with Python)", inseeKey("1840675056123"), "56"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if c, ok := bsnCheck("11122233"); !ok || c != '3' {
		t.Errorf("NL BSN 111222333: got %q, %v", c, ok)
	}
	// The independent verifiers accept the same published examples.
	if err := verifyBR("111.444.777-35"); err != nil {
		t.Errorf("verifyBR: %v", err)
	}
	if err := verifyDE("86095742719"); err != nil {
		t.Errorf("verifyDE: %v", err)
	}
	if err := verifyCN("11010519491231002X", time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC), "王芳"); err != nil {
		t.Errorf("verifyCN: %v", err)
	}
}

func TestFiscalCodeNames(t *testing.T) {
	dob := time.Date(1990, 3, 5, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ family, given, want string }{
		{"D'Angelo", "Niccolò", "DNGNCL"}, // four consonants: 1st, 3rd, 4th
		{"De Luca", "Giulia", "DLCGLI"},
		{"Fo", "Ai", "FOXAIX"}, // padded with X
	} {
		if got := itFiscalCode(tt.family, tt.given, dob, true, "H501")[:6]; got != tt.want {
			t.Errorf("%s %s: got %s, want %s", tt.given, tt.family, got, tt.want)
		}
	}
}

func TestCURPLetters(t *testing.T) {
	got := curp("Hernández", "Núñez", "Guadalupe", time.Date(1956, 4, 27, 0, 0, 0, 0, time.UTC), true, "DF", "0")
	if want := "HENG560427MDFRXD0"; got[:17] != want {
		t.Errorf("curp = %s, want prefix %s", got, want)
	}
	if err := verifyMX(got, time.Date(1956, 4, 27, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Error(err)
	}
}
