"""Grid search: every point of a finite space exactly once, then stop.

The grid is the Cartesian product of each parameter's values, parameters in sorted name
order (the last name varies fastest, as in :func:`itertools.product`). A point is named by
its index in that product and decoded from it digit by digit (mixed radix), so a grid of
10^12 points costs no more memory than one of ten.

Coordination between workers goes through the storage: the sampler proposes the first
index (in visit order) that no trial of the history has taken, with the claim key
``"grid:<grid id>:<index>"``; the study gives the key to at most one trial. The grid id
is a short hash of the grid's definition (names, distributions, ``n_points``), so two
different grids in one study never block each other's keys.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hptune.exceptions import InvalidSpaceError, SearchSpaceExhausted
from hptune.records import FrozenTrial
from hptune.samplers.base import Proposal, ProposalRequest, Sampler
from hptune.space import Categorical, Distribution, Float, Int, distribution_from_dict

__all__ = ["GridSampler"]

# Up to this many points a shuffled grid is visited in a full random permutation (kept in
# memory, 8 bytes a point); above it, in a seeded affine permutation (a * i + b) mod N.
_MAX_PERMUTATION = 1 << 20

# Significant digits kept for the n_points values of a continuous float, so that
# Float(0, 1) with n_points=11 gives 0.3 rather than 0.30000000000000004.
_POINT_DIGITS = 12


@dataclass(frozen=True, slots=True)
class _Axis:
    """One parameter of the grid: its values, addressed by position."""

    name: str
    distribution: Distribution
    size: int
    # Every value in order; None for integers, whose values are computed (an Int may
    # hold 10^9 values).
    values: tuple[Any, ...] | None
    # Position of each value of a continuous float's n_points values.
    positions: dict[float, int] = field(default_factory=dict)

    def value(self, k: int) -> Any:
        if self.values is not None:
            return self.values[k]
        dist = self.distribution
        assert isinstance(dist, Int)
        return dist.low + k * dist.step

    def position(self, value: Any) -> int | None:
        """Return the position of ``value`` on this axis, or None if it is not on it."""
        dist = self.distribution
        if not dist.contains(value):
            return None
        if isinstance(dist, Int):
            return (int(value) - dist.low) // dist.step
        if isinstance(dist, Categorical):
            return dist.index(value)
        assert isinstance(dist, Float)
        if dist.step is not None:
            k = round((float(value) - dist.low) / dist.step)
            return min(max(k, 0), self.size - 1)
        return self.positions.get(float(value))


def _continuous_points(name: str, dist: Float, n_points: int | None) -> tuple[float, ...]:
    if n_points is None:
        raise InvalidSpaceError(
            f"parameter {name!r}: a grid needs a finite set of values, but {dist!r} is "
            f"continuous; give it a step (Float({dist.low!r}, {dist.high!r}, step=...)), "
            f"pass GridSampler(n_points=...) to space it evenly, or list explicit values "
            f"(GridSampler({{{name!r}: [...]}}))."
        )
    units = [0.5] if n_points == 1 else np.linspace(0.0, 1.0, n_points).tolist()
    points: dict[float, None] = {}  # ordered and without repeats
    for x in dist.decode(units):
        rounded = min(max(float(f"{x:.{_POINT_DIGITS}g}"), dist.low), dist.high)
        points[rounded] = None
    return tuple(points)


def _make_axis(name: str, dist: Distribution, n_points: int | None) -> _Axis:
    if isinstance(dist, Int):
        return _Axis(name, dist, (dist.high - dist.low) // dist.step + 1, None)
    if isinstance(dist, Float) and _is_continuous(dist):
        values = _continuous_points(name, dist, n_points)
        return _Axis(name, dist, len(values), values, {v: k for k, v in enumerate(values)})
    grid = dist.grid()
    assert grid is not None
    return _Axis(name, dist, len(grid), tuple(grid))


@dataclass(frozen=True, slots=True)
class _Grid:
    """The product of the axes, with points addressed by index (mixed radix)."""

    axes: tuple[_Axis, ...]
    size: int
    key: str  # short hash of the definition; part of every claim key

    @property
    def names(self) -> list[str]:
        return [axis.name for axis in self.axes]

    def point(self, index: int) -> dict[str, Any]:
        digits: dict[str, Any] = {}
        for axis in reversed(self.axes):
            index, k = divmod(index, axis.size)
            digits[axis.name] = axis.value(k)
        return {axis.name: digits[axis.name] for axis in self.axes}

    def index(self, params: Mapping[str, Any]) -> int | None:
        """Return the index of the point ``params`` holds, or None if it holds none."""
        index = 0
        for axis in self.axes:
            if axis.name not in params:
                return None
            k = axis.position(params[axis.name])
            if k is None:
                return None
            index = index * axis.size + k
        return index

    @property
    def claim_prefix(self) -> str:
        return f"grid:{self.key}:"

    def claim_key(self, index: int) -> str:
        return f"{self.claim_prefix}{index}"


def _is_continuous(dist: Distribution) -> bool:
    return isinstance(dist, Float) and dist.grid() is None


def _grid_of(space: Mapping[str, Distribution], n_points: int | None) -> _Grid:
    # Keyed by the JSON definition, not by the distributions: Categorical([1]) equals
    # Categorical([True]) under ==, but they are different grids.
    definition = [
        [name, dist.to_dict(), n_points if _is_continuous(dist) else None]
        for name, dist in sorted(space.items())
    ]
    return _build_grid(json.dumps(definition, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _build_grid(definition: str) -> _Grid:
    axes = tuple(
        _make_axis(name, distribution_from_dict(dist), n_points)
        for name, dist, n_points in json.loads(definition)
    )
    key = hashlib.sha256(definition.encode()).hexdigest()[:10]
    return _Grid(axes, math.prod(axis.size for axis in axes), key)


@functools.lru_cache(maxsize=8)
def _permutation(size: int, seed: int, grid_key: str) -> Callable[[int], int]:
    rng = np.random.default_rng([seed, int(grid_key, 16)])
    if size <= _MAX_PERMUTATION:
        order = rng.permutation(size)
        return lambda position: int(order[position])
    # Too large to hold: (a * i + b) mod size is a permutation when gcd(a, size) == 1.
    bound = min(size, 1 << 62)
    a = int(rng.integers(1, bound))
    while math.gcd(a, size) != 1:
        a = a % (size - 1) + 1
    b = int(rng.integers(0, bound))
    return lambda position: (a * position + b) % size


def _as_distribution(name: Any, spec: Any) -> Distribution:
    """Turn one entry of a user's grid space into a distribution, naming it on error."""
    if not isinstance(name, str) or not name:
        raise InvalidSpaceError(f"parameter names must be non-empty strings, got {name!r}.")
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, np.ndarray):
        spec = spec.tolist()
    try:
        if isinstance(spec, Mapping):
            return distribution_from_dict(spec)
        if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
            if len(spec) == 0:
                raise InvalidSpaceError("the list of values is empty; give at least one value")
            return Categorical(tuple(spec))
    except InvalidSpaceError as e:
        raise InvalidSpaceError(f"parameter {name!r}: {e}") from None
    raise InvalidSpaceError(
        f"parameter {name!r}: expected a Float, Int or Categorical or a list of values, "
        f"got {spec!r}."
    )


