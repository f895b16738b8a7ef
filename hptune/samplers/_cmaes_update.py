"""The numerics of CMA-ES: the search distribution, its sampling and its update.

No trials here: :mod:`hptune.samplers.cmaes` replays generations from the history and
calls :func:`update` with each generation's points ranked. See that module for the
algorithm and its references.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from hptune.space import Distribution, Int

__all__ = ["Cell", "State", "cell_of", "draw", "fresh_state", "update"]

FloatArray = npt.NDArray[np.float64]

# Past this many dimensions the covariance is diagonal (sep-CMA-ES).
_SEP_DIMENSIONS = 40
# Draws of a point before it is clipped to the cube.
_BOUND_DRAWS = 16
# Stop criteria of a run (unit-cube coordinates; relative function tolerance).
_TOL_X = 1e-6
_TOL_FUN = 1e-9
_MAX_CONDITION = 1e14


@dataclass(frozen=True, slots=True)
class Constants:
    """Strategy parameters of Hansen's tutorial [1] (positive weights only)."""

    weights: FloatArray
    mueff: float
    cs: float
    ds: float
    cc: float
    c1: float
    cmu: float
    chi: float
    sep: bool

    @classmethod
    def of(cls, d: int, lam: int) -> Constants:
        mu = lam // 2
        w = math.log((lam + 1) / 2) - np.log(np.arange(1, mu + 1))
        w /= w.sum()
        mueff = float(1.0 / np.sum(w**2))
        cs = (mueff + 2) / (d + mueff + 5)
        ds = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (d + 1)) - 1) + cs
        cc = (4 + mueff / d) / (d + 4 + 2 * mueff / d)
        c1 = 2 / ((d + 1.3) ** 2 + mueff)
        cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((d + 2) ** 2 + mueff))
        sep = d > _SEP_DIMENSIONS
        if sep:  # sep-CMA-ES: a diagonal covariance learns (d + 2) / 3 times faster
            c1 = min(1.0, c1 * (d + 2) / 3)
            cmu = min(1 - c1, cmu * (d + 2) / 3)
        chi = math.sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d * d))
        return cls(w, mueff, cs, ds, cc, c1, cmu, chi, sep)


@dataclass(frozen=True, slots=True)
class State:
    """The search distribution of one generation of one run, and the run's stop record."""

    run: int
    generation: int
    lam: int
    mean: FloatArray
    sigma: float
    cov: FloatArray
    basis: FloatArray  # eigenvectors of cov (columns)
    scale: FloatArray  # square roots of its eigenvalues
    ps: FloatArray
    pc: FloatArray
    margin_scale: FloatArray  # the diagonal A of CMA-ES with margin (1 for floats)
    bests: tuple[float, ...]  # the best value of each recent generation
    run_best: float
    stale: int  # generations since run_best improved


@dataclass(frozen=True, slots=True)
class Cell:
    """Where a discrete parameter's values change in the unit cube."""

    n: int
    log_bounds: tuple[float, float] | None  # (log(low - 0.5), log(high + 0.5)) of log ints
    low: int

    def bounds(self, u: float) -> tuple[float | None, float | None]:
        """The cell of ``u``: its lower and upper edges (None at the ends of the range)."""
        if self.log_bounds is None:
            k = min(max(math.floor(u * self.n), 0), self.n - 1)
            return (k / self.n if k > 0 else None), ((k + 1) / self.n if k < self.n - 1 else None)
        lo_log, hi_log = self.log_bounds
        v = min(
            max(round(math.exp(lo_log + u * (hi_log - lo_log))), self.low), self.low + self.n - 1
        )
        span = hi_log - lo_log
        lower = (math.log(v - 0.5) - lo_log) / span if v > self.low else None
        upper = (math.log(v + 0.5) - lo_log) / span if v < self.low + self.n - 1 else None
        return lower, upper


def cell_of(dist: Distribution) -> Cell | None:
    n = dist.cardinality()
    if n is None:
        return None
    if isinstance(dist, Int) and dist.log:
        return Cell(n, (math.log(dist.low - 0.5), math.log(dist.high + 0.5)), dist.low)
    return Cell(n, None, 0)


def fresh_state(run: int, lam: int, mean: FloatArray, sigma: float) -> State:
    d = len(mean)
    return State(
        run=run,
        generation=0,
        lam=lam,
        mean=mean,
        sigma=sigma,
        cov=np.eye(d),
        basis=np.eye(d),
        scale=np.ones(d),
        ps=np.zeros(d),
        pc=np.zeros(d),
        margin_scale=np.ones(d),
        bests=(),
        run_best=math.inf,
        stale=0,
    )


def draw(state: State, rng: np.random.Generator) -> FloatArray:
    """Points ``(k, d)`` drawn from the state's distribution, the first inside the cube first.

    ``_BOUND_DRAWS`` points are drawn; those inside the cube come first, in draw order,
    then the others clipped to it.
    """
    z = rng.standard_normal((_BOUND_DRAWS, len(state.mean)))
    y = (z * state.scale) @ state.basis.T
    x = state.mean + state.sigma * state.margin_scale * y
    inside = np.all((x >= 0.0) & (x <= 1.0), axis=1)
    order = np.argsort(~inside, kind="stable")
    points: FloatArray = np.clip(x[order], 0.0, 1.0)
    return points


