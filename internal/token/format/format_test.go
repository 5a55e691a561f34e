package format

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/token/ff1"
	"github.com/emmansun/gmsm/sm4"
)

func blocks(t testing.TB, seed uint64) map[string]cipher.Block {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	k32 := make([]byte, 32)
	k16 := make([]byte, 16)
	for i := range k32 {
		k32[i] = byte(rng.Uint32())
	}
	for i := range k16 {
		k16[i] = byte(rng.Uint32())
	}
	a, err := aes.NewCipher(k32)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sm4.NewCipher(k16)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]cipher.Block{"aes256": a, "sm4": s}
}

func cipherFor(t testing.TB, b cipher.Block, f Format) *ff1.Cipher {
	t.Helper()
	c, err := ff1.New(b, f.Radix(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func digits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

// genCNID returns a valid resident ID: region, birth date, sequence and
// check character.
func genCNID(rng *rand.Rand) string {
	region := fmt.Sprintf("%06d", 110000+rng.IntN(550000))
	date := fmt.Sprintf("%04d%02d%02d", 1930+rng.IntN(90), 1+rng.IntN(12), 1+rng.IntN(28))
	s := region + date + digits(rng, 3)
	c := CNResidentIDCheck([]byte(s))
	if c == 'X' && rng.IntN(2) == 0 {
		c = 'x'
	}
	return s + string(c)
}

func genE164(rng *rand.Rand) string {
	cc := []string{"1", "7", "86", "44", "49", "33", "81", "91", "852", "353", "971", "380"}[rng.IntN(12)]
	n := 6 + rng.IntN(15-len(cc)-6+1)
	return "+" + cc + string(byte('1'+rng.IntN(9))) + digits(rng, n-1)
}

func genPAN(rng *rand.Rand, n int) string {
	b := []byte(digits(rng, n))
	fixLuhn(b, n-1)
	return string(b)
}

func genGeneric(rng *rand.Rand, alphabet string) string {
	var sb strings.Builder
	n := 8 + rng.IntN(20)
	for i := range n {
		if i > 0 && rng.IntN(5) == 0 {
			sb.WriteByte(DefaultSeparators[rng.IntN(2)])
		}
		sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	return sb.String()
}

type formatCase struct {
	f     Format
	gen   func(*rand.Rand) string
	valid func(t *testing.T, value, token string)
}

func formatCases() []formatCase {
	sameShape := func(t *testing.T, value, token string) {
		t.Helper()
		if len(value) != len(token) {
			t.Fatalf("length %d -> %d", len(value), len(token))
		}
	}
	cnid := func(keep int) func(*testing.T, string, string) {
		return func(t *testing.T, value, token string) {
			t.Helper()
			sameShape(t, value, token)
			if err := ValidCNResidentID(token); err != nil {
				t.Fatalf("token fails GB 11643: %v", err)
			}
			if token[:keep] != value[:keep] {
				t.Fatal("region code not kept")
			}
		}
	}
	pan := func(head int) func(*testing.T, string, string) {
		return func(t *testing.T, value, token string) {
			t.Helper()
			sameShape(t, value, token)
			if !Luhn(token) || !allDigits(token) {
				t.Fatal("token is not a Luhn-valid number")
			}
			n := len(value)
			if token[n-4:] != value[n-4:] || token[:head] != value[:head] {
				t.Fatal("clear digits changed")
			}
		}
	}
	return []formatCase{
		{CNResidentID{}, genCNID, cnid(0)},
		{CNResidentID{KeepRegion: true}, genCNID, cnid(6)},
		{E164{}, genE164, func(t *testing.T, value, token string) {
			sameShape(t, value, token)
			cc, err := SplitE164(token)
			if err != nil {
				t.Fatalf("token is not E.164: %v", err)
			}
			if token[:1+cc] != value[:1+cc] {
				t.Fatal("country code changed")
			}
		}},
		{PAN{}, func(r *rand.Rand) string { return genPAN(r, 12+r.IntN(8)) }, pan(0)},
		{PAN{KeepBIN: true}, func(r *rand.Rand) string { return genPAN(r, 16+r.IntN(4)) }, pan(6)},
		{Digits(), func(r *rand.Rand) string { return genGeneric(r, ff1.Digits) }, func(t *testing.T, value, token string) {
			sameShape(t, value, token)
			for i := range value {
				if isSep(value[i]) != isSep(token[i]) || isSep(value[i]) && value[i] != token[i] {
					t.Fatal("separators moved")
				}
			}
		}},
		{Alphanumeric(), func(r *rand.Rand) string { return genGeneric(r, ff1.Alphanumeric) }, sameShape},
	}
}

func isSep(b byte) bool { return strings.IndexByte(DefaultSeparators, b) >= 0 }

// normalised is what Decrypt returns for value: the CN check character is
// upper-cased.
func normalised(f Format, value string) string {
	if _, ok := f.(CNResidentID); ok {
		return strings.ToUpper(value)
	}
	return value
}

func TestRoundTripAndValidity(t *testing.T) {
	iters := 500
	if testing.Short() {
		iters = 50
	}
	for _, fc := range formatCases() {
		for bname, b := range blocks(t, 1) {
			t.Run("ok/"+fc.f.Name()+"/"+bname, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(2, 3))
				c := cipherFor(t, b, fc.f)
				other := cipherFor(t, blocks(t, 2)[bname], fc.f)
				tweak := []byte("record-tweak")
				same := 0
				for range iters {
					value := fc.gen(rng)
					token, err := fc.f.Encrypt(c, tweak, value)
					if err != nil {
						t.Fatalf("Encrypt: %v", err)
					}
					fc.valid(t, value, token)
					back, err := fc.f.Decrypt(c, tweak, token)
					if err != nil || back != normalised(fc.f, value) {
						t.Fatalf("round trip failed: %v", err)
					}
					// Determinism.
					if again, _ := fc.f.Encrypt(c, tweak, value); again != token {
						t.Fatal("Encrypt is not deterministic")
					}
					// Another key or another tweak gives another token.
					t2, err := fc.f.Encrypt(other, tweak, value)
					if err != nil {
						t.Fatal(err)
					}
					t3, err := fc.f.Encrypt(c, []byte("other-tweak"), value)
					if err != nil {
						t.Fatal(err)
					}
					if t2 == token || t3 == token {
						same++
					}
					if back, err := fc.f.Decrypt(other, tweak, token); err == nil && back == normalised(fc.f, value) {
						same++
					}
				}
				// Collisions are possible in small domains (PAN with the
				// BIN kept has about 10^5 tokens per clear part) but rare.
				if same > iters/100 {
					t.Fatalf("%d of %d tokens unchanged by another key or tweak", same, iters)
				}
			})
		}
	}
}

func TestFormatErrors(t *testing.T) {
	b := blocks(t, 1)["aes256"]
	c10 := cipherFor(t, b, Digits())
	c62 := cipherFor(t, b, Alphanumeric())
	for _, tc := range []struct {
		name  string
		f     Format
		c     *ff1.Cipher
		value string
		want  error
	}{
		{"fail/cn/short", CNResidentID{}, c10, "11010519491231002", ErrInvalid},
		{"fail/cn/letter", CNResidentID{}, c10, "11010519491231A02X", ErrInvalid},
		{"fail/cn/bad-check", CNResidentID{}, c10, "110105194912310021", ErrInvalid},
		{"fail/cn/radix", CNResidentID{}, c62, "11010519491231002X", ErrCipher},
		{"fail/cn/nil-cipher", CNResidentID{}, nil, "11010519491231002X", ErrCipher},
		{"fail/e164/no-plus", E164{}, c10, "8613812345678", ErrInvalid},
		{"fail/e164/too-long", E164{}, c10, "+8613812345678901", ErrInvalid},
		{"fail/e164/separator", E164{}, c10, "+86 13812345678", ErrInvalid},
		{"fail/e164/zero-cc", E164{}, c10, "+0123456789", ErrInvalid},
		{"fail/e164/no-nsn", E164{}, c10, "+86", ErrInvalid},
		{"fail/e164/nsn-too-short", E164{}, c10, "+8612345", ff1.ErrLength},
		{"fail/pan/luhn", PAN{}, c10, "4111111111111112", ErrInvalid},
		{"fail/pan/short", PAN{}, c10, "41111111111", ErrInvalid},
		{"fail/pan/long", PAN{}, c10, "41111111111111111113", ErrInvalid},
		{"fail/pan/letter", PAN{}, c10, "411111111111111a", ErrInvalid},
		{"fail/pan/keep-bin-too-short", PAN{KeepBIN: true}, c10, "411111111117", ff1.ErrLength},
		{"fail/pan/keep-bin-15", PAN{KeepBIN: true}, c10, "411111111111116", ff1.ErrLength},
		{"fail/digits/short", Digits(), c10, "12-345", ff1.ErrLength},
		{"fail/digits/letter", Digits(), c10, "1234567a", ErrInvalid},
		{"fail/digits/radix", Digits(), c62, "12345678", ErrCipher},
		{"fail/alnum/short", Alphanumeric(), c62, "ab c", ff1.ErrLength},
		{"fail/alnum/punct", Alphanumeric(), c62, "abcd.efgh", ErrInvalid},
		{"fail/alnum/utf8", Alphanumeric(), c62, "abcdefg\xff", ErrInvalid},
		{"ok/e164/nsn-6", E164{}, c10, "+86123456", nil},
		{"ok/pan/12", PAN{}, c10, "411111111117", nil},
		{"ok/pan/keep-bin-16", PAN{KeepBIN: true}, c10, "4111111111111111", nil},
		{"ok/pan/keep-bin-17", PAN{KeepBIN: true}, c10, "41111111111111113", nil},
		{"ok/digits/6", Digits(), c10, "12 3-456", nil},
		{"ok/cn/x", CNResidentID{}, c10, "11010519491231002x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []func(*ff1.Cipher, []byte, string) (string, error){tc.f.Encrypt, tc.f.Decrypt} {
				out, err := op(tc.c, nil, tc.value)
				if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if err != nil {
					if out != "" {
						t.Fatal("output with an error")
					}
					if len(tc.value) >= 6 && strings.Contains(err.Error(), tc.value[1:6]) {
						t.Fatalf("error %q contains the value", err)
					}
				}
			}
		})
	}
}

