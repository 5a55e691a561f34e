// Package checkpoint is the signed checkpoint of a region's audit log, a
// text format in the spirit of C2SP tlog-checkpoint and signed-note.
//
// A signed checkpoint is a note body, a blank line and one or more signature
// lines:
//
//	domicile.example/cn-north
//	1024
//	q0Z0...base64 root hash...=
//	alg SM2/SM3
//	time 2025-03-01T12:00:00.123456789Z
//
//	— domicile.example/cn-north AAECA...base64(key hash || signature)...
//
// The body is the origin (the log's name: no spaces, no "+"), the tree size
// in decimal without leading zeros, the standard base64 of the root hash,
// then two extension lines: "alg <signature>/<hash>" naming the algorithms
// (suite IDs, for example "SM2/SM3" or "ECDSA-P256/SHA-256") and "time"
// with the signing time in RFC 3339 UTC. Every line ends in "\n".
//
// A signature line is U+2014 (em dash), a space, the key name (the
// origin), a space and the standard base64 of a 4-byte key hash followed by
// the signature over the body bytes. The key hash is the first four bytes of
// H(name || "\n" || alg || "\n" || SubjectPublicKeyInfo DER) under the
// suite hash H, so a verifier picks its key by name and hash and a key of
// another algorithm never matches. The signature is the suite's (SM2 with
// the default user ID over SM3, or ECDSA P-256 over SHA-256, ASN.1 DER).
// Further signature lines (witness cosignatures) are kept but not checked
// here.
package checkpoint

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/suite"
)

// Limits enforced by Parse.
const (
	MaxSize       = 16 << 10 // bytes of a whole signed checkpoint
	MaxSignatures = 8
	maxName       = 256
)

// ErrVerify is wrapped by Verify for every checkpoint that is not validly
// signed by the given key with the given algorithms.
var ErrVerify = errors.New("checkpoint: not signed by the region's key")

// Error is the error of Parse and of malformed input to Sign.
type Error struct{ msg string }

func (e *Error) Error() string { return "checkpoint: " + e.msg }

func errorf(format string, a ...any) error { return &Error{msg: fmt.Sprintf(format, a...)} }

// Checkpoint is the signed statement: the log named Origin had Size entries
// with root hash Root at Time.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	Alg    string
	Time   time.Time
}

// Signature is one signature line.
type Signature struct {
	Name    string
	KeyHash [4]byte
	Sig     []byte
}

// Signed is a parsed signed checkpoint.
type Signed struct {
	Checkpoint
	Sigs []Signature
}

// Alg returns the algorithm name of a signature scheme and hash, as the
// "alg" line carries it.
func Alg(sig suite.Signature, h suite.Hash) string { return sig.ID() + "/" + h.ID() }

// Body returns the signed text of c.
func (c *Checkpoint) Body() []byte {
	var b bytes.Buffer
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(base64.StdEncoding.EncodeToString(c.Root))
	b.WriteByte('\n')
	b.WriteString("alg " + c.Alg + "\n")
	b.WriteString("time " + c.Time.UTC().Format(time.RFC3339Nano) + "\n")
	return b.Bytes()
}

func (c *Checkpoint) check() error {
	if err := checkName(c.Origin); err != nil {
		return err
	}
	if len(c.Root) == 0 || len(c.Root) > 64 {
		return errorf("root hash is %d bytes", len(c.Root))
	}
	if c.Alg == "" || len(c.Alg) > maxName || strings.ContainsAny(c.Alg, " \n") {
		return errorf("bad alg")
	}
	if c.Time.IsZero() || c.Time.Year() > 9999 || c.Time.Year() < 1 {
		return errorf("bad time")
	}
	return nil
}

func checkName(s string) error {
	if s == "" || len(s) > maxName {
		return errorf("origin must be 1..%d bytes", maxName)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '+' {
			return errorf("origin has a space, '+' or non-ASCII byte at offset %d", i)
		}
	}
	return nil
}

// KeyHash returns the key hash of pub under the given name and algorithms.
//
// Errors: when pub is not a key of sig.
func KeyHash(name string, pub crypto.PublicKey, sig suite.Signature, h suite.Hash) ([4]byte, error) {
	fp, err := Fingerprint(name, pub, sig, h)
	if err != nil {
		return [4]byte{}, err
	}
	return [4]byte(fp[:4]), nil
}

// Sign signs c (whose Alg is set from sig and h) with priv and returns the
// signed checkpoint text. The key name is c.Origin.
//
// Errors: *Error for an invalid checkpoint; the signer's errors, wrapped.
func Sign(c Checkpoint, sig suite.Signature, h suite.Hash, priv crypto.Signer, rand io.Reader) ([]byte, error) {
	c.Alg = Alg(sig, h)
	c.Time = c.Time.UTC()
	if err := c.check(); err != nil {
		return nil, err
	}
	kh, err := KeyHash(c.Origin, priv.Public(), sig, h)
	if err != nil {
		return nil, err
	}
	body := c.Body()
	s, err := sig.Sign(rand, priv, body)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: sign: %w", err)
	}
	sd := Signed{Checkpoint: c, Sigs: []Signature{{Name: c.Origin, KeyHash: kh, Sig: s}}}
	return sd.Marshal(), nil
}

