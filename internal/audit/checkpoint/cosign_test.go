package checkpoint_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tdlog "github.com/transparency-dev/formats/log"
	tdnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/suite"
)

// testWitness is a witness key pair made the way 'domicile witness keygen'
// makes it: x/mod's GenerateKey, the vkey converted to cosignature/v1.
type testWitness struct {
	name string
	vkey string
	s    *tdnote.Signer
}

func newTestWitness(t testing.TB, name string) testWitness {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err = tdnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tdnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	return testWitness{name: name, vkey: vkey, s: s}
}

// cosign returns the witness's signature line on the signed checkpoint.
func (w testWitness) cosign(t testing.TB, signed []byte) []byte {
	t.Helper()
	s, err := checkpoint.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := w.s.Sign(s.Body())
	if err != nil {
		t.Fatal(err)
	}
	raw := binary.BigEndian.AppendUint32(nil, w.s.KeyHash())
	return fmt.Appendf(nil, "— %s %s\n", w.name, base64.StdEncoding.EncodeToString(append(raw, sig...)))
}

func (w testWitness) key(t testing.TB) checkpoint.WitnessKey {
	t.Helper()
	k, err := checkpoint.ParseWitnessKey(w.vkey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCosignatureVerify(t *testing.T) {
	for _, s := range suites {
		t.Run(string(s.ID()), func(t *testing.T) {
			f := newFixture(t, s)
			w1 := newTestWitness(t, "witness.example/w1")
			w2 := newTestWitness(t, "witness.example/w2")
			before := time.Now().Add(-time.Second)
			cosigned, err := checkpoint.AddCosignatures(f.signed, append(w1.cosign(t, f.signed), w2.cosign(t, f.signed)...))
			if err != nil {
				t.Fatal(err)
			}
			after := time.Now().Add(time.Second)

			// Valid: both witnesses' cosignatures verify, with their time.
			for _, w := range []testWitness{w1, w2} {
				when, err := w.key(t).Verify(cosigned)
				if err != nil {
					t.Fatalf("%s: %v\n%s", w.name, err, cosigned)
				}
				if when.Before(before) || when.After(after) || when.Location() != time.UTC {
					t.Fatalf("%s: cosignature time %v, not the signing time", w.name, when)
				}
			}
			// The region's own signature still verifies, and stays first.
			if _, err := checkpoint.Verify(cosigned, f.key.pub, s.Signature(), s.Hash()); err != nil {
				t.Fatalf("region signature on the cosigned checkpoint: %v", err)
			}
			p, err := checkpoint.Parse(cosigned)
			if err != nil || len(p.Sigs) != 3 || p.Sigs[0].Name != f.origin {
				t.Fatalf("Parse: %+v, %v", p, err)
			}
			ks, err := checkpoint.NewKeySet(s.Signature(), s.Hash(), f.key.pub)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := ks.Verify(cosigned); err != nil {
				t.Fatalf("KeySet.Verify: %v", err)
			}

			// Stock tools: x/mod's note.Open with the transparency-dev
			// cosignature verifier, and the checkpoint parser with the
			// region key and both witnesses.
			n, err := note.Open(cosigned, note.VerifierList(w1.key(t).Verifier(), w2.key(t).Verifier()))
			if err != nil || len(n.Sigs) != 2 || len(n.UnverifiedSigs) != 1 {
				t.Fatalf("note.Open: %+v, %v", n, err)
			}
			if _, _, n, err := tdlog.ParseCheckpoint(cosigned, f.origin, f.key, w1.key(t).Verifier()); err != nil || len(n.Sigs) != 2 {
				t.Fatalf("ParseCheckpoint: %v", err)
			}

			// Unknown witness: a key whose line is not there.
			w3 := newTestWitness(t, "witness.example/w3")
			_, err = w3.key(t).Verify(cosigned)
			if !errors.Is(err, checkpoint.ErrNotCosigned) || !strings.Contains(err.Error(), "not cosigned by witness witness.example/w3") {
				t.Fatalf("unknown witness: %v", err)
			}
			// Not cosigned at all.
			if _, err := w1.key(t).Verify(f.signed); !errors.Is(err, checkpoint.ErrNotCosigned) {
				t.Fatalf("uncosigned checkpoint: %v", err)
			}

			// Wrong key: another witness's key under w1's name and key ID
			// cannot be made, so put w3's signature bytes under w1's line.
			l3 := w3.cosign(t, f.signed)
			wrong := replaceSig(t, cosigned, w1.name, l3)
			_, err = w1.key(t).Verify(wrong)
			if !errors.Is(err, checkpoint.ErrBadCosignature) || !strings.Contains(err.Error(), "cosignature by witness witness.example/w1") {
				t.Fatalf("wrong key: %v", err)
			}

			// Tampered body: the region's signature and the cosignatures
			// fail (the size is changed, the text stays well-formed).
			tampered := bytes.Replace(cosigned, []byte("\n20852163\n"), []byte("\n20852164\n"), 1)
			if _, err := w1.key(t).Verify(tampered); !errors.Is(err, checkpoint.ErrBadCosignature) {
				t.Fatalf("tampered size: %v", err)
			}
			tampered = bytes.Replace(cosigned, []byte("\nalg "), []byte("\nalg X"), 1)
			if _, err := w2.key(t).Verify(tampered); !errors.Is(err, checkpoint.ErrBadCosignature) {
				t.Fatalf("tampered extension line: %v", err)
			}
			if _, err := w1.key(t).Verify([]byte("garbage")); err == nil || errors.Is(err, checkpoint.ErrNotCosigned) {
				t.Fatalf("garbage: %v", err)
			}
		})
	}
}

// replaceSig returns signed with the signature bytes of name's line
// replaced by those of line (another key's, with its key ID kept).
func replaceSig(t *testing.T, signed []byte, name string, line []byte) []byte {
	t.Helper()
	s, err := checkpoint.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	_, enc, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(string(line), "— "), "\n"), " ")
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Sigs {
		if s.Sigs[i].Name == name {
			s.Sigs[i].Sig = raw[4:]
		}
	}
	return s.Marshal()
}

