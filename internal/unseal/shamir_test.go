package unseal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudflare/circl/group"
)

// subsets returns every subset of {0..n-1} with k elements.
func subsets(n, k int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, append([]int(nil), cur...))
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
	return out
}

func splitText(t *testing.T, secret []byte, n, m int) []string {
	t.Helper()
	shares, err := Split(secret, n, m, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(shares))
	for i, s := range shares {
		out[i] = s.String()
	}
	return out
}

func combine(texts []string, idx []int) ([]byte, error) {
	var c Combiner
	for _, i := range idx {
		if err := c.Add(texts[i]); err != nil {
			return nil, err
		}
	}
	return c.Secret()
}

func TestSplitCombine(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		n, m   int
	}{
		{"ok/2-of-2", []byte("correct horse battery staple"), 2, 2},
		{"ok/2-of-3", []byte("a"), 3, 2},
		{"ok/3-of-5", []byte("unseal-secret-cn-north-0123456789abcdef0123456789"), 5, 3},
		{"ok/5-of-5", bytes.Repeat([]byte{0xff}, 31), 5, 5},
		{"ok/4-of-6/exactly-two-chunks", bytes.Repeat([]byte{0}, 62), 6, 4},
		{"ok/2-of-4/long", bytes.Repeat([]byte("x\x00\xff"), 300), 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			texts := splitText(t, tt.secret, tt.n, tt.m)
			for _, s := range texts {
				if !strings.HasPrefix(s, fmt.Sprintf("dms1-%d-", tt.m)) {
					t.Fatalf("share %q does not name its threshold", s[:8])
				}
			}
			for _, sub := range subsets(tt.n, tt.m) {
				got, err := combine(texts, sub)
				if err != nil {
					t.Fatalf("shares %v: %v", sub, err)
				}
				if !bytes.Equal(got, tt.secret) {
					t.Fatalf("shares %v: wrong secret", sub)
				}
			}
			// Order does not matter.
			rev := make([]int, tt.m)
			for i := range rev {
				rev[i] = tt.n - 1 - i
			}
			if got, err := combine(texts, rev); err != nil || !bytes.Equal(got, tt.secret) {
				t.Fatalf("reversed shares: %v", err)
			}
			for _, sub := range subsets(tt.n, tt.m-1) {
				_, err := combine(texts, sub)
				if !errors.Is(err, ErrNotEnoughShares) {
					t.Fatalf("shares %v (one short): got %v, want ErrNotEnoughShares", sub, err)
				}
				if !strings.Contains(err.Error(), "1 more needed") {
					t.Fatalf("shares %v: %q does not say how many more are needed", sub, err)
				}
			}
		})
	}
}

func TestSplitRefuses(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		n, m   int
	}{
		{"fail/threshold-1", []byte("s"), 3, 1},
		{"fail/n-below-threshold", []byte("s"), 2, 3},
		{"fail/too-many", []byte("s"), 256, 2},
		{"fail/empty", nil, 3, 2},
		{"fail/too-long", make([]byte, MaxSecretLen+1), 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Split(tt.secret, tt.n, tt.m, rand.Reader); err == nil {
				t.Fatal("Split succeeded")
			}
		})
	}
}

// corrupt changes one character of the share's data.
func corrupt(s string, at int) string {
	b := []byte(s)
	i := len(b) - 1 - at
	if b[i] == 'a' {
		b[i] = 'b'
	} else {
		b[i] = 'a'
	}
	return string(b)
}

