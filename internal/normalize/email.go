package normalize

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// maxEmailLength is the longest address, in bytes, that SMTP can carry
// (RFC 5321 path limit minus the angle brackets).
const maxEmailLength = 254

// NormalizeEmail normalises an e-mail address: it trims surrounding space,
// applies Unicode NFC and lower-cases the whole address.
//
// RFC 5321 lets the local part (before the @) be case-sensitive, but in
// practice no mail provider treats it so and users do not type it
// consistently; lower-casing it is the common choice, and it means a search
// for "Ana@Example.com" finds "ana@example.com". Internationalised domain
// names are kept in Unicode (no punycode conversion), so "ü" and "xn--tda"
// are different addresses to the index.
//
// It rejects addresses without exactly one @, with an empty local part or
// domain, with spaces or control characters, longer than 254 bytes, or
// whose domain is not a host name (see validDomain).
func NormalizeEmail(value, _ string) (string, error) {
	const kind = "email"
	if err := checkText(kind, value); err != nil {
		return "", err
	}
	s := strings.TrimSpace(value)
	s = norm.NFC.String(strings.ToLower(norm.NFC.String(s)))
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", invalid(kind, "contains a space")
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok {
		return "", invalid(kind, "no @")
	}
	if strings.Contains(domain, "@") {
		return "", invalid(kind, "more than one @")
	}
	if local == "" {
		return "", invalid(kind, "empty local part (before the @)")
	}
	if domain == "" {
		return "", invalid(kind, "empty domain (after the @)")
	}
	if len(s) > maxEmailLength {
		return "", invalid(kind, "longer than 254 bytes")
	}
	if !validDomain(domain) {
		return "", invalid(kind, "the domain (after the @) is not a host name")
	}
	return s, nil
}

// validDomain reports whether d is a host name: dot-separated labels of
// letters (any script, for internationalised names), digits and inner
// hyphens. It refuses what no mail system routes, such as U+FFFD, symbols,
// empty labels and underscores.
func validDomain(d string) bool {
	for _, label := range strings.Split(d, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Mc, r) {
				return false
			}
		}
	}
	return true
}
