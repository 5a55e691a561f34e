//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeTour runs every command of README.md's "A five-minute tour", as
// written, in a fresh dev vault started the way `make run` starts it (the
// Makefile's run recipe, on a free port), and compares what each prints with
// the README. The working directory stands for the repository root:
// bin/domicile is the binary under test, the repository's other top-level
// directories are linked in, data/ is the vault's.
//
// How the README is read, block by block (fenced code blocks of the tour):
//   - The first block is what `make run` prints (output shortened): its lines
//     must be the first lines the dev server prints.
//   - In a block with `$ ` lines, each `$ ` line is a command (with its `\`
//     continuation lines) and the lines after it, up to the next command,
//     are its output, stdout and stderr together. A command shown with no
//     output must print nothing. A command whose output starts with `error:`
//     must fail; every other command must succeed.
//   - Every line of an sh block is a command with no output (the export).
//   - Other blocks (answers of the API) are illustrations and are not run.
//   - Commands run in one shell session: each runs with `bash -c` and the
//     variables it sets or exports carry over to the commands after it.
//   - A command whose comment says "with the node stopped" runs with the
//     dev server stopped; the test starts it again (same data and address)
//     right after.
//
// How output is compared:
//   - Output lines match the actual lines one for one, in order, trailing
//     blanks aside. A line `...` stands for any number of lines; `...` at the
//     end of a line for any rest of that line; a line ending in `,`
//     continues on the next (long JSON is wrapped).
//   - The Makefile's address (127.0.0.1:8700) stands for the test's.
//   - Ids and tokens are examples: rec_, tkr_ and tkd_ ids and dmc_ tokens
//     with any random tail, and the fpe phone token after `phone=` with any
//     last 7 digits. The first output that shows one binds it to the real
//     value, which then replaces it in every later command and output; a
//     command that uses one before any output showed it, or two examples
//     for one real value, is a README error.
//   - In the output of `audit` commands, numbers, base64 hashes and hex
//     hashes shortened with `...` match any such value: the log grows with
//     whatever the node audits.
//
// Each command has a minute; the test asserts nothing about durations.
func TestReadmeTour(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := tourBlocks(t, string(readme))
	if len(blocks) < 2 {
		t.Fatalf("README.md: found %d code blocks in %q, want the tour", len(blocks), tourHeading)
	}

	tr := newTour(t)
	tr.node.start(t, "127.0.0.1:0")
	b := &binder{addr: tr.readmeAddr, realAddr: tr.node.addr, vals: map[string]string{}}
	tr.checkBanner(t, b, blocks[0])

	ctx := context.Background()
	for _, bl := range blocks[1:] {
		steps, ok := bl.steps(t)
		if !ok {
			t.Logf("README.md:%d: a %q block of no commands, not run", bl.line, bl.lang)
			continue
		}
		for _, st := range steps {
			cmd, err := b.command(st.cmd)
			if err != nil {
				t.Fatalf("README.md:%d: %v\n$ %s", st.line, err, st.cmd)
			}
			if st.offline {
				tr.node.stop()
			}
			out, code, err := tr.sh(ctx, cmd)
			if err != nil {
				t.Fatalf("README.md:%d: $ %s\n%v\noutput:\n%s", st.line, cmd, err, out)
			}
			t.Logf("README.md:%d: $ %s\n%s(exit status %d)", st.line, cmd, out, code)
			if st.offline {
				tr.node.start(t, tr.node.addr)
			}
			wantErr := len(st.want) > 0 && strings.HasPrefix(st.want[0].text, "error:")
			if wantErr != (code != 0) {
				shows := "success"
				if wantErr {
					shows = "an error"
				}
				t.Errorf("README.md:%d: $ %s\nexit status %d, but the README shows %s\noutput:\n%s",
					st.line, cmd, code, shows, indent(out))
			}
			loose := strings.Contains(st.cmd, "domicile audit ")
			if msg := b.compare(st.want, splitLines(out), loose, false); msg != "" {
				t.Errorf("README.md:%d: $ %s\n%s\nwhole output:\n%s", st.line, cmd, msg, indent(out))
			}
		}
	}
}

const tourHeading = "## A five-minute tour"

// A codeBlock is one fenced block of the tour.
type codeBlock struct {
	line  int // README line of the opening fence
	lang  string
	lines []readmeLine
}

type readmeLine struct {
	line int
	text string
}

// A tourStep is one command of the tour and the output the README shows.
type tourStep struct {
	line    int
	cmd     string
	want    []readmeLine
	offline bool
}

