#!/usr/bin/env bash
# bench.sh: the speed figures the issues name, measured side by side.
#
# Usage: scripts/bench.sh [ROUNDS]      (make bench runs it with 3 rounds)
#
# The machine is shared and noisy, so one run of a benchmark proves little.
# This script builds the benchmark binaries once, then runs every benchmark
# of the set once per round, round after round (so a slow minute hits all
# of them alike, not one of them ROUNDS times), and prints for each the
# median of its rounds, and the ratios the issues set targets on:
#
#   issue 3  create in process vs raw fsync'd Pebble put (target <= 3x);
#            creates and gets over HTTP at 8 clients (>= 5,000 and 15,000/s)
#   issue 5  tokens/s through the batch endpoints (deterministic >= 150,000,
#            fpe >= 50,000)
#   issue 6  creates with the audit log on vs off at 8 goroutines, as an
#            interleaved A/B test in one benchmark (<= +15%);
#            audit verify (>= 200,000 entries/s)
#   issue 15 a read from abroad, checked and counted by the transfer ledger,
#            vs the same read in the region (<= +15%)
#   issue 19 tokenize at 64 clients vs 8 (no collapse: >= 1x) and the store's
#            batches of 100 inserts vs raw Pebble at 8 and 64 goroutines;
#            the OpenBao comparison is ../shared/bench/device.sh's
#
# Each metric's median is taken on its own, so a ratio is a ratio of
# medians, which need not come from the same round. Raw results go to
# bench-DATE.txt in the current directory (BENCH_OUT overrides), so that
# two sets can be compared later with benchstat. Progress goes to stderr.
#
# Example:
#   scripts/bench.sh 5
#   BENCH_OUT=/tmp/after.txt scripts/bench.sh
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

rounds=${1:-3}
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
	echo "error: ROUNDS must be a positive whole number, got '$rounds' (try: scripts/bench.sh 3)" >&2
	exit 2
