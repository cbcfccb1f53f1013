# Two commands a newcomer types on a fresh machine: `make release` and `make test`.
# Both create .venv, install torch 2.13.0 (the local CPU build) first, then this project.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= release

.PHONY: install release test test-slow bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

## The main job: ingest the embedded phantom cohort, train, sample, audit, gate, package.
release: install
	$(BIN)/synthshare release --out $(OUT)

## The default test suite (tiny shapes; includes the end-to-end release smoke test).
test: install
	$(BIN)/python -m pytest -q

## Long tests (trained models, statistical power over seeds).
test-slow: install
	$(BIN)/python -m pytest -q -m slow

## Every benchmark in turn (minutes each); each prints its figures and ratios.
bench: install
	for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
