"""Hyperband: several successive-halving brackets, each trial in one, from the history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from hptune.exceptions import ConfigurationError
from hptune.pruners._steps import FinishedValues, single_direction
from hptune.pruners.base import Pruner
from hptune.pruners.successive_halving import (
    max_step,
    promoted_among,
    reached_rung,
    rung_competition,
    rung_resource,
)
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.seeding import trial_uniform
from hptune.validation import check_int, check_real

__all__ = ["HyperbandPruner"]


class HyperbandPruner(Pruner):
    """Hyperband as several ASHA brackets that differ in how early they stop trials.

    Bracket ``b`` (``0 .. s_max`` with ``s_max = floor(log_eta(max/min resource))``) is
    successive halving with minimum early-stopping rate ``b``: bracket 0 judges trials
    from ``min_resource`` on, the last bracket lets them train (almost) fully. Each trial
    belongs to one bracket, drawn from a hash of its number with the weights of
    Hyperband (Li et al., JMLR 2018: bracket ``b`` gets about
    ``(s_max + 1) / (s_max - b + 1) * eta**(s_max - b)`` configurations), so every
    worker computes the same bracket; a trial competes only with its bracket. The
    bracket is recorded on the trial (system attribute ``"hyperband_bracket"``).

    Args:
        min_resource: the first rung of the most aggressive bracket.
        max_resource: the full training (e.g. the number of epochs); ``"auto"`` takes the
            last step of the first complete trial (nothing is pruned before one).
        reduction_factor: ``eta``.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(pruner=ht.HyperbandPruner(max_resource=27))
    """

    def __init__(
        self,
        *,
        min_resource: float = 1,
        max_resource: float | Literal["auto"] = "auto",
        reduction_factor: int = 3,
    ) -> None:
        owner = type(self).__name__
        self.min_resource = check_real(owner, "min_resource", min_resource, low=0, low_open=True)
        if max_resource != "auto":
            check_real(owner, "max_resource", max_resource, low=0, low_open=True)
            if max_resource < min_resource:
                raise ConfigurationError(
                    f"{owner}: max_resource must be >= min_resource = {min_resource!r}, "
                    f"got max_resource={max_resource!r}."
                )
        self.max_resource = max_resource
        self.reduction_factor = check_int(owner, "reduction_factor", reduction_factor, low=2)
        self._memo = FinishedValues()

    def __repr__(self) -> str:
        return (
            f"HyperbandPruner(min_resource={self.min_resource}, "
            f"max_resource={self.max_resource!r}, reduction_factor={self.reduction_factor})"
        )

    def n_brackets(self, max_resource: float) -> int:
        """``s_max + 1`` for a given maximum resource."""
        ratio = max_resource / self.min_resource
        return math.floor(math.log(ratio, self.reduction_factor) + 1e-9) + 1

    def bracket(self, number: int, max_resource: float) -> int:
        """The bracket of trial ``number`` (deterministic)."""
        n = self.n_brackets(max_resource)
        s_max, eta = n - 1, self.reduction_factor
        weights = [(s_max + 1) / (s_max - b + 1) * eta ** (s_max - b) for b in range(n)]
        u = trial_uniform(0, number, "hyperband") * sum(weights)
        for b, w in enumerate(weights):
            u -= w
            if u < 0:
                return b
        return n - 1

    def _max_resource(self, history: Sequence[FrozenTrial]) -> float | None:
        if self.max_resource != "auto":
            return float(self.max_resource)
        for t in history:
            if t.state is TrialState.COMPLETE and t.last_step is not None:
                return max(float(t.last_step), float(self.min_resource))
        return None

    def budgets(self, history: Sequence[FrozenTrial]) -> tuple[float, ...]:
        """The rungs of the most aggressive bracket (they include every bracket's)."""
        top = max_step(history)
        out: list[float] = []
        k = 0
        while rung_resource(self.min_resource, self.reduction_factor, 0, k) <= top:
            out.append(rung_resource(self.min_resource, self.reduction_factor, 0, k))
            k += 1
        return tuple(out)

    def trial_attrs(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> dict[str, Any]:
        max_resource = self._max_resource(history)
        if max_resource is None:
            return {}
        return {"hyperband_bracket": self.bracket(trial.number, max_resource)}

    def should_prune(
        self,
        trial: FrozenTrial,
        history: Sequence[FrozenTrial],
        directions: tuple[StudyDirection, ...],
    ) -> bool:
        direction = single_direction(type(self).__name__, directions)
        max_resource = self._max_resource(history)
        if max_resource is None:
            return False
        eta = self.reduction_factor
        rate = self.bracket(trial.number, max_resource)
        reached = reached_rung(trial, self.min_resource, eta, rate)
        if reached is None:
            return False
        k, value = reached
        rung = rung_resource(self.min_resource, eta, rate, k)

        def in_bracket(t: FrozenTrial) -> bool:
            return self.bracket(t.number, max_resource) == rate

        key = (rung, rate, max_resource)
        finished, running = rung_competition(self._memo, history, rung, key, in_bracket)
        return not promoted_among(value, finished, running, eta, direction)
