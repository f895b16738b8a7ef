"""Study-level stop rules: budget, wall time, target, patience, convergence.

Rules are checked by :meth:`hptune.Study.optimize` before each new trial starts.
Several may be combined; the first that fires stops the study and its
:class:`StopReason` is returned (and kept as ``study.stop_reason``)::

    >>> import hptune as ht
    >>> study = ht.create_study(direction="minimize", seed=0)
    >>> reason = study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2,
    ...                         stop=[ht.MaxTrials(50), ht.TargetValue(1e-3)],
    ...                         show_progress=False)
    >>> reason.rule in ("max_trials", "target")
    True
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass

from hptune.exceptions import ConfigurationError
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.validation import check_int, check_real

__all__ = [
    "ConvergenceRule",
    "MaxTrials",
    "NoImprovement",
    "StopReason",
    "StopRule",
    "StudyProgress",
    "TargetValue",
    "Timeout",
]


@dataclass(frozen=True, slots=True)
class StopReason:
    """Why an ``optimize`` call ended: the rule's name and a sentence for people.

    ``rule`` is one of "n_trials", "max_trials", "timeout", "target", "no_improvement",
    "convergence", "exhausted" (a finite space is done), "stopped" (``study.stop()``),
    "interrupted" (Ctrl-C) or "error" (an exception outside ``catch``), or the name of a
    user rule.
    """

    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class StudyProgress:
    """What a stop rule sees: the study's trials and this ``optimize`` call's clock.

    Attributes:
        history: every trial of the study, ordered by number.
        directions: one per objective.
        elapsed: seconds since this ``optimize`` call started.
    """

    history: Sequence[FrozenTrial]
    directions: tuple[StudyDirection, ...]
    elapsed: float


class StopRule(abc.ABC):
    """Decide from the study's progress whether to start more trials.

    Implementations keep no state between calls: the answer depends on the progress only.
    """

    @abc.abstractmethod
    def check(self, progress: StudyProgress) -> StopReason | None:
        """Return why the study should stop now, or None to go on."""

    def remaining(self, progress: StudyProgress) -> int | None:
        """Return how many more trials the rule allows, if it counts trials (progress bars)."""
        return None


def _complete_values(progress: StudyProgress, rule: str) -> list[float]:
    if len(progress.directions) != 1:
        raise ConfigurationError(
            f"the {rule} rule needs a single objective; this study has {len(progress.directions)}."
        )
    return [
        t.values[0]
        for t in progress.history
        if t.state is TrialState.COMPLETE and t.values is not None
    ]


@dataclass(frozen=True, slots=True)
class MaxTrials(StopRule):
    """Stop once the study holds ``n_trials`` trials (running or finished, any state).

    Unlike ``optimize(n_trials=...)``, which counts the trials of one call, this counts
    the whole study, so a resumed study stops at the same total.
    """

    n_trials: int

    def __post_init__(self) -> None:
        check_int("MaxTrials", "n_trials", self.n_trials)

    def check(self, progress: StudyProgress) -> StopReason | None:
        started = _n_started(progress)
        if started >= self.n_trials:
            return StopReason(
                "max_trials", f"the study holds {started} trials (limit {self.n_trials})."
            )
        return None

    def remaining(self, progress: StudyProgress) -> int | None:
        return max(0, self.n_trials - _n_started(progress))


def _n_started(progress: StudyProgress) -> int:
    return sum(t.state is not TrialState.WAITING for t in progress.history)


@dataclass(frozen=True, slots=True)
class Timeout(StopRule):
    """Stop starting trials ``seconds`` after ``optimize`` began (running ones finish)."""

    seconds: float

    def __post_init__(self) -> None:
        if self.seconds != math.inf:  # no limit, as a rule object
            check_real("Timeout", "seconds", self.seconds, low=0, low_open=True)

    def check(self, progress: StudyProgress) -> StopReason | None:
        if progress.elapsed >= self.seconds:
            return StopReason(
                "timeout", f"{progress.elapsed:.1f} s elapsed (limit {self.seconds:g} s)."
            )
        return None


@dataclass(frozen=True, slots=True)
class TargetValue(StopRule):
    """Stop once a complete trial reaches ``target`` (<= when minimizing, >= maximizing)."""

    target: float

    def __post_init__(self) -> None:
        if not isinstance(self.target, (int, float)) or not math.isfinite(self.target):
            raise ConfigurationError(f"TargetValue: target must be finite, got {self.target!r}.")

    def check(self, progress: StudyProgress) -> StopReason | None:
        values = _complete_values(progress, "TargetValue")
        if not values:
            return None
        direction = progress.directions[0]
        best = min(values) if direction is StudyDirection.MINIMIZE else max(values)
        if best == self.target or direction.better(best, self.target):
            return StopReason("target", f"best value {best:g} reached the target {self.target:g}.")
        return None


@dataclass(frozen=True, slots=True)
class NoImprovement(StopRule):
    """Stop when the last ``patience`` complete trials did not improve the best value.

    An improvement must beat the earlier best by more than ``min_delta``.
    """

    patience: int
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        check_int("NoImprovement", "patience", self.patience, low=1)
        check_real("NoImprovement", "min_delta", self.min_delta, low=0)

    def check(self, progress: StudyProgress) -> StopReason | None:
        values = _complete_values(progress, "NoImprovement")
        if len(values) <= self.patience:
            return None
        sign = 1.0 if progress.directions[0] is StudyDirection.MINIMIZE else -1.0
        before = min(sign * v for v in values[: -self.patience])
        recent = min(sign * v for v in values[-self.patience :])
        if recent < before - self.min_delta:
            return None
        return StopReason(
            "no_improvement",
            f"no improvement over {sign * before:g} in the last {self.patience} complete trials.",
        )


class ConvergenceRule(StopRule):
    """Base for rules that stop when the search has converged (e.g. a regret bound).

    Subclasses implement :meth:`has_converged`; this class turns it into a reason.
    """

    @abc.abstractmethod
    def has_converged(self, progress: StudyProgress) -> bool:
        """Return True when more trials are unlikely to improve the result."""

    def check(self, progress: StudyProgress) -> StopReason | None:
        if self.has_converged(progress):
            return StopReason("convergence", f"{type(self).__name__} judged the search converged.")
        return None
