package checkpoint_test

// Interoperability of Domicile checkpoints with the C2SP formats as
// implemented by transparency-dev (github.com/transparency-dev/formats v0.1.1)
// and Go's golang.org/x/mod/sumdb/note.
//
// What conforms (checked below): the body is a c2sp.org/tlog-checkpoint body
// (origin, decimal size, base64 root hash, then the "alg" and "time" lines as
// extension lines), and the whole text is a c2sp.org/signed-note: a blank
// line, then lines "— <name> base64(4-byte key ID || signature)". A stock
// parser reads origin, size and root, and note.Open verifies the log's
// signature given a note.Verifier for the region's key (SM2 or ECDSA).
//
// Where it differs (TestFormatDifferences):
//
//   - Key ID. signed-note recommends SHA-256(name || 0x0A || type byte ||
//     public key)[:4], and type 0x02 (ECDSA, as transparency-dev's
//     NewECDSAVerifier checks it) fixes it to SHA-256(SPKI DER)[:4].
//     Domicile uses H(name || "\n" || alg || "\n" || SPKI DER)[:4] under the
//     suite hash (SM3 for cn). So a stock ECDSA verifier finds no signature
//     on an intl checkpoint, although the signature bytes (ASN.1 ECDSA P-256
//     over SHA-256 of the note text) are exactly what it checks: with the
//     key ID replaced the same signature verifies.
//   - Signature count. signed-note says verifiers MUST accept at least 16
//     signatures; Parse accepts at most MaxSignatures (8).
//   - Key names. signed-note allows any non-empty UTF-8 name without spaces
//     or "+"; Parse accepts only printable ASCII, so a cosignature by a key
//     with a non-ASCII name makes the whole checkpoint unparseable.
//   - Hash. tlog-checkpoint says the root is of the RFC 6962 tree (SHA-256);
//     cn roots are the same tree under SM3, named only by the "alg" line,
//     which generic clients ignore.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
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

// noteKey is a region key seen through x/mod's note.Signer and note.Verifier
// interfaces, with Domicile's key ID and the suite's signature.
type noteKey struct {
	name string
	hash uint32
	s    suite.Suite
	pub  crypto.PublicKey
	priv crypto.Signer // nil for a verifier only
}

func (k noteKey) Name() string    { return k.name }
func (k noteKey) KeyHash() uint32 { return k.hash }
func (k noteKey) Verify(msg, sig []byte) bool {
	return k.s.Signature().Verify(k.pub, msg, sig) == nil
}
func (k noteKey) Sign(msg []byte) ([]byte, error) {
	return k.s.Signature().Sign(rand.Reader, k.priv, msg)
}

type fixture struct {
	s      suite.Suite
	origin string
	c      checkpoint.Checkpoint
	signed []byte
	key    noteKey
}

func newFixture(t *testing.T, s suite.Suite) fixture {
	t.Helper()
	priv, err := s.Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	origin := "domicile.example/audit/" + string(s.ID())
	c := checkpoint.Checkpoint{
		Origin: origin,
		Size:   20852163,
		Root:   s.Hash().Sum([]byte("root")),
		Time:   time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC),
	}
	b, err := checkpoint.Sign(c, s.Signature(), s.Hash(), priv, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kh, err := checkpoint.KeyHash(origin, priv.Public(), s.Signature(), s.Hash())
	if err != nil {
		t.Fatal(err)
	}
	c.Alg = checkpoint.Alg(s.Signature(), s.Hash())
	return fixture{
		s: s, origin: origin, c: c, signed: b,
		key: noteKey{name: origin, hash: binary.BigEndian.Uint32(kh[:]), s: s, pub: priv.Public(), priv: priv},
	}
}

var suites = []suite.Suite{suite.CNSuite(), suite.IntlSuite()}

func TestFormatTransparencyDev(t *testing.T) {
	for _, s := range suites {
		t.Run(string(s.ID()), func(t *testing.T) {
			f := newFixture(t, s)
			wantRest := "alg " + f.c.Alg + "\ntime 2025-03-01T12:00:00.123456789Z\n"

			// The body alone, with the common checkpoint parser.
			var cp tdlog.Checkpoint
			rest, err := cp.Unmarshal(f.c.Body())
			if err != nil {
				t.Fatalf("Unmarshal: %v\n%s", err, f.c.Body())
			}
			if cp.Origin != f.origin || cp.Size != f.c.Size || !bytes.Equal(cp.Hash, f.c.Root) {
				t.Fatalf("Unmarshal: got %q %d %x", cp.Origin, cp.Size, cp.Hash)
			}
			if string(rest) != wantRest {
				t.Fatalf("extension lines %q, want %q", rest, wantRest)
			}
			// The common parser's own encoding is the first three lines.
			if !bytes.HasPrefix(f.c.Body(), cp.Marshal()) {
				t.Fatalf("body does not start with %q", cp.Marshal())
			}

			// The signed checkpoint, signature checked by note.Open.
			got, rest, n, err := tdlog.ParseCheckpoint(f.signed, f.origin, f.key)
			if err != nil {
				t.Fatalf("ParseCheckpoint: %v\n%s", err, f.signed)
			}
			if got.Origin != f.origin || got.Size != f.c.Size || !bytes.Equal(got.Hash, f.c.Root) || string(rest) != wantRest {
				t.Fatalf("ParseCheckpoint: got %q %d %x, rest %q", got.Origin, got.Size, got.Hash, rest)
			}
			if n.Text != string(f.c.Body()) || len(n.Sigs) != 1 || n.Sigs[0].Hash != f.key.hash {
				t.Fatalf("note: %+v", n)
			}
			if _, _, _, err := tdlog.ParseCheckpoint(f.signed, "domicile.example/other", f.key); err == nil {
				t.Fatal("ParseCheckpoint accepted the wrong origin")
			}

			// A tampered body fails note.Open's signature check.
			bad := bytes.Replace(f.signed, []byte("\n20852163\n"), []byte("\n20852164\n"), 1)
			var ise *note.InvalidSignatureError
			if _, _, _, err := tdlog.ParseCheckpoint(bad, f.origin, f.key); err == nil || !strings.Contains(err.Error(), "invalid signature") {
				t.Fatalf("tampered size: %v", err)
			}
			if _, err := note.Open(bad, note.VerifierList(f.key)); !errors.As(err, &ise) {
				t.Fatalf("note.Open of a tampered checkpoint: %v", err)
			}

			// The other way: x/mod's note.Sign over Domicile's body, with
			// Domicile's key ID, gives a checkpoint that Verify accepts.
			out, err := note.Sign(&note.Note{Text: string(f.c.Body())}, f.key)
			if err != nil {
				t.Fatal(err)
			}
			v, err := checkpoint.Verify(out, f.key.pub, s.Signature(), s.Hash())
			if err != nil {
				t.Fatalf("Verify of a note.Sign checkpoint: %v\n%s", err, out)
			}
			if v.Origin != f.origin || v.Size != f.c.Size || !bytes.Equal(v.Root, f.c.Root) {
				t.Fatalf("Verify: got %+v", v)
			}
		})
	}
}