func TestCombinerRefuses(t *testing.T) {
	secret := []byte("unseal secret of eu-central")
	texts := splitText(t, secret, 5, 3)
	other := splitText(t, secret, 5, 3)
	otherM := splitText(t, secret, 5, 2)
	tests := []struct {
		name    string
		shares  []string
		want    error
		wantPos int
	}{
		{"fail/corrupt-first", []string{corrupt(texts[0], 3), texts[1], texts[2]}, ErrShareChecksum, 1},
		{"fail/corrupt-last", []string{texts[0], texts[1], corrupt(texts[2], 10)}, ErrShareChecksum, 3},
		{"fail/corrupt-checksum", []string{texts[0], corrupt(texts[1], 0)}, ErrShareChecksum, 2},
		{"fail/threshold-edited", []string{texts[0], strings.Replace(texts[1], "dms1-3-", "dms1-2-", 1)}, ErrShareChecksum, 2},
		{"fail/number-edited", []string{texts[0], strings.Replace(texts[1], "dms1-3-2-", "dms1-3-4-", 1)}, ErrShareChecksum, 2},
		{"fail/cut-short", []string{texts[0], texts[1][:len(texts[1])-8]}, ErrShareChecksum, 2},
		{"fail/duplicate", []string{texts[0], texts[0]}, ErrDuplicateShare, 2},
		{"fail/duplicate-upper-case", []string{texts[3], strings.ToUpper(texts[3])}, ErrDuplicateShare, 2},
		{"fail/other-split", []string{texts[0], other[1]}, ErrMixedShares, 2},
		{"fail/other-threshold", []string{texts[0], otherM[1]}, ErrMixedShares, 2},
		{"fail/not-a-share", []string{"hello"}, ErrShareFormat, 1},
		{"fail/newer-version", []string{texts[0], "dms2-3-1-abc"}, ErrShareVersion, 2},
		{"fail/too-many", []string{texts[0], texts[1], texts[2], texts[3]}, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Combiner
			var err error
			for _, s := range tt.shares {
				if err = c.Add(s); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("every share was taken")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var se *ShareError
			if !errors.As(err, &se) || se.Position != tt.wantPos {
				t.Fatalf("got %v, want it to name share %d", err, tt.wantPos)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("share %d", tt.wantPos)) {
				t.Fatalf("%q does not name share %d", err, tt.wantPos)
			}
			for _, s := range tt.shares {
				if len(s) > 20 && strings.Contains(err.Error(), s[9:20]) {
					t.Fatalf("the error %q quotes a share", err)
				}
			}
		})
	}
}

// TestCombinerKeepsGoing: a refused share does not count, and the right one
// can follow (the terminal prompt asks again).
func TestCombinerKeepsGoing(t *testing.T) {
	secret := []byte("s3cret")
	texts := splitText(t, secret, 3, 2)
	var c Combiner
	for _, s := range []string{texts[2], corrupt(texts[0], 2), texts[2], texts[0]} {
		_ = c.Add(s)
	}
	got, err := c.Secret()
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("got %v", err)
	}
	if c.Len() != 0 {
		t.Fatal("Secret did not wipe the shares")
	}
}

// TestSharesDisagree: shares that each parse but were altered consistently
// (a valid checksum over a changed value) are caught when combined: every
// chunk's top byte was zero, which a random change keeps with probability
// 1/256 per chunk, so the test uses a secret of 8 chunks.
func TestSharesDisagree(t *testing.T) {
	secret := bytes.Repeat([]byte("k"), 31*8)
	shares, err := Split(secret, 3, 2, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g := group.Ristretto255
	for j := range shares[1].values {
		v := g.NewScalar()
		if err := v.UnmarshalBinary(shares[1].values[j][:]); err != nil {
			t.Fatal(err)
		}
		b, _ := v.Add(v, g.RandomScalar(rand.Reader)).MarshalBinary()
		shares[1].values[j] = [scalarLen]byte(b)
	}
	var c Combiner
	for _, s := range shares[:2] {
		if err := c.Add(s.String()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Secret(); !errors.Is(err, ErrSharesDisagree) {
		t.Fatalf("got %v, want ErrSharesDisagree", err)
	}
}

func TestParseShareRoundTrip(t *testing.T) {
	texts := splitText(t, []byte("round trip"), 3, 2)
	for _, s := range texts {
		for _, in := range []string{s, "  " + strings.ToUpper(s) + "\n"} {
			sh, err := ParseShare(in)
			if err != nil {
				t.Fatal(err)
			}
			if sh.String() != s {
				t.Fatalf("re-encoded %q, want %q", sh.String(), s)
			}
		}
	}
}

func FuzzParseShare(f *testing.F) {
	shares, err := Split([]byte("fuzz me"), 3, 2, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range shares {
		f.Add(s.String())
	}
	f.Add("dms1-2-1-")
	f.Add("dms1-02-1-aaaa")
	f.Add("dms9-2-1-aaaa")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShare(s)
		if err != nil {
			if sh != nil {
				t.Fatal("a share and an error")
			}
			return
		}
		// Non-malleable: one spelling per share, up to case and spaces.
		if got, want := sh.String(), strings.ToLower(strings.TrimSpace(s)); got != want {
			t.Fatalf("re-encoded %q, parsed %q", got, want)
		}
		if sh.Threshold < 2 || sh.Number < 1 || sh.Number > MaxShares || len(sh.values) != chunks(sh.length) {
			t.Fatalf("parsed an impossible share %+v", sh)
		}
	})
}
