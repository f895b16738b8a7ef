"""Parzen estimators over the unit cube: the vectorised numerics of TPE.

A Parzen estimator here is a weighted mixture of product kernels, one component per
observation, plus a uniform prior component over the cube. A column of the cube is one of:

* smooth: a continuous parameter, or a grid with more than ``TABLE_MAX`` values. Its kernel
  is a Gaussian restricted to ``[0, 1]`` (a grid this fine holds little of a kernel in one
  cell, so the density at the point stands for the mass of its cell);
* table: a grid (integers, stepped floats) of at most ``TABLE_MAX`` values. Its kernel is
  the Gaussian's mass over each value's cell, renormalised over the grid, so that an integer
  is modelled as an integer and not as a rounded float;
* categorical: an Aitchison-Aitken kernel: the observed category keeps ``1 - u`` of the mass
  and ``u`` is spread evenly over all categories. Categories have no order.

An observation inactive in a column (NaN: a conditional parameter its trial did not use)
contributes the uniform factor there: it says nothing about that parameter.

Two estimators: :class:`LocalParzen` (TPE's good group ``l``: a bandwidth per observation,
exact truncation, can be sampled) and :class:`ScottParzen` (the bad group ``g``: one
bandwidth per column, edge correction at the evaluated point, cheap for many observations).

The log of a component's kernel at a point is linear in a few features of the point, so
``k`` points under ``n`` components cost one ``(k, D) @ (D, n)`` product and a logsumexp
per point; no Python loop runs over observations.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from hptune.space import Categorical, Distribution

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Grids with at most this many values are modelled cell by cell.
TABLE_MAX = 32
# Hyperopt's "magic clip": no bandwidth below 1 / min(100, n + 2) of the range, so that a
# few coinciding observations do not collapse a kernel onto a point (Bergstra et al. 2011).
_CLIP_RANGE = 100.0
# Scott's rule assumes one Gaussian bump; the bad group is multimodal (it follows wherever
# the search went), and Scott oversmooths such data (Silverman 1986, section 3.4.2). A
# quarter of Scott's bandwidth did best among 0.15 to 1 on our tuning problems.
_UPPER_SCOTT_FACTOR = 0.25
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_TINY = 1e-300
_EMPTY = np.empty(0)
# Matrix products are cut into pieces below OpenBLAS's threading threshold: threads cost
# more than they save at these sizes, and they burn CPU time while they wait.
_CHUNK_FLOPS = 200_000


class Layout:
    """How each column of a space is modelled; built once per space (see :func:`layout`)."""

    def __init__(self, dists: Sequence[Distribution]) -> None:
        card = np.array([dist.cardinality() or 0 for dist in dists], dtype=np.int64)
        cat = np.array([isinstance(dist, Categorical) for dist in dists], dtype=bool)
        table = (card > 0) & (card <= TABLE_MAX) & ~cat
        self.d = len(dists)
        self.smooth = np.flatnonzero(~cat & ~table)
        self.table = np.flatnonzero(table)
        self.cat = np.flatnonzero(cat)
        self.finite = np.concatenate([self.table, self.cat])
        self.numeric = np.concatenate([self.smooth, self.table])  # columns with a bandwidth
        self.all_smooth = len(self.smooth) == self.d
        self.columns = np.arange(self.d)
        self.sizes = card[self.finite]
        # Smallest bandwidth per column: a fine grid's kernel spans at least a cell, a
        # table's at least half a cell (it then keeps about 70% of its mass in its cell).
        self.floor = np.zeros(self.d)
        grid = card > 0
        self.floor[grid] = 1.0 / card[grid]
        self.floor[self.table] *= 0.5
        # Per finite column: the encoded values (cell representatives) and cell edges. Most
        # grids have equal cells; a log-scaled Int has cells that shrink along the scale.
        self.centres: list[FloatArray] = []
        self.edges: list[FloatArray] = []
        for j in self.finite:
            dist = dists[j]
            grid = dist.grid()
            assert grid is not None
            centres = np.asarray(dist.encode(grid), dtype=np.float64)
            self.centres.append(centres)
            self.edges.append(np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [1.0]]))
        self.log_widths = [np.log(np.maximum(np.diff(e), _TINY)) for e in self.edges]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self._shifts = 2.0 * np.arange(len(self.finite))
        self._flat_edges = np.concatenate([[]] + [e + 2.0 * t for t, e in enumerate(self.edges)])
        self._edge_starts = 1 + np.concatenate([[0], np.cumsum([len(e) for e in self.edges])])[
            :-1
        ].astype(np.int64)

    def cells(self, points: FloatArray, nan: bool = False) -> IntArray:
        """Return the cell index of each finite column, shape ``(len(points), n_finite)``.

        With ``nan``, inactive (NaN) entries get -1.
        """
        if not len(self.finite):
            return np.empty((len(points), 0), dtype=np.int64)
        # One search for all columns: column t's values and edges are shifted by 2 t.
        shifted = points[:, self.finite] + self._shifts
        index = self._flat_edges.searchsorted(shifted, side="right")
        index -= self._edge_starts
        np.minimum(index, self.sizes - 1, out=index)
        if nan:
            index[np.isnan(shifted)] = -1
        return index


@functools.lru_cache(maxsize=16)
def _layout_of(dists: tuple[Distribution, ...]) -> Layout:
    return Layout(dists)


# The same distribution objects come back at every proposal of a study: look them up by
# identity first, which spares hashing every distribution each time.
_BY_IDENTITY: dict[tuple[int, ...], tuple[tuple[Distribution, ...], Layout]] = {}
_BY_IDENTITY_LOCK = threading.Lock()


def layout(dists: tuple[Distribution, ...]) -> Layout:
    """Return the (cached) :class:`Layout` of the columns ``dists``."""
    key = tuple(map(id, dists))
    hit = _BY_IDENTITY.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], dists, strict=True)):
        return hit[1]
    found = _layout_of(dists)
    with _BY_IDENTITY_LOCK:
        if len(_BY_IDENTITY) >= 16:
            _BY_IDENTITY.pop(next(iter(_BY_IDENTITY)))
        _BY_IDENTITY[key] = (dists, found)  # holding dists keeps their ids from being reused
    return found


def interval_mass(a: FloatArray, b: FloatArray) -> FloatArray:
    """Return ``Phi(b) - Phi(a)`` for ``a <= b``, accurate in both tails."""
    flip = a > 0  # both in the upper tail: use the symmetric lower-tail difference
    return np.asarray(ndtr(np.where(flip, -a, b)) - ndtr(np.where(flip, -b, a)))


def clip_floor(n: int) -> float:
    """Return the smallest bandwidth for a group of ``n`` observations (the magic clip)."""
    return 1.0 / min(_CLIP_RANGE, n + 2.0)


def category_share(counts: IntArray, d: int) -> FloatArray:
    """Return the uniform share ``u`` of the categorical kernel for each column.

    It shrinks with the number of observations at the rate of a ``d``-dimensional bandwidth,
    ``n ** (-1 / (d + 4))``, and stays above ``1 / (n + 2)`` like the magic clip.
    """
    n = np.maximum(counts, 1).astype(np.float64)
    return np.asarray(np.clip(n ** (-1.0 / (d + 4)), 1.0 / (n + 2.0), 1.0))


class _Mixture:
    """Log density of a mixture as a linear form: ``logsumexp(F(p) @ G.T)`` plus a prior.

    ``G`` holds one row of coefficients per component, its last column the component's
    constant (log weight and normalisation); ``F`` holds the features of each point, its
    last column ones, and an offset common to every component (not to the prior).
    """

    G: FloatArray  # set by subclasses
    log_prior_weight: float

    def __init__(self, x: FloatArray, lay: Layout) -> None:
        n = len(x)
        self.lay, self.x, self.n = lay, x, n
        # The common case has no inactive entry; the sum is NaN exactly when one is.
        self.complete = not math.isnan(x.sum())
        if self.complete:
            self.mu = x
        else:
            self._active = ~np.isnan(x)
            self.mu = np.where(self._active, x, 0.5)

    @property
    def active(self) -> BoolArray:
        """``(n, d)``: True where the observation used the parameter."""
        if self.complete:
            return np.ones(self.x.shape, dtype=bool)
        return self._active

    def counts(self, columns: IntArray) -> IntArray:
        """How many observations are active in each of ``columns``."""
        if self.complete:
            return np.full(len(columns), self.n, dtype=np.int64)
        return np.asarray(self._active[:, columns].sum(axis=0))

    def _features(
        self, points: FloatArray, cells: IntArray
    ) -> tuple[FloatArray, FloatArray | None]:
        """Return ``F`` ``(k, D)`` and an offset ``(k,)`` common to every component."""
        raise NotImplementedError

    def log_pdf(self, points: FloatArray) -> FloatArray:
        """Return the log density at ``points`` ``(k, d)`` (masses in finite columns)."""
        lay = self.lay
        cells = lay.cells(points)
        features, offset = self._features(points, cells)
        k, n = len(points), self.n
        # Components by rows: G @ F.T is several times faster than F @ G.T for a thin F
        # (OpenBLAS on the (n, D) x (D, k) product with a small D).
        out = np.empty((n + 1, k))
        step = max(1, _CHUNK_FLOPS // max(1, k * features.shape[1]))
        features_t = features.T
        for start in range(0, n, step):
            stop = min(start + step, n)
            np.matmul(self.G[start:stop], features_t, out=out[start:stop])
        prior = out[n]
        prior.fill(self.log_prior_weight)
        if offset is not None:
            prior -= offset
        for t, widths in enumerate(lay.log_widths):  # the uniform mass of finite cells
            prior += widths[cells[:, t]]
        top = out.max(axis=0)  # finite: the prior or a component is
        out -= top
        # float32 is enough once the maximum is out (terms in (0, 1], a relative error
        # near 1e-7), and its exp and sum are several times faster.
        scaled = out.astype(np.float32)
        np.exp(scaled, out=scaled)
        result: FloatArray = np.log(scaled.sum(axis=0).astype(np.float64))
        result += top
        if offset is not None:
            result += offset
        return result


class LocalParzen(_Mixture):
    """A mixture whose kernels take their width from the neighbouring observations.

    In each column a component's bandwidth is the larger gap to its neighbours among the
    group's values there (the extremes use their one gap, a lone value half the range),
    clipped to ``[max(1 / min(100, n + 2), cell floor), 1]``. This adapts to the local
    spacing: narrow where the group is dense, wide where it is sparse. Kernels are truncated
    to ``[0, 1]`` and exactly normalised there, so the mixture is a density one can sample.

    Args:
        x: ``(n, d)`` the observations (NaN: inactive).
        weights: ``(n,)`` their weights, >= 0.
        lay: the columns.
        prior_weight: the uniform component's weight.
    """

    def __init__(self, x: FloatArray, weights: FloatArray, lay: Layout, prior_weight: float):
        super().__init__(x, lay)
        n = self.n
        w = np.empty(n + 1)
        w[:n] = weights
        w[n] = prior_weight
        total = float(w.sum())
        if total <= 0:  # no observation and no prior weight: the prior alone
            w[n], total = 1.0, 1.0
        w /= total
        self.cumulative = np.cumsum(w)
        self.log_component = np.log(np.maximum(w[:n], _TINY))
        self.log_prior_weight = math.log(w[n]) if w[n] > 0 else -math.inf
        self.h = self._bandwidths()
        self.u = category_share(self.counts(lay.cat), lay.d) if len(lay.cat) else _EMPTY
        # Each kernel's CDF at 0 and its mass inside [0, 1]: -mu/h <= 0 <= (1-mu)/h, so
        # the difference is accurate.
        inv_h = 1.0 / self.h
        self.scaled = self.mu * inv_h
        self.low_cdf = ndtr(-self.scaled)
        self.mass = np.maximum(ndtr(inv_h - self.scaled) - self.low_cdf, _TINY)
        self._build()

    def _bandwidths(self) -> FloatArray:
        n, d = self.x.shape
        lay = self.lay
        if n >= 2:
            order = self.x.argsort(axis=0)  # NaN sorts last
            ranked = self.x[order, lay.columns]
            gaps = np.empty((n + 1, d))
            gaps[0] = gaps[n] = np.nan
            np.subtract(ranked[1:], ranked[:-1], out=gaps[1:n])
            h = np.empty((n, d))
            h[order, lay.columns] = np.fmax(gaps[:-1], gaps[1:])  # NaN: no neighbour
            h[np.isnan(h)] = 0.5
        else:
            h = np.full((n, d), 0.5)
        return np.minimum(np.maximum(h, np.maximum(lay.floor, clip_floor(n))), 1.0)

    def _build(self) -> None:
        lay, n = self.lay, self.n
        s = lay.smooth
        ns = len(s)
        if lay.all_smooth:
            mu, h, scaled, mass = self.mu, self.h, self.scaled, self.mass
        else:
            mu, h, scaled, mass = self.mu[:, s], self.h[:, s], self.scaled[:, s], self.mass[:, s]
        inv = 1.0 / (h * h)
        terms = np.log(h * mass)  # the truncated kernel's normalisation
        terms += 0.5 * scaled * scaled
        if not self.complete:
            active = self._active[:, s]
            inv *= active
            terms *= active
        self.G = G = np.empty((n, 2 * ns + int(lay.offsets[-1]) + 1))
        np.multiply(inv, -0.5, out=G[:, :ns])
        np.multiply(inv, mu, out=G[:, ns : 2 * ns])
        for t, j in enumerate(lay.finite):
            block = G[:, 2 * ns + lay.offsets[t] : 2 * ns + lay.offsets[t + 1]]
            block[:] = self._table_block(t, j) if t < len(lay.table) else self._category_block(t, j)
        n_active = self._active[:, s].sum(axis=1) if not self.complete else ns
        G[:, -1] = self.log_component - terms.sum(axis=1) - _LOG_SQRT_2PI * n_active

    def _table_block(self, t: int, j: int) -> FloatArray:
        """Log mass of each cell under each component, ``(n, cells)``."""
        edges = self.lay.edges[t]
        h = self.h[:, j : j + 1]
        z = (edges - self.mu[:, j : j + 1]) / h
        mass = interval_mass(z[:, :-1], z[:, 1:])
        mass /= np.maximum(mass.sum(axis=1, keepdims=True), _TINY)
        log_mass = np.log(np.maximum(mass, _TINY))
        # Inactive: the uniform kernel, each cell its width.
        return np.where(self.active[:, j : j + 1], log_mass, self.lay.log_widths[t])

    def _category_block(self, t: int, j: int) -> FloatArray:
        m = int(self.lay.sizes[t])
        u = float(self.u[t - len(self.lay.table)])
        block = np.full((self.n, m), math.log(u / m))
        active = self.active[:, j]
        rows = np.flatnonzero(active)
        index = np.minimum((self.mu[rows, j] * m).astype(np.int64), m - 1)
        block[rows, index] = math.log(1.0 - u + u / m)
        block[~active] = -math.log(m)
        return block

    def _features(
        self, points: FloatArray, cells: IntArray
    ) -> tuple[FloatArray, FloatArray | None]:
        lay = self.lay
        k, ns = len(points), len(lay.smooth)
        features = np.zeros((k, self.G.shape[1]))
        c = points if lay.all_smooth else points[:, lay.smooth]
        np.multiply(c, c, out=features[:, :ns])
        features[:, ns : 2 * ns] = c
        if len(lay.finite):
            features[np.arange(k)[:, None], 2 * ns + lay.offsets[:-1] + cells] = 1.0
        features[:, -1] = 1.0
        return features, None

    def sample(self, rng: np.random.Generator, k: int) -> FloatArray:
        """Draw ``k`` points ``(k, d)``; grid columns land on their values' encodings."""
        lay, n = self.lay, self.n
        comp = np.searchsorted(self.cumulative, rng.random(k) * self.cumulative[-1], "right")
        r = rng.random((k, lay.d))
        prior = comp >= n
        if n == 0:
            return self._on_grid(r)
        row = np.minimum(comp, n - 1)
        mu = self.mu[row]
        # Inverse CDF of each kernel truncated to [0, 1] (grid columns: read off at the
        # cell below); categories keep theirs w.p. 1 - u; the prior and inactive entries
        # stay uniform.
        drawn = mu + self.h[row] * ndtri(self.low_cdf[row] + r * self.mass[row])
        out = np.minimum(np.maximum(drawn, 0.0), 1.0)
        if len(lay.cat):
            c = lay.cat
            same = rng.random((k, len(c))) >= self.u
            out[:, c] = np.where(same, mu[:, c], r[:, c])
        if self.complete:
            out[prior] = r[prior]
        else:
            out = np.where(self._active[row] & ~prior[:, None], out, r)
        return self._on_grid(out)

    def _on_grid(self, out: FloatArray) -> FloatArray:
        lay = self.lay
        if len(lay.finite):
            cells = lay.cells(out)
            for t, j in enumerate(lay.finite):
                out[:, j] = lay.centres[t][cells[:, t]]
        return out