// TestFormatDifferences documents where Domicile's checkpoints and Parse
// differ from signed-note as transparency-dev implements it. The
// transparency-dev side is asserted; Domicile's side is logged, so that
// making Parse conform does not break this test.
func TestFormatDifferences(t *testing.T) {
	t.Run("key-id/intl-ecdsa", func(t *testing.T) {
		f := newFixture(t, suite.IntlSuite())
		der, err := f.s.Signature().MarshalPublicKey(f.key.pub)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(der)
		ecdsaID := binary.BigEndian.Uint32(sum[:4])
		vkey := fmt.Sprintf("%s+%08x+%s", f.origin, ecdsaID, base64.StdEncoding.EncodeToString(append([]byte{0x02}, der...)))
		stock, err := tdnote.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		if ecdsaID == f.key.hash {
			t.Skip("key IDs collide by chance")
		}
		// As signed today: the stock verifier sees only an unknown key.
		var une *note.UnverifiedNoteError
		if _, err := note.Open(f.signed, note.VerifierList(stock)); !errors.As(err, &une) {
			t.Fatalf("stock ECDSA verifier on Domicile's key ID: %v, want UnverifiedNoteError", err)
		}
		t.Logf("Domicile key ID %08x (SHA-256(name\\nalg\\nSPKI)), signed-note 0x02 key ID %08x (SHA-256(SPKI)): stock verifier finds no signature", f.key.hash, ecdsaID)

		// The same signature bytes under the 0x02 key ID verify.
		s, err := checkpoint.Parse(f.signed)
		if err != nil {
			t.Fatal(err)
		}
		binary.BigEndian.PutUint32(s.Sigs[0].KeyHash[:], ecdsaID)
		rekeyed := s.Marshal()
		got, _, _, err := tdlog.ParseCheckpoint(rekeyed, f.origin, stock)
		if err != nil {
			t.Fatalf("stock ECDSA verifier with the 0x02 key ID: %v\n%s", err, rekeyed)
		}
		if got.Size != f.c.Size || !bytes.Equal(got.Hash, f.c.Root) {
			t.Fatalf("got %+v", got)
		}
		if _, err := checkpoint.Verify(rekeyed, f.key.pub, f.s.Signature(), f.s.Hash()); err != nil {
			t.Logf("Domicile's Verify rejects the 0x02 key ID: %v", err)
		}
	})

	t.Run("signature-count", func(t *testing.T) {
		// signed-note: verifiers MUST accept at least 16 signatures. A
		// checkpoint with the log's signature and 15 cosignatures from keys
		// the verifier does not know.
		f := newFixture(t, suite.CNSuite())
		b := bytes.Clone(f.signed)
		for i := range 15 {
			sig := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(i + 1)}, 4+64))
			b = fmt.Appendf(b, "— witness%d.example %s\n", i, sig)
		}
		n, err := note.Open(b, note.VerifierList(f.key))
		if err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 15 {
			t.Fatalf("note.Open: %v", err)
		}
		if _, _, _, err := tdlog.ParseCheckpoint(b, f.origin, f.key); err != nil {
			t.Fatalf("ParseCheckpoint: %v", err)
		}
		if _, err := checkpoint.Verify(b, f.key.pub, f.s.Signature(), f.s.Hash()); err != nil {
			t.Logf("16 signatures: Domicile rejects (MaxSignatures = %d): %v", checkpoint.MaxSignatures, err)
		} else {
			t.Logf("16 signatures: Domicile accepts (conforms)")
		}
	})

	t.Run("key-name", func(t *testing.T) {
		// signed-note key names are UTF-8 without spaces or "+".
		f := newFixture(t, suite.CNSuite())
		sig := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 4+64))
		b := fmt.Appendf(bytes.Clone(f.signed), "— témoin.example/ü %s\n", sig)
		if _, _, _, err := tdlog.ParseCheckpoint(b, f.origin, f.key); err != nil {
			t.Fatalf("ParseCheckpoint: %v", err)
		}
		if _, err := checkpoint.Verify(b, f.key.pub, f.s.Signature(), f.s.Hash()); err != nil {
			t.Logf("non-ASCII cosigner name: Domicile rejects: %v", err)
		} else {
			t.Logf("non-ASCII cosigner name: Domicile accepts (conforms)")
		}
	})
}
