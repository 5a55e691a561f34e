// Package ff1 implements the FF1 format-preserving encryption mode of
// NIST SP 800-38G Rev. 1 (Algorithms 7 and 8) over any block cipher with a
// 128-bit block, such as AES (crypto/aes) or SM4.
//
// A [Cipher] encrypts numeral strings: slices of numerals in [0, radix). FF1
// is a deterministic, unauthenticated permutation of the strings of a given
// length; it keeps the length and the alphabet, and nothing else. Callers
// that need integrity must add it elsewhere. [Alphabet] and [StringCipher]
// map text to numerals and back.
//
// The domain rule of Rev. 1 applies: a numeral string of length n is accepted
// only if radix^n >= 1,000,000 and n >= 2. Shorter strings are rejected with
// [ErrLength]; they are not encrypted with a weaker margin.
//
// The implementation works on 64-bit integers whenever radix^ceil(n/2) fits
// in 64 bits (for radix 10, up to 38 numerals) and on math/big otherwise.
// It is not constant-time. A Cipher is safe for concurrent use if its block
// cipher is (crypto/aes and SM4 blocks are).
package ff1

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
)

// Limits of the FF1 parameters.
const (
	// MinRadix and MaxRadix bound the radix (SP 800-38G: radix in [2, 2^16]).
	MinRadix = 2
	MaxRadix = 1 << 16

	// DefaultMaxLen is the longest numeral string a Cipher accepts unless
	// [WithMaxLen] says otherwise. The specification allows up to 2^32;
	// the cost of FF1 grows with the square of the length for large
	// inputs, so the default is kept modest.
	DefaultMaxLen = 4096

	// DefaultMaxTweakLen is the longest tweak, in bytes, a Cipher accepts
	// unless [WithMaxTweakLen] says otherwise.
	DefaultMaxTweakLen = 1024

	// maxSpecLen is the specification's bound on maxlen (n is encoded in
	// four bytes of P).
	maxSpecLen = 1 << 32

	// minDomain is Rev. 1's bound on the domain size: radix^minlen >= 10^6.
	minDomain = 1_000_000
)

// Errors returned by this package. They are wrapped with a description of the
// parameter that was out of range; they never contain numerals or tweaks.
var (
	// ErrRadix reports a radix outside [MinRadix, MaxRadix].
	ErrRadix = errors.New("ff1: invalid radix")
	// ErrBlockSize reports a block cipher whose block is not 16 bytes.
	ErrBlockSize = errors.New("ff1: block cipher must have a 16-byte block")
	// ErrLength reports an input too short for the FF1 domain rule
	// (radix^n >= 1,000,000) or longer than the configured maximum.
	ErrLength = errors.New("ff1: invalid input length")
	// ErrNumeral reports a numeral not smaller than the radix.
	ErrNumeral = errors.New("ff1: numeral out of range")
	// ErrTweak reports a tweak longer than the configured maximum.
	ErrTweak = errors.New("ff1: tweak too long")
	// ErrOption reports an invalid option value.
	ErrOption = errors.New("ff1: invalid option")
	// ErrAlphabet reports an invalid alphabet, a character outside the
	// alphabet or an alphabet whose size differs from the radix.
	ErrAlphabet = errors.New("ff1: invalid alphabet or character")
)

// Option configures a Cipher.
type Option func(*config) error

type config struct {
	maxLen      int
	maxTweakLen int
}

// WithMaxLen sets the longest numeral string the Cipher accepts
// (maxlen in SP 800-38G; at most 2^32).
func WithMaxLen(n int) Option {
	return func(c *config) error {
		if n < 2 || uint64(n) > maxSpecLen {
			return fmt.Errorf("%w: maximum length %d outside [2, 2^32]", ErrOption, n)
		}
		c.maxLen = n
		return nil
	}
}

// WithMaxTweakLen sets the longest tweak, in bytes, the Cipher accepts
// (maxTlen in SP 800-38G).
func WithMaxTweakLen(n int) Option {
	return func(c *config) error {
		if n < 0 || uint64(n) >= maxSpecLen {
			return fmt.Errorf("%w: maximum tweak length %d outside [0, 2^32)", ErrOption, n)
		}
		c.maxTweakLen = n
		return nil
	}
}

// Cipher is FF1 under one key (the block cipher), one radix and a default
// tweak. It holds no mutable state.
type Cipher struct {
	block       cipher.Block
	radix       int
	tweak       []byte
	minLen      int
	maxLen      int
	maxTweakLen int
	minDomain   uint64 // radix^n must be at least this; tests may lower it
}

