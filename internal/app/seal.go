package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/api"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/unseal"
	"github.com/domicile/domicile/internal/web"
)

// The seal state machine of a region's node.
//
//	unsealed --POST seal (admin, audited first)--> sealed
//	sealed --POST unseal {"share"} x M, or {"hsm": true}--> unsealed
//
// A sealed node keeps its store open and nothing else: the keyring (its
// keys zeroed), the audit log and its signer, the token and mask MAC
// keys, the DEK cache, the guard and the service are closed and dropped.
// It answers region_sealed to every route but /healthz, /readyz (not
// ready), /metrics, the OpenAPI document and the unseal route. Unsealing
// opens the keys exactly as a start does (openKeys), records the unseal in
// the audit log (action admin, rule unseal:shamir or unseal:pkcs11), runs
// RegionConfig.OnUnseal, and only then serves.
//
// The unseal route is public: the shares are the credential, as in Vault.
// The node keeps the shares given so far in memory (an unseal.Combiner)
// until it has the threshold, combines them, and wipes them whatever the
// outcome. Refused requests spend a per-node failure budget (unsealBurst
// refusals, one more every unsealRefill); over it, every unseal request
// is refused with rate_limited until the budget refills. Every attempt is
// logged with its client address and outcome, never with the share.

// Unseal methods, as the audit entry names them.
const (
	methodShamir = "shamir"
	methodPKCS11 = "pkcs11"
)

// The unseal route's failure budget, per node.
const (
	unsealBurst  = 10
	unsealRefill = 6 * time.Second
)

// current is what a region's Handler serves now.
type current struct {
	h http.Handler
	// keyed: h uses the region's keys, so requests hold r.inflight.
	keyed bool
}

// serveHTTP serves req with the region's current handler. A request to the
// unsealed API holds r.inflight (read) while it runs, so that sealing
// waits for it before zeroing the keys; one that was let in as the region
// was sealed is served by the sealed handler.
func (r *Region) serveHTTP(w http.ResponseWriter, req *http.Request) {
	for {
		c := r.cur.Load()
		if !c.keyed {
			c.h.ServeHTTP(w, req)
			return
		}
		r.inflight.RLock()
		if r.cur.Load() == c {
			defer r.inflight.RUnlock()
			c.h.ServeHTTP(w, req)
			return
		}
		r.inflight.RUnlock()
	}
}

// setSealed makes r answer region_sealed, saying why (cause).
func (r *Region) setSealed(cause error) {
	r.Sealed = fmt.Errorf("region %s is sealed: %w", r.Name, cause)
	r.cur.Store(&current{h: r.seal.sealedHandler(cause)})
}

// errSealedByAdmin is why a region sealed through the API is sealed.
var errSealedByAdmin = errors.New("an administrator sealed it (POST /v1/regions/{region}/seal)")

// errStartedSealed is why a node started with --start-sealed is sealed.
var errStartedSealed = errors.New("the node started sealed, waiting for its unseal shares or HSM")

// sealer is a region node's seal state; it implements api.Sealer.
type sealer struct {
	r   *Region
	log *slog.Logger
	// hsm unwraps the unseal secret with the node's HSM; nil when the
	// node was not started with one.
	hsm      func(context.Context) ([]byte, error)
	onUnseal func(context.Context, *Region) error
	metrics  *web.Metrics
	budget   *failBudget

	mu       sync.Mutex // serializes seal and unseal, and guards what follows
	combiner unseal.Combiner
	sealed   bool
	// closing is closed once the keys of the last seal are closed; nil
	// before the first seal.
	closing chan struct{}
}

func newSealer(r *Region, c RegionConfig) *sealer {
	return &sealer{r: r, log: r.log, hsm: c.HSMUnseal, onUnseal: c.OnUnseal, metrics: c.Metrics,
		budget: newFailBudget(unsealBurst, unsealRefill, c.Now), sealed: true}
}

var _ api.Sealer = (*sealer)(nil)

// Status is the node's seal state.
func (s *sealer) Status() client.SealStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

