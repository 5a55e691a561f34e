package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/console"
	"github.com/domicile/domicile/internal/gateway"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/web"
)

// shutdownTimeout is how long a stopping server gives the requests in
// flight.
const shutdownTimeout = 10 * time.Second

// Stage names the step of starting a server that failed, so that the
// caller can say what to do about it.
type Stage string

// The stages of starting a server.
const (
	// StageOpen: opening the region's store, keyring, audit log and
	// services.
	StageOpen Stage = "open"
	// StageSealed: the region's unseal secret is missing or wrong.
	StageSealed Stage = "sealed"
	// StagePrincipals: creating the bootstrap principals.
	StagePrincipals Stage = "principals"
	// StageGateway: building the gateway from the policy and backends.
	StageGateway Stage = "gateway"
	// StageListen: listening on the address.
	StageListen Stage = "listen"
	// StageTLS: loading the TLS certificates, keys or CAs.
	StageTLS Stage = "tls"
)

// StartError is an error starting a server. Its message is Err's; Stage
// says which step failed.
type StartError struct {
	Stage Stage
	Err   error
}

// Error returns Err's message.
func (e *StartError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *StartError) Unwrap() error { return e.Err }

// StageOf returns the stage at which starting a server failed with err,
// or "" when err is not a StartError.
func StageOf(err error) Stage {
	var se *StartError
	if errors.As(err, &se) {
		return se.Stage
	}
	return ""
}

// ServeConfig configures one production node of a region (`domicile
// serve`).
type ServeConfig struct {
	Policy *policy.Policy
	// PolicyDoc and PolicyTime are Policy's document and the file's
	// modification time (see RegionConfig); PolicyFile is the file that a
	// SIGHUP reads again, "" for the built-in example.
	PolicyDoc  []byte
	PolicyTime time.Time
	PolicyFile string
	Region     string
	// Dir and Store say where the region's data lives, as in
	// RegionConfig.
	Dir, Store string
	// Secret is the region's unseal secret; KDF stretches it (zero: the
	// keyring's default).
	Secret []byte
	KDF    keyring.KDFParams
	// AdminToken is the bootstrap administrator's API token; the
	// administrator is created (or re-tokened) at start, located at
	// AdminLocation (an ISO 3166-1 alpha-2 code).
	AdminToken    string
	AdminLocation string
	// Listen is the address to serve the region's API on; TLS, if set,
	// serves it over TLS (the gateway's certificate required with a
	// client CA).
	Listen string
	TLS    TLSConfig
	Logger *slog.Logger
	// Listening, if set, is called with the server's URL once it listens.
	Listening func(url string)
	// WitnessURLs are witnesses the region publishes its checkpoints to
	// (see RegionConfig).
	WitnessURLs []string
	// StartSealed starts the node without its keys when Secret is empty:
	// it listens, answers region_sealed (/healthz ok, /readyz not ready)
	// and waits to be unsealed through POST /v1/regions/{region}/unseal
	// (Shamir shares one by one, or HSMUnseal). Without it, a sealed
	// region fails the start with StageSealed.
	StartSealed bool
	// HSMUnseal, if set, unwraps the unseal secret with the node's HSM,
	// when the unseal route asks for it (see RegionConfig).
	HSMUnseal func(ctx context.Context) ([]byte, error)
	// BlockCache and KeyCache size the node's caches (see Caches); zero
	// means the defaults.
	BlockCache int64
	KeyCache   int
}

// Serve runs one node of a region until ctx is done: it opens the region,
// makes sure the bootstrap administrator exists, serves the region's API
// and, when ctx is done, stops gracefully and closes the region. An error
// starting it is a *StartError.
func Serve(ctx context.Context, c ServeConfig) error {
	// TLS files first: a wrong path should not wait for the keyring.
	st, err := c.TLS.load(c.Logger)
	if err != nil {
		return err
	}
	admin := access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: c.AdminLocation}
	ensure := func(ctx context.Context, r *Region) error {
		return EnsurePrincipals(ctx, []*Region{r}, []Bootstrap{{Account: admin, Token: c.AdminToken}})
	}
	caches := NewCaches(c.BlockCache, c.KeyCache)
	defer caches.Close() // after r.Close, deferred below
	r, err := OpenRegion(ctx, RegionConfig{Policy: c.Policy, PolicyDoc: c.PolicyDoc, PolicyTime: c.PolicyTime, Name: c.Region, Dir: c.Dir, Store: c.Store, Secret: c.Secret,
		KDF: c.KDF, Logger: c.Logger, Metrics: web.NewMetrics(), WitnessURLs: c.WitnessURLs, Caches: caches,
		HSMUnseal: c.HSMUnseal, OnUnseal: ensure})
	if err != nil {
		return &StartError{Stage: StageOpen, Err: err}
	}
	defer r.Close()
	switch {
	case r.Sealed != nil && !c.StartSealed:
		return &StartError{Stage: StageSealed, Err: r.Sealed}
	case r.Sealed != nil:
		if len(c.Secret) == 0 {
			r.setSealed(errStartedSealed)
		}
		if c.Logger != nil {
			c.Logger.Warn("region is sealed: waiting to be unsealed", "region", c.Region,
				"hint", "domicile keys unseal --region "+c.Region+" --addr THIS_NODE_URL")
		}
	default:
		if err := ensure(ctx, r); err != nil {
			return &StartError{Stage: StagePrincipals, Err: err}
		}
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Before the node is announced: a SIGHUP from then on reloads the
	// policy (reload.go) and never kills it.
	defer onSIGHUP(func() { reloadRegionsFromFile(log.With("region", c.Region), c.PolicyFile, []*Region{r}) })()
	s, err := listenTLS(c.Listen, r.Handler, c.Logger, st)
	if err != nil {
		return err
	}
	if c.Listening != nil {
		c.Listening(s.URL())
	}
	return s.run(ctx, nil)
}

