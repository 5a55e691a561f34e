package loadgen

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     time.Duration
		ok       bool
	}{
		{"plain", "1234 (domicile) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1000 100000 2000", 3 * time.Second, true},
		{"name with spaces and parens", "7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1", 70 * time.Millisecond, true},
		{"no name", "1234 domicile S 1", 0, false},
		{"too short", "1 (x) S 1 2 3", 0, false},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 4 0 0 20 0 1 0 1 1 1", 0, false},
		{"negative", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -3 4 0 0 20 0 1 0 1 1 1", 0, false},
		{"overflow", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 9223372036854775807 4 0 0 20 0 1 0 1 1 1", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.in))
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseStatCPU = %v, %v; want %v, ok %v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseHWM(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int64
		ok       bool
	}{
		{"found", "Name:\tdomicile\nVmPeak:\t 1 kB\nVmHWM:\t  183132 kB\nVmRSS:\t 1 kB\n", 183132 << 10, true},
		{"missing", "Name:\tx\nVmRSS:\t 1 kB\n", 0, false},
		{"no unit", "VmHWM:\t 12\n", 0, false},
		{"wrong unit", "VmHWM:\t 12 MB\n", 0, false},
		{"garbage", "VmHWM:\t x kB\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseHWM([]byte(tc.in))
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseHWM = %d, %v; want %d, ok %v", got, err, tc.want, tc.ok)
			}
		})
	}
}

// The parsers read this very process's /proc files.
func TestProcOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	if _, err := ProcCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if n, err := PeakRSS(os.Getpid()); err != nil || n <= 0 {
		t.Errorf("PeakRSS = %d, %v", n, err)
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte("1 (x) S 1 1 1 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1"))
	f.Add([]byte("VmHWM:\t 12 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseStatCPU(b); err == nil && d < 0 {
			t.Fatalf("negative CPU time %v", d)
		}
		if n, err := parseHWM(b); err == nil && n < 0 {
			t.Fatalf("negative memory %d", n)
		}
	})
}

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"http://127.0.0.1:8700", true},
		{"http://localhost:8700", true},
		{"http://[::1]:8700", true},
		{"https://127.0.0.2:1", true},
		{"http://10.0.0.1:8700", false},
		{"http://example.com", false},
		{"127.0.0.1:8700", false},
		{"", false},
	} {
		if err := CheckLoopback(tc.addr); (err == nil) != tc.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok %v", tc.addr, err, tc.ok)
		}
	}
}

func TestPercentile(t *testing.T) {
	lat := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}} {
		if got := Percentile(lat, tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("Percentile of nothing is not zero")
	}
}
