package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/unseal"
)

// `domicile keys seal` and `domicile keys unseal`: seal a running region's
// node, and unseal it online with Shamir shares or its HSM, without a
// restart. A share is read hidden at a terminal or one per line from stdin
// (or --shares-file), checked here first, sent alone, and never printed.

func runKeysSeal(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys seal", "domicile keys seal --region NAME [flags]",
		`  domicile keys seal --region cn-north
  domicile keys seal --region eu-central --addr http://10.2.0.5:8710   # one node of the region

Seals a running region: its node records the seal in the audit log, stops
taking requests (region_sealed), waits for those in flight, and drops and
zeroes its keys: the keyring, the audit signer, the token keys and the
subject-key cache. The data stays on disk, encrypted. Unseal it again with
'domicile keys unseal --region NAME' (Shamir shares, or --hsm); nothing is
restarted. Needs an admin token. Behind a gateway a region with several
nodes is sealed one node at a time: give each node's URL in --addr.`)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region `NAME` to seal, such as cn-north (required)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := needFlag(fs, "region", *region, "name the region to seal, such as --region cn-north"); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	if _, err := conn.c.Seal(ctx, *region); err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Problem.Code == "region_sealed" {
			fmt.Fprintf(e.stdout, "region %s is already sealed\n", *region)
			return nil
		}
		return conn.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "region %s is sealed: it answers region_sealed until 'domicile keys unseal --region %s'\n", *region, *region)
	return nil
}

func runKeysUnseal(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys unseal", "domicile keys unseal --region NAME [--hsm | --reset | --shares-file FILE] [--addr URL]",
		`  domicile keys unseal --region cn-north                 # type shares at the prompt, hidden
  domicile keys unseal --region cn-north < my-share.txt  # one custodian, one share
  domicile keys unseal --region cn-north --hsm           # the node's PKCS#11 token (serve --unseal pkcs11:...)
  domicile keys unseal --region cn-north --reset         # drop the shares given so far
  domicile keys unseal --region eu-central --addr http://10.2.0.5:8710

Unseals a running region that answers region_sealed (started with
'domicile serve --start-sealed', or sealed with 'domicile keys seal'),
without a restart. Each custodian gives a share ('domicile keys split'
made them), hidden at a terminal or one per line on stdin; each is checked
here, then sent to the node alone, which keeps it in memory and says how
many it holds ("2 of 3 shares"). Custodians may run this one after the
other, each with their own share: the node unseals at the M-th. A refused
share is named with what is wrong, never printed. --hsm asks the node to
unwrap its secret with the HSM it was started with. No token is needed:
the shares are the credential; refusals are rate limited by the node.
Behind a gateway a region with several nodes is unsealed one node at a
time: give each node's URL in --addr.`)
	addr := fs.String("addr", "", "the region node's `URL` (default $DOMICILE_ADDR, or "+client.DefaultAddress+")")
	region := fs.String("region", "", "the region `NAME` to unseal, such as cn-north (required)")
	hsm := fs.Bool("hsm", false, "unseal with the node's HSM (its --unseal pkcs11:... and --unseal-wrapped) instead of shares")
	reset := fs.Bool("reset", false, "drop the shares the node holds so far (after a wrong share of another split)")
	sharesFile := fs.String("shares-file", "", "read the shares from `FILE`, one per line, instead of stdin (less safe: the shares sit together on one disk)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := needFlag(fs, "region", *region, "name the region to unseal, such as --region cn-north"); err != nil {
		return err
	}
	if *hsm && *reset || (*hsm || *reset) && *sharesFile != "" {
		return usageErrorf("keys unseal: give one of --hsm, --reset and shares").
			withHint("--hsm unseals with the node's HSM, --reset drops the shares given so far; without either, give shares")
	}
	conn, err := unsealConn(e, *addr)
	if err != nil {
		return err
	}
	switch {
	case *hsm:
		st, err := conn.c.Unseal(ctx, *region, client.UnsealRequest{HSM: true})
		if err != nil {
			return unsealFailed(ctx, conn, err)
		}
		printSealStatus(e, st)
		return nil
	case *reset:
		st, err := conn.c.Unseal(ctx, *region, client.UnsealRequest{Reset: true})
		if err != nil {
			return unsealFailed(ctx, conn, err)
		}
		fmt.Fprintf(e.stdout, "dropped the shares given so far; region %s %s\n", st.Region, sealWord(st))
		return nil
	}
	return sendShares(ctx, e, conn, *region, *sharesFile)
}

