"""Tests of hptune.study: the trial state machine, ask/tell, results, studies, export."""

from __future__ import annotations

import csv
import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import hptune as ht
from hptune.space import distribution_from_dict

State = ht.TrialState


def quadratic(trial: ht.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    return (x - 1.0) ** 2


def told(study: ht.Study, values: list[Any]) -> list[ht.FrozenTrial]:
    """Tell one trial per value (a list for several objectives)."""
    return [study.tell(study.ask(), v) for v in values]


# The state machine ---------------------------------------------------------------------


def test_enqueue_ask_tell_walks_waiting_running_complete() -> None:
    study = ht.create_study(seed=0)
    waiting = study.enqueue_trial({"x": 0.5})
    assert waiting.state is State.WAITING
    assert [t.state for t in study.trials] == [State.WAITING]

    trial = study.ask()
    assert trial.number == waiting.number == 0
    assert [t.state for t in study.trials] == [State.RUNNING]
    assert study.trials[0].datetime_start is not None

    assert trial.suggest_float("x", 0, 1) == 0.5
    record = study.tell(trial, 0.25)
    assert record.state is State.COMPLETE and record.values == (0.25,)
    assert study.trials == [record]


@pytest.mark.parametrize(
    "kwargs, state, values, reason",
    [
        ({"value": 1.5}, State.COMPLETE, (1.5,), None),
        ({"values": [1.5]}, State.COMPLETE, (1.5,), None),
        ({"state": "pruned"}, State.PRUNED, (0.5,), None),  # keeps its last reported value
        ({"state": State.PRUNED}, State.PRUNED, (0.5,), None),
        ({"state": "fail"}, State.FAIL, None, "told as failed"),
        ({"value": math.nan}, State.FAIL, None, "objective returned nan"),
        ({"value": math.inf}, State.FAIL, None, "objective returned inf"),
        ({"value": -math.inf}, State.FAIL, None, "objective returned -inf"),
    ],
)
def test_tell_finishes_a_running_trial(
    kwargs: dict[str, Any], state: State, values: tuple[float, ...] | None, reason: str | None
) -> None:
    study = ht.create_study(seed=0)
    trial = study.ask()
    trial.report(0.9, 0)
    trial.report(0.5, 1)
    record = study.tell(trial, **kwargs)
    assert record.state is state
    assert record.values == values
    assert record.fail_reason == reason
    assert study.trials == [record]


def test_tell_accepts_a_trial_number() -> None:
    study = ht.create_study(seed=0)
    study.ask()
    second = study.ask()
    record = study.tell(1, 3.0)
    assert record.number == second.number == 1
    assert [t.state for t in study.trials] == [State.RUNNING, State.COMPLETE]


@pytest.mark.parametrize(
    "first, again",
    [
        ({"value": 1.0}, {"value": 2.0}),
        ({"value": 1.0}, {"state": "fail"}),
        ({"state": "pruned"}, {"value": 2.0}),
        ({"state": "fail"}, {"state": "pruned"}),
        ({"value": math.nan}, {"value": 2.0}),
    ],
)
def test_tell_twice_raises_and_leaves_the_record_unchanged(
    first: dict[str, Any], again: dict[str, Any]
) -> None:
    study = ht.create_study(seed=0)
    trial = study.ask()
    record = study.tell(trial, **first)
    with pytest.raises(ht.TrialFinishedError, match=r"trial 0 is \w+ already"):
        study.tell(trial, **again)
    with pytest.raises(ht.TrialFinishedError):
        study.tell(0, **again)
    assert study.trials == [record]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"value": "0.5"}, r"the objective value must be a number, got '0.5' of type str"),
        ({"value": "nan"}, r"must be a number, got 'nan' of type str"),
        ({"value": True}, r"must be a number, got True of type bool"),
        ({"value": {"loss": 0.5}}, r"must be a number, got \{'loss': 0.5\} of type dict"),
        ({"value": object()}, r"must be a number, got <object object .*> of type object"),
        ({"value": [0.5, 0.6]}, r"has 1 objective\(s\) but 2 value\(s\) were given"),
        ({"values": []}, r"has 1 objective\(s\) but 0 value\(s\) were given"),
        ({}, r"a complete trial needs a value; got None"),
        ({"value": None}, r"a complete trial needs a value; got None"),
        ({"value": 1.0, "values": [1.0]}, r"give value or values, not both"),
        ({"state": "pruned", "value": 1.0}, r"a pruned trial takes no value, got 1.0"),
        ({"state": "fail", "values": [1.0]}, r"a fail trial takes no value"),
        ({"state": "running"}, r"tell needs a final state"),
        ({"state": "waiting"}, r"tell needs a final state"),
        ({"state": "done"}, r"state must be one of"),
    ],
)
def test_tell_with_a_bad_value_raises_and_leaves_the_trial_running(
    kwargs: dict[str, Any], match: str
) -> None:
    study = ht.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ht.InvalidValueError, match=match):
        study.tell(trial, **kwargs)
    assert [t.state for t in study.trials] == [State.RUNNING]
    assert study.tell(trial, 1.0).state is State.COMPLETE  # still usable


