# cityops — `make demo` runs the demo, `make test` runs the whole suite. Both install what they need.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench services browser fonts web install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The browser app: npm ci when the lock file changes, vite build when a source file changes.
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.js
WEB_DEPS := web/node_modules/.installed

web: web/dist/index.html

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_DEPS)

web/dist/index.html: $(WEB_DEPS) $(WEB_SRC)
	cd web && npm run build --silent

fonts:
	bash scripts/ensure-browser.sh fonts

browser:
	bash scripts/ensure-browser.sh

demo: install web fonts
	$(BIN)/cityops demo $(DEMO_ARGS)

services:
	bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

pytest: install services web browser
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install services web browser
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist
