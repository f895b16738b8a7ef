"""Pruners: hand-computed rungs and percentiles, brackets, patience, asynchronous runs."""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Sequence

import pytest

import hptune as ht
from hptune.pruners import get_pruner
from hptune.pruners.successive_halving import reached_rung
from hptune.trial import FrozenTrial, StudyDirection, TrialState

MIN = (StudyDirection.MINIMIZE,)
MAX = (StudyDirection.MAXIMIZE,)


def record(
    number: int, curve: dict[float, float], state: TrialState = TrialState.COMPLETE
) -> FrozenTrial:
    values = (curve[max(curve)],) if curve and state is TrialState.COMPLETE else None
    return FrozenTrial(number, number, state, values=values, intermediate_values=dict(curve))


def running(number: int, curve: dict[float, float]) -> FrozenTrial:
    return record(number, curve, TrialState.RUNNING)


# Percentile and median --------------------------------------------------------------------


def test_median_prunes_a_trial_worse_than_the_median_at_its_step() -> None:
    history = [record(i, {0: 9.0, 1: v, 2: v - 0.5}) for i, v in enumerate([1.0, 2.0, 3.0, 4.0])]
    pruner = ht.MedianPruner(n_startup_trials=4)
    # At step 1 the others' values are 1, 2, 3, 4: the median is 2.5.
    assert pruner.should_prune(running(9, {0: 5.0, 1: 3.0}), history, MIN)
    assert not pruner.should_prune(running(9, {0: 5.0, 1: 2.0}), history, MIN)
    # The trial's best so far counts, not its latest value.
    assert not pruner.should_prune(running(9, {0: 2.0, 1: 3.0}), history, MIN)
    # Maximizing, the better half is the upper one.
    assert pruner.should_prune(running(9, {0: 1.0, 1: 2.0}), history, MAX)
    # A step between the others' reports compares with their last value before it.
    assert pruner.should_prune(running(9, {1.5: 3.0}), history, MIN)


def test_percentile_keeps_only_the_best_share() -> None:
    history = [record(i, {1: float(i)}) for i in range(1, 11)]  # 1 .. 10
    pruner = ht.PercentilePruner(20.0, n_startup_trials=0)
    # The 20th percentile of 1..10 is 2.8: 2.5 goes on, 3.0 stops.
    assert not pruner.should_prune(running(20, {1: 2.5}), history, MIN)
    assert pruner.should_prune(running(20, {1: 3.0}), history, MIN)


def test_warmup_startup_interval_and_minimum_trials() -> None:
    history = [record(i, {s: 1.0 for s in range(10)}) for i in range(3)]
    bad = {s: 5.0 for s in range(5)}
    assert not ht.MedianPruner(n_startup_trials=4).should_prune(running(9, bad), history, MIN)
    assert not ht.MedianPruner(n_warmup_steps=5).should_prune(running(9, bad), history, MIN)
    assert ht.MedianPruner(n_startup_trials=3).should_prune(running(9, bad), history, MIN)
    # Checks at steps 0, 3, 6, ...: the last report (step 4) is not one.
    every3 = ht.MedianPruner(n_startup_trials=0, interval_steps=3)
    assert not every3.should_prune(running(9, bad), history, MIN)
    assert every3.should_prune(running(9, {**bad, 6: 5.0}), history, MIN)
    # Only two others reported by step 0.5: too few for n_min_trials=3.
    few = ht.MedianPruner(n_startup_trials=0, n_min_trials=3)
    assert not few.should_prune(running(9, {0.5: 9.0}), history[:2], MIN)


def test_a_trial_that_reported_nothing_is_never_pruned() -> None:
    history = [record(i, {0: 1.0}) for i in range(5)]
    assert not ht.MedianPruner(n_startup_trials=0).should_prune(running(9, {}), history, MIN)
    study = ht.create_study(pruner="median")
    assert not study.ask().should_prune()


# Successive halving ------------------------------------------------------------------------


def test_rungs_are_geometric_from_the_minimum_resource() -> None:
    assert ht.SuccessiveHalvingPruner().rungs(30) == [1, 3, 9, 27]
    assert ht.SuccessiveHalvingPruner(min_resource=2, reduction_factor=2).rungs(20) == [
        2,
        4,
        8,
        16,
    ]
    assert ht.SuccessiveHalvingPruner(min_early_stopping_rate=1).rungs(30) == [3, 9, 27]


