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
