package app

import (
	"bytes"
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/store"
)

// auditLog lists a region's whole audit log through the API, as an insider
// holding the admin permission would.
func auditLog(t *testing.T, c *client.Client, region string) []client.AuditRecord {
	t.Helper()
	var out []client.AuditRecord
	q := url.Values{"limit": {"1000"}}
	for {
		page, err := c.AuditEntries(context.Background(), region, q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Entries...)
		if page.Next == "" {
			return out
		}
		q.Set("cursor", page.Next)
	}
}

// TestInsiderCannotTellDecoys plays an insider holding every read and
// audit permission (and a copy of the store, without the unseal secret):
// after decoys are seeded among records that a service creates one at a
// time, the obvious distinguishers must not single the decoys out.
func TestInsiderCannotTellDecoys(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	svc := s.principal("svc-onboarding", "admin") // a service that creates customers
	g := seed.New(11)
	create := func() string {
		c := g.Customer("CN")
		out, err := svc.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: c.SubjectID, Jurisdiction: "CN", Fields: c.Fields}}, "")
		if err != nil {
			t.Fatal(err)
		}
		return out.Records[0].ID
	}
	var real []string
	for range 30 {
		real = append(real, create())
		s.clock.Advance(time.Minute)
	}
	before, err := s.admin.Regions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	seeded, err := s.admin.SeedDecoys(ctx, "cn-north", client.SeedDecoysRequest{Count: n, Spread: "2h"})
	if err != nil || seeded.Seeded != n {
		t.Fatalf("seed: %+v, %v", seeded, err)
	}
	// The seeding request itself adds no record: the region's counts do
	// not jump by the number of decoys.
	after, err := s.admin.Regions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sameCounts(before, after) {
		t.Errorf("record counts moved with the seeding request: %+v -> %+v", before.Regions, after.Regions)
	}
	// The service keeps creating, a record a minute, while the decoys are
	// planted among its creates.
	for range 150 {
		real = append(real, create())
		s.clock.Advance(time.Minute)
		if _, err := s.region.Guard.PlantDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if left, err := s.region.Guard.PendingDecoys(ctx); err != nil || left != 0 {
		t.Fatalf("%d decoys still pending after the spread (%v)", left, err)
	}

	// Ground truth, which the insider does not have.
	entries := auditLog(t, s.admin, "cn-north")
	var creates []client.AuditRecord
	decoy := map[string]bool{}
	seedAt := -1
	for i, e := range entries {
		if e.Action == "admin" && strings.Contains(e.Rule, "decoys") {
			seedAt = i
			for _, id := range e.Records {
				t.Errorf("the seeding entry names record %s", id)
			}
		}
		if e.Action == "create" {
			creates = append(creates, e)
			if len(e.Records) == 1 && s.region.Guard.IsDecoy(e.Records[0]) {
				decoy[e.Records[0]] = true
			}
		}
	}
	if len(decoy) != n || seedAt < 0 {
		t.Fatalf("%d decoys planted (want %d), seeding entry at %d", len(decoy), n, seedAt)
	}

	// 1. Every create names a principal, a request id, a location, a rule
	// and the same fields, and the decoys' look like the service's.
	ridShape := regexp.MustCompile(`^[0-9a-f]{24}$`)
	shapes := map[string]bool{}
	for _, e := range creates {
		if !decoy[e.Records[0]] {
			shapes[createShape(e, ridShape)] = true
		}
	}
	for _, e := range creates {
		if e.Principal == "" || e.RequestID == "" || e.Location == "" || e.Rule == "" || len(e.Subjects) != 1 {
			t.Errorf("create entry %d lacks a principal, request id, location, rule or subject: %+v", e.Index, e)
		}
		if decoy[e.Records[0]] && !shapes[createShape(e, ridShape)] {
			t.Errorf("decoy create %d does not look like any real create: %s", e.Index, createShape(e, ridShape))
		}
	}
	// Each request id is used by one request only.
	rids := map[string]int{}
	for _, e := range entries {
		if e.RequestID != "" {
			rids[e.RequestID]++
		}
	}
	for _, e := range creates {
		if rids[e.RequestID] != 1 {
			t.Errorf("request id of create %d is in %d entries", e.Index, rids[e.RequestID])
		}
	}

	// 2. Adjacency: the creates right after the seeding request are not
	// the decoys, nor are the decoys next to each other.
	var next []string
	for _, e := range entries[seedAt+1:] {
		if e.Action == "create" && len(next) < n {
			next = append(next, e.Records[0])
		}
	}
	hits := 0
	for _, id := range next {
		if decoy[id] {
			hits++
		}
	}
	if hits == n {
		t.Errorf("the %d creates after the seeding entry are exactly the decoys", n)
	}
	// 3. Timing: the decoys are created at different times, spread among
	// the service's creates (the store's created times, as read by someone
	// who holds the database).
	var times []time.Time
	for id := range decoy {
		r, err := s.region.Vault.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, r.Created)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	if times[0].Equal(times[len(times)-1]) {
		t.Errorf("every decoy was created at %v", times[0])
	}
	between := 0
	for _, id := range real {
		r, err := s.region.Vault.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Created.After(times[0]) && r.Created.Before(times[len(times)-1]) {
			between++
		}
	}
	if between < n {
		t.Errorf("only %d real records were created between the first and the last decoy", between)
	}

	// 4. The guard's store keys and values name no record: an insider
	// with the database but not the unseal secret learns no decoy id.
	kvs, err := s.region.Store.Scan(ctx, []byte("g/"), store.PrefixEnd([]byte("g/")), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		for id := range decoy {
			if bytes.Contains(kv.Key, []byte(id)) || bytes.Contains(kv.Value, []byte(id)) {
				t.Errorf("guard key %q names decoy %s", kv.Key, id)
			}
		}
	}

	// 5. The log with its decoys still verifies offline, as
	// 'domicile audit verify' checks it.
	su := s.region.Keyring.Suite()
	if _, err := audit.Verify(ctx, audit.StoreReader(s.region.Store, su.Hash()), audit.VerifyOptions{Keys: auditKeys(t, su.Signature(), su.Hash(), s.region.Keyring.AuditPublicKey())}); err != nil {
		t.Fatalf("audit verify: %v", err)
	}

	// The trap still springs, and its alert names the request that
	// sprang it, as does the alert's audit entry.
	curious := s.principal("curious-admin", "admin").ForPurpose("support")
	var trap string
	for id := range decoy {
		trap = id
		break
	}
	if _, err := curious.Get(ctx, trap); client.CodeOf(err) != "principal_locked" {
		t.Fatalf("reading a decoy: %v, want principal_locked", err)
	}
	alerts := s.alerts("curious-admin")
	if len(alerts) == 0 || alerts[0].Rule != "honeytoken" || len(alerts[0].RequestIDs) == 0 {
		t.Fatalf("honeytoken alert without its request: %+v", alerts)
	}
	found := false
	for _, e := range auditLog(t, s.admin, "cn-north") {
		if e.RequestID == alerts[0].RequestIDs[0] && e.Rule == "honeytoken" {
			found = true
		}
	}
	if !found {
		t.Errorf("no alert entry in the log under the alert's request id %s", alerts[0].RequestIDs[0])
	}
}

