"""The shared base of model-based samplers (TPE, GP): history as arrays, design, dedup.

A model-based sampler sees the history as arrays over the unit cube (the encoding of
``space.py``), proposes from a quasi-random initial design until enough trials are
complete, then ranks candidate points with its model. This module does everything that
does not depend on the model:

- the joint space of a define-by-run study: the union of the parameters of finished
  trials, so conditional parameters are modelled (inactive is NaN in the arrays);
- the history encoded once per trial and cached, so that an ask at trial 3,000 does not
  re-encode 3,000 trials (only trials that finished since the last ask are read);
- the running trials' points, so that parallel workers can avoid each other;
- no exact duplicate of a finished or running configuration unless the space leaves no
  choice;
- randomness drawn from (seed, trial number) only, so a resumed study or another worker
  proposes what an uninterrupted run would.
"""

from __future__ import annotations

import abc
import math
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hptune.exceptions import ConfigurationError
from hptune.history import FinishedReader, as_view
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.samplers.base import Proposal, ProposalRequest, Sampler, trial_uniform
from hptune.samplers.qmc import sequence_point
from hptune.space import Categorical, Distribution

__all__ = [
    "COMPLETE",
    "FAIL",
    "PRUNED",
    "ModelBasedSampler",
    "Observations",
    "union_space",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Codes of Observations.state.
COMPLETE, PRUNED, FAIL = 0, 1, 2
_STATE_CODES = {TrialState.COMPLETE: COMPLETE, TrialState.PRUNED: PRUNED, TrialState.FAIL: FAIL}

# How many random points are tried when every candidate of the model is a duplicate.
_DEDUP_RANDOM_TRIES = 64
# Spaces whose arrays are cached per sampler (a study usually has one).
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


class ModelBasedSampler(Sampler):
    """Base of samplers that fit a model to the history and rank candidate points.

    Subclasses implement :meth:`_candidates`; this base builds the
    :class:`Observations`, runs the initial design (scrambled Sobol' over the joint
    space) until ``n_startup_trials`` trials are complete, skips duplicates, decodes the
    chosen point, and draws parameters outside the joint space at random.

    With a rung-based pruner (``request.budgets`` not empty) the model is fitted at the
    highest rung enough trials reached, which early in a study is a low fidelity that may
    rank configurations wrongly. ``random_fraction`` of those proposals can come from the
    design instead, as in BOHB [1], so that such a model cannot steer every trial. It is
    off by default: on the multi-fidelity benchmark (``benchmarks/multifidelity.py``) a
    third helped TPE with ASHA only where early epochs mislead, and only early on
    (Hartmann-6 with slow starters, 50 seeds: best after 25% of the epochs -1.64 against
    -1.56, level at the end), was level on Hartmann-6, behind on Branin after 25% (1.33
    against 1.08), and cost on the MLP on digits (20 seeds: the baseline's final accuracy
    reached after 38% of the epochs against 27%).

    A subclass that ranks trials rather than regressing their values may instead rank
    them by how far they trained (``multi_fidelity = "depth"``, see
    :class:`~hptune.samplers.tpe.TPESampler`): the model then sees every trial in its
    own state, and the initial design counts pruned trials too.

    [1] S. Falkner, A. Klein, F. Hutter, "BOHB: robust and efficient hyperparameter
    optimization at scale", ICML 2018.

    Args:
        seed: makes the proposals reproducible; None draws a fresh seed.
        n_startup_trials: complete trials before the model is used.
        random_fraction: with a rung-based pruner, the share of proposals drawn from the
            design rather than the model.
    """

    multi_fidelity = "rung"  # with a rung-based pruner: "rung" (BOHB) or "depth"

    def __init__(
        self, seed: int | None = None, *, n_startup_trials: int = 10, random_fraction: float = 0.0
    ) -> None:
        if (
            isinstance(n_startup_trials, bool)
            or not isinstance(n_startup_trials, int)
            or n_startup_trials < 0
        ):
            raise ConfigurationError(
                f"{type(self).__name__}: n_startup_trials must be an int >= 0, "
                f"got n_startup_trials={n_startup_trials!r}."
            )
        if (
            isinstance(random_fraction, bool)
            or not isinstance(random_fraction, (int, float))
            or not 0 <= random_fraction <= 1
        ):
            raise ConfigurationError(
                f"{type(self).__name__}: random_fraction must be a number in [0, 1], "
                f"got random_fraction={random_fraction!r}."
            )
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        self.n_startup_trials = n_startup_trials
        self.random_fraction = float(random_fraction)
        self._lock = threading.Lock()
        self._union = _UnionCache()
        self._encoded: dict[tuple[Any, ...], _Encoded] = {}

    # Caches are memos of the history: rebuilt after pickling (processes executor).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_lock", "_union", "_encoded"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._union = _UnionCache()
        self._encoded = {}

    @abc.abstractmethod
    def _candidates(
        self, obs: Observations, rng: np.random.Generator, directions: tuple[StudyDirection, ...]
    ) -> FloatArray:
        """Return candidate points ``(k, d)`` in the unit cube, the best first.

        The base takes the first one that, once decoded, is not the configuration of a
        finished or running trial.
        """

    def infer_space(self, history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
        """Return the union of the parameters of the finished trials (conditional ones too)."""
        with self._lock:
            return union_space(history, self._union)

    def propose(self, request: ProposalRequest) -> Proposal:
        if not request.space:
            return Proposal({})
        obs = self.observations(request)
        rng = np.random.default_rng([self.seed, request.number])
        observed = obs.n_complete
        if request.budgets and self.multi_fidelity == "depth":
            observed += int(np.count_nonzero(obs.state == PRUNED))
        if observed < self.n_startup_trials or (
            self.random_fraction and request.budgets and rng.random() < self.random_fraction
        ):
            points = np.asarray([self._design_point(obs, request.number)])
        else:
            points = np.atleast_2d(self._candidates(obs, rng, request.directions))
        point = self._first_new(obs, points, rng)
        pairs = zip(obs.names, point, strict=True)
        return Proposal({name: obs.space[name].from_unit(u) for name, u in pairs})

    def propose_one(self, request: ProposalRequest, name: str, distribution: Distribution) -> Any:
        """Draw a parameter no finished trial has used yet at random (seeded)."""
        return distribution.from_unit(trial_uniform(self.seed, request.number, name))

    def observations(self, request: ProposalRequest) -> Observations:
        """Return the history of ``request`` as arrays over its space."""
        names = tuple(sorted(request.space))
        space = {name: request.space[name] for name in names}
        maximize = [d is StudyDirection.MAXIMIZE for d in request.directions]
        signs = np.where(maximize, -1.0, 1.0)
        key = (tuple(space.items()), request.directions)
        with self._lock:
            encoded = self._encoded.get(key)
            if encoded is None:
                if len(self._encoded) >= _CACHE_SIZE:
                    self._encoded.pop(next(iter(self._encoded)))
                encoded = self._encoded[key] = _Encoded(names, space, len(signs))
            encoded.update(request.history, signs)
            n = encoded.n
            x, y = encoded.x[:n].copy(), encoded.y[:n].copy()
            state, step = encoded.state[:n].copy(), encoded.step[:n].copy()
            numbers, violation = encoded.numbers[:n].copy(), encoded.violation[:n].copy()
            budget = None
            if request.budgets and len(signs) == 1 and self.multi_fidelity == "rung":
                need = max(self.n_startup_trials, len(names) + 1)
                budget = _fidelity(encoded, request.budgets, need, signs, state, y)
        pending = [encode_params(t, names, space) for t in as_view(request.history).running()]
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

    def _design_point(self, obs: Observations, number: int) -> FloatArray:
        return np.asarray(sequence_point(obs.space, self.seed, number))

    def _is_new(self, obs: Observations, point: FloatArray) -> bool:
        """Whether no finished or running trial holds the (snapped) ``point``."""
        return not _is_taken([rows for rows in (obs.x, obs.pending) if len(rows)], point)

    def _first_new(self, obs: Observations, points: FloatArray, rng: np.random.Generator) -> Any:
        """Return the first point whose configuration no trial holds, snapped to the grid."""
        taken = [rows for rows in (obs.x, obs.pending) if len(rows)]
        first = None
        for candidate in points:  # snapped one at a time: the first is usually new
            point = snap(obs, candidate)
            if first is None:
                first = point
            if not _is_taken(taken, point):
                return point
        for _ in range(_DEDUP_RANDOM_TRIES):
            point = snap(obs, rng.random(len(obs.names)))
            if not _is_taken(taken, point):
                return point
        if first is None:
            first = snap(obs, rng.random(len(obs.names)))
        return first  # the space is (nearly) exhausted: a repeat is the only choice


def snap(obs: Observations, point: FloatArray) -> FloatArray:
    """Return ``point`` moved to the encoding of the values it decodes to.

    Two points that decode to the same configuration snap to the same coordinates, so
    duplicates are found by exact comparison.
    """
    point = np.clip(np.asarray(point, dtype=np.float64), 0.0, 1.0)
    space = obs.space
    pairs = zip(obs.names, point, strict=True)
    return np.array([space[name].to_unit(space[name].from_unit(u)) for name, u in pairs])


def _is_taken(taken: Sequence[FloatArray], point: FloatArray) -> bool:
    """Whether a row of ``taken`` holds ``point`` (NaN matches anything; all-NaN nothing)."""
    for rows in taken:
        # Narrow down by the first column (one pass over n values), then compare the few
        # rows left in full: O(n) per check instead of O(n * d).
        head = rows[:, 0]
        near = rows[(head == point[0]) | np.isnan(head)]
        if not len(near):
            continue
        near = near[~np.all(np.isnan(near), axis=1)]
        if np.any(np.all((near == point) | np.isnan(near), axis=1)):
            return True
    return False