fi
out=${BENCH_OUT:-bench-$(date +%Y%m%d-%H%M%S).txt}
case $out in /*) ;; *) out=$caller/$out ;; esac
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT

go test -c -o "$bin/app.test" ./internal/app
go test -c -o "$bin/audit.test" ./internal/audit
go test -c -o "$bin/pebble.test" ./internal/store/pebble

: >"$out"
for ((r = 1; r <= rounds; r++)); do
	echo "round $r of $rounds ..." >&2
	(cd internal/app && "$bin/app.test" -test.run '^$' -test.bench '^Benchmark(Create|Get)$' -test.benchtime 3000x) >>"$out"
	(cd internal/app && "$bin/app.test" -test.run '^$' -test.bench '^BenchmarkTokens$' -test.benchtime 400x) >>"$out"
	(cd internal/app && "$bin/app.test" -test.run '^$' -test.bench '^BenchmarkTransferRead(Interleaved)?$' -test.benchtime 2000x) >>"$out"
	(cd internal/app && "$bin/app.test" -test.run '^$' -test.bench '^BenchmarkCreateDuringRewrap$' -test.benchtime 3x) >>"$out"
	(cd internal/audit && "$bin/audit.test" -test.run '^$' -test.bench '^BenchmarkCreateInterleaved$' -test.benchtime 20000x) >>"$out"
	(cd internal/audit && "$bin/audit.test" -test.run '^$' -test.bench '^BenchmarkVerify$' -test.benchtime 3x) >>"$out"
	(cd internal/store/pebble && "$bin/pebble.test" -test.run '^$' -test.bench '^BenchmarkOverhead$/InsertBatch100' -test.benchtime 2000x) >>"$out"
done
echo "raw results: $out (compare two sets with: benchstat OLD NEW)" >&2

# Issue 19's five ratios need OpenBao beside Domicile in the same run.
if [ -n "${BAO:-}" ] || [ -f ../shared/bench/bao.xz ]; then
	echo "Domicile against OpenBao (scripts/vs-openbao.sh) ..." >&2
	OUT=$(dirname "$out")/bench-openbao scripts/vs-openbao.sh >"$out.openbao" 2>/dev/null || echo "vs-openbao.sh failed; run it alone to see why" >&2
fi

# Summarise: the median of each benchmark's metric over the rounds.
awk -v rounds="$rounds" '
function median(list,    n, v, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	if (!(name in seen)) { seen[name] = 1; order[++count] = name }
	for (i = 3; i < NF; i += 2) vals[name, $(i + 1)] = vals[name, $(i + 1)] " " $i
}
function m(name, unit) { return ((name, unit) in vals) ? median(vals[name, unit]) : 0 }
END {
	printf "medians of %d rounds\n\n", rounds
	printf "%-62s %14s %10s\n", "benchmark", "per second", "p99 ms"
	for (k = 1; k <= count; k++) {
		n = order[k]; ops = m(n, "ops/s"); if (ops == 0) ops = m(n, "entries/s")
		if (ops == 0) ops = m(n, "on-ops/s")
		if (ops == 0) ops = 1e9 / m(n, "ns/op")
		printf "%-62s %14.0f %10s\n", n, ops, ((n, "p99-ms") in vals) ? sprintf("%.2f", m(n, "p99-ms")) : ""
	}
	print "\nissue 3: in-process create / raw fsync'\''d Pebble put (target <= 3x)"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkCreate\/vault\//) {
			raw = n; sub(/\/vault\//, "/raw-pebble-put/", raw)
			if (m(n, "ops/s") > 0) printf "  %-40s %5.2fx\n", substr(n, 23), m(raw, "ops/s") / m(n, "ops/s")
		}
	}
	print "\nissue 3: over HTTP at 8 clients (targets: create >= 5,000/s, get >= 15,000/s, p99 < 10 ms)"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^Benchmark(Create|Get)\/http\/.*clients=8$/) printf "  %-40s %8.0f/s  p99 %.2f ms\n", substr(n, 10), m(n, "ops/s"), m(n, "p99-ms")
	}
	print "\nissue 5: tokens/s through the batch endpoints, batches of 100 at 8 clients"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkTokens\/http\//) printf "  %-40s %8.0f/s  p99 %.2f ms\n", substr(n, 22), 100 * m(n, "ops/s"), m(n, "p99-ms")
	}
	print "\nissue 6: creates with the audit log on vs off, interleaved, 8 goroutines (target <= +15%)"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkCreateInterleaved\//) printf "  %-40s %+6.1f%%  (off %.0f/s, on %.0f/s)\n", substr(n, 28), m(n, "overhead-%"), m(n, "off-ops/s"), m(n, "on-ops/s")
	}
	print "\nissue 15: read from abroad, counted, vs in-region, read for read (target <= +15% time per read)"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkTransferReadInterleaved\//) printf "  %-40s %+6.1f%%\n", "already counted, " substr(n, 34), m(n, "overhead-%")
	}
	print "  the same, measured in separate runs (noisier), and the first read of each individual:"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkTransferRead\/abroad-/) {
			base = n; sub(/abroad-counted(-new)?/, "in-region", base)
			if (m(n, "ops/s") > 0) printf "  %-40s %+6.1f%%\n", substr(n, 23), 100 * (m(base, "ops/s") / m(n, "ops/s") - 1)
		}
	}
	print "\nissue 16: creates (8 clients) while the rewrap job moves 20,000 subject keys, phases alternated"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkCreateDuringRewrap\//) printf "  %-40s creates %+6.1f%%  rewrap %6.0f keys/s  (job busy %.0f%% of its phases)\n", substr(n, 29), m(n, "overhead-%"), m(n, "rewrap-keys/s"), m(n, "job-busy-%")
	}
	print "\nissue 19: tokenize at 64 clients vs 8, batches of 100 (target >= 1.00x: no collapse)"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkTokens\/http\/tokenize\/.*clients=64$/) {
			base = n; sub(/clients=64$/, "clients=8", base)
			if (m(base, "ops/s") > 0) printf "  %-40s %5.2fx  (p99 %.0f ms at 64, %.0f ms at 8)\n", substr(n, 22), m(n, "ops/s") / m(base, "ops/s"), m(n, "p99-ms"), m(base, "p99-ms")
		}
	}
	print "issue 19: store batches of 100 inserts, time per batch vs raw Pebble (the conditional-write locks)"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkOverhead\/InsertBatch100\/store\//) {
			raw = n; sub(/\/store\//, "/raw/", raw)
			if (m(raw, "ns/op") > 0) printf "  %-40s %5.2fx  (%.0f batches/s)\n", substr(n, 19), m(n, "ns/op") / m(raw, "ns/op"), 1e9 / m(n, "ns/op")
		}
	}
	print "\nissue 6: audit verify (target >= 200,000 entries/s)"
	for (k = 1; k <= count; k++) {
		n = order[k]
		if (n ~ /^BenchmarkVerify\//) printf "  %-40s %8.0f entries/s\n", substr(n, 17), m(n, "entries/s")
	}
}' "$out"
if [ -f "$out.openbao" ]; then
	echo
	sed -n '/^issue 19 ratios/,$p' "$out.openbao"
else
	echo
	echo "issue 19's ratios against OpenBao: not run (set BAO=/path/to/bao, or put OpenBao at ../shared/bench/bao.xz; then make bench-openbao)"
fi
