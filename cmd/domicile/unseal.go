package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/unseal"
)

// Where `domicile serve` gets the region's unseal secret (--unseal), and the
// `domicile keys` subcommands that prepare it: split (Shamir shares), combine
// --check, hsm-wrap (PKCS#11). The secret, the shares and the PIN are read
// and printed, never written by serve, and never put in an error.

// unsealFlags are serve's flags that say where the unseal secret is.
type unsealFlags struct {
	mode, file, sharesFile, wrapped *string
	// startSealed defers the secret: the node starts sealed and takes it
	// through the API (POST /v1/regions/{region}/unseal).
	startSealed *bool
}

const unsealUsage = "where the unseal secret comes from: env (DOMICILE_UNSEAL_<REGION>), file (--unseal-file), " +
	"shamir (M of N shares, typed at a prompt or one per line on stdin), or a token URI " +
	"pkcs11:module=PATH;token=LABEL;key=LABEL;pin-file=PATH (with --unseal-wrapped)"

func addUnsealFlags(fs *flag.FlagSet) *unsealFlags {
	return &unsealFlags{
		mode:       fs.String("unseal", "env", unsealUsage),
		file:       fs.String("unseal-file", "", "file holding the unseal secret (--unseal file; default: environment DOMICILE_UNSEAL_<REGION>)"),
		sharesFile: fs.String("unseal-shares-file", "", "with --unseal shamir: read the shares from this file, one per line, instead of stdin (for tests and automation: less safe, the shares sit together on one disk)"),
		wrapped:    fs.String("unseal-wrapped", "", "with --unseal pkcs11:...: the file that 'domicile keys hsm-wrap' wrote"),
		startSealed: fs.Bool("start-sealed", false, "start listening with the region sealed (region_sealed to every request) and wait to be unsealed online: "+
			"Shamir shares one by one with 'domicile keys unseal', or, with --unseal pkcs11:... --unseal-wrapped FILE, 'domicile keys unseal --hsm'"),
	}
}

// check returns the unseal mode (env, file, shamir or pkcs11), checking
// the flags that go with it.
func (u *unsealFlags) check() (string, error) {
	mode := *u.mode
	if mode == "env" && *u.file != "" {
		mode = "file"
	}
	if unseal.IsPKCS11URI(mode) {
		mode = "pkcs11"
	}
	wrong := func(flag string) error {
		return usageErrorf("serve: %s does not go with --unseal %s", flag, *u.mode).
			withHint("--unseal-file goes with --unseal file (or env), --unseal-shares-file with shamir, --unseal-wrapped with pkcs11:...")
	}
	switch mode {
	case "env":
	case "file":
		if *u.file == "" {
			return "", usageErrorf("serve: --unseal file needs --unseal-file FILE").withHint("pass --unseal-file with the path of the region's unseal secret")
		}
	case "shamir":
		if *u.file != "" {
			return "", wrong("--unseal-file")
		}
	case "pkcs11":
		if *u.file != "" {
			return "", wrong("--unseal-file")
		}
		if *u.wrapped == "" {
			return "", usageErrorf("serve: --unseal pkcs11:... needs --unseal-wrapped FILE").
				withHint("make the file once with: domicile keys hsm-wrap --unseal 'pkcs11:...' --in SECRETFILE --out FILE")
		}
	default:
		return "", usageErrorf("serve: unknown --unseal %q", *u.mode).withHint("--unseal is env, file, shamir or pkcs11:module=PATH;token=LABEL;key=LABEL;pin-file=PATH")
	}
	if *u.sharesFile != "" && mode != "shamir" {
		return "", wrong("--unseal-shares-file")
	}
	if *u.wrapped != "" && mode != "pkcs11" {
		return "", wrong("--unseal-wrapped")
	}
	if *u.startSealed {
		switch {
		case mode == "file":
			return "", usageErrorf("serve: --start-sealed does not go with --unseal-file").
				withHint("--start-sealed waits for Shamir shares (or the HSM) through the API; to start unsealed, drop --start-sealed")
		case *u.sharesFile != "":
			return "", usageErrorf("serve: --start-sealed does not go with --unseal-shares-file").
				withHint("give the shares after the start: domicile keys unseal --region REGION --addr NODE_URL --shares-file FILE")
		case mode == "env":
			mode = "shamir" // shares through the API; the environment is not read
		}
	}
	return mode, nil
}

