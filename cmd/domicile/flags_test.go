package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

// TestParseFlagsAnyPosition: every command parses its flags before,
// between and after its positional arguments, and "--" ends the flags.
func TestParseFlagsAnyPosition(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		pos     []string
		expires string
		yes     bool
	}{
		{"flags first", []string{"--expires-in", "720h", "agent-7"}, []string{"agent-7"}, "720h", false},
		{"flags after the id", []string{"agent-7", "--expires-in", "720h"}, []string{"agent-7"}, "720h", false},
		{"flags between", []string{"a", "--yes", "b", "--expires-in=1h", "c"}, []string{"a", "b", "c"}, "1h", true},
		{"double dash", []string{"a", "--", "--yes", "-x"}, []string{"a", "--yes", "-x"}, "", false},
		{"plus-prefixed value", []string{"+8613806135962", "--yes"}, []string{"+8613806135962"}, "", true},
		{"none", nil, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("principals rotate-token", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			expires := fs.String("expires-in", "", "")
			yes := fs.Bool("yes", false, "")
			if err := parseFlags(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fs.Args(), tc.pos) && !(len(fs.Args()) == 0 && len(tc.pos) == 0) {
				t.Errorf("positional %q, want %q", fs.Args(), tc.pos)
			}
			if *expires != tc.expires || *yes != tc.yes {
				t.Errorf("--expires-in %q --yes %v, want %q %v", *expires, *yes, tc.expires, tc.yes)
			}
		})
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := parseFlags(fs, []string{"a", "--nope"}); err == nil {
		t.Error("an unknown flag after a positional argument was accepted")
	}
}
