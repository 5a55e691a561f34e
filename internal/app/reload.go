package app

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/api"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/guard/decoys"
	"github.com/domicile/domicile/internal/guard/webhook"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/residency"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/transfer"
	"github.com/domicile/domicile/internal/vault"
	"github.com/domicile/domicile/internal/web"
	"github.com/prometheus/client_golang/prometheus"
)

// Policy reload without a restart.
//
// A region's node holds its current policy in one place, Region.policy,
// and everything made from it (token service, vault, principals and access
// engine, guard, transfer ledger, region service and API handler) in one
// stack, which the node's handler serves through one atomic pointer
// (Region.cur): a request runs wholly on the stack it started on, so it
// decides, reveals, guards and audits under one policy. A reload builds a
// new stack from the same keyring, audit log and store, commits the new
// policy to the region's store with its audit entry in one write, and
// swaps the pointer; the old stack's guard is closed once its last
// request is done. On any error nothing is swapped and the old policy
// keeps serving.
//
// The region's store holds the accepted policies, versioned: pol/head
// names the current version and its digest, pol/v/VERSION holds the
// document and pol/d/DIGEST the version a document was accepted as. Every
// node of a region sharing a store polls pol/head and swaps to a newer
// version (convergence). At start a node compares its --policy file with
// the stored head: the same document adopts the stored version; a
// document the region never stored, or one stored before but whose file
// was modified after the head was accepted, is the newer and is stored as
// the next version (audited, source "file": a restart is how changes a
// reload refuses are made); otherwise (the file holds a policy a reload
// has since replaced) the stored policy wins. The node logs which is in
// force.

// defaultPolicyPoll is how often a node looks for a newer policy in its
// region's store.
const defaultPolicyPoll = 2 * time.Second

var policyHeadKey = []byte("pol/head")

func policyDocKey(version int64) []byte { return fmt.Appendf(nil, "pol/v/%020d", version) }

func policyDigestKey(digest string) []byte { return []byte("pol/d/" + digest) }

// policyStored reports whether the region's store ever accepted the
// document of digest.
func policyStored(ctx context.Context, st store.Store, digest string) (bool, error) {
	_, err := st.Get(ctx, policyDigestKey(digest))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// policyHead is the stored head of a region's accepted policies.
type policyHead struct {
	Version    int64     `json:"version"`
	Digest     string    `json:"digest"`
	AcceptedAt time.Time `json:"accepted_at"`
	Source     string    `json:"source"`
}

// activePolicy is the policy a region's node serves.
type activePolicy struct {
	pol  *policy.Policy
	doc  []byte
	info region.PolicyInfo
}

// policyDigest is doc's digest under the region's suite hash, such as
// "sha256:HEX" or "sm3:HEX".
func policyDigest(s suite.Suite, doc []byte) string {
	h := s.Hash()
	name := strings.ToLower(strings.ReplaceAll(h.ID(), "-", ""))
	return name + ":" + hex.EncodeToString(h.Sum(doc))
}

// shortDigest is digest with its hex cut to 16 digits, for log lines.
func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+17 {
		return d[:i+17]
	}
	return d
}

// readPolicyHead returns the stored head and its encoding; found is false
// when the region has stored no policy yet.
func readPolicyHead(ctx context.Context, st store.Store) (h policyHead, raw []byte, found bool, err error) {
	raw, err = st.Get(ctx, policyHeadKey)
	if errors.Is(err, store.ErrNotFound) {
		return policyHead{}, nil, false, nil
	}
	if err != nil {
		return policyHead{}, nil, false, fmt.Errorf("policy head: %w", err)
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Version <= 0 {
		return policyHead{}, nil, false, fmt.Errorf("policy head: malformed (%v)", err)
	}
	return h, raw, true, nil
}

// generation counts the requests in flight on one stack, so that a
// replaced stack's guard is closed only once the last of them is done.
type generation struct {
	mu      sync.Mutex
	n       int
	retired bool
	onIdle  func()
}

func (g *generation) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retired {
		return false
	}
	g.n++
	return true
}

func (g *generation) leave() {
	g.mu.Lock()
	g.n--
	f := g.idle()
	g.mu.Unlock()
	if f != nil {
		f()
	}
}

