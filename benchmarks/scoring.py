"""Bayesmark-style scores for the sampler benchmark: normalized score, intervals, ranks.

The normalized score of a run after ``n`` evaluations is::

    100 * (median_random - best_so_far(n)) / (median_random - best_known)

where ``median_random`` is the median objective of one uniform random draw (estimated
from a seeded random sample) and ``best_known`` the problem's optimum (or the best value
ever seen, for model tuning). 100 means the optimum was found, 0 that the run did no
better than a typical random point. Nothing is clipped: a score below 0 or above 100
(a value better than ``best_known``) is reported as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def best_so_far(values: Sequence[float], budget: int | None = None) -> FloatArray:
    """The running minimum of ``values``, cut or padded (with its last value) to ``budget``."""
    v = np.minimum.accumulate(np.asarray(values, dtype=float))
    if budget is None or len(v) == budget:
        return v
    if len(v) > budget:
        return v[:budget]
    pad = np.full(budget - len(v), v[-1] if len(v) else np.nan)
    return np.concatenate([v, pad])


def normalized_score(
    best: float | npt.ArrayLike, median_random: float, best_known: float
) -> FloatArray:
    """``100 * (median_random - best) / (median_random - best_known)``, elementwise."""
    span = median_random - best_known
    if not span > 0:
        raise ValueError(
            f"median_random must exceed best_known, got median_random={median_random!r}, "
            f"best_known={best_known!r}."
        )
    return np.asarray(100.0 * (median_random - np.asarray(best, dtype=float)) / span)


def bootstrap_replicates(
    scores: Mapping[str, Sequence[float]], reps: int = 2000, seed: int = 0
) -> FloatArray:
    """Bootstrap replicates of the mean over problems of the mean over seeds.

    ``scores`` maps each problem to its per-seed scores; each replicate resamples the seeds
    of every problem with replacement (the problems are fixed).
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(s, dtype=float) for s in scores.values() if len(s)]
    if not arrays:
        return np.full(reps, np.nan)
    means = np.zeros(reps)
    for a in arrays:
        means += a[rng.integers(0, len(a), size=(reps, len(a)))].mean(axis=1)
    return means / len(arrays)


def mean_score(scores: Mapping[str, Sequence[float]]) -> float:
    """The mean over problems of the mean over seeds."""
    arrays = [np.mean(s) for s in scores.values() if len(s)]
    return float(np.mean(arrays)) if arrays else float("nan")


def interval(replicates: FloatArray) -> tuple[float, float]:
    """The 95% percentile interval of bootstrap replicates."""
    lo, hi = np.percentile(replicates, [2.5, 97.5])
    return float(lo), float(hi)


def bootstrap_mean(
    scores: Mapping[str, Sequence[float]], reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """:func:`mean_score` with its 95% bootstrap interval: ``(mean, low, high)``."""
    return (mean_score(scores), *interval(bootstrap_replicates(scores, reps, seed)))


def _common(
    a: Mapping[str, Sequence[float]], b: Mapping[str, Sequence[float]]
) -> tuple[dict[str, Sequence[float]], dict[str, Sequence[float]]]:
    keep = [p for p in a if p in b and len(a[p]) and len(b[p])]
    return {p: a[p] for p in keep}, {p: b[p] for p in keep}


def bootstrap_difference(
    a: Mapping[str, Sequence[float]],
    b: Mapping[str, Sequence[float]],
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean score of ``a`` minus that of ``b`` on their common problems, with a 95% interval.

    Seeds are resampled independently for the two samplers within each problem.
    """
    a, b = _common(a, b)
    if not a:
        return float("nan"), float("nan"), float("nan")
    diff = bootstrap_replicates(a, reps, seed) - bootstrap_replicates(b, reps, seed + 1)
    return (mean_score(a) - mean_score(b), *interval(diff))


def bootstrap_ratio(
    numerator: Mapping[str, Sequence[float]],
    denominator: Mapping[str, Sequence[float]],
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The ratio of two mean scores on their common problems, with a 95% interval."""
    a, b = _common(numerator, denominator)
    if not a:
        return float("nan"), float("nan"), float("nan")
    ratio = bootstrap_replicates(a, reps, seed) / bootstrap_replicates(b, reps, seed + 1)
    return (mean_score(a) / mean_score(b), *interval(ratio))


def mean_ranks(table: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The mean rank of each sampler over problems (1 = best score; ties share the mean).

    ``table`` maps sampler -> problem -> mean score; only problems that every sampler has
    are ranked.
    """
    samplers = list(table)
    if not samplers:
        return {}
    problems = [p for p in next(iter(table.values())) if all(p in table[s] for s in samplers)]
    totals = dict.fromkeys(samplers, 0.0)
    for p in problems:
        scores = np.array([table[s][p] for s in samplers])
        for i, s in enumerate(samplers):
            better = np.sum(scores > scores[i])
            ties = np.sum(scores == scores[i])
            totals[s] += better + (ties + 1) / 2
    n = max(len(problems), 1)
    return {s: totals[s] / n for s in samplers}
