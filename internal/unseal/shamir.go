package unseal

import (
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"
)

// Why circl: the sharing must come from a maintained, reviewed library, not
// from code written here. Of the Shamir implementations the Go module proxy
// serves, hashicorp/vault/shamir and openbao's live inside whole-server
// modules (hundreds of requirements for one small package), and the small
// single-purpose ones (corvus-ch/shamir, SSSaaS/sssa-golang, dedis/kyber's
// share) are not served or no longer kept. cloudflare/circl is Cloudflare's
// maintained cryptography library, with two small requirements
// (x/crypto, x/sys) and go-ristretto; its secretsharing package is Shamir
// (and Feldman) over a prime-order group's scalar field, and Ristretto255's
// scalars are constant time. It shares one scalar, so the secret is cut
// into 31-byte chunks, each shared with the same share numbers.

// Split cuts secret into n shares of which any threshold give it back and
// threshold-1 tell nothing about it (but its length, rounded up to 31
// bytes). rand supplies the polynomials and the split's identifier; pass
// crypto/rand.Reader. 2 <= threshold <= n <= MaxShares, and the secret
// holds 1 to MaxSecretLen bytes.
func Split(secret []byte, n, threshold int, rand io.Reader) ([]*Share, error) {
	switch {
	case threshold < 2:
		return nil, fmt.Errorf("split: the threshold must be at least 2 (with 1, every share is the secret itself)")
	case n < threshold:
		return nil, fmt.Errorf("split: %d shares cannot meet a threshold of %d", n, threshold)
	case n > MaxShares:
		return nil, fmt.Errorf("split: at most %d shares", MaxShares)
	case len(secret) == 0:
		return nil, errors.New("split: the secret is empty")
	case len(secret) > MaxSecretLen:
		return nil, fmt.Errorf("split: the secret is longer than %d bytes", MaxSecretLen)
	}
	var set [setLen]byte
	if _, err := io.ReadFull(rand, set[:]); err != nil {
		return nil, fmt.Errorf("split: random: %w", err)
	}
	shares := make([]*Share, n)
	for i := range shares {
		shares[i] = &Share{Threshold: threshold, Number: i + 1, set: set, length: len(secret)}
	}
	g := group.Ristretto255
	var chunk [scalarLen]byte
	for off := 0; off < len(secret); off += chunkLen {
		clear(chunk[:])
		copy(chunk[:chunkLen], secret[off:])
		s := g.NewScalar()
		if err := s.UnmarshalBinary(chunk[:]); err != nil {
			// Unreachable: a 31-byte number is below the group order.
			return nil, fmt.Errorf("split: chunk: %w", err)
		}
		ss := secretsharing.New(rand, uint(threshold-1), s)
		for i, sh := range ss.Share(uint(n)) {
			v, err := sh.Value.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("split: %w", err)
			}
			shares[i].values = append(shares[i].values, [scalarLen]byte(v))
			clear(v)
			sh.Value.SetUint64(0)
		}
		s.SetUint64(0)
	}
	clear(chunk[:])
	return shares, nil
}

// Combiner gathers shares one at a time, checking each as it comes, and
// gives the secret back once it holds as many as their threshold. The zero
// value is ready to use.
type Combiner struct {
	shares []*Share
}

// Add reads one share's text and keeps it. It returns a *ShareError, naming
// the share by its position among those added, that wraps ErrShareFormat,
// ErrShareVersion or ErrShareChecksum (the text), ErrDuplicateShare (its
// number was given already) or ErrMixedShares (it belongs to another
// split); a refused share is not kept and does not count.
func (c *Combiner) Add(text string) error {
	pos := len(c.shares) + 1
	sh, err := ParseShare(text)
	if err != nil {
		var se *ShareError
		if errors.As(err, &se) {
			se.Position = pos
			return se
		}
		return &ShareError{Position: pos, Err: err}
	}
	if len(c.shares) > 0 {
		first := c.shares[0]
		if sh.set != first.set || sh.Threshold != first.Threshold || sh.length != first.length {
			return &ShareError{Position: pos, Number: sh.Number, Err: ErrMixedShares}
		}
	}
	for i, o := range c.shares {
		if o.Number == sh.Number {
			return &ShareError{Position: pos, Number: sh.Number,
				Err: fmt.Errorf("%w (share %d is number %d too)", ErrDuplicateShare, i+1, sh.Number)}
		}
	}
	if c.Missing() == 0 {
		return &ShareError{Position: pos, Number: sh.Number, Err: fmt.Errorf("%d shares are enough already", len(c.shares))}
	}
	c.shares = append(c.shares, sh)
	return nil
}

// Threshold is how many shares the split needs, 0 before the first share.
func (c *Combiner) Threshold() int {
	if len(c.shares) == 0 {
		return 0
	}
	return c.shares[0].Threshold
}

// Len is how many shares were kept.
func (c *Combiner) Len() int { return len(c.shares) }

// Missing is how many more shares are needed, -1 before the first share
// (which tells the threshold).
func (c *Combiner) Missing() int {
	if len(c.shares) == 0 {
		return -1
	}
	return c.Threshold() - len(c.shares)
}

// Secret combines the shares. It wraps ErrNotEnoughShares, saying how many
// more are needed, while shares are missing, and ErrSharesDisagree when
// they do not make a well-formed secret. The shares are wiped either way;
// the caller should clear the secret once used.
func (c *Combiner) Secret() ([]byte, error) {
	defer c.wipe()
	switch m := c.Missing(); {
	case m < 0:
		return nil, fmt.Errorf("%w: none given", ErrNotEnoughShares)
	case m == 1:
		return nil, fmt.Errorf("%w: %d of %d given, 1 more needed", ErrNotEnoughShares, len(c.shares), c.Threshold())
	case m > 0:
		return nil, fmt.Errorf("%w: %d of %d given, %d more needed", ErrNotEnoughShares, len(c.shares), c.Threshold(), m)
	}
	g := group.Ristretto255
	first := c.shares[0]
	secret := make([]byte, 0, len(first.values)*chunkLen)
	for j := range first.values {
		parts := make([]secretsharing.Share, len(c.shares))
		for i, sh := range c.shares {
			v := g.NewScalar()
			if err := v.UnmarshalBinary(sh.values[j][:]); err != nil {
				clear(secret)
				return nil, ErrSharesDisagree // checked by ParseShare
			}
			parts[i] = secretsharing.Share{ID: g.NewScalar().SetUint64(uint64(sh.Number)), Value: v}
		}
		s, err := secretsharing.Recover(uint(first.Threshold-1), parts)
		for _, p := range parts {
			p.Value.SetUint64(0)
		}
		if err != nil {
			clear(secret)
			return nil, fmt.Errorf("combine: %w", err)
		}
		b, err := s.MarshalBinary()
		s.SetUint64(0)
		if err != nil {
			clear(secret)
			return nil, fmt.Errorf("combine: %w", err)
		}
		// The top byte of every chunk, and the padding after the secret
		// in the last one, were zero when split.
		end := min(chunkLen, first.length-j*chunkLen)
		bad := byte(0)
		for _, x := range b[end:] {
			bad |= x
		}
		secret = append(secret, b[:end]...)
		clear(b)
		if bad != 0 {
			clear(secret)
			return nil, ErrSharesDisagree
		}
	}
	return secret, nil
}

func (c *Combiner) wipe() {
	for _, sh := range c.shares {
		sh.wipe()
	}
	c.shares = nil
}
