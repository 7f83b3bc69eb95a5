# `make demo` and `make test` work on a fresh machine: they create .venv and install the
# tested versions (constraints.txt) before doing anything else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-fast lint docs figures bench bench-quick clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,docs]'
	touch $@

demo: $(INSTALLED)  ## train the default GAN (unit circle) into runs/demo: figures, metrics, checkpoints
	$(BIN)/gankit train --out runs/demo --force

test: $(INSTALLED)  ## the whole test suite, slow tests included
	$(BIN)/pytest -q

test-fast: $(INSTALLED)
	$(BIN)/pytest -q -m "not slow"

lint: $(INSTALLED)  ## ruff's linter and formatter check (configured in pyproject.toml)
	$(BIN)/ruff check src tests benchmarks docs/*.py
	$(BIN)/ruff format --check src tests benchmarks docs/*.py

docs: $(INSTALLED)  ## the documentation site into site/ (warnings are errors); the defaults table is written from the code
	$(BIN)/python docs/defaults_table.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

figures: $(INSTALLED)  ## redraw docs/img/*.png from fresh runs (MNIST files: $$GANKIT_DATA_DIR; Debian's chromium for the report)
	$(BIN)/python docs/make_figures.py

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

bench-quick: $(INSTALLED)
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) runs site .pytest_cache