class GridSampler(Sampler):
    """Try every point of a finite grid exactly once, then stop the study.

    The grid is the product of each parameter's values: every value of an ``Int``, a
    ``Categorical`` or a ``Float`` with ``step``; ``n_points`` evenly spaced values (in
    its linear or log scale) of a continuous ``Float``; or the values listed for a
    parameter (``{"lr": [1e-3, 1e-2]}``, taken as a ``Categorical``). When every point
    is taken, ``ask`` raises :class:`~hptune.exceptions.SearchSpaceExhausted` and
    ``optimize`` stops with the reason ``"exhausted"``.

    **Several workers.** A trial takes a point by claiming the key
    ``"grid:<grid id>:<index>"`` through the storage (the grid id hashes the grid's
    definition, so two different grids in one study do not block each other), so with
    many threads, processes or machines every point is run exactly once. A trial
    without a claim of this grid (an enqueued trial, or one proposed by another sampler
    or grid) takes the point its parameters (or enqueued parameters) hold exactly.
    Trials of every state count, so a failed point is not retried; enqueue it to run it
    again. Each proposal reads the history once: its cost grows with the number of
    trials, not with the size of the grid.

    **Where the grid comes from.** Given ``space``, the grid is that space, and
    :meth:`infer_space` returns it, so ``study.ask()`` and a define-by-run objective
    that suggests the same parameters with the same distributions get grid values.
    Without ``space``, the grid is the space given to ``study.ask(space)``, or, for a
    define-by-run objective, the parameters met so far: the first trial (the discovery
    trial) gets the first value of each parameter, and later trials are proposed from
    the union of the distributions in the history. Limitations of a discovered grid:
    with several workers, trials that start before the first trial has suggested all
    its parameters cannot be coordinated and may repeat its point (afterwards every
    point is claimed exactly once); and an enqueued trial should fix all the grid's
    parameters or none, since one with some fixed is proposed from the grid of the
    others alone.

    **Parameters outside the grid** (conditional ones, met only in some trials) get
    their first value if finite and their midpoint if continuous. In a discovered grid
    every parameter ever suggested joins the grid, so a conditional objective should
    give ``space`` with its unconditional parameters. A grid parameter suggested with
    another distribution than the grid's gets the trial's grid value if that
    distribution holds it (an error otherwise).

    Args:
        space: parameter names to distributions or to lists of values; None discovers
            the grid from the trials.
        seed: orders a shuffled grid; None draws a fresh seed.
        shuffle: visit the points in a seeded random order instead of in order.
        n_points: the number of values a continuous ``Float`` gets, from low to high
            (its midpoint when 1); without it such a parameter is an error.

    Raises:
        InvalidSpaceError: a malformed space, or a continuous ``Float`` without
            ``n_points``, naming the parameter.

    Example:
        >>> import hptune as ht
        >>> sampler = GridSampler({"depth": ht.Int(1, 2), "lr": [0.01, 0.1]})
        >>> study = ht.create_study(sampler=sampler)
        >>> def objective(trial):
        ...     depth = trial.suggest_int("depth", 1, 2)
        ...     return depth * trial.suggest_float("lr", 1e-3, 1.0, log=True)
        >>> study.optimize(objective, show_progress=False).rule
        'exhausted'
        >>> [(t.params["depth"], t.params["lr"]) for t in study.trials]
        [(1, 0.01), (1, 0.1), (2, 0.01), (2, 0.1)]
    """

    def __init__(
        self,
        space: Mapping[str, Distribution | Sequence[Any]] | None = None,
        *,
        seed: int | None = None,
        shuffle: bool = False,
        n_points: int | None = None,
    ) -> None:
        if n_points is not None and (
            isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 1
        ):
            raise InvalidSpaceError(
                f"GridSampler: n_points must be an integer >= 1 or None, got n_points={n_points!r}."
            )
        if not isinstance(shuffle, bool):
            raise InvalidSpaceError(
                f"GridSampler: shuffle must be True or False, got shuffle={shuffle!r}."
            )
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        self.shuffle = shuffle
        self.n_points = n_points
        self.space: dict[str, Distribution] | None = None
        self._grid: _Grid | None = None
        if space is not None:
            if not isinstance(space, Mapping) or not space:
                raise InvalidSpaceError(
                    "GridSampler: space must be a non-empty dict of name -> distribution or "
                    f"list of values, got space={space!r}; pass None to discover the grid "
                    "from the objective."
                )
            self.space = {
                name: _as_distribution(name, spec) for name, spec in sorted(space.items())
            }
            self._grid = _grid_of(self.space, n_points)

    def __repr__(self) -> str:
        names = None if self.space is None else list(self.space)
        return (
            f"GridSampler(space={names}, seed={self.seed}, shuffle={self.shuffle}, "
            f"n_points={self.n_points})"
        )

    @property
    def grid_size(self) -> int | None:
        """The number of points of the grid given as ``space``; None when discovered."""
        return None if self._grid is None else self._grid.size

    def infer_space(self, history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
        """Return the grid's space: the one given, or every parameter of the history.

        Raises:
            InvalidSpaceError: a parameter appears with two distributions in the history.
        """
        if self.space is not None:
            return dict(self.space)
        seen: dict[str, tuple[Distribution, int]] = {}
        for trial in history:
            for name, dist in trial.distributions.items():
                if name not in seen:
                    seen[name] = (dist, trial.number)
                elif seen[name][0] != dist:
                    first, number = seen[name]
                    raise InvalidSpaceError(
                        f"parameter {name!r} was suggested as {first!r} in trial {number} and "
                        f"as {dist!r} in trial {trial.number}; a grid needs one distribution "
                        "per parameter: suggest it the same way, or give the space to "
                        "GridSampler(space=...)."
                    )
        return {name: seen[name][0] for name in sorted(seen)}

    def propose(self, request: ProposalRequest) -> Proposal:
        """Propose the first free point of the grid for the parameters of the request.

        A request for every grid parameter gets a claim key; a request for some of them
        (a trial enqueued with the others fixed) gets the first free point's values and
        no claim: the trial then takes the point its parameters hold.

        Raises:
            SearchSpaceExhausted: every point is taken.
            InvalidSpaceError: the request names parameters the grid does not define.
        """
        if not request.space:
            return Proposal({})
        grid = self._grid
        if grid is None:
            grid = _grid_of(request.space, self.n_points)
        unknown = sorted(set(request.space) - set(grid.names))
        if unknown:
            raise InvalidSpaceError(
                f"parameters {unknown} are not in the grid {grid.names}; add them to "
                "GridSampler(space=...), or build GridSampler() without a space to search "
                "the space given to ask()."
            )
        index = self._first_free(grid, request.history)
        point = grid.point(index)
        params = {name: point[name] for name in sorted(request.space)}
        for name, value in params.items():
            _check_contains(name, value, request.space[name])
        whole = len(request.space) == len(grid.axes)
        return Proposal(params, claim=grid.claim_key(index) if whole else None)

    def propose_one(self, request: ProposalRequest, name: str, distribution: Distribution) -> Any:
        """Return a value for a parameter the trial's proposal did not hold.

        A grid parameter (of a given ``space``) gets the value of the trial's grid point;
        any other parameter its first grid value, or its midpoint if continuous.
        """
        grid = self._grid
        if grid is not None and name in grid.names:
            # The trial's own claim is not in request.history, and every index visited
            # before it stays taken, so the first free index is the trial's own point.
            # (Unless a trial enqueued since then holds that very point: rare, and the
            # value is then another point's, still a grid value.)
            value = grid.point(self._first_free(grid, request.history))[name]
            _check_contains(name, value, distribution)
            return value
        if grid is None and not (_is_continuous(distribution) and self.n_points is None):
            # Discovery: the parameter joins the grid, and the first trial is its point 0.
            return _make_axis(name, distribution, self.n_points).value(0)
        # Outside the grid (or continuous in a discovered grid, which the next ask
        # reports as an error): the first value, or the midpoint.
        values = distribution.grid()
        return distribution.from_unit(0.5) if values is None else values[0]

    def _first_free(self, grid: _Grid, history: Sequence[FrozenTrial]) -> int:
        taken = _taken(grid, history)
        if len(taken) >= grid.size:
            raise SearchSpaceExhausted(
                f"the grid of {grid.size} points over {grid.names} is exhausted: every point "
                "was taken by a trial of this study. Enlarge the grid or use another sampler "
                "to run more trials."
            )
        order = _permutation(grid.size, self.seed, grid.key) if self.shuffle else None
        # Each position checked is either free or one of the taken indices, so this loop
        # runs at most len(taken) + 1 times.
        for position in range(grid.size):
            index = position if order is None else order(position)
            if index not in taken:
                return index
        raise AssertionError("unreachable: fewer taken indices than points")


def _taken(grid: _Grid, history: Sequence[FrozenTrial]) -> set[int]:
    """Return the indices of ``grid`` that trials of ``history`` hold."""
    prefix = grid.claim_prefix
    taken: set[int] = set()
    for trial in history:
        claim = trial.system_attrs.get("claim")
        if isinstance(claim, str) and claim.startswith(prefix):
            tail = claim[len(prefix) :]
            if tail.isdigit():
                taken.add(int(tail))
                continue
        fixed = trial.system_attrs.get("fixed_params")
        params = {**fixed, **trial.params} if isinstance(fixed, Mapping) else trial.params
        index = grid.index(params)
        if index is not None:
            taken.add(index)
    return taken


def _check_contains(name: str, value: Any, distribution: Distribution) -> None:
    if not distribution.contains(value):
        raise InvalidSpaceError(
            f"parameter {name!r}: the grid gives it the value {value!r}, which {distribution!r} "
            "does not hold; suggest it with a distribution that holds every grid value."
        )