// New returns an FF1 cipher over block for numerals in [0, radix), with
// tweak as the default tweak (it may be empty; it is copied).
//
// block must have a 16-byte block, for example from aes.NewCipher or
// sm4.NewCipher. New returns an error wrapping [ErrBlockSize], [ErrRadix],
// [ErrTweak] or [ErrOption] when a parameter is out of range.
func New(block cipher.Block, radix int, tweak []byte, opts ...Option) (*Cipher, error) {
	if block == nil || block.BlockSize() != 16 {
		return nil, ErrBlockSize
	}
	if radix < MinRadix || radix > MaxRadix {
		return nil, fmt.Errorf("%w: %d outside [%d, %d]", ErrRadix, radix, MinRadix, MaxRadix)
	}
	cfg := config{maxLen: DefaultMaxLen, maxTweakLen: DefaultMaxTweakLen}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	c := &Cipher{
		block:       block,
		radix:       radix,
		tweak:       append([]byte{}, tweak...),
		maxLen:      cfg.maxLen,
		maxTweakLen: cfg.maxTweakLen,
		minDomain:   minDomain,
	}
	c.minLen = minLenFor(radix, c.minDomain)
	if c.maxLen < c.minLen {
		return nil, fmt.Errorf("%w: maximum length %d below the minimum %d for radix %d", ErrOption, c.maxLen, c.minLen, radix)
	}
	if len(tweak) > c.maxTweakLen {
		return nil, fmt.Errorf("%w: default tweak of %d bytes, maximum %d", ErrTweak, len(tweak), c.maxTweakLen)
	}
	return c, nil
}

// minLenFor returns the smallest n >= 2 with radix^n >= domain.
func minLenFor(radix int, domain uint64) int {
	n, p := 1, uint64(radix)
	for n < 2 || p < domain {
		n++
		p *= uint64(radix) // p < 10^6 before, radix <= 2^16: no overflow
	}
	return n
}

// Radix returns the cipher's radix.
func (c *Cipher) Radix() int { return c.radix }

// MinLen returns the shortest numeral string the cipher accepts: the least
// n >= 2 with radix^n >= 1,000,000.
func (c *Cipher) MinLen() int { return c.minLen }

// MaxLen returns the longest numeral string the cipher accepts.
func (c *Cipher) MaxLen() int { return c.maxLen }

// MaxTweakLen returns the longest tweak, in bytes, the cipher accepts.
func (c *Cipher) MaxTweakLen() int { return c.maxTweakLen }

// Encrypt encrypts the numeral string x under the default tweak and returns
// a new numeral string of the same length. x is not modified.
func (c *Cipher) Encrypt(x []uint16) ([]uint16, error) {
	return c.crypt(x, c.tweak, false)
}

// Decrypt decrypts the numeral string x under the default tweak.
func (c *Cipher) Decrypt(x []uint16) ([]uint16, error) {
	return c.crypt(x, c.tweak, true)
}

// EncryptTweak encrypts x under tweak instead of the default tweak.
func (c *Cipher) EncryptTweak(x []uint16, tweak []byte) ([]uint16, error) {
	return c.crypt(x, tweak, false)
}

// DecryptTweak decrypts x under tweak instead of the default tweak.
func (c *Cipher) DecryptTweak(x []uint16, tweak []byte) ([]uint16, error) {
	return c.crypt(x, tweak, true)
}

// Check reports whether x is a numeral string the cipher accepts, with the
// same error Encrypt would return.
func (c *Cipher) Check(x []uint16) error {
	return c.check(x, nil)
}

func (c *Cipher) check(x []uint16, tweak []byte) error {
	n := len(x)
	if n < c.minLen || n > c.maxLen {
		return fmt.Errorf("%w: %d numerals, radix %d needs between %d and %d", ErrLength, n, c.radix, c.minLen, c.maxLen)
	}
	if len(tweak) > c.maxTweakLen {
		return fmt.Errorf("%w: %d bytes, maximum %d", ErrTweak, len(tweak), c.maxTweakLen)
	}
	for _, d := range x {
		if int(d) >= c.radix {
			return fmt.Errorf("%w: radix %d", ErrNumeral, c.radix)
		}
	}
	return nil
}

// pow64 returns radix^e and whether it fits in a uint64.
func pow64(radix, e int) (uint64, bool) {
	p := uint64(1)
	for range e {
		hi, lo := bits.Mul64(p, uint64(radix))
		if hi != 0 {
			return 0, false
		}
		p = lo
	}
	return p, true
}

// round holds the per-call state of the PRF: the CBC-MAC state after P and
// the leading blocks of Q that do not change between rounds, and the tail
// of Q that does.
type round struct {
	block cipher.Block
	h     []byte // CBC-MAC state after P || the fixed full blocks of Q
	q     []byte // tail of Q: fixed tweak/pad bytes || [i] || [NUM(B)]^b
	r     []byte // R (16 bytes)
	s     []byte // S, ceil(d/16)*16 bytes; s[:16] aliases nothing
	tmp   []byte // 16 bytes
	b, d  int
}