@pytest.mark.parametrize(
    "trial, match",
    [
        (5, r"has no trial number 5"),
        ("0", r"tell needs a Trial or a trial number, got '0'"),
        (True, r"tell needs a Trial or a trial number, got True"),
    ],
)
def test_tell_an_unknown_trial(trial: Any, match: str) -> None:
    study = ht.create_study(seed=0)
    study.ask()
    with pytest.raises(ht.InvalidValueError, match=match):
        study.tell(trial, 1.0)


def test_tell_a_trial_of_another_study() -> None:
    storage = ht.InMemoryStorage()
    one = ht.create_study("one", storage)
    two = ht.create_study("two", storage)
    trial = one.ask()
    with pytest.raises(ht.InvalidValueError, match=r"trial 0 belongs to another study"):
        two.tell(trial, 1.0)
    assert one.trials[0].state is State.RUNNING


@pytest.mark.parametrize(
    "value, state, values, match",
    [
        ([1.0, 2.0], State.COMPLETE, (1.0, 2.0), None),
        ((1, 2.5), State.COMPLETE, (1.0, 2.5), None),
        ([1.0, math.nan], State.FAIL, None, "objective returned nan"),
        ([1.0], None, None, r"has 2 objective\(s\) but 1 value\(s\) were given"),
        ([1.0, 2.0, 3.0], None, None, r"has 2 objective\(s\) but 3 value\(s\)"),
        (1.0, None, None, r"has 2 objective\(s\) but 1 value\(s\) were given"),
        ([1.0, "x"], None, None, r"must be a number, got 'x' of type str"),
    ],
)
def test_tell_multi_objective(
    value: Any, state: State | None, values: tuple[float, ...] | None, match: str | None
) -> None:
    study = ht.create_study(directions=["minimize", "maximize"])
    trial = study.ask()
    if state is None:
        with pytest.raises(ht.InvalidValueError, match=match):
            study.tell(trial, value)
        assert study.trials[0].state is State.RUNNING
        return
    record = study.tell(trial, value)
    assert record.state is state and record.values == values
    assert record.fail_reason == match


def test_a_pruned_multi_objective_trial_has_no_value() -> None:
    study = ht.create_study(directions=["minimize", "minimize"])
    trial = study.ask()
    trial.report(1.0, 0)
    record = study.tell(trial, state="pruned")
    assert record.state is State.PRUNED and record.values is None


# ask with a declarative space ------------------------------------------------------------


def test_ask_with_a_space_sets_every_parameter_at_once() -> None:
    study = ht.create_study(seed=0)
    space = {
        "lr": ht.Float(1e-5, 1e-1, log=True),
        "depth": ht.Int(1, 4),
        "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
    }
    trial = study.ask(space)
    assert set(trial.params) == {"lr", "depth", "optimizer"}
    assert 1e-5 <= trial.params["lr"] <= 1e-1
    assert trial.params["depth"] in (1, 2, 3, 4)
    assert trial.params["optimizer"] in ("adam", "sgd")
    assert study.trials[0].params == trial.params  # in the storage at once
    assert trial.distributions["optimizer"] == ht.Categorical(["adam", "sgd"])
    # The objective's suggest calls return the proposal.
    assert trial.suggest_int("depth", 1, 4) == trial.params["depth"]


def test_ask_with_a_bad_space_starts_no_trial() -> None:
    study = ht.create_study(seed=0)
    with pytest.raises(ht.InvalidSpaceError, match=r"parameter 'x': Float: low must be <= high"):
        study.ask({"x": {"type": "float", "low": 1, "high": 0}})
    assert study.trials == []


# enqueue_trial ---------------------------------------------------------------------------


