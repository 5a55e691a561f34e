package region

import (
	"context"
	"encoding/pem"
	"errors"
	"io"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/paging"
)

// This file serves the region's audit log to administrators and auditors:
// entries, proofs, checkpoints and the signing key.

// auditLog checks the region and the admin permission, records the
// request, and returns the log.
func (s *Service) auditLog(ctx context.Context, c Caller, region string) (*audit.Log, error) {
	if err := s.checkRegion(region); err != nil {
		return nil, err
	}
	if err := s.admin(ctx, c); err != nil {
		return nil, err
	}
	l := s.v.Audit()
	if l == nil {
		return nil, errcode.New(errcode.AuditUnavailable, "the audit log is off in this region")
	}
	return l, nil
}

// AuditFilter selects audit entries.
type AuditFilter = audit.Filter

// AuditEntries returns a page of the log's entries (admin).
func (s *Service) AuditEntries(ctx context.Context, c Caller, region string, f AuditFilter, cursor string, limit int) ([]entry.Entry, string, error) {
	l, err := s.auditLog(ctx, c, region)
	if err != nil {
		return nil, "", err
	}
	n, err := paging.Size(limit)
	if err != nil {
		return nil, "", err
	}
	list, next, err := l.List(ctx, f, cursor, n)
	if err != nil {
		return nil, "", auditError(err)
	}
	return list, next, nil
}

// AuditEntry is one entry of the log as stored, with its leaf hash.
type AuditEntry struct {
	Entry    *entry.Entry
	Raw      []byte
	LeafHash []byte
}

// AuditEntry returns entry index of the log (admin).
func (s *Service) AuditEntry(ctx context.Context, c Caller, region string, index uint64) (*AuditEntry, error) {
	l, err := s.auditLog(ctx, c, region)
	if err != nil {
		return nil, err
	}
	raw, e, err := l.Entry(ctx, index)
	if err != nil {
		return nil, auditError(err)
	}
	return &AuditEntry{Entry: e, Raw: raw, LeafHash: tlog.LeafHash(l.Hash(), raw)}, nil
}

// Proof is an inclusion or consistency proof with the root of the tree of
// Size entries and the name of the log's hash.
type Proof struct {
	Size   uint64
	Root   []byte
	Hashes [][]byte
	Hash   string
}

// InclusionProof proves that entry index is in the tree of size entries
// (0: the current size, after integrating what is pending) (admin).
func (s *Service) InclusionProof(ctx context.Context, c Caller, region string, index, size uint64) (*Proof, error) {
	return s.proof(ctx, c, region, index, size, (*audit.Log).InclusionProof)
}

// ConsistencyProof proves that the tree of old entries is a prefix of the
// tree of size entries (0: the current size) (admin).
func (s *Service) ConsistencyProof(ctx context.Context, c Caller, region string, old, size uint64) (*Proof, error) {
	return s.proof(ctx, c, region, old, size, (*audit.Log).ConsistencyProof)
}

func (s *Service) proof(ctx context.Context, c Caller, region string, first, size uint64,
	prove func(*audit.Log, context.Context, uint64, uint64) ([][]byte, error)) (*Proof, error) {
	l, err := s.auditLog(ctx, c, region)
	if err != nil {
		return nil, err
	}
	if size == 0 || size > l.Size() || first >= l.Size() {
		if err := l.Sync(ctx); err != nil {
			return nil, err
		}
	}
	if size == 0 {
		size = l.Size()
	}
	hashes, err := prove(l, ctx, first, size)
	if err != nil {
		return nil, auditError(err)
	}
	root, err := l.Root(ctx, size)
	if err != nil {
		return nil, auditError(err)
	}
	if hashes == nil {
		hashes = [][]byte{}
	}
	return &Proof{Size: size, Root: root, Hashes: hashes, Hash: l.Hash().ID()}, nil
}

// Checkpoint signs what is pending and returns the latest signed
// checkpoint of the log (admin).
func (s *Service) Checkpoint(ctx context.Context, c Caller, region string) ([]byte, error) {
	l, err := s.auditLog(ctx, c, region)
	if err != nil {
		return nil, err
	}
	if _, err := l.Checkpoint(ctx); err != nil && !errors.Is(err, audit.ErrNotFound) {
		return nil, err
	}
	cp, err := l.LatestCheckpoint()
	if err != nil {
		return nil, auditError(err)
	}
	return cp, nil
}

// AuditPublicKey returns the PEM of the key that signs the log's
// checkpoints (admin).
func (s *Service) AuditPublicKey(ctx context.Context, c Caller, region string) ([]byte, error) {
	if _, err := s.auditLog(ctx, c, region); err != nil {
		return nil, err
	}
	k := s.v.Keyring()
	der, err := k.Suite().Signature().MarshalPublicKey(k.AuditPublicKey())
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// AuditKeyInfo is one version of the region's audit-signing key with what
// it signed.
type AuditKeyInfo struct {
	keyring.AuditKey
	PEM         []byte
	KeyHash     [4]byte // as checkpoints name it
	Fingerprint []byte  // as the rotation entry that introduced it names it
	audit.SignedRange
}

// AuditKeyHistory is every version of a region's audit-signing key.
type AuditKeyHistory struct {
	Origin    string // the log's name in its checkpoints
	Algorithm string // the signature scheme's ID
	Keys      []AuditKeyInfo
}

// AuditKeys returns every version of the region's audit-signing key, oldest
// first, each with the range of stored checkpoints it signed (admin), so
// that an auditor can verify checkpoints signed before a rotation.
func (s *Service) AuditKeys(ctx context.Context, c Caller, region string) (*AuditKeyHistory, error) {
	l, err := s.auditLog(ctx, c, region)
	if err != nil {
		return nil, err
	}
	kr := s.v.Keyring()
	keys, err := kr.AuditKeys(ctx)
	if err != nil {
		return nil, domainError(err)
	}
	used, err := l.SignedBy(ctx)
	if err != nil {
		return nil, auditError(err)
	}
	h := l.Hash()
	hist := &AuditKeyHistory{Origin: l.Origin(), Algorithm: kr.Suite().Signature().ID(), Keys: make([]AuditKeyInfo, len(keys))}
	out := hist.Keys
	for i, k := range keys {
		sig := k.Suite.Signature() // each version verifies with its own suite's scheme
		der, err := sig.MarshalPublicKey(k.Public)
		if err != nil {
			return nil, err
		}
		fp, err := checkpoint.Fingerprint(l.Origin(), k.Public, sig, h)
		if err != nil {
			return nil, err
		}
		out[i] = AuditKeyInfo{AuditKey: k, PEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), Fingerprint: fp}
		copy(out[i].KeyHash[:], fp)
		out[i].SignedRange = used[out[i].KeyHash]
	}
	return hist, nil
}

// AuditExport writes the region's log as an export (see audit.Export) to w
// (admin): the integrated entries and every checkpoint over them, which
// the caller verifies on its own machine. An error after the first byte
// was written can only cut the stream short; the export's header says how
// many entries to expect.
func (s *Service) AuditExport(ctx context.Context, c Caller, region string, w io.Writer) error {
	l, err := s.auditLog(ctx, c, region)
	if err != nil {
		return err
	}
	return auditError(l.Export(ctx, w))
}
