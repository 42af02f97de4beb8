# Two commands do everything: `make demo` and `make test`. Each bootstraps uv if missing.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
DATA_DIR ?= demo-data
PORT ?= 9090

.PHONY: demo test test-fast env bench bench-ingest bench-api

env:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --locked --quiet

demo: env
	$(UV) run flowkit demo --data-dir $(DATA_DIR) --port $(PORT)

test: env
	$(UV) run pytest -q

# The inner loop: everything but the end-to-end tests that generate data and start servers.
test-fast: env
	$(UV) run pytest -q -m "not slow"

# Query benchmarks (issue 7) on the synthetic country of SIZE=S|M|L (generated once into bench/data/):
# per workload cold and warm time, peak RSS, the hand-written DuckDB SQL, PostgreSQL; writes
# bench/results/<SIZE>-<date>.md and .json. BENCH_ARGS=--no-postgres skips PostgreSQL.
SIZE ?= S
BENCH_ARGS ?=
bench: env
	$(UV) run python bench/run.py --size $(SIZE) $(BENCH_ARGS)

# Ingestion throughput (events/s) for CSV, gzip CSV and Parquet on a ~1.4M-event export, QA on;
# writes bench/results/ingest-<date>.md and .json (about 4 minutes here).
bench-ingest: env
	$(UV) run python bench/ingest.py

# API latency: poll and get under 50 concurrent clients (wrk, from Debian) against `flowkit serve`,
# query states in the process and in Redis; writes bench/results/api-<date>.md and .json (about 4 minutes).
bench-api: env
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	@command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	$(UV) run python bench/api_latency.py
