"""Trials: the handle an objective receives, and the immutable record the storage keeps."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hptune.exceptions import (
    ConfigurationError,
    HptuneWarning,
    InvalidSpaceError,
    InvalidValueError,
    TrialStateError,
)
from hptune.space import Categorical, CategoricalChoice, Distribution, Float, Int

if TYPE_CHECKING:
    from hptune.study import Study

__all__ = ["FrozenTrial", "StudyDirection", "Trial", "TrialState"]


class TrialState(enum.Enum):
    """Where a trial is in its life: WAITING -> RUNNING -> COMPLETE | PRUNED | FAIL."""

    WAITING = "waiting"
    RUNNING = "running"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAIL = "fail"

    def is_finished(self) -> bool:
        """Return True for the final states; a finished trial never changes."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

    @classmethod
    def parse(cls, state: TrialState | str) -> TrialState:
        """Accept a member or its name in any case ("complete", "PRUNED", ...)."""
        if isinstance(state, TrialState):
            return state
        try:
            return cls(str(state).lower())
        except ValueError:
            valid = ", ".join(repr(s.value) for s in cls)
            raise InvalidValueError(f"state must be one of {valid}, got {state!r}.") from None


class StudyDirection(enum.Enum):
    """Whether an objective is minimized or maximized."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    @classmethod
    def parse(cls, direction: StudyDirection | str) -> StudyDirection:
        """Accept a member or one of the names users know: minimize/min, maximize/max."""
        if isinstance(direction, StudyDirection):
            return direction
        aliases = {
            "minimize": cls.MINIMIZE,
            "min": cls.MINIMIZE,
            "maximize": cls.MAXIMIZE,
            "max": cls.MAXIMIZE,
        }
        try:
            return aliases[str(direction).lower()]
        except KeyError:
            raise ConfigurationError(
                f"direction must be 'minimize' or 'maximize' (or 'min'/'max'), got {direction!r}."
            ) from None

    def better(self, a: float, b: float) -> bool:
        """Return True if ``a`` is strictly better than ``b``."""
        return a < b if self is StudyDirection.MINIMIZE else a > b


#: The system attribute holding a trial's constraint values.
CONSTRAINTS_ATTR = "constraints"


@dataclass(frozen=True, slots=True)
class FrozenTrial:
    """The immutable record of one trial, as the storage holds it.

    The dict fields are copies owned by the record; treat them as read-only.
    ``values`` holds one float per objective once the trial is COMPLETE; a PRUNED trial
    keeps its last intermediate value as its single value. ``system_attrs`` holds what
    hptune itself records (the failure reason under ``"fail_reason"``).
    """

    number: int
    trial_id: int
    state: TrialState
    values: tuple[float, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    intermediate_values: dict[int | float, float] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    datetime_start: dt.datetime | None = None
    datetime_complete: dt.datetime | None = None

    @property
    def value(self) -> float | None:
        """The single objective value (None until complete); an error with several."""
        if self.values is None:
            return None
        if len(self.values) != 1:
            raise TrialStateError(
                f"trial {self.number} has {len(self.values)} objective values; use .values."
            )
        return self.values[0]

    @property
    def duration(self) -> dt.timedelta | None:
        """Wall time from start to finish, or None while unfinished."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return self.datetime_complete - self.datetime_start

    @property
    def fail_reason(self) -> str | None:
        """Why a FAIL trial failed ("ValueError: ...", "objective returned nan", ...)."""
        reason = self.system_attrs.get("fail_reason")
        return None if reason is None else str(reason)

    @property
    def last_step(self) -> int | float | None:
        """The largest step reported so far, or None."""
        return max(self.intermediate_values) if self.intermediate_values else None

    @property
    def constraints(self) -> tuple[float, ...] | None:
        """The constraint values the objective set (each <= 0 when satisfied), or None."""
        values = self.system_attrs.get(CONSTRAINTS_ATTR)
        return None if values is None else tuple(float(v) for v in values)

    @property
    def violation(self) -> float:
        """How far the trial is from feasible: the sum of its positive constraint values."""
        values = self.system_attrs.get(CONSTRAINTS_ATTR)
        return 0.0 if not values else float(sum(max(0.0, float(v)) for v in values))

    @property
    def feasible(self) -> bool:
        """True unless a constraint value is above 0 (a trial without any is feasible)."""
        return self.violation == 0.0