// tourBlocks returns the fenced blocks of the tour section.
func tourBlocks(t *testing.T, readme string) []codeBlock {
	t.Helper()
	var blocks []codeBlock
	in, fenced := false, false
	for i, l := range strings.Split(readme, "\n") {
		switch {
		case l == tourHeading:
			in = true
		case !in:
		case strings.HasPrefix(l, "## ") && !fenced:
			return blocks
		case strings.HasPrefix(l, "```"):
			if !fenced {
				blocks = append(blocks, codeBlock{line: i + 1, lang: strings.TrimPrefix(l, "```")})
			}
			fenced = !fenced
		case fenced:
			bl := &blocks[len(blocks)-1]
			bl.lines = append(bl.lines, readmeLine{i + 1, strings.TrimRight(l, " \t")})
		}
	}
	if !in {
		t.Fatalf("README.md has no %q section", tourHeading)
	}
	return blocks
}

var offlineMarker = regexp.MustCompile(`#.*with the node stopped`)

// steps splits a block into commands; ok is false for a block that has
// none (an illustration).
func (bl codeBlock) steps(t *testing.T) (steps []tourStep, ok bool) {
	t.Helper()
	prompt := bl.lang == "sh"
	for _, l := range bl.lines {
		prompt = prompt || strings.HasPrefix(l.text, "$ ")
	}
	if !prompt {
		return nil, false
	}
	for i := 0; i < len(bl.lines); i++ {
		l := bl.lines[i]
		cmd, isCmd := strings.CutPrefix(l.text, "$ ")
		if bl.lang == "sh" {
			cmd, isCmd = l.text, strings.TrimSpace(l.text) != ""
		}
		if !isCmd {
			if len(steps) == 0 {
				if l.text == "" {
					continue
				}
				t.Fatalf("README.md:%d: output before any command: %q", l.line, l.text)
			}
			st := &steps[len(steps)-1]
			st.want = append(st.want, l)
			continue
		}
		for strings.HasSuffix(cmd, `\`) && i+1 < len(bl.lines) {
			i++
			cmd += "\n" + bl.lines[i].text
		}
		steps = append(steps, tourStep{line: l.line, cmd: cmd, offline: offlineMarker.MatchString(cmd)})
	}
	for i := range steps {
		steps[i].want = joinWrapped(trimBlankTail(steps[i].want))
	}
	return steps, true
}

func trimBlankTail(ls []readmeLine) []readmeLine {
	for len(ls) > 0 && ls[len(ls)-1].text == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// joinWrapped joins an output line that ends in a comma with the next.
func joinWrapped(ls []readmeLine) []readmeLine {
	var out []readmeLine
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		for strings.HasSuffix(l.text, ",") && i+1 < len(ls) {
			i++
			l.text += strings.TrimLeft(ls[i].text, " \t")
		}
		out = append(out, l)
	}
	return out
}

// A placeholder kind: group 1 of find is an example value in the README,
// whose last tail characters vary (of class).
type placeholderKind struct {
	find  *regexp.Regexp
	tail  int
	class string
}

var placeholderKinds = []placeholderKind{
	{regexp.MustCompile(`\b((?:rec|tkr)_[a-z0-9-]+_[a-z2-7]{26})\b`), 26, `[a-z2-7]`},
	{regexp.MustCompile(`\b(tkd_[a-z0-9-]+_v\d+_[a-z2-7]{26})\b`), 26, `[a-z2-7]`},
	{regexp.MustCompile(`\b(dmc_[a-z2-7]{52})\b`), 52, `[a-z2-7]`},
	{regexp.MustCompile(`phone=(\+\d{8,15})\b`), 7, `\d`},
}

// looseAudit are the values that vary in the output of audit commands.
var looseAudit = []struct {
	find *regexp.Regexp
	re   string
}{
	{regexp.MustCompile(`[A-Za-z0-9+/]{43}=`), `[A-Za-z0-9+/]{43}=`}, // a 32-byte hash in base64
	{regexp.MustCompile(`\b[0-9a-f]+\.\.\.`), `[0-9a-f]+`},           // a hex hash, shortened
	{regexp.MustCompile(`\b\d+\b`), `\d+`},                           // a count
}

// A binder holds the README's example values bound to real ones.
type binder struct {
	addr, realAddr string            // the README's address and the test's
	vals           map[string]string // README value -> real value
}

// command returns a README command with its example values replaced by
// real ones; an example no output has shown yet is an error.
func (b *binder) command(cmd string) (string, error) {
	cmd = strings.ReplaceAll(cmd, b.addr, b.realAddr)
	for _, k := range placeholderKinds {
		for _, m := range k.find.FindAllStringSubmatch(cmd, -1) {
			if _, ok := b.vals[m[1]]; !ok {
				return "", fmt.Errorf("the command uses %s before any output showed it", m[1])
			}
		}
	}
	for from, to := range b.vals {
		cmd = strings.ReplaceAll(cmd, from, to)
	}
	return cmd, nil
}

// A linePattern matches one actual output line; groups[i] is the README
// value that capture group i+1 binds.
type linePattern struct {
	re     *regexp.Regexp
	groups []string
}

func (b *binder) pattern(text string, loose bool) linePattern {
	text = strings.ReplaceAll(text, b.addr, b.realAddr)
	prefix := false
	if s, ok := strings.CutSuffix(text, "..."); ok {
		text, prefix = strings.TrimRight(s, " \t"), true
	}
	type span struct {
		lo, hi int
		re     string
		group  string
	}
	var spans []span
	add := func(s span) {
		for _, o := range spans {
			if s.lo < o.hi && o.lo < s.hi {
				return
			}
		}
		spans = append(spans, s)
	}
	for _, k := range placeholderKinds {
		for _, m := range k.find.FindAllStringSubmatchIndex(text, -1) {
			v := text[m[2]:m[3]]
			if real, ok := b.vals[v]; ok {
				add(span{m[2], m[3], regexp.QuoteMeta(real), ""})
			} else {
				add(span{m[2], m[3], fmt.Sprintf("(%s%s{%d})", regexp.QuoteMeta(v[:len(v)-k.tail]), k.class, k.tail), v})
			}
		}
	}
	if loose {
		for _, l := range looseAudit {
			for _, m := range l.find.FindAllStringIndex(text, -1) {
				add(span{m[0], m[1], l.re, ""})
			}
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	var re strings.Builder
	var p linePattern
	re.WriteString("^")
	at := 0
	for _, s := range spans {
		re.WriteString(regexp.QuoteMeta(text[at:s.lo]) + s.re)
		if s.group != "" {
			p.groups = append(p.groups, s.group)
		}
		at = s.hi
	}
	re.WriteString(regexp.QuoteMeta(text[at:]))
	if !prefix {
		re.WriteString("$")
	}
	p.re = regexp.MustCompile(re.String())
	return p
}

// match reports whether an actual line matches the README's, and binds
// the examples it shows.
func (b *binder) match(want readmeLine, got string, loose bool) bool {
	p := b.pattern(want.text, loose)
	m := p.re.FindStringSubmatch(got)
	if m == nil {
		return false
	}
	bound := map[string]string{}
	for i, v := range p.groups {
		if prev, ok := bound[v]; ok && prev != m[i+1] {
			return false // one example, two real values
		}
		bound[v] = m[i+1]
	}
	for v, real := range bound {
		for other, r := range b.vals {
			if r == real && other != v {
				return false // two examples, one real value: the README is inconsistent
			}
		}
	}
	for v, real := range bound {
		b.vals[v] = real
	}
	return true
}

// compare matches actual output lines against the README's and returns
// what differs, or "". With rest, lines after the README's last are fine.
func (b *binder) compare(want []readmeLine, got []string, loose, rest bool) string {
	g, skip := 0, false
	for _, w := range want {
		if w.text == "..." {
			skip = true
			continue
		}
		if skip {
			for g < len(got) && !b.match(w, got[g], loose) {
				g++
			}
			if g == len(got) {
				return fmt.Sprintf("README.md:%d: no output line matches\n  want: %s", w.line, w.text)
			}
		} else {
			if g == len(got) {
				return fmt.Sprintf("README.md:%d: the output ends before\n  want: %s", w.line, w.text)
			}
			if !b.match(w, got[g], loose) {
				return fmt.Sprintf("README.md:%d: output line %d differs\n  want: %s\n  got:  %s", w.line, g+1, w.text, got[g])
			}
		}
		g++
		skip = false
	}
	if g < len(got) && !skip && !rest {
		if len(want) == 0 {
			return "the README shows no output, but the command prints some"
		}
		return fmt.Sprintf("output line %d is not in the README (end the README's output with ... if it is left out on purpose)\n  got:  %s", g+1, got[g])
	}
	return ""
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, " \t")
	}
	return ls
}

func indent(s string) string {
	if s == "" {
		return "    (nothing)\n"
	}
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ") + "\n"
}

// A tour is the shell session the README's commands run in.
type tour struct {
	dir        string   // the working directory, laid out like the repository root
	env        []string // the session's exported variables
	envFile    string
	readmeAddr string // the address `make run` listens on, as the README shows it
	node       *tourNode
}

func newTour(t *testing.T) *tour {
	t.Helper()
	dir, scratch := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(dir, "bin", "domicile")); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); e.IsDir() && n != "bin" && n != "data" && !strings.HasPrefix(n, ".") {
			if err := os.Symlink(filepath.Join(root, n), filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOMICILE_") {
			env = append(env, kv)
		}
	}
	argv, addr := makeRun(t, filepath.Join(root, "Makefile"))
	return &tour{dir: dir, env: env, envFile: filepath.Join(scratch, "env"), readmeAddr: addr,
		node: &tourNode{dir: dir, argv: argv}}
}

// makeRun returns the Makefile's run recipe, with its listen address as a
// function of the address to use, and the address it listens on by
// default.
func makeRun(t *testing.T, makefile string) (argv func(listen string) []string, addr string) {
	t.Helper()
	b, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	assign := regexp.MustCompile(`^([A-Z_]+)\s*[:?]?=\s*(.*?)\s*$`)
	recipe, inRun := "", false
	for _, l := range strings.Split(string(b), "\n") {
		if m := assign.FindStringSubmatch(l); m != nil {
			vars[m[1]] = m[2]
		}
		if strings.HasPrefix(l, "run:") {
			inRun = true
		} else if inRun && strings.HasPrefix(l, "\t") && recipe == "" {
			recipe = strings.TrimSpace(l)
		}
	}
	if recipe == "" || vars["LISTEN"] == "" {
		t.Fatalf("%s: no run recipe or no LISTEN", makefile)
	}
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	return func(listen string) []string {
		return strings.Fields(ref.ReplaceAllStringFunc(recipe, func(r string) string {
			name := ref.FindStringSubmatch(r)[1]
			if name == "LISTEN" {
				return listen
			}
			return vars[name]
		}))
	}, vars["LISTEN"]
}

// sh runs one command in the session: its output (stdout and stderr
// together), its exit status, and an error if it could not run or did not
// finish within a minute.
func (tr *tour) sh(ctx context.Context, cmd string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	os.Remove(tr.envFile)
	script := "set -a\ntrap 'env -0 >\"" + tr.envFile + "\"' EXIT\n" + cmd + "\n"
	c := exec.CommandContext(ctx, "bash", "-c", script)
	c.Dir, c.Env = tr.dir, tr.env
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	err := c.Run()
	if ctx.Err() != nil {
		return out.String(), -1, fmt.Errorf("no end within a minute: %v", err)
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		return out.String(), -1, err
	}
	if b, err := os.ReadFile(tr.envFile); err == nil {
		var env []string
		for _, kv := range strings.Split(string(b), "\x00") {
			if kv != "" && !strings.HasPrefix(kv, "_=") && !strings.HasPrefix(kv, "SHLVL=") {
				env = append(env, kv)
			}
		}
		tr.env = env
	}
	return out.String(), code, nil
}

// checkBanner compares the tour's first block with what the dev server
// printed when it started.
func (tr *tour) checkBanner(t *testing.T, b *binder, bl codeBlock) {
	t.Helper()
	if msg := b.compare(trimBlankTail(bl.lines), splitLines(tr.node.banner), false, true); msg != "" {
		t.Errorf("README.md:%d: the block of `make run`'s output differs from what the dev server printed:\n%s\nwhole output:\n%s",
			bl.line, msg, indent(tr.node.banner))
	}
}

// A tourNode is the dev server of the tour, started as `make run` starts it.
type tourNode struct {
	dir    string
	argv   func(listen string) []string
	addr   string // host:port
	banner string // what it printed up to its "Try:" line
	cmd    *exec.Cmd
	done   chan struct{}
}

var devURL = regexp.MustCompile(`running at http://(127\.0\.0\.1:\d+)`)

// start starts the server listening on listen and waits until it serves.
func (n *tourNode) start(t *testing.T, listen string) {
	t.Helper()
	argv := n.argv(listen)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = n.dir
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var banner strings.Builder
		sent := false
		for sc.Scan() {
			banner.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Try:") && !sent {
				ready <- banner.String()
				sent = true
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(n.stop)
	select {
	case n.banner = <-ready:
	case <-n.done:
		t.Fatalf("%s exited before serving:\n%s", strings.Join(argv, " "), stderr)
	case <-time.After(2 * time.Minute): // a hung start, not a performance limit
		cmd.Process.Kill()
		t.Fatalf("%s did not start:\n%s", strings.Join(argv, " "), stderr)
	}
	m := devURL.FindStringSubmatch(n.banner)
	if m == nil {
		t.Fatalf("the dev server names no address:\n%s", n.banner)
	}
	n.addr = m[1]
}

// stop stops the server gracefully, as Ctrl-C would.
func (n *tourNode) stop() {
	if n.cmd == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-n.done:
	case <-time.After(time.Minute):
		n.cmd.Process.Kill()
		<-n.done
	}
}
