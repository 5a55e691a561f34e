package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// The operator's crypto toolbox: `domicile crypto SUBCOMMAND`. Each
// subcommand lives in a crypto_*.go file; this file holds the dispatcher and
// the helpers they share (algorithm flags, hex flags, input, PEM files).
//
// Secrets (keys, plaintexts) are never echoed in errors: a bad --key says
// which flag is wrong, never what it held.

// cryptoCommand is one `domicile crypto` subcommand.
type cryptoCommand struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func cryptoCommands() []cryptoCommand {
	return []cryptoCommand{
		{"hash", "hash stdin with SM3 or SHA-256", runCryptoHash},
		{"mac", "HMAC stdin with HMAC-SM3 or HMAC-SHA256", runCryptoMAC},
		{"seal", "encrypt stdin with SM4-GCM or AES-256-GCM", runCryptoSeal},
		{"open", "decrypt and authenticate stdin with SM4-GCM or AES-256-GCM", runCryptoOpen},
		{"keygen", "make a signing key (PKCS#8 PEM)", runCryptoKeygen},
		{"pub", "print the public key (SPKI PEM) of a private key", runCryptoPub},
		{"sign", "sign a message with SM2, ECDSA-P256 or Ed25519", runCryptoSign},
		{"verify", "verify a signature", runCryptoVerify},
		{"wycheproof", "run Wycheproof test vector files against the suites", runCryptoWycheproof},
	}
}

const cryptoExamples = `  echo -n abc | domicile crypto hash --alg SM3
  domicile crypto keygen --alg SM2 --out key.pem
  domicile crypto pub --in key.pem > pub.pem
  domicile crypto sign --alg SM2 --key key.pem --in msg > msg.sig
  domicile crypto verify --alg SM2 --pub pub.pem --sig msg.sig --in msg`

// runCrypto dispatches `domicile crypto SUBCOMMAND [flags]`.
func runCrypto(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageErrorf("crypto: missing subcommand").withHint("run 'domicile crypto --help' for the subcommands")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		printCryptoUsage(e.stdout)
		return nil
	}
	var names []string
	for _, c := range cryptoCommands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
		names = append(names, c.name)
	}
	return usageErrorf("crypto: unknown subcommand %q", args[0]).
		withHint("subcommands are " + strings.Join(names, ", ") + "; run 'domicile crypto --help'")
}

func printCryptoUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: domicile crypto SUBCOMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The operator's interop toolbox: the suites' primitives on stdin and files.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Subcommands:")
	for _, c := range cryptoCommands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Examples:\n%s\n", cryptoExamples)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'domicile crypto SUBCOMMAND --help' for a subcommand's flags and examples.")
}

// parseCryptoFlags parses args and rejects positional arguments.
func parseCryptoFlags(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0)).
			withHint(fmt.Sprintf("input is read from stdin; run 'domicile %s --help'", fs.Name()))
	}
	return nil
}

// isSet reports whether the flag called name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// requireFlag returns a usage error if the string flag name is empty.
func requireFlag(fs *flag.FlagSet, name, val, hint string) error {
	if val != "" {
		return nil
	}
	return usageErrorf("%s: --%s is required", fs.Name(), name).withHint(hint)
}

// pickAlg returns the entry of known that val names (case-insensitively).
func pickAlg(fs *flag.FlagSet, val string, known []string) (string, error) {
	choices := strings.Join(known, ", ")
	if val == "" {
		return "", usageErrorf("%s: --alg is required", fs.Name()).withHint("--alg is one of " + choices)
	}
	for _, k := range known {
		if strings.EqualFold(val, k) {
			return k, nil
		}
	}
	return "", usageErrorf("%s: unknown --alg %q", fs.Name(), val).withHint("--alg is one of " + choices)
}

// hexFlag decodes the value of the hex flag called name. The error never
// shows the value, which may be a key.
func hexFlag(fs *flag.FlagSet, name, val string) ([]byte, error) {
	b, err := hex.DecodeString(val)
	if err == nil {
		return b, nil
	}
	why := "not valid hex"
	if errors.Is(err, hex.ErrLength) {
		why = "an odd number of hex digits"
	}
	return nil, usageErrorf("%s: --%s is %s", fs.Name(), name, why).
		withHint(fmt.Sprintf("--%s takes hex digits (0-9, a-f), two per byte", name))
}

// decodeHexInput decodes hex read from stdin, ignoring white space.
func decodeHexInput(in []byte) ([]byte, error) {
	in = bytes.Join(bytes.Fields(in), nil)
	out := make([]byte, hex.DecodedLen(len(in)))
	if _, err := hex.Decode(out, in); err != nil {
		return nil, withHint(errors.New("stdin is not valid hex"), "with --hex, stdin holds hex digits (0-9, a-f), two per byte")
	}
	return out, nil
}

// readInput reads the file at path, or stdin when path is empty.
func readInput(e *env, path string) ([]byte, error) {
	if path == "" {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %v", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHint(fmt.Errorf("read %s: %v", path, osCause(err)), "check the file name")
	}
	return b, nil
}

// readPEM reads one PEM block of type typ from path (stdin when empty) and
// returns its DER bytes. flagName names the flag for messages.
func readPEM(e *env, flagName, path, typ string) ([]byte, error) {
	data, err := readInput(e, path)
	if err != nil {
		return nil, err
	}
	src := source(path)
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, withHint(fmt.Errorf("%s: no PEM block found", src),
			fmt.Sprintf("--%s takes a %q PEM file, as 'domicile crypto keygen' and 'pub' write them", flagName, typ))
	}
	if block.Type != typ {
		return nil, withHint(fmt.Errorf("%s: PEM block is %q, want %q", src, block.Type, typ),
			fmt.Sprintf("--%s takes a %q PEM file", flagName, typ))
	}
	return block.Bytes, nil
}

// writeOutput writes data to path with mode 0600, refusing to replace an
// existing file, or to stdout when path is empty.
func writeOutput(e *env, path string, data []byte) error {
	if path == "" {
		_, err := e.stdout.Write(data)
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return withHint(fmt.Errorf("%s already exists", path), "remove it or choose another --out")
		}
		return fmt.Errorf("create %s: %v", path, osCause(err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %v", path, err)
	}
	return nil
}

// writeBytes writes b raw, or as lower-case hex and a newline when asHex.
func writeBytes(e *env, b []byte, asHex bool) error {
	if asHex {
		_, err := fmt.Fprintf(e.stdout, "%x\n", b)
		return err
	}
	_, err := e.stdout.Write(b)
	return err
}

// osCause strips the operation and path from an *os.PathError, which the
// caller's message already names.
func osCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// joinAlgs lists algorithm names for help texts: "A, B or C".
func joinAlgs(algs []string) string {
	s := ""
	for i, a := range algs {
		switch {
		case i == 0:
		case i == len(algs)-1:
			s += " or "
		default:
			s += ", "
		}
		s += a
	}
	return s
}
