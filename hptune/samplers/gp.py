"""Gaussian-process Bayesian optimization: a Matern-5/2 GP and log expected improvement."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize
from scipy.stats import qmc

from hptune.exceptions import ConfigurationError
from hptune.records import StudyDirection
from hptune.samplers import _gp_model as gpm
from hptune.samplers._encoding import COMPLETE, FAIL, PRUNED, Observations
from hptune.samplers._model import ModelBasedSampler
from hptune.space import Int
from hptune.validation import check_int

__all__ = ["GPSampler"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_PENDING = ("believer", "liar")
_MIN_MODEL_TRIALS = 20
# Acquisition search: quasi-random points, local points around the best trials, starts
# polished with L-BFGS-B, and rounds of local search over discrete parameters.
_N_RAW = 1024
_N_INCUMBENTS = 3
_N_LOCAL = 128
_LOCAL_SCALES = (0.02, 0.1)
_N_STARTS = 8
_POLISH_ITERS = 60
_DISCRETE_ROUNDS = 16
_N_RETURNED = 16
_CHUNK = 512
# ParEGO: weight of the sum term of the augmented Chebyshev scalarization.
_PAREGO_RHO = 0.05
# Fitted hyperparameters kept (memo keyed by the fit's data).
_FIT_CACHE_SIZE = 16

# scipy 1.15 renamed the engines' ``seed`` argument to ``rng``.
_SOBOL_RNG_ARG = "rng" if "rng" in qmc.Sobol.__init__.__code__.co_varnames else "seed"


class GPSampler(ModelBasedSampler):
    """Bayesian optimization with a Gaussian process and log expected improvement.

    After ``n_startup_trials`` complete trials from a scrambled Sobol' design, each
    proposal fits a Gaussian process to the history and maximises the log expected
    improvement [1] over the space:

    - **Model.** A Matern-5/2 kernel with one length scale per numeric parameter (ARD),
      times an exchangeable kernel ``exp(-[a != b] / (2 l^2))`` per categorical parameter,
      so categories are not ordered; a constant mean (its generalized least-squares
      estimate, so that unexplored regions revert to the landscape's level rather than to
      the average of the trials, which crowd where the objective is good). Length scales
      have the dimension-scaled log-normal prior of Hvarfner et al. [2]; the noise a
      log-normal prior centred on 1e-4 of the targets' variance, floored at 1e-6. The
      hyperparameters are the maximum a posteriori, found by L-BFGS-B with analytic
      gradients from the best two of five starts.
    - **Targets.** Standardized, then warped by the Yeo-Johnson power transform [3] of
      highest likelihood with exponent at most 1, then standardized again. An exponent
      below 1 compresses the bad tail of a heavy-tailed objective (Rosenbrock: a few huge
      values no longer flatten the differences among good ones) and stretches the good
      one; exponents above 1 would compress the good tail, where resolution matters most.
    - **Acquisition.** Log expected improvement, accurate far into the tail. It is scored
      on 1024 Sobol' points and on points around the best trials; the best few are
      polished with L-BFGS-B over the numeric parameters (integers and steps relaxed),
      then discrete parameters take the best neighbouring grid value (or category) by
      local search, and continuous ones are polished again.
    - **History.** Failed trials count as the worst complete value (their region is
      avoided). A pruned trial counts as its last reported value clipped to between the
      median and the worst complete value: it was stopped for looking worse than others,
      so it is mediocre at best. A parameter a trial did not use (conditional spaces) sits
      at the centre of its axis and one step off it: equally far from every value, and
      distinct from every value, in a kernel that stays positive definite.
    - **Parallel trials.** Running trials are added as fantasised observations with
      fixed hyperparameters: their posterior mean ("believer", the kriging believer) or
      the worst value seen ("liar", a pessimistic constant liar), so workers spread out.
      With 8 trials running, the believer found better points than the liar on Branin,
      Hartmann-6, Ackley-5 and Styblinski-Tang-8 (the liar over-explores), hence the
      default.
    - **Several objectives.** ParEGO [4]: each trial minimises an augmented Chebyshev
      scalarization of the objectives (normalized to ``[0, 1]``) with random weights drawn
      from the seed and the trial number.
    - **Scale.** Past ``max_model_trials`` finished trials the model keeps the best
      quarter, the latest quarter, and a random sample of the others (seeded by the history
      size). Hyperparameters are refitted when the history passes a checkpoint (every
      trial up to 32, then every 1/32 to 1/16 of its size), on the trials up to it:
      the fit is a function of the history, so a resumed study proposes what an
      uninterrupted one would, and is cached in between. BLAS runs on one thread during
      a proposal when the optional ``threadpoolctl`` is installed.

    [1] S. Ament, S. Daulton, D. Eriksson, M. Balandat, E. Bakshy, "Unexpected
    improvements to expected improvement for Bayesian optimization", NeurIPS 2023.
    [2] C. Hvarfner, E. O. Hellsten, L. Nardi, "Vanilla Bayesian optimization performs
    great in high dimensions", ICML 2024.
    [3] I.-K. Yeo, R. A. Johnson, "A new family of power transformations to improve
    normality or symmetry", Biometrika, 2000.
    [4] J. Knowles, "ParEGO: a hybrid algorithm with on-line landscape approximation for
    expensive multiobjective optimization problems", IEEE TEC, 2006.

    Args:
        seed: makes the proposals reproducible; None draws a fresh seed.
        n_startup_trials: complete trials from the Sobol' design before the model is used.
        random_fraction: with a rung-based pruner (multi-fidelity), the share of proposals
            taken from the Sobol' design instead of the model (BOHB's; off by default, see
            :class:`~hptune.samplers._model.ModelBasedSampler` for what it was measured to
            do).
        pending: how running trials are fantasised, "believer" or "liar".
        max_model_trials: finished trials the model uses at most (a subsample beyond).

    Raises:
        ConfigurationError: an argument out of range, named with its value.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(sampler=GPSampler(seed=0, n_startup_trials=4))
        >>> space = {"x": ht.Float(-2, 2), "n": ht.Int(0, 4)}
        >>> for _ in range(6):
        ...     trial = study.ask(space)
        ...     _ = study.tell(trial, (trial.params["x"] - 1) ** 2 + trial.params["n"])
        >>> len(study.trials)
        6
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        n_startup_trials: int = 10,
        random_fraction: float = 0.0,
        pending: Literal["believer", "liar"] = "believer",
        max_model_trials: int = 400,
    ) -> None:
        super().__init__(seed, n_startup_trials=n_startup_trials, random_fraction=random_fraction)
        if pending not in _PENDING:
            raise ConfigurationError(
                f"GPSampler: pending must be 'believer' or 'liar', got pending={pending!r}."
            )
        check_int("GPSampler", "max_model_trials", max_model_trials, low=_MIN_MODEL_TRIALS)
        self.pending = pending
        self.max_model_trials = max_model_trials
        self._fits: OrderedDict[bytes, FloatArray] = OrderedDict()
        self._fit_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"GPSampler(seed={self.seed}, n_startup_trials={self.n_startup_trials}, "
            f"random_fraction={self.random_fraction:.3g}, "
            f"pending={self.pending!r}, max_model_trials={self.max_model_trials})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_fits", None)
        state.pop("_fit_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._fits = OrderedDict()
        self._fit_lock = threading.Lock()

    def _candidates(
        self, obs: Observations, rng: np.random.Generator, directions: tuple[StudyDirection, ...]
    ) -> FloatArray:
        d, m = len(obs.names), len(directions)
        # ParEGO weights of this trial: drawn first, from the trial's generator.
        weights = rng.dirichlet(np.ones(m)) if m > 1 else None
        usable = ~np.all(np.isnan(obs.x), axis=1)
        x, y, state = obs.x[usable], obs.y[usable], obs.state[usable]
        violation = obs.violation[usable]
        if not len(x):
            return rng.random((_N_RETURNED, d))
        with _single_threaded_blas():
            data = self._training_set(obs, x, y, state, violation, weights)
            theta = self._hyperparameters(obs, x, y, state, violation)
            post = gpm.Posterior(data.inputs, data.y, theta, obs.categorical)
            post, best = self._add_pending(obs, data, post)
            order = np.argsort(data.y, kind="stable")[:_N_INCUMBENTS]
            incumbents = np.nan_to_num(data.unit[order], nan=0.5)
            return _maximize(_Acquisition(post, best, obs), obs, rng, incumbents)

    # The model's data --------------------------------------------------------------------

    def _training_set(
        self,
        obs: Observations,
        x: FloatArray,
        y: FloatArray,
        state: npt.NDArray[np.int64],
        violation: FloatArray,
        weights: FloatArray | None,
    ) -> _Data:
        """Return the (warped, possibly subsampled) data of the rows ``x, y, state``."""
        target = _impute(_scalarize(y, state, weights), state, violation)
        warped = gpm.warp(target)
        n = len(x)
        if n > self.max_model_trials:
            keep = _subsample(warped, self.max_model_trials, np.random.default_rng([self.seed, n]))
            x, warped = x[keep], warped[keep]
        return _Data(x, _model_inputs(x, obs), warped)

    def _hyperparameters(
        self,
        obs: Observations,
        x: FloatArray,
        y: FloatArray,
        state: npt.NDArray[np.int64],
        violation: FloatArray,
    ) -> FloatArray:
        """Return the hyperparameters fitted to the rows up to the last checkpoint."""
        c = _checkpoint(len(x))
        m = y.shape[1]
        weights = np.random.default_rng([self.seed, c, 1]).dirichlet(np.ones(m)) if m > 1 else None
        data = self._training_set(obs, x[:c], y[:c], state[:c], violation[:c], weights)
        digest = hashlib.blake2b(digest_size=16)
        for part in (data.inputs.x, data.inputs.inactive, data.y, obs.categorical):
            digest.update(np.ascontiguousarray(part).tobytes())
        digest.update(f"{c}:{data.inputs.x.shape}".encode())
        key = digest.digest()
        with self._fit_lock:
            theta = self._fits.get(key)
        if theta is not None:
            return theta
        starts = gpm.initial_thetas(len(obs.names), np.random.default_rng([self.seed, c, 2]), 2)
        theta = gpm.fit(data.inputs, data.y, obs.categorical, starts)
        with self._fit_lock:
            self._fits[key] = theta
            while len(self._fits) > _FIT_CACHE_SIZE:
                self._fits.popitem(last=False)
        return theta

    def _add_pending(
        self, obs: Observations, data: _Data, post: gpm.Posterior
    ) -> tuple[gpm.Posterior, float]:
        """Return the posterior with running trials fantasised, and the incumbent."""
        best = float(np.min(data.y))
        pending = obs.pending[~np.all(np.isnan(obs.pending), axis=1)]
        if not len(pending):
            return post, best
        extra = _model_inputs(pending, obs)
        if self.pending == "believer":
            fantasy = post.mean_at(extra)
            best = min(best, float(np.min(fantasy)))
        else:
            fantasy = np.full(len(pending), float(np.max(data.y)))
        inputs = gpm.concat(data.inputs, extra)
        y = np.concatenate([data.y, fantasy])
        return gpm.Posterior(inputs, y, post.theta, obs.categorical), best


class _BlasThreads:
    """Count the proposals in flight; BLAS runs on one thread while any is.

    The matrices are small (at most ``max_model_trials`` rows): BLAS threads cost more
    CPU time than they save, and contend with parallel workers. The limit is process-wide,
    so it is set by the first proposal in and restored by the last one out. Without the
    optional ``threadpoolctl`` package nothing is limited.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.controller: Any = None  # built at the first proposal, None without the package
        self.looked_up = False
        self.limiter: Any = None

    def enter(self) -> None:
        with self.lock:
            self.users += 1
            if not self.looked_up:
                self.looked_up = True
                try:
                    module = importlib.import_module("threadpoolctl")
                    self.controller = module.ThreadpoolController()
                except ImportError:
                    pass
            if self.users == 1 and self.controller is not None:
                self.limiter = self.controller.limit(limits=1, user_api="blas")

    def exit(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.limiter is not None:
                self.limiter.restore_original_limits()
                self.limiter = None


_BLAS_THREADS = _BlasThreads()


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    _BLAS_THREADS.enter()
    try:
        yield
    finally:
        _BLAS_THREADS.exit()


@dataclass(frozen=True, slots=True)
class _Data:
    unit: FloatArray  # (n, d) unit-cube points, NaN where inactive
    inputs: gpm.Inputs
    y: FloatArray  # (n,) warped, standardized targets to minimize


def _checkpoint(n: int) -> int:
    """Return the history size the hyperparameters are fitted at: ``n`` rounded down."""
    spacing = 1 if n < 32 else 1 << (n.bit_length() - 5)
    return n - n % spacing


def _scalarize(
    y: FloatArray, state: npt.NDArray[np.int64], weights: FloatArray | None
) -> FloatArray:
    """Return one target per row: the objective, or ParEGO's scalarization of several."""
    if weights is None:
        return np.array(y[:, 0], dtype=np.float64)
    complete = (state == COMPLETE) & np.all(np.isfinite(y), axis=1)
    if not complete.any():
        return np.full(len(y), np.nan)
    low, high = y[complete].min(axis=0), y[complete].max(axis=0)
    scaled = (y - low) / np.maximum(high - low, 1e-12) * weights
    out: FloatArray = np.max(scaled, axis=1) + _PAREGO_RHO * np.sum(scaled, axis=1)
    return out


def _impute(target: FloatArray, state: npt.NDArray[np.int64], violation: FloatArray) -> FloatArray:
    """Fill failed and pruned rows in (see the class docstring); zeros without data.

    A complete trial that violates a constraint counts as the worst feasible value plus
    its violation in units of the feasible values' spread, so the model leads back
    towards the feasible region; with no feasible trial, by violation alone.
    """
    infeasible = violation > 0
    if infeasible.any():
        feasible = ~infeasible & (state == COMPLETE) & np.isfinite(target)
        if not feasible.any():
            return np.where(infeasible, violation, np.max(violation))
        good = target[feasible]
        scale = max(float(np.ptp(good)), 1e-12) / float(np.max(violation))
        out = _impute(target, np.where(infeasible, FAIL, state), np.zeros_like(violation))
        out[infeasible] = float(np.max(good)) + scale * violation[infeasible]
        return out
    complete = (state == COMPLETE) & np.isfinite(target)
    if not complete.any():
        return np.zeros(len(target))  # every point alike: the variance alone guides
    good = target[complete]
    worst, median = float(np.max(good)), float(np.median(good))
    out = np.clip(np.nan_to_num(target, nan=median), float(np.min(good)), worst)
    pruned = state == PRUNED
    out[pruned] = np.clip(out[pruned], median, worst)
    out[(state == FAIL) | ~np.isfinite(target) & ~pruned] = worst
    return out


def _subsample(target: FloatArray, size: int, rng: np.random.Generator) -> IntArray:
    """Return rows to keep: the best quarter, the latest quarter, random ones for the rest."""
    n = len(target)
    keep = np.zeros(n, dtype=bool)
    keep[np.argsort(target, kind="stable")[: size // 4]] = True
    keep[n - size // 4 :] = True
    rest = np.flatnonzero(~keep)
    keep[rng.choice(rest, size=size - int(keep.sum()), replace=False)] = True
    return np.flatnonzero(keep)


def _model_inputs(unit: FloatArray, obs: Observations) -> gpm.Inputs:
    """Map unit-cube points (NaN where inactive) to the model's coordinates."""
    inactive = np.isnan(unit)
    x = np.where(inactive, 0.5, unit)
    cat = obs.categorical
    if cat.any():
        n = obs.cardinality[cat]
        index = np.minimum(np.floor(x[:, cat] * n), n - 1)
        x[:, cat] = np.where(inactive[:, cat], -1.0, index)
    return gpm.Inputs(x, inactive)


# Acquisition maximisation -----------------------------------------------------------------


class _Acquisition:
    """Log EI over unit-cube points (always active), with gradients."""

    def __init__(self, post: gpm.Posterior, best: float, obs: Observations) -> None:
        self.post, self.best = post, best
        self.cat = obs.categorical
        self.n_cat = obs.cardinality[obs.categorical]

    def _query(self, unit: FloatArray) -> FloatArray:
        if not self.cat.any():
            return unit
        q: FloatArray = unit.copy()
        q[:, self.cat] = np.minimum(np.floor(unit[:, self.cat] * self.n_cat), self.n_cat - 1)
        return q

    def value(self, unit: FloatArray) -> FloatArray:
        out = np.empty(len(unit))
        for start in range(0, len(unit), _CHUNK):
            mean, var, _, _ = self.post.predict(self._query(unit[start : start + _CHUNK]))
            out[start : start + _CHUNK] = gpm.log_ei(mean, var, self.best)[0]
        return out

    def value_and_grad(self, unit: FloatArray) -> tuple[FloatArray, FloatArray]:
        mean, var, dmean, dvar = self.post.predict(self._query(unit), grad=True)
        assert dmean is not None and dvar is not None
        value, d_mean, d_var = gpm.log_ei(mean, var, self.best)
        return value, d_mean[:, None] * dmean + d_var[:, None] * dvar


def _maximize(
    acq: _Acquisition, obs: Observations, rng: np.random.Generator, incumbents: FloatArray
) -> FloatArray:
    """Return candidate points ranked by log EI, the best first."""
    d = len(obs.names)
    sobol = qmc.Sobol(d, scramble=True, **{_SOBOL_RNG_ARG: rng}).random(_N_RAW)
    pool = _snap_discrete(np.concatenate([sobol, _local_points(incumbents, obs, rng)]), obs)
    values = acq.value(pool)
    starts = np.argsort(-values, kind="stable")[:_N_STARTS]
    x = _polish(acq, pool[starts], ~obs.categorical)
    discrete = obs.cardinality > 0
    if discrete.any():
        x = _discrete_search(acq, _snap_discrete(x, obs), obs)
        continuous = ~discrete
        if continuous.any():
            x = _polish(acq, x, continuous)
    polished = acq.value(x)
    order = np.argsort(-polished, kind="stable")
    extra = np.argsort(-values, kind="stable")[_N_STARTS:_N_RETURNED]
    return np.concatenate([x[order], pool[extra]])


def _local_points(
    incumbents: FloatArray, obs: Observations, rng: np.random.Generator
) -> FloatArray:
    """Return Gaussian perturbations of the best points (categories resampled rarely)."""
    d = len(obs.names)
    per = _N_LOCAL // len(_LOCAL_SCALES)
    blocks = []
    for point in incumbents:
        for scale in _LOCAL_SCALES:
            blocks.append(point + scale * rng.standard_normal((per, d)))
    local: FloatArray = np.clip(np.concatenate(blocks), 0.0, 1.0)
    cat = obs.categorical
    if cat.any():
        flip = rng.random((len(local), d)) < 1.0 / d
        centre = np.repeat(incumbents, per * len(_LOCAL_SCALES), axis=0)
        local[:, cat] = np.where(
            flip[:, cat], rng.random((len(local), int(cat.sum()))), centre[:, cat]
        )
    return local


def _snap_discrete(unit: FloatArray, obs: Observations) -> FloatArray:
    """Move every discrete coordinate to the encoding of the value it decodes to."""
    out = np.clip(unit, 0.0, 1.0)
    for j in np.flatnonzero(obs.cardinality > 0):
        dist = obs.space[obs.names[j]]
        out[:, j] = dist.encode(dist.decode(out[:, j]))
    return out


def _polish(acq: _Acquisition, x: FloatArray, free: npt.NDArray[np.bool_]) -> FloatArray:
    """Run L-BFGS-B on the ``free`` coordinates of all points at once; keep improvements."""
    if not free.any():
        return x
    k, n_free = len(x), int(free.sum())
    before = acq.value(x)

    def negative(flat: FloatArray) -> tuple[float, FloatArray]:
        u = x.copy()
        u[:, free] = flat.reshape(k, n_free)
        value, grad = acq.value_and_grad(u)
        return -float(np.sum(value)), -grad[:, free].ravel()

    result = optimize.minimize(
        negative,
        x[:, free].ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (k * n_free),
        options={"maxiter": _POLISH_ITERS},
    )
    polished = x.copy()
    polished[:, free] = np.clip(result.x.reshape(k, n_free), 0.0, 1.0)
    better = acq.value(polished) > before
    return np.where(better[:, None], polished, x)


def _neighbours(unit: float, j: int, obs: Observations) -> list[float]:
    """Return the encodings of the values next to ``unit`` on axis ``j`` (all categories)."""
    n = int(obs.cardinality[j])
    if obs.categorical[j]:
        return [(k + 0.5) / n for k in range(n)]
    dist = obs.space[obs.names[j]]
    if isinstance(dist, Int) and dist.log:
        value = dist.from_unit(unit)
        return [dist.to_unit(v) for v in (value - 1, value + 1) if dist.low <= v <= dist.high]
    k = min(math.floor(unit * n), n - 1)
    return [(i + 0.5) / n for i in (k - 1, k + 1) if 0 <= i < n]


def _discrete_search(acq: _Acquisition, x: FloatArray, obs: Observations) -> FloatArray:
    """Move each point to its best neighbouring grid value, one axis at a time, until none helps."""
    x = x.copy()
    axes = np.flatnonzero(obs.cardinality > 1)
    values = acq.value(x)
    active = np.ones(len(x), dtype=bool)
    for _ in range(_DISCRETE_ROUNDS):
        owners, moves = [], []
        for i in np.flatnonzero(active):
            for j in axes:
                for u in _neighbours(float(x[i, j]), int(j), obs):
                    if u != x[i, j]:
                        moved = x[i].copy()
                        moved[j] = u
                        owners.append(i)
                        moves.append(moved)
        if not moves:
            break
        scores = acq.value(np.array(moves))
        owner = np.array(owners)
        active[:] = False
        for i in np.unique(owner):
            mine = np.flatnonzero(owner == i)
            top = mine[int(np.argmax(scores[mine]))]
            if scores[top] > values[i] + 1e-9:
                x[i], values[i], active[i] = moves[top], scores[top], True
        if not active.any():
            break
    return x
