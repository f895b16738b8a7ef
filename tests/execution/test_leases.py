"""Heartbeats, lost workers, retries and late tells."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import hptune as ht
from hptune.execution.leases import Leases, reap_lost_trials

FAST = Leases(heartbeat_interval=0.05, grace_period=0.2, max_retries=1)


def lose_a_trial(study: ht.Study, params: dict[str, Any]) -> ht.Trial:
    """Start a trial the way a worker does (first heartbeat sent), then go silent."""
    trial = study.ask({name: ht.Float(0, 10) for name in params} if params else None)
    study.storage.heartbeat(trial.trial_id)
    return trial


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"heartbeat_interval": 0}, "heartbeat_interval must be a finite number > 0, got .*=0"),
        ({"heartbeat_interval": float("nan")}, "heartbeat_interval must be a finite number > 0"),
        ({"heartbeat_interval": "5"}, "heartbeat_interval must be a finite number > 0, got .*'5'"),
        ({"grace_period": -1.0}, "grace_period must be a finite number > 0, got .*=-1.0"),
        ({"heartbeat_interval": 5.0, "grace_period": 5.0}, "must exceed heartbeat_interval"),
        ({"max_retries": -1}, "max_retries must be an int >= 0, got max_retries=-1"),
        ({"max_retries": 1.5}, "max_retries must be an int >= 0, got max_retries=1.5"),
    ],
)
def test_leases_reject_bad_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ht.ConfigurationError, match=match):
        Leases(**kwargs)


def test_a_silent_trial_is_failed_and_queued_again_with_its_parameters() -> None:
    study = ht.create_study(leases=FAST, seed=0)
    lost = lose_a_trial(study, {"x": None})
    time.sleep(0.3)
    reaped = reap_lost_trials(study.storage, study.study_id, FAST)
    assert [t.number for t in reaped] == [lost.number]
    record = study.trials[lost.number]
    assert record.state is ht.TrialState.FAIL
    assert record.fail_reason is not None and record.fail_reason.startswith("lost worker")
    copy = study.trials[-1]
    assert copy.state is ht.TrialState.WAITING
    assert copy.system_attrs["retry_of"] == lost.number
    # The next ask runs the copy, with the same parameters.
    again = study.ask()
    assert again.number == copy.number
    assert again.suggest_float("x", 0, 10) == lost.params["x"]


def test_the_late_tell_of_a_lost_worker_is_rejected_and_changes_nothing() -> None:
    study = ht.create_study(leases=FAST, seed=0)
    lost = lose_a_trial(study, {"x": None})
    time.sleep(0.3)
    reap_lost_trials(study.storage, study.study_id, FAST)
    before = study.trials[lost.number]
    with pytest.raises(ht.TrialFinishedError, match="fail already"):
        study.tell(lost, 1.0)
    assert study.trials[lost.number] == before


def test_retries_stop_after_max_retries() -> None:
    study = ht.create_study(leases=FAST, seed=0)
    lose_a_trial(study, {"x": None})
    time.sleep(0.3)
    reap_lost_trials(study.storage, study.study_id, FAST)
    retry = study.ask()  # the copy, lost again
    study.storage.heartbeat(retry.trial_id)
    time.sleep(0.3)
    reap_lost_trials(study.storage, study.study_id, FAST)
    states = [t.state for t in study.trials]
    assert states == [ht.TrialState.FAIL, ht.TrialState.FAIL]  # no third copy


def test_ask_tell_trials_without_heartbeats_are_never_taken() -> None:
    study = ht.create_study(leases=FAST, seed=0)
    trial = study.ask()
    time.sleep(0.3)
    study.ask()  # an ask reaps lost trials
    assert study.trials[trial.number].state is ht.TrialState.RUNNING
    study.tell(trial, 1.0)


def test_ask_reaps_lost_trials_of_other_workers() -> None:
    study = ht.create_study(leases=FAST, seed=0)
    lost = lose_a_trial(study, {})
    time.sleep(0.3)
    nxt = study.ask()  # reaps the lost trial, then starts its retry copy first
    assert study.trials[lost.number].state is ht.TrialState.FAIL
    assert nxt.number == lost.number + 1
    assert study.trials[nxt.number].system_attrs["retry_of"] == lost.number
    assert study.trials[nxt.number].state is ht.TrialState.RUNNING


def test_heartbeats_keep_a_long_trial_alive_while_others_ask() -> None:
    # A grace of ten heartbeats: a loaded machine may delay one beat, not ten.
    leases = Leases(heartbeat_interval=0.1, grace_period=1.0, max_retries=1)
    study = ht.create_study(leases=leases, seed=0)
    started = threading.Event()

    def objective(trial: ht.Trial) -> float:
        if trial.number == 0:
            started.set()
            time.sleep(3.0)  # three grace periods
        return trial.suggest_float("x", 0, 1)

    def others() -> None:
        assert started.wait(timeout=60), "the long trial never started"
        for _ in range(12):
            time.sleep(0.2)
            t = study.ask()  # each ask reaps trials silent for longer than the grace
            study.tell(t, 0.0)

    thread = threading.Thread(target=others)
    thread.start()
    study.optimize(objective, n_trials=1, show_progress=False)
    thread.join()
    assert study.trials[0].state is ht.TrialState.COMPLETE
    assert all(t.state is not ht.TrialState.WAITING for t in study.trials)


class Died(BaseException):
    """Stands for the worker process dying (kill -9) at that point."""


@pytest.mark.parametrize("queued", [False, True], ids=["new", "dequeued"])
def test_a_worker_that_dies_before_its_first_heartbeat_is_found(
    monkeypatch: pytest.MonkeyPatch, queued: bool
) -> None:
    from hptune.execution.worker import RunningTrials, run_trial

    def die(self: RunningTrials, trial_id: int) -> None:
        raise Died  # after the trial was created, before the heartbeat thread took it

    study = ht.create_study(leases=FAST, sampler="random", seed=0)
    if queued:
        study.enqueue_trial({"x": 1.0})
    running = RunningTrials(study)
    monkeypatch.setattr(RunningTrials, "add", die)
    with pytest.raises(Died):
        run_trial(study, lambda t: t.suggest_float("x", 0, 2), (Exception,), running)
    monkeypatch.undo()
    running.close()
    lost = study.trials[0]
    assert lost.state is ht.TrialState.RUNNING

    deadline = time.monotonic() + 30  # generous: the reaper needs one grace period
    while study.trials[0].state is ht.TrialState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
        study.tell(study.ask(), 0.0)  # every ask may reap
    assert study.trials[0].state is ht.TrialState.FAIL, "the dead worker's trial stayed RUNNING"
    assert "lost worker" in (study.trials[0].fail_reason or "")
    retries = [t for t in study.trials if t.system_attrs.get("retry_of") == 0]
    assert len(retries) == 1