// newRound performs steps 3 to 5 of Algorithms 7 and 8 and the part of
// step 6.ii that is the same in every round.
func newRound(block cipher.Block, radix, n, u, b int, tweak []byte) round {
	t := len(tweak)
	d := 4*((b+3)/4) + 4
	pad := mod(-t-b-1, 16)
	lenQ := t + pad + 1 + b
	fixedBlocks := (t + pad) / 16
	tail := lenQ - 16*fixedBlocks
	sLen := 16 * ((d + 15) / 16)

	buf := make([]byte, 16+16*fixedBlocks+tail+16+sLen+16)
	rd := round{block: block, b: b, d: d}
	rd.h, buf = buf[:16:16], buf[16:]
	fixed, buf := buf[:16*fixedBlocks], buf[16*fixedBlocks:]
	rd.q, buf = buf[:tail:tail], buf[tail:]
	rd.r, buf = buf[:16:16], buf[16:]
	rd.s, buf = buf[:sLen:sLen], buf[sLen:]
	rd.tmp = buf[:16:16]

	// Q = T || [0]^pad || [i]^1 || [NUM(B)]^b; the first t+pad bytes are
	// fixed: fill the full blocks and the fixed head of the tail.
	nt := copy(fixed, tweak)
	copy(rd.q, tweak[nt:])

	// P = [1]^1 || [2]^1 || [1]^1 || [radix]^3 || [10]^1 || [u mod 256]^1 || [n]^4 || [t]^4
	p := rd.h
	p[0], p[1], p[2] = 1, 2, 1
	p[3], p[4], p[5] = byte(radix>>16), byte(radix>>8), byte(radix)
	p[6] = 10
	p[7] = byte(u)
	binary.BigEndian.PutUint32(p[8:12], uint32(n))
	binary.BigEndian.PutUint32(p[12:16], uint32(t))
	block.Encrypt(rd.h, p)
	for off := 0; off < len(fixed); off += 16 {
		subtle.XORBytes(rd.h, rd.h, fixed[off:off+16])
		block.Encrypt(rd.h, rd.h)
	}
	return rd
}

// prf computes S (step 6.iii) for round i; the caller has written [NUM]^b
// into numBytes().
func (rd *round) prf(i int) []byte {
	q := rd.q
	q[len(q)-rd.b-1] = byte(i)
	copy(rd.r, rd.h)
	for off := 0; off < len(q); off += 16 {
		subtle.XORBytes(rd.r, rd.r, q[off:off+16])
		rd.block.Encrypt(rd.r, rd.r)
	}
	copy(rd.s, rd.r)
	for j := 1; 16*j < rd.d; j++ {
		// CIPH_K(R xor [j]^16)
		copy(rd.tmp, rd.r)
		var jb [16]byte
		binary.BigEndian.PutUint64(jb[8:], uint64(j))
		subtle.XORBytes(rd.tmp, rd.tmp, jb[:])
		rd.block.Encrypt(rd.s[16*j:16*j+16], rd.tmp)
	}
	return rd.s[:rd.d]
}

// numBytes returns the b bytes of Q that hold NUM_radix of the round input.
func (rd *round) numBytes() []byte { return rd.q[len(rd.q)-rd.b:] }

