"""Tree-structured Parzen Estimator: propose where good trials are denser than bad ones."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from hptune.dominance import crowding_distance, nondominated_sort
from hptune.exceptions import ConfigurationError
from hptune.records import StudyDirection
from hptune.samplers import _parzen
from hptune.samplers._encoding import COMPLETE, PRUNED, Observations
from hptune.samplers._model import ModelBasedSampler
from hptune.validation import check_flag, check_int, check_real

__all__ = ["TPESampler", "default_gamma"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# g is a kernel density estimate; past this many bad trials it is fitted to a systematic
# random sample of them (every (n / cap)-th trial from a random start; running trials are
# always kept). That is an unbiased estimate of the full mixture, spread evenly over the
# history; its Scott bandwidth follows the sample's size; and the cost of a proposal stops
# growing with the history. The cap was 512: on 11 benchmark problems with seeds 100-109
# (benchmarks/tpe_subsample.py) that sample cost 0.52 +- 0.22 points of normalized score
# after 1,500 evaluations against the whole history, while the whole history cost a
# proposal 2.1 ms at trial 3,000 against 0.67 ms; 2048 keeps every trial up to about
# 2,000 and costs 0.9 ms there.
_MAX_UPPER = 2048


def default_gamma(n: int) -> int:
    """Return how many of ``n`` ranked trials form the good group: ``min(ceil(0.15 n), 25)``.

    Example:
        >>> [default_gamma(n) for n in (10, 50, 100, 1000)]
        [2, 8, 15, 25]
    """
    return min(math.ceil(0.15 * n), 25)


class TPESampler(ModelBasedSampler):
    """Tree-structured Parzen Estimator (TPE), multivariate, with conditional spaces.

    After ``n_startup_trials`` complete trials (a Sobol' design until then), each proposal
    ranks the finished trials, splits them into a good group (the best ``gamma(n)``) and a
    bad group (the rest), fits a Parzen estimator to each -- ``l(x)`` and ``g(x)`` over all
    parameters jointly -- draws ``n_candidates`` points from ``l`` and returns them by
    decreasing ``l(x) / g(x)``, the expected-improvement criterion of TPE [1].

    The model (choices measured on synthetic problems against Optuna's TPE, see [2] for
    the components):

    * Ranking: complete trials by value; pruned trials after every complete one (a deeper
      last step first, then the value): partial evidence is never preferred to a result.
      Failed trials and, with ``constant_liar``, running trials (at the point they were
      given) join the bad group, so their regions are avoided and parallel workers spread
      out instead of proposing the same point.
    * Good group: ``gamma(n)`` of the ``n`` complete and pruned trials, at least one,
      weighted linearly by rank (the best ``1``, the last ``1 / gamma(n)``), which sharpens
      ``l`` around the best trials. Bad group: equal weights.
    * Bandwidths: in ``l`` per observation and parameter, the larger gap to the neighbouring
      good values (adaptive to how the good trials cluster); in ``g`` one per parameter,
      a quarter of Scott's rule ``sigma * n ** (-1 / (d + 4))`` (Scott oversmooths the
      multimodal bad group; a quarter did best among 0.15 to 1, and narrower kernels in
      ``g`` measured better than Scott's in ``l``). Both are clipped below at
      ``1 / min(100, n + 2)`` (Hyperopt's magic clip) and at a grid's cell, above at the
      whole range. With one bandwidth per parameter, ``g`` corrects its kernels for the
      range's edges at the evaluated point (Jones 1993) rather than per observation.
    * Past 2,048 bad trials, ``g`` is fitted to a systematic random sample of 2,048 of
      them (running trials always kept): an unbiased estimate of the full mixture, so the
      cost of a proposal stops growing with the history (what the sample costs in quality
      is measured by ``benchmarks/tpe_subsample.py``).
    * Kernels on the unit-cube encoding (so log scales are uniform): Gaussians truncated to
      the range for floats; for integer and stepped grids of up to 32 values, the Gaussian's
      mass over each value's cell; for categories, an Aitchison-Aitken kernel, the observed
      category keeping ``1 - u`` of the mass and ``u = n ** (-1 / (d + 4))`` spread evenly
      over all categories (no order among them).
    * Prior: a uniform component over the space in both estimators, of weight
      ``prior_weight`` (one observation's worth by default), so ``l`` keeps exploring.
    * Conditional (define-by-run) spaces: the estimators cover the union of the parameters
      seen so far. A parameter a trial did not use is inactive for it, and its kernel is
      uniform in that parameter: the trial says nothing about it. A child parameter is thus
      modelled from the trials of its branch, and the branch itself through the parent.
    * Several objectives (MOTPE [3]): the good group is filled by non-dominated fronts; the
      last front that does not fit is cut by hypervolume contribution (two objectives) or
      crowding distance (more); good trials are weighted equally.

    Cost: array work in ``O(min(n, 2048) d)`` per proposal (plus ``O(n)`` for the split),
    with no Python loop over trials: each density is one matrix product of candidate
    features and component coefficients and a logsumexp.

    [1] J. Bergstra, R. Bardenet, Y. Bengio, B. Kegl, "Algorithms for hyper-parameter
    optimization", NeurIPS 2011.
    [2] S. Watanabe, "Tree-structured Parzen estimator: understanding its algorithm
    components and their roles for better empirical performance", arXiv:2304.11127, 2023.
    [3] Y. Ozaki, Y. Tanigaki, S. Watanabe, M. Onishi, "Multiobjective tree-structured
    Parzen estimator for computationally expensive optimization problems", GECCO 2020;
    and "Multiobjective tree-structured Parzen estimator", JAIR 73, 2022.

    Args:
        seed: makes the proposals reproducible; None draws a fresh seed.
        n_startup_trials: complete trials from the Sobol' design before the model is used.
        random_fraction: with a rung-based pruner (multi-fidelity), the share of proposals
            taken from the Sobol' design instead of the model (BOHB's; off by default, see
            :class:`~hptune.samplers._model.ModelBasedSampler` for what it was measured to
            do).
        multi_fidelity: with a rung-based pruner (ASHA, Hyperband), how trials are ranked.
            ``"rung"`` (BOHB's): by their value at the highest rung that enough trials
            reached; trials that stopped below it rank after them. ``"depth"``: by how far
            each trial trained (complete trials first, then pruned ones, the last step
            first), then by its last value, and the startup design counts pruned trials
            too; so configurations that survived deep rungs lead the model, even if they
            started slow. Choose ``"depth"`` when early epochs mislead (small learning rates
            or warm-up that end best): on the multi-fidelity benchmark's Hartmann-6 with
            slow starters it found better points at every share of the budget (100 seeds:
            -1.82 against -1.46 after a quarter of the epochs, -2.89 against -2.60 at the
            end); it was level on Hartmann-6 and on the MLP on digits, and behind on Branin
            after a quarter (1.72 against 1.47), where early epochs rank well.
        n_candidates: points drawn from ``l`` per proposal; more exploit harder.
        gamma: maps the number of ranked trials to the size of the good group; must be
            a picklable callable (a module-level function) to run in worker processes.
        prior_weight: weight of the uniform component, relative to one observation.
        constant_liar: count running trials as bad, so parallel workers spread out.

    Raises:
        ConfigurationError: an argument of the wrong type or out of range.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(sampler=TPESampler(seed=0, n_startup_trials=5))
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=20,
        ...                show_progress=False)  # doctest: +ELLIPSIS
        StopReason(...)
        >>> round(study.best_params["x"])
        1
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        n_startup_trials: int = 10,
        random_fraction: float = 0.0,
        n_candidates: int = 24,
        gamma: Callable[[int], int] = default_gamma,
        prior_weight: float = 1.0,
        constant_liar: bool = True,
        multi_fidelity: str = "rung",
    ) -> None:
        super().__init__(seed, n_startup_trials=n_startup_trials, random_fraction=random_fraction)
        if multi_fidelity not in ("rung", "depth"):
            raise ConfigurationError(
                f'TPESampler: multi_fidelity must be "rung" or "depth", '
                f"got multi_fidelity={multi_fidelity!r}."
            )
        check_int("TPESampler", "n_candidates", n_candidates, low=1)
        if not callable(gamma):
            raise ConfigurationError(
                f"TPESampler: gamma must be a callable mapping the number of trials to the size "
                f"of the good group, got gamma={gamma!r}."
            )
        check_real("TPESampler", "prior_weight", prior_weight, low=0)
        check_flag("TPESampler", "constant_liar", constant_liar)
        self.n_candidates = n_candidates
        self.gamma = gamma
        self.prior_weight = float(prior_weight)
        self.constant_liar = constant_liar
        self.multi_fidelity = multi_fidelity
        self._lower_cache: tuple[tuple[Any, ...], _parzen.LocalParzen] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_lower_cache", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._lower_cache = None

    def __repr__(self) -> str:
        gamma = getattr(self.gamma, "__name__", repr(self.gamma))
        return (
            f"TPESampler(seed={self.seed}, n_startup_trials={self.n_startup_trials}, "
            f"random_fraction={self.random_fraction:.3g}, "
            f"n_candidates={self.n_candidates}, gamma={gamma}, "
            f"prior_weight={self.prior_weight}, constant_liar={self.constant_liar}, "
            f"multi_fidelity={self.multi_fidelity!r})"
        )

    def _candidates(
        self, obs: Observations, rng: np.random.Generator, directions: tuple[StudyDirection, ...]
    ) -> FloatArray:
        lay = _parzen.layout(tuple(obs.space[name] for name in obs.names))
        good, good_weights = self._good(obs)
        bad = np.ones(len(obs.x), dtype=bool)
        bad[good] = False
        n_bad = len(obs.x) - len(good)
        if n_bad > _MAX_UPPER:
            # Systematic sampling with a random start: every (n_bad / cap)-th bad trial.
            picks = (rng.random() + np.arange(_MAX_UPPER)) * (n_bad / _MAX_UPPER)
            x_bad = obs.x[bad.nonzero()[0][picks.astype(np.int64)]]
        else:
            x_bad = obs.x[bad]
        if self.constant_liar and len(obs.pending):
            x_bad = np.concatenate([x_bad, obs.pending])
        lower = self._lower(obs, good, good_weights, lay)
        upper = _parzen.ScottParzen(x_bad, lay, self.prior_weight)
        points = lower.sample(rng, self.n_candidates)
        score = lower.log_pdf(points) - upper.log_pdf(points)
        return points[np.argsort(-score, kind="stable")]

    def _lower(
        self, obs: Observations, good: IntArray, weights: FloatArray, lay: _parzen.Layout
    ) -> _parzen.LocalParzen:
        """The good group's estimator, reused while the group is unchanged.

        Past a few hundred trials a new trial rarely enters the good group, so most asks
        reuse the previous estimator (it is read-only once built).
        """
        x = obs.x[good]
        key = (lay, obs.numbers[good].tobytes(), x.tobytes(), weights.tobytes())
        cached = self._lower_cache  # one tuple: read and replaced atomically by threads
        if cached is not None and cached[0][0] is lay and cached[0][1:] == key[1:]:
            return cached[1]
        lower = _parzen.LocalParzen(x, weights, lay, self.prior_weight)
        self._lower_cache = (key, lower)
        return lower

    def _good(self, obs: Observations) -> tuple[IntArray, FloatArray]:
        """Return the rows of the good group, best first, and their weights.

        Ranked: feasible complete trials by value, then pruned ones (furthest step
        first), then infeasible complete ones (least violation first).
        """
        state = obs.state
        infeasible = obs.violation > 0
        violating = ((state == COMPLETE) & infeasible).nonzero()[0]
        if not state.any() and not len(violating):  # all complete (COMPLETE is 0)
            complete = pruned = None
            n_ranked = len(state)
        else:
            complete = ((state == COMPLETE) & ~infeasible).nonzero()[0]
            pruned = (state == PRUNED).nonzero()[0]
            n_ranked = len(complete) + len(pruned) + len(violating)
        if not n_ranked:
            return np.empty(0, dtype=np.int64), np.empty(0)
        n_good = self._n_good(n_ranked)
        multi = obs.y.shape[1] > 1
        y = obs.y if complete is None else obs.y[complete]
        good = _pareto_best(y, n_good) if multi else _smallest(y[:, 0], n_good)
        if complete is not None:
            good = complete[good]
        if pruned is not None and len(good) < n_good:
            step = np.nan_to_num(obs.step[pruned], nan=-np.inf)
            value = np.zeros(len(pruned)) if multi else obs.y[pruned, 0]
            order = np.lexsort((np.nan_to_num(value, nan=np.inf), -step))
            good = np.concatenate([good, pruned[order[: n_good - len(good)]]])
        if len(violating) and len(good) < n_good:
            order = np.argsort(obs.violation[violating], kind="stable")
            good = np.concatenate([good, violating[order[: n_good - len(good)]]])
        if multi:
            return good, np.ones(len(good))
        return good, 1.0 - np.arange(len(good)) / len(good)

    def _n_good(self, n: int) -> int:
        size: Any = self.gamma(n)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise ConfigurationError(
                f"TPESampler: gamma must return an int, got gamma({n})={size!r}."
            )
        return min(max(int(size), 1), n)


def _smallest(values: FloatArray, k: int) -> IntArray:
    """Indices of the ``k`` smallest values, smallest first."""
    if k < len(values):
        part = np.argpartition(values, k - 1)[:k]
        part.sort()  # equal values in order of position
        return part[values[part].argsort(kind="stable")]
    return values.argsort(kind="stable")


def _pareto_best(y: FloatArray, k: int) -> IntArray:
    """Indices of ``k`` rows of ``y`` (to minimize) by non-dominated fronts, best first.

    Fronts are taken whole while they fit; the first that does not is cut by hypervolume
    contribution (two objectives) or crowding distance (more).
    """
    n = len(y)
    if k >= n:
        return np.arange(n)
    if y.shape[1] == 2:
        fronts = nondominated_sort(y, n_points=k)
    else:
        rows = _may_be_among_best(y, k)
        fronts = [rows[front] for front in nondominated_sort(y[rows], n_points=k)]
    chosen: list[IntArray] = []
    n_chosen = 0
    for front in fronts:
        if n_chosen + len(front) > k:
            keep = _spread_order(y[front])[: k - n_chosen]
            chosen.append(front[np.sort(keep)])
            break
        chosen.append(front)
        n_chosen += len(front)
    return np.concatenate(chosen)


def _may_be_among_best(y: FloatArray, k: int) -> IntArray:
    """Rows that may be among the first ``k`` by fronts (three or more objectives).

    A row that ``k`` others dominate cannot be: they all lie in earlier fronts. Counting
    the dominators among a few rows good on average (by scaled sum) rules most rows out in
    ``O(n * anchors)``.
    """
    span = y.max(axis=0) - y.min(axis=0)
    total = ((y - y.min(axis=0)) / np.where(span > 0, span, 1.0)).sum(axis=1)
    anchors = y[np.argsort(total, kind="stable")[: 8 * k]]
    counts = np.zeros(len(y), dtype=np.int64)
    block = max(1, 2_000_000 // max(1, len(anchors) * y.shape[1]))
    for start in range(0, len(y), block):
        part = y[start : start + block, None, :]
        dominated = (anchors[None] <= part).all(axis=2) & (anchors[None] < part).any(axis=2)
        counts[start : start + block] = dominated.sum(axis=1)
    return np.flatnonzero(counts < k)


def _spread_order(front: FloatArray) -> IntArray:
    """Order a front's points by how much of it they hold, most first."""
    if front.shape[1] == 2:
        return np.argsort(-_hypervolume_contributions(front), kind="stable")
    return np.argsort(-crowding_distance(front), kind="stable")


def _hypervolume_contributions(front: FloatArray) -> FloatArray:
    """Exclusive hypervolume of each point of a two-objective non-dominated front.

    The reference point lies a tenth of the front's range beyond its worst values.
    """
    span = front.max(axis=0) - front.min(axis=0)
    ref = front.max(axis=0) + 0.1 * np.where(span > 0, span, 1.0)
    order = np.lexsort((front[:, 1], front[:, 0]))
    f = front[order]
    right = np.append(f[1:, 0], ref[0]) - f[:, 0]
    below = np.insert(f[:-1, 1], 0, ref[1]) - f[:, 1]
    out = np.empty(len(front))
    out[order] = np.maximum(right, 0.0) * np.maximum(below, 0.0)
    return out