def check_constraints(values: Any) -> list[float]:
    """Return constraint values as a list of finite floats, or raise InvalidValueError."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        values = [values]
    if not values:
        raise InvalidValueError("constraints need at least one value (each <= 0 when met).")
    return [check_number(f"constraint {i}", v) for i, v in enumerate(values)]


def check_json_value(what: str, value: Any) -> None:
    """Raise :class:`InvalidValueError` unless ``value`` survives a JSON round trip."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidValueError(
            f"{what} must be a JSON value (str, number, bool, None, list, dict), got {value!r}: "
            f"{e}."
        ) from None
    if json.loads(text) != value:
        raise InvalidValueError(
            f"{what} does not survive a JSON round trip ({value!r} comes back as {text}); "
            "use lists instead of tuples and string keys."
        )


def check_number(what: str, value: Any) -> float:
    """Return ``value`` as a finite float or raise :class:`InvalidValueError`."""
    if isinstance(value, (bool, str, bytes)):
        # float() would accept them (True -> 1.0, "0.5" -> 0.5); they are mistakes here.
        raise InvalidValueError(
            f"{what} must be a number, got {value!r} of type {type(value).__name__}."
        )
    if not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars, 0-d arrays, torch scalars
        except (TypeError, ValueError):
            raise InvalidValueError(
                f"{what} must be a number, got {value!r} of type {type(value).__name__}."
            ) from None
    number = float(value)
    if not math.isfinite(number):
        raise InvalidValueError(f"{what} must be finite, got {number!r}.")
    return number