func (s *sealer) statusLocked() client.SealStatus {
	st := client.SealStatus{Region: s.r.Name, Sealed: s.sealed, HSM: s.hsm != nil}
	if s.sealed {
		st.Progress, st.Threshold = s.combiner.Len(), s.combiner.Threshold()
	}
	return st
}

// markOpen records that the region was opened with its keys at start.
func (s *sealer) markOpen() {
	s.mu.Lock()
	s.sealed = false
	s.mu.Unlock()
}

// Unseal takes one unseal request; see api.Sealer.
func (s *sealer) Unseal(ctx context.Context, name string, req client.UnsealRequest, addr, requestID string) (client.SealStatus, error) {
	log := s.log.With("request_id", requestID, "client", addr)
	if name != s.r.Name {
		return client.SealStatus{}, errcode.New(errcode.UnknownRegion, "this node serves region %s", s.r.Name)
	}
	n := 0
	for _, given := range []bool{req.Share != "", req.HSM, req.Reset} {
		if given {
			n++
		}
	}
	if n != 1 {
		return client.SealStatus{}, errcode.New(errcode.InvalidRequest, `give exactly one of "share" (one Shamir share), "hsm": true and "reset": true`)
	}
	if ok, retry := s.budget.admit(); !ok {
		log.Warn("unseal: refused, too many refusals at this node", "retry_after", retry.String())
		return client.SealStatus{}, errcode.New(errcode.RateLimited, "too many refused unseal requests at this node; retry in %d seconds", int(retry.Seconds())+1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sealed {
		log.Info("unseal: the region is not sealed; nothing taken")
		return s.statusLocked(), nil
	}
	switch {
	case req.Reset:
		s.dropShares()
		log.Warn("unseal: shares given so far dropped (reset)")
		return s.statusLocked(), nil
	case req.HSM:
		return s.unsealHSM(ctx, log, requestID)
	}
	return s.addShare(ctx, log, req.Share, requestID)
}

// dropShares wipes the shares given so far.
func (s *sealer) dropShares() {
	if secret, err := s.combiner.Secret(); err == nil { // Secret wipes the shares
		clear(secret)
	}
	s.combiner = unseal.Combiner{}
}

// addShare takes one share and unseals once the threshold is met.
func (s *sealer) addShare(ctx context.Context, log *slog.Logger, share, requestID string) (client.SealStatus, error) {
	if err := s.combiner.Add(share); err != nil {
		s.budget.fail()
		log.Warn("unseal: share refused", "err", err, "progress", s.combiner.Len(), "threshold", s.combiner.Threshold())
		return client.SealStatus{}, errcode.Wrap(errcode.InvalidRequest, err, "%s; %s", shareProblem(err), shareNext(err))
	}
	if m := s.combiner.Missing(); m > 0 {
		log.Info("unseal: share accepted", "progress", s.combiner.Len(), "threshold", s.combiner.Threshold())
		return s.statusLocked(), nil
	}
	threshold := s.combiner.Threshold()
	secret, err := s.combiner.Secret() // wipes the shares
	s.combiner = unseal.Combiner{}
	if err != nil {
		s.budget.fail()
		log.Warn("unseal: the shares do not combine; dropped", "err", err)
		return client.SealStatus{}, errcode.Wrap(errcode.InvalidRequest, err,
			"the %d shares do not combine into a secret: one was altered or comes from another split; the shares were dropped: give %d shares again", threshold, threshold)
	}
	defer clear(secret)
	log.Info("unseal: threshold met, opening the region's keys", "threshold", threshold)
	return s.open(ctx, log, secret, methodShamir, requestID)
}

// unsealHSM unwraps the secret with the node's HSM and unseals.
func (s *sealer) unsealHSM(ctx context.Context, log *slog.Logger, requestID string) (client.SealStatus, error) {
	if s.hsm == nil {
		return client.SealStatus{}, errcode.New(errcode.InvalidRequest,
			"this node was not started with an HSM (--unseal pkcs11:... --unseal-wrapped FILE --start-sealed); give Shamir shares instead")
	}
	secret, err := s.hsm(ctx)
	if err != nil {
		s.budget.fail()
		log.Error("unseal: the HSM did not give the unseal secret", "err", err)
		return client.SealStatus{}, errcode.Wrap(errcode.RegionSealed, err,
			"region %s stays sealed: the node's HSM did not give the unseal secret; the node's log says why", s.r.Name)
	}
	defer clear(secret)
	log.Info("unseal: the HSM gave the unseal secret, opening the region's keys")
	return s.open(ctx, log, secret, methodPKCS11, requestID)
}

// open opens the region's keys with secret, records the unseal and starts
// serving. It waits for an earlier seal to finish closing the keys.
func (s *sealer) open(ctx context.Context, log *slog.Logger, secret []byte, method, requestID string) (client.SealStatus, error) {
	if err := s.waitClosed(ctx); err != nil {
		return client.SealStatus{}, errcode.Wrap(errcode.RegionSealed, err, "region %s is still closing its keys after a seal; retry", s.r.Name)
	}
	// What the keys open outlives the request that unseals.
	octx := context.WithoutCancel(ctx)
	r := s.r
	err := r.openKeys(octx, secret)
	switch {
	case errors.Is(err, keyring.ErrWrongSecret), errors.Is(err, keyring.ErrSealed):
		s.budget.fail()
		log.Warn("unseal: the secret does not open the region's keys", "method", method)
		if method == methodShamir {
			return client.SealStatus{}, errcode.Wrap(errcode.InvalidRequest, err,
				"the shares combine, but not into region %s's unseal secret (were they split from another region's?); the shares were dropped", r.Name)
		}
		return client.SealStatus{}, errcode.Wrap(errcode.RegionSealed, err,
			"region %s stays sealed: the secret the HSM unwrapped does not open its keys (was --unseal-wrapped made for another region?)", r.Name)
	case err != nil:
		log.Error("unseal: opening the region failed", "err", err)
		return client.SealStatus{}, errcode.Wrap(errcode.RegionSealed, err, "region %s stays sealed: opening it failed; the node's log says why", r.Name)
	}
	if err := r.Service.RecordUnseal(octx, method, requestID); err != nil {
		r.detach().close(log, false)
		log.Error("unseal: not recorded in the audit log; the region stays sealed", "err", err)
		return client.SealStatus{}, err
	}
	if s.onUnseal != nil {
		if err := s.onUnseal(octx, r); err != nil {
			r.detach().close(log, true)
			log.Error("unseal: the node's start-up steps failed; the region stays sealed", "err", err)
			return client.SealStatus{}, errcode.Wrap(errcode.RegionSealed, err, "region %s stays sealed: the node's start-up steps failed; its log says why", r.Name)
		}
	}
	s.sealed = false
	r.Sealed = nil
	r.cur.Store(&current{h: r.api, keyed: true})
	r.Keyring.ResumeJobs()
	log.Warn("region unsealed online", "method", method)
	return s.statusLocked(), nil
}

// Seal seals the region (see api.Sealer): new requests get region_sealed
// at once; the keys are closed, and zeroed, once the requests in flight
// (this one included) are done.
func (s *sealer) Seal(ctx context.Context) (client.SealStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return s.statusLocked(), nil
	}
	r := s.r
	s.sealed = true
	r.setSealed(errSealedByAdmin)
	k := r.detach()
	done := make(chan struct{})
	s.closing = done
	go func() {
		defer close(done)
		r.inflight.Lock() // every request that uses the keys is done
		defer r.inflight.Unlock()
		k.close(s.log, true)
		s.log.Warn("region sealed: its keys are closed and zeroed")
	}()
	return s.statusLocked(), nil
}

// waitClosed waits until the keys of the last seal are closed, or ctx is
// done. s.mu is held.
func (s *sealer) waitClosed(ctx context.Context) error {
	if s.closing == nil {
		return nil
	}
	select {
	case <-s.closing:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sealedHandler is the handler of the sealed region: region_sealed for
// every route but the probes, the metrics, the OpenAPI document and the
// unseal route.
func (s *sealer) sealedHandler(cause error) http.Handler {
	name := s.r.Name
	detail := "region " + name + " is sealed: " + cause.Error()
	switch {
	case errors.Is(cause, keyring.ErrSealed):
		detail = "region " + name + " is sealed: no unseal secret was given"
	case errors.Is(cause, keyring.ErrWrongSecret):
		detail = "region " + name + " is sealed: the unseal secret given does not open its keys"
	}
	hint := "unseal it online: domicile keys unseal --region " + name + " --addr NODE_URL (give M Shamir shares, or --hsm); " +
		"or restart the node with its unseal secret (" + SecretEnv(name) + " or --unseal-file)"
	refuse := func(w http.ResponseWriter, req *http.Request) {
		p := web.ProblemOf(errcode.New(errcode.RegionSealed, "%s; unseal it with 'domicile keys unseal --region %s', or set %s (or its unseal file) and restart",
			detail, name, SecretEnv(name)))
		p.RequestID = web.RequestID(req)
		p.Hint = hint
		web.WriteProblem(w, p)
	}
	handlers := map[string]http.HandlerFunc{
		"getHealth": func(w http.ResponseWriter, req *http.Request) {
			web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		},
		"getReadiness": func(w http.ResponseWriter, req *http.Request) {
			web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": detail})
		},
		"getOpenAPI":   web.ServeOpenAPI,
		"getMetrics":   web.NotFound,
		"unsealRegion": api.UnsealHandler(s, s.log),
	}
	if s.metrics != nil {
		handlers["getMetrics"] = s.metrics.Handler().ServeHTTP
	}
	mux := http.NewServeMux()
	err := web.Register(mux, web.Routes, func(rt web.Route) http.Handler {
		if h, ok := handlers[rt.Name]; ok {
			return h
		}
		return http.HandlerFunc(refuse)
	})
	if err != nil {
		// Unreachable: every route has a handler.
		s.log.Error("sealed handler", "err", err)
	}
	mux.HandleFunc("/", refuse)
	return web.Middleware(mux, s.metrics.At(web.LayerRegion, s.r.Name), s.log, 0)
}

// shareProblem says what is wrong with a refused share, from its error;
// it never holds the share.
func shareProblem(err error) string {
	var se *unseal.ShareError
	if errors.As(err, &se) {
		return "share refused: " + se.Error()
	}
	return "share refused: " + err.Error()
}

// shareNext says what to do about a refused share.
func shareNext(err error) string {
	switch {
	case errors.Is(err, unseal.ErrShareChecksum):
		return "ask its custodian for it again: a character is mistyped or missing (a share is dms1-M-N- then a-z and 2-7)"
	case errors.Is(err, unseal.ErrShareFormat):
		return "a share is one line starting dms1-, as 'domicile keys split' printed it"
	case errors.Is(err, unseal.ErrShareVersion):
		return "a newer domicile made it: upgrade this node"
	case errors.Is(err, unseal.ErrDuplicateShare):
		return "each share counts once: ask another custodian"
	case errors.Is(err, unseal.ErrMixedShares):
		return `all shares must come from the same 'domicile keys split'; if the shares given so far are the wrong ones, send {"reset": true} and start again`
	}
	return "the shares given so far are kept"
}

// failBudget is a bucket of refusals that refills one per refill: the
// unseal route's per-node limit.
type failBudget struct {
	burst  float64
	refill time.Duration
	now    func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newFailBudget(burst int, refill time.Duration, now func() time.Time) *failBudget {
	if now == nil {
		now = time.Now
	}
	return &failBudget{burst: float64(burst), refill: refill, now: now, tokens: float64(burst), last: now()}
}

func (b *failBudget) update() {
	now := b.now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()/b.refill.Seconds())
	b.last = now
}

// admit reports whether a request may go on, and if not when to retry.
func (b *failBudget) admit() (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update()
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(b.refill))
	}
	return true, 0
}

// fail spends one refusal.
func (b *failBudget) fail() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update()
	b.tokens = max(0, b.tokens-1)
}
