package region

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/paging"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/signed"
	"github.com/domicile/domicile/internal/subjects"
)

// This file serves a data subject's request for everything the region
// holds about them (PIPL art. 45, GDPR art. 15 and 20).

// MaxExportRecords bounds the records of one subject package; a subject
// with more is refused with a hint rather than answered in part.
const MaxExportRecords = 100_000

// SubjectPackage is a subject's package and its signature: Payload is the
// package's JSON as signed (see subjects.Sign), Package the same package.
type SubjectPackage struct {
	signed.Envelope
	Package *subjects.Package
}

// ExportSubject assembles, in the region, everything it holds about
// subject: its records as the caller may see them (through the read
// decision; a clear value that leaves for a caller abroad is a transfer,
// checked and counted like any other, and the records are audited as an
// export), its consents, the transfers of its data and every access to it
// from the audit log, found by its keyed reference. The package is signed
// with the region's current audit key. It needs the admin permission.
func (s *Service) ExportSubject(ctx context.Context, c Caller, region, subject string) (*SubjectPackage, error) {
	if err := s.checkRegion(region); err != nil {
		return nil, err
	}
	if subject == "" || len(subject) > 256 {
		return nil, errcode.New(errcode.InvalidSubject, "a subject id is 1 to 256 bytes")
	}
	if _, err := s.decide(ctx, c, target{action: policy.PermAdmin}); err != nil {
		return nil, err
	}
	kr := s.v.Keyring()
	ref := kr.SubjectRef(subject)
	if err := s.record(ctx, c, subjectEntry("subject-export", ref)); err != nil {
		return nil, err
	}
	p := &subjects.Package{Format: subjects.Format, Region: s.name, Suite: string(kr.Suite().ID()), SubjectRef: hex.EncodeToString(ref),
		Generated: time.Now().UTC(), RequestedBy: c.Account.ID, Location: c.Account.Location,
		Records: []subjects.Record{}, Consents: []Consent{}, Transfers: []subjects.Transfer{}, Accesses: []subjects.Access{}}
	own := map[string]bool{}
	for cursor := ""; ; {
		page, err := s.listSubject(ctx, c, subject, cursor, paging.MaxPageSize, entry.Export)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			own[r.ID] = true
			p.Records = append(p.Records, subjects.Record{ID: r.ID, Collection: r.Collection, Subject: r.Subject, Jurisdiction: r.Jurisdiction,
				Created: r.Created.UTC(), Updated: r.Updated.UTC(), Fields: r.Fields, Treatment: r.Access.Fields})
		}
		if len(p.Records) > MaxExportRecords {
			return nil, errcode.New(errcode.InvalidRequest, "the subject has more than %d records in region %s; export its collections with 'domicile records' instead", MaxExportRecords, s.name)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if s.ledger != nil {
		cs, err := s.ledger.Consents(ctx, ref)
		if err != nil {
			return nil, err
		}
		p.Consents = append(p.Consents, cs...)
	}
	if l := s.v.Audit(); l != nil {
		if err := s.subjectEntries(ctx, l, ref, own, p); err != nil {
			return nil, err
		}
	}
	priv, err := kr.AuditSigner()
	if err != nil {
		return nil, domainError(err)
	}
	su := kr.Suite()
	env, err := subjects.Sign(p, s.origin(), priv, su.Signature(), su.Hash(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &SubjectPackage{Envelope: *env, Package: p}, nil
}

// subjectEntries adds to p every entry of the integrated log that names
// ref (the export's own entries included) and sets p.AuditSize. It reads
// the whole log: a subject request is rare, and entries are not indexed
// by subject so that an append writes nothing more.
func (s *Service) subjectEntries(ctx context.Context, l *audit.Log, ref []byte, own map[string]bool, p *subjects.Package) error {
	if err := l.Sync(ctx); err != nil {
		return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot be read for the subject's accesses; try again")
	}
	size := l.Size()
	p.AuditSize = size
	f := audit.Filter{Subject: ref}
	for cursor := ""; ; {
		list, next, err := l.List(ctx, f, cursor, audit.MaxListLimit)
		if err != nil {
			return auditError(err)
		}
		for _, e := range list {
			if e.Index < size {
				p.Add(own, e)
			}
		}
		n, _ := strconv.ParseUint(next, 10, 64)
		if next == "" || n >= size {
			return nil
		}
		cursor = next
	}
}