def test_a_report_is_judged_at_the_highest_rung_it_reaches_once() -> None:
    assert reached_rung(running(0, {0: 1.0}), 1, 3, 0) is None  # before the first rung
    assert reached_rung(running(0, {0: 1.0, 1: 0.5}), 1, 3, 0) == (0, 0.5)
    assert reached_rung(running(0, {1: 0.9, 2: 0.5}), 1, 3, 0) is None  # judged at step 1
    assert reached_rung(running(0, {1: 0.9, 2: 0.8, 3: 0.5}), 1, 3, 0) == (1, 0.5)
    assert reached_rung(running(0, {0: 1.0, 10: 0.5}), 1, 3, 0) == (2, 0.5)  # jumped 1, 3, 9
    # Steps reported out of order: the largest step decides (the storage keeps steps, not
    # the order of the reports), so a late report of step 3 repeats the judgement at 9.
    assert reached_rung(running(0, {9: 0.5, 3: 0.7}), 1, 3, 0) == (2, 0.5)


def test_promotion_keeps_the_top_third_of_a_rung() -> None:
    pruner = ht.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    # Eight trials reached rung 0 (step 1) with values 1..8; with a ninth, 9 // 3 = 3 go on.
    history = [record(i, {1: float(i + 1), 3: float(i + 1)}) for i in range(8)]
    assert not pruner.should_prune(running(20, {1: 2.5}), history, MIN)  # rank 2 of 9
    assert pruner.should_prune(running(20, {1: 3.5}), history, MIN)  # rank 3
    assert not pruner.should_prune(running(20, {1: 3.0}), history, MIN)  # tie goes on
    # The first trial at a rung always goes on; the second only if it is better.
    assert not pruner.should_prune(running(1, {1: 5.0}), [], MIN)
    assert pruner.should_prune(running(1, {1: 5.0}), [record(0, {1: 4.0})], MIN)
    # Between rungs nothing is decided.
    assert not pruner.should_prune(running(20, {1: 0.0, 2: 99.0}), history, MIN)


def test_running_and_pruned_trials_compete_but_waiting_ones_do_not() -> None:
    pruner = ht.SuccessiveHalvingPruner(reduction_factor=2)
    others = [running(0, {1: 1.0}), record(1, {1: 2.0}, TrialState.PRUNED)]
    assert pruner.should_prune(running(5, {1: 3.0}), others, MIN)  # 3 at rung: keep 1
    waiting = [FrozenTrial(0, 0, TrialState.WAITING), FrozenTrial(1, 1, TrialState.WAITING)]
    assert not pruner.should_prune(running(5, {1: 3.0}), waiting, MIN)


# Hyperband -------------------------------------------------------------------------------


def test_hyperband_brackets_are_deterministic_and_weighted() -> None:
    pruner = ht.HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
    assert pruner.n_brackets(27) == 4
    brackets = [pruner.bracket(n, 27) for n in range(20_000)]
    assert brackets == [pruner.bracket(n, 27) for n in range(20_000)]
    counts = collections.Counter(brackets)
    # Hyperband's allocation for s_max = 3: 27, 12, 6, 4 configurations per round.
    expected = [27, 12, 6, 4]
    for b, n in enumerate(expected):
        assert counts[b] / len(brackets) == pytest.approx(n / sum(expected), abs=0.02)


def test_hyperband_compares_trials_of_the_same_bracket_only() -> None:
    pruner = ht.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    numbers = [n for n in range(200) if pruner.bracket(n, 9) == 0]
    other = [n for n in range(200) if pruner.bracket(n, 9) != 0]
    me, rival = numbers[0], numbers[1]
    better_elsewhere = [record(n, {1: 0.0, 9: 0.0}) for n in other[:6]]
    # Only the trials of other brackets are better: the trial goes on.
    assert not pruner.should_prune(running(me, {1: 5.0}), better_elsewhere, MIN)
    assert pruner.should_prune(
        running(me, {1: 5.0}), [*better_elsewhere, record(rival, {1: 1.0, 9: 1.0})], MIN
    )


def test_hyperband_auto_waits_for_a_complete_trial_and_records_the_bracket() -> None:
    pruner = ht.HyperbandPruner()
    assert not pruner.should_prune(running(0, {1: 9.0}), [running(1, {1: 0.0})], MIN)
    study = ht.create_study(pruner=pruner, sampler="random", seed=0)
    study.optimize(_curve_objective(9), n_trials=12, show_progress=False)
    recorded = [t.system_attrs.get("hyperband_bracket") for t in study.trials[1:]]
    assert recorded == [pruner.bracket(t.number, 9) for t in study.trials[1:]]


# Patience --------------------------------------------------------------------------------


def test_patience_waits_for_consecutive_bad_reports() -> None:
    history = [record(i, {s: 1.0 for s in range(10)}) for i in range(5)]
    patient = ht.PatientPruner(ht.MedianPruner(n_startup_trials=0), patience=2)
    assert not patient.should_prune(running(9, {0: 5.0, 1: 5.0}), history, MIN)
    assert not patient.should_prune(running(9, {0: 5.0, 1: 0.5, 2: 5.0}), history, MIN)
    assert patient.should_prune(running(9, {0: 9.0, 1: 5.0, 2: 5.0, 3: 5.0}), history, MIN)
    assert ht.PatientPruner(ht.MedianPruner(n_startup_trials=0), patience=0).should_prune(
        running(9, {0: 5.0}), history, MIN
    )


