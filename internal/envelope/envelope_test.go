package envelope_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/suite"
	"github.com/google/go-cmp/cmp"
)

var suites = []suite.ID{suite.CN, suite.Intl}

func newAEAD(t testing.TB, id suite.ID, seed byte) cipher.AEAD {
	t.Helper()
	s, err := suite.ByID(id)
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{seed}, s.AEAD().KeySize())
	a, err := s.AEAD().New(key)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var testBinding = envelope.Binding{Region: "eu-central", Collection: "customers", Record: "rec_123", Field: "email"}

func seal(t testing.TB, a cipher.AEAD, id suite.ID, v uint32, b envelope.Binding, pt []byte) []byte {
	t.Helper()
	env, err := envelope.Seal(a, rand.Reader, id, v, b, pt)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return env
}

func parseOpen(a cipher.AEAD, env []byte, b envelope.Binding) ([]byte, error) {
	h, ct, err := envelope.Parse(env)
	if err != nil {
		return nil, err
	}
	return envelope.Open(a, h, ct, b)
}

func TestRoundTrip(t *testing.T) {
	for _, id := range suites {
		a := newAEAD(t, id, 7)
		for _, v := range []uint32{1, 127, 128, 16383, 16384, math.MaxUint32} {
			for _, n := range []int{0, 1, 15, 16, 64, 1000} {
				pt := bytes.Repeat([]byte{'x'}, n)
				env := seal(t, a, id, v, testBinding, pt)
				if got, want := len(env), 2+len(id)+len(binaryUvarint(uint64(v)))+suite.NonceSize+n+suite.TagSize; got != want {
					t.Errorf("%s v%d n=%d: envelope is %d bytes, want %d", id, v, n, got, want)
				}
				h, ct, err := envelope.Parse(env)
				if err != nil {
					t.Fatalf("%s v%d n=%d: Parse: %v", id, v, n, err)
				}
				if h.Suite != id || h.KeyVersion != v {
					t.Errorf("%s v%d: header = %+v", id, v, h)
				}
				if !bytes.Equal(envelope.Marshal(h, ct), env) {
					t.Errorf("%s v%d n=%d: Marshal(Parse(env)) != env", id, v, n)
				}
				got, err := envelope.Open(a, h, ct, testBinding)
				if err != nil {
					t.Fatalf("%s v%d n=%d: Open: %v", id, v, n, err)
				}
				if !bytes.Equal(got, pt) {
					t.Errorf("%s v%d n=%d: Open = %x, want %x", id, v, n, got, pt)
				}
			}
		}
	}
}

