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

## Every benchmark in turn (minutes each; privacy_utility and memorising_generator take the longest);
## each prints its figures and ratios. benchmarks/utility_dev.py and benchmarks/calibration_bench.py need a
## trained release's work folder (--work), so they are run by hand, not here.
BENCHMARKS := prior_bench dp_overhead audit_scaling utility_bench generator_bench privacy_utility memorising_generator
bench: install
	for name in $(BENCHMARKS); do echo "== benchmarks/$$name.py"; OMP_NUM_THREADS=1 $(BIN)/python benchmarks/$$name.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
