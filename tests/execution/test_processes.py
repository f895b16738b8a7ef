"""optimize(executor="processes"): worker processes against one storage, and their faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _objectives import KillOnce, quick, raises_key_error, slow

import hptune as ht
from hptune.execution.leases import Leases
from hptune.storage.sql import SQLStorage


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStorage]:
    """A storage every worker process opens again (SQLite file or a PostgreSQL schema)."""
    if request.param == "sqlite":
        storage = SQLStorage(f"sqlite:///{tmp_path / 'study.db'}")
    else:
        pg_url, options = request.getfixturevalue("postgres_url_and_options")
        storage = SQLStorage(pg_url, engine_kwargs=options)
    yield storage
    storage.close()


def test_processes_run_exactly_n_trials_with_unique_numbers(shared: SQLStorage) -> None:
    study = ht.create_study("p", shared, seed=0)
    reason = study.optimize(quick, n_trials=13, n_jobs=3, executor="processes", show_progress=False)
    assert reason.rule == "n_trials"
    trials = study.trials
    assert [t.number for t in trials] == list(range(13))
    assert all(t.state is ht.TrialState.COMPLETE for t in trials)
    assert len({t.params["x"] for t in trials}) == 13


def test_processes_honour_study_level_stop_rules(url: str) -> None:
    study = ht.create_study("p", url, seed=0)
    reason = study.optimize(
        quick, n_jobs=2, executor="processes", stop=ht.MaxTrials(6), show_progress=False
    )
    assert reason.rule == "max_trials"
    assert 6 <= len(study.trials) <= 7  # each process checks before starting a trial


def test_an_exception_outside_catch_is_raised_from_the_workers(url: str) -> None:
    study = ht.create_study("p", url, seed=0)
    with pytest.raises(KeyError, match="missing column"):
        study.optimize(
            raises_key_error,
            n_trials=4,
            n_jobs=2,
            executor="processes",
            catch=(ValueError,),
            show_progress=False,
        )
    assert all(t.state is ht.TrialState.FAIL for t in study.trials)


def test_a_killed_worker_is_replaced_and_its_trial_reclaimed(
    shared: SQLStorage, tmp_path: Path
) -> None:
    leases = Leases(heartbeat_interval=0.2, grace_period=0.6)
    study = ht.create_study("p", shared, seed=0, leases=leases)
    marker = tmp_path / "killed"
    study.optimize(
        KillOnce(marker), n_trials=8, n_jobs=2, executor="processes", show_progress=False
    )
    killed = int(marker.read_text())
    trials = study.trials
    states = [t.state for t in trials]
    assert states.count(ht.TrialState.COMPLETE) == 8
    assert ht.TrialState.RUNNING not in states and ht.TrialState.WAITING not in states
    lost = trials[killed]
    assert lost.state is ht.TrialState.FAIL and "lost worker" in (lost.fail_reason or "")
    retry = [t for t in trials if t.system_attrs.get("retry_of") == killed]
    assert len(retry) == 1 and retry[0].params == lost.params


@pytest.mark.parametrize(
    ("objective", "storage", "match"),
    [
        (lambda t: 0.0, "url", "objective defined at the top level"),
        (quick, None, "storage every process can open"),
    ],
)
def test_processes_need_picklable_pieces(
    objective: object, storage: str | None, match: str, url: str
) -> None:
    study = ht.create_study(storage=url if storage else None)
    with pytest.raises(ht.ConfigurationError, match=match):
        study.optimize(objective, n_trials=2, n_jobs=2, executor="processes")  # type: ignore[arg-type]


def test_unknown_executor_is_named() -> None:
    with pytest.raises(ht.ConfigurationError, match="executor must be one of"):
        ht.create_study().optimize(slow, n_trials=1, executor="gpu")  # type: ignore[arg-type]