// Marshal returns the text of s.
func (s *Signed) Marshal() []byte {
	b := bytes.NewBuffer(s.Body())
	b.WriteByte('\n')
	for _, sg := range s.Sigs {
		b.WriteString("— " + sg.Name + " ")
		b.WriteString(base64.StdEncoding.EncodeToString(append(sg.KeyHash[:], sg.Sig...)))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Parse decodes a signed checkpoint strictly (Marshal(Parse(b)) == b)
// without checking any signature.
//
// Errors: an *Error describing the first problem.
func Parse(b []byte) (*Signed, error) {
	if len(b) > MaxSize {
		return nil, errorf("%d bytes, at most %d allowed", len(b), MaxSize)
	}
	text := string(b)
	body, sigs, ok := strings.Cut(text, "\n\n")
	if !ok {
		return nil, errorf("no blank line before the signatures")
	}
	lines := strings.Split(body, "\n")
	if len(lines) != 5 {
		return nil, errorf("body has %d lines, want 5", len(lines))
	}
	s := &Signed{}
	s.Origin = lines[0]
	if err := checkName(s.Origin); err != nil {
		return nil, err
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return nil, errorf("bad tree size")
	}
	s.Size = size
	if s.Root, err = decode64(lines[2]); err != nil {
		return nil, errorf("bad root hash")
	}
	alg, ok := strings.CutPrefix(lines[3], "alg ")
	if !ok {
		return nil, errorf(`fourth line must be "alg <signature>/<hash>"`)
	}
	s.Alg = alg
	ts, ok := strings.CutPrefix(lines[4], "time ")
	if !ok {
		return nil, errorf(`fifth line must be "time <RFC 3339>"`)
	}
	if s.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil || s.Time.UTC().Format(time.RFC3339Nano) != ts {
		return nil, errorf("bad time")
	}
	s.Time = s.Time.UTC()
	if err := s.check(); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(sigs, "\n") {
		return nil, errorf("signature block must end with a newline")
	}
	sl := strings.Split(strings.TrimSuffix(sigs, "\n"), "\n")
	if len(sl) > MaxSignatures {
		return nil, errorf("more than %d signatures", MaxSignatures)
	}
	for _, line := range sl {
		rest, ok := strings.CutPrefix(line, "— ")
		if !ok {
			return nil, errorf("signature line must start with an em dash and a space")
		}
		name, enc, ok := strings.Cut(rest, " ")
		if !ok {
			return nil, errorf("signature line has no signature")
		}
		if err := checkName(name); err != nil {
			return nil, errorf("signature key name: %v", err)
		}
		raw, err := decode64(enc)
		if err != nil || len(raw) < 5 {
			return nil, errorf("bad signature encoding")
		}
		sg := Signature{Name: name, Sig: raw[4:]}
		copy(sg.KeyHash[:], raw)
		s.Sigs = append(s.Sigs, sg)
	}
	if !bytes.Equal(s.Marshal(), b) {
		return nil, errorf("not in canonical form")
	}
	return s, nil
}

func decode64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, errors.New("bad base64")
	}
	return b, nil
}

// Verify parses b and checks that it names the algorithms Alg(sig, h), has
// a root of h's size, and carries a valid signature of pub under its
// origin's name. A verifier that expects a particular origin compares
// the result's Origin itself.
//
// Errors: an *Error for malformed text; an error wrapping ErrVerify for a
// wrong algorithm, an unknown key or a bad signature.
func Verify(b []byte, pub crypto.PublicKey, sig suite.Signature, h suite.Hash) (*Checkpoint, error) {
	s, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if want := Alg(sig, h); s.Alg != want {
		return nil, fmt.Errorf("%w: signed with %s, expected %s", ErrVerify, s.Alg, want)
	}
	if len(s.Root) != h.Size() {
		return nil, fmt.Errorf("%w: root hash is %d bytes, %s has %d", ErrVerify, len(s.Root), h.ID(), h.Size())
	}
	kh, err := KeyHash(s.Origin, pub, sig, h)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVerify, err)
	}
	body := s.Body()
	for _, sg := range s.Sigs {
		if sg.Name != s.Origin || sg.KeyHash != kh {
			continue
		}
		if err := sig.Verify(pub, body, sg.Sig); err != nil {
			return nil, fmt.Errorf("%w: bad signature", ErrVerify)
		}
		return &s.Checkpoint, nil
	}
	return nil, fmt.Errorf("%w: no signature by this key (key hash %x)", ErrVerify, kh)
}
