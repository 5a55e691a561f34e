package access

import (
	"encoding/base64"
	"hash"
	"strings"
	"unicode/utf8"

	"github.com/domicile/domicile/internal/policy"
)

// Masker applies masks. Hash masks are keyed with the region's key so a
// digest reveals nothing outside the region and joins only within it.
type Masker struct {
	// NewMAC returns a MAC keyed for mask digests (nil disables "hash":
	// such values are redacted).
	NewMAC func() hash.Hash
}

const redacted = "[redacted]"

// Apply returns value masked with mask. It never returns the value itself
// for a mask that hides anything.
func (m Masker) Apply(mask, value string) string {
	switch mask {
	case policy.MaskLast4:
		return keepLast(value, 4)
	case policy.MaskFirst1:
		r, size := utf8.DecodeRuneInString(value)
		if size == 0 {
			return ""
		}
		return string(r) + strings.Repeat("*", max(utf8.RuneCountInString(value)-1, 1))
	case policy.MaskEmail:
		local, domain, ok := strings.Cut(value, "@")
		if !ok || local == "" {
			return redacted
		}
		r, _ := utf8.DecodeRuneInString(local)
		return string(r) + "***@" + domain
	case policy.MaskYear:
		if len(value) >= 4 && isDigits(value[:4]) {
			return value[:4]
		}
		return redacted
	case policy.MaskHash:
		if m.NewMAC == nil {
			return redacted
		}
		h := m.NewMAC()
		h.Write([]byte(value))
		return "h:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
	}
	return redacted
}

// keepLast shows the last n characters (digits and letters; separators
// count as nothing) and stars for the rest; a value of n characters or
// fewer is fully hidden.
func keepLast(value string, n int) string {
	runes := []rune(value)
	if len(runes) <= n {
		return strings.Repeat("*", len(runes))
	}
	return strings.Repeat("*", len(runes)-n) + string(runes[len(runes)-n:])
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Filter applies a decision to a record's fields: it drops fields the
// decision does not list and masks the masked ones.
func (m Masker) Filter(d Decision, fields map[string]string) map[string]string {
	out := make(map[string]string, len(d.Fields))
	for name, v := range fields {
		t, ok := d.Fields[name]
		switch {
		case !ok || t.Kind == policy.AccessNone:
		case t.Kind == policy.AccessClear:
			out[name] = v
		default:
			out[name] = m.Apply(t.Mask, v)
		}
	}
	return out
}
