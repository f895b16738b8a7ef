"""Pareto fronts of multi-objective studies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hptune.trial import FrozenTrial, StudyDirection

__all__ = ["pareto_front"]


def pareto_front(
    trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> list[FrozenTrial]:
    """Return the trials no other trial dominates, ordered by number.

    A trial dominates another when it is at least as good in every objective and
    strictly better in one. Trials without values are ignored.

    Example:
        >>> from hptune.trial import FrozenTrial, StudyDirection, TrialState
        >>> ts = [FrozenTrial(i, i, TrialState.COMPLETE, values=v)
        ...       for i, v in enumerate([(1.0, 3.0), (2.0, 2.0), (3.0, 3.0)])]
        >>> [t.number for t in pareto_front(ts, [StudyDirection.MINIMIZE] * 2)]
        [0, 1]
    """
    valued = [t for t in trials if t.values is not None]
    if not valued:
        return []
    signs = np.array([1.0 if d is StudyDirection.MINIMIZE else -1.0 for d in directions])
    points = np.array([t.values for t in valued], dtype=np.float64) * signs
    # dominated[i] is True when some j is <= in every objective and < in one.
    le = np.all(points[:, None, :] <= points[None, :, :], axis=2)
    lt = np.any(points[:, None, :] < points[None, :, :], axis=2)
    dominated = np.any(le & lt, axis=0)
    return sorted(
        (t for t, d in zip(valued, dominated, strict=True) if not d), key=lambda t: t.number
    )