// deferred checks the flags of a node started with --start-sealed and
// returns how it unwraps the secret with its HSM when the unseal route asks
// (nil without --unseal pkcs11:...). The token URI and the wrapped file
// are checked now, the token is opened (and its PIN read) only then.
func (u *unsealFlags) deferred(e *env) (func(context.Context) ([]byte, error), error) {
	mode, err := u.check()
	if err != nil || mode != "pkcs11" {
		return nil, err
	}
	uri, err := unseal.ParsePKCS11URI(*u.mode)
	if err != nil {
		return nil, usageErrorf("serve: --unseal: %v", err).withHint(pkcs11Form)
	}
	b, err := os.ReadFile(*u.wrapped)
	if err != nil {
		return nil, withHint(fmt.Errorf("serve: --unseal-wrapped: %w", err), "check the path and its permissions")
	}
	if label, err := unseal.WrappedKeyLabel(b); err != nil {
		return nil, hsmHint(fmt.Errorf("serve: --unseal-wrapped %s: %w", *u.wrapped, err))
	} else if label != uri.Key {
		return nil, withHint(fmt.Errorf("serve: --unseal-wrapped %s was wrapped by key %q, not key=%s", *u.wrapped, label, uri.Key),
			"give the key= that wrapped it, or the file wrapped for this key")
	}
	raw, file := *u.mode, *u.wrapped
	return func(context.Context) ([]byte, error) {
		secret, err := hsmUnwrap(e, raw, file)
		if err != nil {
			var ce *cliError
			if errors.As(err, &ce) && ce.hint != "" {
				return nil, fmt.Errorf("%w (hint: %s)", err, ce.hint)
			}
		}
		return secret, err
	}, nil
}

// secret returns the region's unseal secret from where the flags say; the
// caller clears it once used.
func (u *unsealFlags) secret(e *env, region string) ([]byte, error) {
	mode, err := u.check()
	if err != nil || *u.startSealed {
		return nil, err
	}
	switch mode {
	case "shamir":
		return readShares(e, *u.sharesFile, "serve")
	case "pkcs11":
		return hsmUnwrap(e, *u.mode, *u.wrapped)
	}
	return readSecret(e, *u.file, app.SecretEnv(region))
}

// sealedHint is the hint for a region that stays sealed.
func (u *unsealFlags) sealedHint(region string) string {
	mode, _ := u.check()
	switch mode {
	case "shamir":
		return "the shares combine, but not into " + region + "'s unseal secret: were they split from another region's?"
	case "pkcs11":
		return "--unseal-wrapped opened, but does not hold " + region + "'s unseal secret: was it wrapped for another region?"
	}
	return "set " + app.SecretEnv(region) + " or pass --unseal-file with the region's unseal secret"
}