class Trial:
    """The handle an objective receives: suggest parameters, report progress, store notes.

    Created by :meth:`Study.ask` (or by ``optimize``), never by hand.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(seed=0)
        >>> trial = study.ask()
        >>> lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        >>> trial.params == {"lr": lr}
        True
        >>> study.tell(trial, 0.5)  # doctest: +ELLIPSIS
        FrozenTrial(number=0, ...)
    """

    def __init__(
        self,
        study: Study,
        record: FrozenTrial,
        proposal: Mapping[str, tuple[Distribution, Any]],
        history: Sequence[FrozenTrial] = (),
    ) -> None:
        self.study = study
        self.number = record.number
        self.trial_id = record.trial_id
        # Enqueued parameters are fixed; the sampler's joint proposal is used when the
        # objective asks for the same parameter with the same distribution.
        self._fixed = dict(record.system_attrs.get("fixed_params", {}))
        self._proposal = dict(proposal)
        self._history = history
        self._params: dict[str, Any] = dict(record.params)
        self._distributions: dict[str, Distribution] = dict(record.distributions)
        self._intermediate: dict[int | float, float] = dict(record.intermediate_values)
        self._user_attrs: dict[str, Any] = dict(record.user_attrs)

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self._params!r})"

    @property
    def params(self) -> dict[str, Any]:
        """The parameters suggested so far (a copy)."""
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, Distribution]:
        """The distribution of each parameter suggested so far (a copy)."""
        return dict(self._distributions)

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The attributes set with :meth:`set_user_attr` (a copy)."""
        return dict(self._user_attrs)

    @property
    def intermediate_values(self) -> dict[int | float, float]:
        """The values reported so far, by step (a copy)."""
        return dict(self._intermediate)

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """Return a float in ``[low, high]`` for parameter ``name``."""
        value: float = self._suggest(name, lambda: Float(low, high, log=log, step=step))
        return value

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """Return an integer in ``[low, high]`` for parameter ``name``."""
        value: int = self._suggest(name, lambda: Int(low, high, log=log, step=step))
        return value

    def suggest_categorical(
        self, name: str, choices: Sequence[CategoricalChoice]
    ) -> CategoricalChoice:
        """Return one of ``choices`` for parameter ``name``."""
        value: CategoricalChoice = self._suggest(name, lambda: Categorical(tuple(choices)))
        return value

    def suggest(self, name: str, distribution: Distribution) -> Any:
        """Return a value of ``distribution`` for parameter ``name``."""
        if not isinstance(distribution, Distribution):
            raise InvalidSpaceError(
                f"parameter {name!r}: expected a Float, Int or Categorical, got {distribution!r}."
            )
        return self._suggest(name, lambda: distribution)

    def suggest_space(self, space: Mapping[str, Distribution]) -> dict[str, Any]:
        """Return a value for every parameter of a declarative ``space``, stored at once.

        Example:
            >>> import hptune as ht
            >>> trial = ht.create_study(seed=0).ask()
            >>> sorted(trial.suggest_space({"a": ht.Int(0, 3), "b": ht.Float(0, 1)}))
            ['a', 'b']
        """
        values: dict[str, Any] = {}
        new: dict[str, tuple[Distribution, Any]] = {}
        for name, dist in space.items():
            if not isinstance(dist, Distribution):
                raise InvalidSpaceError(
                    f"parameter {name!r}: expected a Float, Int or Categorical, got {dist!r}."
                )
            values[name], stored = self._resolve(name, dist)
            if not stored:
                new[name] = (dist, values[name])
        self._store(new)
        return values

    def _suggest(self, name: str, make: Any) -> Any:
        if not isinstance(name, str) or not name:
            raise InvalidSpaceError(f"parameter names must be non-empty strings, got {name!r}.")
        try:
            dist: Distribution = make()
        except InvalidSpaceError as e:
            raise InvalidSpaceError(f"parameter {name!r}: {e}") from None
        value, stored = self._resolve(name, dist)
        if not stored:
            self._store({name: (dist, value)})
        return value

    def _resolve(self, name: str, dist: Distribution) -> tuple[Any, bool]:
        """Return the parameter's value and whether the trial holds it already."""
        if name in self._params:
            if self._distributions[name] != dist:
                raise InvalidSpaceError(
                    f"parameter {name!r} was suggested as {self._distributions[name]!r} and now "
                    f"as {dist!r} in the same trial; use one distribution per name."
                )
            return self._params[name], True
        if name in self._fixed:
            value = self._fixed[name]
            dist.check_value(name, value)
        elif name in self._proposal and self._proposal[name][0] == dist:
            value = self._proposal[name][1]
        else:
            value = self.study.propose_one(self, name, dist, self._history)
        return value, False

    def _store(self, params: Mapping[str, tuple[Distribution, Any]]) -> None:
        if not params:
            return
        self.study.storage.set_trial_params(self.trial_id, params)
        for name, (dist, value) in params.items():
            self._params[name] = value
            self._distributions[name] = dist

    def report(self, value: float, step: int | float) -> None:
        """Record an intermediate ``value`` (e.g. validation accuracy) at ``step``.

        Steps are non-negative numbers: epochs, batches, seconds or data fractions.
        A step reported twice keeps its first value (with a warning).
        """
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValueError(
                f"trial {self.number}: the reported value must be finite, got {value!r} at "
                f"step={step!r}; if training diverged, stop it with `raise ht.TrialPruned()` "
                "(or let the objective raise, which fails the trial)."
            )
        value = check_number(f"trial {self.number}: the reported value", value)
        if isinstance(step, bool) or not isinstance(step, (int, float)):
            raise InvalidValueError(
                f"trial {self.number}: step must be a number >= 0, got step={step!r}."
            )
        if not (math.isfinite(step) and step >= 0):
            raise InvalidValueError(
                f"trial {self.number}: step must be a finite number >= 0, got step={step!r}."
            )
        if step in self._intermediate:
            warnings.warn(
                f"trial {self.number}: step {step!r} was reported already; the first value "
                f"{self._intermediate[step]!r} is kept. Report each step once.",
                HptuneWarning,
                stacklevel=2,
            )
            return
        self.study.storage.set_trial_intermediate(self.trial_id, step, value)
        self._intermediate[step] = value

    def should_prune(self) -> bool:
        """Return True if the study's pruner says this trial should stop now.

        Raise :class:`hptune.TrialPruned` when it does. Without a pruner, or before
        anything was reported, it returns False.
        """
        if not self._intermediate:
            return False
        return self.study.should_prune(self)

    def set_constraints(self, values: float | Sequence[float]) -> None:
        """Record the trial's constraint values: each is met when <= 0.

        For example ``trial.set_constraints([peak_memory_gb - 16])`` marks a model that
        needs more than 16 GiB as infeasible, by how much. Feasible trials rank before
        infeasible ones (:attr:`Study.best_trials`, samplers that take constraints), and
        infeasible ones by their total violation. Call it again to replace the values.

        Raises:
            InvalidValueError: a value that is not a finite number (a NaN memory
                reading, say): a constraint must be known to rank the trial.
        """
        checked = check_constraints(values)
        self.study.storage.set_trial_attr(self.trial_id, CONSTRAINTS_ATTR, checked, system=True)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Store a JSON value with the trial (e.g. the number of epochs trained)."""
        if not isinstance(key, str) or not key:
            raise InvalidValueError(f"attribute keys must be non-empty strings, got {key!r}.")
        check_json_value(f"user attribute {key!r}", value)
        self.study.storage.set_trial_attr(self.trial_id, key, value)
        self._user_attrs[key] = value
