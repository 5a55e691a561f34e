// Package app wires Domicile's parts together from configuration: stores,
// keyrings, vaults, the API and the gateway. It is the only package that
// imports storage drivers.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/api"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/guard/decoys"
	"github.com/domicile/domicile/internal/guard/webhook"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/transfer"
	"github.com/domicile/domicile/internal/vault"
	"github.com/domicile/domicile/internal/web"
)

// RegionConfig configures one region's node.
type RegionConfig struct {
	Policy *policy.Policy
	Name   string
	// Dir is the region's embedded-storage directory, used when Store is
	// empty.
	Dir string
	// Store says where the region's data lives: empty or a directory path
	// for the embedded Pebble store (one process at a time), or a
	// postgres:// or postgresql:// URL of the region's own PostgreSQL
	// database, which any number of nodes of this region may share and no
	// other region may use.
	Store string
	// Secret is the unseal secret; empty leaves the region sealed.
	Secret []byte
	KDF    keyring.KDFParams
	Logger *slog.Logger
	// Now is the clock of the breach detector; nil means time.Now.
	Now func() time.Time
	// WitnessFile, if set, receives every signed audit checkpoint, so that
	// a log cut back and re-signed is caught; keep it off the region's
	// disk.
	WitnessFile string
	// WitnessURLs are c2sp.org/tlog-witness witnesses (submission
	// prefixes, such as http://witness.example:8720) that every signed
	// checkpoint is published to; their cosignatures are stored with it.
	WitnessURLs []string
	// Metrics may be shared by every region of a process.
	Metrics *web.Metrics
}

// Region is one region's node: its store, keyring, vault and handler. A
// sealed region has only a handler, which refuses every API request with
// the code region_sealed.
type Region struct {
	Name    string
	Store   store.Store
	Keyring *keyring.Keyring
	Vault   *vault.Vault
	// Directory holds the principals that may reach the region.
	Directory *access.Directory
	// Guard watches for bulk and unusual reading.
	Guard *guard.Guard
	// Service is the region's use-case layer, behind Handler.
	Service *region.Service
	// Audit is the region's tamper-evident log.
	Audit   *audit.Log
	log     *slog.Logger
	hooks   *webhook.Sender
	Handler http.Handler
	// Sealed is why the region does not serve, or nil.
	Sealed error
}

// SecretEnv is the environment variable holding a region's unseal secret:
// DOMICILE_UNSEAL_ and the region name in upper case with "-" as "_".
func SecretEnv(region string) string {
	return "DOMICILE_UNSEAL_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
}

// OpenRegion opens the region's store and keyring. A missing or wrong
// secret does not fail: the region comes up sealed, saying how to unseal it.
// On any other error, everything opened so far is closed again (the audit
// log's background work included), in one place: the deferred release.
func OpenRegion(ctx context.Context, c RegionConfig) (_ *Region, err error) {
	if _, ok := c.Policy.Region(c.Name); !ok {
		return nil, fmt.Errorf("region %s is not in the policy", c.Name)
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("region", c.Name)
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	r := &Region{Name: c.Name, Store: st, log: log}
	defer func() {
		if err != nil {
			r.release(false)
		}
	}()
	pr, _ := c.Policy.Region(c.Name)
	kr, err := keyring.Open(ctx, keyring.Options{Region: c.Name, Suite: suiteOf(pr), Store: st, Secret: c.Secret, KDF: c.KDF})
	switch {
	case errors.Is(err, keyring.ErrSealed), errors.Is(err, keyring.ErrWrongSecret):
		r.Sealed = fmt.Errorf("region %s is sealed: %w", c.Name, err)
		r.Handler = web.Middleware(sealedHandler(c.Name, err), c.Metrics, log, 0)
		log.Error("region is sealed", "err", err, "hint", "set "+SecretEnv(c.Name)+" or the region's unseal file")
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("region %s: keyring: %w", c.Name, err)
	}
	r.Keyring = kr
	alog, err := openAudit(ctx, c, kr, st, log)
	if err != nil {
		return nil, fmt.Errorf("region %s: audit log: %w", c.Name, err)
	}
	r.Audit = alog
	c.Metrics.RegionCounter("domicile_audit_void_entries_total",
		"Void audit entries this process wrote: indexes a node reserved but never wrote (it died), or gave up.",
		c.Name, func() float64 { return float64(alog.Voids()) })
	tok, err := tokens.New(tokens.Options{Region: c.Name, Policy: c.Policy, Keyring: kr, Store: st})
	if err != nil {
		return nil, fmt.Errorf("region %s: tokens: %w", c.Name, err)
	}
	v, err := vault.New(vault.Options{Policy: c.Policy, Region: c.Name, Keyring: kr, Store: st, Tokens: tok, Audit: alog})
	if err != nil {
		return nil, err
	}
	r.Vault = v
	dir, engine, masker, err := accessFor(c.Policy, kr, st)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", c.Name, err)
	}
	r.Directory = dir
	g, hooks, err := guardFor(ctx, c, kr, st, dir, alog, log)
	r.Guard, r.hooks = g, hooks // the hooks exist even when the guard failed
	if err != nil {
		return nil, fmt.Errorf("region %s: guard: %w", c.Name, err)
	}
	ledger, err := transfer.New(st, c.Policy, c.Name, c.Now)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", c.Name, err)
	}
	r.Service = region.New(region.Options{Vault: v, Tokens: tok, Guard: g, Directory: dir, Access: engine, Masker: masker,
		Decoys: decoys.New(), Transfers: ledger, Logger: log})
	r.Handler, err = api.NewRegion(api.RegionOptions{Service: r.Service, Logger: log, Metrics: c.Metrics})
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", c.Name, err)
	}
	kr.ResumeJobs() // an unfinished rewrap job goes on here if no node holds it
	return r, nil
}

// Close releases the region: it flushes the guard, signs a checkpoint
// over the audit entries still pending, and closes everything it opened.
func (r *Region) Close() error { return r.release(true) }

// release closes whatever the region opened, last opened first; with
// checkpoint it first signs what is pending in the audit log, so that a
// clean stop leaves the whole log covered by a checkpoint.
func (r *Region) release(checkpoint bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.Guard != nil {
		r.Guard.Close(ctx) // flushes its counters
	}
	if r.hooks != nil {
		r.hooks.Close(ctx)
	}
	if r.Audit != nil {
		if checkpoint {
			if _, err := r.Audit.Checkpoint(ctx); err != nil && !errors.Is(err, audit.ErrNotFound) {
				r.log.Error("audit: final checkpoint", "err", err)
			}
		}
		r.Audit.Close()
	}
	if r.Keyring != nil {
		r.Keyring.Close()
	}
	return r.Store.Close()
}

// sealedHandler answers every API request of a sealed region.
func sealedHandler(region string, cause error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		detail := "region " + region + " is sealed: no unseal secret was given"
		if errors.Is(cause, keyring.ErrWrongSecret) {
			detail = "region " + region + " is sealed: the unseal secret given does not open its keys"
		}
		web.WriteError(w, r, nil, errcode.New(errcode.RegionSealed, "%s; set %s (or its unseal file) and restart", detail, SecretEnv(region)))
	})
	return mux
}
