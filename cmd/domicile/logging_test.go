package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestLogFlags: the log flags choose the handler and the level; the
// defaults are text at info.
func TestLogFlags(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		json      bool
		debug, ok bool // whether a debug and an info line are written
	}{
		{"ok/default", nil, false, false, true},
		{"ok/json-debug", []string{"--log-format", "json", "--log-level", "debug"}, true, true, true},
		{"ok/text-warn", []string{"--log-format=text", "--log-level=warn"}, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			e := &env{stderr: &stderr}
			fs := newFlagSet(e, "serve", "", "")
			lf := addLogFlags(fs)
			if err := parseFlags(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			log := lf.logger(e)
			log.Debug("dbg")
			log.Info("inf", "k", "v")
			out := stderr.String()
			if strings.Contains(out, "dbg") != tc.debug || strings.Contains(out, "inf") != tc.ok {
				t.Fatalf("log %q: debug line %v, info line %v", out, tc.debug, tc.ok)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if line == "" {
					continue
				}
				if isJSON := json.Valid([]byte(line)); isJSON != tc.json {
					t.Errorf("line %q: JSON %v, want %v", line, isJSON, tc.json)
				}
			}
		})
	}
	for _, bad := range [][]string{{"--log-format", "xml"}, {"--log-level", "trace"}, {"--log-level", "INFO"}} {
		e := &env{stderr: &bytes.Buffer{}}
		fs := newFlagSet(e, "serve", "", "")
		addLogFlags(fs)
		if err := parseFlags(fs, bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
