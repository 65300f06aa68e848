# connect-gr — two commands set everything up on a fresh machine:
#   make demo   run the main job on its embedded default (the emulator)
#   make test   run the whole suite (installs and caches what it needs under .tools/)
SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/.tools/venv/bin:$(PATH)

.PHONY: demo test tools lint unit it bench-quick testbed testbed-down crds build image deny deny-tools

build:
	$(CARGO) build --bins

demo: build
	$(CARGO) run --quiet --bin connect-gr -- demo

# Everything the suites need, installed once and cached under .tools/.
tools:
	bash scripts/tools.sh

deny-tools:
	bash scripts/tools.d/cargo-deny.sh

# Licences, bans, sources (deny.toml); advisories when the RustSec database can be reached.
deny:
	bash scripts/deny.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# The container image (release build + OCI layout under $CARGO_TARGET_DIR/image; see scripts/image.sh).
image:
	bash scripts/image.sh

test: tools lint deny image
	CONNECT_GR_IMAGE_PREBUILT=1 $(CARGO) test --lib --bins --tests -- --test-threads=2
	$(MAKE) bench-quick

# The unit tests only (no test bed, no emulator process).
unit:
	$(CARGO) test --lib --bins

# The integration tests only: the one binary tests/it (test bed, emulator, controller processes).
it: tools
	$(CARGO) test --test it -- --test-threads=2

bench-quick:
	CONNECT_GR_BENCH_QUICK=1 bash scripts/bench.sh

testbed:
	@bash scripts/testbed.sh up

testbed-down:
	@bash scripts/testbed.sh down

crds: build
	$(CARGO) run --quiet --bin connect-gr -- crds --dir crds
	$(CARGO) run --quiet --bin connect-gr -- crds --dir deploy/helm/connect-gr/files/crds
