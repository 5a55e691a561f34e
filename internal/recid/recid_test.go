package recid

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func TestNewRegionOf(t *testing.T) {
	id, err := New(rand.Reader, "eu-central")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := RegionOf(id); !ok || r != "eu-central" {
		t.Fatalf("RegionOf(%q) = %q, %v", id, r, ok)
	}
	if _, err := New(bytes.NewReader(make([]byte, 15)), "x"); err == nil {
		t.Error("New with a short reader succeeded")
	}
}

func TestRegionOfRejects(t *testing.T) {
	for _, bad := range []string{"", "rec_", "rec__3n4xq7kz2m5vb6wtc2ryhjd4pa", "rec_eu-central_3n4xq7kz2m5vb6wtc2ryhjd4p",
		"rec_eu_central_3n4xq7kz2m5vb6wtc2ryhjd4pa", "rec_eu-central_3n4xq7kz2m5vb6wtc2ryhjd4p1", "rec_EU_3n4xq7kz2m5vb6wtc2ryhjd4pa",
		"tkr_eu-central_3n4xq7kz2m5vb6wtc2ryhjd4pa", "rec_eu-central_" + strings.Repeat("a", 27)} {
		if r, ok := RegionOf(bad); ok {
			t.Errorf("RegionOf(%q) = %q, true", bad, r)
		}
	}
}

func FuzzRegionOf(f *testing.F) {
	f.Add("rec_cn-north_3n4xq7kz2m5vb6wtc2ryhjd4pa")
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := RegionOf(s)
		if ok && (r == "" || !strings.HasPrefix(s, Prefix+r+"_")) {
			t.Fatalf("RegionOf(%q) = %q", s, r)
		}
	})
}
