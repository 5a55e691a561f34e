package region

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/backup"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/signed"
	"github.com/domicile/domicile/internal/store"
)

// Snapshot is a backup of the region being taken: a consistent copy of its
// store on the node's disk, which WriteTo streams with its signed
// manifest. Close removes the copy.
type Snapshot struct {
	s     *Service
	tmp   string // the temporary directory; the copy is in tmp/store
	m     backup.Manifest
	bytes int64
}

// Backup takes a backup of the region's embedded store online (admin):
// it records the request (an admin entry with rule backup:<time>), signs
// an audit checkpoint over everything recorded so far, then copies the
// store (store.Snapshotter) while writes go on. The copy carries the
// restore-pending mark (backup.PendingKey), so that no node serves it
// before 'domicile restore' re-applied the erasures made since. The
// caller streams it with WriteTo and must Close it.
//
// Errors: errcode.InvalidRequest for a region whose store cannot copy
// itself (PostgreSQL: back it up with its own tools);
// errcode.AuditUnavailable when the region keeps no audit log (a restore
// must be recorded in it); those of the access decision.
func (s *Service) Backup(ctx context.Context, c Caller, region string) (*Snapshot, error) {
	if err := s.checkRegion(region); err != nil {
		return nil, err
	}
	if _, err := s.decide(ctx, c, target{action: policy.PermAdmin}); err != nil {
		return nil, err
	}
	snap, ok := s.v.Snapshotter()
	if !ok {
		return nil, errcode.New(errcode.InvalidRequest, "region %s keeps its data in PostgreSQL, which Domicile does not copy: back the database up with pg_dump or pg_basebackup, "+
			"and keep the region's erasure journal ('domicile erasures export') apart from those backups, to re-apply with 'domicile restore --erasures' semantics (see README, Backup and restore)", s.name)
	}
	l := s.v.Audit()
	if l == nil {
		return nil, errcode.New(errcode.AuditUnavailable, "the audit log is off in region %s; a backup and its restore are never made unrecorded", s.name)
	}
	created := time.Now().UTC().Truncate(time.Second)
	if err := s.record(ctx, c, adminEntry("backup:"+created.Format(time.RFC3339))); err != nil {
		return nil, err
	}
	cpText, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, auditError(err)
	}
	cp, err := checkpoint.Parse(cpText)
	if err != nil {
		return nil, fmt.Errorf("region: backup: the latest checkpoint: %w", err)
	}
	kr := s.v.Keyring()
	ks, err := kr.Status(ctx)
	if err != nil {
		return nil, domainError(err)
	}
	m := backup.Manifest{Format: backup.Format, Region: s.name, Suite: string(kr.Suite().ID()), Store: "pebble", Created: created,
		Audit: backup.AuditState{Size: cp.Size, Root: hex.EncodeToString(cp.Root), Checkpoint: string(cpText)}}
	for _, p := range ks.Purposes {
		kv := backup.KeyVersions{Purpose: string(p.Purpose), Current: p.Current, Versions: []uint32{}}
		for _, v := range p.Versions {
			kv.Versions = append(kv.Versions, v.Version)
		}
		m.Keys = append(m.Keys, kv)
	}
	tmp, err := os.MkdirTemp("", "domicile-backup-")
	if err != nil {
		return nil, fmt.Errorf("region: backup: %w", err)
	}
	var mark store.Batch
	mark.Put(backup.PendingKey, []byte(created.Format(time.RFC3339)))
	if err := snap.Checkpoint(ctx, filepath.Join(tmp, backup.StoreDir), &mark); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("region: backup: %w", err)
	}
	_, total, err := backup.List(filepath.Join(tmp, backup.StoreDir))
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	s.log.Info("backup: store copied", "bytes", total, "audit_size", cp.Size)
	return &Snapshot{s: s, tmp: tmp, m: m, bytes: total}, nil
}

// Bytes returns the total size of the store's files.
func (p *Snapshot) Bytes() int64 { return p.bytes }

// Created returns the time of the backup, as its manifest names it.
func (p *Snapshot) Created() time.Time { return p.m.Created }

// WriteTo streams the backup to w (see backup.Write): the store's files,
// then the manifest listing each with its size and suite hash, signed
// with the region's current audit key. An error can only cut the stream
// short: the receiver then finds no manifest.
func (p *Snapshot) WriteTo(ctx context.Context, w io.Writer) error {
	kr := p.s.v.Keyring()
	su := kr.Suite()
	origin := p.s.v.Audit().Origin()
	return backup.Write(ctx, w, filepath.Join(p.tmp, backup.StoreDir), su.Hash(), func(files []backup.File) ([]byte, error) {
		m := p.m
		m.Files = files
		payload, err := json.Marshal(&m)
		if err != nil {
			return nil, err
		}
		priv, err := kr.AuditSigner()
		if err != nil {
			return nil, err
		}
		env, err := signed.Sign(backup.Kind, payload, origin, priv, su.Signature(), su.Hash(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return backup.MarshalSigned(env)
	})
}

// Close removes the store's copy from the node's disk.
func (p *Snapshot) Close() error {
	if err := os.RemoveAll(p.tmp); err != nil {
		return fmt.Errorf("region: backup: %w", err)
	}
	return nil
}
