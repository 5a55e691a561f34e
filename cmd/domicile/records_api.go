package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/domicile/domicile/client"
)

// What `domicile records` and `domicile keys` share: how they find and
// authenticate to the API, how API errors are shown, and the record output
// formats. Only the public client package is used, as any program would.

const (
	// hintToken tells how to get a token from `domicile dev`.
	hintToken = "export DOMICILE_TOKEN=$(cat data/admin.token)"
	// hintUnreachable is shown when nothing answers at the address.
	hintUnreachable = "is `domicile dev` running? start it with `make run`"
)

// apiFlags are the flags of every API subcommand.
type apiFlags struct {
	addr      string
	tokenFile string
	purpose   string
	cacert    string
	// clientCert and clientKey are the certificate the CLI presents to a
	// gateway that requires client certificates (mTLS).
	clientCert, clientKey string
}

// addAPIFlags adds --addr and --token-file to fs.
func addAPIFlags(fs *flag.FlagSet) *apiFlags {
	f := &apiFlags{}
	fs.StringVar(&f.addr, "addr", "", "API `URL` (default $DOMICILE_ADDR, or "+client.DefaultAddress+")")
	fs.StringVar(&f.tokenFile, "token-file", "", "read the bearer token from `FILE` (default $DOMICILE_TOKEN)")
	fs.StringVar(&f.purpose, "purpose", "", "the `PURPOSE` of the request, such as support (default $DOMICILE_PURPOSE); clear values need one the role allows")
	fs.StringVar(&f.cacert, "cacert", "", "trust the server certificates this PEM CA `FILE` signed, for https:// addresses (default $DOMICILE_CACERT, else the system's CAs)")
	fs.StringVar(&f.clientCert, "client-cert", "", "present this PEM certificate `FILE` to a gateway that requires client certificates (default $DOMICILE_CLIENT_CERT)")
	fs.StringVar(&f.clientKey, "client-key", "", "the private key `FILE` of --client-cert (default $DOMICILE_CLIENT_KEY)")
	return f
}

// apiConn is a client and the address it talks to.
type apiConn struct {
	c    *client.Client
	addr string
	// certAsked is set when a server asked for a client certificate
	// that the flags did not give (nil: they gave one).
	certAsked *atomic.Bool
}

// connect returns a client for the address and token of the flags and the
// environment.
func (f *apiFlags) connect(e *env, cmd string) (*apiConn, error) {
	addr := f.addr
	if addr == "" {
		addr = e.getenv("DOMICILE_ADDR")
	}
	if addr == "" {
		addr = client.DefaultAddress
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	token, err := f.token(e, cmd)
	if err != nil {
		return nil, err
	}
	purpose := f.purpose
	if purpose == "" {
		purpose = e.getenv("DOMICILE_PURPOSE")
	}
	opts := []client.Option{client.WithUserAgent("domicile-cli/1"), client.WithPurpose(purpose)}
	tlsOpt, certAsked, err := f.tlsOption(e, cmd)
	if err != nil {
		return nil, err
	}
	opts = append(opts, tlsOpt)
	c, err := client.New(addr, token, opts...)
	if err != nil {
		return nil, usageErrorf("%s: --addr or DOMICILE_ADDR: %v", cmd, err).
			withHint("the address is a URL such as " + client.DefaultAddress)
	}
	return &apiConn{c: c, addr: addr, certAsked: certAsked}, nil
}

// token reads the token from --token-file or DOMICILE_TOKEN. Its value is
// never shown.
func (f *apiFlags) token(e *env, cmd string) (string, error) {
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return "", withHint(fmt.Errorf("%s: reading the token: %w", cmd, err), hintToken+", or give --token-file the token file's path")
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", withHint(fmt.Errorf("%s: the token file %s is empty", cmd, f.tokenFile), "`domicile dev` writes its admin token to DATA/admin.token")
		}
		return t, nil
	}
	if t := strings.TrimSpace(e.getenv("DOMICILE_TOKEN")); t != "" {
		return t, nil
	}
	return "", usageErrorf("%s: no API token: set DOMICILE_TOKEN or pass --token-file", cmd).withHint(hintToken)
}

// apiError is a problem the API answered with, shown as "<detail> (<code>)".
type apiError struct {
	prefix string
	err    *client.Error
}

