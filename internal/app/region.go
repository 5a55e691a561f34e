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
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/guard/webhook"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/vault"
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
	// Metrics may be shared by every region of a process.
	Metrics *api.Metrics
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
func OpenRegion(ctx context.Context, c RegionConfig) (*Region, error) {
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
	pr, _ := c.Policy.Region(c.Name)
	kr, err := keyring.Open(ctx, keyring.Options{Region: c.Name, Suite: suiteOf(pr), Store: st, Secret: c.Secret, KDF: c.KDF})
	switch {
	case errors.Is(err, keyring.ErrSealed), errors.Is(err, keyring.ErrWrongSecret):
		r.Sealed = fmt.Errorf("region %s is sealed: %w", c.Name, err)
		r.Handler = api.Middleware(sealedHandler(c.Name, err), c.Metrics, log, 0)
		log.Error("region is sealed", "err", err, "hint", "set "+SecretEnv(c.Name)+" or the region's unseal file")
		return r, nil
	case err != nil:
		st.Close()
		return nil, fmt.Errorf("region %s: keyring: %w", c.Name, err)
	}
	alog, err := openAudit(ctx, c, kr, st, log)
	if err != nil {
		kr.Close()
		st.Close()
		return nil, fmt.Errorf("region %s: audit log: %w", c.Name, err)
	}
	r.Audit = alog
	tok, err := tokens.New(tokens.Options{Region: c.Name, Policy: c.Policy, Keyring: kr, Store: st})
	if err != nil {
		alog.Close()
		kr.Close()
		st.Close()
		return nil, fmt.Errorf("region %s: tokens: %w", c.Name, err)
	}
	v, err := vault.New(vault.Options{Policy: c.Policy, Region: c.Name, Keyring: kr, Store: st, Tokens: tok, Audit: alog})
	if err != nil {
		kr.Close()
		st.Close()
		return nil, err
	}
	r.Keyring, r.Vault = kr, v
	dir, engine, masker, err := accessFor(c.Policy, kr, st)
	if err != nil {
		kr.Close()
		st.Close()
		return nil, fmt.Errorf("region %s: %w", c.Name, err)
	}
	r.Directory = dir
	g, hooks, err := guardFor(ctx, c, kr, st, dir, alog, log)
	if err != nil {
		kr.Close()
		st.Close()
		return nil, fmt.Errorf("region %s: guard: %w", c.Name, err)
	}
	r.Guard, r.hooks = g, hooks
	r.Handler = api.NewRegion(api.RegionOptions{Vault: v, Tokens: tok, Guard: g, Directory: dir, Access: engine, Masker: masker, Logger: log, Metrics: c.Metrics})
	return r, nil
}

// Close releases the region.
func (r *Region) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.Guard != nil {
		r.Guard.Close(ctx) // flushes its counters
	}
	if r.hooks != nil {
		r.hooks.Close(ctx)
	}
	if r.Audit != nil {
		// Sign what is pending, so that a clean stop leaves the whole log
		// covered by a checkpoint.
		if _, err := r.Audit.Checkpoint(ctx); err != nil && !errors.Is(err, audit.ErrNotFound) {
			r.log.Error("audit: final checkpoint", "err", err)
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
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		detail := "region " + region + " is sealed: no unseal secret was given"
		if errors.Is(cause, keyring.ErrWrongSecret) {
			detail = "region " + region + " is sealed: the unseal secret given does not open its keys"
		}
		api.WriteError(w, r, nil, &api.Error{Code: api.CodeSealed, Detail: detail + "; set " + SecretEnv(region) + " (or its unseal file) and restart"})
	})
	return mux
}
