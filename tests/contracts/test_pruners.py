"""The pruner contract, run against every pruner (by name and with non-default settings).

- a trial that reported nothing is not pruned, and the best trial at its step goes on;
- decisions depend on the history only: the pruner that ran a whole study (and keeps
  memos of it) decides every check as a fresh pruner given the same trials as a list;
- failed, pruned, running and waiting trials in the history are handled;
- several objectives are refused with a ConfigurationError naming them;
- a check never changes the records it is given;
- ``budgets`` are increasing and follow the history.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from typing import Any

import pytest

import hptune as ht
from hptune.pruners import PRUNER_NAMES, get_pruner
from hptune.records import FrozenTrial, StudyDirection, TrialState

MIN = (StudyDirection.MINIMIZE,)

FACTORIES: dict[str, Callable[[], ht.Pruner]] = {
    **{name: (lambda name=name: get_pruner(name)) for name in PRUNER_NAMES if name != "none"},
    "median-strict": lambda: ht.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    "percentile-25": lambda: ht.PercentilePruner(25.0, n_startup_trials=2, interval_steps=2),
    "asha-eta2": lambda: ht.SuccessiveHalvingPruner(reduction_factor=2, min_resource=2),
    "hyperband-27": lambda: ht.HyperbandPruner(max_resource=27),
    "patient-median": lambda: ht.PatientPruner(ht.MedianPruner(n_startup_trials=2), patience=1),
}
NAMES = sorted(FACTORIES)


def record(
    number: int,
    state: TrialState,
    curve: dict[int | float, float],
    values: tuple[float, ...] | None = None,
) -> FrozenTrial:
    return FrozenTrial(number, number, state, values=values, intermediate_values=dict(curve))


def mixed_history(n: int, seed: int) -> list[FrozenTrial]:
    """Complete, pruned, failed (with and without reports), running and waiting trials."""
    rng = random.Random(seed)
    trials = []
    for i in range(n):
        quality = rng.random()
        kind = rng.choice(["complete"] * 4 + ["pruned", "fail", "fail-silent", "running", "wait"])
        epochs = {"complete": 27, "pruned": rng.randint(1, 9), "running": rng.randint(1, 20)}
        length = epochs.get(kind, rng.randint(1, 5))
        curve: dict[int | float, float] = {s: quality + 1.0 / (s + 1) for s in range(1, length + 1)}
        if kind == "complete":
            trials.append(record(i, TrialState.COMPLETE, curve, (curve[27],)))
        elif kind == "pruned":
            trials.append(record(i, TrialState.PRUNED, curve, (curve[length],)))
        elif kind == "fail":
            trials.append(record(i, TrialState.FAIL, curve))
        elif kind == "fail-silent":
            trials.append(record(i, TrialState.FAIL, {}))
        elif kind == "running":
            trials.append(record(i, TrialState.RUNNING, curve))
        else:
            trials.append(record(i, TrialState.WAITING, {}))
    return trials


@pytest.mark.parametrize("name", NAMES)
def test_a_trial_that_reported_nothing_is_not_pruned(name: str) -> None:
    pruner = FACTORIES[name]()
    trial = record(40, TrialState.RUNNING, {})
    assert pruner.should_prune(trial, mixed_history(40, seed=1), MIN) is False


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("step", [1, 3, 9, 27])
def test_the_best_trial_at_its_step_goes_on(name: str, step: int) -> None:
    history = mixed_history(60, seed=2)
    pruner = FACTORIES[name]()
    # Better than every trial at every step (values fall towards 0 with quality 0).
    best = record(60, TrialState.RUNNING, {s: -1.0 + 1.0 / (s + 1) for s in range(1, step + 1)})
    attrs = pruner.trial_attrs(best, history)
    best = FrozenTrial(
        60, 60, TrialState.RUNNING, intermediate_values=best.intermediate_values, system_attrs=attrs
    )
    assert pruner.should_prune(best, history, MIN) is False


@pytest.mark.parametrize("name", NAMES)
def test_a_check_handles_every_state_and_changes_no_record(name: str) -> None:
    history = mixed_history(80, seed=3)
    before = copy.deepcopy(history)
    pruner = FACTORIES[name]()
    decisions = []
    for step in range(1, 28):
        worst = record(80, TrialState.RUNNING, {s: 5.0 for s in range(1, step + 1)})
        decisions.append(pruner.should_prune(worst, history, MIN))
        pruner.trial_attrs(worst, history)
        pruner.budgets(history)
    assert history == before
    assert all(isinstance(d, bool) for d in decisions)
    assert any(decisions), "a trial far worse than all others was never pruned"


@pytest.mark.parametrize("name", NAMES)
def test_several_objectives_are_refused_clearly(name: str) -> None:
    pruner = FACTORIES[name]()
    trial = record(3, TrialState.RUNNING, {1: 0.5, 2: 0.4, 3: 0.3, 9: 0.2, 27: 0.1})
    two = (StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE)
    with pytest.raises(ht.ConfigurationError, match="objectives"):
        pruner.should_prune(trial, mixed_history(10, seed=4), two)


@pytest.mark.parametrize("name", NAMES)
def test_budgets_are_increasing_and_follow_the_history(name: str) -> None:
    pruner = FACTORIES[name]()
    short = pruner.budgets(mixed_history(5, seed=5)[:0])
    full = pruner.budgets(mixed_history(60, seed=5))
    for budgets in (short, full):
        assert list(budgets) == sorted(set(budgets))
        assert all(isinstance(b, float) and math.isfinite(b) for b in budgets)
    assert len(short) <= len(full)


def curve_objective(log: list[tuple[FrozenTrial, list[FrozenTrial], bool]]) -> Any:
    """A training curve per configuration; each check is logged with what it saw."""

    def objective(trial: ht.Trial) -> float:
        quality = trial.suggest_float("q", 0.0, 1.0)
        value = math.inf
        for epoch in range(1, 28):
            value = quality + 1.0 / epoch
            trial.report(value, epoch)
            history = [t for t in trial.study.trials if t.number != trial.number]
            decision = trial.should_prune()
            log.append((trial.frozen(), history, decision))
            if decision:
                raise ht.TrialPruned()
        return value

    return objective


@pytest.mark.parametrize("name", NAMES)
def test_decisions_depend_on_the_history_only(name: str) -> None:
    log: list[tuple[FrozenTrial, list[FrozenTrial], bool]] = []
    study = ht.create_study(sampler="random", seed=6, pruner=FACTORIES[name]())
    study.optimize(curve_objective(log), n_trials=40, show_progress=False)
    pruned = sum(t.state is TrialState.PRUNED for t in study.trials)
    assert 0 < pruned < 40, f"{pruned} of 40 trials pruned: the check below says little"

    for trial, history, decided in log:
        fresh = FACTORIES[name]()
        assert fresh.should_prune(trial, history, MIN) is decided, (trial.number, trial.last_step)
