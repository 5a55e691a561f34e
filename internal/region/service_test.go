package region_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/region"
)

// logBuffer collects a region's log lines as JSON objects.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines with msg for request id.
func (b *logBuffer) lines(t testing.TB, msg, requestID string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg && m["request_id"] == requestID {
			out = append(out, m)
		}
	}
	return out
}

// env is cn-north (strict, suite cn) of the example policy, opened the way
// a node opens it, with its log captured.
type env struct {
	t    testing.TB
	r    *app.Region
	s    *region.Service
	logs *logBuffer
	n    int
}

func newEnv(t testing.TB) *env {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	r, err := app.OpenRegion(context.Background(), app.RegionConfig{Policy: pol, Name: "cn-north",
		Dir: filepath.Join(t.TempDir(), "cn-north"), Secret: []byte("region test"),
		KDF:    keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1},
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}) // per-request lines are debug
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	for _, id := range []string{"admin-cn", "support-us", "clerk"} {
		if _, err := r.Directory.Ensure(context.Background(), access.Account{ID: id, Kind: "person", Roles: []string{"support"}, Location: "CN"}, access.NewToken()); err != nil {
			t.Fatal(err)
		}
	}
	return &env{t: t, r: r, s: r.Service, logs: logs}
}

// caller returns a caller with a fresh request id.
func (e *env) caller(id, location, purpose string, roles ...string) region.Caller {
	e.n++
	return region.Caller{Account: &access.Account{ID: id, Kind: "person", Roles: roles, Location: location, State: access.Active},
		RequestID: fmt.Sprintf("req-%d", e.n), Purpose: purpose, Route: "test"}
}

var customer = map[string]string{"name": "王伟", "email": "wang.wei@example.com", "phone": "+86 138 0013 8000",
	"national_id": "11010519491231002X", "date_of_birth": "1990-01-02"}

func (e *env) create(c region.Caller, subject string, n int) []string {
	e.t.Helper()
	recs := make([]region.NewRecord, n)
	for i := range recs {
		recs[i] = region.NewRecord{Collection: "customers", Subject: subject, Jurisdiction: "CN", Fields: customer}
	}
	out, err := e.s.Create(context.Background(), c, recs, "")
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]string, len(out.Records))
	for i, r := range out.Records {
		ids[i] = r.ID
	}
	return ids
}

