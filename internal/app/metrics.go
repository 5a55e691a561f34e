package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/store/postgres"
	"github.com/domicile/domicile/internal/transfer"
	"github.com/domicile/domicile/internal/web"
)

// A region node's series, beside web.Metrics' HTTP series. Every label
// value is a region name, a backend, an operation, a key purpose, a
// transfer class, or a guard rule, severity or response from the policy:
// never an id, a subject, a token or a value.
//
// Counters, histograms and the guard's series are shared by every region
// of a process (labelled by region); the state read at scrape time is one
// collector per region (regionCollector).

// nodeSeries are the counters and histograms a region's node adds to its
// process's registry. The methods are safe on a nil *nodeSeries (no
// metrics).
type nodeSeries struct {
	storeOps      *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	auditAppend   *prometheus.HistogramVec
	auditAppended *prometheus.CounterVec
	alerts        *prometheus.CounterVec
	locks         *prometheus.CounterVec
}

// seriesOf returns the node series of m's registry, registering them the
// first time (a process's regions share them); nil when m is nil.
func seriesOf(m *web.Metrics) *nodeSeries {
	if m == nil {
		return nil
	}
	reg := m.Registry()
	buckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}
	return &nodeSeries{
		storeOps: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "domicile_store_operation_duration_seconds", Help: "Latency of the region store's operations, by region, backend and operation.",
			Buckets: buckets}, []string{"region", "backend", "op"})),
		storeErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "domicile_store_errors_total", Help: "Store operations that failed (not found and write conflicts excluded), by region, backend and operation.",
		}, []string{"region", "backend", "op"})),
		auditAppend: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "domicile_audit_append_duration_seconds",
			Help:    "Latency of the durable writes that carry audit entries (a write with its entries, or a read's entries before the answer), by region.",
			Buckets: buckets}, []string{"region"})),
		auditAppended: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "domicile_audit_appended_entries_total", Help: "Audit entries this process wrote to the region's store, by region.",
		}, []string{"region"})),
		alerts: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "domicile_guard_alerts_total", Help: "Alerts the breach detector raised, by region, policy rule, severity and response (alert, slow, lock).",
		}, []string{"region", "rule", "severity", "response"})),
		locks: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "domicile_guard_principals_locked_total", Help: "Principals the breach detector locked, by region.",
		}, []string{"region"})),
	}
}

// register registers c in reg, or returns the collector of the same
// series registered before.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		panic("app: metrics: " + err.Error()) // the series are fixed in this file: a conflict is a bug
	}
	return c
}

// alert counts an alert the guard raised in region.
func (s *nodeSeries) alert(region string, a guard.Alert) {
	if s != nil {
		s.alerts.WithLabelValues(region, a.Rule, a.Severity, a.Response).Inc()
	}
}

// locked counts a principal the guard locked in region.
func (s *nodeSeries) locked(region string) {
	if s != nil {
		s.locks.WithLabelValues(region).Inc()
	}
}

// auditEntryPrefix is the store prefix of audit entries (see the layout in
// internal/audit's package comment): a batch that inserts under it carries
// audit entries.
var auditEntryPrefix = []byte("a/e/")

// meterStore returns st timed by operation in m's registry, or st itself
// when m is nil. The result keeps st's optional interfaces
// (store.MultiGetter, store.Snapshotter).
func meterStore(m *web.Metrics, region string, st store.Store) store.Store {
	s := seriesOf(m)
	if s == nil {
		return st
	}
	backend := "other"
	switch st.(type) {
	case *pebble.Store:
		backend = "pebble"
	case *postgres.Store:
		backend = "postgres"
	}
	ms := meteredStore{st: st, s: s, region: region, ops: map[string]prometheus.Observer{}}
	for _, op := range []string{"get", "get_many", "scan", "apply", "counter", "checkpoint"} {
		ms.ops[op] = s.storeOps.WithLabelValues(region, backend, op)
	}
	ms.errs = func(op string) prometheus.Counter { return s.storeErrors.WithLabelValues(region, backend, op) }
	ms.append = s.auditAppend.WithLabelValues(region)
	ms.appended = s.auditAppended.WithLabelValues(region)
	mg, multi := st.(store.MultiGetter)
	sn, snap := st.(store.Snapshotter)
	switch {
	case multi && snap:
		return &struct {
			*meteredStore
			meteredMulti
			meteredSnap
		}{&ms, meteredMulti{&ms, mg}, meteredSnap{&ms, sn}}
	case multi:
		return &struct {
			*meteredStore
			meteredMulti
		}{&ms, meteredMulti{&ms, mg}}
	case snap:
		return &struct {
			*meteredStore
			meteredSnap
		}{&ms, meteredSnap{&ms, sn}}
	}
	return &ms
}

