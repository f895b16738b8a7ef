"""A steady-state genetic algorithm; NSGA-II selection when there are several objectives.

Design choices:

- **Steady state, no generation barrier.** A classic GA waits for a whole generation
  before breeding the next; with parallel workers and trials of uneven length that
  leaves workers idle. Here every proposal breeds one child from the current history:
  the population is the best ``population_size`` finished trials, so elitism follows
  (a good trial stays in the population until better ones push it out) and nothing
  needs to be remembered between proposals. The "generation" recorded on each trial is
  notional: the number of ranked trials divided by the population size.
- **Stateless from history.** The population, the parents and every random draw follow
  from the history and from ``(seed, trial number)``, so a resumed study proposes what
  an uninterrupted one would, and parallel workers need no coordination beyond the
  storage. The encoded history is cached incrementally (the machinery of
  :mod:`hptune.samplers._model`), so a proposal does not re-read finished trials.
- **Ranking.** One objective: by value. Several: by non-dominated front, then by
  crowding distance within a front (NSGA-II, Deb et al. 2002); only the first fronts
  that fill the population are sorted. Constraints: Deb's constrained domination,
  feasible trials before infeasible ones, these by total violation. Pruned and failed
  trials never breed (their values are partial or missing), but the points of all
  trials, running ones included, are avoided as duplicates.
- **Selection**: binary tournaments (the better-ranked of two distinct random members);
  the second parent is drawn from the members other than the first.
- **Variation in the unit cube** of the space's encoding, so log scales are uniform and
  every type is handled alike: simulated binary crossover (SBX, Deb and Agrawal 1995,
  bounded form) for floats and integers, uniform crossover for categoricals; then each
  parameter mutates with probability ``1 / d``: polynomial mutation (Deb and Goyal 1996)
  for numbers, moving a discrete one at least one step, and a different category drawn
  at random for categoricals. The child is snapped to the distributions' grids.
- **Conditional (define-by-run) spaces**: the genome is the union of the parameters of
  the finished trials, a parameter a trial did not use being inactive (NaN). A child
  takes an active value from whichever parent has one, and draws a parameter that
  neither parent used at random.
- **Start**: until ``n_startup_trials`` trials are complete, points of a scrambled Sobol'
  sequence, as the model-based samplers do.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from hptune.dominance import crowding_distance, nondominated_sort
from hptune.records import StudyDirection
from hptune.samplers._encoding import COMPLETE, Observations
from hptune.samplers._model import ModelBasedSampler, snap
from hptune.samplers.base import Proposal, ProposalRequest
from hptune.space import Distribution, Float, Int
from hptune.validation import check_int, check_real

__all__ = ["EvolutionSampler"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Children bred per proposal; the first that is not a duplicate is proposed.
_N_CHILDREN = 8
# Attribute keys recorded on each trial.
PARENTS_ATTR = "evolution:parents"
GENERATION_ATTR = "evolution:generation"


class EvolutionSampler(ModelBasedSampler):
    """A steady-state genetic algorithm, NSGA-II [1] with several objectives.

    Each proposal ranks the complete trials, takes the best ``population_size`` as the
    population, picks two parents by binary tournament, and breeds one child: SBX [2]
    crossover for numbers, uniform crossover for categories (with probability
    ``crossover_prob``, else a copy of the first parent), then mutation of each
    parameter with probability ``mutation_prob`` (polynomial mutation [3] for numbers, a
    new category for categoricals). A child that repeats a finished or running trial's
    configuration is replaced by another. See the module docstring for the design.

    Each trial records ``"evolution:parents"`` (the parents' trial numbers, empty for
    the initial design) and ``"evolution:generation"`` in its system attributes (not
    the first trial of a define-by-run study, which has no joint space to propose yet).

    [1] K. Deb, A. Pratap, S. Agarwal, T. Meyarivan, "A fast and elitist multiobjective
    genetic algorithm: NSGA-II", IEEE TEVC 6(2), 2002.
    [2] K. Deb, R. B. Agrawal, "Simulated binary crossover for continuous search space",
    Complex Systems 9, 1995.
    [3] K. Deb, M. Goyal, "A combined genetic adaptive search (GeneAS) for engineering
    design", Computer Science and Informatics 26, 1996.

    Args:
        seed: makes the proposals reproducible; None draws a fresh seed.
        population_size: how many of the best complete trials breed.
        n_startup_trials: complete trials from the Sobol' design before breeding starts;
            None means ``population_size``.
        crossover_prob: probability that a child mixes its parents (else copies one).
        mutation_prob: probability that each parameter mutates; None means ``1 / d`` for
            ``d`` parameters.
        crossover_eta: SBX distribution index; larger keeps children nearer the parents.
        mutation_eta: polynomial mutation index; larger makes smaller moves.

    Raises:
        ConfigurationError: an argument of the wrong type or out of range.

    Example:
        >>> import hptune as ht
        >>> sampler = EvolutionSampler(seed=0, population_size=10)
        >>> study = ht.create_study(sampler=sampler)
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=60,
        ...                show_progress=False)  # doctest: +ELLIPSIS
        StopReason(...)
        >>> round(study.best_params["x"])
        1
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        population_size: int = 50,
        n_startup_trials: int | None = None,
        crossover_prob: float = 0.9,
        mutation_prob: float | None = None,
        crossover_eta: float = 15.0,
        mutation_eta: float = 20.0,
    ) -> None:
        check_int("EvolutionSampler", "population_size", population_size, low=2)
        startup = population_size if n_startup_trials is None else n_startup_trials
        super().__init__(seed, n_startup_trials=startup)
        check_real("EvolutionSampler", "crossover_prob", crossover_prob, low=0, high=1)
        if mutation_prob is not None:
            check_real("EvolutionSampler", "mutation_prob", mutation_prob, low=0, high=1)
        check_real("EvolutionSampler", "crossover_eta", crossover_eta, low=0)
        check_real("EvolutionSampler", "mutation_eta", mutation_eta, low=0)
        self.population_size = population_size
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = None if mutation_prob is None else float(mutation_prob)
        self.crossover_eta = float(crossover_eta)
        self.mutation_eta = float(mutation_eta)

    def __repr__(self) -> str:
        return (
            f"EvolutionSampler(seed={self.seed}, population_size={self.population_size}, "
            f"n_startup_trials={self.n_startup_trials}, crossover_prob={self.crossover_prob}, "
            f"mutation_prob={self.mutation_prob}, crossover_eta={self.crossover_eta}, "
            f"mutation_eta={self.mutation_eta})"
        )

    def propose(self, request: ProposalRequest) -> Proposal:
        if not request.space:
            return Proposal({})
        # The GA compares final results: no multi-fidelity view of the history.
        obs = self.observations(replace(request, budgets=()))
        rng = np.random.default_rng([self.seed, request.number])
        ranked = _ranked_rows(obs)
        generation = len(ranked) // self.population_size
        parents: list[int] = []
        if len(ranked) < max(self.n_startup_trials, 1):
            point = self._first_new(obs, self._design_point(obs, request.number)[None], rng)
        else:
            population = self._population(obs, ranked)
            point, pair = self._breed(obs, population, rng)
            if pair is not None:
                parents = [int(obs.numbers[row]) for row in pair]
        params = {
            name: obs.space[name].from_unit(u) for name, u in zip(obs.names, point, strict=True)
        }
        attrs = {PARENTS_ATTR: parents, GENERATION_ATTR: generation}
        return Proposal(params, attrs=attrs)

    def _candidates(
        self, obs: Observations, rng: np.random.Generator, directions: tuple[StudyDirection, ...]
    ) -> FloatArray:
        population = self._population(obs, _ranked_rows(obs))
        return np.asarray([self._breed(obs, population, rng)[0]])

    def _population(self, obs: Observations, ranked: IntArray) -> IntArray:
        """Rows of the population, best first (tournaments compare positions)."""
        y, violation = obs.y[ranked], obs.violation[ranked]
        size = self.population_size
        if y.shape[1] == 1:
            order = np.lexsort((y[:, 0], violation))[:size]
            return ranked[order]
        chosen: list[IntArray] = []
        for front in nondominated_sort(y, violation=violation, n_points=size):
            by_spread = np.argsort(-crowding_distance(y[front]), kind="stable")
            chosen.append(front[by_spread])
        return ranked[np.concatenate(chosen)[:size]]

    def _breed(
        self, obs: Observations, population: IntArray, rng: np.random.Generator
    ) -> tuple[FloatArray, tuple[int, int] | None]:
        """Return a new child (snapped) and its parents' rows.

        Children are bred one at a time until one is not the configuration of a finished
        or running trial (the first nearly always is), at most ``_N_CHILDREN``; then a
        new random point (without parents), or a repeat when the space is exhausted.
        """
        d = len(obs.names)
        mutation_prob = 1.0 / d if self.mutation_prob is None else self.mutation_prob
        children = np.empty((_N_CHILDREN, d))
        for k in range(_N_CHILDREN):
            first = _tournament(rng, len(population), exclude=None)
            second = _tournament(rng, len(population), exclude=first)
            a, b = population[first], population[second]
            child = self._crossover(obs, obs.x[a], obs.x[b], rng)
            children[k] = snap(obs, self._mutate(obs, child, mutation_prob, rng))
            if self._is_new(obs, children[k]):
                return children[k], (int(a), int(b))
        return self._first_new(obs, children, rng), None

    def _crossover(
        self, obs: Observations, xa: FloatArray, xb: FloatArray, rng: np.random.Generator
    ) -> FloatArray:
        d = len(xa)
        # A parameter only one parent used comes from that parent; one neither used is
        # drawn at random.
        a = np.where(np.isnan(xa), xb, xa)
        b = np.where(np.isnan(xb), xa, xb)
        missing = np.isnan(a)
        a[missing] = b[missing] = rng.random(int(missing.sum()))
        if rng.random() >= self.crossover_prob:
            return a
        # Uniform crossover: each parameter from either parent.
        child = np.where(rng.random(d) < 0.5, a, b)
        # SBX on half of the numeric parameters, the others keep the uniform pick.
        numeric = ~obs.categorical & (rng.random(d) < 0.5) & (a != b)
        if numeric.any():
            child[numeric] = _sbx(a[numeric], b[numeric], self.crossover_eta, rng)
        return child

    def _mutate(
        self, obs: Observations, child: FloatArray, prob: float, rng: np.random.Generator
    ) -> FloatArray:
        out: FloatArray = child.copy()
        for j in np.flatnonzero(rng.random(len(child)) < prob):
            dist = obs.space[obs.names[j]]
            size = int(obs.cardinality[j])
            if obs.categorical[j]:
                if size > 1:
                    current = min(int(child[j] * size), size - 1)
                    pick = int(rng.integers(size - 1))
                    pick += pick >= current
                    out[j] = (pick + 0.5) / size
                continue
            moved = float(_polynomial(np.array([child[j]]), self.mutation_eta, rng)[0])
            if size > 1 and dist.from_unit(moved) == dist.from_unit(child[j]):
                moved = _step(dist, child[j], moved - child[j], rng)
            out[j] = moved
        return out


