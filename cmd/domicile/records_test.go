package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
)

// The shape of `domicile records` and `domicile keys`: arguments, output,
// errors and exit codes, against a fake API that mimics the endpoints they
// call. The end-to-end tests against a real server live elsewhere.

const fakeToken = "tok-cli-test"

// fakeRequest is what the fake API saw of a request.
type fakeRequest struct {
	Method, URI    string
	IdempotencyKey string
	Body           string
}

type fakeAPI struct {
	mu   sync.Mutex
	reqs []fakeRequest
}

func (f *fakeAPI) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.reqs...)
}

var fakeTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fakeRecord(id string) client.Record {
	return client.Record{ID: id, Collection: "customers", Subject: "cust-8841", Jurisdiction: "CN", Region: "cn-north",
		Fields:  map[string]string{"name": "王伟", "email": "wang.wei@example.cn", "address": "1 Chang'an Ave"},
		Created: fakeTime, Updated: fakeTime}
}

func fakeProblem(w http.ResponseWriter, status int, p client.Problem) {
	p.Status = status
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

func fakeAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fakePage answers the two-page listing: cursor "" gives rec_1 and the cursor
// p2, p2 gives rec_2.
func fakePage(w http.ResponseWriter, cursor string) {
	switch cursor {
	case "":
		fakeAnswer(w, 200, client.Page{Records: []client.Record{fakeRecord("rec_cn-north_1")}, Next: "p2"})
	case "p2":
		r := fakeRecord("rec_eu-central_2")
		r.Region, r.Jurisdiction, r.Fields = "eu-central", "DE", map[string]string{"name": "Anna Schmidt"}
		fakeAnswer(w, 200, client.Page{Records: []client.Record{r}})
	default:
		fakeProblem(w, 400, client.Problem{Code: "invalid_cursor", Detail: "the cursor is not valid"})
	}
}

func newFakeAPI(t *testing.T) (*httptest.Server, *fakeAPI) {
	t.Helper()
	f := &fakeAPI{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/records", func(w http.ResponseWriter, r *http.Request) {
		var req client.CreateRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fakeProblem(w, 400, client.Problem{Code: "malformed_json", Detail: err.Error()})
			return
		}
		out := client.CreateResponse{Replayed: r.Header.Get("Idempotency-Key") == "seen"}
		for i, nr := range req.Records {
			region := map[string]string{"CN": "cn-north", "DE": "eu-central"}[nr.Jurisdiction]
			if nr.Jurisdiction == "XX" {
				fakeProblem(w, 400, client.Problem{Code: "unknown_jurisdiction", Detail: fmt.Sprintf("record %d: unknown jurisdiction", i),
					Field: "jurisdiction", Index: &i, Hint: "use an ISO 3166-1 alpha-2 country code such as CN, DE or US"})
				return
			}
			if region == "" {
				region = "us-east"
			}
			out.Records = append(out.Records, client.Created{ID: fmt.Sprintf("rec_%s_%d", region, i+1), Region: region})
		}
		fakeAnswer(w, 201, out)
	})
	recordError := func(w http.ResponseWriter, id string) bool {
		switch id {
		case "rec_gone":
			fakeProblem(w, 404, client.Problem{Code: "not_found", Detail: "no such record"})
		case "rec_html":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			io.WriteString(w, "<html><h1>502 Bad Gateway</h1></html>")
		case "rec_boom":
			fakeProblem(w, 500, client.Problem{Code: "internal_error", Detail: "internal error; the request id identifies it in the server log", RequestID: "req-7"})
		default:
			return false
		}
		return true
	}
	mux.HandleFunc("GET /v1/records/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !recordError(w, r.PathValue("id")) {
			fakeAnswer(w, 200, fakeRecord(r.PathValue("id")))
		}
	})
	mux.HandleFunc("PATCH /v1/records/{id}", func(w http.ResponseWriter, r *http.Request) {
		if recordError(w, r.PathValue("id")) {
			return
		}
		var req client.PatchRequest
		json.NewDecoder(r.Body).Decode(&req)
		rec := fakeRecord(r.PathValue("id"))
		for k, v := range req.Set {
			rec.Fields[k] = v
		}
		for _, k := range req.Remove {
			delete(rec.Fields, k)
		}
		fakeAnswer(w, 200, rec)
	})
	mux.HandleFunc("DELETE /v1/records/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !recordError(w, r.PathValue("id")) {
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("GET /v1/subjects/{subject}/records", func(w http.ResponseWriter, r *http.Request) {
		fakePage(w, r.URL.Query().Get("cursor"))
	})
	mux.HandleFunc("DELETE /v1/subjects/{subject}", func(w http.ResponseWriter, r *http.Request) {
		fakeAnswer(w, 200, client.EraseResponse{Erased: 3, Regions: map[string]int{"eu-central": 1, "cn-north": 2}})
	})
	mux.HandleFunc("POST /v1/collections/{collection}/search", func(w http.ResponseWriter, r *http.Request) {
		var req client.SearchRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Field == "address" {
			fakeProblem(w, 400, client.Problem{Code: "field_not_indexed", Detail: "customers.address is not indexed", Field: "field",
				Hint: "search only fields the policy marks index: true"})
			return
		}
		fakePage(w, req.Cursor)
	})
	mux.HandleFunc("GET /v1/regions", func(w http.ResponseWriter, r *http.Request) {
		fakeAnswer(w, 200, client.RegionsResponse{Regions: []client.Region{{Name: "cn-north", Suite: "cn"}, {Name: "eu-central", Suite: "intl"}}})
	})
	mux.HandleFunc("GET /v1/regions/{region}/keys", func(w http.ResponseWriter, r *http.Request) {
		region := r.PathValue("region")
		if region == "nowhere" {
			fakeProblem(w, 404, client.Problem{Code: "unknown_region", Detail: "no region nowhere"})
			return
		}
		v := []client.KeyVersion{{Version: 1, Created: fakeTime, State: "retired"}, {Version: 2, Created: fakeTime, State: "active"}}
		fakeAnswer(w, 200, client.KeyStatus{Region: region, Suite: "intl", Subject: 5, Keys: []client.KeyPurpose{
			{Purpose: "data", Current: 2, Versions: v}, {Purpose: "index", Current: 1, Versions: v[:1]},
		}})
	})
	mux.HandleFunc("POST /v1/regions/{region}/keys/rotate", func(w http.ResponseWriter, r *http.Request) {
		var req client.RotateRequest
		json.NewDecoder(r.Body).Decode(&req)
		fakeAnswer(w, 200, client.RotateResponse{Region: r.PathValue("region"), Purpose: req.Purpose, Version: 3})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, fakeRequest{Method: r.Method, URI: r.RequestURI, IdempotencyKey: r.Header.Get("Idempotency-Key"), Body: string(b)})
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			fakeProblem(w, 401, client.Problem{Code: "unauthenticated", Detail: "missing or invalid bearer token",
				Hint: "send 'Authorization: Bearer <token>'; dev mode writes the admin token to DATA/admin.token"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, f
}

// cliRun runs the CLI and returns its exit code, stdout and stderr.
func cliRun(ctx context.Context, vars map[string]string, stdin string, terminal bool, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(ctx, &env{
		stdin:      strings.NewReader(stdin),
		stdout:     &stdout,
		stderr:     &stderr,
		getenv:     func(k string) string { return vars[k] },
		isTerminal: terminal,
	}, args)
	return code, stdout.String(), stderr.String()
}

func TestRecordsCLI(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte(fakeToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(t.TempDir(), "empty.token")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	batch := filepath.Join(t.TempDir(), "batch.json")
	if err := os.WriteFile(batch, []byte(`{"records":[
		{"collection":"customers","subject":"c1","jurisdiction":"DE","fields":{"name":"Anna"}},
		{"collection":"customers","subject":"c2","jurisdiction":"DE","fields":{"name":"Bernd"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// An address where nothing listens.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	put := []string{"records", "put", "--collection", "customers", "--jurisdiction", "CN", "--subject", "cust-8841"}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string // on top of DOMICILE_ADDR and DOMICILE_TOKEN
		stdin    string
		terminal bool
		code     int
		stdout   []string // each must appear
		exact    string   // if set, stdout must be exactly this
		stderr   []string // each must appear; if none, stderr must be empty
		requests []fakeRequest
		hidden   string // if set, must not appear in the output
	}{
		// Help.
		{name: "records help", args: []string{"records", "--help"}, stdout: []string{"Usage: domicile records SUBCOMMAND", "erase-subject", "Examples:"}},
		{name: "keys help", args: []string{"keys", "help"}, stdout: []string{"Usage: domicile keys SUBCOMMAND", "rotate"}},
		{name: "put help", args: []string{"records", "put", "--help"}, stdout: []string{"Usage: domicile records put", "--idempotency-key", "Examples:", "--json batch.json"}},
		{name: "find help", args: []string{"records", "find", "-h"}, stdout: []string{"Usage: domicile records find", "--all", "Examples:"}},
		{name: "rotate help", args: []string{"keys", "rotate", "--help"}, stdout: []string{"Usage: domicile keys rotate", "Examples:"}},

		// Usage mistakes: exit 2, nothing sent.
		{name: "no subcommand", args: []string{"records"}, code: 2, stderr: []string{"error: records: missing subcommand", "hint: run 'domicile records --help'"}},
		{name: "unknown subcommand", args: []string{"records", "frob"}, code: 2, stderr: []string{`unknown subcommand "frob"`, "hint: the subcommands are put, get"}},
		{name: "keys unknown subcommand", args: []string{"keys", "list"}, code: 2, stderr: []string{`keys: unknown subcommand "list"`}},
		{name: "put without collection", args: []string{"records", "put", "--field", "a=b"}, code: 2, stderr: []string{"--collection is required", "hint:"}},
		{name: "put without field", args: put, code: 2, stderr: []string{"no --field given", "hint: give each field as --field KEY=VALUE"}},
		{name: "put bad field", args: append(put, "--field", "name=x", "--field", "李娜"), code: 2, hidden: "李娜",
			stderr: []string{"error: records put: --field #2 is not KEY=VALUE: it has no '='", "hint: give each as --field KEY=VALUE"}},
		{name: "patch bad set", args: []string{"records", "patch", "rec_1", "--set", "=李娜"}, code: 2, hidden: "李娜",
			stderr: []string{"--set #1 is not KEY=VALUE: the key is empty"}},
		{name: "put field twice", args: append(put, "--field", "a=1", "--field", "a=2"), code: 2, stderr: []string{"--field a is given twice"}},
		{name: "put json and flags", args: []string{"records", "put", "--json", batch, "--subject", "s"}, code: 2, stderr: []string{"--json and --subject exclude each other"}},
		{name: "put positional", args: append(put, "--field", "a=b", "extra"), code: 2, stderr: []string{`unexpected argument "extra"`}},
		{name: "get without id", args: []string{"records", "get"}, code: 2, stderr: []string{"records get: missing ID", "hint: run 'domicile records get ID'"}},
		{name: "get two ids", args: []string{"records", "get", "a", "b"}, code: 2, stderr: []string{`unexpected argument "b"`}},
		{name: "get bad format", args: []string{"records", "get", "a", "--format", "yaml"}, code: 2, stderr: []string{`unknown --format "yaml"`, "hint: --format is one of json, table"}},
		{name: "get unknown flag", args: []string{"records", "get", "--frob", "a"}, code: 2, stderr: []string{"flag provided but not defined: -frob", "hint: run 'domicile records get --help'"}},
		{name: "find without value", args: []string{"records", "find", "--collection", "customers", "--field", "email"}, code: 2, stderr: []string{"--value is required"}},
		{name: "find negative limit", args: []string{"records", "find", "--collection", "c", "--field", "f", "--value", "v", "--limit", "-1"}, code: 2, stderr: []string{"--limit must be positive"}},
		{name: "patch nothing", args: []string{"records", "patch", "rec_1"}, code: 2, stderr: []string{"nothing to change", "hint: give --set KEY=VALUE or --remove KEY"}},
		{name: "patch set and remove", args: []string{"records", "patch", "rec_1", "--set", "a=1", "--remove", "a"}, code: 2, stderr: []string{`field "a" is both set and removed`}},
		{name: "erase in a script without --yes", args: []string{"records", "erase-subject", "cust-8841"}, code: 2, stderr: []string{"not erasing without --yes", "hint: pass --yes"}},
		{name: "rotate bad purpose", args: []string{"keys", "rotate", "--region", "cn-north", "--key", "master"}, code: 2, stderr: []string{`unknown --key "master"`, "hint: --key is one of data, index, token, audit"}},
		{name: "rotate without region", args: []string{"keys", "rotate", "--key", "data"}, code: 2, stderr: []string{"--region is required"}},
		{name: "no token", args: []string{"records", "get", "rec_1"}, env: map[string]string{"DOMICILE_TOKEN": ""}, code: 2,
			stderr: []string{"error: records get: no API token", "hint: export DOMICILE_TOKEN=$(cat data/admin.token)"}},
		{name: "bad address", args: []string{"records", "get", "rec_1", "--addr", "ftp://vault"}, code: 2, stderr: []string{"scheme must be http or https", "hint: the address is a URL"}},

		// Successes.
		{name: "put", args: append(put, "--field", "name=王伟", "--field", "email=wang.wei@example.cn", "--idempotency-key", "k1"),
			exact: "rec_cn-north_1 cn-north\n",
			requests: []fakeRequest{{Method: "POST", URI: "/v1/records", IdempotencyKey: "k1",
				Body: `{"records":[{"collection":"customers","subject":"cust-8841","jurisdiction":"CN","fields":{"email":"wang.wei@example.cn","name":"王伟"}}]}`}}},
		{name: "put replayed", args: append(put, "--field", "name=王伟", "--idempotency-key", "seen"),
			exact: "rec_cn-north_1 cn-north\n", stderr: []string{"note: the idempotency key matched an earlier request"}},
		{name: "put batch file", args: []string{"records", "put", "--json", batch}, exact: "rec_eu-central_1 eu-central\nrec_eu-central_2 eu-central\n"},
		{name: "put batch stdin", args: []string{"records", "put", "--json", "-"},
			stdin: `{"records":[{"collection":"customers","subject":"c1","jurisdiction":"US","fields":{"name":"Ann"}}]}`, exact: "rec_us-east_1 us-east\n"},
		{name: "put token file", args: append(put, "--field", "name=x", "--token-file", tokenFile), env: map[string]string{"DOMICILE_TOKEN": ""},
			exact: "rec_cn-north_1 cn-north\n"},
		{name: "get json", args: []string{"records", "get", "rec_cn-north_1"},
			stdout:   []string{`"id": "rec_cn-north_1"`, `"name": "王伟"`, `"region": "cn-north"`},
			requests: []fakeRequest{{Method: "GET", URI: "/v1/records/rec_cn-north_1"}}},
		{name: "get table, flags after the id", args: []string{"records", "get", "rec/1", "--format", "table"},
			exact: "id:           rec/1\ncollection:   customers\nsubject:      cust-8841\njurisdiction: CN\nregion:       cn-north\n" +
				"created:      2026-03-01T12:00:00Z\nupdated:      2026-03-01T12:00:00Z\nfields:\n" +
				"  address: 1 Chang'an Ave\n  email:   wang.wei@example.cn\n  name:    王伟\n",
			requests: []fakeRequest{{Method: "GET", URI: "/v1/records/rec%2F1"}}},
		{name: "get after --", args: []string{"records", "get", "--format", "table", "--", "-rec"}, stdout: []string{"id:           -rec\n"}},
		{name: "find one page", args: []string{"records", "find", "--collection", "customers", "--field", "email", "--value", "wang.wei@example.cn", "--jurisdiction", "CN", "--limit", "1"},
			exact:  "rec_cn-north_1 cn-north CN address=\"1 Chang'an Ave\" email=wang.wei@example.cn name=王伟\n",
			stderr: []string{"note: there are more records; add --all, or --cursor p2"},
			requests: []fakeRequest{{Method: "POST", URI: "/v1/collections/customers/search",
				Body: `{"field":"email","value":"wang.wei@example.cn","jurisdiction":"CN","limit":1}`}}},
		{name: "find all", args: []string{"records", "find", "--all", "--collection", "customers", "--field", "email", "--value", "x"},
			exact: "rec_cn-north_1 cn-north CN address=\"1 Chang'an Ave\" email=wang.wei@example.cn name=王伟\n" +
				"rec_eu-central_2 eu-central DE name=\"Anna Schmidt\"\n"},
		{name: "find from a cursor, json", args: []string{"records", "find", "--collection", "customers", "--field", "email", "--value", "x", "--cursor", "p2", "--format", "json"},
			stdout: []string{`"id": "rec_eu-central_2"`}},
		{name: "list subject all json", args: []string{"records", "list-subject", "cust/8841", "--all", "--format", "json"},
			stdout:   []string{`"id": "rec_cn-north_1"`, `"id": "rec_eu-central_2"`},
			requests: []fakeRequest{{Method: "GET", URI: "/v1/subjects/cust%2F8841/records"}, {Method: "GET", URI: "/v1/subjects/cust%2F8841/records?cursor=p2"}}},
		{name: "patch", args: []string{"records", "patch", "rec_cn-north_1", "--set", "email=w@example.cn", "--remove", "address", "--format", "table"},
			stdout: []string{"  email: w@example.cn\n"},
			requests: []fakeRequest{{Method: "PATCH", URI: "/v1/records/rec_cn-north_1",
				Body: `{"set":{"email":"w@example.cn"},"remove":["address"]}`}}},
		{name: "delete", args: []string{"records", "delete", "rec_cn-north_1"}, exact: "deleted rec_cn-north_1\n",
			requests: []fakeRequest{{Method: "DELETE", URI: "/v1/records/rec_cn-north_1"}}},
		{name: "erase with --yes", args: []string{"records", "erase-subject", "--yes", "cust-8841"},
			exact:    "erased 3 records of subject cust-8841 (cn-north 2, eu-central 1)\n",
			requests: []fakeRequest{{Method: "DELETE", URI: "/v1/subjects/cust-8841"}}},
		{name: "erase confirmed", args: []string{"records", "erase-subject", "cust-8841"}, terminal: true, stdin: "y\n",
			stdout: []string{"erased 3 records"}, stderr: []string{"This cannot be undone. [y/N]"}},
		{name: "erase declined", args: []string{"records", "erase-subject", "cust-8841"}, terminal: true, stdin: "n\n", code: 1,
			stderr: []string{"error: records erase-subject: not confirmed; nothing was erased"}, requests: []fakeRequest{}},
		{name: "keys status", args: []string{"keys", "status"},
			exact: "REGION      PURPOSE  CURRENT  VERSIONS\n" +
				"cn-north    data     2        2\ncn-north    index    1        1\n" +
				"eu-central  data     2        2\neu-central  index    1        1\n",
			requests: []fakeRequest{{Method: "GET", URI: "/v1/regions"}, {Method: "GET", URI: "/v1/regions/cn-north/keys"}, {Method: "GET", URI: "/v1/regions/eu-central/keys"}}},
		{name: "keys status json", args: []string{"keys", "status", "--region", "cn-north", "--format", "json"},
			stdout: []string{`"region": "cn-north"`, `"subject_keys": 5`}},
		{name: "keys rotate", args: []string{"keys", "rotate", "--region", "cn-north", "--key", "data"},
			exact:    "rotated the data key of cn-north: version 3 is current\n",
			requests: []fakeRequest{{Method: "POST", URI: "/v1/regions/cn-north/keys/rotate", Body: `{"purpose":"data"}`}}},

		// API errors: exit 1, "error: <detail> (<code>)" and the hint.
		{name: "unknown jurisdiction", args: []string{"records", "put", "--collection", "customers", "--jurisdiction", "XX", "--subject", "s", "--field", "name=x"}, code: 1,
			stderr: []string{"error: record 0: unknown jurisdiction (unknown_jurisdiction)\n", "hint: use an ISO 3166-1 alpha-2 country code"}},
		{name: "not found", args: []string{"records", "get", "rec_gone"}, code: 1, stderr: []string{"error: no such record (not_found)\n"}},
		{name: "delete not found", args: []string{"records", "delete", "rec_gone"}, code: 1, stderr: []string{"(not_found)"}},
		{name: "proxy html", args: []string{"records", "get", "rec_html"}, code: 1, stderr: []string{"error: Bad Gateway (text/html response, not a problem document) (http_502)"}},
		{name: "server error", args: []string{"records", "get", "rec_boom"}, code: 1,
			stderr: []string{"(internal_error)", "hint: the server logged the cause under request id req-7"}},
		{name: "wrong token", args: []string{"records", "get", "rec_1"}, env: map[string]string{"DOMICILE_TOKEN": "wrong"}, code: 1,
			stderr: []string{"error: missing or invalid bearer token (unauthenticated)", "hint: set DOMICILE_TOKEN to a principal's token"}},
		{name: "not indexed", args: []string{"records", "find", "--collection", "customers", "--field", "address", "--value", "x"}, code: 1,
			stderr: []string{"(field_not_indexed)", "hint: search only fields the policy marks index: true"}},
		{name: "unknown region", args: []string{"keys", "status", "--region", "nowhere"}, code: 1, stderr: []string{"error: no region nowhere (unknown_region)"}},
		{name: "bad cursor", args: []string{"records", "list-subject", "s", "--cursor", "zz"}, code: 1, stderr: []string{"(invalid_cursor)"}},
		{name: "unreachable", args: []string{"records", "get", "rec_1"}, env: map[string]string{"DOMICILE_ADDR": deadURL}, code: 1,
			stderr: []string{"error: cannot reach the API at " + deadURL, "hint: is `domicile dev` running? start it with `make run`"}},
		{name: "missing token file", args: []string{"records", "get", "rec_1", "--token-file", filepath.Join(t.TempDir(), "nope")}, code: 1,
			stderr: []string{"reading the token", "hint: export DOMICILE_TOKEN"}},
		{name: "empty token file", args: []string{"records", "get", "rec_1", "--token-file", emptyFile}, code: 1, stderr: []string{"is empty"}},
		{name: "bad batch", args: []string{"records", "put", "--json", "-"}, stdin: `{"records":[{"colection":"c"}]}`, code: 1,
			stderr: []string{`unknown field "colection"`, `hint: the file holds {"records":`}},
		{name: "empty batch", args: []string{"records", "put", "--json", "-"}, stdin: `{"records":[]}`, code: 1, stderr: []string{"holds no records"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, api := newFakeAPI(t)
			vars := map[string]string{"DOMICILE_ADDR": srv.URL, "DOMICILE_TOKEN": fakeToken}
			for k, v := range tt.env {
				vars[k] = v
			}
			code, stdout, stderr := cliRun(context.Background(), vars, tt.stdin, tt.terminal, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout does not contain %q:\n%s", s, stdout)
				}
			}
			if tt.exact != "" && stdout != tt.exact {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.exact)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr does not contain %q:\n%s", s, stderr)
				}
			}
			if len(tt.stderr) == 0 && stderr != "" {
				t.Errorf("stderr:\n%s\nwant none", stderr)
			}
			if tt.hidden != "" && strings.Contains(stdout+stderr, tt.hidden) {
				t.Errorf("the output shows %q:\n%s%s", tt.hidden, stdout, stderr)
			}
			reqs := api.requests()
			if tt.code == 2 && len(reqs) > 0 {
				t.Errorf("a usage mistake sent %d requests: %+v", len(reqs), reqs)
			}
			if tt.requests != nil {
				if len(reqs) != len(tt.requests) {
					t.Fatalf("requests %+v\nwant %+v", reqs, tt.requests)
				}
				for i, want := range tt.requests {
					got := reqs[i]
					if got.Method != want.Method || got.URI != want.URI || got.IdempotencyKey != want.IdempotencyKey || !sameJSON(got.Body, want.Body) {
						t.Errorf("request %d: %+v\nwant %+v", i, got, want)
					}
				}
			}
		})
	}
}

// sameJSON compares JSON documents semantically; "" is no body.
func sameJSON(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// TestRecordsInterrupted checks that an interrupt during a request ends the
// command with a short error, not a transport error.
func TestRecordsInterrupted(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	code, _, stderr := cliRun(ctx, map[string]string{"DOMICILE_ADDR": srv.URL, "DOMICILE_TOKEN": fakeToken}, "", false, "records", "get", "rec_1")
	if code != 1 || !strings.Contains(stderr, "error: interrupted") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestRecordsFailedUnwraps checks that API errors keep the client's error
// in their chain, for callers that branch on it.
func TestRecordsFailedUnwraps(t *testing.T) {
	ce := &client.Error{Problem: client.Problem{Code: "not_found", Detail: "no such record", Status: 404}}
	err := (&apiConn{addr: "x"}).failed(context.Background(), "", fmt.Errorf("wrapped: %w", ce))
	if client.CodeOf(err) != "not_found" || !errors.As(err, new(*client.Error)) {
		t.Errorf("error %v lost the client error", err)
	}
}
