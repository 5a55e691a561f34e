package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"

	"github.com/domicile/domicile/internal/suite"
)

// domicile crypto keygen, pub, sign and verify. Keys travel as PEM: PKCS#8
// "PRIVATE KEY" and SubjectPublicKeyInfo "PUBLIC KEY", as OpenSSL and GmSSL
// write them.

var sigAlgs = []string{"SM2", "ECDSA-P256", "Ed25519"}

const (
	pemPrivate = "PRIVATE KEY"
	pemPublic  = "PUBLIC KEY"
)

// errBadSignature is the one message of every failed `crypto verify`.
var errBadSignature = errors.New("invalid signature")

func runCryptoKeygen(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto keygen", "domicile crypto keygen --alg SM2|ECDSA-P256|Ed25519 [--out FILE]",
		`  domicile crypto keygen --alg SM2 --out key.pem
  domicile crypto keygen --alg Ed25519 > key.pem

--out creates the file with mode 0600 and never replaces an existing one.`)
	alg := fs.String("alg", "", "signature `ALG`: "+joinAlgs(sigAlgs))
	out := fs.String("out", "", "write the key to `FILE` (mode 0600) instead of stdout")
	if err := parseCryptoFlags(fs, args); err != nil {
		return err
	}
	id, err := pickAlg(fs, *alg, sigAlgs)
	if err != nil {
		return err
	}
	s, err := suite.SignatureByID(id)
	if err != nil {
		return err
	}
	k, err := s.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate %s key: %v", id, err)
	}
	der, err := s.MarshalPrivateKey(k)
	if err != nil {
		return err
	}
	return writeOutput(e, *out, pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}))
}

func runCryptoPub(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto pub", "domicile crypto pub [--in KEYFILE] > PUBFILE",
		`  domicile crypto pub --in key.pem > pub.pem
  domicile crypto keygen --alg SM2 | domicile crypto pub`)
	in := fs.String("in", "", "read the private key from `KEYFILE` instead of stdin")
	if err := parseCryptoFlags(fs, args); err != nil {
		return err
	}
	der, err := readPEM(e, "in", *in, pemPrivate)
	if err != nil {
		return err
	}
	s, k, err := parsePrivateKey(der, *in)
	if err != nil {
		return err
	}
	pub, err := s.MarshalPublicKey(k.Public())
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: pub}))
	return err
}

func runCryptoSign(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto sign", "domicile crypto sign --alg SM2|ECDSA-P256|Ed25519 --key KEYFILE [--id ID] [--in FILE] [--hex] > SIG",
		`  domicile crypto sign --alg SM2 --key key.pem --in msg > msg.sig
  echo -n hello | domicile crypto sign --alg Ed25519 --key key.pem --hex

SM2 signs with SM3 and the user ID (--id, default 1234567812345678), ECDSA-P256
with SHA-256, Ed25519 as pure EdDSA. SM2 and ECDSA signatures are ASN.1 DER.`)
	alg := fs.String("alg", "", "signature `ALG`: "+joinAlgs(sigAlgs))
	keyFile := fs.String("key", "", "the private key `KEYFILE` (PKCS#8 PEM)")
	uid := fs.String("id", suite.DefaultSM2ID, "the SM2 user `ID`")
	in := fs.String("in", "", "sign `FILE` instead of stdin")
	asHex := fs.Bool("hex", false, "write the signature in hex instead of raw bytes")
	if err := parseCryptoFlags(fs, args); err != nil {
		return err
	}
	s, err := sigScheme(fs, *alg, *uid)
	if err != nil {
		return err
	}
	if err := requireFlag(fs, "key", *keyFile, "--key takes a private key file, as 'domicile crypto keygen' writes it"); err != nil {
		return err
	}
	der, err := readPEM(e, "key", *keyFile, pemPrivate)
	if err != nil {
		return err
	}
	ks, k, err := parsePrivateKey(der, *keyFile)
	if err != nil {
		return err
	}
	if err := sameScheme(fs, *keyFile, ks, s); err != nil {
		return err
	}
	msg, err := readInput(e, *in)
	if err != nil {
		return err
	}
	sig, err := s.Sign(rand.Reader, k, msg)
	if err != nil {
		return fmt.Errorf("sign: %v", err)
	}
	return writeBytes(e, sig, *asHex)
}

func runCryptoVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto verify", "domicile crypto verify --alg SM2|ECDSA-P256|Ed25519 --pub PUBFILE (--sig SIGFILE | --sig-hex HEX) [--id ID] [--in FILE]",
		`  domicile crypto verify --alg SM2 --pub pub.pem --sig msg.sig --in msg
  echo -n hello | domicile crypto verify --alg Ed25519 --pub pub.pem --sig-hex $SIG

Prints "ok" and exits 0 for a good signature; otherwise prints
"invalid signature" and exits 1.`)
	alg := fs.String("alg", "", "signature `ALG`: "+joinAlgs(sigAlgs))
	pubFile := fs.String("pub", "", "the public key `PUBFILE` (SubjectPublicKeyInfo PEM)")
	sigFile := fs.String("sig", "", "read the raw signature from `SIGFILE`")
	sigHex := fs.String("sig-hex", "", "the signature in `HEX`")
	uid := fs.String("id", suite.DefaultSM2ID, "the SM2 user `ID`")
	in := fs.String("in", "", "verify `FILE` instead of stdin")
	if err := parseCryptoFlags(fs, args); err != nil {
		return err
	}
	s, err := sigScheme(fs, *alg, *uid)
	if err != nil {
		return err
	}
	if err := requireFlag(fs, "pub", *pubFile, "--pub takes a public key file, as 'domicile crypto pub' writes it"); err != nil {
		return err
	}
	sigHint := "give the signature as a file with --sig or as hex with --sig-hex"
	if *sigFile != "" && isSet(fs, "sig-hex") {
		return usageErrorf("%s: --sig and --sig-hex are exclusive", fs.Name()).withHint(sigHint)
	}
	var sig []byte
	switch {
	case *sigFile != "":
		if sig, err = readInput(e, *sigFile); err != nil {
			return err
		}
	case isSet(fs, "sig-hex"):
		if sig, err = hexFlag(fs, "sig-hex", *sigHex); err != nil {
			return err
		}
	default:
		return usageErrorf("%s: --sig or --sig-hex is required", fs.Name()).withHint(sigHint)
	}
	der, err := readPEM(e, "pub", *pubFile, pemPublic)
	if err != nil {
		return err
	}
	ps, pub, err := parsePublicKey(der, *pubFile)
	if err != nil {
		return err
	}
	if err := sameScheme(fs, *pubFile, ps, s); err != nil {
		return err
	}
	msg, err := readInput(e, *in)
	if err != nil {
		return err
	}
	if err := s.Verify(pub, msg, sig); err != nil {
		return &exitError{code: 1, err: errBadSignature}
	}
	_, err = fmt.Fprintln(e.stdout, "ok")
	return err
}

// sigScheme returns the scheme --alg names, with the SM2 user ID of --id.
func sigScheme(fs *flag.FlagSet, alg, uid string) (suite.Signature, error) {
	id, err := pickAlg(fs, alg, sigAlgs)
	if err != nil {
		return nil, err
	}
	if !isSet(fs, "id") {
		return suite.SignatureByID(id)
	}
	if id != "SM2" {
		return nil, usageErrorf("%s: --id applies to SM2 only, not %s", fs.Name(), id).withHint("drop --id")
	}
	if uid == "" {
		return nil, usageErrorf("%s: --id is empty", fs.Name()).
			withHint("leave --id out for the default user ID " + suite.DefaultSM2ID)
	}
	return suite.SM2WithID([]byte(uid)), nil
}

// parsePrivateKey detects the scheme of a PKCS#8 key. path names the file
// in messages (empty for stdin).
func parsePrivateKey(der []byte, path string) (suite.Signature, crypto.Signer, error) {
	for _, id := range sigAlgs {
		s, err := suite.SignatureByID(id)
		if err != nil {
			return nil, nil, err
		}
		if k, err := s.ParsePrivateKey(der); err == nil {
			return s, k, nil
		}
	}
	return nil, nil, withHint(fmt.Errorf("%s: not an %s private key", source(path), joinAlgs(sigAlgs)),
		"make one with 'domicile crypto keygen'")
}

// parsePublicKey detects the scheme of a SubjectPublicKeyInfo key.
func parsePublicKey(der []byte, path string) (suite.Signature, crypto.PublicKey, error) {
	for _, id := range sigAlgs {
		s, err := suite.SignatureByID(id)
		if err != nil {
			return nil, nil, err
		}
		if k, err := s.ParsePublicKey(der); err == nil {
			return s, k, nil
		}
	}
	return nil, nil, withHint(fmt.Errorf("%s: not an %s public key", source(path), joinAlgs(sigAlgs)),
		"extract one from a private key with 'domicile crypto pub'")
}

// sameScheme reports a key file whose scheme is not the one --alg names.
func sameScheme(fs *flag.FlagSet, path string, key, alg suite.Signature) error {
	if key.ID() == alg.ID() {
		return nil
	}
	return usageErrorf("%s: %s holds an %s key, but --alg is %s", fs.Name(), source(path), key.ID(), alg.ID()).
		withHint(fmt.Sprintf("use --alg %s, or a key made with 'domicile crypto keygen --alg %s'", key.ID(), alg.ID()))
}

// source names path in messages: the file, or stdin when path is empty.
func source(path string) string {
	if path == "" {
		return "stdin"
	}
	return path
}
