# Domicile: `make run` starts a multi-region vault with sample data;
# `make test` runs every test. Both work on a fresh machine.

GO        ?= go
BIN       := bin/domicile
DATA      ?= data
LISTEN    ?= 127.0.0.1:8700
GOFLAGS   ?=
export GOFLAGS

.PHONY: all build run test test-short vet lint bench fuzz clean deps

all: build

build:
	$(GO) build -o $(BIN) ./cmd/domicile

## run: every region of examples/policy.yaml in one process, the gateway at $(LISTEN), sample data in ./$(DATA)
run: build
	./$(BIN) dev --data $(DATA) --listen $(LISTEN) --policy examples/policy.yaml

## test: vet, staticcheck and every test with the race detector
test: deps
	scripts/test.sh

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

lint: vet
	scripts/staticcheck.sh

## bench: the benchmarks quoted in the issues' closing notes
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1s ./...

deps:
	scripts/deps.sh

clean:
	rm -rf bin $(DATA)
