package normalize

import (
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// maxNameRounds bounds the NFKC / case-fold rounds NormalizeName makes to
// reach a fixed point; real text needs one.
const maxNameRounds = 4

// NormalizeName normalises a person's name: Unicode NFKC (so full-width and
// compatibility characters match their plain forms), surrounding space
// trimmed, runs of inner white space collapsed to one space, and Unicode
// case folding (so "Straße" and "STRASSE" match). It rejects names that are
// empty after trimming, invalid UTF-8 and control characters.
func NormalizeName(value, _ string) (string, error) {
	const kind = "name"
	if err := checkText(kind, value); err != nil {
		return "", err
	}
	s := value
	for range maxNameRounds {
		next := nameRound(s)
		if next == s {
			break
		}
		s = next
	}
	if nameRound(s) != s {
		// Not reached by any text the fuzz tests have found; rejecting keeps
		// the index deterministic if it ever is.
		return "", invalid(kind, "has no stable normal form")
	}
	if s == "" {
		return "", invalid(kind, "empty")
	}
	return s, nil
}

// nameRound is one round of NFKC, case folding and white-space collapsing.
// A Caser is stateful, so each call makes its own.
func nameRound(s string) string {
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s)
	s = norm.NFKC.String(s)
	return strings.Join(strings.Fields(s), " ")
}
