# `make demo` and `make test` work on a fresh machine: they create .venv and install the
# tested versions (constraints.txt) before doing anything else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-fast lint bench bench-quick clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

demo: $(INSTALLED)  ## train the default GAN (unit circle) into runs/demo: figures, metrics, checkpoints
	$(BIN)/gankit train --out runs/demo --force

test: $(INSTALLED)  ## the whole test suite, slow tests included
	$(BIN)/pytest -q

test-fast: $(INSTALLED)
	$(BIN)/pytest -q -m "not slow"

lint: $(INSTALLED)  ## ruff's linter and formatter check (configured in pyproject.toml)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

bench-quick: $(INSTALLED)
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) runs .pytest_cache
