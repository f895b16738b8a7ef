"""The storage contract: the single source of truth for studies and trials.

Every operation is atomic. Implementations must be safe to call from several threads
at once; the SQL storage is also safe across processes and machines. Finished trials
never change, so callers may cache them (see :meth:`Storage.get_trials`).
"""

from __future__ import annotations

import abc
import copy
import datetime as dt
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hptune.exceptions import InvalidValueError, TrialFinishedError, TrialStateError
from hptune.history import History
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.space import Distribution
from hptune.validation import check_name

__all__ = [
    "JSONValue",
    "ParamRow",
    "Storage",
    "StudyRecord",
    "dumps_strict",
    "encode",
    "encode_each",
    "encode_params",
    "not_running_error",
    "snapshot",
]

_HISTORIES_LOCK = threading.Lock()


def snapshot(trial: FrozenTrial) -> FrozenTrial:
    """Return a copy of a running trial's record that later writes do not change."""
    return replace(
        trial,
        params=dict(trial.params),
        distributions=dict(trial.distributions),
        intermediate_values=dict(trial.intermediate_values),
        user_attrs=copy.deepcopy(trial.user_attrs),
        system_attrs=copy.deepcopy(trial.system_attrs),
    )


def dumps_strict(value: Any, what: str) -> str:
    """Return ``value`` as strict JSON text, or raise InvalidValueError naming ``what``.

    Every storage stores values through this, so all reject the same things: NaN,
    infinity, bytes, and objects that are not JSON.
    """
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidValueError(
            f"{what} must be a strict JSON value (str, finite number, bool, None, list, "
            f"dict with str keys), got {value!r}: {e}."
        ) from None


class JSONValue:
    """A value checked once as strict JSON: its own copy, and its text for a database.

    The text is made when first asked for (an in-memory storage never asks).
    """

    __slots__ = ("_text", "value")

    def __init__(self, value: Any, text: str | None = None) -> None:
        self.value = value
        self._text = text

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = json.dumps(self.value)
        return self._text


