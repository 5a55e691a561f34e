package vault

import (
	"context"
	"errors"
	"slices"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/store"
)

// Actor is who a write is done for, as the audit log records it: ids,
// codes and names only, never a value.
type Actor struct {
	RequestID string
	Principal string
	Location  string
	Purpose   string
	Rule      string
	// Gate, when set, is called once the write is validated and built and
	// right before it commits; an error aborts the write, nothing is
	// stored, and the error is returned as it is. The region service
	// passes the breach detector here, so that a request that gets its
	// principal locked writes nothing. It may be called again when a
	// write is retried after losing a race.
	Gate func(ctx context.Context) error
}

// entry returns the audit entry of a write by the actor.
func (a Actor) entry(action entry.Action, collection string, records, fields []string, subjects ...[]byte) entry.Entry {
	e := entry.Entry{RequestID: a.RequestID, Principal: a.Principal, Location: a.Location, Purpose: a.Purpose,
		Rule: a.Rule, Decision: "allow", Action: action, Collection: collection, Records: records, Fields: fields, Outcome: entry.OK}
	for _, s := range subjects {
		e.Subjects = append(e.Subjects, entry.SubjectMAC(s))
	}
	return e
}

// apply commits b with its audit entries, in the same durable batch: the
// write happens with its record in the log or not at all (fail closed).
func (v *Vault) apply(ctx context.Context, who Actor, b *store.Batch, entries ...entry.Entry) error {
	if who.Gate != nil {
		if err := who.Gate(ctx); err != nil {
			return err
		}
	}
	if v.audit == nil || len(entries) == 0 {
		return v.st.Apply(ctx, b)
	}
	err := v.audit.Apply(ctx, b, entries...)
	if errors.Is(err, audit.ErrNotRecorded) {
		return &Error{Code: CodeAuditUnavailable, Msg: "the audit log cannot record the write; nothing was changed", Index: -1, Err: err}
	}
	return err
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
