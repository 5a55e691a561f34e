package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI is tested with scripts in testdata/script/*.txt (see
// github.com/rogpeppe/go-internal/testscript). In a script:
//
//   - `domicile ARGS` (or `exec domicile ARGS`) runs the real main, in a
//     fresh process, with the script's stdin, stdout and stderr;
//   - $REPO is the repository root, for files such as examples/ and
//     internal/*/testdata/;
//   - $TESTDATA is cmd/domicile/testdata, where fixtures live in one
//     directory per command group (e.g. $TESTDATA/crypto);
//   - `exits CODE CMD [ARGS...]` runs CMD like exec and checks that it
//     exits with CODE, e.g. `exits 2 domicile crypto hash` for a usage
//     mistake (`! exec` only checks for a non-zero code);
//   - `filemode PERM FILE` checks a file's permission bits (e.g. 0600);
//   - the usual conditions apply, e.g. [exec:openssl] or [unix].

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		// main runs run(ctx, env, os.Args[1:]) and exits with its code.
		"domicile": main,
	})
}

func TestScripts(t *testing.T) {
	repo, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("TESTDATA", testdata)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    cmdExits,
			"filemode": cmdFilemode,
		},
	})
}

// cmdExits implements `exits CODE CMD [ARGS...]`: CMD runs as with exec,
// leaving its stdout and stderr for the next commands, and must exit with
// CODE.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exits")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exits CODE CMD [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad CODE %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exits: %s exited with %d, want %d", args[1], got, want)
	}
}

// cmdFilemode implements `filemode PERM FILE`: FILE's permission bits are
// PERM, an octal number.
func cmdFilemode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filemode PERM FILE")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("filemode: bad PERM %q: %v", args[0], err)
	}
	st, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	got := uint64(st.Mode().Perm())
	switch {
	case neg && got == want:
		ts.Fatalf("filemode: %s is %#o", args[1], got)
	case !neg && got != want:
		ts.Fatalf("filemode: %s is %#o, want %#o", args[1], got, want)
	}
}

// repoRoot returns the directory holding go.mod, above the test's working
// directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test directory")
		}
		dir = parent
	}
}
