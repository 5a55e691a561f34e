package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/domicile/domicile/client"
)

// lockedBuffer is a log sink several goroutines write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// scrape returns the exposition text of base's /metrics and its parse.
func scrape(t *testing.T, base string) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s, %v", resp.Status, err)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, b)
	}
	return string(b), fams
}

// sumWhere sums the values of family name's series whose labels include
// want, and returns the label sets it summed.
func sumWhere(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, []map[string]string) {
	var sum float64
	var sets []map[string]string
	f := fams[name]
	if f == nil {
		return 0, nil
	}
next:
	for _, m := range f.Metric {
		ls := map[string]string{}
		for _, l := range m.Label {
			ls[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if ls[k] != v {
				continue next
			}
		}
		sets = append(sets, ls)
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, sets
}

// TestDevMetrics runs a dev vault, sends it some traffic and reads its
// /metrics: a request is counted exactly once across the gateway and the
// regions, at the gateway, under its route's name and its region; no
// label holds a record id, a subject, a value or a token; the state and
// store series are there; the exposition passes `promtool check metrics`;
// and the log has one access line per request at info, with no personal
// data at any level.
func TestDevMetrics(t *testing.T) {
	ctx := context.Background()
	var logs lockedBuffer
	d, err := StartDev(ctx, DevConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Policy: examplePolicy(t), KDF: benchKDF,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	tok, err := os.ReadFile(d.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	adminToken := strings.TrimSpace(string(tok))
	c, err := client.New(d.URL, adminToken, client.WithPurpose("support"))
	if err != nil {
		t.Fatal(err)
	}
	const subject, email, name = "metrics-subject-q7x", "q7x.person@example.org", "Quentin Seventeen"
	created, err := c.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: subject, Jurisdiction: "DE",
		Fields: map[string]string{"name": name, "email": email}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	id, region := created.Records[0].ID, created.Records[0].Region
	secrets := []string{id, subject, email, name, adminToken}
	for _, ft := range created.Records[0].Tokens {
		secrets = append(secrets, ft.Token)
	}

	_, before := scrape(t, d.URL)
	beforeN, _ := sumWhere(before, "domicile_http_requests_total", map[string]string{"route": "getRecord"})
	linesBefore := len(accessLines(t, logs.String(), "getRecord"))
	if _, err := c.Get(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, after := scrape(t, d.URL)
	afterN, sets := sumWhere(after, "domicile_http_requests_total", map[string]string{"route": "getRecord"})
	if afterN-beforeN != 1 {
		t.Fatalf("one GET /v1/records/{id} counted %v times across the gateway and the regions, want 1: %v", afterN-beforeN, sets)
	}
	for _, ls := range sets {
		if ls["layer"] != "gateway" || ls["region"] != region || ls["code"] != "200" {
			t.Errorf("getRecord counted as %v, want layer gateway, region %s, code 200", ls, region)
		}
	}
	if n, _ := sumWhere(after, "domicile_http_request_duration_seconds", map[string]string{"route": "getRecord", "region": region}); n < 1 {
		t.Errorf("getRecord's latency not observed")
	}
	if got := accessLines(t, logs.String(), "getRecord"); len(got)-linesBefore != 1 {
		t.Errorf("%d access lines for one getRecord, want 1", len(got)-linesBefore)
	} else if l := got[len(got)-1]; l["principal"] != "admin" || l["region"] != region || l["level"] != "INFO" {
		t.Errorf("access line %v, want principal admin, region %s, level INFO", l, region)
	}

	// More traffic: a fan-out, a tokenize, a refusal.
	if _, err := c.ListSubject(ctx, subject, "", 10); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tokenize(ctx, []client.TokenizeItem{{Collection: "customers", Field: "email", Value: email, Jurisdiction: "DE", Subject: subject}}); err != nil {
		t.Fatal(err)
	}
	bad, _ := client.New(d.URL, "dmc_"+strings.Repeat("a", 52))
	if _, err := bad.Get(ctx, id); err == nil {
		t.Fatal("a bad token read a record")
	}
	text, fams := scrape(t, d.URL)
	if n, sets := sumWhere(fams, "domicile_http_requests_total", map[string]string{"layer": "region"}); n != 0 {
		t.Errorf("the regions behind the dev gateway counted requests: %v", sets)
	}
	if n, _ := sumWhere(fams, "domicile_http_requests_total", map[string]string{"route": "listSubjectRecords", "region": "multi"}); n != 1 {
		t.Errorf("the fan-out counted %v times under region multi, want 1", n)
	}
	if n, _ := sumWhere(fams, "domicile_http_requests_total", map[string]string{"route": "getRecord", "code": "401"}); n != 1 {
		t.Errorf("the refused read counted %v times with code 401, want 1", n)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				for _, s := range secrets {
					if strings.Contains(l.GetValue(), s) {
						t.Errorf("%s: label %s=%q holds a record id, subject, value or token", f.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
	for _, want := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"domicile_region_sealed", map[string]string{"region": region}, 0},
		{"domicile_key_current_version", map[string]string{"region": region, "purpose": "data"}, 1},
		{"domicile_audit_integrated_entries", map[string]string{"region": region}, 0},
		{"domicile_audit_void_entries_total", map[string]string{"region": region}, 0},
		{"domicile_audit_appended_entries_total", map[string]string{"region": region}, 3},
		{"domicile_audit_append_duration_seconds", map[string]string{"region": region}, 3},
		{"domicile_store_operation_duration_seconds", map[string]string{"region": region, "backend": "pebble", "op": "apply"}, 1},
		{"process_resident_memory_bytes", nil, 1},
	} {
		n, sets := sumWhere(fams, want.name, want.labels)
		if len(sets) == 0 || n < want.min {
			t.Errorf("%s%v = %v (%d series), want at least %v", want.name, want.labels, n, len(sets), want.min)
		}
	}
	if n, _ := sumWhere(fams, "domicile_region_sealed", nil); n != 0 {
		t.Errorf("%v regions sealed, want 0", n)
	}

	t.Run("promtool", func(t *testing.T) {
		promtool(t, text)
	})

	// A sealed region says so, and shows no key versions.
	if _, err := c.Seal(ctx, "us-east"); err != nil {
		t.Fatal(err)
	}
	_, fams = scrape(t, d.URL)
	if n, _ := sumWhere(fams, "domicile_region_sealed", map[string]string{"region": "us-east"}); n != 1 {
		t.Errorf("sealed us-east: domicile_region_sealed %v, want 1", n)
	}
	if _, sets := sumWhere(fams, "domicile_key_current_version", map[string]string{"region": "us-east"}); len(sets) != 0 {
		t.Errorf("sealed us-east shows key versions: %v", sets)
	}

	// The log: one access line per request, at the edge, and no personal
	// data at any level (debug included).
	log := logs.String()
	for _, s := range secrets[1:] { // record ids are not personal data, but keep them out of access lines
		if strings.Contains(log, s) {
			t.Errorf("the log holds %q", s)
		}
	}
	for _, l := range accessLines(t, log, "") {
		if b, _ := json.Marshal(l); strings.Contains(string(b), id) {
			t.Errorf("an access line holds the record id: %s", b)
		}
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"msg":"access"`) && !strings.Contains(line, `"level":"DEBUG"`) {
			t.Errorf("a region's per-request line above debug: %s", line)
		}
	}
}

// accessLines returns the access lines of a JSON log, of route (any when
// empty).
func accessLines(t *testing.T, log, route string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"msg":"request"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if route == "" || m["route"] == route {
			out = append(out, m)
		}
	}
	return out
}

// promtool runs `promtool check metrics` on an exposition. Without
// promtool it skips, but fails where CI is set (.ci/run installs it).
func promtool(t *testing.T, exposition string) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (Debian: apt-get install prometheus); CI must run `promtool check metrics`")
		}
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