def encode(value: Any, what: str) -> JSONValue:
    """Check ``value`` as strict JSON (naming ``what`` if it is not) and encode it once."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return JSONValue(value)  # immutable: the copy is the value
    if kind is float and math.isfinite(value):
        return JSONValue(value)
    text = dumps_strict(value, what)
    return JSONValue(json.loads(text), text)


def encode_each(attrs: Mapping[str, Any] | None, what: str) -> dict[str, JSONValue]:
    """Encode a dict of attributes, checked as a whole (keys become strings, as in JSON)."""
    if not attrs:
        return {}
    checked = json.loads(dumps_strict(dict(attrs), what))
    return {check_name("an attribute key", key): JSONValue(value) for key, value in checked.items()}


# A parameter as the backends receive it: name, distribution, checked value.
ParamRow = tuple[str, Distribution, JSONValue]


def encode_params(params: Mapping[str, tuple[Distribution, Any]]) -> list[ParamRow]:
    """Check and encode ``name -> (distribution, value)`` parameters."""
    return [
        (check_name("a parameter name", name), distribution, encode(value, f"parameter {name!r}"))
        for name, (distribution, value) in params.items()
    ]


def not_running_error(number: int, state: TrialState, *, finishing: bool) -> Exception:
    """The error for a write to (or a finish of) a trial that is not RUNNING."""
    if state.is_finished():
        return TrialFinishedError(
            f"trial {number} is {state.value} already; its record does not change."
        )
    doing = "finished" if finishing else "changed"
    return TrialStateError(f"trial {number} is {state.value}; only a running trial can be {doing}.")


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """What the storage knows of a study besides its trials."""

    study_id: int
    name: str
    directions: tuple[StudyDirection, ...]
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    datetime_created: dt.datetime | None = None
    n_trials: int = 0


class Storage(abc.ABC):
    """Where studies and trials live.

    Contract, for every implementation:

    * ``create_trial`` gives each trial of a study a number that is unique and
      gap-free (0, 1, 2, ...) even when many workers create trials at once.
    * ``finish_trial`` is a compare-and-set from RUNNING to COMPLETE, PRUNED or FAIL:
      it succeeds exactly once; a second call raises
      :class:`~hptune.exceptions.TrialFinishedError` and changes nothing.
    * Parameters, intermediate values and attributes may only be written while the
      trial is RUNNING (:class:`~hptune.exceptions.TrialStateError` otherwise).
    * ``claim`` gives a key to at most one trial of a study; samplers use it so that
      several workers never take the same grid point.
    * Values are stored as strict JSON, never pickled: NaN, infinity, bytes and other
      objects are rejected at the call with :class:`~hptune.exceptions.InvalidValueError`
      naming the key, the same on every storage. Records of running trials are returned
      as copies; finished records may be shared between calls and must not be mutated.
    * The public write methods are this class's: they check their arguments (states,
      strict JSON) once, the same for every backend, and call the backend's hooks
      (``_create_trial``, ``_set_trial_attr``, ...) with checked, encoded values. The
      backend checks the trial's current state atomically (compare-and-set) and raises
      :func:`not_running_error`'s errors. Reads go through one cached
      :class:`~hptune.history.History` per study (:meth:`get_trials`).
    * Errors: :class:`~hptune.exceptions.StudyNotFoundError`,
      :class:`~hptune.exceptions.DuplicatedStudyError`,
      :class:`~hptune.exceptions.TrialNotFoundError`.
    """

    # Studies ---------------------------------------------------------------------------

    @abc.abstractmethod
    def create_study(self, name: str, directions: Sequence[StudyDirection]) -> StudyRecord:
        """Create an empty study; raise DuplicatedStudyError if ``name`` is taken."""

    @abc.abstractmethod
    def load_study(self, name: str) -> StudyRecord:
        """Return the study called ``name``; raise StudyNotFoundError if there is none."""

    @abc.abstractmethod
    def delete_study(self, name: str) -> None:
        """Delete a study and all its trials; raise StudyNotFoundError if there is none."""

    @abc.abstractmethod
    def list_studies(self) -> list[StudyRecord]:
        """Return every study, oldest first, with ``n_trials`` filled in."""

    def set_study_attr(self, study_id: int, key: str, value: Any, *, system: bool = False) -> None:
        """Set a JSON attribute of a study (``system`` for hptune's own records)."""
        check_name("an attribute key", key)
        self._set_study_attr(study_id, key, encode(value, f"study attribute {key!r}"), system)

    @abc.abstractmethod
    def _set_study_attr(self, study_id: int, key: str, value: JSONValue, system: bool) -> None:
        """Backend hook of :meth:`set_study_attr`."""

    # Trials ----------------------------------------------------------------------------

    def create_trial(
        self,
        study_id: int,
        *,
        state: TrialState = TrialState.RUNNING,
        system_attrs: Mapping[str, Any] | None = None,
        params: Mapping[str, tuple[Distribution, Any]] | None = None,
        expected_number: int | None = None,
        heartbeat: bool = False,
    ) -> FrozenTrial:
        """Create a RUNNING (or WAITING, for enqueued) trial with the next number.

        ``params`` (``name -> (distribution, value)``) are recorded in the same
        transaction, so a trial and its proposal cost one write; with ``expected_number``
        only if the trial gets that number (proposals depend on the number: a trial that
        got another one is returned without parameters, for the caller to propose again).
        With ``heartbeat`` (a worker that sends heartbeats) the trial's first heartbeat is
        recorded in the same transaction: a worker that dies before its heartbeat thread
        beats once leaves a trial that the reaper finds, not one RUNNING for ever.
        """
        if state not in (TrialState.RUNNING, TrialState.WAITING):
            raise TrialStateError(f"a new trial is RUNNING or WAITING, got {state}.")
        attrs = encode_each(system_attrs, "system attributes")
        rows = encode_params(params or {})
        beat = heartbeat and state is TrialState.RUNNING
        return self._create_trial(study_id, state, attrs, rows, expected_number, beat)

    @abc.abstractmethod
    def _create_trial(
        self,
        study_id: int,
        state: TrialState,
        system_attrs: dict[str, JSONValue],
        params: list[ParamRow],
        expected_number: int | None,
        heartbeat: bool,
    ) -> FrozenTrial:
        """Backend hook of :meth:`create_trial` (arguments checked and encoded)."""

    @abc.abstractmethod
    def pop_waiting_trial(self, study_id: int, *, heartbeat: bool = False) -> FrozenTrial | None:
        """Move the oldest WAITING trial to RUNNING and return it, or return None.

        Atomic: two workers never get the same trial. ``heartbeat`` as in
        :meth:`create_trial`.
        """

    def claim(self, study_id: int, trial_id: int, key: str) -> bool:
        """Give ``key`` to the trial unless another trial of the study holds it.

        On success the key is also recorded as the trial's system attribute ``"claim"``,
        in the same transaction, so that others see it in the history at once.
        Returns True if the trial holds the key now (also when it held it already).
        """
        if not isinstance(key, str):
            raise InvalidValueError(f"a claim key is a string, got {key!r}.")
        return self._claim(study_id, trial_id, key)

    @abc.abstractmethod
    def _claim(self, study_id: int, trial_id: int, key: str) -> bool:
        """Backend hook of :meth:`claim`."""

    def set_trial_params(
        self, trial_id: int, params: Mapping[str, tuple[Distribution, Any]]
    ) -> None:
        """Record parameters of a RUNNING trial, ``name -> (distribution, value)``, at once.

        One transaction: a declarative ``ask`` stores its whole proposal in one round trip.
        """
        self._set_trial_params(trial_id, encode_params(params))

    @abc.abstractmethod
    def _set_trial_params(self, trial_id: int, params: list[ParamRow]) -> None:
        """Backend hook of :meth:`set_trial_params`."""

    def set_trial_param(
        self, trial_id: int, name: str, distribution: Distribution, value: Any
    ) -> None:
        """Record one parameter of a RUNNING trial."""
        self.set_trial_params(trial_id, {name: (distribution, value)})

    @abc.abstractmethod
    def heartbeat(self, trial_id: int) -> None:
        """Record that the worker running the trial is alive (now, in UTC).

        Raises TrialFinishedError once the trial is finished (e.g. failed as lost), which
        tells a worker that its trial was taken from it.
        """

    @abc.abstractmethod
    def get_stale_trials(self, study_id: int, before: dt.datetime) -> list[FrozenTrial]:
        """Return the RUNNING trials whose last heartbeat is older than ``before``.

        Trials that never sent a heartbeat (driven by hand through ask/tell) are never
        stale.
        """

    def set_trial_intermediate(self, trial_id: int, step: int | float, value: float) -> None:
        """Record an intermediate value of a RUNNING trial (NaN is kept as NaN)."""
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not step >= 0:
            raise InvalidValueError(f"a step is a number >= 0, got step={step!r}.")
        self._set_trial_intermediate(trial_id, step, float(value))

    @abc.abstractmethod
    def _set_trial_intermediate(self, trial_id: int, step: int | float, value: float) -> None:
        """Backend hook of :meth:`set_trial_intermediate`."""

    def set_trial_attr(self, trial_id: int, key: str, value: Any, *, system: bool = False) -> None:
        """Set a JSON attribute of a RUNNING trial."""
        check_name("an attribute key", key)
        self._set_trial_attr(trial_id, key, encode(value, f"attribute {key!r}"), system)

    @abc.abstractmethod
    def _set_trial_attr(self, trial_id: int, key: str, value: JSONValue, system: bool) -> None:
        """Backend hook of :meth:`set_trial_attr`."""

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: Sequence[float] | None = None,
        *,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        """Move a RUNNING trial to a final state, once; return the finished record.

        ``system_attrs`` are written in the same transaction (the failure reason).
        Raises TrialFinishedError if the trial is finished already.
        """
        if not state.is_finished():
            raise TrialStateError(f"finish_trial needs a final state, got {state}.")
        floats = None if values is None else tuple(float(v) for v in values)
        attrs = encode_each(system_attrs, "system attributes")
        return self._finish_trial(trial_id, state, floats, attrs)

    @abc.abstractmethod
    def _finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: tuple[float, ...] | None,
        system_attrs: dict[str, JSONValue],
    ) -> FrozenTrial:
        """Backend hook of :meth:`finish_trial`: the compare-and-set from RUNNING."""

    @abc.abstractmethod
    def get_trial(self, trial_id: int) -> FrozenTrial:
        """Return one trial; raise TrialNotFoundError if there is none."""

    @abc.abstractmethod
    def read_changes(self, study_id: int, cursor: int) -> tuple[int, list[tuple[int, FrozenTrial]]]:
        """Return the study's change counter and the trials changed after ``cursor``.

        Every write to a trial of the study (create, start, parameters, reports,
        attributes, claim, finish; not heartbeats) gives it the next change number of the
        study. The answer is ``(counter, [(change number, trial), ...])`` ordered by trial
        number, read in one snapshot: ``read_changes(study_id, 0)`` returns every trial,
        and a reader that passes the counter it got last time receives only what changed
        since. Records are new objects or finished ones (which never change); callers
        must not mutate them. Raises StudyNotFoundError for an unknown study.
        """

    def get_trials(
        self, study_id: int, *, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        """Return the study's trials ordered by number, optionally only some states.

        Reads only what changed since this storage object's last read of the study
        (:meth:`read_changes`), into one cached :class:`~hptune.history.History`.
        """
        return self.history(study_id).advance(self, study_id).select(states)

    def history(self, study_id: int) -> History:
        """This storage object's cached history of a study (advance it to read)."""
        with _HISTORIES_LOCK:
            histories: dict[int, History] | None = self.__dict__.get("_histories")
            if histories is None:
                histories = self.__dict__["_histories"] = {}
            found = histories.get(study_id)
            if found is None:
                found = histories[study_id] = History()
            return found

    def forget_history(self, study_id: int) -> None:
        """Drop the cached history of a study (after deleting it)."""
        with _HISTORIES_LOCK:
            self.__dict__.get("_histories", {}).pop(study_id, None)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the storage must not be used afterwards."""
