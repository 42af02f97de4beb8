# Two commands do everything: `make demo` and `make test`. Each bootstraps uv if missing.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
DATA_DIR ?= demo-data
PORT ?= 9090

.PHONY: demo test test-fast env bench bench-ingest

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

# Ingestion throughput (events/s) for CSV, gzip CSV and Parquet on a ~1.4M-event export, QA on;
# writes bench/results/ingest-<date>.md and .json (about 4 minutes here).
bench-ingest: env
	$(UV) run python bench/ingest.py
