package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Output conventions of the CLI, in one place: errors are one lower-case
// "error:" line, followed by a "hint:" line when the fix is known; usage
// mistakes exit 2.

var (
	errUsage = errors.New("usage")
	errHelp  = errors.New("help shown")
)

// cliError is an error with an optional hint for the operator.
type cliError struct {
	err  error
	hint string
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// withHint attaches a hint to an error.
func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &cliError{err: err, hint: hint}
}

// usageErr marks a usage mistake (exit 2).
type usageErr struct{ msg string }

func (u *usageErr) Error() string { return u.msg }
func (u *usageErr) Unwrap() error { return errUsage }
func (u *usageErr) withHint(h string) error {
	return &cliError{err: u, hint: h}
}

// usageErrorf returns a usage mistake.
func usageErrorf(format string, args ...any) *usageErr {
	return &usageErr{msg: fmt.Sprintf(format, args...)}
}

// exitError carries a specific exit code; silent means the command already
// printed what the user needs.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func printError(w io.Writer, err error) {
	msg := err.Error()
	fmt.Fprintf(w, "error: %s\n", msg)
	var ce *cliError
	if errors.As(err, &ce) && ce.hint != "" {
		fmt.Fprintf(w, "hint: %s\n", ce.hint)
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Domicile keeps each customer's personal data in the region its jurisdiction maps to,")
	fmt.Fprintln(w, "encrypted with that region's mandated algorithms, and records every access.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: domicile COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'domicile COMMAND --help' for a command's flags and examples.")
}

// newFlagSet returns a flag set that prints usage with examples to stdout on
// --help and reports parse errors as usage mistakes.
func newFlagSet(e *env, name, usage, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := e.stdout
		fmt.Fprintf(w, "Usage: %s\n", usage)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if b.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", b.String())
		}
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(examples, "\n"))
		}
	}
	return fs
}

// parseFlags parses args, turning -h into errHelp and mistakes into usage
// errors. Flags may come before, between and after the positional
// arguments (`records get ID --format table`); everything after "--" is
// positional. The positional arguments are left in fs.Args(), as
// flag.FlagSet.Parse leaves them.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := parseOnce(fs, args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// "--" stops parsing at once, so this only sets fs.Args().
	return fs.Parse(append([]string{"--"}, pos...))
}

// parseOnce is flag.FlagSet.Parse, with usage printed once, on -h only.
func parseOnce(fs *flag.FlagSet, args []string) error {
	// The flag package calls Usage itself on -h and on every mistake; mute
	// it so that usage is printed once, on -h only.
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return &exitError{code: 0, silent: true}
		}
		return usageErrorf("%s: %v", fs.Name(), err).withHint(fmt.Sprintf("run 'domicile %s --help'", fs.Name()))
	}
	return nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
