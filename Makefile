# The two commands that matter: `make run` (the whole product with demo data) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
FRONTEND_STAMP := frontend/dist/index.html
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/index.html \
	frontend/vite.config.ts frontend/tsconfig.json frontend/package.json
TORCH_VERSION ?= 2.13.0

.PHONY: run test bench install frontend services lint typecheck pytest clean

run: $(VENV_STAMP) $(FRONTEND_STAMP) .env
	DJANGO_READ_DOT_ENV_FILE=true $(BIN)/python manage.py migrate --noinput
	DJANGO_READ_DOT_ENV_FILE=true $(BIN)/python manage.py seed_demo
	DJANGO_READ_DOT_ENV_FILE=true $(BIN)/python manage.py run_stack

test: $(VENV_STAMP) $(FRONTEND_STAMP) services lint typecheck pytest

install: $(VENV_STAMP)

# torch first, pinned, so pip keeps the local CPU build instead of pulling a CUDA one.
$(VENV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

frontend: $(FRONTEND_STAMP)

$(FRONTEND_STAMP): frontend/package-lock.json $(FRONTEND_SOURCES)
	@command -v npm >/dev/null || { echo "Node.js 20 and npm are needed to build frontend/"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund && npm run build
	touch $@

# Local settings for `make run`: debug on, a fresh secret, SQLite and the serverless broker.
.env:
	@echo "DJANGO_DEBUG=true" > $@
	@echo "DJANGO_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> $@
	@echo "Wrote .env (edit it to use PostgreSQL/Redis: DATABASE_URL, REDIS_URL)."

services:
	deploy/dev/services.sh

lint: $(VENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV_STAMP)
	$(BIN)/mypy

pytest: $(VENV_STAMP) services
	$(BIN)/pytest

# Speed figures (not part of the suite): ingest through the API, rendered slices and frames under
# load, and a task page loading a whole CT in headless Chromium (needs chromium and npm run build).
bench: $(VENV_STAMP) $(FRONTEND_STAMP) services
	@command -v wrk >/dev/null || echo "wrk is missing: apt-get install -y wrk (render figures need it)"
	$(BIN)/python tests/benchmarks/bench_render.py
	$(BIN)/python tests/benchmarks/bench_masks.py
	$(BIN)/python tests/benchmarks/bench_frames.py
	$(BIN)/python tests/benchmarks/bench_imaging.py
	$(BIN)/python tests/benchmarks/bench_browser_load.py

clean:
	rm -rf var/ frontend/dist
