# The README's quick start. Both targets work on a fresh machine with only Python and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of PyTorch; installed before hptune so nothing pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: demo test lint bench bench-storage bench-samplers bench-samplers-quick bench-overhead clean

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
bench: bench-storage bench-samplers bench-overhead

# Cost per ask+tell at trial 100, 1,000 and 10,000 on memory, SQLite and PostgreSQL (5
# repetitions), the cost of a pruning decision with 100 to 10,000 trials in the study, then
# 32 processes x 20 trials on one study; about 45 minutes on two cores, most of it
# Optuna's RDB storage. PostgreSQL: $$HPTUNE_TEST_POSTGRES_URL, else 127.0.0.1:5432/test.
bench-storage: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/storage.py --optuna-sql-trials 1000 --out benchmarks/results/storage.md
	$(BIN)/python benchmarks/pruning.py --out benchmarks/results/storage.md
	$(BIN)/python benchmarks/concurrency.py --out benchmarks/results/storage.md

# Sample efficiency of hptune's samplers beside every peer installed from `bench` (Optuna,
# Hyperopt, SMAC3, scikit-optimize, Nevergrad, rustuna): 23 problems x 5 seeds, then 8
# pending proposals vs sequential, then CMA-ES on continuous problems at 300-1,000
# evaluations, then the held-out problems with seeds 100-104 (the defaults out of sample). About 7 hours on two idle cores, half of it scikit-optimize (leave it out
# with --samplers; the report of this checkout used 15 problems at 50 evaluations, see its
# command line); runs are cached in benchmarks/results/samplers/raw*.json, so an
# interrupted run resumes where it stopped.
bench-samplers: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/samplers.py --jobs 2
	$(BIN)/python benchmarks/samplers.py --batch --jobs 2
	$(BIN)/python benchmarks/samplers.py --continuous --jobs 2
	$(BIN)/python benchmarks/samplers.py --heldout --jobs 2
	$(BIN)/python benchmarks/samplers.py --heldout --continuous --jobs 2

# A check of the harness: 4 problems, 2 seeds, small budgets; under 10 minutes.
bench-samplers-quick: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/samplers.py --quick --jobs 2

# CPU time per ask+tell at trial 1,000 and 3,000 (TPE) and 300 (GP), beside Optuna and rustuna
# (mean, median, p99); then what TPE's sample of the history costs in quality at 1,000 and
# 1,500 evaluations (about 4 minutes on two cores).
bench-overhead: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/sampler_overhead.py
	$(BIN)/python benchmarks/tpe_subsample.py --jobs 2

# Early stopping (median, ASHA, Hyperband; TPE/GP with rungs) beside Optuna's pruners, at
# equal epochs: a PyTorch MLP on digits and synthetic multi-fidelity functions; about 35
# minutes on two cores. Runs are cached in benchmarks/results/multifidelity/raw*.json.
.PHONY: bench-multifidelity bench-multifidelity-quick
bench: bench-multifidelity
bench-multifidelity: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/multifidelity.py --jobs 2

# A check of the harness: 2 seeds, digits with 9 epochs; under 10 minutes.
bench-multifidelity-quick: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/multifidelity.py --quick --jobs 2

# Multi-objective search (hptune's NSGA-II and MOTPE beside Optuna's NSGA-II and TPE, random
# search as the baseline), hypervolume at equal evaluations: ZDT1-3 and DTLZ2 (1,000
# evaluations) and an MLP on digits, error vs size (150), 5 seeds; about 20 minutes on two
# idle cores. Runs are cached in benchmarks/results/multiobjective/raw*.json.
.PHONY: bench-multiobjective bench-multiobjective-quick
bench-multiobjective: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/multiobjective.py --jobs 2

# A check of the harness: DTLZ2 and the MLP, 2 seeds, small budgets; under 5 minutes.
bench-multiobjective-quick: $(VENV)/.test
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/multiobjective.py --quick --jobs 2

clean:
	rm -rf $(VENV) hptune.db hptune.db-wal hptune.db-shm