// idle returns onIdle, once, when the generation is retired and has no
// request left. g.mu is held.
func (g *generation) idle() func() {
	if !g.retired || g.n > 0 || g.onIdle == nil {
		return nil
	}
	f := g.onIdle
	g.onIdle = nil
	return f
}

// retire lets no new request in and runs f once the last one is done.
func (g *generation) retire(f func()) {
	g.mu.Lock()
	g.retired, g.onIdle = true, f
	f = g.idle()
	g.mu.Unlock()
	if f != nil {
		f()
	}
}

// stack is what a region's node makes from its policy: everything between
// the keys and the handler.
type stack struct {
	tokens  *tokens.Service
	vault   *vault.Vault
	dir     *access.Directory
	guard   *guard.Guard
	hooks   *webhook.Sender
	service *region.Service
	api     http.Handler
	gen     *generation
}

// closeGuard closes the stack's guard and webhooks.
func (s *stack) closeGuard() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.guard != nil {
		s.guard.Close(ctx)
	}
	if s.hooks != nil {
		s.hooks.Close(ctx)
	}
}

// openStack makes the stack of policy c.Policy over the region's keyring,
// audit log and store. On error it closes what it opened.
func (r *Region) openStack(ctx context.Context, c RegionConfig, kr *keyring.Keyring, alog *audit.Log) (_ *stack, err error) {
	st, log := r.Store, r.log
	s := &stack{gen: &generation{}}
	defer func() {
		if err != nil {
			s.closeGuard()
		}
	}()
	s.tokens, err = tokens.New(tokens.Options{Region: c.Name, Policy: c.Policy, Keyring: kr, Store: st})
	if err != nil {
		return nil, fmt.Errorf("region %s: tokens: %w", c.Name, err)
	}
	s.vault, err = vault.New(vault.Options{Policy: c.Policy, Region: c.Name, Keyring: kr, Store: st, Tokens: s.tokens, Audit: alog})
	if err != nil {
		return nil, err
	}
	dir, engine, masker, err := accessFor(c.Policy, kr, st)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", c.Name, err)
	}
	s.dir = dir
	s.guard, s.hooks, err = guardFor(ctx, c, kr, st, dir, alog, log)
	if err != nil {
		return nil, fmt.Errorf("region %s: guard: %w", c.Name, err)
	}
	ledger, err := transfer.New(st, c.Policy, c.Name, c.Now)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", c.Name, err)
	}
	s.service = region.New(region.Options{Vault: s.vault, Tokens: s.tokens, Guard: s.guard, Directory: dir, Access: engine, Masker: masker,
		Decoys: decoys.New(), Transfers: ledger, Policy: r, Logger: log})
	h, err := api.NewRegion(api.RegionOptions{Service: s.service, Logger: log, Metrics: c.Metrics, Sealer: r.seal})
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", c.Name, err)
	}
	gen := s.gen
	s.api = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !gen.enter() {
			// The stack was replaced after the request chose it: the
			// request runs on the current one instead.
			r.cur.Load().h.ServeHTTP(w, req)
			return
		}
		defer gen.leave()
		h.ServeHTTP(w, req)
	})
	return s, nil
}

// useStack makes s the region's stack (the fields opened with the keys),
// without serving it yet. The seal lock is held, or the region is opening.
func (r *Region) useStack(s *stack) {
	r.Vault, r.Directory, r.Guard, r.hooks, r.Service, r.api, r.gen = s.vault, s.dir, s.guard, s.hooks, s.service, s.api, s.gen
	// A suite migration's job re-seals records and token entries with
	// this stack's services.
	s.vault.Keyring().SetMigrationPasses(s.vault.MigrationPass(), s.tokens.MigrationPass())
}

// swapStack serves s, built from active's policy, in place of the current
// stack, whose guard closes once its last request is done. The seal lock
// is held and the region is unsealed.
func (r *Region) swapStack(s *stack, active *activePolicy) {
	old := &stack{guard: r.Guard, hooks: r.hooks, gen: r.gen}
	r.cfg.Policy = active.pol
	r.useStack(s)
	r.policy.Store(active)
	r.cur.Store(&current{h: s.api, keyed: true})
	if old.gen != nil {
		old.gen.retire(old.closeGuard)
	} else {
		old.closeGuard()
	}
	if r.cfg.OnPolicy != nil {
		r.cfg.OnPolicy(active.pol)
	}
}

