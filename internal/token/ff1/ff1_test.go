package ff1

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/sm4"
)

func newSM4(t testing.TB, rng *rand.Rand) cipher.Block {
	t.Helper()
	key := make([]byte, 16)
	fill(rng, key)
	b, err := sm4.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newAES(t testing.TB, rng *rand.Rand, size int) cipher.Block {
	t.Helper()
	key := make([]byte, size)
	fill(rng, key)
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// randomCase draws a radix (biased to the interesting ones), a length in
// the cipher's domain, a numeral string and a tweak.
func randomCase(rng *rand.Rand, maxLen int) (radix int, x []uint16, tweak []byte) {
	switch rng.IntN(6) {
	case 0:
		radix = 10
	case 1:
		radix = 2 + rng.IntN(35)
	case 2:
		radix = 2 + rng.IntN(300)
	case 3:
		radix = MaxRadix - rng.IntN(3)
	case 4:
		radix = []int{2, 3, 16, 36, 62, 256, 1000, 1 << 15}[rng.IntN(8)]
	default:
		radix = 2 + rng.IntN(MaxRadix-1)
	}
	minLen := minLenFor(radix, minDomain)
	n := minLen + rng.IntN(max(1, maxLen-minLen+1))
	x = make([]uint16, n)
	for i := range x {
		x[i] = uint16(rng.IntN(radix))
	}
	tweak = make([]byte, rng.IntN(40))
	fill(rng, tweak)
	return radix, x, tweak
}

func toInts(x []uint16) []int {
	out := make([]int, len(x))
	for i, d := range x {
		out[i] = int(d)
	}
	return out
}

// TestSM4AgainstReference drives the package and the slow reference with
// SM4 over random radices, lengths and tweaks. Both fast (uint64) and
// big.Int paths are reached: lengths go up to 60 numerals.
func TestSM4AgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	paths := map[bool]int{}
	for range iters {
		block := newSM4(t, rng)
		radix, x, tweak := randomCase(rng, 60)
		c, err := New(block, radix, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.EncryptTweak(x, tweak)
		if err != nil {
			t.Fatalf("radix %d, n %d: %v", radix, len(x), err)
		}
		want := refFF1(block, radix, tweak, toInts(x), false)
		if !slices.Equal(toInts(got), want) {
			t.Fatalf("radix %d, n %d, t %d: encrypt differs from the reference", radix, len(x), len(tweak))
		}
		back, err := c.DecryptTweak(got, tweak)
		if err != nil || !slices.Equal(back, x) {
			t.Fatalf("radix %d, n %d: round trip failed: %v", radix, len(x), err)
		}
		if !slices.Equal(toInts(back), refFF1(block, radix, tweak, toInts(got), true)) {
			t.Fatalf("radix %d, n %d: decrypt differs from the reference", radix, len(x))
		}
		_, fast := pow64(radix, len(x)-len(x)/2)
		paths[fast]++
	}
	if paths[true] == 0 || paths[false] == 0 {
		t.Fatalf("paths not both exercised: %v", paths)
	}
	t.Logf("uint64 path %d cases, big.Int path %d cases", paths[true], paths[false])
}

// TestRoundTrip checks Decrypt(Encrypt(x)) == x over AES-128/192/256 and SM4,
// random radices, lengths and tweaks, and that Encrypt is not the identity.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	iters := 2000
	if testing.Short() {
		iters = 200
	}
	for i := range iters {
		var block cipher.Block
		switch i % 4 {
		case 0:
			block = newSM4(t, rng)
		default:
			block = newAES(t, rng, []int{16, 24, 32}[i%4-1])
		}
		radix, x, tweak := randomCase(rng, 300)
		c, err := New(block, radix, tweak)
		if err != nil {
			t.Fatal(err)
		}
		orig := slices.Clone(x)
		ct, err := c.Encrypt(x)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x, orig) {
			t.Fatal("Encrypt modified its input")
		}
		if len(ct) != len(x) {
			t.Fatalf("length %d -> %d", len(x), len(ct))
		}
		for _, d := range ct {
			if int(d) >= radix {
				t.Fatalf("numeral %d out of radix %d", d, radix)
			}
		}
		pt, err := c.Decrypt(ct)
		if err != nil || !slices.Equal(pt, x) {
			t.Fatalf("radix %d n %d: round trip failed (%v)", radix, len(x), err)
		}
		// A different tweak must (overwhelmingly) give a different result
		// unless the domain is tiny; 10^6 makes a collision 1 in a million.
		other, err := c.EncryptTweak(x, append(slices.Clone(tweak), 1))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(other, ct) && len(x) > c.MinLen() {
			t.Errorf("radix %d n %d: tweak has no effect", radix, len(x))
		}
	}
}