def update(
    state: State,
    xs: FloatArray,
    ranked_values: FloatArray,
    flat: bool,
    cells: Sequence[Cell | None],
) -> tuple[State, bool]:
    """One CMA-ES update from a generation's points ``xs`` ranked best first.

    ``ranked_values`` are the complete feasible values in rank order (for the stop
    criteria); ``flat`` says that every point ranked the same. Returns the next state and
    whether the run should stop.
    """
    d = len(state.mean)
    c = Constants.of(d, state.lam)
    mu = len(c.weights)
    step = state.sigma * state.margin_scale
    y = (xs[:mu] - state.mean) / step
    yw = c.weights @ y
    mean = state.mean + step * yw
    inv_sqrt_yw = state.basis @ ((state.basis.T @ yw) / state.scale)
    ps = (1 - c.cs) * state.ps + math.sqrt(c.cs * (2 - c.cs) * c.mueff) * inv_sqrt_yw
    norm_ps = float(np.linalg.norm(ps))
    generation = state.generation + 1
    hsig = norm_ps / math.sqrt(1 - (1 - c.cs) ** (2 * generation)) < (1.4 + 2 / (d + 1)) * c.chi
    pc = (1 - c.cc) * state.pc + hsig * math.sqrt(c.cc * (2 - c.cc) * c.mueff) * yw
    c1a = c.c1 * (1 - (1 - hsig) * c.cc * (2 - c.cc))
    rank_mu = (y.T * c.weights) @ y
    cov = (1 - c1a - c.cmu) * state.cov + c.c1 * np.outer(pc, pc) + c.cmu * rank_mu
    if c.sep:
        cov = np.diag(np.diag(cov))
    sigma = state.sigma * math.exp(min(1.0, (c.cs / c.ds) * (norm_ps / c.chi - 1)))
    n_ranked = len(ranked_values)
    if n_ranked == state.lam and ranked_values[0] == ranked_values[math.ceil(0.7 * n_ranked) - 1]:
        sigma *= math.exp(0.2 + c.cs / c.ds)  # flat fitness: widen the search
    if c.sep:
        variances = np.diag(cov).copy()
        basis = np.eye(d)
    else:
        cov = (cov + cov.T) / 2
        variances, basis = np.linalg.eigh(cov)
    variances = np.maximum(variances, 1e-300)
    scale = np.sqrt(variances)
    sigma = min(sigma, 1.0 / float(np.sqrt(np.max(np.diag(cov)))))
    mean = np.clip(mean, 0.0, 1.0)

    gen_best = float(ranked_values[0]) if n_ranked else math.inf
    improved = gen_best < state.run_best - _TOL_FUN * abs(state.run_best) - 1e-300
    history_length = 10 + math.ceil(30 * d / state.lam)
    bests = (*state.bests, gen_best)[-history_length:]
    run_best = min(gen_best, state.run_best)
    stale = 0 if improved else state.stale + 1
    margin_scale = np.ones(d)
    if any(cell is not None for cell in cells):
        mean, margin_scale = apply_margin(mean, sigma, np.diag(cov), cells, d * state.lam)
    next_state = State(
        state.run,
        generation,
        state.lam,
        mean,
        sigma,
        cov,
        basis,
        scale,
        ps,
        pc,
        margin_scale,
        bests,
        run_best,
        stale,
    )
    return next_state, flat or should_stop(next_state, ranked_values, history_length)


def apply_margin(
    mean: FloatArray,
    sigma: float,
    variances: FloatArray,
    cells: Sequence[Cell | None],
    d_lambda: int,
) -> tuple[FloatArray, FloatArray]:
    """Keep each discrete coordinate's probability of leaving its cell >= 1 / (d lambda).

    An interior cell needs ``alpha / 2`` on each side: when a side has less, the marginal
    Gaussian is replaced by the one with the raised tail probabilities (a wider scale,
    a mean moved inside the cell). An end cell needs ``alpha`` on its one side: the mean
    moves toward it. Returns the new mean and the scaling ``A``.
    """
    alpha = 1.0 / d_lambda
    mean = mean.copy()
    margin_scale = np.ones(len(mean))
    for j, cell in enumerate(cells):
        if cell is None:
            continue
        m = float(mean[j])
        s = sigma * math.sqrt(float(variances[j]))
        lower, upper = cell.bounds(m)
        if lower is not None and upper is not None:
            p_low = float(ndtr((lower - m) / s))
            p_up = float(ndtr((m - upper) / s))
            if p_low >= alpha / 2 and p_up >= alpha / 2:
                continue
            z_low = float(ndtri(max(p_low, alpha / 2)))
            z_up = float(ndtri(1 - max(p_up, alpha / 2)))
            s_new = (upper - lower) / (z_up - z_low)
            mean[j] = lower - s_new * z_low
            margin_scale[j] = max(1.0, s_new / s)
        elif upper is not None:
            if ndtr((m - upper) / s) < alpha:
                mean[j] = upper - s * float(ndtri(1 - alpha))
        elif lower is not None and ndtr((lower - m) / s) < alpha:
            mean[j] = lower + s * float(ndtri(1 - alpha))
    return mean, margin_scale


def should_stop(state: State, ranked_values: FloatArray, history_length: int) -> bool:
    if state.sigma * float(np.max(np.sqrt(np.diag(state.cov)))) < _TOL_X:
        return True
    if (float(np.max(state.scale)) / float(np.min(state.scale))) ** 2 > _MAX_CONDITION:
        return True
    if state.stale >= history_length:
        return True
    if len(state.bests) >= history_length and len(ranked_values):
        values = np.concatenate([np.asarray(state.bests), ranked_values])
        values = values[np.isfinite(values)]
        tol = _TOL_FUN * max(abs(state.run_best), 1e-300)
        if len(values) and float(values.max() - values.min()) <= tol:
            return True
    return False


# The replay ---------------------------------------------------------------------------
