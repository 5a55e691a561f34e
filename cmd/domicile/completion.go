package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

const completionExamples = `  # bash: this shell only, then for every new one
  source <(domicile completion bash)
  domicile completion bash | sudo tee /etc/bash_completion.d/domicile > /dev/null

  # zsh (after compinit): this shell, then every new one
  source <(domicile completion zsh)
  echo 'source <(domicile completion zsh)' >> ~/.zshrc

  # fish
  domicile completion fish > ~/.config/fish/completions/domicile.fish`

// completionShells are the shells a script is made for.
var completionShells = []string{"bash", "zsh", "fish"}

// compCommand is one node of the command tree, as completion sees it.
type compCommand struct {
	name, summary string
	flags         []string // without dashes, sorted
	subs          []compCommand
}

func runCompletion(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "completion", "domicile completion bash|zsh|fish", completionExamples+`

The script completes commands, subcommands and flags. It is made from the
commands themselves (their --help), so it is as current as the binary:
regenerate it after an upgrade.`)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "SHELL"); err != nil {
		return err
	}
	tree := completionTree(ctx)
	switch pos[0] {
	case "bash":
		writeBashCompletion(e.stdout, tree)
	case "zsh":
		writeZshCompletion(e.stdout, tree)
	case "fish":
		writeFishCompletion(e.stdout, tree)
	default:
		return usageErrorf("completion: unknown shell %q", truncateArg(pos[0])).withHint("the shells are " + strings.Join(completionShells, ", "))
	}
	return nil
}

// truncateArg shortens a caller's argument for an error message.
func truncateArg(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// completionTree is the command tree: the commands of the dispatch table,
// each with the subcommands and flags its --help shows. --help never acts
// (the script tests hold every command to it); the context is cancelled
// all the same, so that nothing could reach the network or a store.
func completionTree(ctx context.Context) []compCommand {
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	var out []compCommand
	for _, c := range commands() {
		if c.name == "completion" {
			out = append(out, compCommand{name: c.name, summary: c.summary, subs: shellSubs()})
			continue
		}
		help := commandHelp(ctx, c, nil)
		node := compCommand{name: c.name, summary: c.summary}
		for _, s := range helpSubcommands(c.name, help) {
			node.subs = append(node.subs, compCommand{name: s.name, summary: s.summary, flags: helpFlags(commandHelp(ctx, c, []string{s.name}))})
		}
		if len(node.subs) == 0 {
			node.flags = helpFlags(help)
		}
		out = append(out, node)
	}
	return out
}

func shellSubs() []compCommand {
	out := make([]compCommand, len(completionShells))
	for i, s := range completionShells {
		out[i] = compCommand{name: s, summary: "the completion script for " + s}
	}
	return out
}

// commandHelp is what `domicile C [SUB] --help` prints.
func commandHelp(ctx context.Context, c command, sub []string) string {
	var b bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &b, stderr: io.Discard, getenv: func(string) string { return "" }}
	_ = c.run(ctx, e, append(slices.Clone(sub), "--help"))
	return b.String()
}

var (
	// usageSubs matches a usage line that names subcommands:
	// "Usage: domicile audit verify|export [flags]", "       domicile policy check FILE".
	usageSubs = regexp.MustCompile(`^(?:Usage:)?\s+domicile\s+[a-z-]+\s+([a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*)(?:\s|$)`)
	// subLine is a line of a "Subcommands:" section.
	subLine = regexp.MustCompile(`^\s+([a-z][a-z0-9-]*)\s+(.*)$`)
	// flagLine is a line of flag.PrintDefaults: "  -name type".
	flagLine = regexp.MustCompile(`^\s{2}-([A-Za-z0-9][A-Za-z0-9._-]*)`)
)

// helpSubcommands returns the subcommands that a group's help names: in
// its "Subcommands:" section, or else in its usage lines.
func helpSubcommands(group, help string) []compCommand {
	var out []compCommand
	add := func(name, summary string) {
		if !slices.ContainsFunc(out, func(c compCommand) bool { return c.name == name }) {
			out = append(out, compCommand{name: name, summary: summary})
		}
	}
	sc := bufio.NewScanner(strings.NewReader(help))
	inSubs, inUsage := false, true
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Subcommands:":
			inSubs = true
			continue
		case strings.TrimSpace(line) == "":
			inSubs, inUsage = false, false
			continue
		}
		if m := subLine.FindStringSubmatch(line); inSubs && m != nil {
			add(m[1], strings.TrimSpace(m[2]))
			continue
		}
		if m := usageSubs.FindStringSubmatch(line); inUsage && m != nil && strings.Contains(line, "domicile "+group+" ") {
			for _, s := range strings.Split(m[1], "|") {
				add(s, "")
			}
		}
	}
	return out
}

