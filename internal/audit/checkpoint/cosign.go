package checkpoint

// Witness cosignatures, c2sp.org/tlog-cosignature "cosignature/v1" with
// Ed25519 keys: a witness that checked a checkpoint's consistency with what
// it saw before adds a signature line
//
//	— <witness name> base64(key ID || timestamp || Ed25519 signature)
//
// where the key ID is SHA-256(name || "\n" || 0x04 || public key)[:4], the
// timestamp is the signing time in seconds since the Unix epoch (8 bytes,
// big-endian) and the signature is over "cosignature/v1\ntime <timestamp>\n"
// followed by the whole checkpoint body (the "alg" and "time" extension
// lines included). Witness keys are written as signed-note vkeys,
// "<name>+<key ID, 8 hex digits>+base64(0x04 || public key)".

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	tdnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Errors a WitnessKey's Verify wraps, to tell a missing cosignature from a
// bad one.
var (
	// ErrNotCosigned: the checkpoint carries no cosignature by the witness.
	ErrNotCosigned = errors.New("not cosigned by the witness")
	// ErrBadCosignature: it carries one that does not verify.
	ErrBadCosignature = errors.New("cosignature does not verify")
)

// algCosignatureV1 is the signed-note signature type of Ed25519
// cosignature/v1 keys.
const algCosignatureV1 = 0x04

// cosigError is a Verify error: its message in words, and the sentinel it
// wraps.
type cosigError struct {
	msg  string
	kind error
}

func (e *cosigError) Error() string { return e.msg }
func (e *cosigError) Unwrap() error { return e.kind }

// WitnessKey is a witness's public key for Ed25519 cosignature/v1
// cosignatures. The zero value is not a key.
type WitnessKey struct {
	name string
	hash [4]byte
	vkey string
	v    note.Verifier
}

// ParseWitnessKey parses a witness's verifier key (vkey),
// "<name>+<key ID>+<base64(0x04 || 32-byte Ed25519 public key)>", as
// 'domicile witness keygen' writes it. Surrounding white space is ignored.
//
// Errors: in words, for a malformed vkey, a key of another type, a key ID
// that does not match the key, or a name that Domicile checkpoints cannot
// carry (it must be printable ASCII without spaces or "+").
func ParseWitnessKey(vkey string) (WitnessKey, error) {
	vkey = strings.TrimSpace(vkey)
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return WitnessKey{}, errors.New("checkpoint: witness key: want NAME+KEYID+KEY (a vkey, as 'domicile witness keygen' writes it)")
	}
	if err := checkName(name); err != nil {
		return WitnessKey{}, fmt.Errorf("checkpoint: witness key: name %q: must be 1..%d printable ASCII characters without spaces or '+'", name, maxName)
	}
	idBytes, err := hex.DecodeString(hash16)
	if err != nil || len(idBytes) != 4 {
		return WitnessKey{}, fmt.Errorf("checkpoint: witness key %s: key ID %q is not 8 hex digits", name, hash16)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil || len(key) == 0 {
		return WitnessKey{}, fmt.Errorf("checkpoint: witness key %s: the key is not standard base64", name)
	}
	switch {
	case key[0] == 0x01:
		return WitnessKey{}, fmt.Errorf("checkpoint: witness key %s: an Ed25519 signed-note key (type 0x01), not a cosignature/v1 key (type 0x04); convert it or ask the witness for its cosignature key", name)
	case key[0] != algCosignatureV1:
		return WitnessKey{}, fmt.Errorf("checkpoint: witness key %s: key type 0x%02x is not Ed25519 cosignature/v1 (0x04)", name, key[0])
	case len(key) != 1+32:
		return WitnessKey{}, fmt.Errorf("checkpoint: witness key %s: Ed25519 key of %d bytes, want 32", name, len(key)-1)
	}
	v, err := tdnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return WitnessKey{}, fmt.Errorf("checkpoint: witness key %s: %w", name, err)
	}
	var kh [4]byte
	binary.BigEndian.PutUint32(kh[:], v.KeyHash())
	if !bytes.Equal(kh[:], idBytes) {
		return WitnessKey{}, fmt.Errorf("checkpoint: witness key %s: key ID %s does not match the key (it has %x): the vkey was altered or mistyped", name, hash16, kh)
	}
	return WitnessKey{name: name, hash: kh, vkey: vkey, v: v}, nil
}

