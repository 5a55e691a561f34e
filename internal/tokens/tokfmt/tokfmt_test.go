package tokfmt_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

func TestRoundTrip(t *testing.T) {
	var id [tokfmt.IDSize]byte
	for i := range id {
		id[i] = byte(0xf0 + i)
	}
	for _, tc := range []struct {
		name string
		tok  tokfmt.Token
	}{
		{"ok/random", tokfmt.Token{Kind: tokfmt.Random, Region: "cn-north", ID: id}},
		{"ok/random-zero", tokfmt.Token{Kind: tokfmt.Random, Region: "us-east"}},
		{"ok/deterministic", tokfmt.Token{Kind: tokfmt.Deterministic, Region: "eu-central", Version: 1, ID: id}},
		{"ok/deterministic-max-version", tokfmt.Token{Kind: tokfmt.Deterministic, Region: strings.Repeat("a", 32), Version: 1<<32 - 1, ID: id}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.tok.Validate(); err != nil {
				t.Fatal(err)
			}
			s := tc.tok.String()
			if len(s) > tokfmt.MaxLen {
				t.Fatalf("%d bytes, MaxLen %d", len(s), tokfmt.MaxLen)
			}
			if !tokfmt.IsToken(s) {
				t.Fatal("IsToken false")
			}
			got, err := tokfmt.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.tok {
				t.Fatalf("Parse(%q) = %+v, want %+v", s, got, tc.tok)
			}
			if r, err := tokfmt.RegionOf(s); err != nil || r != tc.tok.Region {
				t.Fatalf("RegionOf = %q, %v", r, err)
			}
		})
	}
}

func TestParseFail(t *testing.T) {
	const id = "aaaaaaaaaaaaaaaaaaaaaaaaaa" // 26 chars, canonical
	for _, tc := range []struct{ name, s string }{
		{"fail/empty", ""},
		{"fail/fpe-shape", "+8613812345678"},
		{"fail/prefix-case", "TKR_cn-north_" + id},
		{"fail/no-region", "tkr_" + id},
		{"fail/empty-region", "tkr__" + id},
		{"fail/region-upper", "tkr_CN-north_" + id},
		{"fail/region-digit-first", "tkr_1cn_" + id},
		{"fail/region-too-long", "tkr_" + strings.Repeat("a", 33) + "_" + id},
		{"fail/id-short", "tkr_cn-north_" + id[1:]},
		{"fail/id-long", "tkr_cn-north_" + id + "a"},
		{"fail/id-upper", "tkr_cn-north_" + strings.ToUpper(id)},
		{"fail/id-bad-char", "tkr_cn-north_" + id[:25] + "1"},
		{"fail/id-non-canonical", "tkr_cn-north_" + id[:25] + "b"},
		{"fail/id-padding", "tkr_cn-north_" + id[:24] + "=="},
		{"fail/random-extra", "tkr_cn-north_v1_" + id},
		{"fail/det-no-version", "tkd_cn-north_" + id},
		{"fail/det-v0", "tkd_cn-north_v0_" + id},
		{"fail/det-leading-zero", "tkd_cn-north_v01_" + id},
		{"fail/det-sign", "tkd_cn-north_v+1_" + id},
		{"fail/det-overflow", "tkd_cn-north_v4294967296_" + id},
		{"fail/det-empty-version", "tkd_cn-north_v_" + id},
		{"fail/det-upper-v", "tkd_cn-north_V1_" + id},
		{"fail/too-long", "tkd_cn-north_v1_" + strings.Repeat("a", 200)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokfmt.Parse(tc.s)
			var pe *tokfmt.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, tokfmt.ErrMalformed) {
				t.Fatalf("Parse = %v, want a *ParseError", err)
			}
			if len(tc.s) > 8 && strings.Contains(err.Error(), tc.s) {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    tokfmt.Entry
	}{
		{"ok/region", tokfmt.Entry{Sealer: tokfmt.SealerRegion, Collection: "customers", Field: "email", Jurisdiction: "CN", Envelope: []byte{0xd1, 1, 2}}},
		{"ok/region-no-jurisdiction", tokfmt.Entry{Sealer: tokfmt.SealerRegion, Collection: "c", Field: "f", Envelope: []byte{1}}},
		{"ok/subject", tokfmt.Entry{Sealer: tokfmt.SealerSubject, Collection: "customers", Field: "national_id", Jurisdiction: "CN",
			SubjectRef: bytes.Repeat([]byte{7}, 32), RecordID: "rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", Envelope: bytes.Repeat([]byte{9}, 300)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tokfmt.MarshalEntry(&tc.e)
			got, err := tokfmt.ParseEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Sealer != tc.e.Sealer || got.Collection != tc.e.Collection || got.Field != tc.e.Field ||
				got.Jurisdiction != tc.e.Jurisdiction || !bytes.Equal(got.SubjectRef, tc.e.SubjectRef) ||
				got.RecordID != tc.e.RecordID || !bytes.Equal(got.Envelope, tc.e.Envelope) {
				t.Fatalf("got %+v, want %+v", got, tc.e)
			}
			if !bytes.Equal(tokfmt.MarshalEntry(got), b) {
				t.Fatal("re-marshal differs")
			}
		})
	}
}

func TestParseEntryFail(t *testing.T) {
	good := tokfmt.MarshalEntry(&tokfmt.Entry{Sealer: tokfmt.SealerSubject, Collection: "c", Field: "f", Jurisdiction: "CN", SubjectRef: []byte{1, 2}, RecordID: "r", Envelope: []byte{1}})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"fail/empty", nil},
		{"fail/one-byte", []byte{1}},
		{"fail/version", append([]byte{2}, good[1:]...)},
		{"fail/sealer-0", append([]byte{1, 0}, good[2:]...)},
		{"fail/sealer-3", append([]byte{1, 3}, good[2:]...)},
		{"fail/no-envelope", good[:len(good)-1]},
		{"fail/truncated-lp", good[:4]},
		{"fail/non-minimal-length", []byte{1, 1, 0x81, 0x00, 'c', 0, 0, 1}},
		{"fail/too-long-length", []byte{1, 1, 0x81, 0x10, 'c'}},
		{"fail/subject-no-ref", tokfmt.MarshalEntry(&tokfmt.Entry{Sealer: tokfmt.SealerSubject, Collection: "c", Field: "f", RecordID: "r", Envelope: []byte{1}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokfmt.ParseEntry(tc.b)
			var pe *tokfmt.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, tokfmt.ErrMalformed) {
				t.Fatalf("ParseEntry = %v, want a *ParseError", err)
			}
		})
	}
}