// helpFlags returns the flags of a help text's "Flags:" section, sorted.
func helpFlags(help string) []string {
	var out []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(help))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Flags:":
			in = true
		case in && line != "" && !strings.HasPrefix(line, " "):
			in = false
		case in:
			if m := flagLine.FindStringSubmatch(line); m != nil && !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return out
}

func names(cs []compCommand) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return strings.Join(out, " ")
}

func dashed(flags []string) string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = "--" + f
	}
	return strings.Join(out, " ")
}

func writeBashCompletion(w io.Writer, tree []compCommand) {
	fmt.Fprint(w, `# bash completion for domicile; made by 'domicile completion bash'.
_domicile() {
  local cur=${COMP_WORDS[COMP_CWORD]} words=""
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "`+names(tree)+` help" -- "$cur"))
    return
  fi
  case "${COMP_WORDS[1]}" in
`)
	for _, c := range tree {
		fmt.Fprintf(w, "    %s)\n", c.name)
		if len(c.subs) > 0 {
			fmt.Fprintf(w, "      if [[ $COMP_CWORD -eq 2 ]]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", names(c.subs))
			fmt.Fprintln(w, `      case "${COMP_WORDS[2]}" in`)
			for _, s := range c.subs {
				fmt.Fprintf(w, "        %s) words=%q ;;\n", s.name, dashed(s.flags)+" --help")
			}
			fmt.Fprintln(w, "      esac ;;")
		} else {
			fmt.Fprintf(w, "      words=%q ;;\n", dashed(c.flags)+" --help")
		}
	}
	fmt.Fprint(w, `  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
}
complete -o default -F _domicile domicile
`)
}

func writeZshCompletion(w io.Writer, tree []compCommand) {
	fmt.Fprint(w, `#compdef domicile
# zsh completion for domicile; made by 'domicile completion zsh'.
_domicile() {
  local -a flags
  if (( CURRENT == 2 )); then
    compadd -- `+names(tree)+` help
    return
  fi
  case $words[2] in
`)
	for _, c := range tree {
		fmt.Fprintf(w, "    %s)\n", c.name)
		if len(c.subs) > 0 {
			fmt.Fprintf(w, "      if (( CURRENT == 3 )); then compadd -- %s; return; fi\n", names(c.subs))
			fmt.Fprintln(w, "      case $words[3] in")
			for _, s := range c.subs {
				fmt.Fprintf(w, "        %s) flags=(%s) ;;\n", s.name, dashed(s.flags)+" --help")
			}
			fmt.Fprintln(w, "      esac ;;")
		} else {
			fmt.Fprintf(w, "      flags=(%s) ;;\n", dashed(c.flags)+" --help")
		}
	}
	fmt.Fprint(w, `  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- $flags
  else
    _files
  fi
}
if (( $+functions[compdef] )); then
  compdef _domicile domicile
fi
`)
}

// fishQuote quotes s for fish, in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeFishCompletion(w io.Writer, tree []compCommand) {
	fmt.Fprintln(w, "# fish completion for domicile; made by 'domicile completion fish'.")
	fmt.Fprintln(w, "complete -c domicile -n __fish_use_subcommand -f -a help -d 'show the commands'")
	for _, c := range tree {
		fmt.Fprintf(w, "complete -c domicile -n __fish_use_subcommand -f -a %s -d %s\n", c.name, fishQuote(c.summary))
		if len(c.subs) == 0 {
			for _, f := range c.flags {
				fmt.Fprintf(w, "complete -c domicile -n '__fish_seen_subcommand_from %s' -l %s\n", c.name, f)
			}
			continue
		}
		subs := names(c.subs)
		for _, s := range c.subs {
			fmt.Fprintf(w, "complete -c domicile -n '__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s' -f -a %s", c.name, subs, s.name)
			if s.summary != "" {
				fmt.Fprintf(w, " -d %s", fishQuote(s.summary))
			}
			fmt.Fprintln(w)
			for _, f := range s.flags {
				fmt.Fprintf(w, "complete -c domicile -n '__fish_seen_subcommand_from %s; and __fish_seen_subcommand_from %s' -l %s\n", c.name, s.name, f)
			}
		}
	}
}
