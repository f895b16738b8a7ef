"""copy_study: a study with every kind of trial, from memory to SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

import hptune as ht
from hptune.storage._copy import copy_study
from hptune.storage.memory import InMemoryStorage
from hptune.storage.sql import SQLStorage


def test_copy_keeps_numbers_states_values_and_attributes(tmp_path: Path) -> None:
    source = InMemoryStorage()
    study = ht.create_study("s", source, directions=["minimize", "maximize"], seed=0)
    study.set_user_attr("note", "café 'x' %s")
    complete = study.ask({"lr": ht.Float(1e-4, 1e-1, log=True), "opt": ht.Categorical(["a", None])})
    complete.report(0.7, step=1)
    complete.set_user_attr("gpu", 0)
    study.tell(complete, [0.5, 2.0])
    failed = study.ask({"n": ht.Int(1, 9)})
    study.tell(failed, state=ht.TrialState.FAIL)
    study.enqueue_trial({"n": 3}, user_attrs={"why": "known good"})
    running = study.ask()  # the enqueued trial, started
    study.enqueue_trial({"n": 4})

    target = SQLStorage(f"sqlite:///{tmp_path / 'copy.db'}")
    record = copy_study(source, "s", target)

    assert record.directions == study.directions
    assert record.user_attrs == {"note": "café 'x' %s"}
    before, after = source.get_trials(study.study_id), target.get_trials(record.study_id)
    assert [t.number for t in after] == [0, 1, 2, 3]
    assert [t.state for t in after] == [t.state for t in before]
    for old, new in zip(before, after, strict=True):
        assert (new.params, new.distributions) == (old.params, old.distributions)
        assert new.values == old.values
        assert new.intermediate_values == old.intermediate_values
        assert new.user_attrs == old.user_attrs
        assert new.system_attrs == old.system_attrs
    assert running.number == 2 and after[2].state is ht.TrialState.RUNNING
    copied = ht.load_study("s", target, seed=0)
    popped = copied.ask()  # the WAITING copy is started first, with its fixed value
    assert popped.number == 3 and popped.suggest_int("n", 1, 9) == 4
    with pytest.raises(ht.DuplicatedStudyError):
        copy_study(source, "s", target)
    target.close()
