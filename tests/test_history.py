"""The history a study is read through: advanced by change cursor, views that stay put."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hptune as ht
from hptune.history import History, Memo, as_view
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.storage import InMemoryStorage, Storage

MIN = [StudyDirection.MINIMIZE]

# One write each: ("create",), ("report", k), ("attr", k), ("finish", k); k picks a
# running trial (modulo their number).
OPERATIONS = st.lists(
    st.one_of(
        st.just(("create", 0)),
        st.tuples(st.sampled_from(["report", "attr", "finish", "advance"]), st.integers(0, 50)),
    ),
    max_size=60,
)


def _apply(storage: Storage, study_id: int, op: tuple[str, int], step: list[int]) -> None:
    kind, k = op
    running = [t for t in storage.read_changes(study_id, 0)[1] if not t[1].state.is_finished()]
    if kind == "create":
        storage.create_trial(study_id)
    elif running:
        trial = running[k % len(running)][1]
        step[0] += 1
        if kind == "report":
            storage.set_trial_intermediate(trial.trial_id, step[0], float(k))
        elif kind == "attr":
            storage.set_trial_attr(trial.trial_id, f"a{k}", k)
        else:
            storage.finish_trial(trial.trial_id, TrialState.COMPLETE, [float(k)])


@given(OPERATIONS)
def test_a_history_advanced_step_by_step_equals_a_fresh_read(ops: list[Any]) -> None:
    storage = InMemoryStorage()
    study_id = storage.create_study("s", MIN).study_id
    history = History()
    views: list[tuple[Any, list[FrozenTrial]]] = []
    step = [0]
    for op in ops:
        if op[0] == "advance":
            view = history.advance(storage, study_id)
            views.append((view, [_copy(t) for t in view]))
        else:
            _apply(storage, study_id, op, step)
    view = history.advance(storage, study_id)
    fresh = [trial for _, trial in storage.read_changes(study_id, 0)[1]]
    assert list(view) == fresh
    assert [t.number for t in view.unfinished()] == [
        t.number for t in fresh if not t.state.is_finished()
    ]
    finished = {t.number for t in fresh if t.state.is_finished()}
    assert sorted(t.number for t in view.finished_since(0)) == sorted(finished)
    assert view.n_finished == len(finished)
    for old, seen in views:  # views taken earlier do not move with the history
        assert [_copy(t) for t in old] == seen


def _copy(trial: FrozenTrial) -> tuple[Any, ...]:
    return (trial.number, trial.state, dict(trial.intermediate_values), dict(trial.user_attrs))


def test_finished_since_gives_each_trial_once_to_a_reader() -> None:
    study = ht.create_study(sampler="random", seed=0)
    history = study.storage.history(study.study_id)
    seen: list[int] = []
    n_seen = 0
    for i in range(10):
        trial = study.ask()
        if i % 3:
            study.tell(trial, float(i))
        view = history.advance(study.storage, study.study_id)
        seen += [t.number for t in view.finished_since(n_seen)]
        n_seen = view.n_seen
    assert sorted(seen) == [i for i in range(10) if i % 3]
    assert len(seen) == len(set(seen))


def test_a_view_without_a_trial_leaves_only_that_one_out() -> None:
    trials = [FrozenTrial(n, n, TrialState.COMPLETE, values=(float(n),)) for n in range(5)]
    view = as_view(trials)
    assert [t.number for t in view.without(2)] == [0, 1, 3, 4]
    assert view.without(2)[2].number == 3
    assert view.without(2)[-1].number == 4
    assert view.without(7) is view  # not in the view: nothing to leave out
    partial = as_view(trials[2:])  # a partial history: numbers are not positions
    assert [t.number for t in partial.without(3)] == [2, 4]
    with pytest.raises(IndexError):
        view.without(2)[4]


def test_a_recreated_study_is_read_afresh() -> None:
    storage = InMemoryStorage()
    first = storage.create_study("s", MIN)
    for _ in range(3):
        storage.create_trial(first.study_id)
    history = History()
    assert len(history.advance(storage, first.study_id)) == 3

    class Replaced(InMemoryStorage):
        """The same study id, its counter started over (deleted and made again)."""

        def read_changes(self, study_id: int, cursor: int) -> Any:
            return storage.read_changes(again.study_id, cursor)

    storage.delete_study("s")
    again = storage.create_study("s", MIN)
    storage.create_trial(again.study_id)
    assert [t.number for t in history.advance(Replaced(), first.study_id)] == [0]


def test_the_memo_keeps_a_few_items_of_each_kind() -> None:
    memo = Memo()
    made = [memo.get(("encoded", i), lambda i=i: i, keep=3) for i in range(5)]
    assert made == [0, 1, 2, 3, 4]
    memo.get(("union",), lambda: "u", keep=1)
    assert memo.get(("encoded", 4), lambda: "new") == 4  # kept
    assert memo.get(("encoded", 0), lambda: "new") == "new"  # dropped, made again
    assert memo.get(("union",), lambda: "other") == "u"  # another kind is not counted
