package entry

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample() *Entry {
	return &Entry{
		Index: 42, Time: time.Date(2025, 3, 1, 12, 0, 0, 123, time.UTC), Region: "cn-north",
		RequestID: "req-1", Principal: "svc-billing", Location: "CN", Action: Read,
		Collection: "customers", Records: []string{"cn-north_abc", "cn-north_def"}, Fields: []string{"email", "phone"},
		Subjects: []SubjectMAC{bytes.Repeat([]byte{7}, 32)}, Purpose: "support", Decision: "clear",
		Rule: "in-region", Outcome: OK,
	}
}

func TestRoundTrip(t *testing.T) {
	for name, e := range map[string]*Entry{
		"ok/full":    sample(),
		"ok/minimal": {Time: time.Unix(0, 1).UTC(), Action: Admin, Outcome: ErrorOutcome("store_full")},
		"ok/denied":  {Index: 1 << 63, Time: time.Unix(-5, 0).UTC(), Action: Detokenize, Outcome: Denied},
		"ok/mixed": {Time: time.Unix(7, 0).UTC(), Action: Detokenize, Records: []string{"r1"}, Fields: []string{"phone"},
			Masked: []string{"name"}, Refused: []Refusal{{"email", "clear_access_required"}, {"national_id", "permission_denied"}},
			Decision: "partial", Outcome: OK},
		"ok/legacy": func() *Entry { e := sample(); e.Version = LegacyVersion; return e }(),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(e, got); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
			b2, _ := Marshal(got)
			if !bytes.Equal(b, b2) {
				t.Fatal("re-encoding differs")
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	for name, mod := range map[string]func(e *Entry){
		"fail/zero-time":      func(e *Entry) { e.Time = time.Time{} },
		"fail/far-time":       func(e *Entry) { e.Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"fail/unknown-action": func(e *Entry) { e.Action = "steal" },
		"fail/space":          func(e *Entry) { e.Principal = "John Smith" },
		"fail/non-ascii":      func(e *Entry) { e.Purpose = "调查" },
		"fail/long":           func(e *Entry) { e.Rule = string(bytes.Repeat([]byte("x"), MaxString+1)) },
		"fail/outcome":        func(e *Entry) { e.Outcome = "fine" },
		"fail/outcome-code":   func(e *Entry) { e.Outcome = "error:Bad!" },
		"fail/empty-code":     func(e *Entry) { e.Outcome = "error:" },
		"fail/short-mac":      func(e *Entry) { e.Subjects = []SubjectMAC{[]byte("alice@example")} },
		"fail/record-newline": func(e *Entry) { e.Records = []string{"a\nb"} },
		"fail/masked-space":   func(e *Entry) { e.Masked = []string{"a b"} },
		"fail/refusal-code":   func(e *Entry) { e.Refused = []Refusal{{"email", "not\tok"}} },
		"fail/legacy-masked":  func(e *Entry) { e.Version, e.Masked = LegacyVersion, []string{"email"} },
		"fail/version":        func(e *Entry) { e.Version = 2 },
	} {
		t.Run(name, func(t *testing.T) {
			e := sample()
			mod(e)
			_, err := Marshal(e)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Marshal error = %v, want *Error", err)
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	good, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	nonMinimal := append([]byte{}, good[:17]...)
	nonMinimal = append(nonMinimal, 0x88, 0x00) // length 8 in two bytes
	nonMinimal = append(nonMinimal, good[18:]...)
	for name, b := range map[string][]byte{
		"fail/empty":       nil,
		"fail/version":     append([]byte{3}, good[1:]...),
		"fail/v1-with-v2":  append([]byte{1}, good[1:]...), // version 1 has no trailing lists
		"fail/trailing":    append(append([]byte{}, good...), 0),
		"fail/truncated":   good[:len(good)-1],
		"fail/non-minimal": nonMinimal,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(b); err == nil {
				t.Fatal("Parse succeeded")
			}
		})
	}
	// Every single-byte truncation fails.
	for i := range good {
		if _, err := Parse(good[:i]); err == nil {
			t.Fatalf("Parse of %d-byte prefix succeeded", i)
		}
	}
}

// legacyGolden is sample() as version 1 wrote it, before version 2 existed:
// entries already in logs must keep parsing to the same bytes, or their
// leaf hashes, and the logs, would no longer verify.
const legacyGolden = "01000000000000002a1828ac068633807b08636e2d6e6f727468057265712d310b7376632d62696c6c696e6702434e04726561640963" +
	"7573746f6d657273020c636e2d6e6f7274685f6162630c636e2d6e6f7274685f6465660205656d61696c0570686f6e65012007070707070707070707" +
	"0707070707070707070707070707070707070707070707737570706f727405636c65617209696e2d726567696f6e026f6b"

func TestLegacyVersion1(t *testing.T) {
	b, err := hex.DecodeString(legacyGolden)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse(b)
	if err != nil {
		t.Fatalf("a version 1 entry no longer parses: %v", err)
	}
	want := sample()
	want.Version = LegacyVersion
	if diff := cmp.Diff(want, e); diff != "" {
		t.Fatalf("version 1 entry (-want +got):\n%s", diff)
	}
	out, err := Marshal(e)
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("version 1 entry re-encodes to %x, %v", out, err)
	}
	cur, _ := Marshal(sample())
	if cur[0] != Version || bytes.Equal(cur, b) {
		t.Fatalf("new entries must be written as version %d", Version)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := Marshal(sample())
	f.Add(b)
	b, _ = hex.DecodeString(legacyGolden)
	f.Add(b)
	b, _ = Marshal(&Entry{Time: time.Unix(0, 1), Action: Read, Masked: []string{"name"}, Refused: []Refusal{{"email", "x"}}, Outcome: OK})
	f.Add(b)
	b, _ = Marshal(&Entry{Time: time.Unix(0, 1), Action: Void, Outcome: Aborted})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			return
		}
		out, err := Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of parsed entry: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Marshal(Parse(b)) != b\n b=%x\nout=%x", b, out)
		}
	})
}