func TestAddCosignatures(t *testing.T) {
	f := newFixture(t, suite.CNSuite())
	w1 := newTestWitness(t, "witness.example/w1")
	l1 := w1.cosign(t, f.signed)

	// Nothing to add.
	if got, err := checkpoint.AddCosignatures(f.signed, nil); err != nil || !bytes.Equal(got, f.signed) {
		t.Fatalf("no lines: %q, %v", got, err)
	}
	once, err := checkpoint.AddCosignatures(f.signed, l1)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.Clone(f.signed), l1...); !bytes.Equal(once, want) {
		t.Fatalf("got\n%s\nwant\n%s", once, want)
	}
	// The same witness again (a later cosignature): the first one stays.
	again, err := checkpoint.AddCosignatures(once, w1.cosign(t, f.signed))
	if err != nil || !bytes.Equal(again, once) {
		t.Fatalf("again: %v\n%s", err, again)
	}
	// Duplicates within one answer.
	if twice, err := checkpoint.AddCosignatures(f.signed, append(bytes.Clone(l1), l1...)); err != nil || !bytes.Equal(twice, once) {
		t.Fatalf("duplicate lines: %v\n%s", err, twice)
	}

	// Malformed lines and lines under the log's name are refused.
	for name, lines := range map[string]string{
		"no em dash":      "- witness.example/w1 AAAAAAA=\n",
		"no newline":      strings.TrimSuffix(string(l1), "\n"),
		"blank line":      "\n" + string(l1),
		"bad base64":      "— witness.example/w1 !!!!\n",
		"log's own name":  "— " + f.origin + " " + base64.StdEncoding.EncodeToString(make([]byte, 76)) + "\n",
		"body, not lines": string(f.signed),
	} {
		if _, err := checkpoint.AddCosignatures(f.signed, []byte(lines)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := checkpoint.AddCosignatures([]byte("not a checkpoint"), l1); err == nil {
		t.Error("a malformed checkpoint was accepted")
	}

	// MaxSignatures: the region's signature and MaxSignatures-1 witnesses
	// fit, one more does not.
	cp := f.signed
	for i := range checkpoint.MaxSignatures - 1 {
		w := newTestWitness(t, fmt.Sprintf("witness.example/m%d", i))
		if cp, err = checkpoint.AddCosignatures(cp, w.cosign(t, f.signed)); err != nil {
			t.Fatalf("witness %d: %v", i, err)
		}
	}
	if _, err := checkpoint.Verify(cp, f.key.pub, f.s.Signature(), f.s.Hash()); err != nil {
		t.Fatalf("full checkpoint: %v", err)
	}
	extra := newTestWitness(t, "witness.example/extra")
	if _, err := checkpoint.AddCosignatures(cp, extra.cosign(t, f.signed)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("beyond MaxSignatures: %v", err)
	}
}

func TestParseWitnessKey(t *testing.T) {
	w := newTestWitness(t, "witness.example/w1")
	k, err := checkpoint.ParseWitnessKey(" " + w.vkey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	kh := k.KeyHash()
	if k.Name() != "witness.example/w1" || k.String() != w.vkey || binary.BigEndian.Uint32(kh[:]) != w.s.KeyHash() {
		t.Fatalf("got %q %x %q", k.Name(), k.KeyHash(), k)
	}
	_, plain, err := note.GenerateKey(rand.Reader, "witness.example/plain")
	if err != nil {
		t.Fatal(err)
	}
	name, hash, key := splitVKey(w.vkey)
	raw, _ := base64.StdEncoding.DecodeString(key)
	other := append([]byte{0x02}, raw[1:]...)
	for vkey, want := range map[string]string{
		"":                                     "want NAME+KEYID+KEY",
		"witness.example/w1":                   "want NAME+KEYID+KEY",
		plain:                                  "type 0x01",
		name + "+" + "0000000" + "+" + key:     "not 8 hex digits",
		name + "+" + flipHex(hash) + "+" + key: "does not match the key",
		name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(other):    "not Ed25519 cosignature/v1",
		name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(raw[:20]): "key of 19 bytes",
		name + "+" + hash + "+" + "@@@@":                                      "not standard base64",
		"wit ness+" + hash + "+" + key:                                        "printable ASCII",
		"témoin+" + hash + "+" + key:                                          "printable ASCII",
	} {
		_, err := checkpoint.ParseWitnessKey(vkey)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseWitnessKey(%q) = %v, want an error with %q", vkey, err, want)
		}
	}
	var zero checkpoint.WitnessKey
	if _, err := zero.Verify(nil); err == nil {
		t.Error("the zero WitnessKey verified")
	}
}

func splitVKey(vkey string) (name, hash, key string) {
	name, rest, _ := strings.Cut(vkey, "+")
	hash, key, _ = strings.Cut(rest, "+")
	return name, hash, key
}

func flipHex(h string) string {
	if h[0] == '0' {
		return "1" + h[1:]
	}
	return "0" + h[1:]
}
