package loadgen

import (
	"strings"
	"testing"
)

func TestSummarise(t *testing.T) {
	in := `{"label":"dom","mode":"create","workers":8,"items_per_s":1000,"server_cpu_us_per_item":400,"server_peak_rss_mib":250}
{"label":"baoaudit","mode":"encrypt","workers":8,"items_per_s":2000,"server_cpu_us_per_item":500}
{"label":"dom","mode":"create","workers":64,"items_per_s":1500,"server_cpu_us_per_item":450}
{"label":"baoaudit","mode":"encrypt","workers":64,"items_per_s":2500,"server_cpu_us_per_item":300}
{"label":"dom","mode":"get","workers":64,"items_per_s":4000}
{"label":"bao","mode":"decrypt","workers":64,"items_per_s":1000,"server_peak_rss_mib":100}
{"label":"dom","mode":"tokenize","workers":8,"items_per_s":20000}
{"label":"dom","mode":"tokenize","workers":64,"items_per_s":10000,"server_cpu_us_per_item":30}
{"label":"dom","mode":"tokenize","workers":64,"items_per_s":30000,"server_cpu_us_per_item":34}
{"label":"dom","mode":"tokenize","workers":64,"items_per_s":99,"server_cpu_us_per_item":1,"errors":3}
{"label":"bao","mode":"batch-encrypt","workers":64,"items_per_s":50000,"server_cpu_us_per_item":16}
`
	lines, err := ReadLines(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := Summarise(lines, 8, 64)
	want := []struct {
		value float64
		met   bool
	}{
		{0.8, true},  // create CPU at 8 clients: 400 / 500
		{1.5, false}, // at 64: 450 / 300
		{4, true},    // get: 4,000 / 1,000
		{1, true},    // tokenize 64 vs 8: median of 10,000 and 30,000 (the failed run left out) / 20,000
		{2, true},    // tokenize CPU: median 32 / 16
		{2.5, false}, // memory: 250 / 100
		{0, false},   // scaling: no pinned runs
	}
	if len(got) != len(want) {
		t.Fatalf("%d ratios, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if d := r.Value - w.value; d > 1e-9 || d < -1e-9 || r.Met != w.met {
			t.Errorf("%s: value %v met %v, want %v %v", r.Name, r.Value, r.Met, w.value, w.met)
		}
	}
	if !strings.HasPrefix(got[6].Note, "not measured") {
		t.Errorf("scaling note %q does not say it was not measured", got[6].Note)
	}
	if _, err := ReadLines(strings.NewReader("{\"label\":\n")); err == nil {
		t.Error("a malformed line was read")
	}
}
