# SafeZone: two commands on a fresh machine — `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: all venv demo demo-deps test test-sqlite test-postgresql test-deps lint docs bench clean

all: test

$(STAMP): pyproject.toml
	@scripts/ensure-python.sh "$(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

## Seed the synthetic Bang Nak demo into a fresh data directory and serve it (with simulated
## cameras when Debian's GStreamer RTSP server is there; demo-deps installs it when it can).
demo: venv demo-deps
	$(BIN)/safezone demo $(DEMO_ARGS)

demo-deps:
	@scripts/ensure-demo-deps.sh

## Everything: lint, then the whole suite on SQLite and on PostgreSQL (browser tests included).
test: venv test-deps lint test-sqlite test-postgresql

test-deps:
	@scripts/ensure-test-deps.sh

test-sqlite: venv
	SAFEZONE_TEST_BACKEND=sqlite $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgresql: venv
	@scripts/ensure-services.sh
	SAFEZONE_TEST_BACKEND=postgresql $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

## Regenerate docs/configuration.md from the settings.
docs: venv
	$(BIN)/safezone config --markdown > docs/configuration.md

bench: venv
	$(BIN)/python bench/layers.py

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .mypy_cache .ruff_cache