// ActivePolicy returns the policy the node serves (region.PolicyControl).
func (r *Region) ActivePolicy() region.PolicyInfo {
	if a := r.policy.Load(); a != nil {
		return a.info
	}
	return region.PolicyInfo{Region: r.Name}
}

// ReloadPolicy replaces the region's policy with doc (region.PolicyControl):
// validated as at start, checked with region.CheckPolicyChange against the
// policy served now, stored as the region's next version with its audit
// entry (old and new digest, who, how) in one write, then served. On any
// error the old policy keeps serving; the error is an *errcode.Error.
func (r *Region) ReloadPolicy(ctx context.Context, doc []byte, principal, requestID, source string) (region.PolicyInfo, error) {
	info, err := r.reloadPolicy(ctx, doc, principal, requestID, source)
	if err != nil {
		r.log.Warn("policy reload refused: the previous policy keeps serving", "source", source, "principal", principal, "request_id", requestID,
			"code", errcode.CodeOf(err), "err", err, "hint", "check the file with 'domicile policy check FILE'; a refused change needs a restart with the new file")
		return region.PolicyInfo{}, err
	}
	return info, nil
}

func (r *Region) reloadPolicy(ctx context.Context, doc []byte, principal, requestID, source string) (region.PolicyInfo, error) {
	p, err := region.ParsePolicy("policy", doc)
	if err != nil {
		return region.PolicyInfo{}, err
	}
	pr, ok := p.Region(r.Name)
	if !ok {
		return region.PolicyInfo{}, errcode.New(errcode.PolicyChangeRefused, "the new policy has no region %s", r.Name)
	}
	r.seal.mu.Lock()
	defer r.seal.mu.Unlock()
	if r.seal.sealed {
		return region.PolicyInfo{}, errcode.New(errcode.RegionSealed, "region %s is sealed; unseal it before changing its policy", r.Name)
	}
	cur := r.policy.Load()
	if err := region.CheckPolicyChange(cur.pol, p); err != nil {
		return region.PolicyInfo{}, err
	}
	digest := policyDigest(suiteOf(pr), doc)
	if digest == cur.info.Digest {
		return cur.info, nil // the policy in force already
	}
	head, raw, found, err := readPolicyHead(ctx, r.Store)
	if err != nil {
		return region.PolicyInfo{}, errcode.Wrap(errcode.RegionUnavailable, err, "the region's store cannot be read; the previous policy keeps serving")
	}
	// Another node of the region stored the same document (each node was
	// sent SIGHUP): this node converges on it without a new version.
	same := found && head.Version != cur.info.Version && head.Digest == digest
	if found && head.Version != cur.info.Version && !same {
		return region.PolicyInfo{}, errcode.New(errcode.Conflict,
			"another node of region %s stored policy version %d while this node serves version %d; retry once it has converged", r.Name, head.Version, cur.info.Version)
	}
	c := r.cfg
	c.Policy = p
	s, err := r.openStack(ctx, c, r.Keyring, r.Audit)
	if err != nil {
		return region.PolicyInfo{}, errcode.Wrap(errcode.InvalidPolicy, err, "the policy cannot be served: %v", err)
	}
	if same {
		a := &activePolicy{pol: p, doc: doc, info: region.PolicyInfo{Region: r.Name, Version: head.Version, Digest: digest, Source: source, Since: r.now()}}
		r.swapStack(s, a)
		r.log.Info("policy reloaded: another node of the region had stored it", "source", source, "version", head.Version)
		return a.info, nil
	}
	next := &activePolicy{pol: p, doc: doc, info: region.PolicyInfo{Region: r.Name, Version: head.Version + 1, Digest: digest, Source: source, Since: r.now()}}
	oldDigest := cur.info.Digest
	if oldDigest == "" {
		oldDigest = "unknown" // a node given no document: still audited
	}
	if err := r.commitPolicy(ctx, next, oldDigest, raw, principal, requestID); err != nil {
		s.closeGuard()
		return region.PolicyInfo{}, err
	}
	r.swapStack(s, next)
	r.log.Info("policy reloaded", "source", source, "principal", principal, "version", next.info.Version,
		"from", shortDigest(cur.info.Digest), "to", shortDigest(digest))
	return next.info, nil
}

