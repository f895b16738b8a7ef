# The README's quick start. Both targets work on a fresh machine with only Python and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of PyTorch; installed before hptune so nothing pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[demo,test]"
	touch $@ $(VENV)/.demo

demo: $(VENV)/.demo
	$(BIN)/hptune demo

lint: $(VENV)/.test
	$(BIN)/ruff check hptune tests benchmarks examples
	$(BIN)/ruff format --check hptune tests benchmarks examples
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# Side-by-side figures with the peers installed from the `bench` extra (Optuna, ...).
bench: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/overhead.py --trials 1000 --out benchmarks/results/overhead.md

clean:
	rm -rf $(VENV) hptune.db hptune.db-wal hptune.db-shm
