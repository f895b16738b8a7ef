"""The storage contract (hptune/storage/base.py), run against every implementation."""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

import pytest

from hptune.exceptions import (
    DuplicatedStudyError,
    InvalidValueError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
    TrialStateError,
)
from hptune.space import Categorical, Float, Int
from hptune.storage import Storage, StudyRecord
from hptune.trial import FrozenTrial, StudyDirection, TrialState

MIN = StudyDirection.MINIMIZE
MAX = StudyDirection.MAXIMIZE
FINAL_STATES = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL]


def _in_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for i < n in n threads started together; return results in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as e:  # re-raised below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def _utc(value: dt.datetime | None) -> bool:
    return value is not None and value.utcoffset() == dt.timedelta(0)


# Studies -------------------------------------------------------------------------------


def test_create_and_load_study(storage: Storage) -> None:
    created = storage.create_study("s", [MIN, MAX])
    loaded = storage.load_study("s")
    assert created.name == loaded.name == "s"
    assert created.study_id == loaded.study_id
    assert created.directions == loaded.directions == (MIN, MAX)
    assert _utc(loaded.datetime_created)
    assert loaded.n_trials == 0
    assert loaded.user_attrs == {} and loaded.system_attrs == {}


def test_duplicate_study_is_refused(storage: Storage) -> None:
    storage.create_study("s", [MIN])
    with pytest.raises(DuplicatedStudyError, match="'s'"):
        storage.create_study("s", [MAX])
    assert storage.load_study("s").directions == (MIN,)


def test_missing_study_error_lists_existing_names(storage: Storage) -> None:
    storage.create_study("alpha", [MIN])
    storage.create_study("beta", [MIN])
    with pytest.raises(StudyNotFoundError, match=r"'gamma'.*'alpha', 'beta'"):
        storage.load_study("gamma")
    with pytest.raises(KeyError):
        storage.delete_study("gamma")


def test_delete_study_removes_its_trials_only(storage: Storage) -> None:
    doomed = storage.create_study("doomed", [MIN])
    kept = storage.create_study("kept", [MIN])
    trial = storage.create_trial(doomed.study_id)
    storage.set_trial_param(trial.trial_id, "x", Float(0, 1), 0.5)
    storage.claim(doomed.study_id, trial.trial_id, "k")
    storage.finish_trial(trial.trial_id, TrialState.COMPLETE, [1.0])
    other = storage.create_trial(kept.study_id)
    storage.delete_study("doomed")
    assert [r.name for r in storage.list_studies()] == ["kept"]
    with pytest.raises(StudyNotFoundError):
        storage.load_study("doomed")
    with pytest.raises(StudyNotFoundError):
        storage.get_trials(doomed.study_id)
    with pytest.raises(TrialNotFoundError):
        storage.get_trial(trial.trial_id)
    assert storage.get_trial(other.trial_id).number == 0
    again = storage.create_study("doomed", [MAX])  # the name is free again
    assert storage.get_trials(again.study_id) == []
    assert storage.create_trial(again.study_id).number == 0


def test_list_studies_oldest_first_with_counts(storage: Storage) -> None:
    assert storage.list_studies() == []
    for name, n in [("b", 2), ("a", 0), ("c", 3)]:
        record = storage.create_study(name, [MIN])
        for _ in range(n):
            storage.create_trial(record.study_id)
    storage.set_study_attr(storage.load_study("c").study_id, "owner", "me")
    records = storage.list_studies()
    assert all(isinstance(r, StudyRecord) for r in records)
    assert [(r.name, r.n_trials) for r in records] == [("b", 2), ("a", 0), ("c", 3)]
    assert records[2].user_attrs == {"owner": "me"}
    assert storage.load_study("c").n_trials == 3


def test_study_attrs_round_trip_and_replace(storage: Storage) -> None:
    record = storage.create_study("s", [MIN])
    storage.set_study_attr(record.study_id, "k", {"a": [1, 2.5, None]})
    storage.set_study_attr(record.study_id, "k", "system side", system=True)
    storage.set_study_attr(record.study_id, "n", 1)
    storage.set_study_attr(record.study_id, "n", 2)
    loaded = storage.load_study("s")
    assert loaded.user_attrs == {"k": {"a": [1, 2.5, None]}, "n": 2}
    assert loaded.system_attrs == {"k": "system side"}
    with pytest.raises(StudyNotFoundError):
        storage.set_study_attr(record.study_id + 1000, "k", 1)


# Numbering -----------------------------------------------------------------------------


def test_numbers_are_per_study_and_start_at_zero(storage: Storage) -> None:
    a = storage.create_study("a", [MIN])
    b = storage.create_study("b", [MIN])
    numbers = [storage.create_trial(s.study_id).number for s in (a, b, a, a, b)]
    assert numbers == [0, 0, 1, 2, 1]
    with pytest.raises(StudyNotFoundError):
        storage.create_trial(a.study_id + b.study_id + 1000)