// audited returns the audit entries of request id.
func (e *env) audited(requestID string) []entry.Entry {
	e.t.Helper()
	ctx := context.Background()
	if err := e.r.Audit.Sync(ctx); err != nil {
		e.t.Fatal(err)
	}
	var out []entry.Entry
	cursor := ""
	for {
		list, next, err := e.r.Audit.List(ctx, audit.Filter{}, cursor, 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, en := range list {
			if en.RequestID == requestID {
				out = append(out, en)
			}
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

// storeKeys returns every key of the region's store.
func (e *env) storeKeys() [][]byte {
	e.t.Helper()
	kvs, err := e.r.Store.Scan(context.Background(), nil, nil, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	keys := make([][]byte, len(kvs))
	for i, kv := range kvs {
		keys[i] = kv.Key
	}
	return keys
}

// A create whose request gets the guard to lock its principal writes
// nothing: no record, no index, no token entry, no key, and answers the
// lock's code.
func TestCreateLockedByGuardWritesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.caller("admin-cn", "CN", "support", "admin")
	e.create(admin, "cust-many", 120)
	// 120 records of 5 clear fields: 600 clear values this hour, over
	// support-clear-budget's 500 (a rule for the support role only).
	if _, err := e.s.ListSubject(ctx, e.caller("admin-cn", "CN", "support", "admin"), "cust-many", "", 1000); err != nil {
		t.Fatal(err)
	}
	if err := e.r.Guard.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := e.storeKeys()
	beforeStats, err := e.r.Vault.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The same principal, now also holding the support role, creates: the
	// rule applies, the guard locks it on this request.
	c := e.caller("admin-cn", "CN", "support", "admin", "support")
	_, err = e.s.Create(ctx, c, []region.NewRecord{{Collection: "customers", Subject: "cust-new", Jurisdiction: "CN",
		Fields: customer}}, "")
	if got := errcode.CodeOf(err); got != errcode.PrincipalLocked {
		t.Fatalf("create: got %v (code %q), want principal_locked", err, got)
	}
	after := e.storeKeys()
	var added [][]byte
	for _, k := range after {
		if !slices.ContainsFunc(before, func(b []byte) bool { return bytes.Equal(b, k) }) {
			added = append(added, k)
		}
	}
	// The guard keeps its own state (windows, alerts, the lock) in the
	// region's store and logs the lock (a/, checked below); the vault, its
	// indexes, tokens and keys must not move.
	for _, k := range added {
		switch {
		case bytes.HasPrefix(k, []byte("g/")), bytes.HasPrefix(k, []byte("p/")), bytes.HasPrefix(k, []byte("a/")):
		default:
			t.Errorf("locked create wrote key %q", k)
		}
	}
	afterStats, err := e.r.Vault.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if afterStats.Records["customers"] != beforeStats.Records["customers"] {
		t.Errorf("records: %d before, %d after", beforeStats.Records["customers"], afterStats.Records["customers"])
	}
	for _, en := range e.audited(c.RequestID) {
		if en.Action == entry.Create {
			t.Errorf("locked create has an audit entry for a create: %+v", en)
		}
	}
}

// A denied read decrypts nothing; a masked read decrypts only the fields
// the decision shows (the subject id and the masked fields, never a field
// the role may not see).
func TestReadDecryptsOnlyWhatTheDecisionShows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create(e.caller("admin-cn", "CN", "support", "admin"), "cust-1", 1)[0]

	before := e.r.Vault.Decrypted()
	_, err := e.s.Get(ctx, e.caller("clerk", "CN", "support"), id)
	if err == nil {
		t.Fatal("a principal without roles read a record")
	}
	if got := e.r.Vault.Decrypted() - before; got != 0 {
		t.Errorf("denied read decrypted %d values, want 0", got)
	}

	before = e.r.Vault.Decrypted()
	rec, err := e.s.Get(ctx, e.caller("support-us", "US", "support", "support"), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Access.Rule != "abroad-masked" {
		t.Fatalf("rule %q, want abroad-masked", rec.Access.Rule)
	}
	if _, ok := rec.Fields["national_id"]; ok {
		t.Error("support sees the national id")
	}
	// The subject id plus each field shown: national_id is neither shown
	// nor decrypted.
	want := uint64(1 + len(rec.Fields))
	if got := e.r.Vault.Decrypted() - before; got != want || len(rec.Fields) != len(customer)-1 {
		t.Errorf("masked read decrypted %d values for %d fields shown, want %d", got, len(rec.Fields), want)
	}
	for name, v := range rec.Fields {
		if v == customer[name] && name != "name" && name != "phone" {
			t.Errorf("field %s shown in clear abroad", name)
		}
	}

	before = e.r.Vault.Decrypted()
	page, err := e.s.ListSubject(ctx, e.caller("clerk", "CN", "support"), "cust-1", "", 0)
	if err == nil && len(page.Records) > 0 {
		t.Fatalf("a principal without roles listed %d records", len(page.Records))
	}
	if got := e.r.Vault.Decrypted() - before; got != 0 {
		t.Errorf("denied listing decrypted %d values, want 0", got)
	}
}

// Every kind of request goes through the one path: exactly one access
// decision (one "access" log line) and the audit entries of its kind.
func TestEveryRequestKindDecidesOnceAndIsAudited(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := func() region.Caller { return e.caller("admin-cn", "CN", "support", "admin") }
	ids := e.create(admin(), "cust-1", 3)
	tok, err := e.s.Tokenize(ctx, admin(), []region.TokenizeItem{{Collection: "customers", Field: "email", Value: "a@example.com", Jurisdiction: "CN"}})
	if err != nil || tok[0].Err != nil {
		t.Fatalf("tokenize: %v %v", err, tok[0].Err)
	}
	if _, err := e.r.Directory.Ensure(ctx, access.Account{ID: "agent-1", Kind: "person", Roles: []string{"support"}, Location: "CN"}, access.NewToken()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func(c region.Caller) error
		// audit are the actions of the request's entries, in order.
		audit []entry.Action
	}{
		{"create", func(c region.Caller) error {
			_, err := e.s.Create(ctx, c, []region.NewRecord{{Collection: "customers", Subject: "cust-2", Jurisdiction: "CN", Fields: customer}}, "")
			return err
		}, []entry.Action{entry.Create}},
		{"get", func(c region.Caller) error { _, err := e.s.Get(ctx, c, ids[0]); return err }, []entry.Action{entry.Read}},
		{"patch", func(c region.Caller) error {
			_, err := e.s.Patch(ctx, c, ids[0], map[string]string{"name": "王芳"}, nil)
			return err
		}, []entry.Action{entry.Patch}},
		{"delete", func(c region.Caller) error { return e.s.Delete(ctx, c, ids[1]) }, []entry.Action{entry.Delete}},
		{"list", func(c region.Caller) error { _, err := e.s.ListSubject(ctx, c, "cust-1", "", 0); return err }, []entry.Action{entry.Read}},
		{"search", func(c region.Caller) error {
			_, err := e.s.Search(ctx, c, region.Search{Collection: "customers", Field: "email", Value: customer["email"]})
			return err
		}, []entry.Action{entry.Search}},
		{"tokenize", func(c region.Caller) error {
			_, err := e.s.Tokenize(ctx, c, []region.TokenizeItem{{Collection: "customers", Field: "email", Value: "b@example.com", Jurisdiction: "CN"}})
			return err
		}, []entry.Action{entry.Tokenize}},
		{"detokenize", func(c region.Caller) error {
			_, err := e.s.Detokenize(ctx, c, []region.DetokenizeItem{{Token: tok[0].Token}})
			return err
		}, []entry.Action{entry.Detokenize}},
		{"erase", func(c region.Caller) error { _, err := e.s.EraseSubject(ctx, c, "cust-2"); return err }, []entry.Action{entry.Erase}},
		{"rotate", func(c region.Caller) error { _, err := e.s.Rotate(ctx, c, "cn-north", "data"); return err }, []entry.Action{entry.Admin, entry.Key}},
		{"keys", func(c region.Caller) error { _, err := e.s.Keys(ctx, c, "cn-north"); return err }, []entry.Action{entry.Admin}},
		{"principal/create", func(c region.Caller) error {
			_, _, err := e.s.CreatePrincipal(ctx, c, region.NewPrincipal{Account: access.Account{ID: "agent-2", Kind: "person", Roles: []string{"support"}, Location: "CN"}})
			return err
		}, []entry.Action{entry.Admin}},
		{"principal/list", func(c region.Caller) error { _, err := e.s.Principals(ctx, c, access.Filter{}); return err }, []entry.Action{entry.Admin}},
		{"principal/disable", func(c region.Caller) error {
			_, err := e.s.SetPrincipalState(ctx, c, "agent-1", access.Disabled)
			return err
		}, []entry.Action{entry.Admin}},
		{"principal/unlock", func(c region.Caller) error { _, err := e.s.Unlock(ctx, c, "agent-1"); return err }, []entry.Action{entry.Admin}},
		{"principal/rotate-token", func(c region.Caller) error {
			_, _, err := e.s.RotatePrincipalToken(ctx, c, "agent-1", "", "")
			return err
		}, []entry.Action{entry.Admin}},
		{"alerts", func(c region.Caller) error { _, _, err := e.s.Alerts(ctx, c, region.AlertFilter{}, "", 0); return err }, []entry.Action{entry.Admin}},
		{"decoys", func(c region.Caller) error {
			_, err := e.s.SeedDecoys(ctx, c, region.Decoys{Region: "cn-north", Count: 2})
			return err
		}, []entry.Action{entry.Admin}},
		{"audit/checkpoint", func(c region.Caller) error { _, err := e.s.Checkpoint(ctx, c, "cn-north"); return err }, []entry.Action{entry.Admin}},
		// A denial is one decision too, recorded as denied.
		{"denied/get", func(c region.Caller) error {
			c.Account.Roles = nil // no role grants read
			if _, err := e.s.Get(ctx, c, ids[2]); errcode.CodeOf(err) != errcode.PermissionDenied {
				return fmt.Errorf("read without a role: %v, want permission_denied", err)
			}
			return nil
		}, []entry.Action{entry.Read}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := admin()
			if err := tt.do(c); err != nil {
				t.Fatal(err)
			}
			if got := len(e.logs.lines(t, "access", c.RequestID)); got != 1 {
				t.Errorf("%d access decisions, want 1", got)
			}
			var got []entry.Action
			for _, en := range e.audited(c.RequestID) {
				got = append(got, en.Action)
				if en.Principal != c.Account.ID {
					t.Errorf("entry %d names principal %q, want %q", en.Index, en.Principal, c.Account.ID)
				}
			}
			if !slices.Equal(got, tt.audit) {
				t.Errorf("audit actions %v, want %v", got, tt.audit)
			}
		})
	}
}

// A patch answers with the record as a read would show it, so the guard
// counts the values it shows in clear as it counts a read's; an empty patch
// is refused.
func TestPatchCountsWhatItShows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := func() region.Caller { return e.caller("admin-cn", "CN", "support", "admin") }
	id := e.create(admin(), "cust-p", 1)[0]
	before := e.s.Usage("admin-cn")["clear_fields/hour"]
	rec, err := e.s.Patch(ctx, admin(), id, map[string]string{"name": "王芳"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shown := region.ClearCount(*rec)
	if got := e.s.Usage("admin-cn")["clear_fields/hour"] - before; shown == 0 || got != float64(shown) {
		t.Errorf("a patch showing %d values in clear counted %v", shown, got)
	}
	if _, err := e.s.Patch(ctx, admin(), id, nil, nil); errcode.CodeOf(err) != errcode.InvalidRequest {
		t.Errorf("empty patch: %v, want invalid_request", err)
	}
}