def test_enqueued_trials_run_first_in_order() -> None:
    study = ht.create_study(seed=0)
    study.enqueue_trial({"x": 1.0})
    study.enqueue_trial({"x": -1.5})
    study.optimize(quadratic, n_trials=4, show_progress=False)
    xs = [t.params["x"] for t in study.trials]
    assert xs[:2] == [1.0, -1.5]
    assert study.trials[0].value == 0.0
    assert study.best_params == {"x": 1.0}
    assert all(t.state is State.COMPLETE for t in study.trials)


def test_enqueued_params_with_ask_space_and_user_attrs() -> None:
    study = ht.create_study(seed=0)
    study.enqueue_trial({"opt": "sgd"}, user_attrs={"source": "paper"})
    trial = study.ask({"opt": ht.Categorical(["adam", "sgd"]), "lr": ht.Float(1e-4, 1e-1)})
    assert trial.params["opt"] == "sgd"  # given
    assert 1e-4 <= trial.params["lr"] <= 1e-1  # proposed
    assert trial.user_attrs == {"source": "paper"}
    assert study.tell(trial, 1.0).user_attrs == {"source": "paper"}


def test_enqueued_value_outside_the_distribution_errors_at_suggest_time() -> None:
    study = ht.create_study(seed=0)
    study.enqueue_trial({"x": 5.0})
    trial = study.ask()
    with pytest.raises(
        ht.InvalidValueError, match=r"parameter 'x': 5.0 is not a value of Float\(low=0.0"
    ):
        trial.suggest_float("x", 0, 1)
    assert study.trials[0].params == {}


def test_enqueued_value_outside_the_distribution_fails_that_trial_in_optimize() -> None:
    study = ht.create_study(seed=0)
    study.enqueue_trial({"depth": 9})
    study.optimize(lambda t: t.suggest_int("depth", 1, 4), n_trials=2, show_progress=False)
    failed, ok = study.trials
    assert failed.state is State.FAIL
    assert failed.fail_reason is not None
    assert "InvalidValueError: parameter 'depth': 9 is not a value of Int" in failed.fail_reason
    assert ok.state is State.COMPLETE


@pytest.mark.parametrize(
    "params, match",
    [
        ([("x", 1)], r"enqueue_trial needs a dict of parameters, got \[\('x', 1\)\]"),
        ({"x": object()}, r"enqueued parameters must be a JSON value"),
        ({"x": math.nan}, r"enqueued parameters must be a JSON value"),
        ({"x": (1, 2)}, r"enqueued parameters does not survive a JSON round trip"),
    ],
)
def test_enqueue_trial_validates_params(params: Any, match: str) -> None:
    study = ht.create_study(seed=0)
    with pytest.raises(ht.InvalidValueError, match=match):
        study.enqueue_trial(params)
    assert study.trials == []


# Best trial ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction, best_number, best_value",
    [("minimize", 2, -1.0), ("maximize", 1, 7.0), ("min", 2, -1.0), ("max", 1, 7.0)],
)
def test_best_trial_value_and_params(direction: str, best_number: int, best_value: float) -> None:
    study = ht.create_study(direction=direction, seed=0)
    for value in [3.0, 7.0, -1.0, 2.0]:
        trial = study.ask()
        trial.suggest_int("i", 0, 100)
        study.tell(trial, value)
    for state in ("fail", "pruned"):  # never the best, whatever they hold
        trial = study.ask()
        trial.report(-100.0 if direction.startswith("min") else 100.0, 0)
        study.tell(trial, state=state)
    assert study.best_trial.number == best_number
    assert study.best_value == best_value
    assert study.best_params == study.trials[best_number].params
    assert study.best_trials == [study.best_trial]


def test_best_trial_prefers_the_earliest_on_a_tie() -> None:
    study = ht.create_study(seed=0)
    told(study, [2.0, 1.0, 1.0])
    assert study.best_trial.number == 1


def test_best_trial_without_a_complete_trial_is_an_error() -> None:
    study = ht.create_study(seed=0)
    study.tell(study.ask(), state="fail")
    study.ask()
    with pytest.raises(ht.TrialStateError, match=r"has no complete trial yet"):
        _ = study.best_trial
    with pytest.raises(ht.TrialStateError):
        _ = study.best_value
    assert study.best_trials == []


