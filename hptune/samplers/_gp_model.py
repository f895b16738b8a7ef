"""Gaussian-process numerics of GPSampler: kernel, hyperparameter fit, posterior, LogEI.

Inputs are points of the unit cube, except categorical columns, which hold category
indices (``-1`` for an inactive parameter). ``inactive`` marks the parameters a trial did
not use; numeric inactive coordinates hold 0.5.

The kernel is ``s2 * matern52(r) * exp(-t)`` with

- ``r^2 = sum_i (d_i / l_i)^2`` over numeric dimensions, where ``d_i`` is the
  coordinate difference, plus ``_INACTIVE_OFFSET**2`` when exactly one of the two points
  uses the parameter (an inactive value sits at 0.5 and off the axis by the offset: a
  Euclidean embedding, so the kernel stays positive definite);
- ``t = sum_c [a_c != b_c] / (2 l_c^2)`` over categorical dimensions (an exchangeable
  kernel: every two distinct categories are equally alike; inactive is one more category).

Hyperparameters are ``theta = (log l_1..l_d, log s2, log noise)`` of standardized targets;
the constant prior mean is the generalized least-squares estimate for them (profiled out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import linalg, optimize, special

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_SQRT5 = math.sqrt(5.0)
_INACTIVE_OFFSET2 = 0.25  # squared distance of an inactive value from the axis
# Bounds of the hyperparameters (log scale) for standardized targets.
_LOG_LS_BOUNDS = (math.log(1e-2), math.log(1e3))
_LOG_SIGNAL_BOUNDS = (math.log(5e-2), math.log(20.0))
_LOG_NOISE_BOUNDS = (math.log(1e-6), math.log(1.0))
# Priors, normal on the log scale. Length scales: the dimension-scaled prior of
# Hvarfner et al. (2024), l ~ LogNormal(sqrt(2) + log(d) / 2, sqrt(3)). Its density in l
# times the Jacobian of log l is a normal in log l centred on mu - sigma^2 (the MAP in l
# of BoTorch's parametrization), hence the - 3. Centring on mu instead (median l = 18 at
# d = 20) made the model too smooth and sent proposals to the corners in our tests.
# Noise: centred on a small variance (1e-4 of the targets'), with room for noisy objectives.
_LS_PRIOR_LOC0 = math.sqrt(2.0) - 3.0
_LS_PRIOR_DIM = 0.5
_LS_PRIOR_SCALE = math.sqrt(3.0)
_SIGNAL_PRIOR = (0.0, 1.0)
_NOISE_PRIOR = (math.log(1e-4), 2.0)
_JITTERS = (0.0, 1e-8, 1e-6, 1e-4, 1e-2)


@dataclass(frozen=True, slots=True)
class Inputs:
    """Points in the model's coordinates.

    Attributes:
        x: ``(n, d)`` unit-cube coordinates; category indices in categorical columns.
        inactive: ``(n, d)`` True where the point does not use the parameter.
    """

    x: FloatArray
    inactive: BoolArray

    def __len__(self) -> int:
        return len(self.x)


def concat(a: Inputs, b: Inputs) -> Inputs:
    return Inputs(np.concatenate([a.x, b.x]), np.concatenate([a.inactive, b.inactive]))


def sq_dists(a: Inputs, b: Inputs, categorical: BoolArray) -> FloatArray:
    """Return per-dimension squared distances ``(d, len(a), len(b))``."""
    d2 = np.empty((a.x.shape[1], len(a), len(b)))
    num = ~categorical
    if num.any():
        diff = a.x[:, None, num] - b.x[None, :, num]
        part = diff * diff
        if a.inactive[:, num].any() or b.inactive[:, num].any():
            part += _INACTIVE_OFFSET2 * (a.inactive[:, None, num] ^ b.inactive[None, :, num])
        d2[num] = np.moveaxis(part, 2, 0)
    if categorical.any():
        d2[categorical] = np.moveaxis(
            a.x[:, None, categorical] != b.x[None, :, categorical], 2, 0
        ).astype(np.float64)
    return d2


def _weights(theta: FloatArray, categorical: BoolArray) -> FloatArray:
    """Per-dimension multipliers of the squared distances: 1/l^2, or 1/(2 l^2)."""
    w = np.exp(-2.0 * theta[:-2])
    return np.where(categorical, 0.5 * w, w)


def _matern(r2: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the Matern-5/2 correlation and its derivative with respect to ``r^2``."""
    a = np.sqrt(np.maximum(r2, 0.0))
    a *= _SQRT5
    e = np.exp(-a)
    a += 1.0
    deriv = a * e
    value = r2 * (5.0 / 3.0)
    value += a
    value *= e
    deriv *= -5.0 / 6.0
    return value, deriv


