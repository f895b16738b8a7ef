"""Failure semantics of optimize: failing objectives, bad values, catch, Ctrl-C."""

from __future__ import annotations

import _thread
import math
import re
import signal
import threading
import time
from typing import Any

import pytest

import hptune as ht

State = ht.TrialState


def _states(study: ht.Study) -> list[State]:
    return [t.state for t in study.trials]


def test_an_objective_that_raises_fails_that_trial_and_the_study_goes_on() -> None:
    study = ht.create_study(seed=0)

    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise ValueError("bad batch size")
        return x

    reason = study.optimize(objective, n_trials=3, show_progress=False)
    assert reason.rule == "n_trials"
    assert _states(study) == [State.COMPLETE, State.FAIL, State.COMPLETE]
    failed = study.trials[1]
    assert failed.fail_reason == "ValueError: bad batch size"
    assert failed.values is None
    assert "x" in failed.params  # what it got before failing is kept
    traceback = failed.system_attrs["traceback"]
    assert "Traceback (most recent call last)" in traceback
    assert 'raise ValueError("bad batch size")' in traceback
    assert study.best_trial.number in (0, 2)


def test_an_exception_outside_catch_fails_the_trial_and_is_raised() -> None:
    study = ht.create_study(seed=0)
    calls = []

    def objective(trial: ht.Trial) -> float:
        calls.append(trial.number)
        if trial.number == 0:
            raise ValueError("caught")
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        study.optimize(objective, n_trials=5, catch=(ValueError,), show_progress=False)
    assert calls == [0, 1]  # no trial starts after the error
    assert _states(study) == [State.FAIL, State.FAIL]
    assert study.trials[0].fail_reason == "ValueError: caught"
    assert study.trials[1].fail_reason == "KeyError: 'missing'"
    assert "Traceback" in study.trials[1].system_attrs["traceback"]


def test_catch_a_single_class_and_empty_catch() -> None:
    study = ht.create_study(seed=0)

    def objective(trial: ht.Trial) -> float:
        raise ZeroDivisionError("x")

    study.optimize(objective, n_trials=2, catch=ArithmeticError, show_progress=False)
    assert _states(study) == [State.FAIL, State.FAIL]
    with pytest.raises(ZeroDivisionError):
        study.optimize(objective, n_trials=2, catch=(), show_progress=False)
    assert _states(study) == [State.FAIL] * 3


def test_an_uncaught_exception_with_threads_leaves_no_trial_running() -> None:
    study = ht.create_study(seed=0)
    started = threading.Barrier(2, timeout=60)

    def objective(trial: ht.Trial) -> float:
        if trial.number < 2:
            started.wait()  # both workers hold a trial when the error comes
        if trial.number == 0:
            raise KeyError("stop")
        time.sleep(0.2)  # the error stops the loop long before 20 such trials ran
        return 1.0

    with pytest.raises(KeyError):
        study.optimize(objective, n_trials=20, n_jobs=2, catch=(), show_progress=False)
    states = _states(study)
    assert State.RUNNING not in states
    assert study.trials[0].state is State.FAIL
    assert len(states) < 20


@pytest.mark.parametrize(
    "value, reason",
    [
        (math.nan, "objective returned nan"),
        (math.inf, "objective returned inf"),
        (-math.inf, "objective returned -inf"),
        (float("nan"), "objective returned nan"),
    ],
)
def test_non_finite_values_fail_the_trial_with_the_reason(value: float, reason: str) -> None:
    study = ht.create_study(seed=0)
    study.optimize(lambda t: value if t.number == 0 else 1.0, n_trials=2, show_progress=False)
    assert _states(study) == [State.FAIL, State.COMPLETE]
    assert study.trials[0].fail_reason == reason
    assert study.trials[0].values is None


def test_non_finite_value_in_a_multi_objective_study() -> None:
    study = ht.create_study(directions=["minimize", "maximize"])
    study.optimize(lambda t: [1.0, math.nan], n_trials=1, show_progress=False)
    assert study.trials[0].state is State.FAIL
    assert study.trials[0].fail_reason == "objective returned nan"


@pytest.mark.parametrize(
    "returned, match",
    [
        ("0.5", r"the objective value must be a number, got '0.5' of type str"),
        ("abc", r"the objective value must be a number, got 'abc' of type str"),
        (None, r"a complete trial needs a value; got None"),
        ({"loss": 1.0}, r"must be a number, got \{'loss': 1.0\} of type dict"),
        (True, r"must be a number, got True of type bool"),
        ([1.0, 2.0], r"has 1 objective\(s\) but 2 value\(s\) were given"),
    ],
)
def test_a_value_of_the_wrong_type_fails_the_trial_with_a_warning(
    returned: Any, match: str
) -> None:
    study = ht.create_study(seed=0)
    with pytest.warns(ht.HptuneWarning, match=r"trial \d failed: .*" + match):
        reason = study.optimize(lambda t: returned, n_trials=2, show_progress=False)
    assert reason.rule == "n_trials"
    assert _states(study) == [State.FAIL, State.FAIL]
    fail_reason = study.trials[0].fail_reason
    assert fail_reason is not None and re.search(match, fail_reason)