func binaryUvarint(x uint64) []byte {
	var b []byte
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

// envBytes builds an envelope by hand from its parts.
func envBytes(version byte, sid string, kv []byte, rest int) []byte {
	b := []byte{version, byte(len(sid))}
	b = append(b, sid...)
	b = append(b, kv...)
	return append(b, make([]byte, rest)...)
}

func TestParse(t *testing.T) {
	const min = suite.NonceSize + suite.TagSize
	tests := []struct {
		name  string
		in    []byte
		ok    bool
		suite suite.ID
		kv    uint32
	}{
		{name: "ok/intl", in: envBytes(0xD1, "intl", []byte{1}, min), ok: true, suite: suite.Intl, kv: 1},
		{name: "ok/cn", in: envBytes(0xD1, "cn", []byte{1}, min+5), ok: true, suite: suite.CN, kv: 1},
		{name: "ok/two-byte-version", in: envBytes(0xD1, "cn", []byte{0x80, 0x01}, min), ok: true, suite: suite.CN, kv: 128},
		{name: "ok/max-version", in: envBytes(0xD1, "cn", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, min), ok: true, suite: suite.CN, kv: math.MaxUint32},
		{name: "fail/empty", in: nil},
		{name: "fail/only-version-byte", in: []byte{0xD1}},
		{name: "fail/unknown-format-version", in: envBytes(0xD2, "intl", []byte{1}, min)},
		{name: "fail/format-version-zero", in: envBytes(0x00, "intl", []byte{1}, min)},
		{name: "fail/unknown-suite", in: envBytes(0xD1, "gost", []byte{1}, min)},
		{name: "fail/suite-case", in: envBytes(0xD1, "CN", []byte{1}, min)},
		{name: "fail/empty-suite", in: envBytes(0xD1, "", []byte{1}, min)},
		{name: "fail/suite-length-past-end", in: []byte{0xD1, 10, 'c', 'n'}},
		{name: "fail/suite-too-long", in: envBytes(0xD1, string(bytes.Repeat([]byte{'a'}, 33)), []byte{1}, min)},
		{name: "fail/key-version-zero", in: envBytes(0xD1, "intl", []byte{0}, min)},
		{name: "fail/key-version-non-canonical", in: envBytes(0xD1, "intl", []byte{0x81, 0x00}, min)},
		{name: "fail/key-version-non-canonical-zero", in: envBytes(0xD1, "intl", []byte{0x80, 0x00}, min)},
		{name: "fail/key-version-above-uint32", in: envBytes(0xD1, "intl", []byte{0x80, 0x80, 0x80, 0x80, 0x10}, min)},
		{name: "fail/key-version-overflow", in: envBytes(0xD1, "intl", bytes.Repeat([]byte{0xff}, 11), min)},
		{name: "fail/key-version-truncated", in: envBytes(0xD1, "intl", []byte{0x80}, 0)},
		{name: "fail/no-key-version", in: envBytes(0xD1, "intl", nil, 0)},
		{name: "fail/short-nonce", in: envBytes(0xD1, "intl", []byte{1}, suite.NonceSize-1)},
		{name: "fail/no-ciphertext", in: envBytes(0xD1, "intl", []byte{1}, suite.NonceSize)},
		{name: "fail/ciphertext-shorter-than-tag", in: envBytes(0xD1, "intl", []byte{1}, min-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ct, err := envelope.Parse(tt.in)
			if !tt.ok {
				if err == nil {
					t.Fatalf("Parse succeeded: %+v", h)
				}
				if !errors.Is(err, envelope.ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				var pe *envelope.ParseError
				if !errors.As(err, &pe) {
					t.Errorf("error %v is %T, not *ParseError", err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if h.Suite != tt.suite || h.KeyVersion != tt.kv || len(h.Nonce) != suite.NonceSize {
				t.Errorf("header = %+v", h)
			}
			if got := envelope.Marshal(h, ct); !bytes.Equal(got, tt.in) {
				t.Errorf("Marshal(Parse(x)) = %x, want %x", got, tt.in)
			}
		})
	}
}

// TestTamperEveryByte flips each bit of a sealed envelope and checks that
// Parse or Open rejects the result; it also truncates and extends it.
func TestTamperEveryByte(t *testing.T) {
	for _, id := range suites {
		a := newAEAD(t, id, 1)
		env := seal(t, a, id, 300, testBinding, []byte("alice@example.com"))
		for i := range env {
			for bit := range 8 {
				bad := bytes.Clone(env)
				bad[i] ^= 1 << bit
				if pt, err := parseOpen(a, bad, testBinding); err == nil {
					t.Fatalf("%s: byte %d bit %d flipped: opened to %q", id, i, bit, pt)
				}
			}
		}
		for n := range len(env) {
			if _, err := parseOpen(a, env[:n], testBinding); err == nil {
				t.Fatalf("%s: truncated to %d bytes: opened", id, n)
			}
		}
		if _, err := parseOpen(a, append(bytes.Clone(env), 0), testBinding); err == nil {
			t.Fatalf("%s: extended by a byte: opened", id)
		}
	}
}

func TestTamperBinding(t *testing.T) {
	for _, id := range suites {
		a := newAEAD(t, id, 2)
		env := seal(t, a, id, 1, testBinding, []byte("secret"))
		if _, err := parseOpen(a, env, testBinding); err != nil {
			t.Fatalf("%s: untouched: %v", id, err)
		}
		changes := map[string]func(*envelope.Binding){
			"region":     func(b *envelope.Binding) { b.Region = "cn-north" },
			"collection": func(b *envelope.Binding) { b.Collection = "employees" },
			"record":     func(b *envelope.Binding) { b.Record = "rec_124" },
			"field":      func(b *envelope.Binding) { b.Field = "phone" },
			"empty":      func(b *envelope.Binding) { *b = envelope.Binding{} },
			// Moving bytes across a boundary must change the associated
			// data: the encoding is length-prefixed.
			"shift-region-collection": func(b *envelope.Binding) { b.Region, b.Collection = "eu-centralc", "ustomers" },
			"shift-record-field":      func(b *envelope.Binding) { b.Record, b.Field = "rec_123e", "mail" },
			"swap-record-field":       func(b *envelope.Binding) { b.Record, b.Field = b.Field, b.Record },
		}
		for name, change := range changes {
			b := testBinding
			change(&b)
			_, err := parseOpen(a, env, b)
			if err != suite.ErrOpen {
				t.Errorf("%s: binding %s changed: err = %v, want suite.ErrOpen", id, name, err)
			}
		}
	}
}

// TestHeaderSwap re-marshals a ciphertext under other headers and moves
// ciphertexts between envelopes and bindings.
func TestHeaderSwap(t *testing.T) {
	for _, id := range suites {
		a := newAEAD(t, id, 3)
		env := seal(t, a, id, 2, testBinding, []byte("secret"))
		h, ct, err := envelope.Parse(env)
		if err != nil {
			t.Fatal(err)
		}
		other := suite.Intl
		if id == suite.Intl {
			other = suite.CN
		}
		for name, h2 := range map[string]envelope.Header{
			"key-version": {Suite: id, KeyVersion: 3, Nonce: h.Nonce},
			"suite":       {Suite: other, KeyVersion: 2, Nonce: h.Nonce},
			"nonce":       {Suite: id, KeyVersion: 2, Nonce: make([]byte, suite.NonceSize)},
		} {
			if _, err := parseOpen(a, envelope.Marshal(h2, ct), testBinding); err != suite.ErrOpen {
				t.Errorf("%s: %s changed: err = %v, want suite.ErrOpen", id, name, err)
			}
		}

		// Two fields of one record, sealed under one key: swapping their
		// ciphertexts, or their envelopes, is detected.
		b2 := testBinding
		b2.Field = "phone"
		env2 := seal(t, a, id, 2, b2, []byte("+33 1 23 45 67 89"))
		h2, ct2, _ := envelope.Parse(env2)
		if _, err := envelope.Open(a, h, ct2, testBinding); err != suite.ErrOpen {
			t.Errorf("%s: ciphertext of phone under email's header: err = %v", id, err)
		}
		if _, err := envelope.Open(a, h2, ct, b2); err != suite.ErrOpen {
			t.Errorf("%s: ciphertext of email under phone's header: err = %v", id, err)
		}
		if _, err := parseOpen(a, env2, testBinding); err != suite.ErrOpen {
			t.Errorf("%s: phone envelope opened as email: err = %v", id, err)
		}
		// Wrong key.
		if _, err := parseOpen(newAEAD(t, id, 4), env, testBinding); err != suite.ErrOpen {
			t.Errorf("%s: wrong key: err = %v", id, err)
		}
	}
}

func TestOpenBadHeader(t *testing.T) {
	a := newAEAD(t, suite.Intl, 5)
	env := seal(t, a, suite.Intl, 1, testBinding, []byte("x"))
	h, ct, _ := envelope.Parse(env)
	for name, tc := range map[string]struct {
		h  envelope.Header
		ct []byte
	}{
		"short-nonce":      {envelope.Header{Suite: h.Suite, KeyVersion: 1, Nonce: h.Nonce[:11]}, ct},
		"nil-nonce":        {envelope.Header{Suite: h.Suite, KeyVersion: 1}, ct},
		"short-ciphertext": {h, ct[:suite.TagSize-1]},
		"long-suite":       {envelope.Header{Suite: suite.ID(bytes.Repeat([]byte{'a'}, 300)), KeyVersion: 1, Nonce: h.Nonce}, ct},
		"zero-header":      {envelope.Header{}, nil},
	} {
		if _, err := envelope.Open(a, tc.h, tc.ct, testBinding); err != suite.ErrOpen {
			t.Errorf("%s: err = %v, want suite.ErrOpen", name, err)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestSealErrors(t *testing.T) {
	a := newAEAD(t, suite.Intl, 6)
	if _, err := envelope.Seal(a, rand.Reader, "gost", 1, testBinding, nil); err == nil {
		t.Error("unknown suite: no error")
	}
	if _, err := envelope.Seal(a, rand.Reader, suite.Intl, 0, testBinding, nil); err == nil {
		t.Error("key version 0: no error")
	}
	if _, err := envelope.Seal(a, errReader{}, suite.Intl, 1, testBinding, nil); err == nil {
		t.Error("failing rand: no error")
	}
	if _, err := envelope.Seal(a, bytes.NewReader(make([]byte, 5)), suite.Intl, 1, testBinding, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short rand: err = %v, want io.ErrUnexpectedEOF", err)
	}
	blk, _ := aes.NewCipher(make([]byte, 32))
	g16, _ := cipher.NewGCMWithNonceSize(blk, 16)
	if _, err := envelope.Seal(g16, rand.Reader, suite.Intl, 1, testBinding, nil); err == nil {
		t.Error("16-byte nonce AEAD: no error")
	}
}

// TestNoAliasing checks that Seal leaves the plaintext alone and that Open's
// result does not alias the envelope, so callers may zero it.
func TestNoAliasing(t *testing.T) {
	a := newAEAD(t, suite.CN, 8)
	pt := []byte("plaintext value")
	orig := bytes.Clone(pt)
	env := seal(t, a, suite.CN, 1, testBinding, pt)
	if !bytes.Equal(pt, orig) {
		t.Fatal("Seal modified the plaintext")
	}
	h, ct, _ := envelope.Parse(env)
	got, err := envelope.Open(a, h, ct, testBinding)
	if err != nil {
		t.Fatal(err)
	}
	saved := bytes.Clone(env)
	clear(got)
	if !bytes.Equal(env, saved) {
		t.Fatal("writing to Open's result changed the envelope")
	}
}

func TestMarshalPanics(t *testing.T) {
	for name, h := range map[string]envelope.Header{
		"short-nonce": {Suite: suite.CN, KeyVersion: 1, Nonce: make([]byte, 3)},
		"empty-suite": {KeyVersion: 1, Nonce: make([]byte, suite.NonceSize)},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Marshal did not panic", name)
				}
			}()
			envelope.Marshal(h, make([]byte, suite.TagSize))
		}()
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, id := range suites {
		a := newAEAD(t, id, 9)
		pt := make([]byte, 64)
		env := seal(t, a, id, 1, testBinding, pt)
		if n := testing.AllocsPerRun(100, func() {
			envelope.Seal(a, rand.Reader, id, 1, testBinding, pt)
		}); n > 1 {
			t.Errorf("%s: Seal makes %v allocations, want 1", id, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			h, ct, _ := envelope.Parse(env)
			envelope.Open(a, h, ct, testBinding)
		}); n > 1 {
			t.Errorf("%s: Parse+Open makes %v allocations, want 1", id, n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, id := range suites {
		a := newAEAD(f, id, 10)
		f.Add(seal(f, a, id, 1, testBinding, []byte("hello")))
		f.Add(seal(f, a, id, 1<<20, testBinding, nil))
	}
	f.Add(envBytes(0xD1, "cn", []byte{0x80, 0x00}, 28))
	f.Add([]byte{0xD1})
	aeads := map[suite.ID]cipher.AEAD{suite.CN: newAEAD(f, suite.CN, 10), suite.Intl: newAEAD(f, suite.Intl, 10)}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, ct, err := envelope.Parse(in)
		if err != nil {
			if !errors.Is(err, envelope.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if got := envelope.Marshal(h, ct); !bytes.Equal(got, in) {
			t.Fatalf("Marshal(Parse(x)) = %x, want %x", got, in)
		}
		h2, ct2, err := envelope.Parse(envelope.Marshal(h, ct))
		if err != nil || !cmp.Equal(h, h2) || !bytes.Equal(ct, ct2) {
			t.Fatalf("re-parse differs: %+v %v", h2, err)
		}
		if _, err := envelope.Open(aeads[h.Suite], h, ct, testBinding); err != nil && err != suite.ErrOpen {
			t.Fatalf("Open error %v is not suite.ErrOpen", err)
		}
	})
}

// BenchmarkSealOpen64 measures Seal then Parse+Open of a 64-byte value,
// against the raw AEAD doing the same with a fixed nonce and no associated
// data, to show the envelope's overhead.
func BenchmarkSealOpen64(b *testing.B) {
	for _, id := range suites {
		a := newAEAD(b, id, 11)
		pt := make([]byte, 64)
		b.Run(string(id)+"/envelope", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				env, err := envelope.Seal(a, rand.Reader, id, 1, testBinding, pt)
				if err != nil {
					b.Fatal(err)
				}
				h, ct, err := envelope.Parse(env)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := envelope.Open(a, h, ct, testBinding); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(id)+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pt)))
			nonce := make([]byte, suite.NonceSize)
			for b.Loop() {
				if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
					b.Fatal(err)
				}
				ct := a.Seal(nil, nonce, pt, nil)
				if _, err := a.Open(nil, nonce, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
