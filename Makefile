# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/apexflow: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/apexflow
	$(BIN)/apexflow demo

test: $(BIN)/apexflow
	$(BIN)/python -m pytest -q

bench: $(BIN)/apexflow
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .apexflow cdk.out
