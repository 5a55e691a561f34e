package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// Line is one run as domicile-load writes it with -json.
type Line struct {
	Label      string  `json:"label"` // dom, bao or baoaudit
	Mode       string  `json:"mode"`
	Workers    int     `json:"workers"`
	ItemsPerS  float64 `json:"items_per_s"`
	P99ms      float64 `json:"p99_ms"`
	CPUPerItem float64 `json:"server_cpu_us_per_item"`
	PeakRSSMiB float64 `json:"server_peak_rss_mib"`
	Errors     int64   `json:"errors"`
	// Cores is the number of cores the server was pinned to (0: not
	// pinned), for the scaling runs.
	Cores int `json:"cores,omitempty"`
}

// ReadLines reads JSON lines; a malformed line is an error naming it.
func ReadLines(r io.Reader) ([]Line, error) {
	var out []Line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// Ratio is one of issue 19's five ratios with its bound.
type Ratio struct {
	Name   string
	Value  float64 // 0: not measured
	Target string
	Met    bool
	Note   string // how it was computed, or why it was not
}

// Summarise computes issue 19's ratios from one run's lines: medians when a
// (label, mode, workers) ran several times. hi and lo are the client counts
// compared (64 and 8 in the issue).
func Summarise(lines []Line, lo, hi int) []Ratio {
	med := func(label, mode string, workers, cores int, f func(Line) float64) float64 {
		var v []float64
		for _, l := range lines {
			if l.Label == label && l.Mode == mode && l.Workers == workers && l.Cores == cores && l.Errors == 0 {
				v = append(v, f(l))
			}
		}
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	cpu := func(l Line) float64 { return l.CPUPerItem }
	ips := func(l Line) float64 { return l.ItemsPerS }
	ratio := func(a, b float64) float64 {
		if a == 0 || b == 0 {
			return 0
		}
		return a / b
	}
	var out []Ratio
	add := func(name, target string, v float64, ok func(float64) bool, note string) {
		r := Ratio{Name: name, Value: v, Target: target, Note: note}
		if v == 0 {
			r.Note = "not measured: " + note
		} else {
			r.Met = ok(v)
		}
		out = append(out, r)
	}
	le := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	ge := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	for _, w := range []int{lo, hi} {
		add(fmt.Sprintf("1 create CPU/item vs OpenBao+audit encrypt, %d clients", w), "<= 1.00x",
			ratio(med("dom", "create", w, 0, cpu), med("baoaudit", "encrypt", w, 0, cpu)), le(1),
			"server µs per create / per encrypt of 64 B with the file audit device")
	}
	add(fmt.Sprintf("2 get items/s vs OpenBao decrypt, %d clients", hi), ">= 2.00x",
		ratio(med("dom", "get", hi, 0, ips), med("bao", "decrypt", hi, 0, ips)), ge(2), "reads per second, same run")
	add(fmt.Sprintf("3a tokenize items/s, %d clients vs %d", hi, lo), ">= 1.00x",
		ratio(med("dom", "tokenize", hi, 0, ips), med("dom", "tokenize", lo, 0, ips)), ge(1), "no collapse with concurrency")
	add(fmt.Sprintf("3b tokenize CPU/token vs OpenBao batch encrypt, %d clients", hi), "<= 2.00x",
		ratio(med("dom", "tokenize", hi, 0, cpu), med("bao", "batch-encrypt", hi, 0, cpu)), le(2), "server µs per item, batches of 100")
	peak := func(label string) float64 {
		m := 0.0
		for _, l := range lines {
			if l.Label == label {
				m = max(m, l.PeakRSSMiB)
			}
		}
		return m
	}
	add("4 peak RSS vs OpenBao's", "<= 2.00x", ratio(peak("dom"), peak("bao")), le(2), "dev (four regions) against OpenBao dev, after the same load")
	// Scaling: creates per second on 8 cores / (4 x on 2 cores).
	s2, s8 := med("dom", "create", hi, 2, ips), med("dom", "create", hi, 8, ips)
	add("5 create scaling efficiency, 2 to 8 cores", ">= 0.85", ratio(s8, 4*s2), ge(0.85), "needs a machine with 10 or more cores (servers pinned)")
	return out
}
