package ff1

import (
	"crypto/aes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
)

// nistSamples are the FF1 examples of NIST CSRC, "Cryptographic Standards and
// Guidelines: Examples with Intermediate Values", file FF1samples.pdf
// (https://csrc.nist.gov/csrc/media/projects/cryptographic-standards-and-guidelines/documents/examples/ff1samples.pdf),
// Samples 1 to 9: AES-128, AES-192 and AES-256, each with radix 10 and an
// empty tweak, radix 10 and a 10-byte tweak, and radix 36 and an 11-byte
// tweak. Radix-36 strings use the numerals 0-9a-z.
var nistSamples = []struct {
	name   string
	key    string
	radix  int
	tweak  string
	pt, ct string
}{
	{"sample1/aes128", "2B7E151628AED2A6ABF7158809CF4F3C", 10, "", "0123456789", "2433477484"},
	{"sample2/aes128", "2B7E151628AED2A6ABF7158809CF4F3C", 10, "39383736353433323130", "0123456789", "6124200773"},
	{"sample3/aes128", "2B7E151628AED2A6ABF7158809CF4F3C", 36, "3737373770717273373737", "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
	{"sample4/aes192", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", 10, "", "0123456789", "2830668132"},
	{"sample5/aes192", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", 10, "39383736353433323130", "0123456789", "2496655549"},
	{"sample6/aes192", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F", 36, "3737373770717273373737", "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
	{"sample7/aes256", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", 10, "", "0123456789", "6657667009"},
	{"sample8/aes256", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", 10, "39383736353433323130", "0123456789", "1001623463"},
	{"sample9/aes256", "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94", 36, "3737373770717273373737", "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNISTSamples(t *testing.T) {
	for _, tc := range nistSamples {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			block, err := aes.NewCipher(mustHex(t, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			a, err := NewAlphabet(LowerAlphanumeric[:tc.radix])
			if err != nil {
				t.Fatal(err)
			}
			// Default tweak.
			c, err := NewString(block, a, mustHex(t, tc.tweak))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := c.Encrypt(tc.pt); err != nil || got != tc.ct {
				t.Errorf("Encrypt = %q, %v; want %q", got, err, tc.ct)
			}
			if got, err := c.Decrypt(tc.ct); err != nil || got != tc.pt {
				t.Errorf("Decrypt = %q, %v; want %q", got, err, tc.pt)
			}
			// Per-call tweak on a cipher whose default tweak differs.
			c2, err := NewString(block, a, []byte("other default"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := c2.EncryptTweak(tc.pt, mustHex(t, tc.tweak)); err != nil || got != tc.ct {
				t.Errorf("EncryptTweak = %q, %v; want %q", got, err, tc.ct)
			}
			if got, err := c2.DecryptTweak(tc.ct, mustHex(t, tc.tweak)); err != nil || got != tc.pt {
				t.Errorf("DecryptTweak = %q, %v; want %q", got, err, tc.pt)
			}
		})
	}
}

// TestReferenceNIST proves the slow reference on the NIST samples.
func TestReferenceNIST(t *testing.T) {
	for _, tc := range nistSamples {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			block, err := aes.NewCipher(mustHex(t, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			pt, ct := refDigits(tc.pt), refDigits(tc.ct)
			if got := refFF1(block, tc.radix, mustHex(t, tc.tweak), pt, false); !slices.Equal(got, ct) {
				t.Errorf("reference encrypt = %v, want %v", got, ct)
			}
			if got := refFF1(block, tc.radix, mustHex(t, tc.tweak), ct, true); !slices.Equal(got, pt) {
				t.Errorf("reference decrypt = %v, want %v", got, pt)
			}
		})
	}
}

func refDigits(s string) []int {
	out := make([]int, len(s))
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			out[i] = int(r - '0')
		default:
			out[i] = int(r-'a') + 10
		}
	}
	return out
}

// wycheproofFile is the Wycheproof FF1 file (Project Wycheproof,
// google-wycheproof 0.9rc5 per its test groups), copied unchanged from the
// team's shared testdata/wycheproof with its LICENSE (Apache 2.0) beside it.
const wycheproofFile = "testdata/aes_ff1_radix10_test.json"

type wycheproofCase struct {
	TcID    int    `json:"tcId"`
	Comment string `json:"comment"`
	Flags   []string
	Key     string
	Tweak   string
	Msg     []int
	Ct      []int
	Result  string
	radix   int
}

func loadWycheproof(t *testing.T) []wycheproofCase {
	t.Helper()
	raw, err := os.ReadFile(wycheproofFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Algorithm     string
		NumberOfTests int
		TestGroups    []struct {
			Radix int
			Tests []wycheproofCase
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Algorithm != "AES-FF1" {
		t.Fatalf("algorithm %q", f.Algorithm)
	}
	var cases []wycheproofCase
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			tc.radix = g.Radix
			cases = append(cases, tc)
		}
	}
	if len(cases) != f.NumberOfTests {
		t.Fatalf("read %d cases, file says %d", len(cases), f.NumberOfTests)
	}
	return cases
}

// toNumerals maps Wycheproof's integers to this package's uint16 numerals.
// A value that uint16 cannot hold (the file uses -1) becomes 0xFFFF, which
// is out of range for radix 10 and must be rejected just the same.
func toNumerals(x []int) []uint16 {
	out := make([]uint16, len(x))
	for i, d := range x {
		if d < 0 || d > 0xFFFF {
			d = 0xFFFF
		}
		out[i] = uint16(d)
	}
	return out
}

// TestWycheproof runs every case of the Wycheproof FF1 file:
//
//   - valid cases must encrypt msg to exactly ct and decrypt ct to msg;
//   - SmallMessageSize cases are "valid" under the original FF1 bound
//     (radix^n >= 100) but below Rev. 1's (radix^n >= 10^6): the default
//     Cipher must reject them, and with the bound lowered to 100 the same
//     code must produce exactly ct;
//   - invalid cases must be rejected: bad key sizes by aes.NewCipher, bad
//     lengths and bad numerals by Encrypt (and bad lengths by Decrypt).
func TestWycheproof(t *testing.T) {
	counts := map[string]int{}
	for _, tc := range loadWycheproof(t) {
		flag := tc.Flags[0]
		block, err := aes.NewCipher(mustHex(t, tc.Key))
		if err != nil {
			if tc.Result != "invalid" {
				t.Errorf("tcId %d: aes.NewCipher: %v", tc.TcID, err)
			}
			counts[tc.Result+"/"+flag]++
			continue
		}
		if tc.Result == "invalid" && flag == "InvalidKeySize" {
			t.Errorf("tcId %d: key size accepted", tc.TcID)
			continue
		}
		c, err := New(block, tc.radix, mustHex(t, tc.Tweak))
		if err != nil {
			t.Fatalf("tcId %d: New: %v", tc.TcID, err)
		}
		msg, ct := toNumerals(tc.Msg), toNumerals(tc.Ct)
		switch {
		case tc.Result == "valid" && flag == "SmallMessageSize":
			if _, err := c.Encrypt(msg); !errors.Is(err, ErrLength) {
				t.Errorf("tcId %d: Encrypt below the Rev. 1 domain: err = %v, want ErrLength", tc.TcID, err)
			}
			if _, err := c.Decrypt(ct); !errors.Is(err, ErrLength) {
				t.Errorf("tcId %d: Decrypt below the Rev. 1 domain: err = %v, want ErrLength", tc.TcID, err)
			}
			c.minDomain = 100
			c.minLen = minLenFor(c.radix, c.minDomain)
			checkValid(t, c, tc.TcID, msg, ct)
		case tc.Result == "valid":
			checkValid(t, c, tc.TcID, msg, ct)
		case flag == "InvalidMessageSize":
			if _, err := c.Encrypt(msg); !errors.Is(err, ErrLength) {
				t.Errorf("tcId %d: Encrypt: err = %v, want ErrLength", tc.TcID, err)
			}
			if _, err := c.Decrypt(ct); !errors.Is(err, ErrLength) {
				t.Errorf("tcId %d: Decrypt: err = %v, want ErrLength", tc.TcID, err)
			}
		case flag == "InvalidPlaintext":
			if _, err := c.Encrypt(msg); !errors.Is(err, ErrNumeral) {
				t.Errorf("tcId %d: Encrypt: err = %v, want ErrNumeral", tc.TcID, err)
			}
			// ct is a well-formed numeral string; it must not decrypt to
			// the invalid msg.
			if got, err := c.Decrypt(ct); err == nil && slices.Equal(got, msg) {
				t.Errorf("tcId %d: Decrypt(ct) = msg", tc.TcID)
			}
		default:
			t.Errorf("tcId %d: unhandled case %s/%s", tc.TcID, tc.Result, flag)
			continue
		}
		counts[tc.Result+"/"+flag]++
	}
	total := 0
	for k, v := range counts {
		total += v
		t.Logf("%-30s %d", k, v)
	}
	t.Logf("%d cases checked", total)
}

func checkValid(t *testing.T, c *Cipher, id int, msg, ct []uint16) {
	t.Helper()
	if got, err := c.Encrypt(msg); err != nil || !slices.Equal(got, ct) {
		t.Errorf("tcId %d: Encrypt = %v, %v; want %v", id, got, err, ct)
	}
	if got, err := c.Decrypt(ct); err != nil || !slices.Equal(got, msg) {
		t.Errorf("tcId %d: Decrypt = %v, %v; want %v", id, got, err, msg)
	}
}

// TestReferenceWycheproof proves the slow reference on every valid
// Wycheproof case, including the large ones that exercise b > 8 and d > 16.
func TestReferenceWycheproof(t *testing.T) {
	n := 0
	for _, tc := range loadWycheproof(t) {
		if tc.Result != "valid" {
			continue
		}
		if testing.Short() && tc.TcID%10 != 0 {
			continue
		}
		block, err := aes.NewCipher(mustHex(t, tc.Key))
		if err != nil {
			t.Fatal(err)
		}
		tweak := mustHex(t, tc.Tweak)
		if got := refFF1(block, tc.radix, tweak, tc.Msg, false); !slices.Equal(got, tc.Ct) {
			t.Errorf("tcId %d: reference encrypt = %v, want %v", tc.TcID, got, tc.Ct)
		}
		if got := refFF1(block, tc.radix, tweak, tc.Ct, true); !slices.Equal(got, tc.Msg) {
			t.Errorf("tcId %d: reference decrypt = %v, want %v", tc.TcID, got, tc.Msg)
		}
		n++
	}
	t.Logf("%d valid cases checked against the reference", n)
}
