"""The multi-fidelity benchmark's runs: the budget is spent exactly, incumbents are scored.

The benchmark modules live in ``benchmarks/`` (not a package); the path is added here.
Nothing here needs Optuna; the digits test trains tiny networks for two epochs.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import _mf_tasks


@pytest.mark.parametrize("method", ["random", "random+asha", "tpe+hyperband"])
def test_a_run_spends_exactly_its_budget_and_records_every_trial(method: str) -> None:
    run = _mf_tasks.run_one("branin", 9, method, seed=0, budget=100)
    trials = run["trials"]
    assert sum(trials["epochs"]) == 100
    assert set(trials["state"]) <= {"complete", "pruned", "cut"}
    assert trials["state"][:-1].count("cut") == 0  # only the last trial can be cut short
    for state, epochs, value, true in zip(
        trials["state"], trials["epochs"], trials["value"], trials["true"], strict=True
    ):
        assert (state == "complete") == (epochs == 9) == (value is not None) == (true is not None)
    best = min(v for v in trials["value"] if v is not None)
    task = _mf_tasks.make_task("branin", 9)
    incumbent = trials["true"][trials["value"].index(best)]
    assert task.true_value(run["best_params"]) == incumbent


def test_the_digits_incumbent_is_scored_on_the_test_split() -> None:
    pytest.importorskip("torch")
    run = _mf_tasks.run_one("digits", 2, "random", seed=0, budget=8)
    trials = run["trials"]
    assert trials["state"] == ["complete"] * 4
    scored = [i for i, true in enumerate(trials["true"]) if true is not None]
    best = max(trials["value"])
    assert scored == [trials["value"].index(best)]  # the first trial with the best value
    index = scored[0]
    task = _mf_tasks.make_task("digits", 2)
    again = task.held_out(run["best_params"], _mf_tasks.trial_seed(0, index))
    assert trials["true"][index] == again  # the same network: training is seeded
    assert 0.5 < again <= 1.0

    # A record cached before held-out scores were kept gets the same one filled in.
    old = copy.deepcopy(run)
    old["trials"]["true"] = [None] * len(trials["true"])
    assert _mf_tasks.needs_held_out(old) and not _mf_tasks.needs_held_out(run)
    assert _mf_tasks.add_held_out(old)["trials"]["true"] == trials["true"]
