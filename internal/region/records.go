package region

import (
	"context"
	"slices"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/vault"
)

// Record is a record as the caller may see it: only the fields its access
// decision reveals, masked as the decision says, with the decision.
type Record struct {
	ID, Collection, Subject, Jurisdiction, Region string
	Created, Updated                              time.Time
	Fields                                        map[string]string
	Access                                        Access
	subjectRef                                    []byte
	// transfers are the fields shown in clear that leave the region for
	// a principal abroad, each with the transfer rule that lets it.
	transfers map[string]string
}

// Access is the decision that shaped a record, without values.
type Access struct {
	// Rule is what governed the read: the transfer rules applied,
	// "abroad-masked", "in-region", "standard", or "denied".
	Rule     string
	Transfer bool
	Roles    []string
	// Fields is the treatment of each field returned: clear or masked.
	Fields  map[string]string
	Reasons []string
}

// ClearCount is the number of fields of recs returned in clear.
func ClearCount(recs ...Record) int {
	n := 0
	for i := range recs {
		for _, t := range recs[i].Access.Fields {
			if t == string(policy.AccessClear) {
				n++
			}
		}
	}
	return n
}

// reveal decrypts of s only what d shows (nothing when d denies) and masks
// it: masking happens here, in the region, before anything leaves it. A
// field that would leave for c abroad under a transfer rule resting on
// consent leaves in clear only with the subject's live consent.
func (s *Service) reveal(ctx context.Context, c Caller, sealed *vault.Sealed, d access.Decision) (Record, error) {
	d, err := s.withConsent(ctx, c, sealed.SubjectRef, sealed.Collection, d)
	if err != nil {
		return Record{}, err
	}
	out := Record{ID: sealed.ID, Collection: sealed.Collection, Jurisdiction: sealed.Jurisdiction, Region: sealed.Region,
		Created: sealed.Created, Updated: sealed.Updated, Fields: map[string]string{}, subjectRef: sealed.SubjectRef,
		Access: Access{Rule: d.Rule, Transfer: d.Transfer, Roles: d.Roles, Fields: map[string]string{}, Reasons: d.Reasons}}
	if !d.Allowed {
		out.Access.Rule = "denied"
		return out, nil
	}
	rec, err := s.v.Open(ctx, sealed, func(field string) bool {
		t, ok := d.Fields[field]
		return ok && t.Kind != policy.AccessNone
	})
	if err != nil {
		return Record{}, err
	}
	out.Subject = rec.Subject
	out.Fields = s.masker.Filter(d, rec.Fields)
	for name := range out.Fields {
		t := d.Fields[name]
		out.Access.Fields[name] = t.String()
		if t.Transfer != "" && t.Kind == policy.AccessClear {
			if out.transfers == nil {
				out.transfers = map[string]string{}
			}
			out.transfers[name] = t.Transfer
		}
	}
	return out, nil
}

// NewRecord is a record to create.
type NewRecord struct {
	Collection, Subject, Jurisdiction string
	Fields                            map[string]string
}

// Created is the outcome of a Create.
type Created struct {
	Records []vault.Created
	// Replayed is true when an idempotency key matched an earlier request
	// and this is that request's outcome.
	Replayed bool
}

// Create stores recs atomically, all of them or none. The guard sees the
// request after the batch is validated and built and before it commits:
// a create whose principal it locks writes nothing.
func (s *Service) Create(ctx context.Context, c Caller, recs []NewRecord, idempotencyKey string) (*Created, error) {
	if len(idempotencyKey) > 255 {
		return nil, errcode.New(errcode.InvalidRequest, "Idempotency-Key is longer than 255 bytes")
	}
	if len(recs) == 0 {
		return nil, errcode.New(errcode.TooManyRecords, "no records to create")
	}
	targets := make([]target, len(recs))
	for i, nr := range recs {
		targets[i] = target{policy.PermCreate, nr.Collection, nr.Jurisdiction}
	}
	d, err := s.decide(ctx, c, targets[0], targets[1:]...)
	if err != nil {
		return nil, err
	}
	vr := make([]vault.NewRecord, len(recs))
	rule := ""
	for i, nr := range recs {
		dd := d.of(targets[i])
		if !dd.Allowed {
			return nil, s.refuse(ctx, c, targets[i], dd)
		}
		rule = dd.Rule
		vr[i] = vault.NewRecord{Collection: nr.Collection, Subject: nr.Subject, Jurisdiction: nr.Jurisdiction, Fields: nr.Fields}
	}
	out, err := s.v.Create(ctx, vr, vault.CreateOptions{IdempotencyKey: idempotencyKey, Scope: c.Account.ID,
		Actor: s.writer(c, rule, guard.Event{Action: guard.ActionWrite})})
	if err != nil {
		return nil, err
	}
	res := &Created{Records: out}
	for _, r := range out {
		res.Replayed = res.Replayed || r.Replayed
	}
	return res, nil
}