func (a *apiError) Error() string {
	p := a.err.Problem
	detail := p.Detail
	if detail == "" {
		detail = strings.ToLower(p.Title)
	}
	return fmt.Sprintf("%s%s (%s)", a.prefix, detail, p.Code)
}

func (a *apiError) Unwrap() error { return a.err }

// cliHints replace the API's hints that speak of HTTP (headers, bodies)
// with what a user of the CLI does instead.
var cliHints = map[string]string{
	"unauthenticated":   "set DOMICILE_TOKEN to a principal's token (make run / domicile dev writes the admin's to data/admin.token); a rotated, expired or revoked token fails too",
	"unknown_purpose":   "pass --purpose with one of the purposes under 'purposes:' in the policy (examples/policy.yaml for make run)",
	"malformed_json":    "the CLI and the server disagree on the API: use a domicile binary of the server's version ('domicile version')",
	"rate_limited":      "too many failed authentications from this address: fix DOMICILE_TOKEN, then retry in a minute",
	"no_such_principal": "'domicile principals list' lists the principals",
	"invalid_principal": "'domicile principals --help' shows what a principal takes; the policy lists the roles and regions",
}

// failed turns an error of the client into what the CLI shows: the API's
// detail, code and hint; a hint to start the server when nothing answers.
// prefix (such as "cn-north: ") goes before the message.
func (c *apiConn) failed(ctx context.Context, prefix string, err error) error {
	var ce *client.Error
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		hint := ce.Problem.Hint
		if h, ok := cliHints[ce.Problem.Code]; ok {
			hint = h
		}
		if hint == "" && ce.Problem.Status >= 500 && ce.Problem.RequestID != "" {
			hint = "the server logged the cause under request id " + ce.Problem.RequestID
		}
		return withHint(&apiError{prefix: prefix, err: ce}, hint)
	case ctx.Err() != nil:
		return fmt.Errorf("%sinterrupted: %w", prefix, ctx.Err())
	case errors.As(err, &dns):
		return withHint(fmt.Errorf("%scannot reach the API at %s: %w", prefix, c.addr, dns), "check --addr or DOMICILE_ADDR; "+hintUnreachable)
	case errors.As(err, &op) && op.Op == "dial":
		return withHint(fmt.Errorf("%scannot reach the API at %s: %w", prefix, c.addr, op.Err), hintUnreachable)
	case errors.As(err, new(x509.UnknownAuthorityError)), errors.As(err, new(*tls.CertificateVerificationError)):
		return withHint(fmt.Errorf("%s%w", prefix, err), "trust the server's CA with --cacert FILE or DOMICILE_CACERT ('domicile dev --tls' writes it to DATA/tls/ca.pem)")
	case isCertificateRequired(err), c.certAsked != nil && c.certAsked.Load():
		// With TLS 1.3 the server refuses a missing certificate after
		// the client's handshake is done, and the client may see its
		// connection closed rather than the server's alert: that the
		// server asked for one is what tells.
		return withHint(fmt.Errorf("%s%w", prefix, err), "the server requires a client certificate: pass --client-cert and --client-key (or DOMICILE_CLIENT_CERT and DOMICILE_CLIENT_KEY)")
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// parseInterspersed parses flags that may come before, between and after the
// positional arguments (`records get ID --format table`), and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// wantArgs checks the number of positional arguments.
func wantArgs(fs *flag.FlagSet, pos []string, names ...string) error {
	switch {
	case len(pos) < len(names):
		return usageErrorf("%s: missing %s", fs.Name(), names[len(pos)]).
			withHint(fmt.Sprintf("run 'domicile %s %s'; --help shows examples", fs.Name(), strings.Join(names, " ")))
	case len(pos) > len(names):
		return usageErrorf("%s: unexpected argument %q", fs.Name(), pos[len(names)]).
			withHint(fmt.Sprintf("run 'domicile %s --help'", fs.Name()))
	}
	for i, p := range pos {
		if p == "" {
			return usageErrorf("%s: empty %s", fs.Name(), names[i]).
				withHint(fmt.Sprintf("run 'domicile %s --help'", fs.Name()))
		}
	}
	return nil
}

// needFlag returns a usage error if the flag called name is empty.
func needFlag(fs *flag.FlagSet, name, val, hint string) error {
	if val != "" {
		return nil
	}
	return usageErrorf("%s: --%s is required", fs.Name(), name).withHint(hint)
}

// pairsFlag is a repeatable KEY=VALUE flag. A mistake is kept in err and
// reported by check, not returned by Set: the flag package would quote the
// value in its error, and values are personal data.
type pairsFlag struct {
	name  string
	keys  []string
	pairs map[string]string
	err   error
}

func (p *pairsFlag) String() string { return "" }

func (p *pairsFlag) Set(s string) error {
	if p.err != nil {
		return nil
	}
	k, v, ok := strings.Cut(s, "=")
	switch {
	case !ok:
		p.err = fmt.Errorf("--%s #%d is not KEY=VALUE: it has no '='", p.name, len(p.keys)+1)
	case k == "":
		p.err = fmt.Errorf("--%s #%d is not KEY=VALUE: the key is empty", p.name, len(p.keys)+1)
	default:
		if _, dup := p.pairs[k]; dup {
			p.err = fmt.Errorf("--%s %s is given twice", p.name, k)
			return nil
		}
		if p.pairs == nil {
			p.pairs = map[string]string{}
		}
		p.pairs[k] = v
		p.keys = append(p.keys, k)
	}
	return nil
}

// check returns the first mistake in the flag's values as a usage error.
func (p *pairsFlag) check(fs *flag.FlagSet) error {
	if p.err == nil {
		return nil
	}
	return usageErrorf("%s: %v", fs.Name(), p.err).
		withHint(fmt.Sprintf("give each as --%s KEY=VALUE, such as --%s name=王伟", p.name, p.name))
}

// stringsFlag is a repeatable flag.
type stringsFlag []string

func (l *stringsFlag) String() string { return strings.Join(*l, ",") }

func (l *stringsFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

// formatFlag checks a --format value against the allowed ones.
func formatFlag(fs *flag.FlagSet, val string, allowed ...string) error {
	for _, a := range allowed {
		if val == a {
			return nil
		}
	}
	return usageErrorf("%s: unknown --format %q", fs.Name(), val).
		withHint("--format is one of " + strings.Join(allowed, ", "))
}

// sortedMapKeys returns the keys of m in order.
func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// printRecordLine prints a record on one line: id, region, jurisdiction,
// then key=value for each field, values quoted when they hold spaces.
func printRecordLine(w io.Writer, r *client.Record) {
	var b strings.Builder
	b.WriteString(r.ID)
	b.WriteByte(' ')
	b.WriteString(r.Region)
	b.WriteByte(' ')
	b.WriteString(r.Jurisdiction)
	for _, k := range sortedMapKeys(r.Fields) {
		b.WriteByte(' ')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(quoteValue(r.Fields[k]))
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

// quoteValue quotes v when it would not read as one word.
func quoteValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\r\n\"'=\\") || strings.IndexFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return fmt.Sprintf("%q", v)
	}
	return v
}

// printRecordTable prints a record as "name: value" lines, its fields
// indented under "fields:".
func printRecordTable(w io.Writer, r *client.Record) {
	meta := [][2]string{
		{"id", r.ID},
		{"collection", r.Collection},
		{"subject", r.Subject},
		{"jurisdiction", r.Jurisdiction},
		{"region", r.Region},
	}
	if !r.Created.IsZero() {
		meta = append(meta, [2]string{"created", r.Created.UTC().Format("2006-01-02T15:04:05Z07:00")})
	}
	if !r.Updated.IsZero() {
		meta = append(meta, [2]string{"updated", r.Updated.UTC().Format("2006-01-02T15:04:05Z07:00")})
	}
	if a := r.Access; a != nil {
		rule := a.Rule
		if a.Transfer {
			rule += " (cross-border transfer)"
		}
		meta = append(meta, [2]string{"access", rule})
	}
	for _, m := range meta {
		fmt.Fprintf(w, "%-13s %s\n", m[0]+":", m[1])
	}
	keys := sortedMapKeys(r.Fields)
	width := 0
	for _, k := range keys {
		width = max(width, len(k)+1)
	}
	fmt.Fprintln(w, "fields:")
	for _, k := range keys {
		fmt.Fprintf(w, "  %-*s %s\n", width, k+":", tableValue(r.Fields[k]))
	}
}

// tableValue quotes v when it holds line breaks or control characters, so
// that one value stays on one line.
func tableValue(v string) string {
	if strings.IndexFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return fmt.Sprintf("%q", v)
	}
	return v
}

// printIndentedJSON prints v as indented JSON.
func printIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
