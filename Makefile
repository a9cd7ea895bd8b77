# Diesel Direct — the two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# A Python >= 3.12: PATH first, then pyenv's installed versions (pyenv shims are skipped when they do not run).
PY_OK := import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)
PYTHON ?= $(shell \
  for p in python3.12 python3.13 python3.14 python3; do \
    c=$$(command -v $$p 2>/dev/null) && "$$c" -c '$(PY_OK)' 2>/dev/null && { echo "$$c"; exit 0; }; \
  done; \
  for c in $$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.1[2-9]* 2>/dev/null | sort -V); do \
    "$$c/bin/python3" -c '$(PY_OK)' 2>/dev/null && { echo "$$c/bin/python3"; exit 0; }; \
  done)
DATA_DIR ?= ./var
PORT ?= 8000

.PHONY: help venv system-deps web-assets browser demo test test-unit test-integration test-e2e lint bench-api bench-routing bench-tracking bench-load bench-dispatch bench-promise bench-money bench-office bench-notify clean

help:
	@echo "make demo   set up and run the service with demo data (SQLite, embedded worker)"
	@echo "make test   set up and run every test tier this machine can run, then lint"
	@echo "make lint   ruff, mypy, import-linter, who may write statuses, prices and balances"
	@echo "make bench-api | bench-routing | bench-money | bench-office | bench-notify   benchmarks (not tests)"

# Debian libraries the Python packages load at run time: Pango for WeasyPrint (invoice and statement PDFs) and
# the Noto CJK fonts the PDFs' Chinese is set in. Installed when root; otherwise said what is missing.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's $$missing (PDF documents)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Missing Debian packages $$missing: install them (apt-get install $$missing) for invoice PDFs"; fi

$(BIN)/.installed: pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@if [ -z "$(PYTHON)" ]; then echo "No Python >= 3.12 found on PATH or in pyenv; install one (e.g. pyenv install 3.12)"; exit 1; fi
	@echo "Using $(PYTHON) ($$($(PYTHON) --version))"
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,osrm]'
	@touch $@

venv: $(BIN)/.installed

# The browser apps' vendored code: the QR decoder (zxing-wasm) and the chart library (uPlot), from npm, bundled
# by esbuild; never fetched at run time.
web/static/vendor/zxing-reader.js web/static/vendor/uplot.js &: package.json package-lock.json web/build.mjs web/vendor-src/*.js
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && npm run --silent build; \
	else echo "npm not found: the rack app will offer typed codes only, the office its figures as tables (install Node.js)"; fi

web-assets: web/static/vendor/zxing-reader.js web/static/vendor/uplot.js

# Debian's Chromium for the end-to-end tests (Playwright drives it by its path; it never downloads a browser).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else echo "No /usr/bin/chromium (install Debian's chromium): the browser tests will be skipped"; fi

demo: venv system-deps web-assets
	$(BIN)/diesel demo --port $(PORT) --data-dir $(DATA_DIR)

# Every tier this machine can run: the whole suite on the embedded default (SQLite, no Redis), then the
# integration tier again on PostgreSQL + Redis when DATABASE_URL / REDIS_URL point at them (as .ci/run does).
test: venv system-deps web-assets browser
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m pytest tests --ignore=tests/e2e
	@echo "== browser tier (Debian Chromium driving the apps of a running demo) =="
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m pytest tests/e2e
	@if [ -n "$$DATABASE_URL" ]; then \
	  echo "== integration and system tiers on $$DATABASE_URL and $${REDIS_URL:-no Redis} =="; \
	  $(BIN)/python -m pytest tests --ignore=tests/e2e -m "integration or postgres or redis"; \
	fi
	$(MAKE) lint

# ... and the owners of statuses, prices and balances (tests/unit/test_ownership.py reads the source).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/test_ownership.py

bench-api: venv
	$(BIN)/python -m benchmarks.bench_api

bench-dispatch: venv
	$(BIN)/python -m benchmarks.bench_dispatch

# The delivery promise on a day filling up: 1,000 orders, one by one (GET /availability, POST /orders), 60 tankers,
# over HTTP on PostgreSQL; see benchmarks/README.md.
bench-promise: venv
	$(BIN)/python -m benchmarks.bench_promise

bench-tracking: venv
	$(BIN)/python -m benchmarks.bench_tracking

bench-load: venv
	$(BIN)/python -m benchmarks.bench_load

# An invoice run of a month (100,000 charges over 2,000 accounts) on PostgreSQL; see benchmarks/README.md.
bench-money: venv
	$(BIN)/python -m benchmarks.bench_money

# The account managers' analytics (dashboard, dormant list, sales report) over 2,000 customers and 1,000,000 orders
# of two years on PostgreSQL; see benchmarks/README.md.
bench-office: venv
	$(BIN)/python -m benchmarks.bench_office

# The day's price by SMS to 20,000 customers through the worker and a local SMS provider; see benchmarks/README.md.
bench-notify: venv
	$(BIN)/python -m benchmarks.bench_notify

$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,osrm,bench]'
	@touch $@

# Routing against PyVRP and VROOM in the same run (CPU-second budgets); rows go to benchmarks/results/routing.csv.
bench-routing: $(BIN)/.bench-installed
	$(BIN)/python -m benchmarks.routing.run --suite solomon --budget 10 --solvers ours,ours2,pyvrp,vroom
	$(BIN)/python -m benchmarks.routing.run --suite gh,x --budget 60 --solvers ours2,pyvrp
	$(BIN)/python -m benchmarks.routing.fuelday --jobs 200,1000,2000 --budget 60 --pyvrp-budget 30 \
	  --solvers greedy,ours2,ours-relaxed,pyvrp

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache
