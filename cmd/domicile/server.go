package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/policy"
)

// loadPolicy reads the policy file, or the embedded example when path is
// empty.
func loadPolicy(path string) (*policy.Policy, error) {
	var p *policy.Policy
	var err error
	if path == "" {
		p, err = policy.Parse("examples/policy.yaml (built in)", examples.Policy)
	} else {
		p, err = policy.Load(path)
	}
	if err != nil {
		return nil, withHint(err, "run 'domicile policy check FILE' for every problem with its line")
	}
	return p, nil
}

// policyFile is a policy as a server reads it: parsed, with its document
// and the file's modification time, which decide at start whether the
// file or a newer policy in the region's store is in force.
type policyFile struct {
	p     *policy.Policy
	doc   []byte
	mtime time.Time
	path  string // "" for the built-in example
}

// loadPolicyFile reads and validates the policy file at path, or the
// embedded example when path is empty, for a server.
func loadPolicyFile(path string) (policyFile, error) {
	f := policyFile{doc: examples.Policy, path: path}
	name := "examples/policy.yaml (built in)"
	if path != "" {
		var err error
		if f.doc, f.mtime, err = app.ReadPolicyFile(path); err != nil {
			return policyFile{}, withHint(err, "pass --policy FILE with a readable policy file")
		}
		name = path
	}
	p, err := policy.Parse(name, f.doc)
	if err != nil {
		return policyFile{}, withHint(err, "run 'domicile policy check FILE' for every problem with its line")
	}
	f.p = p
	return f, nil
}

const devExamples = `  domicile dev --data ./data
  domicile dev --data /tmp/vault --listen 127.0.0.1:9000 --policy examples/policy.yaml
  domicile dev --data ./data --no-seed
  domicile dev --data ./data --tls     # HTTPS with a local CA in DATA/tls; then: export DOMICILE_CACERT=./data/tls/ca.pem`

func runDev(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dev", "domicile dev --data DIR [--listen ADDR] [--policy FILE] [--no-seed]", devExamples)
	logf := addLogFlags(fs) // logging.go
	data := fs.String("data", "", "data directory; each region lives in DIR/regions/NAME (required)")
	listen := fs.String("listen", "127.0.0.1:8700", "address of the gateway")
	pol := fs.String("policy", "", "policy file (default: the built-in examples/policy.yaml)")
	noSeed := fs.Bool("no-seed", false, "do not create sample customers in a fresh data directory")
	devTLS := fs.Bool("tls", false, "serve HTTPS with a local CA made in DATA/tls (ca.pem for clients; development only)")
	count := fs.Int("seed-count", 240, "number of sample customers")
	adminLoc := fs.String("admin-location", "US", "where the dev administrator operates (ISO code); reads of strict regions from elsewhere are transfers")
	proxies := proxyFlags{}
	fs.Var(&proxies, "trusted-proxy", trustedProxyUsage)
	var witnesses witnessURLs
	fs.Var(&witnesses, "witness", witnessUsage)
	caches := addCacheFlags(fs) // memory.go
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := caches.check("dev"); err != nil {
		return err
	}
	if *data == "" {
		return usageErrorf("dev: --data is required").withHint("for example: domicile dev --data ./data")
	}
	if fs.NArg() > 0 {
		return usageErrorf("dev: unexpected argument %q", fs.Arg(0)).withHint("run 'domicile dev --help'")
	}
	pf, err := loadPolicyFile(*pol)
	if err != nil {
		return err
	}
	p := pf.p
	log := logf.logger(e)
	progress := newProgress(e, "seeding sample customers")
	d, err := app.StartDev(ctx, app.DevConfig{DataDir: *data, Listen: *listen, Policy: p, PolicyDoc: pf.doc, PolicyTime: pf.mtime,
		PolicyFile: pf.path, Seed: !*noSeed,
		SeedCount: *count, Getenv: e.getenv, Logger: log, Progress: progress.update, AdminLocation: *adminLoc, TrustedProxies: proxies,
		WitnessURLs: witnesses, TLS: *devTLS, BlockCache: int64(caches.block), KeyCache: *caches.keys})
	progress.done()
	if app.StageOf(err) == app.StageTLS {
		return tlsHint(err)
	}
	if err != nil {
		return withHint(err, devHint(err))
	}
	printDevBanner(e, d, p, *data)
	return d.Run(ctx, func() { fmt.Fprintln(e.stderr, "shutting down") })
}

