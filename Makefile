# veriscope: every target builds .venv first. Two commands do all set-up on a fresh machine:
#   make demo   -> builds .venv, makes example media, analyses them, prints where the reports are
#   make test   -> builds .venv, runs the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test bench lint fuzz clean

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

# Coverage-guided fuzzing (atheris) of the parsers and media entry points: FUZZ_SECONDS per
# target, one target after another; fails when a target finds a crash, timeout or OOM
# (docs/robustness.md). Summary in FUZZ_OUT; corpus and crash files in fuzz/.corpus, fuzz/.artifacts.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=
FUZZ_OUT ?= benchmarks/results/fuzz.json
fuzz: venv
	$(PY) fuzz/run.py --seconds $(FUZZ_SECONDS) --out $(FUZZ_OUT) $(if $(FUZZ_TARGETS),--targets $(FUZZ_TARGETS))

# Style (ruff) and the layer rules of docs/architecture.md (import-linter contracts in pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check src tests benchmarks fuzz
	$(VENV)/bin/lint-imports --config pyproject.toml

clean:
	rm -rf $(VENV) demo-out bench-out .pytest_cache