# Whole studies ---------------------------------------------------------------------------


def _curve_objective(epochs: int, log: list[int] | None = None) -> Callable[[ht.Trial], float]:
    """A learning curve whose ranking is fixed from the first epoch: loss(x, t)."""

    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        loss = math.inf
        for epoch in range(1, epochs + 1):
            loss = (x - 0.3) ** 2 + 1.0 / epoch
            trial.report(loss, step=epoch)
            if log is not None:
                log.append(trial.number)
            if trial.should_prune():
                raise ht.TrialPruned()
        return loss

    return objective


def _steps_until(target: float, trials: Sequence[FrozenTrial], steps: list[int]) -> int:
    hit = min(t.number for t in trials if t.state is TrialState.COMPLETE and t.value <= target)
    return sum(1 for n in steps if n <= hit)


@pytest.mark.parametrize("seed", [2, 4])
def test_asha_reaches_the_target_with_fewer_epochs_than_no_pruning(seed: int) -> None:
    # The same seed gives both runs the same configurations in the same order (random
    # search), and the curves keep their ranking at every epoch, so ASHA never stops the
    # configuration that hits the target: the saving does not depend on luck, only on
    # the best configuration not being among the first few (true for these seeds).
    epochs, n_trials = 27, 40
    full_steps: list[int] = []
    full = ht.create_study(sampler="random", seed=seed)
    full.optimize(_curve_objective(epochs, full_steps), n_trials=n_trials, show_progress=False)
    target = min(t.value for t in full.trials)
    asha_steps: list[int] = []
    asha = ht.create_study(sampler="random", seed=seed, pruner="asha")
    asha.optimize(_curve_objective(epochs, asha_steps), n_trials=n_trials, show_progress=False)
    assert any(t.state is TrialState.PRUNED for t in asha.trials)
    spent_full = _steps_until(target, full.trials, full_steps)
    spent_asha = _steps_until(target, asha.trials, asha_steps)
    assert spent_asha < 0.5 * spent_full
    assert len(asha_steps) < 0.3 * len(full_steps)


@pytest.mark.parametrize("name", ["median", "asha", "hyperband"])
def test_four_workers_prune_asynchronously(name: str) -> None:
    study = ht.create_study(sampler="random", seed=0, pruner=name)
    study.optimize(_curve_objective(9), n_trials=40, n_jobs=4, show_progress=False)
    states = collections.Counter(t.state for t in study.trials)
    assert states[TrialState.COMPLETE] >= 1 and states[TrialState.PRUNED] >= 10
    assert states[TrialState.COMPLETE] + states[TrialState.PRUNED] == 40
    # Pruned trials keep their last reported value.
    for t in study.trials:
        if t.state is TrialState.PRUNED:
            assert t.value == t.intermediate_values[t.last_step]


def test_pruning_a_multi_objective_study_is_a_clear_error() -> None:
    study = ht.create_study(directions=["minimize", "minimize"], pruner="median")
    trial = study.ask()
    trial.report(1.0, step=0)
    with pytest.raises(ht.ConfigurationError, match="2 objectives"):
        trial.should_prune()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ht.PercentilePruner(0.0), "percentile=0.0"),
        (lambda: ht.PercentilePruner(101), "percentile=101"),
        (lambda: ht.MedianPruner(n_warmup_steps=-1), "n_warmup_steps=-1"),
        (lambda: ht.MedianPruner(interval_steps=0), "interval_steps=0"),
        (lambda: ht.SuccessiveHalvingPruner(reduction_factor=1), "reduction_factor=1"),
        (lambda: ht.SuccessiveHalvingPruner(min_resource=0), "min_resource=0"),
        (lambda: ht.SuccessiveHalvingPruner(min_early_stopping_rate=-1), "rate=-1"),
        (lambda: ht.HyperbandPruner(min_resource=9, max_resource=3), "max_resource=3"),
        (lambda: ht.PatientPruner(ht.MedianPruner(), patience=-1), "patience=-1"),
        (lambda: ht.PatientPruner("median", patience=1), "wrapped must be a Pruner"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_are_named(make: object, match: str) -> None:
    with pytest.raises(ht.ConfigurationError, match=match):
        make()  # type: ignore[operator]


def test_pruners_by_name() -> None:
    assert isinstance(get_pruner("asha"), ht.SuccessiveHalvingPruner)
    assert isinstance(get_pruner("hyperband"), ht.HyperbandPruner)
    assert isinstance(get_pruner("median"), ht.MedianPruner)
    with pytest.raises(ht.ConfigurationError, match="Did you mean 'median'"):
        get_pruner("medain")
