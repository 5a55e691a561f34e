// Command domicile-load is Domicile's own bounded load generator, for
// benchmarks only: it drives a Domicile vault, or OpenBao's transit engine as
// the peer, from 127.0.0.1, and prints items per second, latency percentiles
// and the server's CPU per item and peak memory (from /proc/PID). It is not
// part of the product binary. scripts/vs-openbao.sh runs it against both
// servers side by side.
//
//	domicile-load -mode create -workers 8 -duration 10s -addr http://127.0.0.1:8700 \
//	    -token-file data/admin.token -server-pid $(pgrep -f 'domicile dev')
//	domicile-load -target openbao -mode encrypt -workers 8 -token root -server-pid PID
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/loadgen"
)

const usage = `Usage: domicile-load [flags]

Drives one workload against a Domicile vault (-target domicile: create, get,
tokenize) or OpenBao's transit engine with key "bench" (-target openbao:
encrypt, decrypt, batch-encrypt), from 127.0.0.1 only, for -warmup then
-duration, and prints one line: items/s, p50/p99/p99.9 latency, errors, and,
with -server-pid, the server's CPU per item and peak RSS. With -summarise
FILE it prints issue 19's five ratios from a file of -json lines instead.

Examples:
  domicile-load -mode create -workers 8 -token-file data/admin.token -server-pid 4242
  domicile-load -mode tokenize -workers 64 -batch 100 -token-file data/admin.token
  domicile-load -target openbao -addr http://127.0.0.1:8200 -token root -mode batch-encrypt -workers 64
  domicile-load -summarise runs.jsonl

Flags:
`

type result struct {
	Label      string  `json:"label,omitempty"`
	Cores      int     `json:"cores,omitempty"`
	Target     string  `json:"target"`
	Mode       string  `json:"mode"`
	Workers    int     `json:"workers"`
	Batch      int     `json:"batch"`
	Requests   int64   `json:"requests"`
	Items      int64   `json:"items"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	ItemsPerS  float64 `json:"items_per_s"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	P999ms     float64 `json:"p999_ms"`
	CPUPerItem float64 `json:"server_cpu_us_per_item"`
	PeakRSSMiB float64 `json:"server_peak_rss_mib"`
	FirstError string  `json:"first_error,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "domicile-load:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("domicile-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	target := fs.String("target", "domicile", "domicile or openbao")
	addr := fs.String("addr", "", "server URL, loopback only (default http://127.0.0.1:8700, or :8200 for openbao)")
	token := fs.String("token", "", "bearer token (Domicile) or X-Vault-Token (OpenBao)")
	tokenFile := fs.String("token-file", "", "file holding the token")
	mode := fs.String("mode", "create", "workload: create|get|tokenize (domicile), encrypt|decrypt|batch-encrypt (openbao)")
	workers := fs.Int("workers", 8, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "measured time")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured time first")
	batch := fs.Int("batch", 100, "items per tokenize or batch-encrypt request")
	maxOps := fs.Int64("max-ops", 10_000_000, "hard cap on requests")
	jur := fs.String("jur", "CN,DE", "jurisdictions used in turn (domicile)")
	pool := fs.Int("pool", 128, "records read in turn by get (keep under the policy guard's limit)")
	pid := fs.Int("server-pid", 0, "the server's process id, for its CPU per item and peak RSS")
	label := fs.String("label", "", "free text copied to the JSON line")
	jsonOut := fs.String("json", "", "append the result as one JSON line to this file")
	cores := fs.Int("cores", 0, "the number of cores the server is pinned to, copied to the JSON line (scaling runs)")
	summarise := fs.String("summarise", "", "print issue 19's five ratios from this file of JSON lines, and run nothing")
	lo := fs.Int("lo", 8, "with -summarise: the lower client count compared")
	hi := fs.Int("hi", 64, "with -summarise: the higher client count compared")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *summarise != "" {
		return printSummary(stdout, *summarise, *lo, *hi)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (run domicile-load -h)", fs.Arg(0))
	}
	if *addr == "" {
		*addr = map[string]string{"domicile": "http://127.0.0.1:8700", "openbao": "http://127.0.0.1:8200"}[*target]
	}
	tok := *token
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("reading the token: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return errors.New("no token: pass -token or -token-file")
	}
	t := loadgen.Target{Addr: *addr, Token: tok}
	prefix := fmt.Sprintf("%x", time.Now().UnixNano())
	var (
		w   loadgen.Workload
		err error
	)
	switch *target {
	case "domicile":
		w, err = loadgen.Domicile(ctx, t, *mode, prefix, loadgen.DomicileOptions{Jurisdictions: strings.Split(*jur, ","), Batch: *batch, Pool: *pool})
	case "openbao":
		w, err = loadgen.OpenBao(ctx, t, *mode, *batch)
	default:
		err = fmt.Errorf("unknown -target %q: domicile or openbao", *target)
	}
	if err != nil {
		return err
	}
	res, err := loadgen.Run(ctx, loadgen.Config{Workers: *workers, Duration: *duration, Warmup: *warmup, MaxOps: *maxOps, ServerPID: *pid}, w.Op)
	if err != nil {
		return err
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	out := result{Label: *label, Cores: *cores, Target: *target, Mode: *mode, Workers: *workers, Batch: *batch,
		Requests: res.Requests, Items: res.Items, Errors: res.Errors, Seconds: res.Elapsed.Seconds(),
		ItemsPerS: res.ItemsPerSec(), P50ms: ms(res.P50), P99ms: ms(res.P99), P999ms: ms(res.P999),
		CPUPerItem: float64(res.CPUPerItem().Nanoseconds()) / 1000, PeakRSSMiB: float64(res.PeakRSS) / (1 << 20), FirstError: res.FirstError}
	fmt.Fprintf(stdout, "%-8s %-13s workers=%-3d items/s=%10.0f p50=%7.2fms p99=%8.2fms p99.9=%8.2fms errors=%d cpu/item=%7.1fµs rss=%.0fMiB\n",
		out.Target, out.Mode, out.Workers, out.ItemsPerS, out.P50ms, out.P99ms, out.P999ms, out.Errors, out.CPUPerItem, out.PeakRSSMiB)
	if res.Errors > 0 {
		fmt.Fprintf(stderr, "domicile-load: %d requests failed; first: %s\n", res.Errors, res.FirstError)
	}
	if *jsonOut != "" {
		f, err := os.OpenFile(*jsonOut, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(out)
		_, err = f.Write(append(b, '\n'))
		return errors.Join(err, f.Close())
	}
	return nil
}

// printSummary prints the five ratios of issue 19 from the runs in file.
func printSummary(w io.Writer, file string, lo, hi int) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	lines, err := loadgen.ReadLines(f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintf(w, "issue 19 ratios (Domicile / OpenBao unless noted), from %d runs in %s\n", len(lines), file)
	for _, r := range loadgen.Summarise(lines, lo, hi) {
		verdict := "not measured"
		if r.Value != 0 {
			verdict = map[bool]string{true: "met", false: "NOT met"}[r.Met]
		}
		fmt.Fprintf(w, "  %-62s %7.2f  target %-8s %-12s %s\n", r.Name, r.Value, r.Target, verdict, r.Note)
	}
	return nil
}
