package main

import (
	"context"
	"crypto/cipher"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"

	"github.com/domicile/domicile/internal/suite"
)

// domicile crypto hash, mac, seal and open.

var (
	hashAlgs = []string{"SM3", "SHA-256"}
	macAlgs  = []string{"HMAC-SM3", "HMAC-SHA256"}
	aeadAlgs = []string{"SM4-GCM", "AES-256-GCM"}
)

// keyOnCommandLine ends the help of the subcommands that take --key.
const keyOnCommandLine = `

--key is visible to other local users (process list) and kept in shell
history: use these subcommands for test vectors and interop checks, not with
production keys.`

// errOpenFailed is the one message of every failed `crypto open`: it never
// says whether the key, nonce, associated data or tag was wrong.
var errOpenFailed = errors.New("message authentication failed")

func runCryptoHash(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto hash", "domicile crypto hash --alg SM3|SHA-256 [--in-hex HEX] < FILE",
		`  echo -n abc | domicile crypto hash --alg SM3
  domicile crypto hash --alg SHA-256 --in-hex 616263
  domicile crypto hash --alg SM3 < backup.tar`)
	alg := fs.String("alg", "", "hash `ALG`: "+joinAlgs(hashAlgs))
	inHex := fs.String("in-hex", "", "hash these hex-encoded bytes (`HEX`) instead of stdin")
	if err := parseCryptoFlags(fs, args); err != nil {
		return err
	}
	id, err := pickAlg(fs, *alg, hashAlgs)
	if err != nil {
		return err
	}
	h, err := suite.HashByID(id)
	if err != nil {
		return err
	}
	w := h.New()
	if err := digestInput(e, fs, w, *inHex); err != nil {
		return err
	}
	return writeBytes(e, w.Sum(nil), true)
}

func runCryptoMAC(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto mac", "domicile crypto mac --alg HMAC-SM3|HMAC-SHA256 --key HEX [--in-hex HEX] < FILE",
		`  echo -n 'what do ya want for nothing?' | domicile crypto mac --alg HMAC-SHA256 --key 4a656665
  domicile crypto mac --alg HMAC-SM3 --key 000102030405060708090a0b0c0d0e0f --in-hex 616263`+keyOnCommandLine)
	alg := fs.String("alg", "", "MAC `ALG`: "+joinAlgs(macAlgs))
	keyHex := fs.String("key", "", "the MAC key in `HEX`")
	inHex := fs.String("in-hex", "", "MAC these hex-encoded bytes (`HEX`) instead of stdin")
	if err := parseCryptoFlags(fs, args); err != nil {
		return err
	}
	id, err := pickAlg(fs, *alg, macAlgs)
	if err != nil {
		return err
	}
	if err := requireFlag(fs, "key", *keyHex, "--key takes the MAC key in hex"); err != nil {
		return err
	}
	key, err := hexFlag(fs, "key", *keyHex)
	if err != nil {
		return err
	}
	m, err := suite.MACByID(id)
	if err != nil {
		return err
	}
	w := m.New(key)
	if err := digestInput(e, fs, w, *inHex); err != nil {
		return err
	}
	return writeBytes(e, w.Sum(nil), true)
}

// digestInput writes the --in-hex bytes, or else stdin, to w.
func digestInput(e *env, fs *flag.FlagSet, w hash.Hash, inHex string) error {
	if isSet(fs, "in-hex") {
		b, err := hexFlag(fs, "in-hex", inHex)
		if err != nil {
			return err
		}
		w.Write(b)
		return nil
	}
	if _, err := io.Copy(w, e.stdin); err != nil {
		return fmt.Errorf("read stdin: %v", err)
	}
	return nil
}

// aeadFlags are the flags seal and open share.
type aeadFlags struct {
	alg, key, nonce, aad *string
	hex                  *bool
}

func newAEADFlags(fs *flag.FlagSet) aeadFlags {
	return aeadFlags{
		alg:   fs.String("alg", "", "AEAD `ALG`: "+joinAlgs(aeadAlgs)),
		key:   fs.String("key", "", "the key in `HEX` (16 bytes for SM4-GCM, 32 for AES-256-GCM)"),
		nonce: fs.String("nonce", "", "the 12-byte nonce in `HEX`; never reuse one with the same key"),
		aad:   fs.String("aad", "", "associated data in `HEX` (authenticated, not encrypted)"),
		hex:   fs.Bool("hex", false, "read and write hex instead of raw bytes"),
	}
}