func devHint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "address already in use"):
		return "another process listens there; stop it or pass --listen 127.0.0.1:PORT"
	case strings.Contains(msg, "in use by another"):
		return "another domicile process uses this data directory; stop it or pass another --data"
	}
	return ""
}

func printDevBanner(e *env, d *app.Dev, p *policy.Policy, data string) {
	w := e.stdout
	fmt.Fprintf(w, "Domicile dev is running at %s\n\n", d.URL)
	for _, r := range d.Regions {
		pr, _ := p.Region(r.Name)
		state := "unsealed"
		if r.Sealed != nil {
			state = "SEALED: " + r.Sealed.Error()
		}
		fmt.Fprintf(w, "  region %-11s suite %-5s jurisdictions %-14s %s\n", r.Name, pr.Suite, strings.Join(pr.Jurisdictions, ","), state)
	}
	if d.Seeded > 0 {
		fmt.Fprintf(w, "\n  seeded %d sample customers\n", d.Seeded)
	}
	fmt.Fprintf(w, "\n  admin token: %s (mode 0600)\n", d.TokenFile)
	fmt.Fprintf(w, "  console: %s/console/ (sign in with a token: the admin's, or an agent's under %s)\n", d.URL, filepath.Join(data, "tokens"))
	if d.CAFile != "" {
		fmt.Fprintf(w, "  TLS CA: %s (clients trust it: --cacert, DOMICILE_CACERT or curl --cacert)\n", d.CAFile)
	}
	caExport, curlCA := devTLSBanner(d.CAFile)
	if d.Fresh {
		fmt.Fprintf(w, "  unseal secrets: %s (dev only: in production keep them off the data disk)\n", filepath.Join(data, "unseal"))
	}
	fmt.Fprintf(w, "\nTry:\n")
	fmt.Fprintf(w, "  export DOMICILE_ADDR=%s DOMICILE_TOKEN=$(cat %s)%s\n", d.URL, d.TokenFile, caExport)
	fmt.Fprintf(w, "  curl -s%s -H \"Authorization: Bearer $DOMICILE_TOKEN\" $DOMICILE_ADDR/v1/regions\n", curlCA)
	fmt.Fprintf(w, "  ./bin/domicile records put --collection customers --jurisdiction CN --subject cust-1 --field name=王伟 --field email=wei@example.com\n")
	fmt.Fprintf(w, "  ./bin/domicile records find --collection customers --field email --value WEI@example.com\n")
	if len(d.Sealed()) > 0 {
		fmt.Fprintf(w, "\nSome regions are sealed: set their unseal secret (%s) and restart.\n", app.SecretEnv(d.Sealed()[0].Name))
	}
}

