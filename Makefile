# Two commands on a fresh machine:
#   make run   — virtualenv + install + migrate SQLite + load reference data + serve on http://127.0.0.1:$(PORT)
#   make test  — the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 5000
HOST   ?= 127.0.0.1
BIN    := $(VENV)/bin
# Coder models (docs/coding.md): built from the codebooks and corpora in the repo when missing or stale.
MODELS_DIR ?= $(or $(M360_MODELS_DIR),var/models)
CODER_INPUTS := $(wildcard analysis/coding/codebooks/*.yaml analysis/coding/corpus/*.jsonl analysis/coding/*.py)

.PHONY: install models run test test-fast lint bench clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

$(MODELS_DIR)/.built: $(BIN)/.installed $(CODER_INPUTS)
	M360_MODELS_DIR=$(MODELS_DIR) $(BIN)/m360 coder train --all
	touch $@

models: $(MODELS_DIR)/.built

run: install models
	$(BIN)/m360 db upgrade
	$(BIN)/m360 entities load
	PORT=$(PORT) $(BIN)/m360 serve --host $(HOST)

test: install models
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast loop while working (under 30 s): the tests marked `fast` — parsing, engine, conversation cases,
# themes, deadlines, channel text, conditions, questionnaires, XLSForm, sampling, coder metrics. Only the
# modules that mark some test fast are collected: importing the others costs more than their tests.
FAST_TESTS = $(shell grep -l 'pytest.mark.fast' tests/test_*.py)
test-fast: install
	$(BIN)/python -m pytest -m fast $(FAST_TESTS) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check bot surveys webhooks analysis tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: install models
	$(BIN)/python bench/engine.py --quick
	$(BIN)/python bench/hotpaths.py --quick
	$(BIN)/python bench/coder.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
