# Both targets set themselves up from a fresh clone: a .venv with the CPU torch pin first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-slow reproduce setup lint clean mutate

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Two workers (pytest-xdist); --dist loadfile keeps a file's tests, and so its module-scoped
# fixtures (a real alignment run, tiny translators), on one worker. TEST_WORKERS=0: no xdist.
TEST_WORKERS ?= 2
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The end-to-end tests too long for every change (marked slow; CI runs them after make test):
# the README's paper command on stand-ins, SIGKILL-and-resume of a real run, alignment of the
# real corpora, a cell trained by two launched processes, the wheel run from a fresh venv.
test-slow: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slow -n $(TEST_WORKERS) --dist loadfile

# Tables 3 and 4, offline: both directions, ACN, full corpora, one seed (runs/report/).
reproduce: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/xmner reproduce --preset offline

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# Mutation testing of the modules that decide the numbers ([tool.mutmut] in pyproject.toml;
# docs/testing.md). Slow: MUTANTS='xmner.eval.metrics.*' runs one module. Results are cached
# in mutants/ until the sources or tests change.
MUTANTS ?=
mutate: $(STAMP)
	HF_HUB_OFFLINE=1 XMNER_SHARED_DIR=$(abspath ../shared) nice -n 10 $(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) build *.egg-info mutants
