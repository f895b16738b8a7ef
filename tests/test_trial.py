"""Tests of hptune.trial: suggest, report, should_prune, user attributes, records, enums."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import hptune as ht


class PruneEverything(ht.Pruner):
    """Prunes every trial that reported something."""

    def should_prune(
        self,
        trial: ht.FrozenTrial,
        history: Sequence[ht.FrozenTrial],
        directions: tuple[ht.StudyDirection, ...],
    ) -> bool:
        return True


class RecordingPruner(ht.Pruner):
    """Prunes nothing; remembers what it was shown."""

    def __init__(self) -> None:
        self.calls: list[tuple[ht.FrozenTrial, list[ht.FrozenTrial]]] = []

    def should_prune(
        self,
        trial: ht.FrozenTrial,
        history: Sequence[ht.FrozenTrial],
        directions: tuple[ht.StudyDirection, ...],
    ) -> bool:
        self.calls.append((trial, list(history)))
        return False


@pytest.fixture
def study() -> ht.Study:
    return ht.create_study(seed=0)


@pytest.fixture
def trial(study: ht.Study) -> ht.Trial:
    return study.ask()


# Suggest ---------------------------------------------------------------------------------


def test_suggest_returns_values_inside_the_distribution(trial: ht.Trial) -> None:
    x = trial.suggest_float("x", -1.0, 1.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    q = trial.suggest_float("q", 0.0, 1.0, step=0.25)
    n = trial.suggest_int("n", 1, 9, step=2)
    units = trial.suggest_int("units", 8, 512, log=True)
    opt = trial.suggest_categorical("opt", ["adam", "sgd", None])
    assert -1.0 <= x <= 1.0
    assert 1e-5 <= lr <= 1e-1
    assert q in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert n in (1, 3, 5, 7, 9) and isinstance(n, int)
    assert 8 <= units <= 512 and isinstance(units, int)
    assert opt in ("adam", "sgd", None)
    assert trial.params == {"x": x, "lr": lr, "q": q, "n": n, "units": units, "opt": opt}
    assert trial.distributions["lr"] == ht.Float(1e-5, 1e-1, log=True)


@pytest.mark.parametrize(
    "suggest",
    [
        lambda t: t.suggest_float("p", 0.0, 1.0),
        lambda t: t.suggest_float("p", 1e-3, 1.0, log=True),
        lambda t: t.suggest_int("p", 0, 100),
        lambda t: t.suggest_categorical("p", ["a", "b", "c"]),
        lambda t: t.suggest("p", ht.Float(0.0, 1.0, step=0.1)),
    ],
)
def test_suggest_same_name_twice_returns_the_same_value(study: ht.Study, suggest: Any) -> None:
    for _ in range(5):
        trial = study.ask()
        first = suggest(trial)
        assert suggest(trial) == first
        assert trial.params == {"p": first}
        study.tell(trial, 0.0)


@pytest.mark.parametrize(
    "first, second",
    [
        (lambda t: t.suggest_float("x", 0, 1), lambda t: t.suggest_float("x", 0, 2)),
        (lambda t: t.suggest_float("x", 0, 1), lambda t: t.suggest_int("x", 0, 1)),
        (lambda t: t.suggest_float("x", 1, 2), lambda t: t.suggest_float("x", 1, 2, log=True)),
        (lambda t: t.suggest_int("x", 0, 4), lambda t: t.suggest_int("x", 0, 4, step=2)),
        (
            lambda t: t.suggest_categorical("x", ["a", "b"]),
            lambda t: t.suggest_categorical("x", ["b", "a"]),
        ),
        (
            lambda t: t.suggest_categorical("x", [1, 2]),
            lambda t: t.suggest_categorical("x", [True, 2]),
        ),
    ],
)
def test_same_name_with_another_distribution_is_an_error(
    trial: ht.Trial, first: Any, second: Any
) -> None:
    value = first(trial)
    with pytest.raises(ht.InvalidSpaceError, match=r"parameter 'x' was suggested as .* and now as"):
        second(trial)
    assert trial.params == {"x": value}


def test_suggest_is_stored_in_the_storage(study: ht.Study, trial: ht.Trial) -> None:
    x = trial.suggest_float("x", 0, 1)
    running = study.trials[0]
    assert running.state is ht.TrialState.RUNNING
    assert running.params == {"x": x}
    assert running.distributions == {"x": ht.Float(0, 1)}


def test_seeded_suggestions_are_reproducible() -> None:
    def params(seed: int) -> list[dict[str, Any]]:
        study = ht.create_study(seed=seed)
        out = []
        for _ in range(5):
            trial = study.ask()
            trial.suggest_float("x", 0, 1)
            trial.suggest_int("n", 0, 1000)
            out.append(trial.params)
            study.tell(trial, 0.0)
        return out

    assert params(3) == params(3)
    assert params(3) != params(4)


def test_trial_number_and_repr(study: ht.Study) -> None:
    first, second = study.ask(), study.ask()
    assert (first.number, second.number) == (0, 1)
    second.suggest_int("n", 5, 5)
    assert repr(second) == "Trial(number=1, params={'n': 5})"


# Report ----------------------------------------------------------------------------------


def test_report_records_intermediate_values(study: ht.Study, trial: ht.Trial) -> None:
    trial.report(0.5, 0)
    trial.report(np.float64(0.25), 1)
    trial.report(1, 2.5)  # steps may be fractions (data seen, seconds)
    assert trial.intermediate_values == {0: 0.5, 1: 0.25, 2.5: 1.0}
    assert study.trials[0].intermediate_values == {0: 0.5, 1: 0.25, 2.5: 1.0}
    assert study.trials[0].last_step == 2.5


@pytest.mark.parametrize(
    "value, step, match",
    [
        ("0.5", 0, r"trial 0: the reported value must be a number, got '0.5' of type str"),
        (None, 0, r"the reported value must be a number, got None of type NoneType"),
        ([0.5], 0, r"the reported value must be a number, got \[0.5\] of type list"),
        (True, 0, r"the reported value must be a number, got True of type bool"),
        (math.nan, 0, r"trial 0: the reported value must be finite, got nan"),
        (math.inf, 0, r"the reported value must be finite, got inf"),
        (-math.inf, 0, r"the reported value must be finite, got -inf"),
        (0.5, -1, r"trial 0: step must be a finite number >= 0, got step=-1"),
        (0.5, math.nan, r"step must be a finite number >= 0, got step=nan"),
        (0.5, math.inf, r"step must be a finite number >= 0, got step=inf"),
        (0.5, True, r"trial 0: step must be a number >= 0, got step=True"),
        (0.5, "1", r"step must be a number >= 0, got step='1'"),
        (0.5, None, r"step must be a number >= 0, got step=None"),
    ],
)
def test_report_validation(
    study: ht.Study, trial: ht.Trial, value: Any, step: Any, match: str
) -> None:
    with pytest.raises(ht.InvalidValueError, match=match):
        trial.report(value, step)
    assert trial.intermediate_values == {}
    assert study.trials[0].intermediate_values == {}


def test_step_reported_twice_keeps_the_first_value_and_warns(
    study: ht.Study, trial: ht.Trial
) -> None:
    trial.report(0.5, 3)
    with pytest.warns(ht.HptuneWarning, match=r"step 3 was reported already; the first value"):
        trial.report(0.9, 3)
    assert trial.intermediate_values == {3: 0.5}
    assert study.trials[0].intermediate_values == {3: 0.5}


# should_prune ----------------------------------------------------------------------------


def test_should_prune_is_false_without_a_pruner(study: ht.Study, trial: ht.Trial) -> None:
    assert study.pruner is None
    assert trial.should_prune() is False
    trial.report(1.0, 0)
    assert trial.should_prune() is False


def test_should_prune_asks_the_pruner_once_something_was_reported() -> None:
    pruner = RecordingPruner()
    study = ht.create_study(pruner=pruner, seed=0)
    done = study.ask()
    done.report(2.0, 0)
    study.tell(done, 2.0)
    trial = study.ask()
    assert trial.should_prune() is False
    assert pruner.calls == []  # nothing reported yet: the pruner is not asked
    trial.report(1.0, 0)
    assert trial.should_prune() is False
    (record, history), *_ = pruner.calls
    assert record.number == 1 and record.intermediate_values == {0: 1.0}
    assert [t.number for t in history] == [0]  # the others, not the trial itself


def test_custom_pruner_prunes_and_the_trial_keeps_its_last_value() -> None:
    study = ht.create_study(pruner=PruneEverything(), seed=0)

    def objective(trial: ht.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        for step, value in enumerate([0.9, 0.7, 0.4]):
            trial.report(value, step)
        if trial.should_prune():
            raise ht.TrialPruned()
        return 0.0

    study.optimize(objective, n_trials=3, show_progress=False)
    assert [t.state for t in study.trials] == [ht.TrialState.PRUNED] * 3
    for t in study.trials:
        assert t.value == 0.4
        assert t.intermediate_values == {0: 0.9, 1: 0.7, 2: 0.4}
        assert t.datetime_complete is not None
    with pytest.raises(ht.TrialStateError, match="no complete trial"):
        _ = study.best_trial


def test_pruned_without_reports_has_no_value(study: ht.Study) -> None:
    def objective(trial: ht.Trial) -> float:
        raise ht.TrialPruned()

    study.optimize(objective, n_trials=1, show_progress=False)
    (record,) = study.trials
    assert record.state is ht.TrialState.PRUNED
    assert record.values is None and record.value is None


# User attributes -------------------------------------------------------------------------


def test_set_user_attr_stores_json_values(study: ht.Study, trial: ht.Trial) -> None:
    trial.set_user_attr("epochs", 12)
    trial.set_user_attr("notes", {"a": [1, 2.5, None, True], "b": "x"})
    assert trial.user_attrs == {"epochs": 12, "notes": {"a": [1, 2.5, None, True], "b": "x"}}
    record = study.tell(trial, 1.0)
    assert record.user_attrs == trial.user_attrs


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("t", (1, 2), r"user attribute 't' does not survive a JSON round trip"),
        ("d", {1: "a"}, r"user attribute 'd' does not survive a JSON round trip"),
        ("o", object(), r"user attribute 'o' must be a JSON value .* got <object object"),
        ("s", {1, 2}, r"user attribute 's' must be a JSON value"),
        ("n", math.nan, r"user attribute 'n' must be a JSON value .* got nan"),
        ("i", [1.0, math.inf], r"user attribute 'i' must be a JSON value"),
        ("", 1, r"attribute keys must be non-empty strings, got ''"),
        (3, 1, r"attribute keys must be non-empty strings, got 3"),
    ],
)
def test_set_user_attr_rejects_what_json_cannot_hold(
    study: ht.Study, trial: ht.Trial, key: Any, value: Any, match: str
) -> None:
    with pytest.raises(ht.InvalidValueError, match=match):
        trial.set_user_attr(key, value)
    assert trial.user_attrs == {}
    assert study.trials[0].user_attrs == {}


def test_a_finished_trial_cannot_be_changed(study: ht.Study, trial: ht.Trial) -> None:
    trial.suggest_float("x", 0, 1)
    study.tell(trial, 1.0)
    with pytest.raises(ht.TrialFinishedError):
        trial.report(0.5, 0)
    with pytest.raises(ht.TrialFinishedError):
        trial.set_user_attr("k", 1)
    with pytest.raises(ht.TrialFinishedError):
        trial.suggest_int("n", 0, 3)
    (record,) = study.trials
    assert record.intermediate_values == {} and record.user_attrs == {}
    assert set(record.params) == {"x"}


# Enums -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, state",
    [
        ("complete", ht.TrialState.COMPLETE),
        ("PRUNED", ht.TrialState.PRUNED),
        ("Fail", ht.TrialState.FAIL),
        ("waiting", ht.TrialState.WAITING),
        ("running", ht.TrialState.RUNNING),
        (ht.TrialState.FAIL, ht.TrialState.FAIL),
    ],
)
def test_trial_state_parse(text: Any, state: ht.TrialState) -> None:
    assert ht.TrialState.parse(text) is state


@pytest.mark.parametrize("text", ["done", "", None, 3, "completed"])
def test_trial_state_parse_errors_list_the_states(text: Any) -> None:
    with pytest.raises(
        ht.InvalidValueError,
        match=r"state must be one of 'waiting', 'running', 'complete', 'pruned', 'fail', got "
        + re.escape(f"{text!r}."),
    ):
        ht.TrialState.parse(text)


def test_trial_state_is_finished() -> None:
    finished = {s for s in ht.TrialState if s.is_finished()}
    assert finished == {ht.TrialState.COMPLETE, ht.TrialState.PRUNED, ht.TrialState.FAIL}


@pytest.mark.parametrize(
    "text, direction",
    [
        ("minimize", ht.StudyDirection.MINIMIZE),
        ("min", ht.StudyDirection.MINIMIZE),
        ("MINIMIZE", ht.StudyDirection.MINIMIZE),
        ("maximize", ht.StudyDirection.MAXIMIZE),
        ("Max", ht.StudyDirection.MAXIMIZE),
        (ht.StudyDirection.MAXIMIZE, ht.StudyDirection.MAXIMIZE),
    ],
)
def test_study_direction_parse(text: Any, direction: ht.StudyDirection) -> None:
    assert ht.StudyDirection.parse(text) is direction


@pytest.mark.parametrize("text", ["up", "minimise", "", None, 1])
def test_study_direction_parse_errors(text: Any) -> None:
    # A bad direction is a configuration mistake (see the tree in hptune.exceptions).
    with pytest.raises(
        ht.ConfigurationError,
        match=r"direction must be 'minimize' or 'maximize' \(or 'min'/'max'\), got "
        + re.escape(f"{text!r}."),
    ):
        ht.StudyDirection.parse(text)


def test_study_direction_better() -> None:
    assert ht.StudyDirection.MINIMIZE.better(1.0, 2.0)
    assert not ht.StudyDirection.MINIMIZE.better(2.0, 2.0)
    assert ht.StudyDirection.MAXIMIZE.better(2.0, 1.0)
    assert not ht.StudyDirection.MAXIMIZE.better(1.0, 1.0)


# FrozenTrial -----------------------------------------------------------------------------


def test_frozen_trial_is_immutable(study: ht.Study, trial: ht.Trial) -> None:
    trial.suggest_float("x", 0, 1)
    record = study.tell(trial, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.state = ht.TrialState.FAIL  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.values = (0.0,)  # type: ignore[misc]
    # A new attribute: AttributeError, or TypeError on Pythons with the frozen+slots
    # dataclass bug (cpython gh-90562); either way nothing is set.
    with pytest.raises((AttributeError, TypeError)):
        record.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(record, "extra")
    assert study.trials[0].state is ht.TrialState.COMPLETE
    assert study.trials[0].value == 1.0


def test_frozen_trial_fields_of_a_finished_trial(study: ht.Study, trial: ht.Trial) -> None:
    x = trial.suggest_float("x", 0, 1)
    trial.report(0.3, 1)
    trial.set_user_attr("k", "v")
    record = study.tell(trial, 0.25)
    assert record.number == 0
    assert record.state is ht.TrialState.COMPLETE
    assert record.values == (0.25,) and record.value == 0.25
    assert record.params == {"x": x}
    assert record.intermediate_values == {1: 0.3}
    assert record.user_attrs == {"k": "v"}
    assert record.fail_reason is None
    assert record.datetime_start is not None and record.datetime_complete is not None
    assert record.duration is not None and record.duration.total_seconds() >= 0


def test_frozen_trial_value_before_completion_is_none(study: ht.Study, trial: ht.Trial) -> None:
    record = study.trials[0]
    assert record.value is None and record.values is None
    assert record.duration is None
    assert record.last_step is None


def test_value_on_a_multi_objective_trial_is_an_error() -> None:
    study = ht.create_study(directions=["minimize", "maximize"])
    trial = study.ask()
    record = study.tell(trial, [1.0, 2.0])
    assert record.values == (1.0, 2.0)
    with pytest.raises(ht.TrialStateError, match=r"trial 0 has 2 objective values; use .values"):
        _ = record.value