// TestClearPartsBound checks that the clear parts are in the tweak: the
// same encrypted digits under another country code or another last four
// do not decrypt to the original's digits.
func TestClearPartsBound(t *testing.T) {
	c := cipherFor(t, blocks(t, 1)["sm4"], E164{})
	a, err := E164{}.Encrypt(c, nil, "+8613812345678")
	if err != nil {
		t.Fatal(err)
	}
	b, err := E164{}.Encrypt(c, nil, "+4413812345678")
	if err != nil {
		t.Fatal(err)
	}
	if a[3:] == b[3:] {
		t.Fatal("country code not bound into the tweak")
	}
	p1, _ := PAN{}.Encrypt(c, nil, "4111111111111111")
	p2, _ := PAN{}.Encrypt(c, nil, "4111111111111129")
	if p1[:10] == p2[:10] {
		t.Fatal("last four not bound into the tweak")
	}
	g1, _ := Digits().Encrypt(c, nil, "1234 5678")
	g2, _ := Digits().Encrypt(c, nil, "1234-5678")
	if strings.ReplaceAll(g1, " ", "") == strings.ReplaceAll(g2, "-", "") {
		t.Fatal("separators not bound into the tweak")
	}
	// Formats are domain-separated by name.
	d1, _ := PAN{}.Encrypt(c, nil, "4111111111111111")
	d2, _ := PAN{KeepBIN: true}.Encrypt(c, nil, "4111111111111111")
	if d1 == d2 {
		t.Fatal("format name not bound into the tweak")
	}
}

