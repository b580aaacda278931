# The two commands of the README's quick start:
#   make run    install (first time) and build results/round_$(ROUNDS)/model.ckpt on the default config
#   make test   install (first time) and run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: run test test-fast install lint format benchmark clean labelstudio

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	# One pip command for the whole stack: added later, dvc-s3 would break a newer boto3.
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

# Two workers (one per core on CI's 2): the workflow and service tests spend much of their time
# waiting on servers, schedulers and process starts. A test file stays on one worker, so its
# module-scoped runs are made once.
test: $(STAMP)
	$(BIN)/python -m pytest -n $(or $(WORKERS),2) --dist loadfile --durations=15 $(PYTEST_ARGS)

# The unit tier only: library code, no server, no snakemake run (tests/conftest.py).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m unit -q $(PYTEST_ARGS)

# A local Label Studio for labeling rounds in the browser (see docs/labeling.md, "Labeling in Label Studio").
labelstudio: $(STAMP)
	$(BIN)/python -m bps_labeler.labeling.labelstudio_server --port $(or $(PORT),8080) --host $(or $(HOST),127.0.0.1)

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check workflow/

# Apply the formatters the tests check (tests/test_style.py).
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt workflow/

benchmark: $(STAMP)
	$(BIN)/python benchmarks/convert_throughput.py
	$(BIN)/python benchmarks/plan_time.py

clean:
	rm -rf results logs .snakemake