// commitPolicy stores next as the region's head, provided the head is
// still prev (nil: none), with the audit entry of the change in the same
// write. The first policy a region stores (oldDigest "") changes nothing
// and is not audited.
func (r *Region) commitPolicy(ctx context.Context, next *activePolicy, oldDigest string, prev []byte, principal, requestID string) error {
	head, err := json.Marshal(policyHead{Version: next.info.Version, Digest: next.info.Digest, AcceptedAt: next.info.Since, Source: next.info.Source})
	if err != nil {
		return err
	}
	var b store.Batch
	if prev == nil {
		b.Insert(policyHeadKey, head)
	} else {
		b.Expect(policyHeadKey, prev)
		b.Put(policyHeadKey, head)
	}
	b.Put(policyDocKey(next.info.Version), next.doc)
	b.Put(policyDigestKey(next.info.Digest), fmt.Appendf(nil, "%d", next.info.Version))
	if oldDigest == "" {
		err := r.Store.Apply(ctx, &b)
		if errors.Is(err, store.ErrConflict) {
			return errcode.Wrap(errcode.Conflict, err, "another node of region %s stored its first policy at the same time", r.Name)
		}
		return err
	}
	e := entry.Entry{Action: entry.Admin, RequestID: requestID, Principal: principal, Decision: "allow",
		Rule:    fmt.Sprintf("policy-reload:%s:v%d:%s>%s", next.info.Source, next.info.Version, oldDigest, next.info.Digest),
		Outcome: entry.OK}
	if r.Audit == nil {
		return errcode.New(errcode.RegionSealed, "region %s is sealed", r.Name)
	}
	err = r.Audit.Apply(ctx, &b, e)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errcode.Wrap(errcode.Conflict, err, "another node of region %s changed its policy at the same time; retry", r.Name)
	case errors.Is(err, audit.ErrNotRecorded):
		return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the policy change, so it was not made")
	case err != nil:
		return errcode.Wrap(errcode.RegionUnavailable, err, "the policy could not be stored; the previous policy keeps serving")
	}
	return nil
}

// now is the region's clock.
func (r *Region) now() time.Time {
	if r.cfg.Now != nil {
		return r.cfg.Now()
	}
	return time.Now()
}

// initPolicy settles which policy the node serves as it opens, before it
// serves: the file's, or the region's stored one (see the top of this
// file). The keys are open.
func (r *Region) initPolicy(ctx context.Context) error {
	c := r.cfg
	pr, _ := c.Policy.Region(c.Name)
	active := &activePolicy{pol: c.Policy, doc: c.PolicyDoc, info: region.PolicyInfo{Region: c.Name, Source: region.PolicyFromFile, Since: r.now()}}
	if c.PolicyDoc == nil {
		r.policy.Store(active)
		return nil
	}
	active.info.Digest = policyDigest(suiteOf(pr), c.PolicyDoc)
	r.policy.Store(active)
	for attempt := 0; ; attempt++ {
		head, raw, found, err := readPolicyHead(ctx, r.Store)
		if err != nil {
			return err
		}
		switch {
		case !found:
			active.info.Version = 1
			err = r.commitPolicy(ctx, active, "", nil, "system:start", "")
		case head.Digest == active.info.Digest:
			active.info.Version = head.Version
		default:
			seen, serr := policyStored(ctx, r.Store, active.info.Digest)
			if serr != nil {
				return serr
			}
			if seen && (c.PolicyTime.IsZero() || !c.PolicyTime.After(head.AcceptedAt)) {
				return r.adoptStored(ctx, head, "the --policy file holds a policy the region has since replaced (a reload), and was not modified after")
			}
			active.info.Version = head.Version + 1
			err = r.commitPolicy(ctx, active, head.Digest, raw, "system:start", "")
		}
		if errcode.CodeOf(err) == errcode.Conflict && attempt < 3 {
			continue // another node of the region stored one meanwhile
		}
		if err != nil {
			return err
		}
		r.log.Info("policy in force", "source", active.info.Source, "version", active.info.Version, "digest", shortDigest(active.info.Digest))
		return nil
	}
}

