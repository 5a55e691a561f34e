#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, and every test with the
# race detector. CI runs exactly this (through `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
scripts/staticcheck.sh
# e2e runs the binary it builds; Go's test cache cannot see that binary
# change, so its results are never reused (-count=1).
go test -race -timeout 20m $(go list ./... | grep -v '/e2e$')
go test -race -timeout 20m -count=1 ./e2e
# The HTTP fuzz targets, bounded in time: arbitrary requests through the
# gateway and a region (no 5xx, problem+json, a refused request changes
# nothing), the JSON string gate and the strict decoder (never a reading
# encoding/json would not give). New finds land in testdata/fuzz.
go test -run '^$' -fuzz '^FuzzHTTP$' -fuzztime 20s ./internal/app
go test -run '^$' -fuzz '^FuzzCheckStrings$' -fuzztime 10s ./internal/web
go test -run '^$' -fuzz '^FuzzDecodeBody$' -fuzztime 10s ./internal/web
