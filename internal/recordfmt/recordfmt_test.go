package recordfmt

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func sample() *Record {
	return &Record{
		Collection:   "customers",
		Jurisdiction: "CN",
		SubjectRef:   []byte{1, 2, 3},
		Subject:      []byte("env-subject"),
		Created:      1700000000000000000,
		Updated:      1700000000000000001,
		Fields:       []Field{{"email", []byte("e1")}, {"name", []byte("e2")}},
		Index:        [][]byte{[]byte("i/customers/email/x")},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *Record
	}{
		{"ok/full", sample()},
		{"ok/empty", &Record{Fields: []Field{}, Index: [][]byte{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Marshal(tc.r)
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.r, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
			if env, ok := got.Field("name"); tc.r.Collection != "" && (!ok || string(env) != "e2") {
				t.Fatalf("Field(name) = %q, %v", env, ok)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := Marshal(sample())
	unsorted := sample()
	unsorted.Fields[0], unsorted.Fields[1] = unsorted.Fields[1], unsorted.Fields[0]
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"fail/empty", nil},
		{"fail/version", append([]byte{2}, good[1:]...)},
		{"fail/truncated", good[:len(good)-1]},
		{"fail/trailing", append(append([]byte(nil), good...), 0)},
		{"fail/unsorted", Marshal(unsorted)},
		{"fail/huge-length", []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Marshal(sample()))
	f.Add(Marshal(&Record{}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(Marshal(r), b) {
			t.Fatalf("Marshal(Parse(b)) != b")
		}
	})
}
