package region_test

import (
	"context"
	"crypto"
	"encoding/json"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/transfer"
)

// TestTransferReport: the report is an audited admin request, its year is
// checked, and it verifies with the region's audit keys.
func TestTransferReport(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	kr := e.r.Keyring
	su := kr.Suite()

	admin := e.caller("admin-cn", "CN", "support", "admin")
	sr, err := e.s.TransferReport(ctx, admin, "cn-north", 0)
	if err != nil {
		t.Fatal(err)
	}
	this := time.Now().In(e.r.Vault.Region().TimeZone).Year()
	if sr.Report.Year != this || sr.Report.Region != "cn-north" || sr.Algorithm != su.Signature().ID() {
		t.Fatalf("report of %s for %d signed with %s; want cn-north, %d, %s", sr.Report.Region, sr.Report.Year, sr.Algorithm, this, su.Signature().ID())
	}
	if n := len(e.audited(admin.RequestID)); n != 1 {
		t.Errorf("the report request left %d audit entries, want 1", n)
	} else if en := e.audited(admin.RequestID)[0]; en.Action != entry.Admin || en.Decision != "allow" {
		t.Errorf("the report request's entry %+v, want an allowed admin entry", en)
	}
	hist, err := kr.AuditKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []crypto.PublicKey
	for _, k := range hist {
		keys = append(keys, k.Public)
	}
	r, err := transfer.VerifyReport(&sr.Signed, e.r.Audit.Origin(), keys, su.Signature(), su.Hash())
	if err != nil {
		t.Fatalf("the report does not verify with the region's audit keys: %v", err)
	}
	want, _ := json.Marshal(sr.Report)
	if got, _ := json.Marshal(r); string(got) != string(want) {
		t.Errorf("verified payload %s, want the report %s", got, want)
	}
	if r.Individuals != (transfer.Individuals{}) || len(r.Transfers) != 0 || r.Required != "exempt" || len(r.Mechanisms) != 1 {
		t.Errorf("report of an empty ledger %+v", r)
	}

	for _, c := range []struct {
		name   string
		region string
		year   int
		roles  []string
		code   errcode.Code
	}{
		{"before 2000", "cn-north", 1999, []string{"admin"}, errcode.InvalidRequest},
		{"after next year", "cn-north", this + 2, []string{"admin"}, errcode.InvalidRequest},
		{"another region", "eu-central", 0, []string{"admin"}, errcode.UnknownRegion},
		{"not admin", "cn-north", 0, []string{"support"}, errcode.PermissionDenied},
	} {
		if _, err := e.s.TransferReport(ctx, e.caller("admin-cn", "CN", "support", c.roles...), c.region, c.year); errcode.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := e.s.TransferReport(ctx, admin, "cn-north", this+1); err != nil {
		t.Errorf("next year's report: %v", err)
	}
}
