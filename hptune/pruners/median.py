"""Median and percentile rules: stop a trial that is worse than most others at its step."""

from __future__ import annotations

from collections.abc import Sequence

from hptune.pruners._steps import (
    FinishedValues,
    best_so_far,
    last_at_or_before,
    percentile_of_sorted,
    single_direction,
)
from hptune.pruners.base import Pruner
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.validation import check_int, check_real

__all__ = ["MedianPruner", "PercentilePruner"]


class PercentilePruner(Pruner):
    """Stop a trial whose best value so far is worse than a percentile of the others'.

    At each check the trial's best reported value is compared with the values the
    complete trials had reached by the same step (each one's value at the last step it
    reported at or before). The trial is stopped when it is worse than the
    ``percentile``-th best of them: with 25 only the best quarter goes on (for a minimised
    objective, the 25th percentile of the values), with 50 the better half (the median
    rule of Google Vizier, Golovin et al. 2017).

    Args:
        percentile: in ``(0, 100]``; the share of trials kept, in percent.
        n_startup_trials: complete trials needed before anything is pruned.
        n_warmup_steps: no trial is pruned before this step.
        interval_steps: check every this many steps after the warm-up (1: every report).
        n_min_trials: complete trials that must have reached the step for a comparison.

    Raises:
        ConfigurationError: a value out of range, naming it.

    Example:
        >>> import hptune as ht
        >>> pruner = ht.PercentilePruner(25.0, n_startup_trials=3)
        >>> study = ht.create_study(pruner=pruner, sampler="random", seed=0)
    """

    def __init__(
        self,
        percentile: float,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int | float = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        owner = type(self).__name__
        check_real(owner, "percentile", percentile, low=0, high=100, low_open=True)
        check_real(owner, "n_warmup_steps", n_warmup_steps, low=0)
        self.percentile = float(percentile)
        self.n_startup_trials = check_int(owner, "n_startup_trials", n_startup_trials, low=0)
        self.n_warmup_steps = n_warmup_steps
        self.interval_steps = check_int(owner, "interval_steps", interval_steps, low=1)
        self.n_min_trials = check_int(owner, "n_min_trials", n_min_trials, low=1)
        self._memo = FinishedValues()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(percentile={self.percentile}, "
            f"n_startup_trials={self.n_startup_trials}, n_warmup_steps={self.n_warmup_steps}, "
            f"interval_steps={self.interval_steps}, n_min_trials={self.n_min_trials})"
        )

    def should_prune(
        self,
        trial: FrozenTrial,
        history: Sequence[FrozenTrial],
        directions: tuple[StudyDirection, ...],
    ) -> bool:
        direction = single_direction(type(self).__name__, directions)
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        if not _on_interval(step - self.n_warmup_steps, self.interval_steps):
            return False
        # Complete trials never change: their values at each step are read once.
        complete = self._memo.sorted_values(history, "complete", _one_if_complete)
        if len(complete) < self.n_startup_trials:
            return False

        def at_step(t: FrozenTrial) -> float | None:
            if t.state is not TrialState.COMPLETE:
                return None
            return last_at_or_before(t.intermediate_values, step)

        others = self._memo.sorted_values(history, ("step", step), at_step)
        if len(others) < max(1, self.n_min_trials):
            return False
        best = best_so_far(trial, direction)
        if direction is StudyDirection.MINIMIZE:
            return best > percentile_of_sorted(others, self.percentile)
        return best < percentile_of_sorted(others, 100.0 - self.percentile)


def _one_if_complete(trial: FrozenTrial) -> float | None:
    return 1.0 if trial.state is TrialState.COMPLETE else None


def _on_interval(offset: float, interval: int) -> bool:
    if interval == 1:
        return True
    return float(offset).is_integer() and int(offset) % interval == 0


class MedianPruner(PercentilePruner):
    """Stop a trial whose best value so far is worse than the median of the others'.

    :class:`PercentilePruner` with ``percentile=50``.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(pruner=ht.MedianPruner(n_warmup_steps=2))
    """

    def __init__(
        self,
        *,
        n_startup_trials: int = 5,
        n_warmup_steps: int | float = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(
            50.0,
            n_startup_trials=n_startup_trials,
            n_warmup_steps=n_warmup_steps,
            interval_steps=interval_steps,
            n_min_trials=n_min_trials,
        )
