package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseGuardExample(t *testing.T) {
	p, err := Load("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g := p.Guard
	if g.Line == 0 || !g.HoneytokenLock || g.MaxDelay != 5*time.Second || g.Weight != 0.25 {
		t.Errorf("guard = %+v", g)
	}
	if diff := cmp.Diff(map[string]float64{"records": 20, "reads": 30, "clear_fields": 60, "searches": 20, "probes": 20}, g.Floor); diff != "" {
		t.Errorf("floor (-want +got):\n%s", diff)
	}
	want := []GuardRule{
		{Name: "bulk-read", Signal: SignalRecords, Window: WindowMinute, Max: 300, Response: ResponseLock, Severity: SeverityHigh},
		{Name: "support-clear-budget", Signal: SignalClearFields, Window: WindowHour, Max: 500, Roles: []string{"support"}, Response: ResponseLock, Severity: SeverityHigh},
		{Name: "unusual-hour", Signal: SignalRecords, Window: WindowHour, Baseline: 4, Min: 60, Response: ResponseAlert, Severity: SeverityMedium},
		{Name: "unusual-day", Signal: SignalRecords, Window: WindowDay, Baseline: 3, Min: 300, Response: ResponseAlert, Severity: SeverityHigh},
		{Name: "search-enumeration", Signal: SignalProbes, Window: WindowHour, Max: 200, Baseline: 5, Min: 50, Response: ResponseSlow, Delay: 2 * time.Second, Severity: SeverityHigh},
		{Name: "denied-burst", Signal: SignalDenials, Window: WindowMinute, Max: 30, Response: ResponseAlert, Severity: SeverityMedium},
	}
	if diff := cmp.Diff(want, g.Rules, cmpopts.IgnoreFields(GuardRule{}, "Line")); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if !g.Rules[1].Applies([]string{"analytics", "support"}) || g.Rules[1].Applies([]string{"admin"}) || !g.Rules[0].Applies(nil) {
		t.Error("Applies")
	}
}

func TestParseGuardDefaults(t *testing.T) {
	for _, tt := range []struct{ name, src string }{
		{"ok/absent", "version: 1\nregions: [{name: global, suite: intl, jurisdictions: [\"*\"]}]\n"},
		{"ok/empty", "version: 1\nregions: [{name: global, suite: intl, jurisdictions: [\"*\"]}]\nguard: {}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			g := p.Guard
			if len(g.Rules) != 0 || g.HoneytokenLock || g.MaxDelay != DefaultGuardMaxDelay || g.Weight != DefaultBaselineWeight || g.Floor == nil {
				t.Errorf("guard = %+v", g)
			}
		})
	}
	p, err := Parse("p.yaml", []byte("version: 1\nregions: [{name: global, suite: intl, jurisdictions: [\"*\"]}]\n"+
		"guard: {rules: [{name: s, signal: errors, window: minute, max: 5, response: slow}], webhooks: [{url: \"https://h.example/x\"}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Guard.Rules[0]; r.Delay != DefaultGuardDelay || r.Severity != SeverityMedium {
		t.Errorf("rule = %+v", r)
	}
	if w := p.Guard.Webhooks; len(w) != 1 || w[0].Retries != DefaultWebhookRetries {
		t.Errorf("webhooks = %+v", w)
	}
}
