"""optimize(executor="processes"): worker processes against one storage, and their faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _objectives import KillOnce, StuckOrRaise, quick, raises_key_error, slow

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
    # The other worker is stopped with SIGINT wherever it is; inside ``ask`` the signal
    # is held until its trial is registered, so that trial fails too (none left RUNNING).
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
    # A grace longer than the test: the parent sees its worker die and fails the trial at
    # once, without waiting for the missing heartbeats (nor mistaking a live worker, slow
    # on a loaded machine, for a lost one).
    leases = Leases(heartbeat_interval=5.0, grace_period=600.0)
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
    assert lost.state is ht.TrialState.FAIL
    assert "lost worker" in (lost.fail_reason or "") and "exit code -9" in (lost.fail_reason or "")
    retry = [t for t in trials if t.system_attrs.get("retry_of") == killed]
    assert len(retry) == 1 and retry[0].params == lost.params


def test_a_worker_that_ignores_the_stop_is_killed_and_its_trial_failed(
    url: str, tmp_path: Path
) -> None:
    study = ht.create_study("p", url, sampler="random", seed=0)
    with pytest.raises(KeyError, match="missing column"):
        study.optimize(
            StuckOrRaise(tmp_path / "stuck"),
            n_trials=2,
            n_jobs=2,
            executor="processes",
            catch=(),
            show_progress=False,
        )
    stuck, raised = study.trials
    assert raised.state is ht.TrialState.FAIL and "KeyError" in (raised.fail_reason or "")
    assert stuck.state is ht.TrialState.FAIL  # not left RUNNING
    assert "was killed" in (stuck.fail_reason or "")


def test_processes_need_a_top_level_objective(url: str) -> None:
    study = ht.create_study(storage=url)
    with pytest.raises(ht.ConfigurationError, match="objective defined at the top level"):
        study.optimize(lambda t: 0.0, n_trials=2, n_jobs=2, executor="processes")
    in_memory = ht.create_study()
    with pytest.raises(ht.ConfigurationError, match="objective defined at the top level"):
        in_memory.optimize(lambda t: 0.0, n_trials=2, n_jobs=2, executor="processes")
    assert isinstance(in_memory.storage, ht.InMemoryStorage)  # not moved for nothing


def test_an_in_memory_study_moves_to_a_temporary_sqlite_file(
    caplog: pytest.LogCaptureFixture,
) -> None:
    study = ht.create_study("mem", direction="minimize", seed=0)
    study.set_user_attr("owner", "me")
    study.enqueue_trial({"x": 0.5})
    first = study.ask()
    study.tell(first, quick(first))
    study.enqueue_trial({"x": 0.25})  # still waiting when the workers start
    with caplog.at_level("WARNING", logger="hptune"):
        study.optimize(quick, n_trials=6, n_jobs=2, executor="processes", show_progress=False)
    assert "temporary SQLite file" in caplog.text
    assert isinstance(study.storage, SQLStorage)
    trials = study.trials
    assert [t.number for t in trials] == list(range(7))
    assert trials[0].params == {"x": 0.5} and trials[0].value == pytest.approx(0.25)
    assert trials[1].params == {"x": 0.25}  # the enqueued trial was run by a worker
    assert all(t.state is ht.TrialState.COMPLETE for t in trials)
    assert study.user_attrs == {"owner": "me"}
    # The study goes on in this process too.
    trial = study.ask()
    study.tell(trial, 1.0)
    assert len(study.trials) == 8


def test_unknown_executor_is_named() -> None:
    with pytest.raises(ht.ConfigurationError, match="executor must be one of"):
        ht.create_study().optimize(slow, n_trials=1, executor="gpu")  # type: ignore[arg-type]


def test_load_if_exists_in_many_processes_at_once(tmp_path: Path) -> None:
    import concurrent.futures
    import multiprocessing

    from _objectives import create_or_load

    url = f"sqlite:///{tmp_path / 'race.db'}"
    context = multiprocessing.get_context("spawn")
    n = 6
    with context.Manager() as manager:
        barrier = manager.Barrier(n)
        with concurrent.futures.ProcessPoolExecutor(n, mp_context=context) as pool:
            ids = list(pool.map(create_or_load, [url] * n, [barrier] * n, timeout=300))
    assert len(set(ids)) == 1
    assert [r.name for r in ht.list_studies(url)] == ["s"]


def test_workers_of_a_killed_parent_stop_and_their_trials_are_not_left_running(
    tmp_path: Path,
) -> None:
    import multiprocessing
    import os
    import signal
    import time

    from _objectives import optimize_in_processes

    url = f"sqlite:///{tmp_path / 'orphans.db'}"
    folder = tmp_path / "pids"
    folder.mkdir()
    parent = multiprocessing.get_context("spawn").Process(
        target=optimize_in_processes, args=(url, str(folder))
    )
    parent.start()
    deadline = time.monotonic() + 120  # generous: two workers start on a loaded machine
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = [int(p.name) for p in folder.iterdir()]
    assert len(pids) == 2, "the workers did not start"
    assert parent.pid is not None
    os.kill(parent.pid, signal.SIGKILL)
    parent.join()

    def alive(pid: int) -> bool:
        # A zombie has ended: count it dead even where nobody reaps orphans (a container
        # whose first process does not).
        stat = Path(f"/proc/{pid}/stat")
        try:
            return stat.read_text().rpartition(")")[2].split()[0] != "Z"
        except OSError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pids), "orphaned workers kept running"
    trials = ht.load_study("orphans", url).trials
    assert not [t.number for t in trials if t.state is ht.TrialState.RUNNING]
    assert sum(t.state is ht.TrialState.FAIL for t in trials) == 2


def test_a_script_without_a_main_guard_is_told_what_to_do(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "import hptune as ht\n"
        "def objective(trial):\n"
        "    return trial.suggest_float('x', 0, 1)\n"
        f"study = ht.create_study(storage='sqlite:///{tmp_path / 'u.db'}')\n"
        "study.optimize(objective, n_trials=4, n_jobs=2, executor='processes',"
        " show_progress=False)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    assert "so put that code under `if __name__ == '__main__':`" in done.stderr, done.stderr[-2000:]
