"""The trial handle an objective receives: suggest parameters, report progress, store notes.

The immutable record of a trial (:class:`FrozenTrial`), its states and directions live in
:mod:`hptune.records` and are re-exported here. A :class:`Trial` reads and writes only
through the narrow :class:`TrialHost` interface its study gives it.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from hptune.exceptions import HptuneWarning, InvalidSpaceError, InvalidValueError
from hptune.records import CONSTRAINTS_ATTR, FrozenTrial, StudyDirection, TrialState
from hptune.space import Categorical, CategoricalChoice, Distribution, Float, Int
from hptune.validation import check_constraints, check_json_value, check_number

if TYPE_CHECKING:
    from hptune.study import Study

__all__ = ["FrozenTrial", "StudyDirection", "Trial", "TrialHost", "TrialState"]


class TrialHost(Protocol):
    """What a :class:`Trial` may do with its study: the study implements it."""

    def propose_one(self, trial: Trial, name: str, distribution: Distribution) -> Any:
        """Propose a parameter the objective meets inside the trial (define-by-run)."""

    def should_prune(self, trial: Trial) -> bool:
        """Ask the pruner whether the trial stops now."""

    def record_params(self, trial: Trial, params: Mapping[str, tuple[Distribution, Any]]) -> None:
        """Store parameters of the running trial."""

    def record_intermediate(self, trial: Trial, step: int | float, value: float) -> None:
        """Store a reported value of the running trial."""

    def record_attr(self, trial: Trial, key: str, value: Any, *, system: bool = False) -> None:
        """Store an attribute of the running trial."""


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
        self.study = study  # for users: the study the trial belongs to
        self._host: TrialHost = study  # all the trial itself does with it
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
        self._system_attrs: dict[str, Any] = dict(record.system_attrs)
        self._datetime_start = record.datetime_start

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

    def frozen(self) -> FrozenTrial:
        """Return the trial's record as this handle holds it (RUNNING), without a read.

        The handle wrote everything it holds, so this is what the storage holds too.
        """
        return FrozenTrial(
            self.number,
            self.trial_id,
            TrialState.RUNNING,
            params=dict(self._params),
            distributions=dict(self._distributions),
            intermediate_values=dict(self._intermediate),
            user_attrs=dict(self._user_attrs),
            system_attrs=dict(self._system_attrs),
            datetime_start=self._datetime_start,
        )

    def _remember_system_attrs(self, attrs: Mapping[str, Any]) -> None:
        # The study wrote these system attributes (a pruner's bracket) for this trial.
        self._system_attrs.update(attrs)

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
            value = self._host.propose_one(self, name, dist)
        return value, False

    def _store(self, params: Mapping[str, tuple[Distribution, Any]]) -> None:
        if not params:
            return
        self._host.record_params(self, params)
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
        if isinstance(step, numbers.Integral) and not isinstance(step, bool):
            step = int(step)  # numpy and torch integers too
        elif isinstance(step, numbers.Real) and not isinstance(step, bool):
            step = float(step)
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
        self._host.record_intermediate(self, step, value)
        self._intermediate[step] = value

    def should_prune(self) -> bool:
        """Return True if the study's pruner says this trial should stop now.

        Raise :class:`hptune.TrialPruned` when it does. Without a pruner, or before
        anything was reported, it returns False.
        """
        if not self._intermediate:
            return False
        return self._host.should_prune(self)

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
        self._host.record_attr(self, CONSTRAINTS_ATTR, checked, system=True)
        self._system_attrs[CONSTRAINTS_ATTR] = checked

    def set_user_attr(self, key: str, value: Any) -> None:
        """Store a JSON value with the trial (e.g. the number of epochs trained)."""
        if not isinstance(key, str) or not key:
            raise InvalidValueError(f"attribute keys must be non-empty strings, got {key!r}.")
        check_json_value(f"user attribute {key!r}", value)
        self._host.record_attr(self, key, value)
        self._user_attrs[key] = value