const serveExamples = `  DOMICILE_UNSEAL_CN_NORTH=... DOMICILE_ADMIN_TOKEN=... domicile serve --region cn-north --data /var/lib/domicile/cn-north --policy policy.yaml
  domicile serve --region eu-central --data ./eu --unseal-file /run/secrets/eu-central --admin-token-file /run/secrets/admin --listen 127.0.0.1:8711
  domicile serve --region eu-central --data ./eu --unseal shamir   # asks for M shares (see: domicile keys split --help)
  domicile serve --region eu-central --data ./eu --start-sealed     # listens sealed; then: domicile keys unseal --region eu-central --addr http://127.0.0.1:8710
  domicile serve --region cn-north --data ./cn --unseal 'pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=domicile;key=region-cn-north;pin-file=/run/secrets/pin' --unseal-wrapped cn-north.wrapped
  domicile serve --region eu-central --store postgres://domicile@db.eu.internal:5432/domicile_eu_central --listen 10.2.0.5:8710
  domicile serve --region eu-central --data ./eu --tls-cert node.pem --tls-key node-key.pem --client-ca gateways-ca.pem   # HTTPS, only the gateway's certificate; kill -HUP reloads node.pem`

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "domicile serve --region NAME (--data DIR | --store postgres://...) [--policy FILE] [--listen ADDR]", serveExamples)
	logf := addLogFlags(fs)
	region := fs.String("region", "", "the region this node serves (required)")
	data := fs.String("data", "", "the region's data directory, for a single node with the embedded store")
	storeURL := fs.String("store", "", "the region's own PostgreSQL database, postgres://USER@HOST:PORT/DB?sslmode=...; any number of nodes of the region may share it (password: PGPASSWORD or ~/.pgpass)")
	pol := fs.String("policy", "", "policy file (default: the built-in example)")
	listen := fs.String("listen", "127.0.0.1:8710", "address to serve the region's API on")
	unsealFrom := addUnsealFlags(fs)
	adminLocation := fs.String("admin-location", "US", "where the bootstrap administrator operates (ISO 3166-1 alpha-2); reads of strict regions from elsewhere are transfers")
	tokenFile := fs.String("admin-token-file", "", "file holding the admin API token (default: environment DOMICILE_ADMIN_TOKEN)")
	tlsf := addTLSFlags(fs, "require callers (the gateway) to present a certificate signed by a CA in this PEM `FILE` (mutual TLS; needs --tls-cert)")
	var witnesses witnessURLs
	fs.Var(&witnesses, "witness", witnessUsage)
	caches := addCacheFlags(fs) // memory.go
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := caches.check("serve"); err != nil {
		return err
	}
	if *region == "" {
		return usageErrorf("serve: --region is required").withHint("run 'domicile serve --help' for examples")
	}
	if (*data == "") == (*storeURL == "") {
		return usageErrorf("serve: give exactly one of --data DIR and --store postgres://...").
			withHint("--data for one node with the embedded store; --store for the region's PostgreSQL database, shared by its nodes")
	}
	if *storeURL != "" && !app.IsPostgresURL(*storeURL) {
		return usageErrorf("serve: --store must be a postgres:// or postgresql:// URL").withHint("for a directory, pass --data DIR")
	}
	if fs.NArg() > 0 {
		return usageErrorf("serve: unexpected argument %q", fs.Arg(0)).withHint("run 'domicile serve --help'")
	}
	tlsConf, err := tlsf.config("serve")
	if err != nil {
		return err
	}
	pf, err := loadPolicyFile(*pol)
	if err != nil {
		return err
	}
	secret, err := unsealFrom.secret(e, *region)
	if err != nil {
		return err
	}
	defer clear(secret)
	hsmLater, err := unsealFrom.deferred(e)
	if err != nil {
		return err
	}
	token, err := readSecret(e, *tokenFile, "DOMICILE_ADMIN_TOKEN")
	if err != nil {
		return err
	}
	if len(token) == 0 {
		return withHint(errors.New("serve: no admin token"), "set DOMICILE_ADMIN_TOKEN or pass --admin-token-file; make one with: domicile principals new-token")
	}
	if !access.WellFormed(string(token)) {
		return withHint(errors.New("serve: the admin token is not a Domicile token"), "make one with: domicile principals new-token (dmc_ and 52 base32 characters)")
	}
	err = app.Serve(ctx, app.ServeConfig{Policy: pf.p, PolicyDoc: pf.doc, PolicyTime: pf.mtime, PolicyFile: pf.path, Region: *region, Dir: *data, Store: *storeURL, Secret: secret,
		AdminToken: string(token), AdminLocation: *adminLocation, Listen: *listen, TLS: tlsConf, Logger: logf.logger(e),
		Listening: listening(e, "region "+*region), WitnessURLs: witnesses, StartSealed: *unsealFrom.startSealed, HSMUnseal: hsmLater,
		BlockCache: int64(caches.block), KeyCache: *caches.keys})
	switch app.StageOf(err) {
	case app.StageTLS:
		return tlsHint(err)
	case app.StageOpen:
		return withHint(err, serveHint(err, *region))
	case app.StageSealed:
		return withHint(err, unsealFrom.sealedHint(*region))
	case app.StagePrincipals:
		return withHint(err, "check --admin-location (an ISO 3166-1 alpha-2 code) and that the policy has an admin role")
	}
	return listenHint(err)
}

// serveHint suggests what to do about a failed serve start.
func serveHint(err error, region string) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "each region needs its own database"), strings.Contains(msg, "store holds region"):
		return "point --store at " + region + "'s own database (create one: createdb domicile_" + strings.ReplaceAll(region, "-", "_") + ")"
	case strings.Contains(msg, "schema is newer"):
		return "another node upgraded the database; run the same or a newer domicile"
	case strings.Contains(msg, "postgres:"):
		return "check that the database in --store exists and accepts this node (host, port, user, sslmode, password in PGPASSWORD or ~/.pgpass)"
	}
	return devHint(err)
}

