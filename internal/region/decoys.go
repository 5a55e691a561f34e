package region

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/vault"
)

// This file plants honeytokens so that an insider holding every read and
// audit permission cannot tell them from real records: each decoy is
// created alone, at a random time within the seeding's spread, by the
// guard's background loop, and recorded in the audit log like a create of
// the service it hides among (that principal, its location, the purpose
// it states, the rule of its creates, a request id of the usual shape).
// The seeding request's own entry names neither the decoys nor their
// number; the guard keeps the decoys only as keyed MACs of their ids.

// planter creates decoys for the guard (guard.Planter).
type planter struct{ s *Service }

// PlantDecoy creates rec as principal would create a record.
func (p planter) PlantDecoy(ctx context.Context, principal, purpose string, rec guard.DecoyRecord) (string, error) {
	s := p.s
	a, err := s.dir.Get(ctx, principal)
	if err != nil {
		return "", domainError(err)
	}
	c := Caller{Account: a, RequestID: newRequestID(), Purpose: purpose}
	d := s.engine.Decide(a.Principal(), s.request(c, target{policy.PermCreate, rec.Collection, rec.Jurisdiction}))
	if !d.Allowed || a.State != access.Active {
		// A create the cover could not make would give the decoy away.
		return "", fmt.Errorf("region: decoy cover %s may no longer create in %s: %s", a.ID, rec.Collection, d.Code)
	}
	out, err := s.v.Create(ctx, []vault.NewRecord{{Collection: rec.Collection, Subject: rec.Subject, Jurisdiction: rec.Jurisdiction, Fields: rec.Fields}},
		vault.CreateOptions{Actor: vault.Actor{RequestID: c.RequestID, Principal: a.ID, Location: a.Location, Purpose: purpose, Rule: d.Rule}})
	if err != nil {
		return "", err
	}
	return out[0].ID, nil
}

// newRequestID returns a request id of the shape the API gives requests
// that bring none (24 hex digits).
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// coverScan is how many of the latest audit entries SeedDecoys reads to
// find the service whose creates the decoys hide among.
const coverScan = 5000

// latestCreator returns the principal and purpose of the latest create in
// the last coverScan entries of the log that principal (any, when empty)
// made; "" when there is none.
func (s *Service) latestCreator(ctx context.Context, principal string) (string, string, error) {
	log := s.v.Audit()
	if log == nil {
		return "", "", nil
	}
	cursor := ""
	if n := log.Size(); n > coverScan {
		cursor = strconv.FormatUint(n-coverScan, 10)
	}
	who, why := "", ""
	for {
		list, next, err := log.List(ctx, audit.Filter{Action: entry.Create, Principal: principal}, cursor, 1000)
		if err != nil {
			return "", "", auditError(err)
		}
		for _, e := range list {
			if e.Principal != "" && e.Outcome == entry.OK {
				who, why = e.Principal, e.Purpose
			}
		}
		if next == "" {
			return who, why, nil
		}
		cursor = next
	}
}
