package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/gateway"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tlsconf"
	"github.com/domicile/domicile/internal/vault"
	"github.com/domicile/domicile/internal/web"
)

// DevConfig configures `domicile dev`.
type DevConfig struct {
	DataDir string
	Listen  string
	Policy  *policy.Policy
	// PolicyDoc and PolicyTime are Policy's document and the file's
	// modification time (see RegionConfig); PolicyFile is the file that a
	// SIGHUP reads again, "" for the built-in example.
	PolicyDoc  []byte
	PolicyTime time.Time
	PolicyFile string
	// Seed creates SeedCount synthetic customers on a fresh data
	// directory.
	Seed      bool
	SeedCount int
	Getenv    func(string) string
	Logger    *slog.Logger
	// Progress, if set, is told how seeding advances.
	Progress func(done, total int)
	KDF      keyring.KDFParams
	// AdminLocation is where the dev administrator operates (ISO code,
	// default US): reads of strict regions elsewhere are transfers.
	AdminLocation string
	// TrustedProxies are the proxies whose X-Forwarded-For the gateway
	// believes (see GatewayConfig).
	TrustedProxies []netip.Prefix
	// WitnessURLs are witnesses every region publishes its checkpoints to
	// (see RegionConfig).
	WitnessURLs []string
	// TLS serves the gateway over TLS with a local CA made in DATA/tls
	// (development only: the CA's key lies next to the data).
	TLS bool
	// BlockCache is the bytes of block cache every region's store shares
	// and KeyCache the subject keys each region keeps unwrapped (see
	// Caches); zero means the defaults.
	BlockCache int64
	KeyCache   int
}

// Dev is a running development deployment: every region of the policy in
// one process, each with its own directory and keyring, the gateway in
// front.
type Dev struct {
	Regions   []*Region
	URL       string
	TokenFile string
	// Seeded is the number of customers created at this start.
	Seeded int
	// Fresh is true when the data directory was new.
	Fresh bool
	// CAFile is the local CA's certificate that clients trust, when the
	// deployment serves TLS.
	CAFile string
	server *server
	// stopHUP stops reloading the policy on SIGHUP.
	stopHUP func()
	caches  *Caches
}

