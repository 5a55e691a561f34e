// Package backup is the format of a region's backup: a consistent copy of
// its embedded store and a manifest signed with the region's audit key,
// which lists every file with its size and suite hash, the audit log's
// state at the snapshot and the region's key versions; the stream that
// carries a backup from a node to the CLI; and the erasure journal that a
// restore re-applies.
//
// A backup stays sealed: it holds only what the store holds (the sealed
// root key, wrapped KEKs and DEKs, ciphertexts), never unsealed key
// material. Its store carries a restore-pending mark (PendingKey) that a
// node refuses to serve until 'domicile restore' re-applied the erasures
// made since the backup and removed it.
//
// On disk a backup is a directory:
//
//	domicile-backup.json   the signed manifest (ManifestFile)
//	store/                 the store's files (StoreDir)
package backup

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/signed"
)

// Names in a backup directory.
const (
	// ManifestFile is the signed manifest's file name.
	ManifestFile = "domicile-backup.json"
	// StoreDir is the directory of the store's files.
	StoreDir = "store"
	// Format names this version of the manifest.
	Format = "domicile-backup/v1"
)

// Kind is the kind of document a manifest is: its signature covers
// "domicile backup manifest v1\n" followed by the manifest's JSON.
var Kind = signed.Kind{Context: "domicile backup manifest v1\n", Noun: "manifest"}

// PendingKey is the store key of the restore-pending mark. A backup's
// store carries it from the snapshot on; 'domicile restore' removes it in
// the commit that records the restore in the audit log, after the erasure
// journal was re-applied. A node refuses to serve a store that holds it.
var PendingKey = []byte("b/restore-pending")

// ErrInvalid is wrapped by every error that says a backup does not verify:
// a missing, edited, truncated or unlisted file, a manifest that does not
// parse or whose signature does not verify.
var ErrInvalid = errors.New("backup does not verify")

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Manifest describes a backup. It names no subject and holds no value.
type Manifest struct {
	Format  string    `json:"format"`
	Region  string    `json:"region"`
	Suite   string    `json:"suite"`
	Store   string    `json:"store"` // the backend: "pebble"
	Created time.Time `json:"created"`
	// Audit is the region's audit log as the snapshot holds it: the
	// latest checkpoint signed before the snapshot (every entry it covers
	// is in the backup; entries written between it and the snapshot may be
	// too).
	Audit AuditState `json:"audit"`
	// Keys are the versions of each key purpose the backup's keyring
	// holds, ascending, and the current one.
	Keys []KeyVersions `json:"keys"`
	// Files are the store's files, by name in ascending order.
	Files []File `json:"files"`
}

// AuditState is the audit log's state at a backup.
type AuditState struct {
	Size       uint64 `json:"size"`
	Root       string `json:"root"` // hex
	Checkpoint string `json:"checkpoint"`
}

// KeyVersions are the versions of one key purpose.
type KeyVersions struct {
	Purpose  string   `json:"purpose"`
	Current  uint32   `json:"current"`
	Versions []uint32 `json:"versions"`
}

// File is one file of a backup's store.
type File struct {
	Name string `json:"name"` // a base name, no directory
	Size int64  `json:"size"`
	Hash string `json:"hash"` // hex of the suite hash of its bytes
}

// checkName refuses any file name but a plain base name.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || path.Base(name) != name || len(name) > 255 {
		return invalidf("file name %q is not a plain file name", name)
	}
	return nil
}

// Validate checks the manifest's own consistency: its format, names and
// sizes, and that its files are listed once each in ascending order.
func (m *Manifest) Validate() error {
	switch {
	case m.Format != Format:
		return invalidf("format %q, want %q", m.Format, Format)
	case m.Region == "" || m.Suite == "" || m.Store == "":
		return invalidf("the manifest names no region, suite or store")
	case m.Created.IsZero():
		return invalidf("the manifest has no time")
	case len(m.Files) == 0:
		return invalidf("the manifest lists no file")
	}
	for i, f := range m.Files {
		if err := checkName(f.Name); err != nil {
			return err
		}
		if i > 0 && m.Files[i-1].Name >= f.Name {
			return invalidf("the manifest lists %q out of order or twice", f.Name)
		}
		if f.Size < 0 {
			return invalidf("file %s has a negative size", f.Name)
		}
		if _, err := hex.DecodeString(f.Hash); err != nil || f.Hash == "" {
			return invalidf("file %s has no hex hash", f.Name)
		}
	}
	return nil
}

// Signed is a manifest with its signature, as ManifestFile holds it.
type Signed struct {
	Envelope *signed.Envelope
	Manifest *Manifest
	// Raw are the file's bytes (its hash names the backup).
	Raw []byte
}

// signedFile is ManifestFile's JSON; Manifest is the payload, byte for
// byte as signed.
type signedFile struct {
	Algorithm string          `json:"algorithm"`
	KeyHash   string          `json:"key_hash"`
	Signature string          `json:"signature"`
	Manifest  json.RawMessage `json:"manifest"`
}

// MarshalSigned returns the bytes of ManifestFile for e, whose payload is
// a manifest's JSON: the payload appears in it byte for byte.
func MarshalSigned(e *signed.Envelope) ([]byte, error) {
	if !json.Valid(e.Payload) {
		return nil, errors.New("backup: the manifest is not JSON")
	}
	var b bytes.Buffer
	head, err := json.Marshal(struct {
		Algorithm string `json:"algorithm"`
		KeyHash   string `json:"key_hash"`
		Signature string `json:"signature"`
	}{e.Algorithm, hex.EncodeToString(e.KeyHash[:]), base64.StdEncoding.EncodeToString(e.Signature)})
	if err != nil {
		return nil, err
	}
	b.Write(head[:len(head)-1])
	b.WriteString(`,"manifest":`)
	b.Write(e.Payload)
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// maxManifest bounds a manifest file.
const maxManifest = 16 << 20

// ParseSigned parses ManifestFile's bytes strictly, without checking the
// signature.
//
// Errors: wrap ErrInvalid.
func ParseSigned(raw []byte) (*Signed, error) {
	if len(raw) > maxManifest {
		return nil, invalidf("the manifest is %d bytes, at most %d", len(raw), maxManifest)
	}
	var f signedFile
	if err := strictJSON(raw, &f); err != nil {
		return nil, invalidf("the manifest file does not parse: %v", err)
	}
	e := &signed.Envelope{Payload: []byte(f.Manifest), Algorithm: f.Algorithm}
	kh, err := hex.DecodeString(f.KeyHash)
	if err != nil || len(kh) != 4 {
		return nil, invalidf("the manifest's key_hash is not 8 hex digits")
	}
	copy(e.KeyHash[:], kh)
	if e.Signature, err = base64.StdEncoding.DecodeString(f.Signature); err != nil || len(e.Signature) == 0 {
		return nil, invalidf("the manifest's signature is not base64")
	}
	var m Manifest
	if err := strictJSON(e.Payload, &m); err != nil {
		return nil, invalidf("the manifest does not parse: %v", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &Signed{Envelope: e, Manifest: &m, Raw: raw}, nil
}

// strictJSON decodes one JSON value of v's fields only.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the value")
	}
	return nil
}