// meteredStore times every operation of st.
type meteredStore struct {
	st       store.Store
	s        *nodeSeries
	region   string
	ops      map[string]prometheus.Observer // by op, read only
	errs     func(op string) prometheus.Counter
	append   prometheus.Observer
	appended prometheus.Counter
}

// done observes op, which started at start and failed with err.
func (m *meteredStore) done(op string, start time.Time, err error) {
	m.ops[op].Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		m.errs(op).Inc()
	}
}

func (m *meteredStore) Get(ctx context.Context, key []byte) ([]byte, error) {
	start := time.Now()
	v, err := m.st.Get(ctx, key)
	m.done("get", start, err)
	return v, err
}

func (m *meteredStore) Scan(ctx context.Context, start, end []byte, limit int) ([]store.KV, error) {
	t := time.Now()
	kvs, err := m.st.Scan(ctx, start, end, limit)
	m.done("scan", t, err)
	return kvs, err
}

func (m *meteredStore) Apply(ctx context.Context, b *store.Batch) error {
	entries := 0
	for _, op := range b.Ops() {
		if op.Kind == store.OpInsert && bytes.HasPrefix(op.Key, auditEntryPrefix) {
			entries++
		}
	}
	start := time.Now()
	err := m.st.Apply(ctx, b)
	m.done("apply", start, err)
	if entries > 0 {
		m.append.Observe(time.Since(start).Seconds())
		if err == nil {
			m.appended.Add(float64(entries))
		}
	}
	return err
}

func (m *meteredStore) Counter(ctx context.Context, key []byte) (int64, error) {
	start := time.Now()
	n, err := m.st.Counter(ctx, key)
	m.done("counter", start, err)
	return n, err
}

func (m *meteredStore) Close() error { return m.st.Close() }

// meteredMulti times a store.MultiGetter.
type meteredMulti struct {
	m  *meteredStore
	mg store.MultiGetter
}

func (m meteredMulti) GetMany(ctx context.Context, keys [][]byte) ([][]byte, error) {
	start := time.Now()
	vs, err := m.mg.GetMany(ctx, keys)
	m.m.done("get_many", start, err)
	return vs, err
}

// meteredSnap times a store.Snapshotter.
type meteredSnap struct {
	m  *meteredStore
	sn store.Snapshotter
}

func (m meteredSnap) Checkpoint(ctx context.Context, dir string, mark *store.Batch) error {
	start := time.Now()
	err := m.sn.Checkpoint(ctx, dir, mark)
	m.m.done("checkpoint", start, err)
	return err
}

// transferTTL is how long the transfer counts a scrape shows may be old:
// they are read from the store at most this often, in the background,
// never by the scrape itself.
const transferTTL = 30 * time.Second

// regionCollector reads one region's state at scrape time: seal state,
// current key versions, the audit log's integration and checkpoint, and
// this year's transfer counts (cached, see transferTTL).
type regionCollector struct {
	r      *Region
	ledger *transfer.Ledger // reads counters only: no keys needed
	log    *slog.Logger

	sealed, keyVersion, integrated, cpSize, cpAge, failing, voids, individuals, records *prometheus.Desc

	mu      sync.Mutex
	at      time.Time // when the last read of the transfer counts started
	reading bool
	counts  *transfer.Counts // nil before the first successful read
}

// registerRegionMetrics adds r's state collector to m's registry, in place
// of one registered for a region of the same name before (the region
// reopened in the same process). m may be nil.
func registerRegionMetrics(m *web.Metrics, r *Region, c RegionConfig) {
	if m == nil {
		return
	}
	ledger, err := transfer.New(r.Store, c.Policy, r.Name, c.Now)
	if err != nil {
		return // unreachable: OpenRegion checked that the policy has the region
	}
	l := prometheus.Labels{"region": r.Name}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, l)
	}
	rc := &regionCollector{r: r, ledger: ledger, log: r.log,
		sealed:     desc("domicile_region_sealed", "1 while the region is sealed (its keys closed), else 0."),
		keyVersion: desc("domicile_key_current_version", "Current version of the region's key of each purpose (absent while sealed).", "purpose"),
		integrated: desc("domicile_audit_integrated_entries", "Size of the region's integrated audit tree: entries with inclusion proofs."),
		cpSize:     desc("domicile_audit_checkpoint_entries", "Size of the latest signed audit checkpoint; the integrated size minus it is the checkpoint lag."),
		cpAge:      desc("domicile_audit_checkpoint_age_seconds", "Seconds since the latest signed audit checkpoint was signed."),
		failing:    desc("domicile_audit_integration_failing", "1 while the latest audit integration pass failed (the region is not ready), else 0."),
		voids: desc("domicile_audit_void_entries_total",
			"Void audit entries this process wrote: indexes a node reserved but never wrote (it died), or gave up."),
		individuals: desc("domicile_transfer_individuals", "Distinct individuals whose data left the region this year, by class (sensitive, non-sensitive); read every 30s.", "class"),
		records:     desc("domicile_transfer_records", "Records transferred out of the region this year, by class; read every 30s.", "class"),
	}
	reg := m.Registry()
	reg.Unregister(rc) // same descriptors: the earlier one
	if err := reg.Register(rc); err != nil {
		r.log.Warn("metrics: region state not registered", "err", err)
		return
	}
	rc.refresh(time.Now()) // first read in the background, before the first scrape
}