// Name returns the witness's name, as its signature lines carry it.
func (k WitnessKey) Name() string { return k.name }

// KeyHash returns the key ID of the witness's signature lines.
func (k WitnessKey) KeyHash() [4]byte { return k.hash }

// String returns the vkey.
func (k WitnessKey) String() string { return k.vkey }

// Verifier returns the key as an x/mod note.Verifier (for note.Open).
func (k WitnessKey) Verifier() note.Verifier { return k.v }

// Verify checks that signedCheckpoint (a signed checkpoint, see Parse)
// carries a valid cosignature by the witness and returns the time at which
// the witness made it. It checks only the witness's signature: check the
// log's own with Verify or a KeySet.
//
// Errors: an *Error for malformed text; an error wrapping ErrNotCosigned
// when no signature line has the witness's name and key ID; one wrapping
// ErrBadCosignature when such a line does not verify.
func (k WitnessKey) Verify(signedCheckpoint []byte) (time.Time, error) {
	if k.v == nil {
		return time.Time{}, errors.New("checkpoint: verify cosignature: no witness key (use ParseWitnessKey)")
	}
	s, err := Parse(signedCheckpoint)
	if err != nil {
		return time.Time{}, err
	}
	for _, sg := range s.Sigs {
		if sg.Name != k.name || sg.KeyHash != k.hash {
			continue
		}
		bad := func(why string) error {
			return &cosigError{kind: ErrBadCosignature,
				msg: fmt.Sprintf("checkpoint: cosignature by witness %s (key ID %x) on %s at size %d does not verify: %s", k.name, k.hash, s.Origin, s.Size, why)}
		}
		if len(sg.Sig) != 8+64 {
			return time.Time{}, bad(fmt.Sprintf("%d bytes, want 72 (timestamp and Ed25519 signature)", len(sg.Sig)))
		}
		if sg.Sig[0]&0x80 != 0 {
			return time.Time{}, bad("timestamp beyond 2^63-1")
		}
		if !k.v.Verify(s.Body(), sg.Sig) {
			return time.Time{}, bad("bad signature")
		}
		t, err := tdnote.CoSigV1Timestamp(note.Signature{Name: sg.Name, Hash: binary.BigEndian.Uint32(sg.KeyHash[:]),
			Base64: base64.StdEncoding.EncodeToString(append(sg.KeyHash[:], sg.Sig...))})
		if err != nil {
			return time.Time{}, bad(err.Error())
		}
		return t.UTC(), nil
	}
	return time.Time{}, &cosigError{kind: ErrNotCosigned,
		msg: fmt.Sprintf("checkpoint: %s at size %d is not cosigned by witness %s (no signature line with key ID %x)", s.Origin, s.Size, k.name, k.hash)}
}

// AddCosignatures returns the signed checkpoint signed with the signature
// lines in lines (each "— <name> <base64>\n", as a witness answers
// add-checkpoint) appended after its own. A line whose name and key ID are
// already on the checkpoint is dropped (the first one stays), so adding the
// same witness twice changes nothing; the region's own signature stays
// first. The lines' signatures are not checked.
//
// Errors: an *Error when signed or a line is malformed, when a line carries
// the log's own name (a witness cannot sign as the log), or when the result
// would exceed MaxSignatures or MaxSize.
func AddCosignatures(signed []byte, lines []byte) ([]byte, error) {
	s, err := Parse(signed)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return bytes.Clone(signed), nil
	}
	// Parse the lines as the signature block of the same body: the same
	// rules as the checkpoint's own signature lines.
	text := append(append(s.Body(), '\n'), lines...)
	add, err := Parse(text)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return nil, errorf("cosignature lines: %s", pe.msg)
		}
		return nil, err
	}
	for _, sg := range add.Sigs {
		if sg.Name == s.Origin {
			return nil, errorf("cosignature line under the log's own name %q", s.Origin)
		}
		dup := false
		for _, have := range s.Sigs {
			if have.Name == sg.Name && have.KeyHash == sg.KeyHash {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if len(s.Sigs) == MaxSignatures {
			return nil, errorf("adding the cosignature of %s would make %d signatures, at most %d allowed", sg.Name, len(s.Sigs)+1, MaxSignatures)
		}
		s.Sigs = append(s.Sigs, sg)
	}
	out := s.Marshal()
	if _, err := Parse(out); err != nil {
		return nil, err
	}
	return out, nil
}
