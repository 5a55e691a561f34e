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
	"sync"
	"sync/atomic"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/guard/webhook"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/vault"
	"github.com/domicile/domicile/internal/web"
)

// RegionConfig configures one region's node.
type RegionConfig struct {
	Policy *policy.Policy
	// PolicyDoc is Policy's document as read, and PolicyTime the file's
	// modification time (zero for the built-in example): with them the
	// node settles at start whether the file or the policy stored in the
	// region's store is in force, and reports the policy's digest (see
	// reload.go). Nil PolicyDoc serves Policy without storing it or
	// watching the store for a newer one (tools such as break-glass).
	PolicyDoc  []byte
	PolicyTime time.Time
	// PolicyPoll is how often the node looks for a newer policy stored by
	// another node of the region: zero means every 2 seconds, negative
	// never.
	PolicyPoll time.Duration
	// OnPolicy, if set, is called with every policy the region swaps to
	// (dev mode points its gateway's resolver at it).
	OnPolicy func(*policy.Policy)
	Name     string
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
	// Caches are the process's caches (see Caches); nil gives the region
	// a block cache of its own and the default key cache.
	Caches *Caches
	// HSMUnseal, if set, unwraps the region's unseal secret with the HSM
	// the node was started with; the unseal route calls it for
	// {"hsm": true}. The caller clears the secret it returns.
	HSMUnseal func(ctx context.Context) ([]byte, error)
	// OnUnseal, if set, runs when the region is unsealed online, after
	// its keys are open and before it serves (serve makes sure of its
	// bootstrap administrator there); an error seals it again.
	OnUnseal func(ctx context.Context, r *Region) error
}

// Region is one region's node: its store, keyring, vault and handler. A
// sealed region has only its store and a handler, which refuses every API
// request with the code region_sealed but the unseal route (see seal.go).
//
// A region is sealed and unsealed in-process (Unseal through the API,
// Seal): the fields opened with the keys (Keyring to Audit) are set when
// it is unsealed and nil while it is sealed; a policy reload replaces
// Vault, Directory, Guard and Service (reload.go). Read them only while
// nothing seals, unseals or reloads the region (at start, in tests);
// Handler stays the same throughout.
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

	// cfg is the configuration the region was opened with, less its
	// secret, to open the keys again when unsealed online.
	cfg RegionConfig
	// api is the handler of the unsealed region.
	api http.Handler
	// cur is what Handler serves now: api, or the sealed handler.
	cur atomic.Pointer[current]
	// inflight is held (read) by every request served by api, so that
	// sealing waits for them before it zeroes the keys.
	inflight sync.RWMutex
	seal     *sealer
	// policy is the policy the node serves (reload.go); gen counts the
	// requests in flight on the current stack; stopPolicy stops watching
	// the store for a newer one.
	policy     atomic.Pointer[activePolicy]
	gen        *generation
	stopPolicy func()
	// refusedVersion is the last stored version the watcher refused (under
	// the seal lock), so that it logs each once.
	refusedVersion int64
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
	// Before metering: a PostgreSQL store is checked against its database's identity.
	if err = refuseRestorePending(ctx, st, c.Name); err != nil { // restore.go, restore_pg.go
		_ = st.Close()
		return nil, err
	}
	st = meterStore(c.Metrics, c.Name, st) // metrics.go
	r := &Region{Name: c.Name, Store: st, log: log}
	defer func() {
		if err != nil {
			r.release(false)
		}
	}()
	r.cfg = c
	r.cfg.Secret = nil
	r.seal = newSealer(r, c)
	r.Handler = http.HandlerFunc(r.serveHTTP)
	registerRegionMetrics(c.Metrics, r, c)
	registerPolicyMetrics(c.Metrics, r) // reload.go
	switch err := r.openKeys(ctx, c.Secret); {
	case errors.Is(err, keyring.ErrSealed), errors.Is(err, keyring.ErrWrongSecret):
		r.setSealed(err)
		r.policy.Store(&activePolicy{pol: c.Policy, doc: c.PolicyDoc, info: region.PolicyInfo{Region: c.Name, Source: region.PolicyFromFile, Since: r.now()}})
		r.stopPolicy = r.watchPolicy(policyPoll(c))
		log.Error("region is sealed", "err", err, "hint", "set "+SecretEnv(c.Name)+" or the region's unseal file, or unseal it online: domicile keys unseal --region "+c.Name)
		return r, nil
	case err != nil:
		return nil, err
	}
	r.seal.markOpen()
	if err = r.initPolicy(ctx); err != nil { // reload.go
		return nil, fmt.Errorf("region %s: policy: %w", c.Name, err)
	}
	r.stopPolicy = r.watchPolicy(policyPoll(c))
	r.cur.Store(&current{h: r.api, keyed: true})
	r.Keyring.ResumeJobs() // an unfinished rewrap job goes on here if no node holds it
	return r, nil
}

