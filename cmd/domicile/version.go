package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release and commit the commit it was built from, set at
// build time (make build sets commit: -ldflags "-X main.commit=REV"); a
// plain build says "dev" and takes the commit from Go's VCS stamp, when
// there is one.
var (
	version = "dev"
	commit  = ""
)

// runVersion prints the version, the commit the binary was built from and
// the Go version: what an operator quotes in a bug report.
func runVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", "domicile version", `  domicile version
  domicile --version`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("version: takes no arguments").withHint("run 'domicile version'")
	}
	fmt.Fprintln(e.stdout, versionLine())
	return nil
}

// versionLine is "domicile VERSION (commit REV[, modified]) GOVERSION".
func versionLine() string {
	rev, modified := commit, false
	if bi, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	if modified {
		rev += ", modified"
	}
	return fmt.Sprintf("domicile %s (commit %s) %s", version, rev, runtime.Version())
}