// adoptStored serves the stored policy head names, at start.
func (r *Region) adoptStored(ctx context.Context, head policyHead, why string) error {
	a, err := r.loadStored(ctx, head)
	if err != nil {
		return err
	}
	c := r.cfg
	c.Policy = a.pol
	s, err := r.openStack(ctx, c, r.Keyring, r.Audit)
	if err != nil {
		return fmt.Errorf("stored policy version %d: %w", head.Version, err)
	}
	old := &stack{guard: r.Guard, hooks: r.hooks}
	r.cfg.Policy = a.pol
	r.useStack(s)
	r.policy.Store(a)
	old.closeGuard()
	r.log.Warn("policy in force: the region's stored policy, not the --policy file", "version", head.Version,
		"digest", shortDigest(head.Digest), "why", why,
		"hint", "to serve the file, change it (its modification time must be newer) and restart, or send it with 'domicile policy reload --file FILE'")
	return nil
}

// loadStored reads and validates the stored policy head names.
func (r *Region) loadStored(ctx context.Context, head policyHead) (*activePolicy, error) {
	doc, err := r.Store.Get(ctx, policyDocKey(head.Version))
	if err != nil {
		return nil, fmt.Errorf("stored policy version %d: %w", head.Version, err)
	}
	p, err := region.ParsePolicy(fmt.Sprintf("stored policy version %d", head.Version), doc)
	if err != nil {
		return nil, err
	}
	pr, ok := p.Region(r.Name)
	if !ok {
		return nil, fmt.Errorf("stored policy version %d has no region %s", head.Version, r.Name)
	}
	if d := policyDigest(suiteOf(pr), doc); d != head.Digest {
		return nil, fmt.Errorf("stored policy version %d: digest %s, head says %s", head.Version, shortDigest(d), shortDigest(head.Digest))
	}
	return &activePolicy{pol: p, doc: doc, info: region.PolicyInfo{Region: r.Name, Version: head.Version, Digest: head.Digest,
		Source: region.PolicyFromStore, Since: r.now()}}, nil
}

// syncPolicy swaps to a newer policy another node of the region stored.
func (r *Region) syncPolicy(ctx context.Context) {
	head, _, found, err := readPolicyHead(ctx, r.Store)
	if err != nil || !found {
		if err != nil {
			r.log.Warn("policy watch: cannot read the region's policy head", "err", err)
		}
		return
	}
	cur := r.policy.Load()
	if cur == nil || head.Version <= cur.info.Version {
		return
	}
	r.seal.mu.Lock()
	defer r.seal.mu.Unlock()
	cur = r.policy.Load()
	if head.Version <= cur.info.Version {
		return
	}
	if head.Digest == cur.info.Digest {
		a := *cur
		a.info.Version = head.Version
		r.policy.Store(&a)
		return
	}
	a, err := r.loadStored(ctx, head)
	if err != nil {
		r.log.Error("policy watch: the region's newer policy cannot be served; the previous policy keeps serving", "version", head.Version, "err", err)
		return
	}
	if err := region.CheckPolicyChange(cur.pol, a.pol); err != nil {
		if r.refusedVersion != head.Version { // once per version, not every poll
			r.refusedVersion = head.Version
			r.log.Error("policy watch: the region's newer policy changes what a reload may not; restart this node to serve it",
				"version", head.Version, "err", err)
		}
		return
	}
	if r.seal.sealed {
		// Unsealing opens the keys with it.
		r.cfg.Policy = a.pol
		r.policy.Store(a)
		return
	}
	c := r.cfg
	c.Policy = a.pol
	s, err := r.openStack(ctx, c, r.Keyring, r.Audit)
	if err != nil {
		r.log.Error("policy watch: the region's newer policy cannot be served; the previous policy keeps serving", "version", head.Version, "err", err)
		return
	}
	r.swapStack(s, a)
	r.log.Info("policy converged: serving the version another node stored", "version", head.Version,
		"from", shortDigest(cur.info.Digest), "to", shortDigest(head.Digest))
}

// watchPolicy polls the region's store for a newer policy until the
// returned stop is called; every <= 0 polls never.
func (r *Region) watchPolicy(every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			r.syncPolicy(ctx)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// ReadPolicyFile reads the policy file at path with its modification time,
// for a node's start and SIGHUP.
func ReadPolicyFile(path string) ([]byte, time.Time, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("policy file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("policy file: %w", err)
	}
	return doc, fi.ModTime(), nil
}

// onSIGHUP calls f on every SIGHUP until the returned stop is called.
// Installed before a server is announced, so that a SIGHUP never kills it.
func onSIGHUP(f func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				f()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(hup)
			close(done)
		})
	}
}

