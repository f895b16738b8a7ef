"""Leases: workers prove they are alive; trials of lost workers are failed and retried.

A worker running trials inside ``optimize`` records a heartbeat for each of them every
``heartbeat_interval`` seconds. A RUNNING trial whose heartbeat is older than the grace
period belongs to a lost worker (killed, preempted, its machine gone): the next worker
that asks marks it FAIL ("lost worker") and, when the retry policy allows, queues a
WAITING copy with the same parameters. The lost worker's late ``tell`` is then rejected
(:class:`~hptune.exceptions.TrialFinishedError`) and changes nothing. Trials driven by
hand through ask/tell send no heartbeat and are never taken away.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hptune.exceptions import ConfigurationError, StorageError, TrialFinishedError, TrialStateError
from hptune.records import FrozenTrial, TrialState
from hptune.validation import check_int, check_real

if TYPE_CHECKING:
    from hptune.storage.base import Storage

__all__ = ["Heartbeat", "Leases", "fail_and_retry", "reap_lost_trials"]

_logger = logging.getLogger("hptune")


@dataclass(frozen=True, slots=True)
class Leases:
    """How often workers send heartbeats, when a silent trial counts as lost, and retries.

    Args:
        heartbeat_interval: seconds between a worker's heartbeats for its trials.
        grace_period: seconds of silence after which a trial is lost; None means four
            heartbeat intervals.
        max_retries: how many times a trial lost (or preempted by SIGTERM/SIGHUP) is
            queued again with the same parameters.

    Example:
        >>> Leases(heartbeat_interval=2.0).grace
        8.0
    """

    heartbeat_interval: float = 5.0
    grace_period: float | None = None
    max_retries: int = 1

    def __post_init__(self) -> None:
        for name in ("heartbeat_interval", "grace_period"):
            value = getattr(self, name)
            if value is None and name == "grace_period":
                continue
            check_real("Leases", name, value, low=0, low_open=True)
        if self.grace_period is not None and self.grace_period <= self.heartbeat_interval:
            raise ConfigurationError(
                f"Leases: grace_period must exceed heartbeat_interval, got grace_period="
                f"{self.grace_period!r} <= heartbeat_interval={self.heartbeat_interval!r}; "
                "live workers would lose their trials."
            )
        check_int("Leases", "max_retries", self.max_retries)

    @property
    def grace(self) -> float:
        """The grace period in seconds."""
        return self.grace_period if self.grace_period is not None else 4 * self.heartbeat_interval


def fail_and_retry(
    storage: Storage, study_id: int, trial_id: int, reason: str, *, max_retries: int
) -> FrozenTrial | None:
    """Fail a RUNNING trial and queue a copy with its parameters if retries remain.

    Returns the failed trial, or None when another worker finished it first (the
    compare-and-set in ``finish_trial`` makes exactly one caller win).
    """
    try:
        failed = storage.finish_trial(
            trial_id, TrialState.FAIL, system_attrs={"fail_reason": reason}
        )
    except (TrialFinishedError, TrialStateError):
        return None
    retries = int(failed.system_attrs.get("retries", 0))
    if retries < max_retries:
        copy = storage.create_trial(
            study_id,
            state=TrialState.WAITING,
            system_attrs={
                "fixed_params": dict(failed.params),
                "retry_of": failed.number,
                "retries": retries + 1,
            },
        )
        _logger.warning(
            "trial %d failed (%s); queued again as trial %d", failed.number, reason, copy.number
        )
    else:
        _logger.warning("trial %d failed (%s); no retry left", failed.number, reason)
    return failed


def reap_lost_trials(storage: Storage, study_id: int, leases: Leases) -> list[FrozenTrial]:
    """Fail (and retry) every trial whose heartbeat is older than the grace period."""
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=leases.grace)
    reaped = []
    for trial in storage.get_stale_trials(study_id, before):
        reason = f"lost worker: no heartbeat for more than {leases.grace:g} s"
        failed = fail_and_retry(
            storage, study_id, trial.trial_id, reason, max_retries=leases.max_retries
        )
        if failed is not None:
            reaped.append(failed)
    return reaped


class Heartbeat:
    """A daemon thread that records a heartbeat for each trial this worker runs.

    ``add`` sends the first heartbeat at once, so a worker killed right after starting
    a trial is still detected. A trial whose heartbeat is refused (it was failed as lost
    meanwhile) is dropped.
    """

    def __init__(self, storage: Storage, interval: float) -> None:
        self._storage = storage
        self._interval = interval
        self._trials: set[int] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hptune-heartbeat", daemon=True)
        self._thread.start()

    def add(self, trial_id: int) -> None:
        """Start sending heartbeats for ``trial_id``."""
        self._beat(trial_id)
        with self._lock:
            self._trials.add(trial_id)

    def discard(self, trial_id: int) -> None:
        """Stop sending heartbeats for ``trial_id``."""
        with self._lock:
            self._trials.discard(trial_id)

    def stop(self) -> None:
        """Stop the thread."""
        self._stopped.set()
        self._thread.join(timeout=self._interval + 1)

    def _beat(self, trial_id: int) -> None:
        try:
            self._storage.heartbeat(trial_id)
        except (TrialFinishedError, TrialStateError):
            self.discard(trial_id)
        except StorageError as e:  # a passing outage: the next beat may get through
            _logger.warning("heartbeat for trial id %d failed: %s", trial_id, e)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            with self._lock:
                trials = list(self._trials)
            for trial_id in trials:
                self._beat(trial_id)