def _ranked_rows(obs: Observations) -> IntArray:
    """Rows that may breed: complete trials with every objective value finite."""
    usable = (obs.state == COMPLETE) & np.all(np.isfinite(obs.y), axis=1)
    return np.flatnonzero(usable)


def _tournament(rng: np.random.Generator, n: int, exclude: int | None) -> int:
    """The better (smaller position) of two distinct random members other than ``exclude``."""
    skip = exclude if exclude is not None and n >= 3 else None
    m = n if skip is None else n - 1
    if m == 1:
        return 0
    i = int(rng.integers(m))
    j = int(rng.integers(m - 1))
    j += j >= i
    best = min(i, j)
    return best + 1 if skip is not None and best >= skip else best


def _sbx(a: FloatArray, b: FloatArray, eta: float, rng: np.random.Generator) -> FloatArray:
    """One child of simulated binary crossover in ``[0, 1]`` (bounded form), per coordinate.

    For parents ``y1 < y2`` the spread factor is drawn so that each child stays in the
    bounds; one of the two children is returned at random.
    """
    y1, y2 = np.minimum(a, b), np.maximum(a, b)
    gap = y2 - y1
    u = rng.random(len(a))
    exponent = 1.0 / (eta + 1.0)

    def spread(beta: FloatArray) -> FloatArray:
        alpha = 2.0 - beta ** -(eta + 1.0)
        inner = np.where(u <= 1.0 / alpha, u * alpha, 1.0 / np.maximum(2.0 - u * alpha, 1e-300))
        result: FloatArray = inner**exponent
        return result

    low = 0.5 * (y1 + y2 - spread(1.0 + 2.0 * y1 / gap) * gap)
    high = 0.5 * (y1 + y2 + spread(1.0 + 2.0 * (1.0 - y2) / gap) * gap)
    out: FloatArray = np.clip(np.where(rng.random(len(a)) < 0.5, low, high), 0.0, 1.0)
    return out


def _polynomial(x: FloatArray, eta: float, rng: np.random.Generator) -> FloatArray:
    """Polynomial mutation in ``[0, 1]`` (bounded form): small moves likelier than large."""
    u = rng.random(len(x))
    power = eta + 1.0
    left = 2.0 * u + (1.0 - 2.0 * u) * (1.0 - x) ** power
    right = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * x**power
    delta = np.where(u < 0.5, left ** (1.0 / power) - 1.0, 1.0 - right ** (1.0 / power))
    out: FloatArray = np.clip(x + delta, 0.0, 1.0)
    return out


def _step(dist: Distribution, u: float, direction: float, rng: np.random.Generator) -> float:
    """Move a discrete number one step from the value at ``u`` (towards ``direction``)."""
    value = float(dist.from_unit(u))
    if not isinstance(dist, (Int, Float)) or dist.step is None:
        return u
    step, low, high = float(dist.step), float(dist.low), float(dist.high)
    sign = math.copysign(1.0, direction) if direction else (1.0 if rng.random() < 0.5 else -1.0)
    target = value + sign * step
    if not low <= target <= high:
        target = value - sign * step
    if not low <= target <= high:
        return u
    return float(dist.to_unit(round(target) if isinstance(dist, Int) else target))
