package tokfmt_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// FuzzParse checks that Parse never panics, fails only with a *ParseError,
// and that every accepted token re-encodes to exactly its input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tkr_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa",
		"tkr_us-east_7777777777777777777777777q",
		"tkd_cn-north_v1_abcdefghijklmnopqrstuvwxya",
		"tkd_eu-central_v4294967295_aaaaaaaaaaaaaaaaaaaaaaaaaa",
		"tkd_cn-north_v01_aaaaaaaaaaaaaaaaaaaaaaaaaa",
		"tkr__", "tkd_a_v_", "+8613812345678", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := tokfmt.Parse(s)
		if err != nil {
			var pe *tokfmt.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if err := tok.Validate(); err != nil {
			t.Fatalf("parsed token does not validate: %v", err)
		}
		if got := tok.String(); got != s {
			t.Fatalf("Parse(%q).String() = %q", s, got)
		}
		if !tokfmt.IsToken(s) {
			t.Fatal("parsed but IsToken is false")
		}
	})
}

// FuzzParseEntry checks that ParseEntry never panics and that every accepted
// entry re-encodes to exactly its input.
func FuzzParseEntry(f *testing.F) {
	f.Add(tokfmt.MarshalEntry(&tokfmt.Entry{Sealer: tokfmt.SealerRegion, Collection: "customers", Field: "email", Jurisdiction: "CN", Envelope: []byte{0xd1, 2, 'c', 'n'}}))
	f.Add(tokfmt.MarshalEntry(&tokfmt.Entry{Sealer: tokfmt.SealerSubject, Collection: "customers", Field: "id", SubjectRef: bytes.Repeat([]byte{1}, 32), RecordID: "rec_x", Envelope: []byte{1}}))
	f.Add([]byte{1, 1, 0x80, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := tokfmt.ParseEntry(b)
		if err != nil {
			var pe *tokfmt.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if got := tokfmt.MarshalEntry(e); !bytes.Equal(got, b) {
			t.Fatalf("ParseEntry(%x) re-encodes to %x", b, got)
		}
	})
}