@pytest.mark.parametrize("attribute", ["best_trial", "best_value", "best_params", "direction"])
def test_single_objective_attributes_on_a_multi_objective_study(attribute: str) -> None:
    study = ht.create_study(directions=["minimize", "maximize"])
    told(study, [[1.0, 1.0]])
    with pytest.raises(ht.ConfigurationError, match=r"has 2 objectives; .* use study\."):
        getattr(study, attribute)


def test_best_trials_is_the_pareto_set_with_mixed_directions() -> None:
    study = ht.create_study(directions=["minimize", "maximize"])
    told(
        study,
        [
            [1.0, 1.0],  # 0: front
            [2.0, 3.0],  # 1: front
            [3.0, 2.0],  # 2: dominated by 1 (lower loss, higher score)
            [1.0, 0.5],  # 3: dominated by 0 (same loss, lower score)
            [0.5, 0.2],  # 4: front (lowest loss)
            [2.0, 3.0],  # 5: front (equal to 1: neither dominates)
            [4.0, 3.0],  # 6: dominated by 1 (same score, higher loss)
        ],
    )
    failed = study.ask()
    study.tell(failed, state="fail")
    study.ask()  # running: never on the front
    assert [t.number for t in study.best_trials] == [0, 1, 4, 5]
    assert study.is_multi_objective


def test_best_trials_when_the_directions_flip() -> None:
    study = ht.create_study(directions=["maximize", "minimize"])
    told(study, [[1.0, 1.0], [2.0, 3.0], [3.0, 2.0], [1.0, 0.5], [0.5, 0.2]])
    # Maximize the first, minimize the second: 2 dominates 1; 3 dominates 0.
    assert [t.number for t in study.best_trials] == [2, 3, 4]


# Creating, loading, deleting studies -----------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"sampler": "rando"},
            ht.ConfigurationError,
            r"unknown sampler 'rando'; valid names: .*'grid'.*'random'.* Did you mean 'random'\?",
        ),
        ({"sampler": "RANDOM "}, None, None),  # names are case- and space-insensitive
        ({"sampler": 3}, ht.ConfigurationError, r"sampler must be a name or a Sampler object"),
        ({"pruner": "xyz"}, ht.ConfigurationError, r"unknown pruner 'xyz'; valid names: "),
        ({"pruner": 1.5}, ht.ConfigurationError, r"pruner must be a name or a Pruner object"),
        (
            {"direction": "minimize", "directions": ["minimize"]},
            ht.ConfigurationError,
            r"give direction or directions, not both",
        ),
        (
            {"direction": "upward"},
            ht.ConfigurationError,
            r"direction must be 'minimize' or 'maximize' \(or 'min'/'max'\), got 'upward'",
        ),
        ({"directions": ["minimize", "best"]}, ht.ConfigurationError, r"got 'best'"),
        ({"directions": []}, ht.ConfigurationError, r"directions must be a non-empty list"),
        ({"directions": "minimize"}, ht.ConfigurationError, r"directions must be a non-empty"),
        ({"study_name": ""}, ht.ConfigurationError, r"study_name must be a non-empty string"),
        ({"study_name": 3}, ht.ConfigurationError, r"study_name must be a non-empty string"),
        ({"storage": 3}, ht.StorageURLError, r"storage must be None, a URL .* got 3"),
    ],
)
def test_create_study_errors(kwargs: dict[str, Any], error: Any, match: str | None) -> None:
    if error is None:
        ht.create_study(**kwargs)
        return
    with pytest.raises(error, match=match):
        ht.create_study(**kwargs)


def test_create_study_defaults() -> None:
    study = ht.create_study()
    assert study.direction is ht.StudyDirection.MINIMIZE
    assert study.directions == (ht.StudyDirection.MINIMIZE,)
    assert not study.is_multi_objective
    assert study.name.startswith("study-")
    assert ht.create_study().name != study.name
    assert isinstance(study.sampler, ht.Sampler)
    assert study.pruner is None


def test_create_study_takes_objects_and_enum_members() -> None:
    sampler = ht.RandomSampler(seed=1)
    study = ht.create_study(
        direction=ht.StudyDirection.MAXIMIZE, sampler=sampler, storage=ht.InMemoryStorage()
    )
    assert study.sampler is sampler
    assert study.direction is ht.StudyDirection.MAXIMIZE


