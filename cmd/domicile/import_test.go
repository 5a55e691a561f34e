package main

import (
	"strings"
	"testing"
)

// TestReadImport: JSONL and CSV lines become records or refusals that
// name the line and never quote its content.
func TestReadImport(t *testing.T) {
	jsonl := `{"collection":"customers","subject":"s1","jurisdiction":"DE","fields":{"name":"Anna"}}

{"subject":"s2","jurisdiction":"CN","fields":{"name":"王伟"}}
{"collection":"customers","jurisdiction":"CN","fields":{"name":"Secret Name"}}
{"collection":"customers","subject":"s4","jurisdiction":"CN","fields":{"name":"Secret Name"},"extra":1}
{not json "Secret Name"
`
	lines, rej, err := readJSONL(strings.NewReader(jsonl), "people")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].n != 1 || lines[1].n != 3 || lines[1].rec.Collection != "people" {
		t.Errorf("lines %+v", lines)
	}
	want := map[int]string{4: "missing_field", 5: "malformed_json", 6: "malformed_json"}
	if len(rej) != len(want) {
		t.Fatalf("refused %+v, want lines %v", rej, want)
	}
	for _, r := range rej {
		if want[r.Line] != r.Code || strings.Contains(r.Reason, "Secret") {
			t.Errorf("refusal %+v", r)
		}
	}

	csvText := "id,country,full_name,email\nc1,DE,Anna,a@example.com\nc2,,Bo,b@example.com\nc3,FR\n\"c4,CN,x\n"
	lines, rej, err = readCSV(strings.NewReader(csvText), "customers", map[string]string{"subject": "id", "jurisdiction": "country", "name": "full_name"})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].rec.Subject != "c1" || lines[0].rec.Fields["name"] != "Anna" || lines[0].rec.Fields["email"] != "a@example.com" || lines[0].n != 2 {
		t.Errorf("lines %+v", lines)
	}
	if len(rej) != 3 || rej[0].Line != 3 || rej[0].Code != "missing_field" || rej[1].Line != 4 || rej[1].Code != "malformed_csv" {
		t.Errorf("refused %+v", rej)
	}
	for _, bad := range []struct{ csv, want string }{
		{"", "no header row"},
		{"id,country\n", "no subject column"},
		{"subject,country\n", "no jurisdiction column"},
	} {
		if _, _, err := readCSV(strings.NewReader(bad.csv), "customers", nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("readCSV(%q): %v, want %q", bad.csv, err, bad.want)
		}
	}
	if _, _, err := readCSV(strings.NewReader("a,b\n"), "customers", map[string]string{"subject": "nope"}); err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Errorf("a mapping to a missing column: %v", err)
	}
}

// FuzzReadImport: the import parsers never panic, and whatever they
// accept names a subject and a jurisdiction on a line of the input.
func FuzzReadImport(f *testing.F) {
	f.Add([]byte(`{"collection":"c","subject":"s","jurisdiction":"DE","fields":{"a":"b"}}`), true)
	f.Add([]byte("subject,jurisdiction,name\ns1,CN,x\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, jsonl bool) {
		var lines []importLine
		var err error
		if jsonl {
			lines, _, err = readJSONL(strings.NewReader(string(b)), "c")
		} else {
			lines, _, err = readCSV(strings.NewReader(string(b)), "c", nil)
		}
		if err != nil {
			return
		}
		for _, l := range lines {
			if l.rec.Subject == "" || l.rec.Jurisdiction == "" || l.rec.Collection == "" || l.n < 1 {
				t.Fatalf("accepted %+v", l)
			}
		}
	})
}
