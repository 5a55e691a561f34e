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
go test -race -timeout 20m ./...
# The HTTP fuzz targets, bounded in time: arbitrary requests through the
# gateway and a region (no 5xx, problem+json, a refused request changes
# nothing), and the JSON string gate. New finds land in testdata/fuzz.
go test -run '^$' -fuzz '^FuzzHTTP$' -fuzztime 20s ./internal/app
go test -run '^$' -fuzz '^FuzzCheckStrings$' -fuzztime 10s ./internal/web