def test_create_study_twice_is_an_error_unless_load_if_exists() -> None:
    storage = ht.InMemoryStorage()
    study = ht.create_study("s", storage, direction="maximize")
    told(study, [1.0, 2.0])
    with pytest.raises(ht.DuplicatedStudyError, match=r"a study named 's' exists already"):
        ht.create_study("s", storage, direction="maximize")
    again = ht.create_study("s", storage, direction="max", load_if_exists=True)
    assert again.study_id == study.study_id
    assert [t.values for t in again.trials] == [(1.0,), (2.0,)]
    assert again.best_value == 2.0


@pytest.mark.parametrize(
    "kwargs",
    [{"direction": "minimize"}, {"directions": ["maximize", "maximize"]}, {}],
)
def test_load_if_exists_with_other_directions_is_an_error(kwargs: dict[str, Any]) -> None:
    storage = ht.InMemoryStorage()
    ht.create_study("s", storage, direction="maximize")
    with pytest.raises(
        ht.ConfigurationError,
        match=r"study 's' exists with directions \['maximize'\], not \[.*\]; use another",
    ):
        ht.create_study("s", storage, load_if_exists=True, **kwargs)


def test_load_if_exists_creates_a_missing_study() -> None:
    storage = ht.InMemoryStorage()
    study = ht.create_study("new", storage, load_if_exists=True)
    assert [r.name for r in ht.list_studies(storage)] == ["new"]
    assert study.trials == []


def test_load_if_exists_loads_a_study_another_process_created_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = ht.InMemoryStorage()
    first = ht.create_study("s", storage)
    load = storage.load_study
    missed: list[str] = []

    def not_yet(name: str) -> Any:  # the study appears between this read and the create
        if not missed:
            missed.append(name)
            raise ht.StudyNotFoundError(f"no study named {name!r}")
        return load(name)

    monkeypatch.setattr(storage, "load_study", not_yet)
    study = ht.create_study("s", storage, load_if_exists=True)
    assert missed == ["s"] and study.study_id == first.study_id


def test_load_study_resumes_from_the_same_storage() -> None:
    storage = ht.InMemoryStorage()
    study = ht.create_study("s", storage, seed=0)
    study.optimize(quadratic, n_trials=3, show_progress=False)
    loaded = ht.load_study("s", storage, seed=0)
    assert loaded.trials == study.trials
    loaded.optimize(quadratic, n_trials=2, show_progress=False)
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]


def test_load_study_of_an_unknown_study() -> None:
    storage = ht.InMemoryStorage()
    ht.create_study("known", storage)
    with pytest.raises(
        ht.StudyNotFoundError,
        match=r"no study named 'missing' in this storage \(studies: 'known'\)",
    ):
        ht.load_study("missing", storage)
    with pytest.raises(KeyError):  # StudyNotFoundError is a KeyError too
        ht.load_study("missing", storage)


def test_list_and_delete_studies() -> None:
    storage = ht.InMemoryStorage()
    assert ht.list_studies(storage) == []
    a = ht.create_study("a", storage)
    ht.create_study("b", storage, directions=["minimize", "maximize"])
    told(a, [1.0, 2.0])
    records = {r.name: r for r in ht.list_studies(storage)}
    assert set(records) == {"a", "b"}
    assert records["a"].n_trials == 2 and records["b"].n_trials == 0
    assert records["b"].directions == (ht.StudyDirection.MINIMIZE, ht.StudyDirection.MAXIMIZE)

    ht.delete_study("a", storage)
    assert [r.name for r in ht.list_studies(storage)] == ["b"]
    with pytest.raises(ht.StudyNotFoundError):
        ht.load_study("a", storage)
    with pytest.raises(ht.StudyNotFoundError, match=r"no study named 'a'"):
        ht.delete_study("a", storage)
    # The name is free again, and the new study starts empty.
    assert ht.create_study("a", storage).trials == []


def test_study_user_attrs() -> None:
    study = ht.create_study()
    study.set_user_attr("dataset", "digits")
    assert study.user_attrs == {"dataset": "digits"}
    with pytest.raises(ht.InvalidValueError, match=r"study attribute 'bad'"):
        study.set_user_attr("bad", (1, 2))


# Export ----------------------------------------------------------------------------------


@pytest.fixture
def finished_study() -> ht.Study:
    study = ht.create_study(seed=0)

    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", -2, 2)
        opt = trial.suggest_categorical("opt", ["adam", "sgd"])
        trial.set_user_attr("tag", f"t{trial.number}")
        trial.report(x * 2, 0)
        if trial.number == 2:
            raise ValueError("boom")
        return x**2 + (opt == "sgd")

    study.optimize(objective, n_trials=4, show_progress=False)
    return study


