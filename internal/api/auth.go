package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Principal is who a request acts for.
type Principal struct {
	ID    string
	Admin bool
}

// Authenticator checks a bearer token. Implementations compare secrets in
// constant time and never keep tokens in clear.
type Authenticator interface {
	Authenticate(token string) (Principal, bool)
}

// StaticTokens authenticates against a fixed set of tokens, kept only as
// SHA-256 digests (tokens have at least 256 random bits, so a fast hash is
// enough) and compared in constant time against every entry.
type StaticTokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	digest [sha256.Size]byte
	p      Principal
}

// NewStaticTokens returns an authenticator for the given tokens.
func NewStaticTokens(tokens map[string]Principal) *StaticTokens {
	s := &StaticTokens{}
	for t, p := range tokens {
		s.entries = append(s.entries, tokenEntry{digest: sha256.Sum256([]byte(t)), p: p})
	}
	return s
}

// Authenticate implements Authenticator.
func (s *StaticTokens) Authenticate(token string) (Principal, bool) {
	d := sha256.Sum256([]byte(token))
	var found Principal
	ok := 0
	for i := range s.entries {
		if subtle.ConstantTimeCompare(d[:], s.entries[i].digest[:]) == 1 {
			found = s.entries[i].p
			ok = 1
		}
	}
	return found, ok == 1
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}
