#!/usr/bin/env bash
# vs-openbao.sh: Domicile against OpenBao's transit engine, side by side in
# one run, and issue 19's five ratios with their targets.
#
# Usage: scripts/vs-openbao.sh          (make bench-openbao)
#
# It builds domicile and the project's load generator (cmd/domicile-load),
# starts on 127.0.0.1 only:
#   - domicile dev --no-seed (four regions, fsync'd Pebble, audit log) on a
#     fresh data directory on local disk;
#   - OpenBao in dev mode (in memory, nothing synced), transit key "bench";
#   - OpenBao in dev mode with its file audit device;
# and, for each client count, runs the pairs create / encrypt of 64 B,
# get / decrypt, tokenize 100 / batch encrypt 100 x 64 B, alternating the
# servers (the order flips at every client count), then tokenize at the
# lowest client count once more (see below). On a machine with 10 or
# more cores it pins the servers to cores 0-7 and the load to the rest, and
# measures creates with Domicile pinned to 2 and then 8 cores (scaling).
# Every run is bounded by its duration and by `timeout`.
#
# OpenBao is a benchmark peer, never a dependency: BAO names its binary, or
# the script takes ../shared/bench/bao.xz (OpenBao v2.6.2) when it exists.
#
# Knobs (environment): BAO DURATION=8 WARMUP=2 CLIENTS="8 64" OUT=bench-openbao
# Example: DURATION=4 CLIENTS="8 64" scripts/vs-openbao.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CLIENTS=${CLIENTS:-"8 64"}
OUT=${OUT:-$root/bench-openbao}
read -r -a clients <<<"$CLIENTS"
if [ "${#clients[@]}" -lt 2 ]; then
	echo "error: CLIENTS needs two client counts or more, such as \"8 64\"" >&2
	exit 2
fi
lo=${clients[0]} hi=${clients[-1]}
mkdir -p "$OUT"
jsonl=$OUT/runs.jsonl
: >"$jsonl"