// stdinTerminal returns stdin's descriptor when it is a terminal.
func stdinTerminal(e *env) (int, bool) {
	f, ok := e.stdin.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// readShares gathers Shamir shares and combines them: from file, one per
// line; from stdin at a prompt without echo when it is a terminal (a
// refused share is asked again); otherwise from stdin, one per line. Blank
// lines and lines starting with # are skipped.
func readShares(e *env, file, cmd string) ([]byte, error) {
	var c unseal.Combiner
	var err error
	switch fd, tty := stdinTerminal(e); {
	case file != "":
		f, ferr := os.Open(file)
		if ferr != nil {
			return nil, withHint(fmt.Errorf("%s: %w", cmd, ferr), "check the path and its permissions")
		}
		err = addShareLines(&c, f)
		f.Close()
	case tty:
		err = promptShares(e, &c, fd)
	default:
		err = addShareLines(&c, e.stdin)
	}
	if err != nil {
		return nil, shareHint(fmt.Errorf("%s: %w", cmd, err), file)
	}
	secret, err := c.Secret()
	if err != nil {
		return nil, shareHint(fmt.Errorf("%s: %w", cmd, err), file)
	}
	return secret, nil
}

// addShareLines adds one share per line until the threshold is met.
func addShareLines(c *unseal.Combiner, r io.Reader) error {
	sc := bufio.NewScanner(r)
	for c.Missing() != 0 && sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := c.Add(line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// promptShares asks for shares at the terminal, without echo, until the
// threshold is met; a refused share is asked again, three times at most.
func promptShares(e *env, c *unseal.Combiner, fd int) error {
	fails := 0
	for c.Missing() != 0 {
		if c.Threshold() == 0 {
			fmt.Fprintf(e.stderr, "share 1 (input hidden): ")
		} else {
			fmt.Fprintf(e.stderr, "share %d of %d: ", c.Len()+1, c.Threshold())
		}
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(e.stderr)
		if err != nil {
			clear(b)
			if errors.Is(err, io.EOF) {
				return nil // Secret says how many are missing
			}
			return err
		}
		line := strings.TrimSpace(string(b))
		clear(b)
		if line == "" {
			continue
		}
		if err := c.Add(line); err != nil {
			fails++
			if fails == 3 {
				return err
			}
			printError(e.stderr, shareHint(err, ""))
			continue
		}
		fails = 0
	}
	return nil
}

// shareHint adds what to do about a share error.
func shareHint(err error, file string) error {
	switch {
	case errors.Is(err, unseal.ErrShareChecksum):
		return withHint(err, "ask its custodian for it again: a character is mistyped or missing (a share is dms1-M-N- then a-z and 2-7)")
	case errors.Is(err, unseal.ErrShareFormat):
		return withHint(err, "a share is one line starting dms1-, as 'domicile keys split' printed it")
	case errors.Is(err, unseal.ErrShareVersion):
		return withHint(err, "a newer domicile made it: upgrade this one")
	case errors.Is(err, unseal.ErrDuplicateShare):
		return withHint(err, "each share counts once: ask another custodian")
	case errors.Is(err, unseal.ErrMixedShares):
		return withHint(err, "all shares must come from the same 'domicile keys split' (the same region and threshold)")
	case errors.Is(err, unseal.ErrNotEnoughShares):
		where := "stdin, one per line"
		if file != "" {
			where = file + ", one per line"
		}
		return withHint(err, "give more custodians' shares on "+where)
	case errors.Is(err, unseal.ErrSharesDisagree):
		return withHint(err, "try other sets of shares to find the altered one")
	}
	return err
}

// hsmUnwrap opens the token that rawURI names and unwraps the file.
func hsmUnwrap(e *env, rawURI, file string) ([]byte, error) {
	u, err := unseal.ParsePKCS11URI(rawURI)
	if err != nil {
		return nil, usageErrorf("serve: --unseal: %v", err).withHint(pkcs11Form)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, withHint(fmt.Errorf("serve: --unseal-wrapped: %w", err), "check the path and its permissions")
	}
	if label, err := unseal.WrappedKeyLabel(b); err != nil {
		return nil, hsmHint(fmt.Errorf("serve: --unseal-wrapped %s: %w", file, err))
	} else if label != u.Key {
		return nil, withHint(fmt.Errorf("serve: --unseal-wrapped %s was wrapped by key %q, not key=%s", file, label, u.Key),
			"give the key= that wrapped it, or the file wrapped for this key")
	}
	h, err := openHSM(e, u, false)
	if err != nil {
		return nil, hsmHint(fmt.Errorf("serve: %w", err))
	}
	defer h.Close()
	secret, err := h.Unwrap(b)
	if err != nil {
		return nil, hsmHint(fmt.Errorf("serve: --unseal-wrapped %s: %w", file, err))
	}
	return secret, nil
}

// openHSM reads the PIN and opens the token.
func openHSM(e *env, u unseal.PKCS11URI, create bool) (*unseal.HSM, error) {
	pin, err := u.ReadPIN(e.getenv)
	if err != nil {
		return nil, withHint(err, "the PIN comes from pin-file=PATH or pin-env=NAME in the pkcs11: URI, never from the command line")
	}
	defer clear(pin)
	return unseal.OpenHSM(u, pin, create)
}

const pkcs11Form = "the form is pkcs11:module=PATH;token=LABEL;key=LABEL;pin-file=PATH (or pin-env=NAME); " +
	"quote it in the shell, ';' ends a command"

// hsmHint adds what to do about a PKCS#11 error.
func hsmHint(err error) error {
	hints := []struct {
		err  error
		hint string
	}{
		{unseal.ErrNoPKCS11, "build domicile with cgo (CGO_ENABLED=1 and a C compiler)"},
		{unseal.ErrModuleNotFound, "module= is the vendor's PKCS#11 library; for SoftHSM: apt-get install softhsm2, module=/usr/lib/softhsm/libsofthsm2.so"},
		{unseal.ErrTokenNotFound, "token= is the token's label; list them with: softhsm2-util --show-slots (or pkcs11-tool --list-token-slots); is SOFTHSM2_CONF set?"},
		{unseal.ErrWrongPIN, "check the PIN in pin-file (or pin-env): the token locks it after a few wrong tries"},
		{unseal.ErrPINLocked, "the token's security officer must reset the user PIN (softhsm2-util or pkcs11-tool --init-pin)"},
		{unseal.ErrKeyNotFound, "key= is the AES key's label on the token; make one with: domicile keys hsm-wrap --create-key ..."},
		{unseal.ErrKeyExists, "drop --create-key to wrap with the existing key, or choose another key= label"},
		{unseal.ErrKeyUnusable, "key= must name exactly one AES key of the token that may encrypt and decrypt"},
		{unseal.ErrWrappedFormat, "--unseal-wrapped is the file that 'domicile keys hsm-wrap' wrote (one line, dmw1.)"},
		{unseal.ErrUnwrap, "--unseal-wrapped must be the file hsm-wrap wrote with this key= on this token; wrap the secret again if the key changed"},
	}
	for _, h := range hints {
		if errors.Is(err, h.err) {
			return withHint(err, h.hint)
		}
	}
	return err
}

// readSecretInput reads a secret to split or wrap: from file ("-" or ""
// for stdin); at a terminal, at a prompt without echo. Surrounding space is
// dropped, as --unseal-file drops it, so that the secret is the same bytes.
func readSecretInput(e *env, cmd, file string) ([]byte, error) {
	var b []byte
	var err error
	switch fd, tty := stdinTerminal(e); {
	case file != "" && file != "-":
		b, err = os.ReadFile(file)
	case tty:
		fmt.Fprint(e.stderr, "unseal secret (input hidden): ")
		b, err = term.ReadPassword(fd)
		fmt.Fprintln(e.stderr)
	default:
		b, err = io.ReadAll(io.LimitReader(e.stdin, unseal.MaxSecretLen*2+1))
	}
	if err != nil {
		clear(b)
		return nil, withHint(fmt.Errorf("%s: reading the secret: %w", cmd, err), "check --in's path and its permissions")
	}
	s := trimSpace(b)
	if len(s) == 0 {
		clear(b)
		return nil, withHint(fmt.Errorf("%s: the secret is empty", cmd), "give the region's unseal secret in --in FILE or on stdin")
	}
	out := append([]byte(nil), s...)
	clear(b)
	return out, nil
}

// trimSpace is bytes.TrimSpace for ASCII space, without copying.
func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func runKeysSplit(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys split", "domicile keys split --shares N --threshold M [--in FILE]",
		`  domicile keys split --shares 5 --threshold 3 --in /run/secrets/cn-north
  domicile keys split --shares 3 --threshold 2 < secret     # or typed, hidden, at a terminal
  domicile keys split --shares 5 --threshold 3 --in secret | domicile keys combine --check --in secret

Splits a region's unseal secret into N shares, one per line on stdout, of
which any M unseal the region ('domicile serve --unseal shamir') and M-1
tell nothing. Give each share to a different custodian and keep none
together; then destroy the secret's file. A share names its threshold and
number and carries a checksum: a mistyped share is caught and named.
The secret is read from --in or stdin, never from the command line.`)
	n := fs.Int("shares", 0, "how many shares to make, `N` (2 to 255)")
	m := fs.Int("threshold", 0, "how many shares unseal, `M` (2 to N)")
	in := fs.String("in", "", "the `FILE` holding the unseal secret (default: stdin)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	switch {
	case *n == 0 || *m == 0:
		return usageErrorf("keys split: --shares and --threshold are required").withHint("e.g. --shares 5 --threshold 3: any 3 of 5 custodians unseal")
	case *m < 2:
		return usageErrorf("keys split: --threshold must be at least 2").withHint("with 1, every share would be the secret itself; use --unseal-file instead")
	case *n < *m:
		return usageErrorf("keys split: --shares %d is below --threshold %d", *n, *m).withHint("make at least as many shares as the threshold, and a few more for absent custodians")
	case *n > unseal.MaxShares:
		return usageErrorf("keys split: --shares is at most %d", unseal.MaxShares).withHint("choose fewer custodians")
	}
	secret, err := readSecretInput(e, "keys split", *in)
	if err != nil {
		return err
	}
	defer clear(secret)
	if len(secret) > unseal.MaxSecretLen {
		return withHint(fmt.Errorf("keys split: the secret is longer than %d bytes", unseal.MaxSecretLen), "is --in the right file?")
	}
	shares, err := unseal.Split(secret, *n, *m, rand.Reader)
	if err != nil {
		return fmt.Errorf("keys split: %w", err)
	}
	w := bufio.NewWriter(e.stdout)
	for _, s := range shares {
		fmt.Fprintln(w, s.String())
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d shares, any %d of which unseal: give each to a different custodian\n", *n, *m)
	return nil
}

func runKeysCombine(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys combine", "domicile keys combine --check [--in SECRETFILE] [--shares-file FILE]",
		`  domicile keys combine --check                       # type M shares at the prompt
  domicile keys combine --check --in /run/secrets/cn-north < shares.txt

Checks that shares combine, as 'domicile serve --unseal shamir' will combine
them, and with --in that they give back that secret. It never prints the
secret. Shares are read as serve reads them: hidden at a terminal, or one
per line on stdin (or --shares-file).`)
	check := fs.Bool("check", false, "check the shares (required: combine never prints the secret)")
	in := fs.String("in", "", "compare with the secret in `FILE`")
	sharesFile := fs.String("shares-file", "", "read the shares from `FILE`, one per line (default: stdin)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if !*check {
		return usageErrorf("keys combine: --check is required").withHint("combine only checks shares and never prints the secret; serve --unseal shamir combines them at start")
	}
	var want []byte
	if *in != "" {
		if want, err = readSecretInput(e, "keys combine", *in); err != nil {
			return err
		}
		defer clear(want)
	}
	secret, err := readShares(e, *sharesFile, "keys combine")
	if err != nil {
		return err
	}
	defer clear(secret)
	if want != nil {
		if subtle.ConstantTimeCompare(secret, want) != 1 {
			return withHint(errors.New("keys combine: the shares combine, but not into the secret in --in"),
				"they were split from another secret: check --in, or the shares' region")
		}
		fmt.Fprintf(e.stdout, "ok: the shares give back the secret in %s\n", *in)
		return nil
	}
	fmt.Fprintf(e.stdout, "ok: the shares combine into a secret of %d bytes\n", len(secret))
	return nil
}

func runKeysHSMWrap(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys hsm-wrap", "domicile keys hsm-wrap --unseal pkcs11:... --in SECRETFILE --out WRAPPEDFILE [--create-key]",
		`  domicile keys hsm-wrap --create-key \
      --unseal 'pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=domicile;key=region-cn-north;pin-file=/run/secrets/pin' \
      --in /run/secrets/cn-north --out /etc/domicile/cn-north.wrapped
  domicile serve --region cn-north --data /var/lib/domicile/cn-north \
      --unseal 'pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=domicile;key=region-cn-north;pin-file=/run/secrets/pin' \
      --unseal-wrapped /etc/domicile/cn-north.wrapped
  eval "$(scripts/softhsm-setup.sh /tmp/hsm)"    # a SoftHSM test token, PIN in /tmp/hsm/pin

Wraps a region's unseal secret with an AES key that never leaves the token
(AES-GCM inside the HSM), into a file that is useless without the token and
its PIN. Then destroy the secret's file. --create-key makes the AES-256 key
(sensitive, not extractable) and refuses if one has that label.

The URI: pkcs11:module=PATH;token=LABEL;key=LABEL;pin-file=PATH, or with
pin-env=NAME, or RFC 7512's pkcs11:token=..;object=..?module-path=..&pin-source=file:..
(values may be %-encoded). Quote it: ';' ends a shell command. The PIN is
never taken from the command line.`)
	rawURI := fs.String("unseal", "", "the token and key, `pkcs11:module=PATH;token=LABEL;key=LABEL;pin-file=PATH`")
	in := fs.String("in", "", "the `FILE` holding the unseal secret (- for stdin)")
	out := fs.String("out", "", "the wrapped `FILE` to write (it must not exist)")
	create := fs.Bool("create-key", false, "create the AES key on the token (refused if the label exists)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := needFlag(fs, "unseal", *rawURI, pkcs11Form); err != nil {
		return err
	}
	if err := needFlag(fs, "in", *in, "--in FILE holds the region's unseal secret (- for stdin)"); err != nil {
		return err
	}
	if err := needFlag(fs, "out", *out, "--out FILE is where the wrapped secret goes, for serve --unseal-wrapped"); err != nil {
		return err
	}
	u, err := unseal.ParsePKCS11URI(*rawURI)
	if err != nil {
		return usageErrorf("keys hsm-wrap: --unseal: %v", err).withHint(pkcs11Form)
	}
	if _, err := os.Stat(*out); err == nil {
		return usageErrorf("keys hsm-wrap: --out %s exists", *out).withHint("remove it first, or choose another --out")
	}
	secret, err := readSecretInput(e, "keys hsm-wrap", *in)
	if err != nil {
		return err
	}
	defer clear(secret)
	h, err := openHSM(e, u, *create)
	if err != nil {
		return hsmHint(fmt.Errorf("keys hsm-wrap: %w", err))
	}
	defer h.Close()
	wrapped, err := h.Wrap(secret, rand.Reader)
	if err != nil {
		return hsmHint(fmt.Errorf("keys hsm-wrap: %w", err))
	}
	// Check that it opens before anyone destroys the secret's file.
	back, err := h.Unwrap(wrapped)
	ok := err == nil && subtle.ConstantTimeCompare(back, secret) == 1
	clear(back)
	if !ok {
		return hsmHint(fmt.Errorf("keys hsm-wrap: the token wrapped the secret but does not unwrap it: %v", err))
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return withHint(fmt.Errorf("keys hsm-wrap: %w", err), "check --out's directory and its permissions")
	}
	if _, err := f.Write(wrapped); err != nil {
		f.Close()
		return fmt.Errorf("keys hsm-wrap: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keys hsm-wrap: %w", err)
	}
	fmt.Fprintf(e.stdout, "wrapped the secret with key %s of token %s into %s\n", u.Key, u.Token, *out)
	fmt.Fprintf(e.stdout, "start the region with: domicile serve ... --unseal '%s' --unseal-wrapped %s\n", u.String(), *out)
	return nil
}