@dataclass(frozen=True, slots=True)
class Distances:
    """Squared distances of the training points, split by kind: ``(d_kind, n * n)``."""

    n: int
    numeric: FloatArray
    categorical: FloatArray
    is_categorical: BoolArray

    @classmethod
    def of(cls, inputs: Inputs, categorical: BoolArray) -> Distances:
        d2 = sq_dists(inputs, inputs, categorical).reshape(len(categorical), -1)
        return cls(len(inputs), d2[~categorical], d2[categorical], categorical)


def _kernel_parts(dist: Distances, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``K`` (noise-free), ``s2 * exp(-t) * matern'(r^2)``, and the weights."""
    w = _weights(theta, dist.is_categorical)
    num = ~dist.is_categorical
    r2 = w[num] @ dist.numeric if len(dist.numeric) else np.zeros(dist.n * dist.n)
    m, dm = _matern(r2)
    scale: float | FloatArray = math.exp(theta[-2])
    if len(dist.categorical):
        scale = scale * np.exp(-(w[dist.is_categorical] @ dist.categorical))
    m *= scale
    dm *= scale
    shape = (dist.n, dist.n)
    return m.reshape(shape), dm.reshape(shape), w


def cholesky(k: FloatArray) -> FloatArray:
    """Return the lower Cholesky factor of ``k``, adding jitter to the diagonal if needed."""
    mean_diag = float(np.mean(np.diag(k))) if len(k) else 1.0
    for jitter in _JITTERS:
        try:
            a = k + (jitter * mean_diag) * np.eye(len(k)) if jitter else k
            return linalg.cholesky(a, lower=True, check_finite=False)  # type: ignore[no-any-return]
        except linalg.LinAlgError:
            continue
    raise linalg.LinAlgError("the kernel matrix is not positive definite even with jitter")


def _inverse(chol: FloatArray) -> FloatArray:
    """Return ``K^-1`` from the lower factor (whose upper triangle is zero, as scipy's is)."""
    inv, info = linalg.lapack.dpotri(chol, lower=1)
    if info != 0:
        raise linalg.LinAlgError("dpotri failed")
    full = inv + inv.T  # dpotri fills the lower triangle and leaves the zero upper one
    full.flat[:: len(full) + 1] *= 0.5
    return full  # type: ignore[no-any-return]


def neg_log_posterior(
    theta: FloatArray, dist: Distances, y: FloatArray
) -> tuple[float, FloatArray]:
    """Return minus the log marginal likelihood plus log prior, and its gradient."""
    n = len(y)
    kf, dkf, w = _kernel_parts(dist, theta)
    noise = math.exp(theta[-1])
    k = kf.copy()
    k.flat[:: n + 1] += noise
    try:
        chol = cholesky(k)
    except linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = _residual_weights(chol, y)[1]
    value = 0.5 * float(y @ alpha) + float(np.sum(np.log(np.diag(chol))))
    value += 0.5 * n * math.log(2 * math.pi)
    big_w = np.outer(alpha, alpha)
    big_w -= _inverse(chol)  # d(log lik) = 0.5 tr(W dK)
    grad = np.empty_like(theta)
    cat = dist.is_categorical
    if len(dist.numeric):
        # dK/dlog l_i = s2 e^-t matern' * (-2 w_i d2_i)
        grad[:-2][~cat] = (dist.numeric @ (big_w * dkf).ravel()) * w[~cat]
    wk = big_w * kf
    if len(dist.categorical):
        # dK/dlog l_c = K * 2 w_c d2_c (w_c = 1 / (2 l_c^2))
        grad[:-2][cat] = -(dist.categorical @ wk.ravel()) * w[cat]
    grad[-2] = -0.5 * float(np.sum(wk))
    grad[-1] = -0.5 * noise * float(np.trace(big_w))
    prior_value, prior_grad = _neg_log_prior(theta)
    return value + prior_value, grad + prior_grad


def _residual_weights(chol: FloatArray, y: FloatArray) -> tuple[float, FloatArray]:
    """Return the constant mean (generalized least squares) and ``K^-1 (y - mean)``.

    Profiling the mean out leaves the likelihood's gradient formulas unchanged (the
    likelihood is stationary in the mean at its estimate).
    """
    both = linalg.cho_solve((chol, True), np.column_stack([y, np.ones_like(y)]), check_finite=False)
    mean = float(np.sum(both[:, 0]) / np.sum(both[:, 1]))
    return mean, both[:, 0] - mean * both[:, 1]


def _neg_log_prior(theta: FloatArray) -> tuple[float, FloatArray]:
    dims = len(theta) - 2
    locs = np.empty_like(theta)
    scales = np.empty_like(theta)
    locs[:-2], scales[:-2] = _ls_prior_loc(dims), _LS_PRIOR_SCALE
    locs[-2], scales[-2] = _SIGNAL_PRIOR
    locs[-1], scales[-1] = _NOISE_PRIOR
    z = (theta - locs) / scales
    return 0.5 * float(z @ z), z / scales


def _ls_prior_loc(dims: int) -> float:
    return _LS_PRIOR_LOC0 + _LS_PRIOR_DIM * math.log(max(dims, 1))


def _bounds(dims: int) -> list[tuple[float, float]]:
    return [_LOG_LS_BOUNDS] * dims + [_LOG_SIGNAL_BOUNDS, _LOG_NOISE_BOUNDS]


def initial_thetas(dims: int, rng: np.random.Generator, n_random: int) -> FloatArray:
    """Return starting points of the fit: fixed guesses, then draws from the prior."""
    prior_loc = _ls_prior_loc(dims)
    fixed = [
        np.log(np.sqrt(dims)) + np.log(0.5),  # a moderate length scale, scaled with d
        min(prior_loc, _LOG_LS_BOUNDS[1]),  # the prior's median: a smooth function
        np.log(0.1 * np.sqrt(dims)),  # a rough function
    ]
    rows = [np.concatenate([np.full(dims, v), [0.0, math.log(1e-3)]]) for v in fixed]
    for _ in range(n_random):
        ls = prior_loc + _LS_PRIOR_SCALE * rng.standard_normal(dims)
        rows.append(np.concatenate([ls, [0.0, math.log(1e-3)]]))
    lows, highs = np.array(_bounds(dims)).T
    return np.asarray(np.clip(np.array(rows), lows, highs), dtype=np.float64)


def fit(
    inputs: Inputs,
    y: FloatArray,
    categorical: BoolArray,
    starts: FloatArray,
    *,
    n_polished: int = 2,
) -> FloatArray:
    """Return the MAP hyperparameters ``theta`` for standardized targets ``y``.

    Every row of ``starts`` is scored; the best ``n_polished`` are refined with L-BFGS-B
    (analytic gradients) and the best result is returned. Deterministic for given inputs.
    """
    dist = Distances.of(inputs, categorical)
    dims = inputs.x.shape[1]
    scores = [neg_log_posterior(t, dist, y)[0] for t in starts]
    best_theta, best_value = starts[int(np.argmin(scores))], float(np.min(scores))
    for i in np.argsort(scores, kind="stable")[:n_polished]:
        result = optimize.minimize(
            neg_log_posterior,
            starts[i],
            args=(dist, y),
            jac=True,
            method="L-BFGS-B",
            bounds=_bounds(dims),
            options={"maxiter": 200, "ftol": 1e-9, "gtol": 1e-6},
        )
        if np.isfinite(result.fun) and result.fun < best_value:
            best_theta, best_value = np.asarray(result.x, dtype=np.float64), float(result.fun)
    return np.asarray(best_theta, dtype=np.float64)


class Posterior:
    """The GP posterior for fixed hyperparameters: mean and variance, with gradients."""

    def __init__(
        self, inputs: Inputs, y: FloatArray, theta: FloatArray, categorical: BoolArray
    ) -> None:
        self.inputs, self.theta, self.categorical = inputs, theta, categorical
        self.w = _weights(theta, categorical)
        self.signal = math.exp(theta[-2])
        num = ~categorical
        self._num = num
        # r^2 = |q'|^2 + |x'|^2 - 2 q'.x' with x' = x sqrt(w): matrix products, not a
        # (k, n, d) array. Inactive coordinates add the offset where exactly one is.
        self._root_w = np.sqrt(self.w[num])
        self._xs = inputs.x[:, num] * self._root_w
        self._x_inactive = inputs.inactive[:, num].astype(np.float64)
        self._x_const = np.einsum("ij,ij->i", self._xs, self._xs)
        self._x_const += _INACTIVE_OFFSET2 * (self._x_inactive @ self.w[num])
        kf, _ = self._kernel(inputs)
        kf.flat[:: len(kf) + 1] = self.signal  # r = 0 exactly on the diagonal
        noise = math.exp(theta[-1])
        self.chol = cholesky(kf + noise * np.eye(len(y)))
        self.offset, self.alpha = _residual_weights(self.chol, y)
        self.inv = _inverse(self.chol)

    def mean_at(self, inputs: Inputs) -> FloatArray:
        """Return the posterior mean at ``inputs`` (which may have inactive coordinates)."""
        return self.offset + self._kernel(inputs)[0] @ self.alpha

    def _kernel(self, query: Inputs) -> tuple[FloatArray, FloatArray]:
        """Return ``k(query, X)`` and ``s2 e^-t matern'(r^2)``, both ``(k, n)``."""
        num = self._num
        qs = query.x[:, num] * self._root_w
        r2 = np.einsum("ij,ij->i", qs, qs)[:, None] + self._x_const[None, :]
        r2 -= 2.0 * (qs @ self._xs.T)
        if query.inactive[:, num].any():
            q_inactive = query.inactive[:, num] * self.w[num]
            r2 += _INACTIVE_OFFSET2 * np.sum(q_inactive, axis=1)[:, None]
            r2 -= (2.0 * _INACTIVE_OFFSET2) * (q_inactive @ self._x_inactive.T)
        m, dm = _matern(np.maximum(r2, 0.0))
        if not self.categorical.any():
            return self.signal * m, self.signal * dm
        t = np.zeros_like(r2)
        train = self.inputs.x
        for j in np.flatnonzero(self.categorical):
            t += self.w[j] * (query.x[:, j, None] != train[None, :, j])
        scale = self.signal * np.exp(-t)
        return scale * m, scale * dm

    def predict(
        self, query: FloatArray, *, grad: bool = False
    ) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
        """Return mean, variance ``(k,)`` at active points ``query``, and their gradients.

        Gradients ``(k, d)`` are with respect to numeric coordinates (zero on categorical).
        """
        kq, dkq = self._kernel(Inputs(query, np.zeros(query.shape, dtype=bool)))
        mean = self.offset + kq @ self.alpha
        v = kq @ self.inv
        var = np.maximum(self.signal - np.einsum("ij,ij->i", v, kq), 1e-12 * self.signal)
        if not grad:
            return mean, var, None, None
        num = self._num
        # d k(q, x_j) / d q_i = s2 e^-t matern' * 2 w_i (q_i - x_ji)
        diff = query[:, None, num] - self.inputs.x[None, :, num]  # (k, n, d_num)
        w2 = 2.0 * self.w[num]
        dmean = np.zeros(query.shape)
        dvar = np.zeros(query.shape)
        dmean[:, num] = np.einsum("kn,knd->kd", dkq * self.alpha, diff) * w2
        dvar[:, num] = -2.0 * np.einsum("kn,knd->kd", dkq * v, diff) * w2
        return mean, var, dmean, dvar


# Target warping ------------------------------------------------------------------------

# The Yeo-Johnson exponents tried: 1 is the identity, below 1 compresses large values.
_YJ_LAMBDAS = np.linspace(-2.0, 1.0, 31)


def warp(target: FloatArray) -> FloatArray:
    """Standardize, apply the Yeo-Johnson transform of highest likelihood, standardize.

    The exponent is chosen among ``_YJ_LAMBDAS`` (at most 1: see GPSampler). A constant
    target gives zeros.
    """
    std = float(np.std(target))
    if not std > 1e-12 * max(1.0, float(np.max(np.abs(target)))):
        return np.zeros(len(target))
    z: FloatArray = (target - np.mean(target)) / std
    if len(np.unique(z)) < 4:
        return z
    warped = yeo_johnson(z, _YJ_LAMBDAS)
    # Profile log-likelihood of each lambda: the Gaussian fit of the transformed values
    # plus the log-Jacobian of the transform.
    jacobian = np.sum(np.sign(z) * np.log1p(np.abs(z)))
    llf = -0.5 * len(z) * np.log(np.var(warped, axis=1)) + (_YJ_LAMBDAS - 1.0) * jacobian
    best = warped[int(np.nanargmax(np.where(np.isfinite(llf), llf, -np.inf)))]
    return (best - np.mean(best)) / np.std(best)  # type: ignore[no-any-return]


def yeo_johnson(z: FloatArray, lambdas: FloatArray) -> FloatArray:
    """Return the Yeo-Johnson transforms of ``z`` for each lambda, ``(len(lambdas), n)``."""
    lam = lambdas[:, None]
    pos = np.log1p(np.maximum(z, 0.0))[None, :]
    neg = np.log1p(np.maximum(-z, 0.0))[None, :]
    # (exp(lam log(1 + z)) - 1) / lam with its lam -> 0 limit, and the mirror for z < 0.
    with np.errstate(over="ignore", invalid="ignore"):
        up = np.where(lam == 0.0, pos, np.expm1(lam * pos) / np.where(lam == 0.0, 1.0, lam))
        two = 2.0 - lam
        down = np.where(two == 0.0, neg, np.expm1(two * neg) / np.where(two == 0.0, 1.0, two))
    return np.where(z[None, :] >= 0.0, up, -down)


# Log expected improvement (Ament et al., 2023) ------------------------------------------

_C1 = 0.5 * math.log(2.0 * math.pi)
_C2 = 0.5 * math.log(0.5 * math.pi)
_TAIL = -1.0 / math.sqrt(np.finfo(np.float64).eps)


def _log1mexp(a: FloatArray) -> FloatArray:
    """Return ``log(1 - exp(a))`` for ``a < 0``, accurately on both sides of ``-log 2``."""
    near = a > -math.log(2.0)
    out = np.empty_like(a)
    out[near] = np.log(-np.expm1(a[near]))
    out[~near] = np.log1p(-np.exp(a[~near]))
    return out


def log_h(z: FloatArray) -> FloatArray:
    """Return ``log(phi(z) + z Phi(z))``, finite and accurate for every finite ``z``.

    ``EI = sigma * h((best - mean) / sigma)``. Below ``z = -1`` ``h`` is rewritten with the
    scaled complementary error function to avoid cancellation; below ``-1/sqrt(eps)`` the
    asymptote ``-z^2/2 - log(2 pi)/2 - 2 log|z|`` is exact to double precision.
    """
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    upper = z > -1.0
    tail = z <= _TAIL
    middle = ~upper & ~tail
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu * zu - _C1) + zu * special.ndtr(zu))
    zm = z[middle]
    inner = np.log(special.erfcx(-zm / math.sqrt(2.0)) * np.abs(zm)) + _C2
    out[middle] = -0.5 * zm * zm - _C1 + _log1mexp(inner)
    zt = z[tail]
    out[tail] = -0.5 * zt * zt - _C1 - 2.0 * np.log(np.abs(zt))
    return out


def log_ei(
    mean: FloatArray, var: FloatArray, best: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return log EI (minimization) and its derivatives with respect to mean and variance."""
    sigma = np.sqrt(var)
    z = (best - mean) / sigma
    lh = log_h(z)
    value = lh + np.log(sigma)
    dlh_dz = np.exp(special.log_ndtr(z) - lh)  # h'(z) = Phi(z)
    d_mean = -dlh_dz / sigma
    # dz/dvar = -z / (2 var), dlog(sigma)/dvar = 1 / (2 var)
    d_var = (1.0 - dlh_dz * z) / (2.0 * var)
    return value, d_mean, d_var