def test_export_csv_reads_back(finished_study: ht.Study, tmp_path: Path) -> None:
    path = finished_study.export(tmp_path / "trials.csv")
    assert path == tmp_path / "trials.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    trials = finished_study.trials
    assert len(rows) == len(trials) == 4
    for row, trial in zip(rows, trials, strict=True):
        assert int(row["number"]) == trial.number
        assert row["state"] == trial.state.value
        assert float(row["params_x"]) == trial.params["x"]  # repr round-trips floats
        assert row["params_opt"] == trial.params["opt"]
        assert row["user_attrs_tag"] == f"t{trial.number}"
        if trial.state is State.COMPLETE:
            assert float(row["value"]) == trial.value
            assert row["fail_reason"] == ""
        else:
            assert row["value"] == ""
            assert row["fail_reason"] == "ValueError: boom"


def test_export_json_reads_back(finished_study: ht.Study, tmp_path: Path) -> None:
    path = finished_study.export(tmp_path / "trials.json")
    data = json.loads(path.read_text())
    assert data["directions"] == ["minimize"]
    trials = finished_study.trials
    assert [t["number"] for t in data["trials"]] == [t.number for t in trials]
    for row, trial in zip(data["trials"], trials, strict=True):
        assert row["state"] == trial.state.value
        assert row["values"] == (list(trial.values) if trial.values is not None else None)
        assert row["params"] == trial.params
        assert row["user_attrs"] == trial.user_attrs
        assert {k: distribution_from_dict(d) for k, d in row["distributions"].items()} == (
            trial.distributions
        )
        assert {s: v for s, v in row["intermediate_values"]} == trial.intermediate_values
        assert row["system_attrs"].get("fail_reason") == trial.fail_reason
        assert row["datetime_start"] == trial.datetime_start.isoformat()


