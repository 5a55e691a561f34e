package normalize

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// maxPhoneLength caps the input handed to the parser; libphonenumber itself
// refuses anything longer.
const maxPhoneLength = 250

// NormalizePhone normalises a telephone number to E.164 ("+8613812345678").
// A number written without a country code ("202.555.0143", "(0)30 1234567")
// is read as a number of jurisdiction. The number must be valid for its
// country by libphonenumber's metadata (github.com/nyaruka/phonenumbers),
// not merely well formed. An extension ("ext. 12") is dropped: the index
// matches the line, not the extension.
func NormalizePhone(value, jurisdiction string) (string, error) {
	const kind = "phone"
	if err := checkText(kind, value); err != nil {
		return "", err
	}
	s := strings.TrimSpace(value)
	if s == "" {
		return "", invalid(kind, "empty")
	}
	if len(s) > maxPhoneLength {
		return "", invalid(kind, "longer than 250 bytes")
	}
	if e164, ok := internationalForm(s); ok {
		return e164, nil // what the parser gives, at a third of its cost
	}
	num, err := phonenumbers.Parse(s, strings.ToUpper(jurisdiction))
	if err != nil {
		// The parser's errors do not quote the input, but they are an
		// implementation detail; say what the user can act on.
		if !strings.HasPrefix(s, "+") {
			return "", invalid(kind, "not a phone number (write it with its country code, +CC, if it is not of the record's jurisdiction)")
		}
		return "", invalid(kind, "not a phone number")
	}
	if !validNumber(num) {
		return "", invalid(kind, "not a valid number for its country")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}
