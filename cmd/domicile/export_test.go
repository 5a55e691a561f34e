package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/client"
)

// exportAPI serves a collection export in two pages (the second failing
// when fail is set) and the regions' record counts.
func exportAPI(t *testing.T, masked bool, fail *atomic.Bool) *httptest.Server {
	t.Helper()
	access := func(fields map[string]string) *client.Access {
		a := &client.Access{Rule: "in-region", Fields: map[string]string{}}
		for f := range fields {
			a.Fields[f] = "clear"
		}
		if masked {
			a.Fields["email"] = "masked:email"
			a.Refused = []string{"national_id"}
		}
		return a
	}
	rec := func(id, region, jur, name string) client.Record {
		f := map[string]string{"name": name, "email": "x@example.com"}
		return client.Record{ID: id, Collection: "customers", Subject: "s-" + id, Jurisdiction: jur, Region: region, Fields: f, Access: access(f)}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			fakeProblem(w, 401, client.Problem{Code: "unauthenticated", Status: 401})
			return
		}
		switch r.URL.Path {
		case "/v1/regions":
			fakeAnswer(w, 200, client.RegionsResponse{Regions: []client.Region{{Name: "cn-north", Records: map[string]int64{"customers": 1}},
				{Name: "eu-central", Records: map[string]int64{"customers": 2}}}})
		case "/v1/collections/customers/records":
			if r.Header.Get("Domicile-Purpose") != "support" {
				t.Errorf("export without the purpose: %q", r.Header.Get("Domicile-Purpose"))
			}
			switch r.URL.Query().Get("cursor") {
			case "":
				fakeAnswer(w, 200, client.Page{Records: []client.Record{rec("rec_cn-north_1", "cn-north", "CN", "王伟")}, Next: "c2"})
			case "c2":
				if fail != nil && fail.Load() {
					fakeProblem(w, 503, client.Problem{Code: "region_unavailable", Status: 503, Detail: "region eu-central is down"})
					return
				}
				fakeAnswer(w, 200, client.Page{Records: []client.Record{rec("rec_eu-central_1", "eu-central", "DE", "Anna"),
					rec("rec_eu-central_2", "eu-central", "FR", "Zoé")}})
			default:
				fakeProblem(w, 400, client.Problem{Code: "invalid_cursor", Status: 400})
			}
		default:
			fakeProblem(w, 404, client.Problem{Code: "no_such_endpoint", Status: 404})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRecordsExportCLI(t *testing.T) {
	ctx := context.Background()
	clearAPI := exportAPI(t, false, nil)
	maskedAPI := exportAPI(t, true, nil)
	var fail atomic.Bool
	failing := exportAPI(t, false, &fail)
	fail.Store(true)
	vars := func(addr string) map[string]string {
		return map[string]string{"DOMICILE_ADDR": addr, "DOMICILE_TOKEN": fakeToken, "DOMICILE_PURPOSE": "support"}
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	tests := []struct {
		name     string
		addr     string
		args     []string
		terminal bool
		code     int
		stdout   []string // substrings
		stderr   []string
		lines    int // JSONL lines on stdout, -1: don't count
	}{
		{"ok/records-format", clearAPI.URL, []string{"--collection", "customers"}, false, 0,
			[]string{`"id":"rec_cn-north_1"`, `"access":{"rule":"in-region"`, "王伟"}, []string{"exported 3 records of customers (cn-north 1, eu-central 2); fields: 6 clear, 0 masked, 0 refused"}, 3},
		{"ok/masked-counted", maskedAPI.URL, []string{"--collection", "customers"}, false, 0,
			[]string{`"refused":["national_id"]`}, []string{"fields: 3 clear, 3 masked, 3 refused"}, 3},
		{"ok/import-format", clearAPI.URL, []string{"--collection", "customers", "--format", "import"}, false, 0,
			[]string{`{"collection":"customers","subject":"s-rec_cn-north_1","jurisdiction":"CN","fields":{`}, []string{"exported 3 records"}, 3},
		{"ok/progress-on-a-terminal", clearAPI.URL, []string{"--collection", "customers"}, true, 0,
			nil, []string{"\rexporting customers: 1/3 (33%)", "\rexporting customers: 3/3 (100%)"}, 3},
		{"ok/quiet-in-scripts", clearAPI.URL, []string{"--collection", "customers", "--out", out}, false, 0,
			[]string{"exported 3 records"}, nil, -1},
		{"fail/import-format-masked", maskedAPI.URL, []string{"--collection", "customers", "--format", "import"}, false, 1,
			nil, []string{"record rec_cn-north_1 has fields this principal may not see: national_id", "hint:"}, -1},
		{"fail/stops-with-the-cursor-to-resume", failing.URL, []string{"--collection", "customers"}, false, 1,
			nil, []string{"stopped after 1 records", "region_unavailable", "--cursor c2"}, 1},
		{"fail/no-collection", clearAPI.URL, nil, false, 2, nil, []string{"--collection"}, -1},
		{"fail/bad-format", clearAPI.URL, []string{"--collection", "customers", "--format", "csv"}, false, 2, nil, []string{"format"}, -1},
		{"fail/negative-limit", clearAPI.URL, []string{"--collection", "customers", "--limit", "-1"}, false, 2, nil, []string{"--limit"}, -1},
		{"fail/positional", clearAPI.URL, []string{"--collection", "customers", "extra"}, false, 2, nil, nil, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cliRun(ctx, vars(tc.addr), "", tc.terminal, append([]string{"records", "export"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if !tc.terminal && strings.Contains(stderr, "\r") {
				t.Errorf("progress shown outside a terminal: %q", stderr)
			}
			if tc.lines >= 0 {
				if n := strings.Count(stdout, "\n"); n != tc.lines {
					t.Errorf("%d lines on stdout, want %d", n, tc.lines)
				}
			}
			if strings.Contains(stderr, "x@example.com") || strings.Contains(stderr, "Anna") {
				t.Errorf("stderr shows a value: %s", stderr)
			}
		})
	}

	// --out: the lines in a file only its owner reads.
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 3 {
		t.Errorf("--out file holds %d lines, want 3", n)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("--out file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// The import format is what 'records import' reads: every line of an
// export in it is accepted, and its records are the exported ones.
func TestExportImportRoundTrip(t *testing.T) {
	srv := exportAPI(t, false, nil)
	code, stdout, stderr := cliRun(context.Background(), map[string]string{"DOMICILE_ADDR": srv.URL, "DOMICILE_TOKEN": fakeToken, "DOMICILE_PURPOSE": "support"},
		"", false, "records", "export", "--collection", "customers", "--format", "import")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	lines, rejects, err := readJSONL(strings.NewReader(stdout), "")
	if err != nil || len(rejects) != 0 || len(lines) != 3 {
		t.Fatalf("import reads %d lines, rejects %v, %v", len(lines), rejects, err)
	}
	want := client.NewRecord{Collection: "customers", Subject: "s-rec_eu-central_2", Jurisdiction: "FR", Fields: map[string]string{"name": "Zoé", "email": "x@example.com"}}
	got, _ := json.Marshal(lines[2].rec)
	if w, _ := json.Marshal(want); string(got) != string(w) {
		t.Errorf("line 3 imports as %s, want %s", got, w)
	}
}

func TestRecordsExportHelp(t *testing.T) {
	code, stdout, _ := cliRun(context.Background(), nil, "", false, "records", "export", "--help")
	if code != 0 || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "--format import") {
		t.Errorf("--help: exit %d\n%s", code, stdout)
	}
}