def test_keyboard_interrupt_in_the_objective_fails_the_trial_and_propagates() -> None:
    study = ht.create_study(seed=0)

    def objective(trial: ht.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        if trial.number == 2:
            raise KeyboardInterrupt
        return 1.0

    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=10, show_progress=False)
    assert _states(study) == [State.COMPLETE, State.COMPLETE, State.FAIL]
    assert "interrupted" in (study.trials[2].fail_reason or "")
    # The study can go on afterwards.
    study.optimize(objective, n_trials=1, show_progress=False)
    assert _states(study) == [State.COMPLETE, State.COMPLETE, State.FAIL, State.COMPLETE]


class SignalDuring(ht.InMemoryStorage):
    """A storage that delivers a signal to this process once, in the middle of a write."""

    def __init__(self, signum: int, method: str | None) -> None:
        super().__init__()
        self.signum, self.method = signum, method

    def _signal(self, method: str) -> None:
        if self.method == method:
            self.method = None
            signal.raise_signal(self.signum)  # Python runs its handler at the next bytecode

    def create_trial(self, *args: Any, **kwargs: Any) -> Any:
        record = super().create_trial(*args, **kwargs)
        self._signal("create_trial")
        return record

    def finish_trial(self, *args: Any, **kwargs: Any) -> Any:
        self._signal("finish_trial")
        return super().finish_trial(*args, **kwargs)


@pytest.mark.parametrize("method", ["create_trial", "finish_trial"])
def test_ctrl_c_inside_ask_or_tell_leaves_no_trial_running(method: str) -> None:
    # Before the fix, a Ctrl-C inside ask left a RUNNING trial that nobody ran and that
    # sent no heartbeat, so it was never reclaimed.
    storage = SignalDuring(signal.SIGINT, method)
    study = ht.create_study(storage=storage, seed=0)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, show_progress=False)
    trials = study.trials
    assert len(trials) == 1
    if method == "create_trial":  # held until the trial was registered, then it fails it
        assert trials[0].state is State.FAIL
        assert "interrupted" in (trials[0].fail_reason or "")
    else:  # held until the tell was written: the trial completed
        assert trials[0].state is State.COMPLETE


def test_sigterm_inside_ask_fails_the_trial_and_queues_a_retry() -> None:
    storage = SignalDuring(signal.SIGTERM, "create_trial")
    study = ht.create_study(storage=storage, seed=0)
    with pytest.raises(SystemExit) as exit_info:
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, show_progress=False)
    assert exit_info.value.code == 128 + signal.SIGTERM
    first, retry = study.trials
    assert first.state is State.FAIL and "SIGTERM" in (first.fail_reason or "")
    assert retry.state is State.WAITING  # queued for the next worker
    assert retry.system_attrs["fixed_params"] == first.params


