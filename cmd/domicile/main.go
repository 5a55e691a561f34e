// Command domicile is the Domicile data residency vault: the server (dev,
// serve, gateway) and the operator and client subcommands.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. Run parses its own flags and leaves the work to
// internal/app (servers, offline tools), the client or a domain package
// (policy check, the crypto toolbox); it returns an error and never exits.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// commands lists every subcommand, in the order `domicile help` shows them.
func commands() []command {
	return []command{
		{"dev", "run every region of a policy in one process, with the gateway and sample data", runDev},
		{"serve", "run one region's API (production)", runServe},
		{"gateway", "run the stateless gateway in front of regional nodes", runGateway},
		{"records", "put, get, find, delete, import and export records through the API", runRecords},
		{"audit", "verify and export a region's tamper-evident audit log; fetch checkpoints and keys", runAudit},
		{"transfers", "report a region's cross-border transfers of a year, signed; verify a report offline", runTransfers},
		{"consents", "record, withdraw and list subjects' consents to transfers", runConsents},
		{"subjects", "export everything held about a subject, per region and signed; verify an export offline", runSubjects},
		{"witness", "run a witness that cosigns regions' audit checkpoints; make its key", runWitness},
		{"guard", "seed decoy records and list breach-detection alerts", runGuard},
		{"tokens", "tokenize values and detokenize tokens through the access decision", runTokens},
		{"principals", "create, list, change, delete, disable, enable, unlock principals; rotate their tokens", runPrincipals},
		{"keys", "show, rotate, rewrap, retire and destroy a region's keys; seal, unseal, split the unseal secret", runKeys},
		{"backup", "take an online, signed backup of a region's embedded store", runBackup},
		{"restore", "restore a backup offline into a new data directory, re-applying erasures", runRestore},
		{"erasures", "export a region's erasure journal for restores", runErasures},
		{"policy", "check a policy file; reload the running policy and show its version", runPolicy},
		{"crypto", "the operator's crypto toolbox: hash, mac, seal, open, sign, verify, wycheproof", runCrypto},
		{"completion", "print a shell completion script for bash, zsh or fish", runCompletion},
		{"version", "print the version, the commit it was built from and the Go version", runVersion},
	}
}

// env is what a subcommand may touch of the process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether stderr is a terminal (progress is shown
	// only then).
	isTerminal bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		isTerminal: isTerminal(os.Stderr),
	}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and turns its error into an exit code:
// 0 on success, 2 for usage mistakes, 1 (or the error's own code) otherwise.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return exitCode(e, c.run(ctx, e, args[1:]))
		}
	}
	printError(e.stderr, usageErrorf("unknown command %q", args[0]).withHint("run 'domicile help' for the list of commands"))
	return 2
}

func exitCode(e *env, err error) int {
	if err == nil {
		return 0
	}
	var ex *exitError
	if errors.As(err, &ex) && ex.silent {
		return ex.code
	}
	printError(e.stderr, err)
	switch {
	case errors.As(err, &ex):
		return ex.code
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errHelp):
		return 0
	}
	return 1
}
