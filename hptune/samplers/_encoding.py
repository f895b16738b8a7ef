"""The history of a study as arrays over the unit cube, for the model-based samplers.

A model-based sampler sees the finished trials as rows of arrays (the encoding of
``space.py``; inactive conditional parameters are NaN) and the running trials' points.
Each finished trial is encoded once and kept: an ask at trial 3,000 encodes only the
trials that finished since the previous ask. With a rung-based pruner the observations
can be taken at a rung (multi-fidelity, BOHB).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hptune.history import FinishedReader, as_view
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.samplers.base import ProposalRequest
from hptune.space import Categorical, Distribution

__all__ = [
    "COMPLETE",
    "FAIL",
    "PRUNED",
    "Observations",
    "encode_params",
    "joint_space",
    "observations",
    "union_space",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Codes of Observations.state.
COMPLETE, PRUNED, FAIL = 0, 1, 2
_STATE_CODES = {TrialState.COMPLETE: COMPLETE, TrialState.PRUNED: PRUNED, TrialState.FAIL: FAIL}

# Spaces whose arrays are kept per history (a study usually has one).
_CACHE_SIZE = 8


@dataclass(frozen=True, slots=True)
class Observations:
    """The history of a study over one joint space, as arrays (read-only views).

    Rows are finished trials ordered by number. Columns follow ``names`` (sorted).

    Attributes:
        names: the parameters, sorted.
        space: their distributions.
        x: ``(n, d)`` unit-cube coordinates; NaN where a trial did not use the parameter.
        y: ``(n, m)`` objective values to minimize (maximized objectives are negated);
            NaN for failed trials. A pruned trial holds its last reported value.
        state: ``(n,)`` COMPLETE, PRUNED or FAIL.
        step: ``(n,)`` the last reported step (NaN when none was reported).
        numbers: ``(n,)`` trial numbers.
        pending: ``(p, d)`` the points of running trials (NaN where not known yet).
        cardinality: ``(d,)`` the number of values of each parameter, 0 for continuous.
        categorical: ``(d,)`` True for unordered (Categorical) parameters.
        budget: the step the observations are taken at (multi-fidelity), or None. With a
            budget, a trial that reached it counts as COMPLETE with its value there;
            pruned trials that stopped before it stay PRUNED.
        violation: ``(n,)`` each trial's total constraint violation (0 when feasible or
            unconstrained; see :meth:`hptune.Trial.set_constraints`). Samplers rank an
            infeasible trial after every feasible one, then by violation.
    """

    names: tuple[str, ...]
    space: Mapping[str, Distribution]
    x: FloatArray
    y: FloatArray
    state: IntArray
    step: FloatArray
    numbers: IntArray
    pending: FloatArray
    cardinality: IntArray
    categorical: npt.NDArray[np.bool_]
    budget: float | None
    violation: FloatArray

    @property
    def n_complete(self) -> int:
        """How many trials are complete."""
        return int(np.count_nonzero(self.state == COMPLETE))


def union_space(
    history: Sequence[FrozenTrial], cache: _UnionCache | None = None
) -> dict[str, Distribution]:
    """Return every parameter of the finished trials, sorted by name.

    A parameter whose distribution changed takes the distribution of the latest trial
    (by number) that used it. With a ``cache`` only trials finished since the last call
    are read.
    """
    cache = _UnionCache() if cache is None else cache
    fresh = cache.scanner.new_finished(history)
    if cache.scanner.generation != cache.generation:
        cache.generation = cache.scanner.generation
        cache.latest.clear()
    for trial in fresh:
        for name, dist in trial.distributions.items():
            seen = cache.latest.get(name)
            if seen is None or seen[1] < trial.number:
                cache.latest[name] = (dist, trial.number)
    return {name: cache.latest[name][0] for name in sorted(cache.latest)}


class _UnionCache:
    def __init__(self) -> None:
        self.scanner = FinishedReader()
        self.generation = 0
        self.latest: dict[str, tuple[Distribution, int]] = {}


class _Encoded:
    """The encoded finished trials of one space, grown as trials finish."""

    _BUFFERS = ("x", "y", "state", "step", "numbers", "violation")

    def __init__(self, names: tuple[str, ...], space: Mapping[str, Distribution], m: int) -> None:
        self.names = names
        self.space = space
        self.scanner = FinishedReader()
        self.generation = 0
        d = len(names)
        self.x = np.empty((64, d))
        self.y = np.empty((64, m))
        self.state = np.empty(64, dtype=np.int64)
        self.step = np.empty(64)
        self.numbers = np.empty(64, dtype=np.int64)
        self.violation = np.empty(64)
        self.curves: list[Mapping[int | float, float]] = []
        self.at_budget: dict[float, dict[int, float]] = {}
        self.n = 0
        self.ordered = True
        # Read-only properties of the space, shared by every Observations of it.
        self.cardinality = np.array(
            [dist.cardinality() or 0 for dist in space.values()], dtype=np.int64
        )
        self.categorical = np.array(
            [isinstance(dist, Categorical) for dist in space.values()], dtype=bool
        )
        self.cardinality.flags.writeable = self.categorical.flags.writeable = False

    def update(self, history: Sequence[FrozenTrial], signs: FloatArray) -> None:
        fresh = self.scanner.new_finished(history)
        if self.scanner.generation != self.generation:
            self.generation, self.n, self.ordered = self.scanner.generation, 0, True
            self.curves.clear()
            self.at_budget.clear()
        for trial in fresh:
            self._append(trial, signs)
        if not self.ordered:
            order = np.argsort(self.numbers[: self.n], kind="stable")
            for name in self._BUFFERS:
                buf = getattr(self, name)
                buf[: self.n] = buf[: self.n][order]
            self.curves = [self.curves[i] for i in order]
            self.ordered = True

    def value_at(self, budget: float) -> FloatArray:
        """Each row's value at the first step ``>= budget`` (NaN if it stopped before)."""
        known = self.at_budget.setdefault(budget, {})
        out = np.full(self.n, np.nan)
        for i in range(self.n):
            number = int(self.numbers[i])
            if number not in known:
                known[number] = _first_at_or_after(self.curves[i], budget)
            out[i] = known[number]
        return out

    def _append(self, trial: FrozenTrial, signs: FloatArray) -> None:
        if self.n == len(self.numbers):
            for name in self._BUFFERS:
                buf = getattr(self, name)
                grown = np.empty((2 * len(buf), *buf.shape[1:]), dtype=buf.dtype)
                grown[: self.n] = buf[: self.n]
                setattr(self, name, grown)
        i = self.n
        self.x[i] = encode_params(trial, self.names, self.space)
        self.state[i] = _STATE_CODES[trial.state]
        values = trial.values
        if trial.state is not TrialState.FAIL and values and len(values) == len(signs):
            self.y[i] = signs * np.asarray(values, dtype=np.float64)
        else:  # failed, or a pruned trial of a multi-objective study (one value)
            self.y[i] = np.nan
        last = trial.last_step
        self.step[i] = np.nan if last is None else float(last)
        self.numbers[i] = trial.number
        self.violation[i] = trial.violation
        self.curves.append(trial.intermediate_values)
        if i and self.numbers[i - 1] > trial.number:
            self.ordered = False
        self.n += 1