// GatewayConfig configures the stateless gateway (`domicile gateway`).
type GatewayConfig struct {
	Policy *policy.Policy
	// PolicyFile is the file that a SIGHUP reads again, "" for the
	// built-in example: the gateway then routes new jurisdictions by it.
	PolicyFile string
	// Regions gives the URLs of each region's nodes, by region name;
	// every region of the policy needs at least one.
	Regions map[string][]*url.URL
	Listen  string
	// TLS, if set, serves the gateway over TLS, requiring callers'
	// certificates with a client CA; BackendTLS is how it speaks TLS to
	// https:// nodes.
	TLS        TLSConfig
	BackendTLS BackendTLSConfig
	Logger     *slog.Logger
	// Listening, if set, is called with the server's URL once it listens.
	Listening func(url string)
	// TrustedProxies are the proxies in front of the gateway whose
	// X-Forwarded-For it believes for the client's address (failure
	// limiting only); empty believes none.
	TrustedProxies []netip.Prefix
}

// newLimiter is the gateway's failure limiter: 10 failures, one more
// every 6 seconds, per presented token and per client address.
func newLimiter(trusted []netip.Prefix) *web.FailureLimiter {
	l := web.NewFailureLimiter(10, 6*time.Second, nil)
	l.TrustedProxies = trusted
	return l
}

// RunGateway serves the gateway in front of the regions' nodes until ctx
// is done, then stops gracefully. An error starting it is a *StartError.
func RunGateway(ctx context.Context, c GatewayConfig) error {
	st, err := c.TLS.load(c.Logger)
	if err != nil {
		return err
	}
	transport, backendReloads, err := c.BackendTLS.backendTransport(c.Regions, c.Logger)
	if err != nil {
		return err
	}
	backends := map[string]gateway.Backend{}
	for name, urls := range c.Regions {
		backends[name] = gateway.Backend{URLs: urls, Transport: transport}
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gp := newGatewayPolicy(c.Policy)
	defer onSIGHUP(func() { gp.reloadFile(log, c.PolicyFile) })()
	h, err := gateway.New(gateway.Options{Resolver: c.Policy.Resolver(), ResolverNow: gp.resolver, Backends: backends, Logger: c.Logger, Metrics: web.NewMetrics(),
		Limiter: newLimiter(c.TrustedProxies), Console: consoleFor(log)})
	if err != nil {
		return &StartError{Stage: StageGateway, Err: err}
	}
	if len(backendReloads) > 0 {
		if st == nil {
			st = &serverTLS{}
		}
		st.reloads = append(st.reloads, backendReloads...)
	}
	s, err := listenTLS(c.Listen, h, c.Logger, st)
	if err != nil {
		return err
	}
	if c.Listening != nil {
		c.Listening(s.URL())
	}
	return s.run(ctx, nil)
}

// consoleFor makes the gateway's browser console (internal/console) from
// its API handler.
func consoleFor(log *slog.Logger) func(api http.Handler) (http.Handler, error) {
	return func(api http.Handler) (http.Handler, error) {
		c, err := console.New(console.Options{API: api, Logger: log})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// server is the one HTTP server lifecycle of every server the app runs
// (dev, serve, gateway): listen, serve in the background, then either
// fail or stop gracefully.
type server struct {
	srv    *http.Server
	addr   net.Addr
	scheme string     // http or https
	done   chan error // Serve's result
	// stopReload stops reloading TLS key pairs on SIGHUP.
	stopReload func()
}

// listen starts serving h on addr. Failing to listen is a *StartError of
// StageListen.
func listen(addr string, h http.Handler, log *slog.Logger) (*server, error) {
	return listenTLS(addr, h, log, nil)
}

// listenTLS is listen over TLS when st has a configuration, reloading st's
// key pairs on SIGHUP from now on.
func listenTLS(addr string, h http.Handler, log *slog.Logger, st *serverTLS) (*server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &StartError{Stage: StageListen, Err: fmt.Errorf("listen on %s: %w", addr, err)}
	}
	s := &server{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: web.MaxHeaderBytes,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		addr:       ln.Addr(),
		scheme:     "http",
		done:       make(chan error, 1),
		stopReload: func() {},
	}
	if st != nil {
		if st.config != nil {
			// web.Listener below TLS answers plain HTTP on the TLS port
			// as problem+json; web.Listener above it (in Serve) answers
			// net/http's own errors so.
			ln = tlsListener{Listener: web.Listener(ln), config: st.config, log: log}
			s.scheme = "https"
		}
		// Before the caller announces the server: a SIGHUP from then on
		// reloads and never kills it.
		s.stopReload = watchReload(log, st.reloads)
	}
	// net/http's own answers (header block too large, malformed
	// request) become problem+json like every other.
	go func() { s.done <- s.srv.Serve(web.Listener(ln)) }()
	return s, nil
}

// URL is the server's base URL, http://HOST:PORT or https://HOST:PORT.
func (s *server) URL() string { return s.scheme + "://" + s.addr.String() }

// run blocks until the server fails, returning why, or until ctx is done:
// then it calls stopping, if set, and shuts down gracefully, giving the
// requests in flight shutdownTimeout.
func (s *server) run(ctx context.Context, stopping func()) error {
	select {
	case err := <-s.done:
		s.stopReload()
		return err
	case <-ctx.Done():
	}
	if stopping != nil {
		stopping()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return s.shutdown(sctx)
}

// shutdown stops accepting connections and waits for the requests in
// flight, until ctx is done.
func (s *server) shutdown(ctx context.Context) error {
	s.stopReload()
	return s.srv.Shutdown(ctx)
}
