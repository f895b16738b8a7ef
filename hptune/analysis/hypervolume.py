"""Hypervolume: the volume a set of points dominates up to a reference point.

The standard single number for the quality of a Pareto front: larger is better, and it
grows only when the front improves. Exact in any dimension: a sweep for 2 objectives
(O(n log n)), slices of 2-d sweeps for 3 (O(n^2 log n)), and the WFG algorithm (While,
Bradstreet and Barone, "A fast way of calculating exact hypervolumes", IEEE TEVC 2012)
beyond, which is exponential in the number of objectives but fast for the front sizes
of hyperparameter searches.

Points are minimized in every coordinate; use :func:`study_points` to turn trials of a
study with any directions into such points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hptune.exceptions import ConfigurationError
from hptune.records import FrozenTrial, StudyDirection, TrialState

__all__ = ["hypervolume", "hypervolume_history", "nondominated", "study_points"]

FloatArray = npt.NDArray[np.float64]


def nondominated(points: npt.ArrayLike) -> FloatArray:
    """Return the points (minimized) no other point dominates, without duplicates."""
    raw = np.asarray(points, dtype=np.float64)
    p: FloatArray = np.unique(raw.reshape(-1, raw.shape[-1]), axis=0)
    if len(p) <= 1:
        return p
    le = np.all(p[:, None, :] <= p[None, :, :], axis=2)
    lt = np.any(p[:, None, :] < p[None, :, :], axis=2)
    front: FloatArray = p[~np.any(le & lt, axis=0)]
    return front


def hypervolume(points: npt.ArrayLike, reference: Sequence[float]) -> float:
    """Return the volume dominated by ``points`` and bounded by ``reference`` (minimized).

    Points that do not dominate the reference point add nothing.

    Raises:
        ConfigurationError: the points and the reference differ in dimension, or hold
            NaN or infinity.

    Example:
        >>> hypervolume([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]], [4.0, 4.0])
        6.0
    """
    ref = np.asarray(reference, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    if p.size == 0:
        return 0.0
    p = p.reshape(-1, p.shape[-1])
    if ref.ndim != 1 or p.shape[1] != len(ref):
        raise ConfigurationError(
            f"hypervolume: points have {p.shape[1]} objectives but the reference point "
            f"{list(ref)} has {ref.size}; give one reference value per objective."
        )
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(ref))):
        raise ConfigurationError("hypervolume: points and the reference must be finite numbers.")
    p = p[np.all(p < ref, axis=1)]
    if len(p) == 0:
        return 0.0
    front = nondominated(p)
    return float(_hv(front, ref))


def _hv(front: FloatArray, ref: FloatArray) -> float:
    d = front.shape[1]
    if d == 1:
        return float(ref[0] - front[:, 0].min())
    if d == 2:
        return _hv2(front, ref)
    if d == 3:
        return _hv3(front, ref)
    return _wfg(front, ref)


def _hv2(front: FloatArray, ref: FloatArray) -> float:
    order = np.argsort(front[:, 0], kind="stable")
    x, y = front[order, 0], front[order, 1]
    # Sorted by the first objective, a non-dominated set decreases in the second.
    best_y = np.minimum.accumulate(y)
    widths = np.diff(np.append(x, ref[0]))
    return float(np.sum(widths * (ref[1] - best_y)))


def _hv3(front: FloatArray, ref: FloatArray) -> float:
    order = np.argsort(front[:, 2], kind="stable")
    p = front[order]
    z = np.append(p[:, 2], ref[2])
    total = 0.0
    for i in range(len(p)):
        depth = z[i + 1] - z[i]
        if depth > 0:
            total += depth * _hv2(nondominated(p[: i + 1, :2]), ref[:2])
    return total


def _wfg(front: FloatArray, ref: FloatArray) -> float:
    # Points sorted by the last objective, worst first, keep the limited sets small.
    p = front[np.argsort(-front[:, -1], kind="stable")]
    total = 0.0
    for i in range(len(p)):
        total += _exclusive(p[i], p[i + 1 :], ref)
    return total


def _exclusive(point: FloatArray, rest: FloatArray, ref: FloatArray) -> float:
    inclusive = float(np.prod(ref - point))
    if len(rest) == 0:
        return inclusive
    limited = nondominated(np.maximum(rest, point))
    return inclusive - _hv(limited, ref)


def study_points(
    trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> tuple[list[FrozenTrial], FloatArray]:
    """Return the complete trials and their values as points to minimize."""
    complete = [t for t in trials if t.state is TrialState.COMPLETE and t.values is not None]
    signs = np.array([1.0 if d is StudyDirection.MINIMIZE else -1.0 for d in directions])
    if not complete:
        return [], np.empty((0, len(directions)))
    return complete, np.array([t.values for t in complete], dtype=np.float64) * signs


def hypervolume_history(
    trials: Sequence[FrozenTrial],
    directions: Sequence[StudyDirection],
    reference: Sequence[float],
) -> list[float]:
    """Return, after each trial (by number), the hypervolume of the complete trials so far.

    ``reference`` is in the objectives' own units and directions (for a maximized
    objective, a value below every value of interest).

    Example:
        >>> from hptune.trial import FrozenTrial, StudyDirection, TrialState
        >>> ts = [FrozenTrial(i, i, TrialState.COMPLETE, values=v)
        ...       for i, v in enumerate([(2.0, 2.0), (1.0, 3.0), (3.0, 3.0)])]
        >>> hypervolume_history(ts, [StudyDirection.MINIMIZE] * 2, [4.0, 4.0])
        [4.0, 5.0, 5.0]
    """
    signs = np.array([1.0 if d is StudyDirection.MINIMIZE else -1.0 for d in directions])
    ref = np.asarray(reference, dtype=np.float64) * signs
    out: list[float] = []
    front = np.empty((0, len(directions)))
    current = 0.0
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state is TrialState.COMPLETE and trial.values is not None:
            point = np.asarray(trial.values, dtype=np.float64) * signs
            if np.all(point < ref) and not np.any(np.all(front <= point, axis=1)):
                front = nondominated(np.vstack([front, point]))
                current = hypervolume(front, ref)
        out.append(current)
    return out
