# libscim — `make test` runs every test; `make bench` the benchmarks.
CARGO ?= cargo

.PHONY: all build test lint rust-test bench clean

all: build

build:
	$(CARGO) build --release

## Everything CI runs. Installs what it needs by itself.
test: lint rust-test compliance

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --quiet -- -D warnings

rust-test:
	$(CARGO) test --all-targets

bench:
	$(CARGO) bench --bench provider

clean:
	$(CARGO) clean

include tests/compliance/Makefile.inc