def test_export_multi_objective_csv_has_one_column_per_value(tmp_path: Path) -> None:
    study = ht.create_study(directions=["minimize", "maximize"])
    told(study, [[1.0, 2.0], [3.0, 4.0]])
    with study.export(tmp_path / "t.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(float(r["values_0"]), float(r["values_1"])) for r in rows] == [(1, 2), (3, 4)]


def test_export_format_argument_and_errors(finished_study: ht.Study, tmp_path: Path) -> None:
    path = finished_study.export(tmp_path / "trials.txt", format="json")
    assert len(json.loads(path.read_text())["trials"]) == 4
    with pytest.raises(ht.ConfigurationError, match=r"export format must be one of \['csv', "):
        finished_study.export(tmp_path / "trials.xlsx")
    with pytest.raises(ht.ConfigurationError, match=r"export format must be one of"):
        finished_study.export(tmp_path / "trials.csv", format="parquet")


def test_export_of_an_empty_study(tmp_path: Path) -> None:
    study = ht.create_study()
    with study.export(tmp_path / "t.csv").open(newline="") as f:
        assert list(csv.DictReader(f)) == []
    assert json.loads(study.export(tmp_path / "t.json").read_text())["trials"] == []


def test_to_dataframe(finished_study: ht.Study) -> None:
    pytest.importorskip("pandas")
    df = finished_study.to_dataframe()
    assert list(df["number"]) == [0, 1, 2, 3]
    assert list(df["state"]) == ["complete", "complete", "fail", "complete"]
    assert list(df["params_x"]) == [t.params["x"] for t in finished_study.trials]
    assert df.loc[2, "fail_reason"] == "ValueError: boom"
    assert math.isnan(df.loc[2, "value"])
    assert df.loc[0, "value"] == finished_study.trials[0].value


# optimize: callbacks, stop, threads ------------------------------------------------------


def test_optimize_runs_n_trials_and_returns_why_it_stopped() -> None:
    study = ht.create_study(seed=0)
    reason = study.optimize(quadratic, n_trials=7, show_progress=False)
    assert reason.rule == "n_trials"
    assert len(study.trials) == 7
    assert study.stop_reason == reason
    # n_trials counts this call only.
    study.optimize(quadratic, n_trials=3, show_progress=False)
    assert len(study.trials) == 10


def test_optimize_with_zero_trials_runs_none() -> None:
    study = ht.create_study(seed=0)
    assert study.optimize(quadratic, n_trials=0, show_progress=False).rule == "n_trials"
    assert study.trials == []


def test_callbacks_are_called_once_per_finished_trial() -> None:
    study = ht.create_study(seed=0)
    seen: list[tuple[int, State]] = []
    other: list[int] = []

    def callback(s: ht.Study, trial: ht.FrozenTrial) -> None:
        assert s is study
        assert trial.state.is_finished()
        assert s.trials[trial.number] == trial  # finished in the storage before the call
        seen.append((trial.number, trial.state))

    def objective(trial: ht.Trial) -> float:
        if trial.number == 1:
            raise RuntimeError("fails")
        return quadratic(trial)

    study.optimize(
        objective,
        n_trials=4,
        callbacks=[callback, lambda s, t: other.append(t.number)],
        show_progress=False,
    )
    assert seen == [(0, State.COMPLETE), (1, State.FAIL), (2, State.COMPLETE), (3, State.COMPLETE)]
    assert other == [0, 1, 2, 3]


def test_stop_from_a_callback() -> None:
    study = ht.create_study(seed=0)

    def stop_after_three(s: ht.Study, trial: ht.FrozenTrial) -> None:
        if trial.number == 2:
            s.stop()

    reason = study.optimize(
        quadratic, n_trials=100, callbacks=[stop_after_three], show_progress=False
    )
    assert reason.rule == "stopped"
    assert len(study.trials) == 3
    # stop() holds for one optimize call only.
    assert study.optimize(quadratic, n_trials=2, show_progress=False).rule == "n_trials"
    assert len(study.trials) == 5


def test_n_jobs_runs_exactly_n_trials_in_threads() -> None:
    study = ht.create_study(seed=0)
    threads: set[str] = set()

    def objective(trial: ht.Trial) -> float:
        threads.add(threading.current_thread().name)
        time.sleep(0.01)
        return quadratic(trial)

    reason = study.optimize(objective, n_trials=30, n_jobs=4, show_progress=False)
    assert reason.rule == "n_trials"
    trials = study.trials
    assert len(trials) == 30
    assert sorted(t.number for t in trials) == list(range(30))
    assert all(t.state is State.COMPLETE for t in trials)
    assert len({t.params["x"] for t in trials}) == 30
    assert len(threads) > 1  # 10 ms objectives leave every worker time to start


def test_n_jobs_minus_one_uses_the_cpus() -> None:
    study = ht.create_study(seed=0)
    study.optimize(quadratic, n_trials=5, n_jobs=-1, show_progress=False)
    assert len(study.trials) == 5


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5, True, "2", None])
def test_n_jobs_validation(n_jobs: Any) -> None:
    study = ht.create_study(seed=0)
    with pytest.raises(
        ht.ConfigurationError,
        match=r"n_jobs must be >= 1 or -1 \(one per CPU\), got " + repr(n_jobs).replace(".", r"\."),
    ):
        study.optimize(quadratic, n_trials=1, n_jobs=n_jobs, show_progress=False)
    assert study.trials == []


@pytest.mark.parametrize("n_trials", [-1, 1.5, True, "3"])
def test_n_trials_validation(n_trials: Any) -> None:
    study = ht.create_study(seed=0)
    with pytest.raises(ht.ConfigurationError, match=r"n_trials must be an int >= 0 or None, got"):
        study.optimize(quadratic, n_trials=n_trials, show_progress=False)
    assert study.trials == []


def test_objective_must_be_callable() -> None:
    study = ht.create_study(seed=0)
    with pytest.raises(ht.ConfigurationError, match=r"objective must be callable, got 3"):
        study.optimize(3, n_trials=1, show_progress=False)  # type: ignore[arg-type]


def test_progress_bar_writes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    study = ht.create_study("bar", seed=0)
    study.optimize(quadratic, n_trials=3, show_progress=True)
    err = capsys.readouterr().err
    assert "bar" in err and "3/3" in err and "best=" in err
    study.optimize(quadratic, n_trials=1, show_progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", ["s" * 513, "a\x00b"])
def test_a_study_name_no_storage_keeps_exactly_is_refused(name: str) -> None:
    with pytest.raises(ht.InvalidValueError, match="study_name must"):
        ht.create_study(name)


def test_a_trial_pruned_by_number_keeps_its_last_reported_value() -> None:
    study = ht.create_study(seed=0)
    trial = study.ask()
    trial.report(0.9, 1)
    trial.report(0.4, 3)
    assert study.tell(trial.number, state="pruned").values == (0.4,)