def _first_at_or_after(curve: Mapping[int | float, float], step: float) -> float:
    later = [s for s in curve if s >= step]
    return float(curve[min(later)]) if later else math.nan


def _fidelity(
    encoded: _Encoded,
    budgets: Sequence[float],
    need: int,
    signs: FloatArray,
    state: IntArray,
    y: FloatArray,
) -> float | None:
    """Take the observations at the highest budget ``need`` trials reached (BOHB).

    Rewrites ``state`` and ``y`` in place: a trial that reached the budget counts as
    COMPLETE with its value there. Returns the budget, or None when none has enough.
    """
    usable = state != FAIL
    for budget in sorted(budgets, reverse=True):
        reached = usable & (encoded.step[: encoded.n] >= budget)
        if np.count_nonzero(reached) < need:
            continue
        values = encoded.value_at(budget)
        state[reached] = COMPLETE
        y[reached, 0] = signs[0] * values[reached]
        return float(budget)
    return None


def encode_params(
    trial: FrozenTrial, names: Sequence[str], space: Mapping[str, Distribution]
) -> FloatArray:
    """Return a trial's point in the unit cube of ``space``; NaN for missing parameters.

    A parameter recorded with another distribution counts when its value belongs to the
    space's distribution, and is missing otherwise.
    """
    row = np.full(len(names), np.nan)
    for j, name in enumerate(names):
        if name not in trial.params:
            continue
        value = trial.params[name]
        dist = space[name]
        if trial.distributions.get(name) == dist or dist.contains(value):
            row[j] = dist.to_unit(value)
    return row


def joint_space(history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
    """The union of the parameters of the finished trials (see :func:`union_space`).

    Kept in the history's memo: every sampler reading the history shares it.
    """
    view = as_view(history)
    with view.memo.lock:
        return union_space(view, view.memo.get(("union",), _UnionCache, keep=1))


def observations(request: ProposalRequest, rung_need: int | None) -> Observations:
    """Return the history of ``request`` as arrays over its space.

    Finished trials are encoded once per history and space, in the history's memo (every
    sampler reading the history shares them: those inside ``auto`` too); the running
    trials' points are encoded at each call, as they change. With a rung-based pruner
    (``request.budgets``) and ``rung_need``, the observations are taken at the highest
    budget ``rung_need`` trials reached.
    """
    names = tuple(sorted(request.space))
    space = {name: request.space[name] for name in names}
    maximize = [d is StudyDirection.MAXIMIZE for d in request.directions]
    signs = np.where(maximize, -1.0, 1.0)
    key = (tuple(space.items()), request.directions)
    view = as_view(request.history)
    with view.memo.lock:
        encoded = view.memo.get(
            ("encoded", key), lambda: _Encoded(names, space, len(signs)), keep=_CACHE_SIZE
        )
        encoded.update(view, signs)
        n = encoded.n
        x, y = encoded.x[:n].copy(), encoded.y[:n].copy()
        state, step = encoded.state[:n].copy(), encoded.step[:n].copy()
        numbers, violation = encoded.numbers[:n].copy(), encoded.violation[:n].copy()
        budget = None
        if request.budgets and len(signs) == 1 and rung_need is not None:
            budget = _fidelity(encoded, request.budgets, rung_need, signs, state, y)
    pending = [encode_params(t, names, space) for t in view.running()]
    arrays = [x, y, state, step, numbers, violation]
    pending_x = np.array(pending).reshape(len(pending), len(names))
    for array in (*arrays, pending_x):
        array.flags.writeable = False
    return Observations(
        names,
        space,
        x,
        y,
        state,
        step,
        numbers,
        pending_x,
        encoded.cardinality,
        encoded.categorical,
        budget,
        violation,
    )
