# Domicile: `make run` starts a multi-region vault with sample data;
# `make test` runs every test. Both work on a fresh machine.

GO        ?= go
BIN       := bin/domicile
DATA      ?= data
LISTEN    ?= 127.0.0.1:8700
GOFLAGS   ?=
export GOFLAGS

.PHONY: all build run test test-short test-postgres bench-postgres vet lint bench bench-openbao bench-all fuzz clean deps

all: build

# The commit `domicile version` names (empty outside a git checkout).
COMMIT    := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -modified)

build:
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o $(BIN) ./cmd/domicile

## run: every region of examples/policy.yaml in one process, the gateway at $(LISTEN), sample data in ./$(DATA)
run: build
	./$(BIN) dev --data $(DATA) --listen $(LISTEN) --policy examples/policy.yaml

## test: vet, staticcheck, every test with the race detector, and bounded fuzzing
test: deps
	scripts/test.sh

test-short:
	$(GO) test -short ./...

## test-postgres: only the PostgreSQL-backed tests (the local server at 127.0.0.1:5432; CI=1 makes them fail instead of skip when it is down)
test-postgres:
	scripts/pg-setup.sh
	$(GO) test -race -count=1 ./internal/store/postgres/... ./e2e -run 'Conformance|Reopen|TwoStores|Region|OpenErrors|Migrations|Postgres'

## bench-postgres: HTTP creates and gets on Pebble vs PostgreSQL, one vs two nodes (docs/deployment.md quotes them)
bench-postgres:
	scripts/pg-setup.sh
	$(GO) test ./internal/app -run '^$$' -bench Split -benchtime 3000x
	$(GO) test ./internal/store/postgres ./internal/store/pebble -run '^$$' -bench Conformance -benchtime 2000x

vet:
	$(GO) vet ./...

lint: vet
	scripts/staticcheck.sh

## bench: the figures the issues name, medians of 3 interleaved rounds with ratios (scripts/bench.sh)
bench:
	scripts/bench.sh 3

## bench-openbao: Domicile against OpenBao transit side by side, and issue 19's five ratios (BAO=path/to/bao, or ../shared/bench/bao.xz)
bench-openbao:
	scripts/vs-openbao.sh

## bench-all: every benchmark of every package, once
bench-all:
	$(GO) test -run '^$$' -bench . -benchtime 1s ./...

deps:
	scripts/deps.sh

clean:
	rm -rf bin $(DATA)