// StartDev starts the development deployment and serves it until Close.
func StartDev(ctx context.Context, c DevConfig) (*Dev, error) {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dev{}
	if _, err := os.Stat(filepath.Join(c.DataDir, "regions")); errors.Is(err, fs.ErrNotExist) {
		d.Fresh = true
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if c.AdminLocation == "" {
		c.AdminLocation = "US"
	}
	principals, err := devPrincipals(c.DataDir, c.AdminLocation)
	if err != nil {
		return nil, err
	}
	var st *serverTLS
	if c.TLS {
		var files tlsconf.DevFiles
		if st, files, err = devTLS(c.DataDir, log); err != nil {
			return nil, err
		}
		d.CAFile = files.CA
	}
	d.TokenFile = filepath.Join(c.DataDir, "admin.token")
	metrics := web.NewMetrics()
	backends := map[string]gateway.Backend{}
	gp := newGatewayPolicy(c.Policy) // reload.go
	d.caches = NewCaches(c.BlockCache, c.KeyCache)
	for _, pr := range c.Policy.Regions {
		secret, err := devSecret(c.DataDir, pr.Name, c.Getenv, d.Fresh)
		if err != nil {
			d.closeRegions()
			return nil, err
		}
		r, err := OpenRegion(ctx, RegionConfig{Policy: c.Policy, PolicyDoc: c.PolicyDoc, PolicyTime: c.PolicyTime, OnPolicy: gp.p.Store,
			Name: pr.Name, Dir: filepath.Join(c.DataDir, "regions", pr.Name),
			Secret: secret, KDF: c.KDF, Logger: log, Metrics: metrics, Caches: d.caches,
			WitnessFile: filepath.Join(c.DataDir, "witness", pr.Name+".checkpoints"), WitnessURLs: c.WitnessURLs})
		if err != nil {
			d.closeRegions()
			return nil, err
		}
		d.Regions = append(d.Regions, r)
		backends[pr.Name] = gateway.Backend{URL: &url.URL{Scheme: "http", Host: pr.Name + ".local"}, Transport: gateway.LocalTransport(r.Handler)}
		// Unsealing spent argon2id's work memory (64 MiB by default),
		// garbage now: collect it and hand it back before the next region
		// unseals. A collection alone is not enough: when a small
		// allocation lands in the freed range, the next 64 MiB is mapped
		// afresh, and half of the start-ups peaked at 172 MiB, not 107.
		debug.FreeOSMemory()
	}
	if err := EnsurePrincipals(ctx, d.Regions, principals); err != nil {
		d.closeRegions()
		return nil, err
	}
	gw, err := gateway.New(gateway.Options{Resolver: c.Policy.Resolver(), ResolverNow: gp.resolver, Backends: backends, Logger: log, Metrics: metrics,
		Limiter: newLimiter(c.TrustedProxies), Console: consoleFor(log)})
	if err != nil {
		d.closeRegions()
		return nil, err
	}
	if d.Fresh && c.Seed {
		n, err := SeedCustomers(ctx, d.Regions, c.Policy, c.SeedCount, c.Progress)
		if err != nil {
			d.closeRegions()
			return nil, fmt.Errorf("seed: %w", err)
		}
		d.Seeded = n
	}
	// Before the deployment is announced: a SIGHUP from then on reloads
	// the policy of every region and the gateway, and never kills it.
	d.stopHUP = onSIGHUP(func() { reloadRegionsFromFile(log, c.PolicyFile, d.Regions) })
	d.server, err = listenTLS(c.Listen, gw, log, st)
	if err != nil {
		d.closeRegions()
		return nil, err
	}
	d.URL = d.server.URL()
	return d, nil
}

// Run serves until ctx is done or the server fails, then closes every
// region. When ctx is done it calls stopping, if set (the CLI says that it
// is shutting down), and stops gracefully: the requests in flight get ten
// seconds. A failed server's error is returned.
func (d *Dev) Run(ctx context.Context, stopping func()) error {
	err := d.server.run(ctx, stopping)
	d.closeRegions()
	return err
}

// Close stops serving, waits for requests in flight until ctx is done,
// and closes every region.
func (d *Dev) Close(ctx context.Context) error {
	err := d.server.shutdown(ctx)
	d.closeRegions()
	return err
}

func (d *Dev) closeRegions() {
	if d.stopHUP != nil {
		d.stopHUP()
	}
	for _, r := range d.Regions {
		r.Close()
	}
	d.caches.Close()
}

// Sealed lists the regions that are sealed.
func (d *Dev) Sealed() []*Region {
	var out []*Region
	for _, r := range d.Regions {
		if r.Sealed != nil {
			out = append(out, r)
		}
	}
	return out
}

// devSecret returns a region's unseal secret in dev mode: from its
// environment variable, else from DATA/unseal/REGION.secret, which a fresh
// data directory creates. Production keeps secrets out of the data
// directory (environment, file on another volume, or an HSM).
func devSecret(dir, region string, getenv func(string) string, fresh bool) ([]byte, error) {
	if s := getenv(SecretEnv(region)); s != "" {
		return []byte(s), nil
	}
	path := filepath.Join(dir, "unseal", region+".secret")
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("unseal secret of %s: %w", region, err)
	}
	if !fresh {
		return nil, nil // the region comes up sealed and says how to unseal it
	}
	var s [32]byte
	rand.Read(s[:])
	secret := hex.EncodeToString(s[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := writeSecretFile(path, []byte(secret+"\n")); err != nil {
		return nil, fmt.Errorf("unseal secret of %s: %w", region, err)
	}
	return []byte(secret), nil
}

func writeSecretFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func suiteOf(r *policy.Region) suite.Suite {
	s, err := suite.ByID(r.Suite)
	if err != nil {
		panic("policy validated an unknown suite: " + string(r.Suite)) // policy.Parse rejects unknown suites
	}
	return s
}

// SeedCustomers creates n synthetic customers across the seed generator's
// jurisdictions, each in its region, in batches.
func SeedCustomers(ctx context.Context, regions []*Region, pol *policy.Policy, n int, progress func(done, total int)) (int, error) {
	byName := map[string]*Region{}
	for _, r := range regions {
		byName[r.Name] = r
	}
	g := seed.New(1)
	customers := g.Customers(n, seed.Jurisdictions())
	batches := map[string][]vault.NewRecord{}
	done := 0
	flush := func(region string) error {
		recs := batches[region]
		if len(recs) == 0 {
			return nil
		}
		r := byName[region]
		if r == nil || r.Vault == nil {
			return fmt.Errorf("region %s is not serving", region)
		}
		if _, err := r.Vault.Create(ctx, recs, vault.CreateOptions{Actor: vault.Actor{Principal: "dev-seed"}}); err != nil {
			return fmt.Errorf("region %s: %w", region, err)
		}
		done += len(recs)
		if progress != nil {
			progress(done, len(customers))
		}
		batches[region] = nil
		return nil
	}
	for _, c := range customers {
		pr, err := pol.RegionFor(c.Jurisdiction)
		if err != nil {
			return done, err
		}
		batches[pr.Name] = append(batches[pr.Name], vault.NewRecord{Collection: "customers", Subject: c.SubjectID, Jurisdiction: c.Jurisdiction, Fields: c.Fields})
		if len(batches[pr.Name]) == 50 {
			if err := flush(pr.Name); err != nil {
				return done, err
			}
		}
	}
	for _, r := range pol.Regions {
		if err := flush(r.Name); err != nil {
			return done, err
		}
	}
	return done, nil
}