// TestPermutation checks on a whole small domain that encryption is a
// bijection: radix 1000, n = 2 (10^6 values) is too many for a unit test,
// so radix 10, n = 6 over AES and SM4 with a sample of 20,000 inputs must
// give 20,000 distinct outputs.
func TestPermutation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, block := range []cipher.Block{newAES(t, rng, 32), newSM4(t, rng)} {
		c, err := New(block, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := make(map[[6]uint16]bool)
		for v := range 20000 {
			x := make([]uint16, 6)
			str64(x, uint64(v*37), 10)
			ct, err := c.Encrypt(x)
			if err != nil {
				t.Fatal(err)
			}
			k := [6]uint16(ct)
			if seen[k] {
				t.Fatal("two inputs encrypt to the same output")
			}
			seen[k] = true
		}
	}
}

func TestValidation(t *testing.T) {
	aesBlock, _ := aes.NewCipher(make([]byte, 32))
	c10, err := New(aesBlock, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	digits := func(n int) []uint16 { return make([]uint16, n) }
	long := make([]byte, DefaultMaxTweakLen+1)

	newCases := []struct {
		name  string
		block cipher.Block
		radix int
		tweak []byte
		opts  []Option
		want  error
	}{
		{"fail/nil-block", nil, 10, nil, nil, ErrBlockSize},
		{"fail/64-bit-block", fakeBlock{8}, 10, nil, nil, ErrBlockSize},
		{"fail/radix-1", aesBlock, 1, nil, nil, ErrRadix},
		{"fail/radix-0", aesBlock, 0, nil, nil, ErrRadix},
		{"fail/radix-negative", aesBlock, -10, nil, nil, ErrRadix},
		{"fail/radix-65537", aesBlock, MaxRadix + 1, nil, nil, ErrRadix},
		{"fail/default-tweak-too-long", aesBlock, 10, long, nil, ErrTweak},
		{"fail/max-len-below-min", aesBlock, 10, nil, []Option{WithMaxLen(5)}, ErrOption},
		{"fail/max-len-1", aesBlock, 10, nil, []Option{WithMaxLen(1)}, ErrOption},
		{"fail/max-len-above-2^32", aesBlock, 10, nil, []Option{WithMaxLen(1<<32 + 1)}, ErrOption},
		{"fail/max-tweak-negative", aesBlock, 10, nil, []Option{WithMaxTweakLen(-1)}, ErrOption},
		{"ok/radix-2", aesBlock, 2, nil, nil, nil},
		{"ok/radix-65536", aesBlock, MaxRadix, nil, nil, nil},
		{"ok/options", aesBlock, 10, long, []Option{WithMaxLen(1 << 32), WithMaxTweakLen(len(long))}, nil},
	}
	for _, tc := range newCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.block, tc.radix, tc.tweak, tc.opts...)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("New: err = %v, want %v", err, tc.want)
			}
		})
	}

	callCases := []struct {
		name  string
		x     []uint16
		tweak []byte
		want  error
	}{
		{"fail/empty", nil, nil, ErrLength},
		{"fail/length-5", digits(5), nil, ErrLength},
		{"fail/too-long", digits(DefaultMaxLen + 1), nil, ErrLength},
		{"fail/numeral-10", []uint16{0, 0, 0, 10, 0, 0}, nil, ErrNumeral},
		{"fail/numeral-max", []uint16{0, 0, 0, 0, 0, 0xFFFF}, nil, ErrNumeral},
		{"fail/tweak-too-long", digits(6), long, ErrTweak},
		{"ok/length-6", digits(6), nil, nil},
		{"ok/max-len", digits(DefaultMaxLen), nil, nil},
	}
	for _, tc := range callCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []func([]uint16, []byte) ([]uint16, error){c10.EncryptTweak, c10.DecryptTweak} {
				out, err := f(tc.x, tc.tweak)
				if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if err != nil && out != nil {
					t.Fatal("output with an error")
				}
			}
		})
	}

	// Minimum lengths follow radix^minlen >= 10^6 with minlen >= 2.
	for _, tc := range []struct{ radix, minLen int }{
		{2, 20}, {3, 13}, {10, 6}, {16, 5}, {36, 4}, {62, 4}, {100, 3}, {999, 3}, {1000, 2}, {MaxRadix, 2},
	} {
		c, err := New(aesBlock, tc.radix, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.MinLen() != tc.minLen {
			t.Errorf("radix %d: MinLen = %d, want %d", tc.radix, c.MinLen(), tc.minLen)
		}
		if _, err := c.Encrypt(make([]uint16, tc.minLen-1)); !errors.Is(err, ErrLength) {
			t.Errorf("radix %d: length %d accepted", tc.radix, tc.minLen-1)
		}
		if _, err := c.Encrypt(make([]uint16, tc.minLen)); err != nil {
			t.Errorf("radix %d: length %d rejected: %v", tc.radix, tc.minLen, err)
		}
	}
}

