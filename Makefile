# Two commands on a fresh machine (see README):
#   make run    install everything, then serve the app on http://127.0.0.1:8000 (SQLite under data/)
#   make test   install everything (Debian's chromium too, when missing), then run all tests
# Beside them: make dist / make dist-preview (a static build in dist/), make screens,
# make cluster (Redis + replicas + Traefik).
# Both are idempotent: a second run only checks stamps.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test setup setup-test chromium redis unit e2e lint bench-page bench-slow-lines bench-server bench-storm \
	bench-relay bench-tabs dist dist-preview screens cluster bench-cluster clean

run: setup
	$(PY) server.py --host $(HOST) --port $(PORT) --db data/pychat.db --demo

# The pure cores (auth, connection, tab leadership, chat session and its sharing, wire) keep
# 100 % branch coverage.
CORES := app/auth/*,app/net/*,app/chat/session.py,app/chat/sharing.py,app/wire/*

# Two pytest-xdist workers, each with its own browser and servers.  In one process the suite
# waits on emulated lines, deadlines and restarts about half the time; two workers keep both
# cores busy and take 0.55x as long.  `python -m pytest` alone still runs it in one process.
TEST_WORKERS := -n 2 --dist worksteal
# The slowest tests at the end of the run: where the suite's time goes, in every CI log.
SLOWEST := --durations=25

test: setup-test
	$(PY) -m ruff check .
	$(PY) -m pytest $(TEST_WORKERS) $(SLOWEST)
	$(PY) -m coverage report --include='$(CORES)' --fail-under=100 --skip-covered

unit: setup-test
	$(PY) -m pytest tests
	$(PY) -m coverage report --include='$(CORES)' --fail-under=100 --skip-covered

e2e: setup-test
	$(PY) -m pytest $(TEST_WORKERS) e2e

lint: setup-test
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

# A static build for any static host (relative URLs): the app, ?preview=1 for preview mode.
dist: setup
	$(PY) -m backend.build --out dist

# The same, in preview mode by default (?preview=0 for the app): for designers.
dist-preview: setup
	$(PY) -m backend.build --out dist --preview

# Redis + two replicas + Traefik on http://127.0.0.1:8000 (Ctrl-C stops everything).
cluster: setup-test
	$(PY) -m tools.cluster

# docs/screens/<state>.png for every UI state, from a preview build on a static server.
screens: setup-test
	$(PY) -m tools.screens

bench-page: setup-test
	$(PY) bench/page_load.py

bench-slow-lines: setup-test
	$(PY) bench/slow_lines.py

bench-server: setup-test
	$(PY) bench/server_load.py

bench-cluster: setup-test
	$(PY) bench/cluster_failover.py

bench-relay: setup-test
	$(PY) bench/agent_relay.py

bench-tabs: setup-test
	$(PY) bench/tab_leader.py

bench-storm: setup-test $(VENV)/.bench-installed
	$(PY) bench/reconnect_storm.py

# Users' ack latency at 1,000 msg/s while another client floods bad handshakes and frames.
.PHONY: bench-hostile
bench-hostile: setup-test
	$(PY) bench/hostile_neighbour.py

$(VENV)/.bench-installed: pyproject.toml $(VENV)/.test-installed
	$(VENV)/bin/pip install -q -e '.[test,bench]'
	touch $@

setup: $(VENV)/.runtime-installed vendor/.prepared wheels/.prepared

setup-test: setup $(VENV)/.test-installed chromium redis

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.runtime-installed: pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.runtime-installed
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

vendor/.prepared: node_modules/.package-lock.json backend/runtime.py backend/pyodide_prepare.mjs \
		backend/stdlib_prune.py backend/stdlib_roots.txt $(VENV)/.runtime-installed
	$(PY) -m backend.runtime

# The browser's own package index: exact, hash-checked pure-Python wheels (browser-wheels.txt).
wheels/.prepared: browser-wheels.txt | $(VENV)/bin/python
	rm -rf wheels && mkdir -p wheels/files
	$(VENV)/bin/pip download -q --no-deps --only-binary=:all: --implementation py --abi none \
	  --platform any --python-version 3.14 --require-hashes -r browser-wheels.txt -d wheels/files
	touch $@

# Playwright drives Debian's Chromium (it cannot download its own browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The cluster tests and `make cluster` run Debian's redis-server (never a system service).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "Installing Debian's redis-server…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

clean:
	rm -rf $(VENV) node_modules vendor wheels dist .pytest_cache .ruff_cache