def test_create_trial_records_params_in_the_same_call(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    params = {"lr": (Float(1e-4, 1.0, log=True), 0.01), "opt": (Categorical(["a", "b"]), "b")}
    first = storage.create_trial(study_id, params=params, expected_number=0)
    assert first.params == {"lr": 0.01, "opt": "b"}
    assert storage.get_trial(first.trial_id).distributions == {k: d for k, (d, _) in params.items()}
    # The proposal was made for number 0 but the trial got number 1: nothing recorded.
    second = storage.create_trial(study_id, params=params, expected_number=0)
    assert second.number == 1 and second.params == {}
    assert storage.get_trial(second.trial_id).params == {}
    third = storage.create_trial(study_id, params={"n": (Int(1, 3), 2)})
    assert storage.get_trial(third.trial_id).params == {"n": 2}
    with pytest.raises(InvalidValueError, match="'x'"):
        storage.create_trial(study_id, params={"x": (Float(0, 1), math.nan)})
    assert len(storage.get_trials(study_id)) == 3  # the rejected call created nothing


def test_numbers_gap_free_under_threads(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id

    def create(_: int) -> list[FrozenTrial]:
        return [storage.create_trial(study_id) for _ in range(25)]

    created = [t for batch in _in_threads(8, create) for t in batch]
    assert sorted(t.number for t in created) == list(range(200))
    assert len({t.trial_id for t in created}) == 200
    assert [t.number for t in storage.get_trials(study_id)] == list(range(200))


@pytest.mark.slow
def test_numbers_gap_free_across_processes(shared_storage: Storage) -> None:
    # Each worker process unpickles the storage, so opens its own connections.
    study_id = shared_storage.create_study("s", [MIN]).study_id
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        created = pool.map(shared_storage.create_trial, [study_id] * 100, chunksize=25)
    assert sorted(t.number for t in created) == list(range(100))
    assert [t.number for t in shared_storage.get_trials(study_id)] == list(range(100))


# Finishing -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", FINAL_STATES)
def test_finish_once_then_refuse(storage: Storage, state: TrialState) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial = storage.create_trial(study_id)
    values = [0.5] if state is TrialState.COMPLETE else None
    finished = storage.finish_trial(trial.trial_id, state, values, system_attrs={"why": "x"})
    assert finished.state is state
    assert finished.values == (None if values is None else (0.5,))
    assert finished.system_attrs == {"why": "x"}
    with pytest.raises(TrialFinishedError, match="trial 0"):
        storage.finish_trial(trial.trial_id, TrialState.FAIL, system_attrs={"why": "y"})
    assert storage.get_trial(trial.trial_id) == finished


def test_finish_races_have_one_winner(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id

    def finish(i: int) -> float | None:
        try:
            return storage.finish_trial(trial_id, TrialState.COMPLETE, [float(i)]).value
        except TrialFinishedError:
            return None

    winners = [v for v in _in_threads(8, finish) if v is not None]
    assert len(winners) == 1
    assert storage.get_trial(trial_id).value == winners[0]


def test_finish_needs_a_running_trial_and_a_final_state(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    waiting = storage.create_trial(study_id, state=TrialState.WAITING)
    with pytest.raises(TrialStateError) as info:
        storage.finish_trial(waiting.trial_id, TrialState.COMPLETE, [1.0])
    assert not isinstance(info.value, TrialFinishedError)
    running = storage.create_trial(study_id)
    with pytest.raises(TrialStateError):
        storage.finish_trial(running.trial_id, TrialState.WAITING)
    with pytest.raises(TrialStateError):
        storage.create_trial(study_id, state=TrialState.COMPLETE)
    with pytest.raises(TrialNotFoundError):
        storage.finish_trial(running.trial_id + 1000, TrialState.COMPLETE, [1.0])
    assert storage.get_trial(running.trial_id).state is TrialState.RUNNING


def _writes(storage: Storage, study_id: int, trial_id: int) -> list[Callable[[], object]]:
    return [
        lambda: storage.set_trial_param(trial_id, "x", Float(0, 1), 0.5),
        lambda: storage.set_trial_intermediate(trial_id, 1, 0.5),
        lambda: storage.set_trial_attr(trial_id, "k", 1),
        lambda: storage.set_trial_attr(trial_id, "k", 1, system=True),
        lambda: storage.claim(study_id, trial_id, "key"),
    ]


def test_writes_to_finished_trials_are_refused(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    finished = storage.finish_trial(trial_id, TrialState.PRUNED)
    for write in _writes(storage, study_id, trial_id):
        with pytest.raises(TrialFinishedError):
            write()
    assert storage.get_trial(trial_id) == finished
    assert storage.claim(study_id, storage.create_trial(study_id).trial_id, "key")


def test_writes_to_waiting_trials_are_refused(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id, state=TrialState.WAITING).trial_id
    for write in _writes(storage, study_id, trial_id):
        with pytest.raises(TrialStateError) as info:
            write()
        assert not isinstance(info.value, TrialFinishedError)
    with pytest.raises(TrialNotFoundError):
        storage.set_trial_attr(trial_id + 1000, "k", 1)
    with pytest.raises(TrialNotFoundError):
        storage.get_trial(trial_id + 1000)


# Waiting trials and claims -------------------------------------------------------------


def test_pop_waiting_oldest_first(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    assert storage.pop_waiting_trial(study_id) is None
    storage.create_trial(study_id)
    fixed = {"fixed_params": {"x": 0.25}}
    first = storage.create_trial(study_id, state=TrialState.WAITING, system_attrs=fixed)
    storage.create_trial(study_id, state=TrialState.WAITING)
    assert first.state is TrialState.WAITING and first.datetime_start is None
    popped = storage.pop_waiting_trial(study_id)
    assert popped is not None
    assert (popped.trial_id, popped.number, popped.state) == (first.trial_id, 1, TrialState.RUNNING)
    assert popped.system_attrs == fixed
    assert _utc(popped.datetime_start)
    second = storage.pop_waiting_trial(study_id)
    assert second is not None and second.number == 2
    assert storage.pop_waiting_trial(study_id) is None


def test_pop_waiting_exactly_once_under_threads(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    waiting = {storage.create_trial(study_id, state=TrialState.WAITING).trial_id for _ in range(40)}

    def pop_all(_: int) -> list[int]:
        popped = []
        while (trial := storage.pop_waiting_trial(study_id)) is not None:
            popped.append(trial.trial_id)
        return popped

    popped = [i for batch in _in_threads(8, pop_all) for i in batch]
    assert sorted(popped) == sorted(waiting)
    assert storage.get_trials(study_id, states=[TrialState.WAITING]) == []


def test_claim_is_exclusive_under_threads(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trials = [storage.create_trial(study_id).trial_id for _ in range(8)]
    won = _in_threads(8, lambda i: storage.claim(study_id, trials[i], "grid-7"))
    assert won.count(True) == 1
    holder = trials[won.index(True)]
    assert storage.claim(study_id, holder, "grid-7")  # holding it already
    for trial in storage.get_trials(study_id):
        assert ("claim" in trial.system_attrs) is (trial.trial_id == holder)
    assert storage.get_trial(holder).system_attrs["claim"] == "grid-7"
    other = storage.create_study("other", [MIN]).study_id
    assert storage.claim(other, storage.create_trial(other).trial_id, "grid-7")


# Values --------------------------------------------------------------------------------


def test_json_round_trip(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN, MAX]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    choices = Categorical(["adam", 1, 2.5, True, None])
    params: dict[str, tuple[Any, Any]] = {
        "lr": (Float(1e-5, 1e-1, log=True), 0.0012345678901234567),
        "q": (Float(0, 1, step=0.25), 0.75),
        "depth": (Int(1, 8, log=True), 3),
        "opt": (choices, "adam"),
        "flag": (choices, True),
        "none": (choices, None),
        "int_choice": (choices, 1),
        "float_choice": (choices, 2.5),
    }
    for name, (dist, value) in params.items():
        storage.set_trial_param(trial_id, name, dist, value)
    storage.set_trial_intermediate(trial_id, 0, 0.5)
    storage.set_trial_intermediate(trial_id, 3, -1e-300)
    storage.set_trial_intermediate(trial_id, 2.5, 1e300)
    user = {"nested": {"list": [1, 2.5, "x", None, True], "é": "ünïcode"}, "empty": []}
    storage.set_trial_attr(trial_id, "u", user)
    storage.set_trial_attr(trial_id, "u", user, system=True)
    storage.finish_trial(trial_id, TrialState.COMPLETE, [0.1, -2.0])
    for trial in (storage.get_trial(trial_id), storage.get_trials(study_id)[0]):
        assert trial.params == {name: value for name, (_, value) in params.items()}
        for name, (dist, value) in params.items():
            assert type(trial.params[name]) is type(value), name
            assert trial.distributions[name] == dist
        assert trial.intermediate_values == {0: 0.5, 3: -1e-300, 2.5: 1e300}
        assert {type(step) for step in trial.intermediate_values} == {int, float}
        assert type(next(iter(trial.intermediate_values))) is int
        assert trial.user_attrs == {"u": user} and trial.system_attrs == {"u": user}
        assert trial.values == (0.1, -2.0)


def test_later_writes_replace_earlier_ones(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id, system_attrs={"a": 1}).trial_id
    storage.set_trial_param(trial_id, "x", Int(0, 5), 1)
    storage.set_trial_param(trial_id, "x", Int(0, 9), 7)
    storage.set_trial_attr(trial_id, "k", "old")
    storage.set_trial_attr(trial_id, "k", "new")
    storage.set_trial_attr(trial_id, "a", 2, system=True)
    storage.set_trial_intermediate(trial_id, 1, 0.1)
    storage.set_trial_intermediate(trial_id, 1, 0.2)
    finished = storage.finish_trial(trial_id, TrialState.FAIL, system_attrs={"a": 3})
    assert finished.params == {"x": 7} and finished.distributions == {"x": Int(0, 9)}
    assert finished.user_attrs == {"k": "new"}
    assert finished.system_attrs == {"a": 3}
    assert finished.intermediate_values == {1: 0.2}


def test_datetimes(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    before = dt.datetime.now(dt.timezone.utc)
    running = storage.create_trial(study_id)
    waiting = storage.create_trial(study_id, state=TrialState.WAITING)
    assert _utc(running.datetime_start) and running.datetime_complete is None
    assert waiting.datetime_start is None and waiting.datetime_complete is None
    assert storage.get_trial(running.trial_id).datetime_start == running.datetime_start
    finished = storage.finish_trial(running.trial_id, TrialState.COMPLETE, [1.0])
    after = dt.datetime.now(dt.timezone.utc)
    assert finished.datetime_start is not None and finished.datetime_complete is not None
    assert _utc(finished.datetime_complete)
    assert before <= finished.datetime_start <= finished.datetime_complete <= after
    assert finished.duration is not None and finished.duration >= dt.timedelta(0)


# Reading -------------------------------------------------------------------------------


def test_get_trials_ordered_and_filtered(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    other = storage.create_study("other", [MIN]).study_id
    ids = []
    for i in range(6):
        storage.create_trial(other)
        ids.append(storage.create_trial(study_id).trial_id)
        if i % 3 == 0:
            storage.finish_trial(ids[-1], TrialState.COMPLETE, [float(i)])
        elif i % 3 == 1:
            storage.finish_trial(ids[-1], TrialState.FAIL)
    storage.create_trial(study_id, state=TrialState.WAITING)
    every = storage.get_trials(study_id)
    assert [t.number for t in every] == list(range(7))
    assert [t.trial_id for t in every[:6]] == ids
    by_state = {s: [t.number for t in storage.get_trials(study_id, states=[s])] for s in TrialState}
    assert by_state == {
        TrialState.WAITING: [6],
        TrialState.RUNNING: [2, 5],
        TrialState.COMPLETE: [0, 3],
        TrialState.PRUNED: [],
        TrialState.FAIL: [1, 4],
    }
    both = storage.get_trials(study_id, states=[TrialState.FAIL, TrialState.COMPLETE])
    assert [t.number for t in both] == [0, 1, 3, 4]
    assert storage.get_trials(study_id, states=[]) == []


def test_finished_trial_reads_equal_and_running_ones_are_current(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    storage.set_trial_param(trial_id, "x", Float(0, 1), 0.5)
    running = storage.get_trials(study_id)[0]
    running.params["x"] = 0.9  # a copy: the storage does not see this
    storage.set_trial_intermediate(trial_id, 1, 0.3)
    current = storage.get_trials(study_id)[0]
    assert current.params == {"x": 0.5} and current.intermediate_values == {1: 0.3}
    storage.finish_trial(trial_id, TrialState.COMPLETE, [0.3])
    first, second = storage.get_trials(study_id)[0], storage.get_trials(study_id)[0]
    assert first == second == storage.get_trial(trial_id)
    assert first.state is TrialState.COMPLETE and first.value == 0.3


# Parameters in one call -----------------------------------------------------------------


def test_set_trial_params_round_trip(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    params: dict[str, tuple[Any, Any]] = {
        "lr": (Float(1e-5, 1e-1, log=True), 0.003),
        "depth": (Int(1, 8), 4),
        "opt": (Categorical(["adam", "sgd"]), "sgd"),
    }
    storage.set_trial_params(trial_id, params)
    storage.set_trial_params(trial_id, {"depth": (Int(1, 16), 9)})  # replaces one
    storage.set_trial_params(trial_id, {})
    expected = {**params, "depth": (Int(1, 16), 9)}
    for trial in (storage.get_trial(trial_id), storage.get_trials(study_id)[0]):
        assert trial.params == {k: v for k, (_, v) in expected.items()}
        assert trial.distributions == {k: d for k, (d, _) in expected.items()}
        assert list(trial.params) == ["lr", "depth", "opt"]  # first-set order


def test_set_trial_params_is_all_or_nothing(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    bad = {"a": (Float(0, 1), 0.5), "b": (Float(0, 1), float("nan"))}
    with pytest.raises(InvalidValueError, match="parameter 'b'"):
        storage.set_trial_params(trial_id, bad)
    assert storage.get_trial(trial_id).params == {}


def test_set_trial_params_needs_a_running_trial(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    params = {"x": (Float(0, 1), 0.5)}
    waiting = storage.create_trial(study_id, state=TrialState.WAITING).trial_id
    with pytest.raises(TrialStateError) as info:
        storage.set_trial_params(waiting, params)
    assert not isinstance(info.value, TrialFinishedError)
    finished = storage.create_trial(study_id).trial_id
    storage.finish_trial(finished, TrialState.COMPLETE, [1.0])
    with pytest.raises(TrialFinishedError, match="trial 1"):
        storage.set_trial_params(finished, params)
    with pytest.raises(TrialNotFoundError):
        storage.set_trial_params(finished + 1000, params)
    assert storage.get_trial(finished).params == {}


# Heartbeats -----------------------------------------------------------------------------


def test_heartbeats_and_stale_trials(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    other_id = storage.create_study("other", [MIN]).study_id
    beating = storage.create_trial(study_id)
    silent = storage.create_trial(study_id)  # driven by hand: never stale
    done = storage.create_trial(study_id)
    storage.create_trial(study_id, state=TrialState.WAITING)
    storage.heartbeat(storage.create_trial(other_id).trial_id)
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    for trial in (beating, done):
        storage.heartbeat(trial.trial_id)
    storage.finish_trial(done.trial_id, TrialState.COMPLETE, [1.0])
    assert storage.get_stale_trials(study_id, before) == []
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)
    stale = storage.get_stale_trials(study_id, future)
    assert [t.trial_id for t in stale] == [beating.trial_id]
    assert stale[0].state is TrialState.RUNNING and silent.trial_id not in {
        t.trial_id for t in stale
    }
    storage.heartbeat(beating.trial_id)  # later heartbeats move it forward
    assert storage.get_stale_trials(study_id, before) == []
    assert storage.get_stale_trials(study_id + other_id + 1000, future) == []


def test_heartbeat_needs_a_running_trial(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    storage.heartbeat(trial_id)
    storage.finish_trial(trial_id, TrialState.FAIL, system_attrs={"fail_reason": "lost"})
    with pytest.raises(TrialFinishedError, match="trial 0"):
        storage.heartbeat(trial_id)
    waiting = storage.create_trial(study_id, state=TrialState.WAITING).trial_id
    with pytest.raises(TrialStateError) as info:
        storage.heartbeat(waiting)
    assert not isinstance(info.value, TrialFinishedError)
    with pytest.raises(TrialNotFoundError):
        storage.heartbeat(trial_id + 1000)


def test_heartbeat_leaves_the_record_alone(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    seen = storage.get_trials(study_id)
    storage.heartbeat(trial_id)
    assert storage.get_trials(study_id) == seen


# Strict JSON ----------------------------------------------------------------------------

# (value, what json.dumps says about it); one test per storage keeps the suite fast.
NOT_JSON = [
    (float("nan"), "Out of range float"),
    (float("-inf"), "Out of range float"),
    (b"x", "not JSON serializable"),
    (object(), "not JSON serializable"),
    ({"k": [1, {2.5}]}, "not JSON serializable"),
    ({(1, 2): 3}, "keys must be str"),
]
CHOICE = Categorical(["a", "b"])


def _json_writes(storage: Storage, value: Any) -> list[tuple[str, Callable[[], object]]]:
    """Every call that stores a JSON value, with the name its error must give."""
    study_id = storage.load_study("s").study_id
    trial_id = storage.get_trials(study_id)[0].trial_id
    return [
        ("parameter 'lr'", lambda: storage.set_trial_params(trial_id, {"lr": (CHOICE, value)})),
        ("parameter 'lr'", lambda: storage.set_trial_param(trial_id, "lr", CHOICE, value)),
        ("attribute 'x'", lambda: storage.set_trial_attr(trial_id, "x", value)),
        ("attribute 'x'", lambda: storage.set_trial_attr(trial_id, "x", value, system=True)),
        ("study attribute 'k'", lambda: storage.set_study_attr(study_id, "k", value)),
        ("study attribute 'k'", lambda: storage.set_study_attr(study_id, "k", value, system=True)),
        ("system attributes", lambda: storage.create_trial(study_id, system_attrs={"a": value})),
        (
            "system attributes",
            lambda: storage.finish_trial(trial_id, TrialState.FAIL, system_attrs={"a": value}),
        ),
    ]


def test_values_that_are_not_strict_json_are_refused(storage: Storage) -> None:
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    before = storage.get_trials(study_id)
    for value, cause in NOT_JSON:
        for what, write in _json_writes(storage, value):
            with pytest.raises(InvalidValueError) as info:
                write()
            message = str(info.value)
            assert message.startswith(f"{what} must be a strict JSON value"), message
            assert repr(value) in message and cause in message, message
    # Nothing was written, and the trial can still finish.
    assert storage.get_trials(study_id) == before
    assert storage.load_study("s").user_attrs == storage.load_study("s").system_attrs == {}
    assert storage.finish_trial(trial_id, TrialState.COMPLETE, [1.0]).state is TrialState.COMPLETE


def test_json_coercions_are_the_same_everywhere(storage: Storage) -> None:
    # json.dumps turns int keys into strings and tuples into lists; every storage does.
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id, system_attrs={"t": (1, 2)}).trial_id
    storage.set_trial_attr(trial_id, "d", {1: 2, "x": (3, 4)})
    storage.set_study_attr(study_id, "d", {1: 2})
    trial = storage.get_trial(trial_id)
    assert trial.user_attrs == {"d": {"1": 2, "x": [3, 4]}}
    assert trial.system_attrs == {"t": [1, 2]}
    assert storage.load_study("s").user_attrs == {"d": {"1": 2}}


def test_objective_values_may_be_infinite_or_nan(storage: Storage) -> None:
    # Objective values are floats, not user JSON: a pruned trial keeps its last
    # intermediate value, which may be NaN. Every storage keeps them as given.
    study_id = storage.create_study("s", [MIN, MAX]).study_id
    first = storage.create_trial(study_id).trial_id
    storage.finish_trial(first, TrialState.COMPLETE, [math.inf, -math.inf])
    second = storage.create_trial(study_id).trial_id
    storage.finish_trial(second, TrialState.PRUNED, [math.nan])
    assert storage.get_trial(first).values == (math.inf, -math.inf)
    values = storage.get_trials(study_id)[1].values
    assert values is not None and len(values) == 1 and math.isnan(values[0])


# Names ----------------------------------------------------------------------------------

ODD_NAMES = [
    "it's",
    'say "hi"',
    "100%",
    "%s %(x)s %%",
    "?",
    ":name",
    "naïve ünïcode 名前 🎯",
    "'; DROP TABLE hptune_trials; --",
    "back\\slash",
    "tab\tnew\nline",
    "",
]


def test_odd_names_round_trip_exactly(storage: Storage) -> None:
    for name in ODD_NAMES:
        _check_name_round_trip(storage, name)


def _check_name_round_trip(storage: Storage, name: str) -> None:
    study_id = storage.create_study(name, [MIN]).study_id
    storage.set_study_attr(study_id, name, name)
    trial_id = storage.create_trial(study_id, system_attrs={name: name}).trial_id
    storage.set_trial_params(trial_id, {name: (Categorical([name, "other"]), name)})
    storage.set_trial_attr(trial_id, name, {name: [name]})
    assert storage.claim(study_id, trial_id, name)
    storage.finish_trial(trial_id, TrialState.COMPLETE, [1.0])
    record = storage.load_study(name)
    assert record.name == name and record.user_attrs == {name: name}
    assert [r.name for r in storage.list_studies()] == [name]
    trial = storage.get_trials(study_id)[0]
    assert trial.params == {name: name}
    assert trial.distributions == {name: Categorical([name, "other"])}
    assert trial.user_attrs == {name: {name: [name]}}
    assert trial.system_attrs == {name: name, "claim": name}
    storage.delete_study(name)
    assert storage.list_studies() == []


# Two clients ----------------------------------------------------------------------------


def test_a_second_client_sees_every_change(clients: tuple[Storage, Storage]) -> None:
    writer, reader = clients
    study_id = writer.create_study("s", [MIN]).study_id
    assert reader.get_trials(study_id) == []
    trial_id = writer.create_trial(study_id).trial_id
    assert [t.state for t in reader.get_trials(study_id)] == [TrialState.RUNNING]
    steps: list[tuple[Callable[[], object], Callable[[FrozenTrial], bool]]] = [
        (
            lambda: writer.set_trial_params(trial_id, {"x": (Float(0, 1), 0.5)}),
            lambda t: t.params == {"x": 0.5},
        ),
        (
            lambda: writer.set_trial_intermediate(trial_id, 1, 0.25),
            lambda t: t.intermediate_values == {1: 0.25},
        ),
        (lambda: writer.set_trial_attr(trial_id, "u", 1), lambda t: t.user_attrs == {"u": 1}),
        (lambda: writer.claim(study_id, trial_id, "k"), lambda t: t.system_attrs == {"claim": "k"}),
        (
            lambda: writer.finish_trial(trial_id, TrialState.COMPLETE, [0.25]),
            lambda t: t.state is TrialState.COMPLETE and t.values == (0.25,),
        ),
    ]
    for write, seen in steps:
        write()
        assert seen(reader.get_trials(study_id)[0])
        assert seen(reader.get_trial(trial_id))
    waiting = writer.create_trial(study_id, state=TrialState.WAITING).trial_id
    assert reader.get_trials(study_id, states=[TrialState.WAITING])[0].trial_id == waiting
    assert writer.pop_waiting_trial(study_id) is not None
    assert reader.get_trials(study_id, states=[TrialState.WAITING]) == []
    assert [t.number for t in reader.get_trials(study_id, states=[TrialState.RUNNING])] == [1]
    writer.delete_study("s")
    with pytest.raises(StudyNotFoundError):
        reader.get_trials(study_id)
    with pytest.raises(TrialNotFoundError):
        reader.get_trial(trial_id)
    again = writer.create_study("s", [MIN]).study_id
    assert reader.get_trials(again) == []


def test_reads_during_writes_are_ordered_and_complete(clients: tuple[Storage, Storage]) -> None:
    # Writers in threads; readers check that every history they get is numbered
    # 0..n-1 and that every finished trial in it has its parameter.
    writer, reader = clients
    study_id = writer.create_study("s", [MIN]).study_id

    def write(_: int) -> None:
        for _ in range(10):
            trial_id = writer.create_trial(study_id).trial_id
            writer.set_trial_params(trial_id, {"x": (Float(0, 1), 0.5)})
            writer.finish_trial(trial_id, TrialState.COMPLETE, [0.5])

    def read(_: int) -> None:
        for _ in range(15):
            history = reader.get_trials(study_id)
            assert [t.number for t in history] == list(range(len(history)))
            assert all(t.params == {"x": 0.5} for t in history if t.state.is_finished())

    _in_threads(6, lambda i: write(i) if i < 4 else read(i))
    final = reader.get_trials(study_id)
    assert len(final) == 40 and all(t.state is TrialState.COMPLETE for t in final)
    assert final == writer.get_trials(study_id)


# read_changes: the change cursor every history is advanced by ------------------------


def _numbers(changes: list[tuple[int, FrozenTrial]]) -> list[int]:
    return [trial.number for _, trial in changes]


def test_read_changes_from_zero_returns_every_trial_in_order(storage: Storage) -> None:
    study = storage.create_study("s", [StudyDirection.MINIMIZE])
    for _ in range(4):
        storage.create_trial(study.study_id)
    counter, changes = storage.read_changes(study.study_id, 0)
    assert _numbers(changes) == [0, 1, 2, 3]
    assert counter >= max(seq for seq, _ in changes) > 0
    assert storage.read_changes(study.study_id, counter) == (counter, [])


def test_read_changes_returns_only_what_changed_after_the_cursor(storage: Storage) -> None:
    study = storage.create_study("s", [StudyDirection.MINIMIZE])
    ids = [storage.create_trial(study.study_id).trial_id for _ in range(5)]
    cursor, _ = storage.read_changes(study.study_id, 0)

    storage.heartbeat(ids[0])  # not a change: readers need nothing new
    assert storage.read_changes(study.study_id, cursor) == (cursor, [])

    storage.set_trial_intermediate(ids[3], 1, 0.5)
    storage.set_trial_attr(ids[1], "k", 1)
    storage.finish_trial(ids[3], TrialState.COMPLETE, [0.1])
    counter, changes = storage.read_changes(study.study_id, cursor)
    assert counter > cursor
    assert _numbers(changes) == [1, 3]
    finished = changes[1][1]
    assert finished.state is TrialState.COMPLETE and finished.intermediate_values == {1: 0.5}

    later, _ = storage.read_changes(study.study_id, counter)
    assert later == counter


def test_every_kind_of_write_is_a_change(storage: Storage) -> None:
    study = storage.create_study("s", [StudyDirection.MINIMIZE])
    trial = storage.create_trial(study.study_id)
    storage.create_trial(study.study_id, state=TrialState.WAITING)
    writes: list[Callable[[], object]] = [
        lambda: storage.set_trial_params(trial.trial_id, {"x": (Float(0, 1), 0.5)}),
        lambda: storage.set_trial_intermediate(trial.trial_id, 2, 0.25),
        lambda: storage.set_trial_attr(trial.trial_id, "a", [1]),
        lambda: storage.set_trial_attr(trial.trial_id, "b", 2, system=True),
        lambda: storage.claim(study.study_id, trial.trial_id, "key"),
        lambda: storage.pop_waiting_trial(study.study_id),
        lambda: storage.finish_trial(trial.trial_id, TrialState.PRUNED, [0.25]),
    ]
    for write in writes:
        cursor, _ = storage.read_changes(study.study_id, 0)
        write()
        counter, changes = storage.read_changes(study.study_id, cursor)
        assert counter > cursor and changes, write


def test_read_changes_of_an_unknown_study_is_an_error(storage: Storage) -> None:
    with pytest.raises(StudyNotFoundError):
        storage.read_changes(12345, 0)


def test_histories_of_two_clients_see_each_others_writes(
    clients: tuple[Storage, Storage],
) -> None:
    first, second = clients
    study = first.create_study("s", [StudyDirection.MINIMIZE])
    seen = second.load_study("s")
    a = first.create_trial(study.study_id)
    assert [t.number for t in second.get_trials(seen.study_id)] == [0]

    b = second.create_trial(seen.study_id)
    first.set_trial_intermediate(a.trial_id, 1, 0.5)
    second.finish_trial(b.trial_id, TrialState.COMPLETE, [1.0])
    for client, study_id in ((first, study.study_id), (second, seen.study_id)):
        trials = client.get_trials(study_id)
        assert [t.state for t in trials] == [TrialState.RUNNING, TrialState.COMPLETE]
        assert trials[0].intermediate_values == {1: 0.5}
        view = client.history(study_id).advance(client, study_id)
        assert [t.number for t in view.running()] == [0]
        assert view.n_finished == 1


def test_a_deleted_and_recreated_study_is_read_afresh(storage: Storage) -> None:
    study = storage.create_study("s", [StudyDirection.MINIMIZE])
    for _ in range(3):
        storage.create_trial(study.study_id)
    assert len(storage.get_trials(study.study_id)) == 3
    storage.delete_study("s")
    again = storage.create_study("s", [StudyDirection.MINIMIZE])
    storage.create_trial(again.study_id)
    assert [t.number for t in storage.get_trials(again.study_id)] == [0]


def test_bad_arguments_are_refused_before_anything_is_written(storage: Storage) -> None:
    study = storage.create_study("s", [StudyDirection.MINIMIZE])
    trial = storage.create_trial(study.study_id)
    cursor, _ = storage.read_changes(study.study_id, 0)
    with pytest.raises(InvalidValueError, match="step=-1"):
        storage.set_trial_intermediate(trial.trial_id, -1, 0.5)
    with pytest.raises(InvalidValueError, match="step=nan"):
        storage.set_trial_intermediate(trial.trial_id, math.nan, 0.5)
    with pytest.raises(InvalidValueError, match="claim key"):
        storage.claim(study.study_id, trial.trial_id, 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="'bad'"):
        storage.set_trial_params(
            trial.trial_id, {"ok": (Float(0, 1), 0.5), "bad": (Float(0, 1), b"x")}
        )
    with pytest.raises(TrialStateError, match="final state"):
        storage.finish_trial(trial.trial_id, TrialState.RUNNING)
    assert storage.read_changes(study.study_id, cursor) == (cursor, [])


def test_a_trial_can_start_with_its_first_heartbeat(storage: Storage) -> None:
    study = storage.create_study("s", [StudyDirection.MINIMIZE])
    silent = storage.create_trial(study.study_id)
    beating = storage.create_trial(study.study_id, heartbeat=True)
    storage.create_trial(study.study_id, state=TrialState.WAITING)
    dequeued = storage.pop_waiting_trial(study.study_id, heartbeat=True)
    assert dequeued is not None
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)
    stale = {t.trial_id for t in storage.get_stale_trials(study.study_id, later)}
    assert stale == {beating.trial_id, dequeued.trial_id}  # never a trial without heartbeats
    assert silent.trial_id not in stale


@pytest.mark.parametrize("name", ["x" * 513, "nul\x00inside"])
def test_names_no_backend_keeps_exactly_are_refused_everywhere(storage: Storage, name: str) -> None:
    study = storage.create_study("s", [StudyDirection.MINIMIZE])
    trial = storage.create_trial(study.study_id)
    match = "at most 512 characters" if len(name) > 512 else "NUL"
    writes: list[Callable[[], object]] = [
        lambda: storage.set_trial_params(trial.trial_id, {name: (Float(0, 1), 0.5)}),
        lambda: storage.set_trial_attr(trial.trial_id, name, 1),
        lambda: storage.set_study_attr(study.study_id, name, 1),
        lambda: storage.create_trial(study.study_id, system_attrs={name: 1}),
    ]
    for write in writes:
        with pytest.raises(InvalidValueError, match=match):
            write()
    assert [t.number for t in storage.get_trials(study.study_id)] == [0]


def test_the_longest_name_round_trips(storage: Storage) -> None:
    name = "n" * 512
    _check_name_round_trip(storage, name)
