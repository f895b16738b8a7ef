"""Asynchronous successive halving (ASHA), decided from the stored history.

Rungs sit at resources ``r * eta**(k + s)`` (``r`` the minimum resource, ``eta`` the
reduction factor, ``s`` the minimum early-stopping rate, ``k = 0, 1, ...``), in the
units of the reported steps (epochs, batches, seconds, data fraction). A trial reaches
rung ``k`` with its first report at a step ``>= r * eta**(k + s)``; its value there is
that report's value. When a trial reaches a rung it goes on only if it ranks in the top
``1/eta`` of every trial that has reached that rung so far (at least the best one goes
on): the promotion rule of ASHA (Li et al., "A system for massively parallel
hyperparameter tuning", MLSys 2020). Nothing waits for a rung to fill, so workers never
idle, and since the rungs are recomputed from the storage at every check the decision
is the same in one process or in many.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence

from hptune.history import as_view
from hptune.pruners._steps import (
    FinishedValues,
    count_better,
    first_at_or_after,
    single_direction,
)
from hptune.pruners.base import Pruner
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.validation import check_int, check_real

__all__ = [
    "SuccessiveHalvingPruner",
    "max_step",
    "promoted",
    "promoted_among",
    "reached_rung",
    "rung_competition",
    "rung_resource",
]


def rung_resource(min_resource: float, eta: int, rate: int, k: int) -> float:
    """The resource of rung ``k``: ``min_resource * eta ** (k + rate)``."""
    return float(min_resource * eta ** (k + rate))


def reached_rung(
    trial: FrozenTrial, min_resource: float, eta: int, rate: int
) -> tuple[int, float] | None:
    """Return ``(k, value)`` if the trial's last report took it to rung ``k``, else None.

    A report that jumps over several rungs counts for the highest of them.
    """
    steps = sorted(trial.intermediate_values)
    if not steps or steps[-1] < rung_resource(min_resource, eta, rate, 0):
        return None
    last = steps[-1]
    k = 0
    while rung_resource(min_resource, eta, rate, k + 1) <= last:
        k += 1
    previous = steps[-2] if len(steps) > 1 else -math.inf
    if previous >= rung_resource(min_resource, eta, rate, k):
        return None  # judged at this rung already, at an earlier report
    return k, trial.intermediate_values[last]


def promoted(
    value: float,
    rung: float,
    competitors: Sequence[FrozenTrial],
    eta: int,
    direction: StudyDirection,
) -> bool:
    """Whether ``value`` ranks in the top ``1/eta`` of the competitors' values at ``rung``."""
    others = [first_at_or_after(t.intermediate_values, rung) for t in competitors]
    return promoted_among(value, sorted(v for v in others if v is not None), [], eta, direction)


def promoted_among(
    value: float,
    finished: Sequence[float],
    running: Sequence[float],
    eta: int,
    direction: StudyDirection,
) -> bool:
    """``promoted`` from the values at the rung: the finished trials' sorted, the others'."""
    keep = max(1, (len(finished) + len(running) + 1) // eta)
    better = count_better(finished, value, direction)
    if direction is StudyDirection.MINIMIZE:
        better += sum(1 for v in running if v < value)
    else:
        better += sum(1 for v in running if v > value)
    return better < keep


def rung_competition(
    memo: FinishedValues,
    history: Sequence[FrozenTrial],
    rung: float,
    key: Hashable,
    member: Callable[[FrozenTrial], bool],
) -> tuple[list[float], list[float]]:
    """The values at ``rung`` of the finished trials (sorted) and of the running ones.

    Only trials for which ``member`` holds compete (a Hyperband bracket). The finished
    trials' values come from ``memo`` under ``key``, read once per trial.
    """

    def at_rung(trial: FrozenTrial) -> float | None:
        if not member(trial):
            return None
        return first_at_or_after(trial.intermediate_values, rung)

    finished = memo.sorted_values(history, key, at_rung)
    running = [at_rung(t) for t in as_view(history).running()]
    return finished, [v for v in running if v is not None]


def max_step(history: Sequence[FrozenTrial]) -> float:
    """The largest step any trial reported (0 when none did).

    A study's history view keeps it as it reads trials, so this costs no scan there.
    """
    return as_view(history).max_step()


COMPETING = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.FAIL)


def _everyone(trial: FrozenTrial) -> bool:
    return True


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA): keep the top ``1/eta`` at each rung.

    Args:
        min_resource: the step of the first rung (e.g. 1 epoch).
        reduction_factor: ``eta``; rungs are ``eta`` times apart and ``1/eta`` of the
            trials reaching a rung go on.
        min_early_stopping_rate: ``s``; the first rung is at ``min_resource * eta**s``.

    Raises:
        ConfigurationError: a value out of range, naming it.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(pruner=ht.SuccessiveHalvingPruner(reduction_factor=3))
    """

    def __init__(
        self,
        *,
        min_resource: float = 1,
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
    ) -> None:
        owner = type(self).__name__
        self.min_resource = check_real(owner, "min_resource", min_resource, low=0, low_open=True)
        self.reduction_factor = check_int(owner, "reduction_factor", reduction_factor, low=2)
        rate = check_int(owner, "min_early_stopping_rate", min_early_stopping_rate)
        self.min_early_stopping_rate = rate
        self._memo = FinishedValues()

    def __repr__(self) -> str:
        return (
            f"SuccessiveHalvingPruner(min_resource={self.min_resource}, "
            f"reduction_factor={self.reduction_factor}, "
            f"min_early_stopping_rate={self.min_early_stopping_rate})"
        )

    def rungs(self, up_to: float) -> list[float]:
        """The rung resources up to ``up_to`` (for reports and tests)."""
        out: list[float] = []
        k = 0
        eta, rate = self.reduction_factor, self.min_early_stopping_rate
        while rung_resource(self.min_resource, eta, rate, k) <= up_to:
            out.append(rung_resource(self.min_resource, eta, rate, k))
            k += 1
        return out

    def budgets(self, history: Sequence[FrozenTrial]) -> tuple[float, ...]:
        """The rungs up to the largest step reported so far."""
        return tuple(self.rungs(max_step(history)))

    def should_prune(
        self,
        trial: FrozenTrial,
        history: Sequence[FrozenTrial],
        directions: tuple[StudyDirection, ...],
    ) -> bool:
        direction = single_direction(type(self).__name__, directions)
        eta, rate = self.reduction_factor, self.min_early_stopping_rate
        reached = reached_rung(trial, self.min_resource, eta, rate)
        if reached is None:
            return False
        k, value = reached
        rung = rung_resource(self.min_resource, eta, rate, k)
        finished, running = rung_competition(self._memo, history, rung, rung, _everyone)
        return not promoted_among(value, finished, running, eta, direction)