// parse checks the flags and returns the cipher, nonce and associated data.
// Key and nonce sizes are usage mistakes, for seal and open alike: they are
// public parameters, checked before any cryptography.
func (f aeadFlags) parse(fs *flag.FlagSet) (cipher.AEAD, []byte, []byte, error) {
	id, err := pickAlg(fs, *f.alg, aeadAlgs)
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := suite.AEADByID(id)
	if err != nil {
		return nil, nil, nil, err
	}
	sizeHint := fmt.Sprintf("%s takes a %d-byte key (%d hex digits)", id, a.KeySize(), 2*a.KeySize())
	if err := requireFlag(fs, "key", *f.key, sizeHint); err != nil {
		return nil, nil, nil, err
	}
	key, err := hexFlag(fs, "key", *f.key)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(key) != a.KeySize() {
		return nil, nil, nil, usageErrorf("%s: --key is %d bytes, %s needs %d", fs.Name(), len(key), id, a.KeySize()).withHint(sizeHint)
	}
	nonceHint := fmt.Sprintf("--nonce takes %d bytes (%d hex digits)", suite.NonceSize, 2*suite.NonceSize)
	if err := requireFlag(fs, "nonce", *f.nonce, nonceHint); err != nil {
		return nil, nil, nil, err
	}
	nonce, err := hexFlag(fs, "nonce", *f.nonce)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(nonce) != suite.NonceSize {
		return nil, nil, nil, usageErrorf("%s: --nonce is %d bytes, want %d", fs.Name(), len(nonce), suite.NonceSize).withHint(nonceHint)
	}
	aad, err := hexFlag(fs, "aad", *f.aad)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := a.New(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, nonce, aad, nil
}

// input reads stdin, decoding hex with --hex.
func (f aeadFlags) input(e *env) ([]byte, error) {
	in, err := readInput(e, "")
	if err != nil || !*f.hex {
		return in, err
	}
	return decodeHexInput(in)
}

func runCryptoSeal(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto seal", "domicile crypto seal --alg SM4-GCM|AES-256-GCM --key HEX --nonce HEX [--aad HEX] [--hex] < PLAINTEXT > CIPHERTEXT",
		`  domicile crypto seal --alg SM4-GCM --key 0123456789abcdeffedcba9876543210 \
      --nonce 00001234567800000000abcd < msg > msg.sealed
  echo -n 616263 | domicile crypto seal --alg AES-256-GCM --key $KEY --nonce $NONCE --aad 0102 --hex

The output is the ciphertext followed by the 16-byte tag.`+keyOnCommandLine)
	f := newAEADFlags(fs)
	if err := parseCryptoFlags(fs, args); err != nil {
		return err
	}
	c, nonce, aad, err := f.parse(fs)
	if err != nil {
		return err
	}
	pt, err := f.input(e)
	if err != nil {
		return err
	}
	return writeBytes(e, c.Seal(nil, nonce, pt, aad), *f.hex)
}

func runCryptoOpen(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto open", "domicile crypto open --alg SM4-GCM|AES-256-GCM --key HEX --nonce HEX [--aad HEX] [--hex] < CIPHERTEXT > PLAINTEXT",
		`  domicile crypto open --alg SM4-GCM --key 0123456789abcdeffedcba9876543210 \
      --nonce 00001234567800000000abcd < msg.sealed > msg

Any failure (wrong key, nonce, associated data or tag, or a truncated input)
prints the same "message authentication failed" and exits 1; nothing is
written to stdout.`+keyOnCommandLine)
	f := newAEADFlags(fs)
	if err := parseCryptoFlags(fs, args); err != nil {
		return err
	}
	c, nonce, aad, err := f.parse(fs)
	if err != nil {
		return err
	}
	ct, err := f.input(e)
	if err != nil {
		return err
	}
	pt, err := c.Open(nil, nonce, ct, aad)
	if err != nil {
		return &exitError{code: 1, err: errOpenFailed}
	}
	return writeBytes(e, pt, *f.hex)
}
