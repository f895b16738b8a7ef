"""Tests of hptune.stopping: each stop rule, combinations, the convergence hook."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

import hptune as ht
from hptune.stopping import StudyProgress


def constant(trial: ht.Trial) -> float:
    trial.suggest_float("x", 0, 1)
    return 1.0


def from_list(values: list[float]) -> Any:
    """An objective returning values[trial.number] (so stop points are known exactly)."""

    def objective(trial: ht.Trial) -> float:
        return values[trial.number]

    return objective


def history(values: list[Any], direction: str = "minimize") -> ht.Study:
    """A study whose trials were told ``values`` in order ("fail"/"pruned" for states)."""
    study = ht.create_study(direction=direction, seed=0)
    for value in values:
        trial = study.ask()
        if value in ("fail", "pruned"):
            study.tell(trial, state=value)
        else:
            study.tell(trial, value)
    return study


def progress(study: ht.Study, elapsed: float = 0.0) -> StudyProgress:
    return StudyProgress(study.trials, study.directions, elapsed)


# MaxTrials -------------------------------------------------------------------------------


def test_max_trials_stops_at_the_study_total() -> None:
    study = ht.create_study(seed=0)
    reason = study.optimize(constant, stop=ht.MaxTrials(5), show_progress=False)
    assert reason.rule == "max_trials"
    assert "5" in reason.message
    assert len(study.trials) == 5


def test_max_trials_counts_the_whole_study_after_a_resume() -> None:
    storage = ht.InMemoryStorage()
    first = ht.create_study("s", storage, seed=0)
    first.optimize(constant, n_trials=3, show_progress=False)
    resumed = ht.load_study("s", storage, seed=0)
    assert resumed.optimize(constant, stop=ht.MaxTrials(5), show_progress=False).rule == (
        "max_trials"
    )
    assert len(resumed.trials) == 5  # 2 more, not 5 more
    # Already at the total: no new trial.
    assert resumed.optimize(constant, stop=ht.MaxTrials(5), show_progress=False).rule == (
        "max_trials"
    )
    assert len(resumed.trials) == 5


def test_max_trials_counts_failed_trials_but_not_waiting_ones() -> None:
    study = history([1.0, "fail", "pruned"])
    study.enqueue_trial({})
    assert ht.MaxTrials(3).check(progress(study)) is not None
    assert ht.MaxTrials(4).check(progress(study)) is None  # the WAITING one has not started


def test_max_trials_tells_how_many_trials_remain() -> None:
    study = history([1.0, "fail"])
    assert ht.MaxTrials(5).remaining(progress(study)) == 3
    assert ht.MaxTrials(1).remaining(progress(study)) == 0
    assert ht.TargetValue(0.0).remaining(progress(study)) is None  # counts no trials


def test_the_progress_bar_total_is_what_the_budget_leaves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    study = history([1.0, 2.0])
    study.optimize(constant, stop=ht.MaxTrials(5), show_progress=True)
    assert "3/3" in capsys.readouterr().err
    study.optimize(constant, n_trials=2, stop=ht.MaxTrials(10), show_progress=True)
    assert "2/2" in capsys.readouterr().err


def test_max_trials_zero_runs_nothing() -> None:
    study = ht.create_study(seed=0)
    assert study.optimize(constant, stop=ht.MaxTrials(0), show_progress=False).rule == (
        "max_trials"
    )
    assert study.trials == []


# Timeout ---------------------------------------------------------------------------------


def slow(trial: ht.Trial) -> float:
    time.sleep(0.02)
    return 1.0


@pytest.mark.parametrize("use_rule", [True, False])
def test_timeout_stops_starting_trials(use_rule: bool) -> None:
    study = ht.create_study(seed=0)
    start = time.monotonic()
    if use_rule:
        reason = study.optimize(slow, stop=ht.Timeout(0.5), show_progress=False)
    else:
        reason = study.optimize(slow, timeout=0.5, show_progress=False)
    elapsed = time.monotonic() - start
    assert reason.rule == "timeout"
    # Without the rule the loop would never end; a loaded machine may stretch the last
    # trial, so the upper bound only says that it did end.
    assert 0.5 <= elapsed < 60.0
    assert 2 <= len(study.trials) <= 26  # 20 ms trials in 0.5 s (plus the last one started)
    assert all(t.state is ht.TrialState.COMPLETE for t in study.trials)


def test_timeout_check_uses_the_elapsed_time() -> None:
    study = ht.create_study()
    assert ht.Timeout(10).check(progress(study, elapsed=9.9)) is None
    reason = ht.Timeout(10).check(progress(study, elapsed=10.0))
    assert reason is not None and reason.rule == "timeout"


def test_n_trials_before_timeout() -> None:
    study = ht.create_study(seed=0)
    reason = study.optimize(constant, n_trials=3, timeout=60, show_progress=False)
    assert reason.rule == "n_trials"


# TargetValue -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction, values, target, n_run",
    [
        ("minimize", [5.0, 3.0, 1.0, 0.5, 0.1], 1.0, 3),  # reaching the target exactly counts
        ("minimize", [5.0, 3.0, 0.9, 0.5, 0.1], 1.0, 3),
        ("maximize", [0.1, 0.5, 0.95, 0.97, 0.99], 0.9, 3),
        ("maximize", [0.1, 0.9, 0.95, 0.97, 0.99], 0.9, 2),
    ],
)
def test_target_value(direction: str, values: list[float], target: float, n_run: int) -> None:
    study = ht.create_study(direction=direction, seed=0)
    reason = study.optimize(
        from_list(values), stop=ht.TargetValue(target), n_trials=len(values), show_progress=False
    )
    assert reason.rule == "target"
    assert len(study.trials) == n_run


def test_target_value_ignores_failed_and_pruned_trials() -> None:
    study = history(["fail", "pruned", 5.0])
    assert ht.TargetValue(1.0).check(progress(study)) is None
    assert ht.TargetValue(5.0).check(progress(history([]))) is None


def test_target_value_is_never_reached_in_the_wrong_direction() -> None:
    study = history([5.0, 3.0], direction="maximize")
    assert ht.TargetValue(4.0).check(progress(study)) is not None
    assert ht.TargetValue(6.0).check(progress(study)) is None
    study = history([5.0, 3.0], direction="minimize")
    assert ht.TargetValue(4.0).check(progress(study)) is not None
    assert ht.TargetValue(2.0).check(progress(study)) is None


@pytest.mark.parametrize("rule", [ht.TargetValue(0.0), ht.NoImprovement(2)])
def test_single_objective_rules_on_a_multi_objective_study(rule: ht.StopRule) -> None:
    study = ht.create_study(directions=["minimize", "maximize"])
    with pytest.raises(ht.ConfigurationError, match=r"rule needs a single objective; .* has 2"):
        study.optimize(lambda t: [0.0, 0.0], stop=rule, n_trials=3, show_progress=False)


# NoImprovement ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, patience, min_delta, fires",
    [
        ([5, 4, 3], 3, 0.0, False),  # not more than patience trials yet
        ([5, 4, 3, 3.5], 3, 0.0, False),  # 3 (the best) is among the last 3
        ([5, 4, 3, 3.5, 3.2, 3.1], 3, 0.0, True),  # last 3 all worse than 3
        ([5, 4, 3, 3.5, 3.2, 3.0], 3, 0.0, True),  # equal is no improvement
        ([5, 4, 3, 3.5, 3.2, 2.9], 3, 0.0, False),
        ([5, 4, 3, 2.95, 3.5, 3.2], 3, 0.1, True),  # 0.05 better is below min_delta
        ([5, 4, 3, 2.95, 3.5, 3.2], 3, 0.0, False),
        ([5, 4, 3, 2.8, 3.5, 3.2], 3, 0.1, False),
        ([1, 1], 1, 0.0, True),
        ([1, "fail", "pruned", 0.5, "fail"], 1, 0.0, False),  # failed trials do not count
        ([1, 0.5, "fail", "fail", "fail"], 1, 0.0, False),
        ([1, 0.5, 2, "fail", "pruned"], 1, 0.0, True),
    ],
)
def test_no_improvement_when_minimizing(
    values: list[Any], patience: int, min_delta: float, fires: bool
) -> None:
    reason = ht.NoImprovement(patience, min_delta).check(progress(history(values)))
    assert (reason is not None) == fires
    if fires:
        assert reason is not None and reason.rule == "no_improvement"
        assert f"last {patience} complete trials" in reason.message


@pytest.mark.parametrize(
    "values, fires",
    [
        ([1, 2, 3, 2.5, 2.8], True),
        ([1, 2, 3, 2.5, 3.1], False),
        ([3, 2, 1, 0, -1], True),  # worse and worse when maximizing
    ],
)
def test_no_improvement_when_maximizing(values: list[float], fires: bool) -> None:
    study = history(values, direction="maximize")
    assert (ht.NoImprovement(2).check(progress(study)) is not None) == fires


def test_no_improvement_stops_optimize() -> None:
    study = ht.create_study(seed=0)
    reason = study.optimize(
        from_list([3.0, 2.0, 2.5, 2.1, 2.2, 1.0, 0.0]),
        stop=ht.NoImprovement(patience=3),
        n_trials=7,
        show_progress=False,
    )
    assert reason.rule == "no_improvement"
    assert len(study.trials) == 5  # 2.0 at trial 1, then 3 trials without better


# Combinations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules, n_trials, rule, n_run",
    [
        ([ht.MaxTrials(100), ht.TargetValue(1.0)], None, "target", 3),
        ([ht.MaxTrials(2), ht.TargetValue(1.0)], None, "max_trials", 2),
        ([ht.TargetValue(1.0), ht.MaxTrials(3)], None, "target", 3),  # the first listed wins
        ([ht.MaxTrials(3), ht.TargetValue(1.0)], None, "max_trials", 3),
        ([ht.NoImprovement(1), ht.TargetValue(-10.0)], None, "no_improvement", 5),
        ([ht.TargetValue(1.0)], 2, "n_trials", 2),
        ([ht.MaxTrials(100), ht.Timeout(60)], 4, "n_trials", 4),
    ],
)
def test_combined_rules_report_which_one_stopped(
    rules: list[ht.StopRule], n_trials: int | None, rule: str, n_run: int
) -> None:
    study = ht.create_study(seed=0)
    values = [5.0, 3.0, 1.0, 0.5, 0.7, 0.6, 0.1, 0.0]
    reason = study.optimize(from_list(values), n_trials=n_trials, stop=rules, show_progress=False)
    assert reason.rule == rule
    assert len(study.trials) == n_run


def test_stop_reason_is_saved_on_the_study() -> None:
    storage = ht.InMemoryStorage()
    study = ht.create_study("s", storage, seed=0)
    assert study.stop_reason is None
    reason = study.optimize(constant, stop=ht.MaxTrials(2), show_progress=False)
    assert study.stop_reason == reason
    assert study.storage.load_study("s").system_attrs["stop_reason"] == {
        "rule": "max_trials",
        "message": reason.message,
    }
    # Another process loading the study sees it.
    assert ht.load_study("s", storage).storage.load_study("s").system_attrs["stop_reason"][
        "rule"
    ] == ("max_trials")
    study.optimize(constant, n_trials=1, show_progress=False)
    assert study.stop_reason is not None and study.stop_reason.rule == "n_trials"
    assert storage.load_study("s").system_attrs["stop_reason"]["rule"] == "n_trials"


# User rules and the convergence hook ----------------------------------------------------


class ConvergedAfter(ht.ConvergenceRule):
    def __init__(self, n: int) -> None:
        self.n = n
        self.seen: list[int] = []

    def has_converged(self, progress: StudyProgress) -> bool:
        self.seen.append(len(progress.history))
        return len(progress.history) >= self.n


def test_a_convergence_rule_stops_the_study() -> None:
    study = ht.create_study(seed=0)
    rule = ConvergedAfter(4)
    reason = study.optimize(constant, stop=rule, n_trials=50, show_progress=False)
    assert reason.rule == "convergence"
    assert "ConvergedAfter" in reason.message
    assert len(study.trials) == 4
    assert rule.seen == [0, 1, 2, 3, 4]  # asked before each new trial


def test_convergence_rule_needs_has_converged() -> None:
    with pytest.raises(TypeError):
        ht.ConvergenceRule()  # type: ignore[abstract]


class EvenCount(ht.StopRule):
    def check(self, progress: StudyProgress) -> ht.StopReason | None:
        n = len(progress.history)
        return ht.StopReason("even", f"{n} trials") if n and n % 2 == 0 else None


def test_a_user_stop_rule_names_itself() -> None:
    study = ht.create_study(seed=0)
    reason = study.optimize(constant, stop=EvenCount(), n_trials=10, show_progress=False)
    assert reason == ht.StopReason("even", "2 trials")


def test_stop_rules_see_the_whole_history() -> None:
    class Capture(ht.StopRule):
        def __init__(self) -> None:
            self.progress: list[StudyProgress] = []

        def check(self, progress: StudyProgress) -> ht.StopReason | None:
            self.progress.append(progress)
            return None

    study = history([1.0, "fail"], direction="maximize")
    rule = Capture()
    study.optimize(constant, stop=rule, n_trials=1, show_progress=False)
    first = rule.progress[0]
    assert [t.number for t in first.history] == [0, 1]
    assert first.directions == (ht.StudyDirection.MAXIMIZE,)
    assert 0.0 <= first.elapsed < 60.0  # seconds since optimize started: small, not reset


@pytest.mark.parametrize(
    "stop, match",
    [
        (5, r"stop must hold StopRule objects such as hptune.MaxTrials\(100\), got 5"),
        ([ht.MaxTrials(3), "timeout"], r"stop must hold StopRule objects .* got 'timeout'"),
        ([ht.MaxTrials], r"got <class 'hptune.stopping.MaxTrials'>"),
        ("max_trials", r"stop must hold StopRule objects .* got 'max_trials'"),
    ],
)
def test_stop_must_hold_rules(stop: Any, match: str) -> None:
    study = ht.create_study(seed=0)
    with pytest.raises(ht.ConfigurationError, match=match):
        study.optimize(constant, stop=stop, n_trials=1, show_progress=False)
    assert study.trials == []


# Constructor errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "factory, match",
    [
        (lambda: ht.MaxTrials(-1), r"MaxTrials: n_trials must be an int >= 0, got n_trials=-1"),
        (lambda: ht.MaxTrials(2.5), r"MaxTrials: n_trials must be an int >= 0, got n_trials=2.5"),
        (lambda: ht.MaxTrials(True), r"MaxTrials: n_trials must be an int >= 0, got n_trials=True"),
        (lambda: ht.MaxTrials("10"), r"MaxTrials: n_trials must be an int >= 0, got n_trials='10'"),
        (lambda: ht.Timeout(0), r"Timeout: seconds must be a finite number > 0, got seconds=0"),
        (
            lambda: ht.Timeout(-5.0),
            r"Timeout: seconds must be a finite number > 0, got seconds=-5.0",
        ),
        (
            lambda: ht.Timeout(math.nan),
            r"Timeout: seconds must be a finite number > 0, got seconds=nan",
        ),
        (
            lambda: ht.Timeout("60"),
            r"Timeout: seconds must be a finite number > 0, got seconds='60'",
        ),
        (
            lambda: ht.Timeout(True),
            r"Timeout: seconds must be a finite number > 0, got seconds=True",
        ),
        (lambda: ht.TargetValue(math.nan), r"TargetValue: target must be finite, got nan"),
        (lambda: ht.TargetValue(math.inf), r"TargetValue: target must be finite, got inf"),
        (lambda: ht.TargetValue("0.9"), r"TargetValue: target must be finite, got '0.9'"),
        (
            lambda: ht.NoImprovement(0),
            r"NoImprovement: patience must be an int >= 1, got patience=0",
        ),
        (
            lambda: ht.NoImprovement(1.5),
            r"NoImprovement: patience must be an int >= 1, got patience=1.5",
        ),
        (
            lambda: ht.NoImprovement(True),
            r"NoImprovement: patience must be an int >= 1, got patience=True",
        ),
        (
            lambda: ht.NoImprovement(3, -0.1),
            r"NoImprovement: min_delta must be a finite number >= 0, got min_delta=-0.1",
        ),
        (
            lambda: ht.NoImprovement(3, math.nan),
            r"NoImprovement: min_delta must be a finite number >= 0, got min_delta=nan",
        ),
        (
            lambda: ht.NoImprovement(3, "0"),
            r"NoImprovement: min_delta must be a finite number >= 0, got min_delta='0'",
        ),
    ],
)
def test_rule_constructor_errors(factory: Any, match: str) -> None:
    with pytest.raises(ht.ConfigurationError, match=match):
        factory()


@pytest.mark.parametrize("timeout", [0, -1, math.nan, "10"])
def test_optimize_timeout_is_validated(timeout: Any) -> None:
    study = ht.create_study(seed=0)
    with pytest.raises(ht.ConfigurationError, match=r"Timeout: seconds must be"):
        study.optimize(constant, timeout=timeout, show_progress=False)
    assert study.trials == []


def test_rules_are_values() -> None:
    assert ht.MaxTrials(3) == ht.MaxTrials(3)
    assert ht.NoImprovement(3, 0.1) != ht.NoImprovement(3)
    with pytest.raises(AttributeError):
        ht.Timeout(1).seconds = 2  # type: ignore[misc]
