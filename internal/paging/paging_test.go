package paging

import (
	"testing"

	"github.com/domicile/domicile/internal/errcode"
)

func TestSize(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, DefaultPageSize}, {1, 1}, {MaxPageSize, MaxPageSize}, {MaxPageSize + 1, MaxPageSize}} {
		if got, err := Size(c.in); err != nil || got != c.want {
			t.Errorf("Size(%d) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	if _, err := Size(-5); errcode.CodeOf(err) != errcode.InvalidRequest {
		t.Errorf("Size(-5): %v, want invalid_request", err)
	}
}

func TestParam(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{{"", DefaultPageSize}, {"7", 7}, {"5000", MaxPageSize}} {
		if got, err := Param(c.in); err != nil || got != c.want {
			t.Errorf("Param(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"0", "-1", "x", "1.5", " 3"} {
		if _, err := Param(bad); errcode.CodeOf(err) != errcode.InvalidRequest {
			t.Errorf("Param(%q): %v, want invalid_request", bad, err)
		}
	}
}