// unsealConn is a client without a token for the unseal route, at --addr,
// $DOMICILE_ADDR or the default address.
func unsealConn(e *env, addr string) (*apiConn, error) {
	if addr == "" {
		addr = e.getenv("DOMICILE_ADDR")
	}
	if addr == "" {
		addr = client.DefaultAddress
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	c, err := client.New(addr, "", client.WithUserAgent("domicile-cli/1"))
	if err != nil {
		return nil, usageErrorf("keys unseal: --addr or DOMICILE_ADDR: %v", err).
			withHint("the address is a URL such as " + client.DefaultAddress)
	}
	return &apiConn{c: c, addr: addr}, nil
}

// sendShares reads shares and sends them one by one until the region is
// unsealed or the shares run out: at a terminal, hidden, asking again
// after a refused share (three times at most); otherwise one per line, and
// the first refusal ends it.
func sendShares(ctx context.Context, e *env, conn *apiConn, region, file string) error {
	fd, tty := stdinTerminal(e)
	var lines *bufio.Scanner
	switch {
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return withHint(fmt.Errorf("keys unseal: %w", err), "check the path and its permissions")
		}
		defer f.Close()
		lines, tty = bufio.NewScanner(f), false
	case !tty:
		lines = bufio.NewScanner(e.stdin)
	}
	var last *client.SealStatus
	fails, sent := 0, 0
	for {
		share, err := nextShare(e, lines, fd, tty, last)
		if err != nil {
			return err
		}
		if share == "" { // no more shares
			break
		}
		if _, err := unseal.ParseShare(share); err != nil { // caught here, not spending the node's budget
			err = shareHint(fmt.Errorf("keys unseal: share %d: %w", sent+fails+1, err), file)
			if !tty {
				return err
			}
			if fails++; fails == 3 {
				return err
			}
			printError(e.stderr, err)
			continue
		}
		st, err := conn.c.Unseal(ctx, region, client.UnsealRequest{Share: share})
		share = ""
		if err != nil {
			err = unsealFailed(ctx, conn, err)
			var ce *client.Error
			if !tty || !errors.As(err, &ce) || ce.Problem.Code != "invalid_request" {
				return err
			}
			if fails++; fails == 3 {
				return err
			}
			printError(e.stderr, err)
			continue
		}
		fails, sent, last = 0, sent+1, st
		if !st.Sealed {
			break
		}
		printSealStatus(e, st)
	}
	if lines != nil {
		if err := lines.Err(); err != nil {
			return fmt.Errorf("keys unseal: reading the shares: %w", err)
		}
	}
	switch {
	case last == nil:
		return withHint(errors.New("keys unseal: no share was given"),
			"give a share at the prompt, one per line on stdin, or in --shares-file; or --hsm for the node's HSM")
	case last.Sealed:
		fmt.Fprintf(e.stdout, "region %s stays sealed until %s: the next custodian runs 'domicile keys unseal --region %s'\n",
			last.Region, more(last), last.Region)
	default:
		printSealStatus(e, last)
	}
	return nil
}

// nextShare returns the next share, or "" when there are no more.
func nextShare(e *env, lines *bufio.Scanner, fd int, tty bool, last *client.SealStatus) (string, error) {
	if !tty {
		for lines.Scan() {
			line := strings.TrimSpace(lines.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				return line, nil
			}
		}
		return "", nil
	}
	if last == nil || last.Threshold == 0 {
		fmt.Fprintf(e.stderr, "share (input hidden, empty to stop): ")
	} else {
		fmt.Fprintf(e.stderr, "share %d of %d (input hidden, empty to stop): ", last.Progress+1, last.Threshold)
	}
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr)
	line := strings.TrimSpace(string(b))
	clear(b)
	if errors.Is(err, io.EOF) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("keys unseal: reading a share: %w", err)
	}
	return line, nil
}

// unsealFailed is conn.failed with the unseal route's own hints.
func unsealFailed(ctx context.Context, conn *apiConn, err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		switch ce.Problem.Code {
		case "rate_limited":
			return withHint(&apiError{err: ce}, "the node refused too many unseal requests: wait a minute, then give the shares again")
		case "invalid_request", "region_sealed", "unknown_region":
			return withHint(&apiError{err: ce}, ce.Problem.Hint)
		}
	}
	return conn.failed(ctx, "", err)
}

// printSealStatus prints a region's seal state: "2 of 3 shares".
func printSealStatus(e *env, st *client.SealStatus) {
	switch {
	case !st.Sealed:
		fmt.Fprintf(e.stdout, "region %s is unsealed\n", st.Region)
	case st.Threshold > 0:
		fmt.Fprintf(e.stdout, "region %s is sealed: %d of %d shares given\n", st.Region, st.Progress, st.Threshold)
	default:
		fmt.Fprintf(e.stdout, "region %s is sealed: no shares given\n", st.Region)
	}
}

func sealWord(st *client.SealStatus) string {
	if st.Sealed {
		return "is sealed"
	}
	return "is not sealed"
}

// more says how many more shares a sealed region needs.
func more(st *client.SealStatus) string {
	n := st.Threshold - st.Progress
	if n == 1 {
		return "1 more share is given"
	}
	return fmt.Sprintf("%d more shares are given", n)
}