// createShape is what an insider compares creates by: everything but the
// ids, with the request id reduced to its shape.
func createShape(e client.AuditRecord, rid *regexp.Regexp) string {
	return strings.Join([]string{e.Principal, e.Location, e.Purpose, e.Decision, e.Rule, e.Collection, e.Outcome,
		strings.Join(e.Fields, ","), strings.Join(e.Masked, ","), boolString(rid.MatchString(e.RequestID))}, "|")
}

func boolString(b bool) string {
	if b {
		return "hex24"
	}
	return "other"
}

func sameCounts(a, b *client.RegionsResponse) bool {
	if len(a.Regions) != len(b.Regions) {
		return false
	}
	for i := range a.Regions {
		for k, v := range a.Regions[i].Records {
			if b.Regions[i].Records[k] != v {
				return false
			}
		}
	}
	return true
}

// TestAuditSaysWhatHappened: a mixed detokenization and a masked read are
// logged field by field, each field and record once.
func TestAuditSaysWhatHappened(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	c := seed.New(5).Customer("CN")
	out, err := s.admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: c.SubjectID, Jurisdiction: "CN", Fields: c.Fields}}, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := out.Records[0]
	tok := map[string]string{}
	for _, ft := range rec.Tokens {
		tok[ft.Field] = ft.Token
	}
	agent := s.principal("agent-cn", "support").ForPurpose("support")
	res, err := agent.Detokenize(ctx, []client.DetokenizeItem{{Token: tok["phone"], Region: "cn-north", Collection: "customers", Field: "phone"},
		{Token: tok["email"]}, {Token: tok["national_id"]}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Results[0].Error != nil || res.Results[1].Error == nil || res.Results[2].Error == nil {
		t.Fatalf("detokenize results: %+v", res.Results)
	}
	if _, err := agent.Get(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	var detok, read *client.AuditRecord
	for _, e := range auditLog(t, s.admin, "cn-north") {
		if e.Principal != "agent-cn" {
			continue
		}
		switch e.Action {
		case "detokenize":
			detok = &e
		case "read":
			read = &e
		}
	}
	if detok == nil || read == nil {
		t.Fatal("no detokenize or read entry")
	}
	if !slices.Equal(detok.Records, []string{rec.ID}) {
		t.Errorf("detokenize entry records %v, want the record once", detok.Records)
	}
	if !slices.Equal(detok.Fields, []string{"phone"}) {
		t.Errorf("detokenize entry says fields %v were shown, want [phone]", detok.Fields)
	}
	want := []client.AuditRefusal{{Field: "email", Code: "clear_access_required"}, {Field: "national_id", Code: "permission_denied"}}
	if !slices.Equal(detok.Refused, want) {
		t.Errorf("detokenize entry refused %+v, want %+v", detok.Refused, want)
	}
	if detok.Decision == "allow" {
		t.Errorf("a partly refused detokenization is logged as decision %q", detok.Decision)
	}
	// Support sees name and phone in clear, e-mail, birth date and
	// address masked, never the national id.
	if slices.Contains(read.Fields, "national_id") || slices.Contains(read.Masked, "national_id") {
		t.Errorf("read entry says the national id was shown: %+v", read)
	}
	if !slices.Contains(read.Fields, "phone") || slices.Contains(read.Fields, "email") || !slices.Contains(read.Masked, "email") {
		t.Errorf("read entry fields %v masked %v: clear and masked not told apart", read.Fields, read.Masked)
	}
	for _, f := range read.Fields {
		if slices.Contains(read.Masked, f) {
			t.Errorf("field %s is both clear and masked", f)
		}
	}
}