// Describe implements prometheus.Collector.
func (c *regionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sealed, c.keyVersion, c.integrated, c.cpSize, c.cpAge, c.failing, c.voids, c.individuals, c.records} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *regionCollector) Collect(ch chan<- prometheus.Metric) {
	open := c.keyed(func(kr *keyring.Keyring, alog *audit.Log) {
		for _, p := range []keyring.Purpose{keyring.Data, keyring.Index, keyring.Token, keyring.Audit} {
			ch <- prometheus.MustNewConstMetric(c.keyVersion, prometheus.GaugeValue, float64(kr.CurrentVersion(p)), string(p))
		}
		ch <- prometheus.MustNewConstMetric(c.integrated, prometheus.GaugeValue, float64(alog.Size()))
		ch <- prometheus.MustNewConstMetric(c.voids, prometheus.CounterValue, float64(alog.Voids()))
		failing := 0.0
		if alog.Err() != nil {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failing)
		if b, err := alog.LatestCheckpoint(); err == nil {
			if cp, err := checkpoint.Parse(b); err == nil {
				ch <- prometheus.MustNewConstMetric(c.cpSize, prometheus.GaugeValue, float64(cp.Size))
				if !cp.Time.IsZero() {
					ch <- prometheus.MustNewConstMetric(c.cpAge, prometheus.GaugeValue, max(0, time.Since(cp.Time).Seconds()))
				}
			}
		}
	})
	sealed := 1.0
	if open {
		sealed = 0
	}
	ch <- prometheus.MustNewConstMetric(c.sealed, prometheus.GaugeValue, sealed)
	if counts := c.refresh(time.Now()); counts != nil {
		var recs [2]int64 // non-sensitive, sensitive
		for _, b := range counts.Buckets {
			if b.Class == "sensitive" {
				recs[1] += b.Records
			} else {
				recs[0] += b.Records
			}
		}
		ch <- prometheus.MustNewConstMetric(c.individuals, prometheus.GaugeValue, float64(counts.NonSensitive), "non-sensitive")
		ch <- prometheus.MustNewConstMetric(c.individuals, prometheus.GaugeValue, float64(counts.Sensitive), "sensitive")
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, float64(recs[0]), "non-sensitive")
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, float64(recs[1]), "sensitive")
	}
}

// keyed calls f with the region's keyring and audit log and reports true
// when the region is unsealed, holding the region's in-flight lock as a
// request does, so that a seal cannot close them meanwhile; it reports
// false, without calling f, while the region is sealed.
func (c *regionCollector) keyed(f func(*keyring.Keyring, *audit.Log)) bool {
	r := c.r
	cur := r.cur.Load()
	if cur == nil || !cur.keyed {
		return false
	}
	r.inflight.RLock()
	defer r.inflight.RUnlock()
	if r.cur.Load() != cur || r.Keyring == nil || r.Audit == nil {
		return false
	}
	f(r.Keyring, r.Audit)
	return true
}

// refresh returns the latest transfer counts read (nil before the first)
// and, when they are older than transferTTL and no read is under way,
// starts one in the background.
func (c *regionCollector) refresh(now time.Time) *transfer.Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reading && (c.at.IsZero() || now.Sub(c.at) >= transferTTL) {
		c.reading, c.at = true, now
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			counts, err := c.ledger.Counts(ctx, c.ledger.ThisYear())
			if err != nil {
				c.log.Debug("metrics: transfer counts not read", "err", err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.reading = false
			if err == nil {
				c.counts = counts
			}
		}()
	}
	return c.counts
}