def test_ctrl_c_with_threads_marks_the_running_trials_failed() -> None:
    study = ht.create_study(seed=0)
    both_running = threading.Barrier(2, timeout=60)
    release = threading.Event()

    def objective(trial: ht.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        both_running.wait()  # each worker holds one trial
        if trial.number == 0:
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread
        release.wait(timeout=60)
        return 1.0

    try:
        with pytest.raises(KeyboardInterrupt):
            study.optimize(objective, n_trials=10, n_jobs=2, show_progress=False)
        trials = study.trials
        assert len(trials) == 2
        assert [t.state for t in trials] == [State.FAIL, State.FAIL]
        for t in trials:
            assert "interrupted" in (t.fail_reason or "")
    finally:
        release.set()
    # The workers, released, find their trials finished and start no more.
    for thread in threading.enumerate():
        if thread.name.startswith("hptune-worker"):
            thread.join(timeout=60)
    assert _states(study) == [State.FAIL, State.FAIL]


@pytest.mark.parametrize(
    "catch, match",
    [
        (
            ("ValueError",),
            r"catch must hold exception classes such as ValueError, got 'ValueError'",
        ),
        ("ValueError", r"catch must hold exception classes .* got 'ValueError'"),
        ((ValueError, int), r"got <class 'int'>"),
        ((ValueError("x"),), r"got ValueError\('x'\)"),
        (ValueError("x"), r"got ValueError\('x'\)"),
        (42, r"got 42"),
        (None, r"got None"),
    ],
)
def test_catch_must_hold_exception_classes(catch: Any, match: str) -> None:
    study = ht.create_study(seed=0)
    with pytest.raises(ht.ConfigurationError, match=match):
        study.optimize(lambda t: 1.0, n_trials=1, catch=catch, show_progress=False)
    assert study.trials == []


class _Unreadable:
    """A value whose conversion to float fails with something else than TypeError or
    ValueError, as a CUDA tensor does when its device has failed."""

    def __float__(self) -> float:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


def test_a_value_too_large_for_a_float_fails_that_trial_only() -> None:
    study = ht.create_study(seed=0)
    reason = study.optimize(lambda t: 10**400, n_trials=2, show_progress=False)
    assert reason.rule == "n_trials"
    assert _states(study) == [State.FAIL, State.FAIL]
    assert study.trials[0].fail_reason == "objective returned an integer too large for a float"


def test_a_value_that_cannot_be_read_fails_that_trial_with_the_cause() -> None:
    study = ht.create_study(seed=0)
    with pytest.warns(ht.HptuneWarning, match=r"could not be read as a float .*CUDA error"):
        reason = study.optimize(lambda t: _Unreadable(), n_trials=2, show_progress=False)
    assert reason.rule == "n_trials"
    assert _states(study) == [State.FAIL, State.FAIL]
    assert "RuntimeError: CUDA error" in (study.trials[0].fail_reason or "")


def test_a_huge_report_is_refused_with_the_reason() -> None:
    trial = ht.create_study(seed=0).ask()
    with pytest.raises(ht.InvalidValueError, match="too large for a float"):
        trial.report(10**400, 1)


def test_numpy_numbers_are_steps_trial_numbers_and_values() -> None:
    import numpy as np

    study = ht.create_study(directions=["minimize", "maximize"], seed=0)
    trial = study.ask()
    trial.report(0.5, np.int64(3))
    trial.report(0.25, np.float32(4.5))
    assert trial.intermediate_values == {3: 0.5, 4.5: 0.25}
    done = study.tell(np.int64(trial.number), np.array([1.0, 2.0]))  # an array of two values
    assert done.values == (1.0, 2.0)


def test_a_tensor_of_values_is_several_values() -> None:
    torch = pytest.importorskip("torch")
    study = ht.create_study(directions=["minimize", "minimize"], seed=0)
    done = study.tell(study.ask(), torch.tensor([0.5, 1.5]))
    assert done.values == (0.5, 1.5)
    single = ht.create_study(seed=0)
    assert single.tell(single.ask(), torch.tensor(0.25)).values == (0.25,)


def test_the_reason_a_trial_was_pruned_is_kept_and_each_trial_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise ht.TrialPruned("worse than trial 0 on 3 folds")
        return x

    study = ht.create_study(sampler="random", seed=0)
    with caplog.at_level("INFO", logger="hptune"):
        study.optimize(objective, n_trials=2, show_progress=False)
    assert study.trials[1].state is State.PRUNED
    assert study.trials[1].prune_reason == "worse than trial 0 on 3 folds"
    assert study.trials[0].prune_reason is None
    lines = [r.getMessage() for r in caplog.records if r.name == "hptune"]
    assert any(line.startswith("trial 0 finished with value 0.") for line in lines), lines
    assert any("trial 1 pruned (worse than trial 0 on 3 folds)" in line for line in lines), lines


def test_a_bug_that_fails_every_trial_stops_optimize_with_the_reason() -> None:
    def buggy(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        return x + undefined_name  # type: ignore[name-defined]  # noqa: F821

    study = ht.create_study(sampler="random", seed=0)
    with pytest.raises(ht.ObjectiveError, match=r"first 3 trials all failed with \"NameError"):
        study.optimize(buggy, n_trials=50, show_progress=False)
    assert _states(study) == [State.FAIL] * 3  # stopped there, not after 50
    assert study.stop_reason is not None and study.stop_reason.rule == "error"


def test_bad_configurations_that_fail_differently_do_not_stop_the_study() -> None:
    def picky(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        raise ValueError(f"x={x:.6f} is not supported")  # a message per configuration

    study = ht.create_study(sampler="random", seed=0)
    study.optimize(picky, n_trials=6, show_progress=False)
    assert _states(study) == [State.FAIL] * 6


def test_a_chosen_catch_keeps_going_on_identical_failures() -> None:
    study = ht.create_study(sampler="random", seed=0)
    study.optimize(lambda t: 1 / 0, n_trials=5, show_progress=False, catch=(ZeroDivisionError,))
    assert _states(study) == [State.FAIL] * 5