// Get returns record id as the caller may see it. The record is read
// without decrypting anything, the read decided, and only the fields the
// decision shows are decrypted.
func (s *Service) Get(ctx context.Context, c Caller, id string) (*Record, error) {
	sealed, err := s.v.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	d, err := s.decide(ctx, c, target{policy.PermRead, sealed.Collection, sealed.Jurisdiction})
	if err != nil {
		return nil, err
	}
	out, err := s.reveal(ctx, c, sealed, d.Decision)
	if err != nil {
		return nil, err
	}
	tr := s.transferOf(c, []Record{out})
	plan, err := s.checkTransfer(ctx, c, tr)
	if err != nil {
		return nil, err
	}
	if err := s.observe(ctx, c, guard.Event{Action: guard.ActionRead, RecordIDs: []string{id}, ClearFields: ClearCount(out)}); err != nil {
		return nil, err
	}
	if err := s.recordTransfer(ctx, c, tr, plan, readEntry(entry.Read, out.Collection, out.Access.Rule, []Record{out})); err != nil {
		return nil, err
	}
	return &out, nil
}

// Patch sets and removes fields of record id and returns it as the caller
// may see it. The guard sees the patch before it commits.
func (s *Service) Patch(ctx context.Context, c Caller, id string, set map[string]string, remove []string) (*Record, error) {
	if len(set) == 0 && len(remove) == 0 {
		return nil, errcode.New(errcode.InvalidRequest, "nothing to change: give fields to set or to remove")
	}
	cur, err := s.v.Load(ctx, id) // no need to decrypt to decide
	if err != nil {
		return nil, err
	}
	// The answer shows what a read would show: the read decision of the
	// record is made in the same step, and the guard counts the values it
	// will show in clear, as for a read.
	read := target{policy.PermRead, cur.Collection, cur.Jurisdiction}
	d, err := s.decide(ctx, c, target{policy.PermUpdate, cur.Collection, cur.Jurisdiction}, read)
	if err != nil {
		return nil, err
	}
	ev := guard.Event{Action: guard.ActionWrite, RecordIDs: []string{id}, ClearFields: clearAfterPatch(d.of(read), cur.Fields, set, remove)}
	sealed, err := s.v.Patch(ctx, id, set, remove, s.writer(c, d.Rule, ev))
	if err != nil {
		return nil, err
	}
	out, err := s.reveal(ctx, c, sealed, d.of(read))
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// clearAfterPatch is how many fields the record will show in clear under d
// once set and remove are applied to a record holding fields.
func clearAfterPatch(d access.Decision, fields []string, set map[string]string, remove []string) int {
	if !d.Allowed {
		return 0
	}
	n := 0
	has := func(f string) bool {
		if _, ok := set[f]; ok {
			return true
		}
		return slices.Contains(fields, f) && !slices.Contains(remove, f)
	}
	for f, t := range d.Fields {
		if t.Kind == policy.AccessClear && has(f) {
			n++
		}
	}
	return n
}

// Delete deletes record id. The guard sees the delete before it commits.
func (s *Service) Delete(ctx context.Context, c Caller, id string) error {
	cur, err := s.v.Load(ctx, id)
	if err != nil {
		return err
	}
	d, err := s.decide(ctx, c, target{policy.PermDelete, cur.Collection, cur.Jurisdiction})
	if err != nil {
		return err
	}
	return s.v.Delete(ctx, id, s.writer(c, d.Rule, guard.Event{Action: guard.ActionWrite, RecordIDs: []string{id}}))
}

// EraseSubject erases every record of subject in the region and destroys
// its key (crypto-shredding). It returns the number of records erased.
func (s *Service) EraseSubject(ctx context.Context, c Caller, subject string) (int, error) {
	d, err := s.decide(ctx, c, target{action: policy.PermErase})
	if err != nil {
		return 0, err
	}
	n, err := s.v.EraseSubject(ctx, subject, s.writer(c, d.Rule, guard.Event{Action: guard.ActionWrite}))
	if err != nil || s.ledger == nil {
		return n, err
	}
	// Its consents go with it: nothing of the subject is left to transfer.
	if _, err := s.ledger.EraseConsents(ctx, s.v.Keyring().SubjectRef(subject)); err != nil {
		return n, err
	}
	return n, nil
}

// Page is a page of records as the caller may see them.
type Page struct {
	Records []Record
	// Next is the cursor of the next page, "" on the last one.
	Next string
}

// ListSubject returns a page of subject's records in the region.
func (s *Service) ListSubject(ctx context.Context, c Caller, subject, cursor string, limit int) (*Page, error) {
	return s.listSubject(ctx, c, subject, cursor, limit, entry.Read)
}

// listSubject is ListSubject, audited as action (a read, or a subject
// package's export).
func (s *Service) listSubject(ctx context.Context, c Caller, subject, cursor string, limit int, action entry.Action) (*Page, error) {
	p, err := s.v.ListBySubject(ctx, subject, cursor, limit)
	if err != nil {
		return nil, err
	}
	d, err := s.decide(ctx, c, target{action: policy.PermRead}, readTargets(p)...)
	if err != nil {
		return nil, err
	}
	out, err := s.revealPage(ctx, c, p, d)
	if err != nil {
		return nil, err
	}
	tr := s.transferOf(c, out.Records)
	plan, err := s.checkTransfer(ctx, c, tr)
	if err != nil {
		return nil, err
	}
	if err := s.observe(ctx, c, guard.Event{Action: guard.ActionRead, RecordIDs: out.ids(), ClearFields: ClearCount(out.Records...)}); err != nil {
		return nil, err
	}
	if err := s.recordTransfer(ctx, c, tr, plan, readEntry(action, "", "", out.Records)); err != nil {
		return nil, err
	}
	return out, nil
}

// Search is an equality search on an indexed field.
type Search struct {
	Collection, Field, Value, Jurisdiction, Cursor string
	Limit                                          int
}

// Search returns a page of the records of q.Collection whose q.Field
// equals q.Value after normalisation, through the blind index.
func (s *Service) Search(ctx context.Context, c Caller, q Search) (*Page, error) {
	p, err := s.v.Find(ctx, q.Collection, q.Field, q.Value, q.Jurisdiction, q.Cursor, q.Limit)
	if err != nil {
		return nil, err
	}
	d, err := s.decide(ctx, c, target{policy.PermSearch, q.Collection, q.Jurisdiction}, readTargets(p)...)
	if err != nil {
		return nil, err
	}
	out, err := s.revealPage(ctx, c, p, d)
	if err != nil {
		return nil, err
	}
	tr := s.transferOf(c, out.Records)
	plan, err := s.checkTransfer(ctx, c, tr)
	if err != nil {
		return nil, err
	}
	if err := s.observe(ctx, c, guard.Event{Action: guard.ActionSearch, RecordIDs: out.ids(), ClearFields: ClearCount(out.Records...),
		SearchProbe: s.probe(q)}); err != nil {
		return nil, err
	}
	// The field searched by is in the rule: Fields are what was shown.
	se := readEntry(entry.Search, q.Collection, "by:"+q.Field, out.Records)
	if err := s.recordTransfer(ctx, c, tr, plan, se); err != nil {
		return nil, err
	}
	return out, nil
}

// readTargets lists the read decisions a page of records needs.
func readTargets(p *vault.Page) []target {
	out := make([]target, len(p.Records))
	for i, r := range p.Records {
		out[i] = target{policy.PermRead, r.Collection, r.Jurisdiction}
	}
	return out
}

// revealPage reveals each record of p as the read decision of its
// collection and jurisdiction allows.
func (s *Service) revealPage(ctx context.Context, c Caller, p *vault.Page, d *decision) (*Page, error) {
	out := &Page{Records: make([]Record, len(p.Records)), Next: p.Next}
	for i, sealed := range p.Records {
		r, err := s.reveal(ctx, c, sealed, d.of(target{policy.PermRead, sealed.Collection, sealed.Jurisdiction}))
		if err != nil {
			return nil, err
		}
		out.Records[i] = r
	}
	return out, nil
}

func (p *Page) ids() []string {
	ids := make([]string, len(p.Records))
	for i := range p.Records {
		ids[i] = p.Records[i].ID
	}
	return ids
}

// probe is the guard's keyed digest of a searched value, normalised so
// that the same value in another spelling counts once.
func (s *Service) probe(q Search) []byte {
	if s.guard == nil {
		return nil
	}
	norm, err := s.v.Normalize(q.Collection, q.Field, q.Value, q.Jurisdiction)
	if err != nil {
		norm = q.Value
	}
	return s.guard.Probe(q.Collection, q.Field, norm)
}
