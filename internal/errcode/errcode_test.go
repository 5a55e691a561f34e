package errcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	cause := errors.New("disk full")
	e := Wrap(Internal, cause, "store %s", "x")
	if e.Index != NoIndex || e.Error() != "internal_error: store x: disk full" || !errors.Is(e, cause) {
		t.Errorf("Wrap = %+v (%q)", e, e.Error())
	}
	n := New(UnknownField, "field %q is not in %s", "f", "c")
	if n.Index != NoIndex || n.Err != nil || n.Error() != `unknown_field: field "f" is not in c` {
		t.Errorf("New = %+v (%q)", n, n.Error())
	}
	if CodeOf(fmt.Errorf("ctx: %w", n)) != UnknownField || CodeOf(cause) != "" || CodeOf(nil) != "" {
		t.Error("CodeOf does not find the code")
	}
}