class ScottParzen(_Mixture):
    """A mixture with equal weights and one bandwidth per column, by a scaled Scott's rule.

    ``h = 0.25 * sigma * n ** (-1 / (d + 4))`` per column (``sigma`` the standard deviation
    of the group's values there, ``n`` their count), clipped like :class:`LocalParzen`.
    With the bandwidth shared by all components, the edge correction is applied at the
    evaluated point instead of per component: the sum of plain Gaussian kernels is divided
    by the mass inside ``[0, 1]`` of a kernel centred at the point (the cut-and-normalise
    boundary correction of M. C. Jones, "Simple boundary correction for kernel density
    estimation", Statistics and Computing 3, 1993). That costs ``k * d`` normal CDFs instead
    of ``n * d``, which keeps a large bad group cheap. It is an estimator to evaluate (its
    mass is 1 only up to the boundary correction's error), not to sample from.

    Args:
        x: ``(n, d)`` the observations (NaN: inactive), weighted equally.
        lay: the columns.
        prior_weight: the uniform component's weight, relative to one observation.
    """

    def __init__(self, x: FloatArray, lay: Layout, prior_weight: float) -> None:
        super().__init__(x, lay)
        n = self.n
        if n + prior_weight <= 0:  # no observation and no prior weight: the prior alone
            prior_weight = 1.0
        total = n + prior_weight
        self.log_component = -math.log(total)
        self.log_prior_weight = math.log(prior_weight / total) if prior_weight > 0 else -math.inf
        self.h = self._bandwidths()
        self.u = category_share(self.counts(lay.cat), lay.d) if len(lay.cat) else _EMPTY
        self._tables = [self._table(t) for t in range(len(lay.finite))]
        self.fast = self.complete and lay.all_smooth
        if self.fast:
            # G = [x, const]; the point's side carries the bandwidths (see _features).
            d = lay.d
            shift = self.log_component - float(np.log(self.h).sum()) - _LOG_SQRT_2PI * d
            self.G = G = np.empty((n, d + 1))
            G[:, :d] = x
            G[:, d] = self._squares @ (-0.5 / (self.h * self.h))
            G[:, d] += shift
        else:
            self._build()

    def _bandwidths(self) -> FloatArray:
        lay, d = self.lay, self.lay.d
        cols = lay.numeric
        values = self.mu if len(cols) == d else self.mu[:, cols]
        if not self.complete:
            values = values * self._active[:, cols]
        self._squares = squares = values * values
        counts = self.counts(cols)
        n = np.maximum(counts, 1)
        ones = np.ones(len(values))
        first = ones @ values
        var = np.maximum(ones @ squares - first * first / n, 0.0) / np.maximum(counts - 1, 1)
        sigma = np.where(counts >= 2, np.sqrt(var), 1.0 / math.sqrt(12.0))
        h = np.ones(d)
        h[cols] = _UPPER_SCOTT_FACTOR * sigma * n ** (-1.0 / (d + 4))
        return np.minimum(np.maximum(h, np.maximum(lay.floor, clip_floor(self.n))), 1.0)

    def _build(self) -> None:
        lay, n = self.lay, self.n
        s = lay.smooth
        ns, n_finite = len(s), len(lay.finite)
        h = self.h[s]
        active = self.active[:, s]
        mu = self.mu[:, s] * active
        # [active, mu, one-hot cells (an extra slot when inactive), const]
        self.G = G = np.zeros((n, 2 * ns + int(lay.offsets[-1]) + n_finite + 1))
        G[:, :ns] = active
        G[:, ns : 2 * ns] = mu
        if n_finite:
            cells = lay.cells(self.x, nan=True)
            inactive = np.where(cells < 0, lay.sizes, cells)
            slots = 2 * ns + inactive + lay.offsets[:-1] + np.arange(n_finite)
            G[np.arange(n)[:, None], slots] = 1.0
        G[:, -1] = self.log_component - (mu * mu) @ (0.5 / (h * h))
        G[:, -1] -= active @ (np.log(h) + _LOG_SQRT_2PI)

    def _table(self, t: int) -> FloatArray:
        """Log kernel mass ``(cells + 1, cells)``: row = component's cell (last: inactive)."""
        lay = self.lay
        j = int(lay.finite[t])
        m = int(lay.sizes[t])
        if t < len(lay.table):
            z = (lay.edges[t][None, :] - lay.centres[t][:, None]) / self.h[j]
            mass = interval_mass(z[:, :-1], z[:, 1:])
            mass /= np.maximum(mass.sum(axis=1, keepdims=True), _TINY)
            body = np.log(np.maximum(mass, _TINY))
        else:
            u = float(self.u[t - len(lay.table)])
            body = np.full((m, m), math.log(u / m))
            np.fill_diagonal(body, math.log(1.0 - u + u / m))
        return np.vstack([body, lay.log_widths[t][None, :]])

    def _features(
        self, points: FloatArray, cells: IntArray
    ) -> tuple[FloatArray, FloatArray | None]:
        lay = self.lay
        k, s = len(points), lay.smooth
        c = points if lay.all_smooth else points[:, s]
        inv_h = 1.0 / (self.h if lay.all_smooth else self.h[s])
        inv = inv_h * inv_h
        scaled = c * inv_h
        # Edge correction at the point: -c/h <= 0 <= (1-c)/h, so the difference is accurate.
        quadratic = np.log(np.maximum(ndtr(inv_h - scaled) - ndtr(-scaled), _TINY))
        quadratic += 0.5 * scaled * scaled
        if self.fast:  # every component active in every column: a term common to all
            features = np.empty((k, len(s) + 1))
            np.multiply(c, inv, out=features[:, :-1])
            features[:, -1] = 1.0
            return features, -quadratic.sum(axis=1)
        blocks = [-quadratic, c * inv]
        for t in range(len(lay.finite)):
            blocks.append(self._tables[t][:, cells[:, t]].T)
        blocks.append(np.ones((k, 1)))
        return np.concatenate(blocks, axis=1), None