// readSecret reads a secret from a file or an environment variable.
func readSecret(e *env, file, envName string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, withHint(err, "check the path and its permissions")
		}
		return []byte(strings.TrimSpace(string(b))), nil
	}
	return []byte(e.getenv(envName)), nil
}

const gatewayExamples = `  domicile gateway --policy policy.yaml --region cn-north=http://10.1.0.5:8710,http://10.1.0.6:8710 \
      --region eu-central=http://10.2.0.5:8710 --region ru-central=http://10.3.0.5:8710 --region us-east=http://10.4.0.5:8710
  domicile gateway --trusted-proxy 10.0.0.0/24 --region ...   # behind a load balancer in 10.0.0.0/24
  domicile gateway --tls-cert gw.pem --tls-key gw-key.pem --client-ca callers-ca.pem \
      --backend-ca nodes-ca.pem --backend-cert gw-client.pem --backend-key gw-client-key.pem --region eu-central=https://10.2.0.5:8710 ...`

const trustedProxyUsage = "a proxy (CIDR or address) whose X-Forwarded-For is believed for the client address that failed authentications are limited by (repeat; default: none, the connection's address)"

// proxyFlags collects repeated --trusted-proxy CIDR flags.
type proxyFlags []netip.Prefix

func (p *proxyFlags) String() string { return "" }
func (p *proxyFlags) Set(s string) error {
	if pr, err := netip.ParsePrefix(s); err == nil {
		*p = append(*p, pr.Masked())
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an IP address", s)
	}
	*p = append(*p, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	return nil
}

// regionFlags collects repeated --region NAME=URL[,URL...] flags.
type regionFlags map[string][]*url.URL

func (r regionFlags) String() string { return "" }
func (r regionFlags) Set(s string) error {
	name, raws, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return errors.New("want NAME=URL[,URL...]")
	}
	for _, raw := range strings.Split(raws, ",") {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("region %s: %q is not an http(s) URL", name, raw)
		}
		r[name] = append(r[name], u)
	}
	return nil
}

func runGateway(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "gateway", "domicile gateway --policy FILE --region NAME=URL... [--listen ADDR]", gatewayExamples)
	logf := addLogFlags(fs)
	pol := fs.String("policy", "", "policy file (default: the built-in example)")
	listen := fs.String("listen", "127.0.0.1:8700", "address to serve on")
	regions := regionFlags{}
	fs.Var(regions, "region", "a region and its nodes' URLs, NAME=URL[,URL...] (repeat for every region); requests spread over the nodes and move on when one fails")
	proxies := proxyFlags{}
	fs.Var(&proxies, "trusted-proxy", trustedProxyUsage)
	tlsf := addTLSFlags(fs, "require every caller to present a certificate signed by a CA in this PEM `FILE` (mutual TLS; needs --tls-cert)")
	backendTLS := addBackendTLSFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tlsConf, err := tlsf.config("gateway")
	if err != nil {
		return err
	}
	backendConf, err := backendTLS.config()
	if err != nil {
		return err
	}
	pf, err := loadPolicyFile(*pol)
	if err != nil {
		return err
	}
	err = app.RunGateway(ctx, app.GatewayConfig{Policy: pf.p, PolicyFile: pf.path, Regions: regions, Listen: *listen, Logger: logf.logger(e),
		Listening: listening(e, "gateway"), TrustedProxies: proxies, TLS: tlsConf, BackendTLS: backendConf})
	if app.StageOf(err) == app.StageTLS {
		return tlsHint(err)
	}
	if app.StageOf(err) == app.StageGateway {
		return withHint(err, "pass --region NAME=URL once for every region of the policy")
	}
	return listenHint(err)
}

// listening returns the callback that tells the user where a server
// listens.
func listening(e *env, what string) func(url string) {
	return func(url string) { fmt.Fprintf(e.stdout, "%s listening on %s\n", what, url) }
}

// listenHint adds a hint to an error listening on --listen.
func listenHint(err error) error {
	if app.StageOf(err) == app.StageListen {
		return withHint(err, "pass --listen 127.0.0.1:PORT with a free port")
	}
	return err
}
