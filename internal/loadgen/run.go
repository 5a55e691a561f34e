// Package loadgen is Domicile's own bounded HTTP load generator: it drives
// Domicile's API, or OpenBao's transit engine as the peer, from 127.0.0.1
// only, and reports items per second, latency percentiles and the server's
// CPU per item and peak memory from /proc. cmd/domicile-load is its command
// and scripts/vs-openbao.sh runs the two side by side (issue 19).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one request of a workload; it returns how many items it carried
// (1, or the batch size). worker and seq identify the call, so that every
// request can use values of its own.
type Op func(ctx context.Context, worker, seq int) (items int, err error)

// Config bounds a run.
type Config struct {
	Workers  int           // concurrent clients, >= 1
	Duration time.Duration // measured time, > 0
	Warmup   time.Duration // unmeasured time before it
	MaxOps   int64         // hard cap on requests, measured or not; 0: 10,000,000
	// ServerPID, if not zero, is sampled for CPU time and peak memory.
	ServerPID int
}

// Result is what a run measured.
type Result struct {
	Requests, Items, Errors int64
	Elapsed                 time.Duration
	P50, P99, P999          time.Duration
	// ServerCPU is the server's CPU time over the measured part; zero
	// without a ServerPID.
	ServerCPU time.Duration
	// PeakRSS is the server's peak resident memory at the end, in bytes.
	PeakRSS int64
	// FirstError describes the first failed request.
	FirstError string
}

// ItemsPerSec is the measured throughput in items.
func (r Result) ItemsPerSec() float64 { return float64(r.Items) / r.Elapsed.Seconds() }

// CPUPerItem is the server's CPU time per item, zero without a server PID.
func (r Result) CPUPerItem() time.Duration {
	if r.Items == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Items)
}

// CheckLoopback refuses any address but a loopback one: load is never
// aimed at another machine.
func CheckLoopback(addr string) error {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL such as http://127.0.0.1:8700", addr)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address: the load generator only talks to 127.0.0.1", host)
}

// ErrNothingMeasured is Run's error when no request both began and ended
// inside the measured part: its figures would be zeros, not a measurement.
var ErrNothingMeasured = errors.New("loadgen: no request both began and ended in the measured time")

// Run runs op from c.Workers goroutines for c.Warmup and then c.Duration,
// and measures the second part: only requests that begin and end inside it
// count, and ErrNothingMeasured says none did. A failed request is counted
// and the run goes on; ctx ends the run early.
func Run(ctx context.Context, c Config, op Op) (Result, error) {
	if c.Workers < 1 || c.Duration <= 0 || c.Warmup < 0 {
		return Result{}, errors.New("loadgen: workers must be at least 1 and duration positive")
	}
	if c.MaxOps <= 0 {
		c.MaxOps = 10_000_000
	}
	ctx, cancel := context.WithTimeout(ctx, c.Warmup+c.Duration+30*time.Second)
	defer cancel()
	var (
		measuring, stop atomic.Bool
		started         atomic.Int64
		mu              sync.Mutex
		res             Result
		lat             []time.Duration
	)
	var wg sync.WaitGroup
	for w := range c.Workers {
		wg.Go(func() {
			var mine []time.Duration
			var items, reqs, errs int64
			var first string
			for seq := 0; !stop.Load() && ctx.Err() == nil; seq++ {
				if started.Add(1) > c.MaxOps {
					break
				}
				counted := measuring.Load()
				t := time.Now()
				n, err := op(ctx, w, seq)
				d := time.Since(t)
				if !counted || !measuring.Load() {
					continue // began or ended outside the measured part
				}
				reqs++
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				items += int64(n)
				mine = append(mine, d)
			}
			mu.Lock()
			defer mu.Unlock()
			res.Requests += reqs
			res.Items += items
			res.Errors += errs
			if res.FirstError == "" {
				res.FirstError = first
			}
			lat = append(lat, mine...)
		})
	}
	sleep(ctx, c.Warmup)
	cpu0, err := serverCPU(c.ServerPID)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		return Result{}, err
	}
	t0 := time.Now()
	measuring.Store(true)
	sleep(ctx, c.Duration)
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, err := serverCPU(c.ServerPID)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		return Result{}, err
	}
	if res.Requests == 0 {
		return Result{}, fmt.Errorf("%w (%v): lengthen -duration or add a -warmup", ErrNothingMeasured, c.Duration)
	}
	res.Elapsed, res.ServerCPU = elapsed, cpu1-cpu0
	if c.ServerPID != 0 {
		if res.PeakRSS, err = PeakRSS(c.ServerPID); err != nil {
			return Result{}, err
		}
	}
	res.P50, res.P99, res.P999 = Percentile(lat, 50), Percentile(lat, 99), Percentile(lat, 99.9)
	return res, nil
}

func serverCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	return ProcCPU(pid)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of lat, sorting it
// in place; zero for no latencies.
func Percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	i := int(float64(len(lat))*p/100+0.5) - 1
	return lat[min(max(i, 0), len(lat)-1)]
}