func TestByName(t *testing.T) {
	for _, name := range []string{NameCNResidentID, NameCNResidentIDKeepRegion, NameE164, NamePAN, NamePANKeepBIN, NameDigits, NameAlphanumeric} {
		f, err := ByName(name)
		if err != nil || f.Name() != name {
			t.Errorf("ByName(%q) = %v, %v", name, f, err)
		}
	}
	if _, err := ByName("ssn"); !errors.Is(err, ErrUnknown) {
		t.Errorf("ByName(ssn): %v", err)
	}
	for _, tc := range []struct{ name, alphabet, seps string }{
		{"", "0123456789", ""},
		{"x\x00", "0123456789", ""},
		{"x", "0", ""},
		{"x", "0123456789", "1"},
		{"x", "0123456789", "\x00"},
	} {
		if _, err := NewGeneric(tc.name, tc.alphabet, tc.seps); err == nil {
			t.Errorf("NewGeneric(%q, %q, %q) accepted", tc.name, tc.alphabet, tc.seps)
		}
	}
}

func TestCNResidentIDCheck(t *testing.T) {
	// 11010519491231002X is the example of GB 11643-1999; the others were
	// checked independently with the weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
	for _, id := range []string{"11010519491231002X", "440524188001010014", "110101199003074477"} {
		if err := ValidCNResidentID(id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if err := ValidCNResidentID("110105194912310021"); err == nil {
		t.Error("bad check character accepted")
	}
}

func TestLuhn(t *testing.T) {
	for _, s := range []string{"4111111111111111", "5500005555555559", "378282246310005", "6011111111111117", "79927398713"} {
		if !Luhn(s) {
			t.Errorf("%s should pass", s)
		}
	}
	for _, s := range []string{"4111111111111112", "79927398710"} {
		if Luhn(s) {
			t.Errorf("%s should fail", s)
		}
	}
}

// BenchmarkFormats measures one token per op, encrypt then decrypt.
func BenchmarkFormats(b *testing.B) {
	values := map[string]string{
		NameCNResidentID: "11010519491231002X", NameE164: "+8613812345678",
		NamePAN: "4111111111111111", NamePANKeepBIN: "4111111111111111", NameDigits: "6222 0200 1234 5678",
	}
	for _, name := range []string{NameCNResidentID, NameE164, NamePAN, NamePANKeepBIN, NameDigits} {
		f, _ := ByName(name)
		for _, bname := range []string{"aes256", "sm4"} {
			b.Run(name+"/"+bname, func(b *testing.B) {
				c := cipherFor(b, blocks(b, 1)[bname], f)
				tweak := []byte("region=cn-north")
				b.ReportAllocs()
				for b.Loop() {
					tok, err := f.Encrypt(c, tweak, values[name])
					if err != nil {
						b.Fatal(err)
					}
					if _, err := f.Decrypt(c, tweak, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