func mod(a, m int) int {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

func (c *Cipher) crypt(x []uint16, tweak []byte, decrypt bool) ([]uint16, error) {
	if err := c.check(x, tweak); err != nil {
		return nil, err
	}
	n := len(x)
	u := n / 2
	v := n - u
	out := make([]uint16, n)
	if mv, ok := pow64(c.radix, v); ok {
		mu, _ := pow64(c.radix, u)
		c.crypt64(out, x, tweak, u, mu, mv, decrypt)
	} else {
		c.cryptBig(out, x, tweak, u, decrypt)
	}
	return out, nil
}

// crypt64 is Algorithms 7 and 8 with NUM values kept in uint64, valid when
// radix^v < 2^64. Then b <= 8 and d <= 12, so y fits in 96 bits.
func (c *Cipher) crypt64(out, x []uint16, tweak []byte, u int, mu, mv uint64, decrypt bool) {
	n := len(x)
	radix := uint64(c.radix)
	// b = ceil(ceil(v*log2(radix))/8) = byte length of radix^v - 1.
	b := (bits.Len64(mv-1) + 7) / 8
	rd := newRound(c.block, c.radix, n, u, b, tweak)
	numA, numB := num64(x[:u], radix), num64(x[u:], radix)
	nb := rd.numBytes()
	for k := range 10 {
		i, m := k, mu
		if decrypt {
			i = 9 - k
		}
		if i%2 == 1 {
			m = mv
		}
		in := numB // encryption: Q carries NUM(B)
		if decrypt {
			in = numA // decryption: Q carries NUM(A)
		}
		for j := b - 1; j >= 0; j-- {
			nb[j] = byte(in)
			in >>= 8
		}
		s := rd.prf(i)
		var hi, lo uint64
		if rd.d == 12 {
			hi = uint64(binary.BigEndian.Uint32(s[:4]))
			lo = binary.BigEndian.Uint64(s[4:12])
		} else { // d == 8
			lo = binary.BigEndian.Uint64(s[:8])
		}
		y := bits.Rem64(hi, lo, m)
		if !decrypt {
			// c = (NUM(A) + y) mod radix^m; A = B; B = C.
			sum, carry := bits.Add64(numA, y, 0)
			if carry != 0 || sum >= m {
				sum -= m
			}
			numA, numB = numB, sum
		} else {
			// c = (NUM(B) - y) mod radix^m; B = A; A = C.
			diff := numB - y
			if numB < y {
				diff += m
			}
			numA, numB = diff, numA
		}
	}
	str64(out[:u], numA, radix)
	str64(out[u:], numB, radix)
}

func num64(x []uint16, radix uint64) uint64 {
	var z uint64
	for _, d := range x {
		z = z*radix + uint64(d)
	}
	return z
}

func str64(out []uint16, z, radix uint64) {
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = uint16(z % radix)
		z /= radix
	}
}

// cryptBig is Algorithms 7 and 8 with math/big, for any length.
func (c *Cipher) cryptBig(out, x []uint16, tweak []byte, u int, decrypt bool) {
	n := len(x)
	v := n - u
	radix := big.NewInt(int64(c.radix))
	mu := new(big.Int).Exp(radix, big.NewInt(int64(u)), nil)
	mv := new(big.Int).Exp(radix, big.NewInt(int64(v)), nil)
	b := (new(big.Int).Sub(mv, big.NewInt(1)).BitLen() + 7) / 8
	rd := newRound(c.block, c.radix, n, u, b, tweak)
	ch := newChunker(c.radix)
	numA, numB := ch.num(x[:u]), ch.num(x[u:])
	y := new(big.Int)
	nb := rd.numBytes()
	for k := range 10 {
		i, m := k, mu
		if decrypt {
			i = 9 - k
		}
		if i%2 == 1 {
			m = mv
		}
		if decrypt {
			numA.FillBytes(nb)
		} else {
			numB.FillBytes(nb)
		}
		y.SetBytes(rd.prf(i))
		if !decrypt {
			numA.Add(numA, y)
			numA.Mod(numA, m)
			numA, numB = numB, numA
		} else {
			numB.Sub(numB, y)
			numB.Mod(numB, m) // Euclidean modulus: non-negative
			numA, numB = numB, numA
		}
	}
	ch.str(out[:u], numA)
	ch.str(out[u:], numB)
}

// chunker converts between numeral strings and big integers k numerals at a
// time, where radix^k is the largest power that fits in a uint64.
type chunker struct {
	radix uint64
	k     int
	pow   uint64 // radix^k
}

func newChunker(radix int) chunker {
	ch := chunker{radix: uint64(radix), k: 1, pow: uint64(radix)}
	for ch.pow <= math.MaxUint64/ch.radix {
		ch.pow *= ch.radix
		ch.k++
	}
	return ch
}

// num returns NUM_radix(x).
func (ch chunker) num(x []uint16) *big.Int {
	z := new(big.Int)
	w := new(big.Int)
	mul := new(big.Int).SetUint64(ch.pow)
	first := len(x) % ch.k
	if first == 0 {
		first = ch.k
	}
	for len(x) > 0 {
		l := min(first, len(x))
		first = ch.k
		p, _ := pow64(int(ch.radix), l)
		if l != ch.k {
			z.Mul(z, w.SetUint64(p))
		} else {
			z.Mul(z, mul)
		}
		z.Add(z, w.SetUint64(num64(x[:l], ch.radix)))
		x = x[l:]
	}
	return z
}

// str writes STR^m_radix(z) into out, m = len(out); z < radix^m. z is
// consumed.
func (ch chunker) str(out []uint16, z *big.Int) {
	div := new(big.Int).SetUint64(ch.pow)
	r := new(big.Int)
	for len(out) > 0 {
		l := min(ch.k, len(out))
		z.QuoRem(z, div, r)
		str64(out[len(out)-l:], r.Uint64(), ch.radix)
		out = out[:len(out)-l]
	}
}
