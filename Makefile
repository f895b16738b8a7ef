# The README's quick start. Both targets work on a fresh machine with only Python and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of PyTorch; installed before hptune so nothing pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: demo test lint bench bench-storage clean

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
bench: bench-storage

# Cost per ask+tell at trial 100, 1,000 and 10,000 on memory, SQLite and PostgreSQL, then
# 32 processes x 20 trials on one study; about half an hour on two cores, most of it
# Optuna's RDB storage. PostgreSQL: $$HPTUNE_TEST_POSTGRES_URL, else 127.0.0.1:5432/test.
bench-storage: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/storage.py --out benchmarks/results/storage.md
	$(BIN)/python benchmarks/concurrency.py --out benchmarks/results/storage.md

clean:
	rm -rf $(VENV) hptune.db hptune.db-wal hptune.db-shm
