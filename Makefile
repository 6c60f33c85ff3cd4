# opsreport developer entry points. Every target installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
# Most tests wait on servers and operator processes, so four workers fit two cores; a module's
# tests stay on one worker to share its stack.
PYTEST_ARGS ?= -n 4 --dist loadfile

.PHONY: demo test lint bench schema golden install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,lint]'
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)
	./scripts/ensure-prometheus.sh
	./scripts/ensure-victoria-metrics.sh
	$(BIN)/python -m tests.support.tools

## Run the operator on the local stack and show a real report.
demo: install
	$(BIN)/python -m tests.support.demo

## Install what the tests need and run them all.
test: install
	./scripts/ensure-chromium.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmark reports at 100 to 10,000 pods (docs/performance.md); e.g. BENCH_ARGS="--pods 100,1000".
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check operator tests
	$(BIN)/ruff format --check operator tests
	$(BIN)/mypy

## Regenerate the published JSON Schema of the report from the model.
schema: $(STAMP)
	$(BIN)/python -m opsreport.schema > schemas/report-v1.schema.json

## Rewrite the golden files from the current templates; review the diff before committing.
## The collected ones (tests/golden/collected/) run the real Prometheus and collector.
golden: install
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/unit/test_render_golden.py \
		tests/integration/test_golden_collected.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
