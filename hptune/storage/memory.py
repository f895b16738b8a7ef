"""In-memory storage: fast, thread-safe, gone when the process ends."""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import replace

from hptune.exceptions import (
    DuplicatedStudyError,
    StudyNotFoundError,
    TrialNotFoundError,
)
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.storage.base import (
    JSONValue,
    ParamRow,
    Storage,
    StudyRecord,
    not_running_error,
    snapshot,
)

__all__ = ["InMemoryStorage"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class InMemoryStorage(Storage):
    """Keep studies in this process's memory; every operation holds one lock.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(storage=InMemoryStorage())
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[str, StudyRecord] = {}
        self._trials: dict[int, FrozenTrial] = {}
        self._study_of: dict[int, int] = {}
        self._trials_by_study: dict[int, list[FrozenTrial]] = {}  # index = trial number
        self._unfinished: dict[int, set[int]] = {}  # numbers of running and waiting trials
        self._waiting: dict[int, deque[int]] = {}  # numbers of waiting trials, oldest first
        self._claims: dict[tuple[int, str], int] = {}
        self._next_study_id = 0
        self._next_trial_id = 0
        self._heartbeats: dict[int, dt.datetime] = {}
        # Per study: the change counter, and each trial's last change number, the most
        # recently changed last (so read_changes reads only the tail).
        self._seq: dict[int, int] = {}
        self._changed: dict[int, dict[int, int]] = {}

    def create_study(self, name: str, directions: Sequence[StudyDirection]) -> StudyRecord:
        with self._lock:
            if name in self._studies:
                raise DuplicatedStudyError(f"a study named {name!r} exists already.")
            record = StudyRecord(
                self._next_study_id, name, tuple(directions), datetime_created=_now()
            )
            self._next_study_id += 1
            self._studies[name] = record
            self._trials_by_study[record.study_id] = []
            self._unfinished[record.study_id] = set()
            self._waiting[record.study_id] = deque()
            self._seq[record.study_id] = 0
            self._changed[record.study_id] = {}
            return record

    def load_study(self, name: str) -> StudyRecord:
        with self._lock:
            record = self._record(name)
            return replace(
                record,
                n_trials=len(self._trials_by_study[record.study_id]),
                user_attrs=copy.deepcopy(record.user_attrs),
                system_attrs=copy.deepcopy(record.system_attrs),
            )

    def delete_study(self, name: str) -> None:
        with self._lock:
            record = self._record(name)
            for trial in self._trials_by_study.pop(record.study_id):
                del self._trials[trial.trial_id]
                del self._study_of[trial.trial_id]
            del self._unfinished[record.study_id], self._waiting[record.study_id]
            del self._seq[record.study_id], self._changed[record.study_id]
            self._claims = {k: v for k, v in self._claims.items() if k[0] != record.study_id}
            del self._studies[name]

    def list_studies(self) -> list[StudyRecord]:
        with self._lock:
            return [self.load_study(name) for name in self._studies]

    def _set_study_attr(self, study_id: int, key: str, value: JSONValue, system: bool) -> None:
        with self._lock:
            for record in self._studies.values():
                if record.study_id == study_id:
                    attrs = record.system_attrs if system else record.user_attrs
                    attrs[key] = value.value
                    return
            raise StudyNotFoundError(f"no study with id {study_id}.")

    def _create_trial(
        self,
        study_id: int,
        state: TrialState,
        system_attrs: dict[str, JSONValue],
        params: list[ParamRow],
        expected_number: int | None,
        heartbeat: bool,
    ) -> FrozenTrial:
        with self._lock:
            if study_id not in self._trials_by_study:
                raise StudyNotFoundError(f"no study with id {study_id}.")
            numbers = self._trials_by_study[study_id]
            trial = FrozenTrial(
                number=len(numbers),
                trial_id=self._next_trial_id,
                state=state,
                system_attrs={key: v.value for key, v in system_attrs.items()},
                datetime_start=_now() if state is TrialState.RUNNING else None,
            )
            self._next_trial_id += 1
            self._trials[trial.trial_id] = trial
            self._study_of[trial.trial_id] = study_id
            if expected_number is None or expected_number == trial.number:
                for name, distribution, value in params:
                    trial.params[name] = value.value
                    trial.distributions[name] = distribution
            numbers.append(trial)
            if heartbeat:
                self._heartbeats[trial.trial_id] = _now()
            self._unfinished[study_id].add(trial.number)
            self._touch(study_id, trial.number)
            if state is TrialState.WAITING:
                self._waiting[study_id].append(trial.number)
            return snapshot(trial)

    def pop_waiting_trial(self, study_id: int, *, heartbeat: bool = False) -> FrozenTrial | None:
        with self._lock:
            waiting = self._waiting.get(study_id)
            if not waiting:
                return None
            trial = self._trials_by_study[study_id][waiting.popleft()]
            trial = replace(trial, state=TrialState.RUNNING, datetime_start=_now())
            self._store(trial)
            if heartbeat:
                self._heartbeats[trial.trial_id] = _now()
            self._touch(study_id, trial.number)
            return snapshot(trial)

    def _claim(self, study_id: int, trial_id: int, key: str) -> bool:
        with self._lock:
            trial = self._running(trial_id)
            holder = self._claims.setdefault((study_id, key), trial_id)
            if holder != trial_id:
                return False
            trial.system_attrs["claim"] = key
            self._touch(study_id, trial.number)
            return True

    def _set_trial_params(self, trial_id: int, params: list[ParamRow]) -> None:
        with self._lock:
            trial = self._running(trial_id)
            for name, distribution, value in params:
                trial.params[name] = value.value
                trial.distributions[name] = distribution
            self._touch(self._study_of[trial_id], trial.number)

    def heartbeat(self, trial_id: int) -> None:
        with self._lock:
            self._running(trial_id)
            self._heartbeats[trial_id] = _now()

    def get_stale_trials(self, study_id: int, before: dt.datetime) -> list[FrozenTrial]:
        with self._lock:
            trials = self._trials_by_study.get(study_id, [])
            return [
                snapshot(trials[n])
                for n in sorted(self._unfinished.get(study_id, ()))
                if trials[n].state is TrialState.RUNNING
                and self._heartbeats.get(trials[n].trial_id, before) < before
            ]

    def _set_trial_intermediate(self, trial_id: int, step: int | float, value: float) -> None:
        with self._lock:
            trial = self._running(trial_id)
            trial.intermediate_values[step] = value
            self._touch(self._study_of[trial_id], trial.number)

    def _set_trial_attr(self, trial_id: int, key: str, value: JSONValue, system: bool) -> None:
        with self._lock:
            trial = self._running(trial_id)
            attrs = trial.system_attrs if system else trial.user_attrs
            attrs[key] = value.value
            self._touch(self._study_of[trial_id], trial.number)

    def _finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: tuple[float, ...] | None,
        system_attrs: dict[str, JSONValue],
    ) -> FrozenTrial:
        with self._lock:
            trial = self._get(trial_id)
            if trial.state is not TrialState.RUNNING:
                raise not_running_error(trial.number, trial.state, finishing=True)
            attrs = {**trial.system_attrs, **{k: v.value for k, v in system_attrs.items()}}
            finished = replace(
                trial,
                state=state,
                values=values,
                system_attrs=attrs,
                datetime_complete=_now(),
            )
            self._store(finished)
            self._unfinished[self._study_of[trial_id]].discard(finished.number)
            self._touch(self._study_of[trial_id], finished.number)
            return finished

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            trial = self._get(trial_id)
            return trial if trial.state.is_finished() else snapshot(trial)

    def read_changes(self, study_id: int, cursor: int) -> tuple[int, list[tuple[int, FrozenTrial]]]:
        with self._lock:
            if study_id not in self._trials_by_study:
                raise StudyNotFoundError(f"no study with id {study_id}.")
            trials = self._trials_by_study[study_id]
            unfinished = self._unfinished[study_id]
            changes: list[tuple[int, FrozenTrial]] = []
            for number, seq in reversed(self._changed[study_id].items()):
                if seq <= cursor:
                    break
                # Finished records never change, so they are shared; the others are copied.
                trial = trials[number]
                changes.append((seq, snapshot(trial) if number in unfinished else trial))
            changes.sort(key=lambda change: change[1].number)
            return self._seq[study_id], changes

    def _touch(self, study_id: int, number: int) -> None:
        """Give the trial the study's next change number (the caller holds the lock)."""
        seq = self._seq[study_id] = self._seq[study_id] + 1
        changed = self._changed[study_id]
        changed.pop(number, None)
        changed[number] = seq

    def _store(self, trial: FrozenTrial) -> None:
        self._trials[trial.trial_id] = trial
        self._trials_by_study[self._study_of[trial.trial_id]][trial.number] = trial

    def _record(self, name: str) -> StudyRecord:
        try:
            return self._studies[name]
        except KeyError:
            known = ", ".join(repr(n) for n in self._studies) or "none"
            raise StudyNotFoundError(
                f"no study named {name!r} in this storage (studies: {known})."
            ) from None

    def _get(self, trial_id: int) -> FrozenTrial:
        try:
            return self._trials[trial_id]
        except KeyError:
            raise TrialNotFoundError(f"no trial with id {trial_id}.") from None

    def _running(self, trial_id: int) -> FrozenTrial:
        trial = self._get(trial_id)
        if trial.state is not TrialState.RUNNING:
            raise not_running_error(trial.number, trial.state, finishing=False)
        return trial
