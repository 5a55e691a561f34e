#!/usr/bin/env bash
# Runs staticcheck, installing the pinned version on first use.
set -euo pipefail
version=2026.2.2
bin="$(go env GOPATH)/bin/staticcheck"
if ! "$bin" -version 2>/dev/null | grep -q "$version"; then
  GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@v0.8.2"
fi
"$bin" ./...
