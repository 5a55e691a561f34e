package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompletionCoversTheDispatchTables: every command of the dispatch
// table is in the tree, and every subcommand of the table-driven groups;
// each subcommand the tree names really dispatches.
func TestCompletionCoversTheDispatchTables(t *testing.T) {
	ctx := context.Background()
	tree := completionTree(ctx)
	byName := map[string]compCommand{}
	for _, c := range tree {
		byName[c.name] = c
	}
	for _, c := range commands() {
		if _, ok := byName[c.name]; !ok {
			t.Errorf("command %s is not in the completion tree", c.name)
		}
	}
	for group, table := range map[string][]apiCommand{"records": recordsCommands(), "keys": keysCommands()} {
		for _, s := range table {
			if !slices.ContainsFunc(byName[group].subs, func(c compCommand) bool { return c.name == s.name }) {
				t.Errorf("%s %s is not in the completion tree", group, s.name)
			}
		}
	}
	for _, s := range cryptoCommands() {
		if !slices.ContainsFunc(byName["crypto"].subs, func(c compCommand) bool { return c.name == s.name }) {
			t.Errorf("crypto %s is not in the completion tree", s.name)
		}
	}
	for _, c := range tree {
		for _, s := range c.subs {
			if c.name == "completion" {
				continue // a shell, not a subcommand with --help
			}
			code, _, stderr := cliRun(ctx, nil, "", false, c.name, s.name, "--help")
			if code != 0 || strings.Contains(stderr, "unknown subcommand") {
				t.Errorf("'%s %s --help': exit %d, %s", c.name, s.name, code, stderr)
			}
		}
	}
	// Some flags that must be there, from subcommands and commands alike.
	for _, want := range []struct{ cmd, sub, flag string }{
		{"records", "export", "collection"}, {"records", "export", "region"}, {"records", "import", "rejects"},
		{"audit", "entries", "since"}, {"dev", "", "data"}, {"serve", "", "region"},
	} {
		c := byName[want.cmd]
		flags := c.flags
		if want.sub != "" {
			i := slices.IndexFunc(c.subs, func(s compCommand) bool { return s.name == want.sub })
			if i < 0 {
				t.Errorf("no %s %s", want.cmd, want.sub)
				continue
			}
			flags = c.subs[i].flags
		}
		if !slices.Contains(flags, want.flag) {
			t.Errorf("%s %s: no --%s in %v", want.cmd, want.sub, want.flag, flags)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	ctx := context.Background()
	for _, shell := range completionShells {
		t.Run("ok/"+shell, func(t *testing.T) {
			code, stdout, stderr := cliRun(ctx, nil, "", false, "completion", shell)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, c := range commands() {
				if !strings.Contains(stdout, c.name) {
					t.Errorf("the %s script lacks command %s", shell, c.name)
				}
			}
			for _, s := range []string{"export", "--collection", "list-subject", "--idempotency-key"} {
				if shell == "fish" {
					s = strings.Replace(s, "--", "-l ", 1)
				}
				if !strings.Contains(stdout, s) {
					t.Errorf("the %s script lacks %s", shell, s)
				}
			}
			checkSyntax(t, shell, stdout)
			if shell == "bash" {
				checkBashCompletes(t, stdout)
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"fail/unknown-shell", []string{"completion", "powershell"}, 2, "unknown shell"},
		{"fail/no-shell", []string{"completion"}, 2, "SHELL"},
		{"ok/help", []string{"completion", "--help"}, 0, "source <(domicile completion bash)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cliRun(ctx, nil, "", false, tc.args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
			if tc.code == 0 && strings.Contains(stdout, "complete -") {
				t.Error("--help printed a script")
			}
		})
	}
}

// checkSyntax has the shell parse the script without running it, where
// the shell is installed; under CI bash must be.
func checkSyntax(t *testing.T, shell, script string) {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		if shell == "bash" && os.Getenv("CI") != "" {
			t.Fatal("bash is not installed")
		}
		t.Logf("%s is not installed: its script's syntax is not checked", shell)
		return
	}
	file := filepath.Join(t.TempDir(), "completion."+shell)
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", file}
	if shell == "fish" {
		args = []string{"--no-execute", file}
	}
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Errorf("%s does not parse the script: %v\n%s", shell, err, out)
	}
}

// checkBashCompletes sources the bash script and asks it to complete.
func checkBashCompletes(t *testing.T, script string) {
	t.Helper()
	path, err := exec.LookPath("bash")
	if err != nil {
		return // checkSyntax said so
	}
	file := filepath.Join(t.TempDir(), "completion.bash")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ words, want string }{
		{"domicile reco", "records"},
		{"domicile records exp", "export"},
		{"domicile records export --coll", "--collection"},
		{"domicile audit ent", "entries"},
		{"domicile dev --no-s", "--no-seed"},
		{"domicile completion fi", "fish"},
	} {
		probe := "source " + file + "; COMP_WORDS=(" + c.words + "); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _domicile; echo \"${COMPREPLY[*]}\""
		out, err := exec.Command(path, "--norc", "-c", probe).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("bash completes %q as %q (%v), want %q", c.words, out, err, c.want)
		}
	}
}
