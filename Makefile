# FintraOS Core. Needs nothing but python3 (3.11+): every target sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c 'import hashlib,sys;print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest()[:12])')
PACKAGES := schemas operators flows api fintra
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv demo test lint typecheck unit clean down browser soak bench

# The stamp is named after pyproject.toml's hash, so the venv is refreshed when the
# dependencies change and left alone otherwise.
$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

demo: venv
	$(BIN)/fintra demo

test: venv lint typecheck browser
	$(BIN)/pytest

# The live page is tested in Debian's Chromium, and docker-compose.yml is validated by
# Debian's docker-compose (no Docker engine needed); install them when they are missing.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v docker-compose >/dev/null 2>&1 || { \
		echo "installing Debian's chromium and docker-compose for the page and deploy tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium docker-compose \
			>/dev/null; }

lint: venv
	$(BIN)/ruff check $(PACKAGES) tests
	$(BIN)/ruff format --check $(PACKAGES) tests

typecheck: venv
	$(BIN)/mypy

# The fault tests at full size: more data, twice the kills (not part of `make test`).
soak: venv
	FINTRA_SOAK=1 $(BIN)/pytest tests/integration/test_faults.py

# Throughput, latency, rebuild, state and CPU on generated data; writes bench/RESULTS.md and
# bench/results.json (not part of `make test`). BENCH_SCALE=0.05 shrinks it, 2 grows it.
BENCH_SCALE ?= 1
bench: venv
	BENCH_SCALE=$(BENCH_SCALE) $(BIN)/python bench/run.py

unit: venv
	$(BIN)/pytest -m "not integration and not e2e"

down: venv
	$(BIN)/fintra down

clean: down
	rm -rf .fintra