// openKeys opens what the region's keys open: the keyring, the audit log,
// tokens, vault, principals, guard, transfer ledger, service and API
// handler (r.api), with secret. It does not start serving them. On error
// it closes again whatever it opened; a missing or wrong secret wraps
// keyring.ErrSealed or keyring.ErrWrongSecret.
func (r *Region) openKeys(ctx context.Context, secret []byte) (err error) {
	c := r.cfg
	log, st := r.log, r.Store
	pr, _ := c.Policy.Region(c.Name)
	kr, err := keyring.Open(ctx, keyring.Options{Region: c.Name, Suite: suiteOf(pr), Store: st, Secret: secret, KDF: c.KDF, CacheSize: c.Caches.keyCache()})
	switch {
	case errors.Is(err, keyring.ErrSealed), errors.Is(err, keyring.ErrWrongSecret):
		return err
	case err != nil:
		return fmt.Errorf("region %s: keyring: %w", c.Name, err)
	}
	r.Keyring = kr
	defer func() {
		if err != nil {
			r.detach().close(log, false)
		}
	}()
	alog, err := openAudit(ctx, c, kr, st, log)
	if err != nil {
		return fmt.Errorf("region %s: audit log: %w", c.Name, err)
	}
	r.Audit = alog
	// Everything made from the policy, which a reload makes again
	// (reload.go).
	s, err := r.openStack(ctx, c, kr, alog)
	if err != nil {
		return err
	}
	r.useStack(s)
	return nil
}

// Close releases the region: it flushes the guard, signs a checkpoint
// over the audit entries still pending, and closes everything it opened.
func (r *Region) Close() error { return r.release(true) }

// release closes whatever the region opened, last opened first; with
// checkpoint it first signs what is pending in the audit log, so that a
// clean stop leaves the whole log covered by a checkpoint. It waits for a
// seal in progress to finish closing the keys.
func (r *Region) release(checkpoint bool) error {
	if r.stopPolicy != nil {
		r.stopPolicy() // first: it takes the seal lock
	}
	if r.seal != nil {
		r.seal.mu.Lock()
		defer r.seal.mu.Unlock()
		r.seal.waitClosed(context.Background())
	}
	r.detach().close(r.log, checkpoint)
	return r.Store.Close()
}

// keyed is what a region opened with its keys and closes when sealed.
type keyed struct {
	keyring *keyring.Keyring
	audit   *audit.Log
	guard   *guard.Guard
	hooks   *webhook.Sender
}

// detach takes from r what its keys opened, leaving those fields nil, for
// the caller to close.
func (r *Region) detach() keyed {
	k := keyed{keyring: r.Keyring, audit: r.Audit, guard: r.Guard, hooks: r.hooks}
	r.Keyring, r.Audit, r.Guard, r.hooks = nil, nil, nil, nil
	r.Vault, r.Directory, r.Service, r.api, r.gen = nil, nil, nil, nil, nil
	return k
}

// close closes k, last opened first: it flushes the guard, signs a
// checkpoint over what the audit log holds pending (with checkpoint), and
// zeroes the keys.
func (k keyed) close(log *slog.Logger, checkpoint bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if k.guard != nil {
		k.guard.Close(ctx) // flushes its counters
	}
	if k.hooks != nil {
		k.hooks.Close(ctx)
	}
	if k.audit != nil {
		if checkpoint {
			if _, err := k.audit.Checkpoint(ctx); err != nil && !errors.Is(err, audit.ErrNotFound) {
				log.Error("audit: final checkpoint", "err", err)
			}
		}
		k.audit.Close()
	}
	if k.keyring != nil {
		k.keyring.Close()
	}
}

// policyPoll is the period of watching the store for a newer policy: c's
// PolicyPoll, never without a PolicyDoc.
func policyPoll(c RegionConfig) time.Duration {
	switch {
	case c.PolicyDoc == nil:
		return -1
	case c.PolicyPoll == 0:
		return defaultPolicyPoll
	}
	return c.PolicyPoll
}
