package normalize

import (
	"errors"
	"testing"
)

// fuzzNormalizer checks that f never panics, rejects only with ErrInvalid and
// without quoting the value, and is idempotent on what it accepts.
func fuzzNormalizer(f *testing.F, fn Func, seeds ...string) {
	for _, s := range seeds {
		for _, j := range []string{"US", "CN", "DE", ""} {
			f.Add(s, j)
		}
	}
	f.Fuzz(func(t *testing.T, value, jurisdiction string) {
		out, err := fn(value, jurisdiction)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			checkNoValue(t, err, value)
			return
		}
		again, err := fn(out, jurisdiction)
		if err != nil {
			t.Fatalf("output %q of %q is rejected: %v", out, value, err)
		}
		if again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", value, out, again)
		}
	})
}

func FuzzEmail(f *testing.F) {
	fuzzNormalizer(f, NormalizeEmail, "Ana@Example.com", " a@b ", "jose\u0301@example.es", "İ@x", "a@@b")
}

func FuzzPhone(f *testing.F) {
	fuzzNormalizer(f, NormalizePhone, "+1 (202) 555-0143", "202.555.0143", "(0)30 1234567", "138 1234 5678",
		"+1 202 555 0143 ext. 12", "0086 138 1234 5678", "tel:+1-202-555-0143", "+800 1234 5678")
}

func FuzzNationalID(f *testing.F) {
	fuzzNormalizer(f, NormalizeNationalID, "11010519491231002X", "078-05-1120", "l01x00t47", "1234/5678")
}

func FuzzName(f *testing.F) {
	fuzzNormalizer(f, NormalizeName, "Ana María LÓPEZ", "Straße", "ＡＮＡ", "王\u3000小明", "ΟΔΥΣΣΕΥΣ", "ǅ", "\u0345\u0399", "ﬃ")
}

func FuzzDate(f *testing.F) {
	fuzzNormalizer(f, NormalizeDate, "1984-03-07", "1984/03/07", "19840307", "2000-02-29", "0000-01-01")
}