// reloadRegionsFromFile reads path again and reloads every region of
// regions with it, logging the outcome of each (SIGHUP). An empty path
// (the built-in example policy) has nothing to read again.
func reloadRegionsFromFile(log *slog.Logger, path string, regions []*Region) {
	if path == "" {
		log.Info("SIGHUP: the node runs the built-in example policy, which stays; start it with --policy FILE to reload a policy")
		return
	}
	doc, _, err := ReadPolicyFile(path)
	if err != nil {
		log.Error("policy reload failed: the previous policy keeps serving", "source", region.PolicyFromSignal, "err", err)
		return
	}
	for _, r := range regions {
		if r.seal.isSealed() {
			log.Warn("policy reload skipped: the region is sealed; it picks up the stored policy once unsealed", "region", r.Name)
			continue
		}
		// A refusal is logged by ReloadPolicy.
		r.ReloadPolicy(context.Background(), doc, "system:sighup", "", region.PolicyFromSignal)
	}
}

// isSealed reports whether the region is sealed now.
func (s *sealer) isSealed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealed
}

// gatewayPolicy is the policy a gateway routes by, swapped on SIGHUP.
type gatewayPolicy struct {
	p atomic.Pointer[policy.Policy]
}

func newGatewayPolicy(p *policy.Policy) *gatewayPolicy {
	g := &gatewayPolicy{}
	g.p.Store(p)
	return g
}

// resolver is the resolver of the policy in force.
func (g *gatewayPolicy) resolver() *residency.Resolver { return g.p.Load().Resolver() }

// reloadFile reads path again and routes by it from now on, once it
// validates and changes nothing a reload may not (the gateway's regions,
// where a jurisdiction's data lives); otherwise it logs why and keeps the
// policy in force.
func (g *gatewayPolicy) reloadFile(log *slog.Logger, path string) {
	if path == "" {
		log.Info("SIGHUP: the gateway runs the built-in example policy, which stays; start it with --policy FILE to reload a policy")
		return
	}
	doc, _, err := ReadPolicyFile(path)
	if err == nil {
		var p *policy.Policy
		if p, err = region.ParsePolicy(path, doc); err == nil {
			if err = region.CheckPolicyChange(g.p.Load(), p); err == nil {
				g.p.Store(p)
				log.Info("policy reloaded", "source", region.PolicyFromSignal, "file", path)
				return
			}
		}
	}
	log.Error("policy reload refused: the gateway keeps routing by the previous policy", "source", region.PolicyFromSignal,
		"code", errcode.CodeOf(err), "err", err, "hint", "run 'domicile policy check "+path+"'")
}

// policyCollector reports the policy a region's node serves, at scrape
// time: its version, and its digest and source as an info metric, so that
// a dashboard sees every node of a region converge.
type policyCollector struct {
	r             *Region
	version, info *prometheus.Desc
}

// registerPolicyMetrics adds r's policy collector to m's registry, in
// place of one registered for a region of the same name before. m may be
// nil.
func registerPolicyMetrics(m *web.Metrics, r *Region) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"region": r.Name}
	pc := &policyCollector{r: r,
		version: prometheus.NewDesc("domicile_policy_version", "Version of the policy the node serves, in the region's store (0: not stored).", nil, l),
		info:    prometheus.NewDesc("domicile_policy_info", "1 for the policy the node serves: its digest under the region's suite hash and how it came in force.", []string{"digest", "source"}, l),
	}
	reg := m.Registry()
	reg.Unregister(pc) // same descriptors: the earlier one
	if err := reg.Register(pc); err != nil {
		r.log.Warn("metrics: policy state not registered", "err", err)
	}
}

// Describe implements prometheus.Collector.
func (c *policyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.version
	ch <- c.info
}

// Collect implements prometheus.Collector.
func (c *policyCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.r.policy.Load()
	if a == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.version, prometheus.GaugeValue, float64(a.info.Version))
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, a.info.Digest, a.info.Source)
}
