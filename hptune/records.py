"""Ground types: the records and states every layer of hptune shares.

This module imports nothing of hptune but its exceptions; every other module may import
it (see "Architecture" in the README).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hptune.exceptions import ConfigurationError, InvalidValueError, TrialStateError

if TYPE_CHECKING:
    from hptune.space import Distribution

__all__ = ["CONSTRAINTS_ATTR", "FrozenTrial", "StudyDirection", "TrialState"]


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
    def prune_reason(self) -> str | None:
        """Why a PRUNED trial was stopped, when the objective said (``TrialPruned("...")``)."""
        reason = self.system_attrs.get("prune_reason")
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
