#!/usr/bin/env bash
# import-100k.sh: issue 17's import check, run by hand (not part of make test).
#
# Usage: scripts/import-100k.sh
#
# It writes 100,000 customer lines over 8 jurisdictions with 30 bad lines
# (an unknown jurisdiction, a bad email, an unknown field), then on fresh
# `domicile dev --no-seed` vaults listening on 127.0.0.1 only:
#   1. crash and rerun: imports, kills the server with kill -9 after 4.5 s,
#      restarts it, imports again and kills the importer with kill -9 after
#      7 s, imports a third time; the vault must then hold exactly the
#      99,970 good lines and the rejects file the 30 bad ones;
#   2. rate: `records import` against batch create (POST /v1/records, the
#      same records in batches of 500 over one keep-alive connection),
#      alternated twice, each on a fresh vault; prints records/s and ratio.
# Needs python3 (the data file and the batch create client).
# Knobs (environment): PORT=8791 WORK=$(mktemp -d)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8791}
WORK=${WORK:-$(mktemp -d)}
bin=$WORK/domicile
go build -o "$bin" ./cmd/domicile
export DOMICILE_ADDR=http://127.0.0.1:$PORT

python3 - "$WORK/lines.jsonl" <<'PY'
import json, random, sys
random.seed(7)
J = ["CN", "RU", "DE", "FR", "US", "GB", "JP", "BR"]
bad = sorted(random.sample(range(100000), 30))
kind = {b: k % 3 for k, b in enumerate(bad)}
with open(sys.argv[1], "w") as f:
    for i in range(100000):
        rec = {"collection": "customers", "subject": f"imp-{i:06d}", "jurisdiction": J[i % 8],
               "fields": {"name": f"Person {i}", "email": f"p{i}@example.com", "date_of_birth": "1980-01-02"}}
        if i in kind:
            if kind[i] == 0: rec["jurisdiction"] = "XX"
            elif kind[i] == 1: rec["fields"]["email"] = "not-an-email"
            else: rec["fields"]["shoe_size"] = "42"
        f.write(json.dumps(rec) + "\n")
PY

pid=
start() { # start DIR: a dev vault on DIR, waits until it answers
	"$bin" dev --data "$1" --no-seed --listen 127.0.0.1:"$PORT" >>"$WORK/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -sf "$DOMICILE_ADDR/healthz" >/dev/null && return; sleep 0.2; done
	echo "error: the vault did not start; see $WORK/server.log" >&2
	exit 1
}
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap stop EXIT
total() {
	curl -s -H "Authorization: Bearer $DOMICILE_TOKEN" "$DOMICILE_ADDR/v1/regions" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(r["records"].get("customers", 0) for r in d.get("regions", d)))'
}

echo "== crash and rerun"
start "$WORK/crash"
export DOMICILE_TOKEN=$(cat "$WORK/crash/admin.token")
"$bin" records import "$WORK/lines.jsonl" --rejects "$WORK/rejects.jsonl" || true &
imp=$!
sleep 4.5
kill -9 "$pid"
wait "$imp" || true
start "$WORK/crash"
"$bin" records import "$WORK/lines.jsonl" --rejects "$WORK/rejects.jsonl" >/dev/null 2>&1 &
imp=$!
sleep 7
kill -9 "$imp" 2>/dev/null || true
wait "$imp" 2>/dev/null || true
"$bin" records import "$WORK/lines.jsonl" --rejects "$WORK/rejects.jsonl"
stored=$(total)
refused=$(wc -l <"$WORK/rejects.jsonl")
echo "stored $stored (want 99970), refused $refused (want 30)"
stop
if [ "$stored" != 99970 ] || [ "$refused" != 30 ]; then
	echo "FAIL: import after crashes did not store every good line exactly once" >&2
	exit 1
fi

echo "== rate: import against batch create, alternated"
for round in 1 2; do
	for mode in import create; do
		dir=$WORK/rate-$round-$mode
		start "$dir"
		export DOMICILE_TOKEN=$(cat "$dir/admin.token")
		if [ $mode = import ]; then
			s=$(date +%s.%N)
			"$bin" records import "$WORK/lines.jsonl" --rejects "$dir/rejects.jsonl" >/dev/null
			e=$(date +%s.%N)
			python3 -c "d=$e-$s; print('round $round import: 99970 records in %.2f s, %.0f records/s' % (d, 99970/d))" | tee -a "$WORK/rate.txt"
		else
			ROUND=$round python3 - "$WORK/lines.jsonl" "$PORT" <<'PY' | tee -a "$WORK/rate.txt"
import http.client, json, os, sys, time
by = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["jurisdiction"] == "XX" or "shoe_size" in r["fields"] or r["fields"]["email"] == "not-an-email":
        continue
    by.setdefault(r["jurisdiction"], []).append(r)
batches = [rs[i:i + 500] for rs in by.values() for i in range(0, len(rs), 500)]
bodies = [(len(b), json.dumps({"records": b}).encode()) for b in batches]
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]))
h = {"Authorization": "Bearer " + os.environ["DOMICILE_TOKEN"], "Content-Type": "application/json"}
n, t = 0, time.time()
for k, (count, b) in enumerate(bodies):
    c.request("POST", "/v1/records", b, dict(h, **{"Idempotency-Key": "create-%d" % k}))
    resp = c.getresponse(); body = resp.read()
    if resp.status not in (200, 201):
        sys.exit("batch create: %d %s" % (resp.status, body[:300]))
    n += count
d = time.time() - t
print("round %s create: %d records in %.2f s, %.0f records/s" % (os.environ.get("ROUND", "?"), n, d, n / d))
PY
		fi
		stop
	done
done
python3 - "$WORK/rate.txt" <<'PY'
import re, sys
imp, cre = [], []
for line in open(sys.argv[1]):
    v = float(re.search(r"([0-9.]+) records/s", line).group(1))
    (imp if " import:" in line else cre).append(v)
print("import / batch create: %.2f (mean of %d rounds)" % (sum(imp) / sum(cre), len(imp)))
PY
