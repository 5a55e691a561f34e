package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/domicile/domicile/internal/wycheproof"
)

// maxListedFailures is how many failed test cases are listed per file.
const maxListedFailures = 10

func runCryptoWycheproof(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "crypto wycheproof", "domicile crypto wycheproof FILE...",
		`  domicile crypto wycheproof aes_gcm_test.json sm4_gcm_test.json
  domicile crypto wycheproof wycheproof/testvectors_v1/*.json

Prints "FILE: N passed, N failed, N skipped" per file and lists up to 10
failed test cases (tcId, comment). Exits 1 if any case failed, or if a file is
unreadable or of a schema or algorithm Domicile does not implement: such a
file is never counted as passed.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return usageErrorf("%s: no files given", fs.Name()).
			withHint("name one or more Wycheproof JSON files, e.g. testvectors_v1/aes_gcm_test.json")
	}
	bad := 0
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := wycheproof.RunFile(path)
		switch {
		case err != nil:
			bad++
			printError(e.stderr, fmt.Errorf("%s: %s", path, wycheproofCause(err)))
		case res.Unsupported != "":
			bad++
			fmt.Fprintf(e.stdout, "%s: unsupported: %s\n", path, res.Unsupported)
		default:
			if res.Failed > 0 {
				bad++
			}
			printWycheproofResult(e, path, res)
		}
	}
	if bad > 0 {
		return &exitError{code: 1, err: withHint(
			fmt.Errorf("wycheproof: %d of %d files did not pass", bad, len(files)),
			"see each file's line above; unsupported and unreadable files never count as passed")}
	}
	return nil
}

func printWycheproofResult(e *env, path string, res wycheproof.Result) {
	fmt.Fprintf(e.stdout, "%s: %d passed, %d failed, %d skipped\n", path, res.Passed, res.Failed, res.Skipped)
	for i, f := range res.Failures {
		if i == maxListedFailures {
			fmt.Fprintf(e.stdout, "  ... and %d more\n", len(res.Failures)-i)
			break
		}
		comment := f.Comment
		if comment == "" {
			comment = "(no comment)"
		}
		fmt.Fprintf(e.stdout, "  tcId %d: %s: want %s, got %s\n", f.TcID, comment, f.Want, f.Got)
	}
}

// wycheproofCause drops what the caller's message already says: the
// package prefix and, for a file that cannot be read, the path.
func wycheproofCause(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return strings.TrimPrefix(err.Error(), "wycheproof: ")
}
