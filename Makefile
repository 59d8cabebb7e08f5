# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo lint test test-fast bench synth deploy clean report-js
REPORT_JS := apexflow/report/plotly-basic.min.js

$(BIN)/apexflow: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/apexflow $(REPORT_JS)
	$(BIN)/apexflow demo

# Static checks: ruff (style, bugbear, complexity ceiling) and mypy (types); `make test` runs them first.
lint: $(BIN)/apexflow
	$(BIN)/ruff check apexflow apexflow_aws apexflow_local functions infra layers benchmarks tests
	$(BIN)/mypy

test: lint $(REPORT_JS)
	$(BIN)/python -m pytest -q

test-fast: $(BIN)/apexflow
	$(BIN)/python -m pytest -q -m "not integration and not slow"

bench: $(BIN)/apexflow
	$(BIN)/python -m benchmarks

node_modules/.bin/cdk node_modules/plotly.js-basic-dist-min/plotly-basic.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.bin/cdk node_modules/plotly.js-basic-dist-min/plotly-basic.min.js

# the session report's plotly.js: plotly's basic partial bundle (MIT), pinned in package.json
$(REPORT_JS): node_modules/plotly.js-basic-dist-min/plotly-basic.min.js
	cp $< $@

report-js: $(REPORT_JS)

synth: $(BIN)/apexflow node_modules/.bin/cdk
	node_modules/.bin/cdk synth --quiet

deploy: $(BIN)/apexflow node_modules/.bin/cdk
	node_modules/.bin/cdk deploy $(CDK_ARGS)

clean:
	rm -rf $(VENV) .apexflow cdk.out node_modules