type fakeBlock struct{ size int }

func (f fakeBlock) BlockSize() int          { return f.size }
func (f fakeBlock) Encrypt(dst, src []byte) { copy(dst, src) }
func (f fakeBlock) Decrypt(dst, src []byte) { copy(dst, src) }

func TestAlphabet(t *testing.T) {
	for _, tc := range []struct {
		name, chars string
		ok          bool
	}{
		{"ok/digits", Digits, true},
		{"ok/alnum", Alphanumeric, true},
		{"ok/unicode", "零一二三四五六七八九", true},
		{"fail/one", "0", false},
		{"fail/empty", "", false},
		{"fail/duplicate-ascii", "0120", false},
		{"fail/duplicate-unicode", "零一零", false},
		{"fail/invalid-utf8", "01\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAlphabet(tc.chars)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if !errors.Is(err, ErrAlphabet) {
					t.Fatalf("err = %v, want ErrAlphabet", err)
				}
				return
			}
			if a.String() != tc.chars {
				t.Fatalf("String = %q", a.String())
			}
			x, err := a.Numerals(tc.chars)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range x {
				if int(d) != i {
					t.Fatalf("numeral %d = %d", i, d)
				}
			}
			if s, err := a.Text(x); err != nil || s != tc.chars {
				t.Fatalf("Text = %q, %v", s, err)
			}
		})
	}
	a, _ := NewAlphabet(Digits)
	if _, err := a.Numerals("12a4"); !errors.Is(err, ErrAlphabet) || strings.Contains(err.Error(), "a") && strings.Contains(err.Error(), "12a4") {
		t.Errorf("Numerals: err = %v", err)
	}
	if _, err := a.Text([]uint16{1, 10}); !errors.Is(err, ErrNumeral) {
		t.Errorf("Text: err = %v", err)
	}
	if _, err := NewString(nil, a, nil); !errors.Is(err, ErrBlockSize) {
		t.Errorf("NewString(nil block): err = %v", err)
	}
	if _, err := NewString(fakeBlock{16}, nil, nil); !errors.Is(err, ErrAlphabet) {
		t.Errorf("NewString(nil alphabet): err = %v", err)
	}
}

// TestUnicodeAlphabet round-trips a string over a non-ASCII alphabet.
func TestUnicodeAlphabet(t *testing.T) {
	a, err := NewAlphabet("零一二三四五六七八九")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewString(newSM4(t, rand.New(rand.NewPCG(7, 8))), a, []byte("t"))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := c.Encrypt("一二三四五六七")
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(ct)); n != 7 {
		t.Fatalf("token has %d characters", n)
	}
	if pt, err := c.Decrypt(ct); err != nil || pt != "一二三四五六七" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
}

// TestErrorsCarryNoValue checks that no error message contains the input.
func TestErrorsCarryNoValue(t *testing.T) {
	a, _ := NewAlphabet(Digits)
	c, err := NewString(newSM4(t, rand.New(rand.NewPCG(9, 9))), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"98765", "9876x4321", strings.Repeat("7", DefaultMaxLen+1)} {
		_, err := c.Encrypt(in)
		if err == nil {
			t.Fatalf("accepted %q", in)
		}
		if strings.Contains(err.Error(), in[:4]) {
			t.Errorf("error %q contains the value", err)
		}
	}
}

// TestConcurrent shares one Cipher between goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	c, err := New(newAES(t, rng, 32), 10, []byte("tweak"))
	if err != nil {
		t.Fatal(err)
	}
	x := []uint16{1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6}
	want, err := c.Encrypt(x)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, err := c.Encrypt(x)
				if err != nil || !slices.Equal(got, want) {
					t.Error("concurrent Encrypt differs")
					return
				}
				back, err := c.Decrypt(got)
				if err != nil || !slices.Equal(back, x) {
					t.Error("concurrent Decrypt differs")
					return
				}
			}
		})
	}
	wg.Wait()
}
