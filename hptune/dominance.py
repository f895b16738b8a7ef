"""Pareto fronts of multi-objective studies: non-dominated sorting and crowding distance.

Points are minimized in every coordinate. A point dominates another when it is no worse in
every objective and strictly better in one. With constraint violations (Deb's constrained
domination, Deb et al. 2002, section VI): a feasible point (violation 0) dominates every
infeasible one, and of two infeasible points the one with the smaller total violation
dominates; two infeasible points with the same violation are incomparable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hptune.exceptions import ConfigurationError
from hptune.records import FrozenTrial, StudyDirection

__all__ = ["crowding_distance", "nondominated_sort", "pareto_front"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Rows of the domination matrix computed at once (bounds memory to ~ this many bools).
_BLOCK_CELLS = 2_000_000


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
    first = _fronts(points, 1)[0]
    return sorted((valued[i] for i in first), key=lambda t: t.number)


def nondominated_sort(
    points: npt.ArrayLike,
    *,
    violation: npt.ArrayLike | None = None,
    n_points: int | None = None,
) -> list[IntArray]:
    """Sort points (minimized) into non-dominated fronts, the best front first.

    Front 0 holds the points nothing dominates; front ``k + 1`` those that only points of
    fronts ``0..k`` dominate (Deb et al., "A fast and elitist multiobjective genetic
    algorithm: NSGA-II", IEEE TEVC 6(2), 2002). Equal points share a front. Each front
    holds row indices in increasing order.

    Args:
        points: ``(n, m)`` objective values to minimize (finite).
        violation: ``(n,)`` total constraint violation of each point, ``>= 0`` (0 when
            feasible). Feasible points then come first, sorted by their objectives,
            followed by the infeasible ones, one front per distinct violation, smallest
            first (constrained domination).
        n_points: stop once the fronts returned hold at least this many points (the
            fronts past it are not computed); None sorts every point.

    Returns:
        The fronts, as arrays of row indices.

    Raises:
        ConfigurationError: points that are not a finite 2-d array, or a violation of
            another length or with negative or non-finite values.

    Example:
        >>> fronts = nondominated_sort([[1.0, 4.0], [2.0, 2.0], [3.0, 3.0], [4.0, 1.0]])
        >>> [f.tolist() for f in fronts]
        [[0, 1, 3], [2]]
        >>> fronts = nondominated_sort([[1.0, 1.0], [2.0, 2.0], [0.0, 0.0]],
        ...                            violation=[0.0, 0.0, 0.5])
        >>> [f.tolist() for f in fronts]
        [[0], [1], [2]]
    """
    p = _check_points(points)
    n = len(p)
    limit = n if n_points is None else max(0, int(n_points))
    if violation is None:
        return _fronts(p, limit) if n else []
    v = np.asarray(violation, dtype=np.float64).reshape(-1)
    if len(v) != n or not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ConfigurationError(
            f"violation must hold one finite value >= 0 per point ({n}), got {v.tolist()!r}."
        )
    feasible = np.flatnonzero(v == 0)
    fronts = [feasible[f] for f in _fronts(p[feasible], limit)] if len(feasible) else []
    taken = sum(len(f) for f in fronts)
    infeasible = np.flatnonzero(v > 0)
    if taken >= limit or not len(infeasible):
        return fronts
    levels, group = np.unique(v[infeasible], return_inverse=True)
    for k in range(len(levels)):
        if taken >= limit:
            break
        front = infeasible[group.reshape(-1) == k]
        fronts.append(front)
        taken += len(front)
    return fronts


def crowding_distance(points: npt.ArrayLike) -> FloatArray:
    """Return the NSGA-II crowding distance of each point of one front (minimized).

    For each objective the points are sorted; a point gets the distance between its two
    neighbours divided by the objective's range, summed over objectives. The points at
    either end of an objective get infinity. An objective with no range adds nothing.
    Repeated points: the first (lowest index) of a group of equal points gets the
    distance computed over the distinct points, the others 0, so selection prefers
    spread over copies. Fronts of at most two distinct points are all boundary (inf).

    Raises:
        ConfigurationError: points that are not a finite 2-d array.

    Example:
        >>> crowding_distance([[0.0, 4.0], [1.0, 2.0], [2.0, 1.0], [4.0, 0.0]]).tolist()
        [inf, 1.25, 1.25, inf]
    """
    p = _check_points(points)
    n = len(p)
    out = np.zeros(n)
    if not n:
        return out
    unique, first, inverse = np.unique(p, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    k = len(unique)
    dist = np.zeros(k)
    if k <= 2:
        dist[:] = np.inf
    else:
        for j in range(unique.shape[1]):
            order = np.argsort(unique[:, j], kind="stable")
            col = unique[order, j]
            span = col[-1] - col[0]
            if span <= 0:
                continue
            gap = np.empty(k)
            gap[1:-1] = (col[2:] - col[:-2]) / span
            gap[0] = gap[-1] = np.inf
            dist[order] += gap
    out[first] = dist
    return out


def _check_points(points: npt.ArrayLike) -> FloatArray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 1 and p.size == 0:
        return p.reshape(0, 1)
    if p.ndim != 2:
        raise ConfigurationError(
            f"points must be a 2-d array (n_points, n_objectives), got shape {p.shape}."
        )
    if not np.all(np.isfinite(p)):
        raise ConfigurationError("points must be finite, got NaN or infinity.")
    return p


def _fronts(p: FloatArray, limit: int) -> list[IntArray]:
    """The first fronts of ``p`` until they hold ``limit`` points (all when limit >= n)."""
    m = p.shape[1]
    if m == 1:
        return _fronts_1d(p[:, 0], limit)
    if m == 2:
        return _fronts_2d(p, limit)
    return _fronts_general(p, limit)


def _fronts_1d(values: FloatArray, limit: int) -> list[IntArray]:
    levels, group = np.unique(values, return_inverse=True)
    group = group.reshape(-1)
    fronts: list[IntArray] = []
    taken = 0
    for k in range(len(levels)):
        if taken >= limit:
            break
        fronts.append(np.flatnonzero(group == k))
        taken += len(fronts[-1])
    return fronts


def _fronts_2d(p: FloatArray, limit: int) -> list[IntArray]:
    """Peel fronts of two objectives, O(n log n) for the sort and O(n) per front.

    Sorted by the first objective (ties by the second), a point is non-dominated among
    the points left exactly when its second objective is below that of every point before
    it, or it equals the point just before it, which is non-dominated.
    """
    order = np.lexsort((p[:, 1], p[:, 0]))
    a, b = p[order, 0], p[order, 1]
    repeat = np.zeros(len(p), dtype=bool)
    repeat[1:] = (a[1:] == a[:-1]) & (b[1:] == b[:-1])
    left = np.arange(len(p))
    fronts: list[IntArray] = []
    taken = 0
    while taken < limit and len(left):
        second = b[left]
        best_before = np.minimum.accumulate(np.concatenate([[np.inf], second[:-1]]))
        in_front = second < best_before
        # A repeat follows its twin directly in ``left`` (they leave together).
        for i in np.flatnonzero(repeat[left]):
            in_front[i] |= in_front[i - 1]
        front = np.sort(order[left[in_front]])
        fronts.append(front)
        taken += len(front)
        left = left[~in_front]
    return fronts


def _fronts_general(p: FloatArray, limit: int) -> list[IntArray]:
    """Peel fronts by counting each point's dominators (the domination matrix)."""
    dominates = _domination_matrix(p)
    counts = dominates.sum(axis=0)
    done = np.zeros(len(p), dtype=bool)
    fronts: list[IntArray] = []
    taken = 0
    while taken < limit and not done.all():
        front = np.flatnonzero((counts == 0) & ~done)
        fronts.append(front)
        taken += len(front)
        done[front] = True
        counts = counts - dominates[front].sum(axis=0)
    return fronts


def _domination_matrix(p: FloatArray) -> BoolArray:
    """``out[i, j]``: point ``i`` dominates point ``j``."""
    n, m = p.shape
    out = np.empty((n, n), dtype=bool)
    block = max(1, _BLOCK_CELLS // max(1, n * m))
    for start in range(0, n, block):
        a = p[start : start + block, None, :]
        out[start : start + block] = (a <= p[None]).all(axis=2) & (a < p[None]).any(axis=2)
    return out
