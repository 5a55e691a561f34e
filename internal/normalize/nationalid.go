package normalize

import (
	"strings"
)

// NormalizeNationalID normalises a national identity number: it removes
// spaces, tabs, hyphens and dots and upper-cases the ASCII letters.
//
// For jurisdiction CN the result must be an 18-character resident identity
// number (GB 11643-1999): 17 digits and a check character (0-9 or X) that
// CNResidentIDCheck computes; a wrong check character is rejected, so most
// typos are caught at write time. The 15-digit numbers issued before 1999
// are not accepted. The date of birth inside the number is not checked.
//
// For every other jurisdiction the result must be 4 to 32 characters of
// 0-9 and A-Z.
func NormalizeNationalID(value, jurisdiction string) (string, error) {
	const kind = "national_id"
	b := make([]byte, 0, len(value))
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == ' ' || c == '\t' || c == '-' || c == '.':
		case c >= '0' && c <= '9' || c >= 'A' && c <= 'Z':
			b = append(b, c)
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		default:
			return "", invalid(kind, "only digits, letters, spaces, hyphens and dots are allowed")
		}
	}
	s := string(b)
	if strings.EqualFold(jurisdiction, "CN") {
		if len(s) != 18 {
			return "", invalid(kind, "a CN resident identity number has 18 characters")
		}
		want, err := CNResidentIDCheck(s[:17])
		if err != nil {
			return "", err
		}
		if s[17] != want {
			return "", invalid(kind, "wrong check character for a CN resident identity number")
		}
		return s, nil
	}
	if len(s) < 4 || len(s) > 32 {
		return "", invalid(kind, "must have 4 to 32 digits and letters")
	}
	return s, nil
}

// cnWeights are the GB 11643-1999 weights 2^(17-i) mod 11 of the first 17
// digits.
var cnWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CNResidentIDCheck returns the check character ('0'-'9' or 'X') of a
// Chinese resident identity number whose first 17 characters are first17,
// computed by ISO 7064 MOD 11-2 as GB 11643-1999 specifies. It returns an
// error wrapping ErrInvalid unless first17 is exactly 17 ASCII digits.
func CNResidentIDCheck(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, invalid("national_id", "a CN resident identity number starts with 17 digits")
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, invalid("national_id", "a CN resident identity number starts with 17 digits")
		}
		sum += int(c-'0') * cnWeights[i]
	}
	check := (12 - sum%11) % 11
	if check == 10 {
		return 'X', nil
	}
	return byte('0' + check), nil
}
