# veriscope: every target builds .venv first. Two commands do all set-up on a fresh machine:
#   make demo   -> builds .venv, makes example media, analyses them, prints where the reports are
#   make test   -> builds .venv, runs the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test bench lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: venv
	$(VENV)/bin/veriscope demo --out demo-out

test: venv
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q tests

bench: venv
	$(PY) benchmarks/run_all.py

# Style (ruff) and the layer rules of docs/architecture.md (import-linter contracts in pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports --config pyproject.toml

clean:
	rm -rf $(VENV) demo-out bench-out .pytest_cache