parent=${TMPDIR:-/tmp}
if [ "$(stat -f -c %T "$parent" 2>/dev/null)" = tmpfs ]; then parent=$root; fi
work=$(mktemp -d -p "$parent" vs-openbao.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for f in dom.log bao.log baoa.log; do [ -f "$work/$f" ] && tail -n 30 "$work/$f" >"$OUT/$f.tail"; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bao=${BAO:-}
if [ -z "$bao" ]; then
	if [ -f "$root/../shared/bench/bao.xz" ]; then
		echo "unpacking OpenBao from ../shared/bench/bao.xz ..." >&2
		xz -dc "$root/../shared/bench/bao.xz" >"$work/bao" && chmod +x "$work/bao"
		bao=$work/bao
	else
		echo "error: no OpenBao binary: set BAO=/path/to/bao (OpenBao 2.x; build it from its source)" >&2
		exit 2
	fi
fi
echo "building ..." >&2
go build -o "$work/domicile" ./cmd/domicile
go build -o "$work/domicile-load" ./cmd/domicile-load

srv=() gen=()
ncpu=$(nproc)
if [ "$ncpu" -ge 10 ] && command -v taskset >/dev/null; then
	srv=(taskset -c 0-7) gen=(taskset -c "8-$((ncpu - 1))")
	echo "servers pinned to cores 0-7, load to 8-$((ncpu - 1))" >&2
else
	echo "$ncpu cores: nothing pinned; compare CPU per item more than items/s" >&2
fi

up() { # wait, bounded, until 127.0.0.1:$1 accepts connections
	for _ in $(seq 120); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.5
	done
	echo "error: nothing listens on 127.0.0.1:$1 after 60 s; see $OUT/*.log.tail" >&2
	return 1
}
startdom() { # DIR PORT [PIN...]
	local dir=$1 port=$2; shift 2
	"$@" "$work/domicile" dev --data "$dir" --listen "127.0.0.1:$port" --no-seed >>"$work/dom.log" 2>&1 &
	pids+=("$!")
	dompid=$!
	up "$port"
	for _ in $(seq 60); do [ -s "$dir/admin.token" ] && return 0; sleep 0.5; done
	echo "error: domicile wrote no admin token" >&2
	return 1
}
startdom "$work/dom" 28700 "${srv[@]}"
# Each OpenBao in dev mode writes its root token to $HOME/.vault-token;
# two starting at once race on that file and one of them exits, so each
# gets a home of its own.
mkdir -p "$work/bao-home" "$work/baoa-home"
HOME=$work/bao-home "${srv[@]}" "$bao" server -dev -dev-root-token-id=root -dev-listen-address=127.0.0.1:28200 >"$work/bao.log" 2>&1 &
baopid=$!
pids+=("$baopid")
cat >"$work/audit.hcl" <<HCL
audit "file" "file" {
  options {
    file_path = "$work/bao-audit.log"
  }
}
HCL
HOME=$work/baoa-home "${srv[@]}" "$bao" server -dev -dev-root-token-id=root -dev-listen-address=127.0.0.1:28210 -config="$work/audit.hcl" >"$work/baoa.log" 2>&1 &
baoapid=$!
pids+=("$baoapid")
up 28200
up 28210
for port in 28200 28210; do
	BAO_ADDR=http://127.0.0.1:$port BAO_TOKEN=root "$bao" secrets enable transit >/dev/null
	BAO_ADDR=http://127.0.0.1:$port BAO_TOKEN=root "$bao" write -f transit/keys/bench type=aes256-gcm96 >/dev/null
done

load() { # LABEL PID ARGS...
	local label=$1 pid=$2; shift 2
	timeout $((DURATION + WARMUP + 120)) "${gen[@]}" "$work/domicile-load" -duration "${DURATION}s" -warmup "${WARMUP}s" \
		-server-pid "$pid" -label "$label" -json "$jsonl" "$@"
}
dom() { load dom "$dompid" -addr http://127.0.0.1:28700 -token-file "$work/dom/admin.token" -mode "$@"; }
b() { load bao "$baopid" -target openbao -addr http://127.0.0.1:28200 -token root -mode "$@"; }
ba() { load baoaudit "$baoapid" -target openbao -addr http://127.0.0.1:28210 -token root -mode "$@"; }

flip=0
for c in "${clients[@]}"; do
	echo "clients $c ..." >&2
	if ((flip == 0)); then
		dom create -workers "$c"; b encrypt -workers "$c"; ba encrypt -workers "$c"
		dom get -workers "$c"; b decrypt -workers "$c"; ba decrypt -workers "$c"
		dom tokenize -batch 100 -workers "$c"; b batch-encrypt -batch 100 -workers "$c"; ba batch-encrypt -batch 100 -workers "$c"
	else
		ba encrypt -workers "$c"; b encrypt -workers "$c"; dom create -workers "$c"
		ba decrypt -workers "$c"; b decrypt -workers "$c"; dom get -workers "$c"
		ba batch-encrypt -batch 100 -workers "$c"; b batch-encrypt -batch 100 -workers "$c"; dom tokenize -batch 100 -workers "$c"
	fi
	flip=$((1 - flip))
done
# Every run grows Domicile's store, and a token costs more CPU in a bigger
# store (compaction), so the tokenize runs at the highest client count,
# which come later, would pay for the runs before them: tokenize at the
# lowest count runs once more at the end, and ratio 3a compares the median
# of the runs before and after with the runs between them.
echo "clients $lo again (tokenize) ..." >&2
dom tokenize -batch 100 -workers "$lo"

if [ "${#srv[@]}" -gt 0 ]; then
	for cores in 2 8; do
		echo "scaling: creates on $cores cores ..." >&2
		kill "$dompid"
		wait "$dompid" 2>/dev/null || true
		startdom "$work/dom$cores" 28701 taskset -c "0-$((cores - 1))"
		load dom "$dompid" -addr http://127.0.0.1:28701 -token-file "$work/dom$cores/admin.token" -mode create -workers "$hi" -cores "$cores"
	done
fi
echo
"$work/domicile-load" -summarise "$jsonl" -lo "$lo" -hi "$hi"
echo "raw runs: $jsonl"
