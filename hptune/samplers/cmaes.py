"""CMA-ES: an evolution strategy that adapts a Gaussian search distribution to the problem.

The covariance matrix adaptation evolution strategy [1] samples a generation of
``lambda`` points from ``N(m, sigma^2 C)``, ranks them, moves the mean to a weighted
average of the best half, and adapts the step size ``sigma`` (cumulative step-size
adaptation) and the covariance ``C`` (rank-one update from the evolution path plus rank-mu
update from the selected steps). This module runs it over the unit-cube encoding of the
float and integer parameters (``space.py``: log scales are linear there). Design choices:

* **State from the history only.** Nothing but JSON is written to the storage. Each
  proposal carries system attributes: ``cmaes:restart``, ``cmaes:generation`` and
  ``cmaes:popsize`` (which generation of which run it belongs to), ``cmaes:x`` (the
  continuous point it was sampled at, which integers alone would not give back) and
  ``cmaes:space`` (a key of the space it was sampled in). The sampler replays the
  generations from the finished trials that carry them: a generation is complete when
  ``popsize`` of its trials are finished, and updates the distribution with the first
  ``popsize`` of them by number. The replayed state is cached and extended as trials
  finish (finished trials never change), so an ask replays at most the generations
  completed since the previous one; a resumed study or another process rebuilds the same
  state from the same history.
* **Asynchrony.** Asking never waits for stragglers: while the current generation has
  fewer than ``popsize`` finished trials, every ask (beyond ``popsize`` too) samples the
  current distribution. Which finished trials formed a generation depends on what was
  finished when the next one started, so the first trial of a generation records the
  trials it skipped (``cmaes:skipped``: those still running then, numbered below the last
  one used), and a replay uses the same ones. Late trials of a past generation are ignored.
* **Bounds.** A point is redrawn (up to 16 draws) until it lies in the cube, and clipped
  to it after that; the update uses the point that was evaluated, so the mean stays in
  the cube.
* **Integers and stepped floats** (CMA-ES with margin [2]). A discrete parameter keeps a
  value for a whole cell of the cube; once ``sigma`` is small against the cell, plain
  CMA-ES would stop moving it. After each update the marginal probability of leaving the
  current cell is kept at least ``alpha = 1 / (d * lambda)`` (``alpha / 2`` on each side
  of an interior cell) by widening that coordinate (a diagonal scaling ``A``: points are
  ``m + sigma * A * y``, ``y ~ N(0, C)``) and moving the mean inside the cell, which is
  what [2] does. A configuration that another trial of the generation, or any finished
  or running trial, holds already is redrawn (a few times), so converged integer
  parameters do not repeat evaluations; then other values of the unmodelled parameters
  are tried, then a random configuration that no trial holds, proposed outside the
  generations (untagged, so no update uses it). A repeat comes only when none is found.
* **Restarts (IPOP [3]).** A run stops when ``sigma`` is tiny against the cube, when the
  generation's best did not improve for ``10 + 30 d / lambda`` generations or the recent
  bests and the current values are flat, when every trial of a generation ranks the same,
  or when the condition number of ``C`` passes 1e14. The next run starts from a random
  mean (drawn from the seed and the run's index) with ``sigma0`` and twice the population.
* **Large spaces.** Past 40 dimensions the covariance is diagonal (sep-CMA-ES [4]: learning
  rates scaled by ``(d + 2) / 3``), so an update costs ``O(lambda d)``, no eigensolver.
* **Categorical parameters** are not modelled: each takes its value in the best trial so
  far with probability 0.8, else a uniform value (both drawn from the seed, the trial
  number and the parameter name). Parameters outside the joint space of a define-by-run
  study (those not every finished trial shares) are drawn uniformly.
* **Ranking.** Complete feasible trials by value; then infeasible ones (see
  :meth:`hptune.Trial.set_constraints`) by violation; then pruned and failed trials.
* Randomness comes from ``(seed, trial number)`` only.

[1] N. Hansen, "The CMA evolution strategy: a tutorial", arXiv:1604.00772, 2016.
[2] R. Hamano, S. Saito, M. Nomura, S. Shirakawa, "CMA-ES with margin: lower-bounding
marginal probability for mixed-integer black-box optimization", GECCO 2022.
[3] A. Auger, N. Hansen, "A restart CMA evolution strategy with increasing population
size", CEC 2005.
[4] R. Ros, N. Hansen, "A simple modification in CMA-ES achieving linear time and space
complexity", PPSN 2008.
"""

from __future__ import annotations

import hashlib
import json
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
from hptune.samplers._cmaes_update import State, cell_of, draw, fresh_state, update
from hptune.samplers.base import (
    Proposal,
    ProposalRequest,
    Sampler,
    infer_space,
    trial_uniform,
)
from hptune.space import Categorical, Distribution
from hptune.validation import check_flag, check_int, check_real

__all__ = ["CmaEsSampler"]

FloatArray = npt.NDArray[np.float64]

RESTART_ATTR = "cmaes:restart"
GENERATION_ATTR = "cmaes:generation"
POPSIZE_ATTR = "cmaes:popsize"
X_ATTR = "cmaes:x"
SPACE_ATTR = "cmaes:space"
SKIPPED_ATTR = "cmaes:skipped"

# Redraws of a configuration that a trial of the same generation, or any finished or
# running trial, holds already.
_DEDUP_DRAWS = 8
# How many sets of values of the parameters CMA-ES does not model are tried when every
# draw repeats the configuration of a trial (a small space).
_FULL_DEDUP_ATTEMPTS = 4
# Then random configurations tried, from their own stream, before accepting a repeat.
_FILL_TRIES = 64
_FILL_STREAM = 0x46494C4C
# Probability that a categorical parameter keeps the best trial's value.
_KEEP_BEST = 0.8
# Seed stream of restart means: [seed, _RESTART_STREAM, run] never equals [seed, number].
_RESTART_STREAM = 0x5EED
# IPOP stops doubling the population here.
_MAX_POPSIZE = 1024
# Spaces whose replayed state is cached per sampler (a study usually has one).
_CACHE_SIZE = 8


class CmaEsSampler(Sampler):
    """CMA-ES over the float and integer parameters, with margin and IPOP restarts.

    See the module docstring for the design (state rebuilt from the trials' system
    attributes, asynchronous generations, bounds, integers, restarts, categoricals).
    Single-objective only.

    Cost per proposal: the tail of the history since the last ask is read, the
    generations completed since then are replayed (``O(lambda d^2 + d^3)`` each), and
    one point is drawn (``O(d^2)``).

    Args:
        seed: makes the proposals reproducible; None draws a fresh seed.
        x0: the initial mean, as parameter values (a dict; missing parameters start at
            the centre of their range). The first run only; restarts draw a random mean.
        sigma0: the initial step size, as a fraction of each parameter's (encoded) range.
            The default, a sixth, was better than 0.3 on Styblinski-Tang-8, Ackley-10
            and Levy-10 at 500 evaluations (mean best over 5 seeds).
        popsize: the population of the first run; None is ``4 + floor(3 ln d)``.
        ipop: double the population at each restart (IPOP); with False a restart keeps
            it.
        margin: keep integer and stepped parameters moving (CMA-ES with margin).

    Raises:
        ConfigurationError: an argument of the wrong type or out of range; at proposal
            time, a study with several objectives.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(sampler=CmaEsSampler(seed=0))
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2
        ...                + t.suggest_float("y", -3, 3) ** 2, n_trials=60,
        ...                show_progress=False)  # doctest: +ELLIPSIS
        StopReason(...)
        >>> round(study.best_params["x"])
        1
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        x0: Mapping[str, Any] | None = None,
        sigma0: float = 1 / 6,
        popsize: int | None = None,
        ipop: bool = True,
        margin: bool = True,
    ) -> None:
        if x0 is not None and not isinstance(x0, Mapping):
            raise ConfigurationError(
                f"CmaEsSampler: x0 must be a dict of parameter values or None, got x0={x0!r}."
            )
        owner = "CmaEsSampler"
        hint = "a fraction of each parameter's range"
        check_real(owner, "sigma0", sigma0, low=0, high=1, low_open=True, hint=hint)
        if popsize is not None:
            check_int(owner, "popsize", popsize, low=2)
        check_flag(owner, "ipop", ipop)
        check_flag(owner, "margin", margin)
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        self.x0 = None if x0 is None else dict(x0)
        self.sigma0 = float(sigma0)
        self.popsize = popsize
        self.ipop = ipop
        self.margin = margin
        self._lock = threading.Lock()
        self._replays: dict[tuple[Any, ...], _Replay] = {}

    def __repr__(self) -> str:
        return (
            f"CmaEsSampler(seed={self.seed}, x0={self.x0!r}, sigma0={self.sigma0}, "
            f"popsize={self.popsize}, ipop={self.ipop}, margin={self.margin})"
        )

    # Caches are memos of the history: rebuilt after pickling (processes executor).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_lock", "_replays"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._replays = {}

    def infer_space(self, history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
        """Return the parameters every finished (complete or pruned) trial shares."""
        return infer_space(history)

    def propose_one(self, request: ProposalRequest, name: str, distribution: Distribution) -> Any:
        """Draw a parameter outside the joint space uniformly (seeded)."""
        _check_single_objective(request.directions)
        return distribution.from_unit(trial_uniform(self.seed, request.number, name))

    def propose(self, request: ProposalRequest) -> Proposal:
        _check_single_objective(request.directions)
        if not request.space:
            return Proposal({})
        names = sorted(request.space)
        dims = tuple(n for n in names if _is_numeric(request.space[n]))
        sign = -1.0 if request.directions[0] is StudyDirection.MAXIMIZE else 1.0
        key = (tuple((n, request.space[n]) for n in names), sign)
        with self._lock:
            replay = self._replays.get(key)
            if replay is None:
                if len(self._replays) >= _CACHE_SIZE:
                    self._replays.pop(next(iter(self._replays)))
                replay = self._replays[key] = _Replay(
                    self, {n: request.space[n] for n in dims}, sign, tuple(names)
                )
            replay.read(request.history)
            best = replay.best_params
            others = [n for n in names if n not in dims]
            # The parameters CMA-ES does not model: mostly the best trial's, else random.
            fixed: dict[str, Any] = {}
            for name in others:
                dist = request.space[name]
                u = trial_uniform(self.seed, request.number, f"cmaes:keep:{name}")
                if u < _KEEP_BEST and best is not None and dist.contains(best.get(name)):
                    fixed[name] = best[name]
                else:
                    fixed[name] = dist.from_unit(trial_uniform(self.seed, request.number, name))
            for attempt in range(_FULL_DEDUP_ATTEMPTS):
                if attempt:  # every draw repeated a trial: vary the other parameters too
                    fixed = {
                        name: request.space[name].from_unit(
                            trial_uniform(self.seed, request.number, f"{name}:{attempt}")
                        )
                        for name in others
                    }
                found = replay.propose(request.number, fixed, attempt)
                if found is not None:
                    params, attrs = found
                    return Proposal({**params, **fixed}, attrs=attrs)
            # CMA-ES's distribution holds nothing new: a random configuration that no trial
            # holds, outside its generations (untagged, so it does not enter an update).
            rng = np.random.default_rng([self.seed, request.number, _FILL_STREAM])
            for _ in range(_FILL_TRIES):
                params = {n: request.space[n].from_unit(float(rng.random())) for n in names}
                if replay.is_new(params):
                    return Proposal(params)
            # The space is (nearly) exhausted: a repeat is the only choice.
            params, attrs = replay.propose(request.number, fixed, 0, allow_repeat=True) or ({}, {})
            return Proposal({**params, **fixed}, attrs=attrs)


def _check_single_objective(directions: Sequence[StudyDirection]) -> None:
    if len(directions) != 1:
        raise ConfigurationError(
            f"CmaEsSampler optimizes a single objective, but the study has {len(directions)}; "
            'use sampler="evolution" (NSGA-II) or sampler="tpe" for several objectives.'
        )


def _is_numeric(dist: Distribution) -> bool:
    """Whether CMA-ES models the parameter: floats and integers with more than one value."""
    return not isinstance(dist, Categorical) and (dist.cardinality() or 2) > 1


@dataclass(frozen=True, slots=True)
class _Member:
    """A finished trial of a generation: its point and rank key."""

    x: FloatArray
    klass: int  # 0 complete and feasible, 1 infeasible, 2 pruned or failed
    value: float
    config: tuple[Any, ...]


class _Replay:
    """The CMA-ES state of one space, rebuilt from the tagged trials and kept up to date."""

    def __init__(
        self,
        sampler: CmaEsSampler,
        space: dict[str, Distribution],
        sign: float,
        all_names: tuple[str, ...],
    ) -> None:
        self.sampler = sampler
        self.names = tuple(space)
        self.all_names = all_names  # the whole space's, for configurations of every trial
        self.space = space
        self.sign = sign
        text = json.dumps([[n, d.to_dict()] for n, d in space.items()], sort_keys=True)
        self.key = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        self.cells = [cell_of(d) if sampler.margin else None for d in space.values()]
        d = len(space)
        self.lam0 = sampler.popsize or 4 + math.floor(3 * math.log(max(d, 1)))
        self.scanner = FinishedReader()
        self._start()

    def _start(self) -> None:
        mean = np.full(len(self.names), 0.5)
        x0 = self.sampler.x0 or {}
        for j, name in enumerate(self.names):
            if name in x0 and self.space[name].contains(x0[name]):
                mean[j] = self.space[name].to_unit(x0[name])
        self.state = fresh_state(0, self.lam0, mean, self.sampler.sigma0)
        self.groups: dict[tuple[int, int], dict[int, _Member]] = {}
        self.first: dict[tuple[int, int], tuple[int, list[int]]] = {}
        self.best: tuple[int, float, int] | None = None
        self.best_params: dict[str, Any] | None = None
        self.finished_configs: set[tuple[Any, ...]] = set()
        self.running_configs: set[tuple[Any, ...]] = set()

    def read(self, history: Sequence[FrozenTrial]) -> None:
        """Take in the trials finished since the last read, and the running ones' tags."""
        fresh = self.scanner.new_finished(history)
        if self.scanner.reset:
            self._start()
        current = (self.state.run, self.state.generation)
        for trial in fresh:
            self.finished_configs.add(self._full_config(trial.params))
            klass, value = self._rank_key(trial)
            if klass == 0 and (self.best is None or (klass, value, trial.number) < self.best):
                self.best = (klass, value, trial.number)
                self.best_params = trial.params
            tag = self._tag(trial)
            if tag is None:
                continue
            gen, x = tag
            self._note_first(gen, trial)
            if gen >= current:
                config = self._config(x)
                self.groups.setdefault(gen, {})[trial.number] = _Member(x, klass, value, config)
        self.running: dict[tuple[int, int], list[tuple[int, tuple[Any, ...]]]] = {}
        self.running_configs = set()
        for trial in reversed(as_view(history).unfinished()):
            if trial.state is TrialState.RUNNING:
                self.running_configs.add(self._full_config(trial.params))
            tag = self._tag(trial)
            if tag is not None:
                self._note_first(tag[0], trial)
                self.running.setdefault(tag[0], []).append((trial.number, self._config(tag[1])))

    def propose(
        self, number: int, fixed: Mapping[str, Any], attempt: int, *, allow_repeat: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Draw a point whose configuration (with ``fixed``) no trial holds; None if none.

        A point repeating a member of the current generation, or the configuration of a
        finished or running trial, is drawn again. With ``allow_repeat`` the first draw
        is returned when every draw repeats.
        """
        held = self.finished_configs | self.running_configs
        if not self.names:  # nothing for CMA-ES to model: only the others vary
            new_config = self._full_config(fixed) not in held
            return ({}, {}) if new_config or allow_repeat else None
        state, skipped = self._advance()
        seed = [self.sampler.seed, number] if not attempt else [self.sampler.seed, number, attempt]
        rng = np.random.default_rng(seed)
        taken = {m.config for m in self.groups.get((state.run, state.generation), {}).values()}
        taken.update(c for _, c in self.running.get((state.run, state.generation), []))

        def new(point: FloatArray) -> bool:
            config = self._config(point)
            if config in taken:
                return False
            params = dict(zip(self.names, config, strict=True))
            return self._full_config({**params, **fixed}) not in held

        first_inside = None
        chosen = None
        for _ in range(_DEDUP_DRAWS):
            points = draw(state, rng)
            if first_inside is None:
                first_inside = points[0]
            chosen = next((p for p in points if new(p)), None)
            if chosen is not None:
                break
        if chosen is None:
            if not allow_repeat:
                return None
            chosen = first_inside
        assert chosen is not None
        params = {
            n: self.space[n].from_unit(float(u)) for n, u in zip(self.names, chosen, strict=True)
        }
        attrs: dict[str, Any] = {
            RESTART_ATTR: state.run,
            GENERATION_ATTR: state.generation,
            POPSIZE_ATTR: state.lam,
            X_ATTR: [float(u) for u in chosen],
            SPACE_ATTR: self.key,
        }
        if skipped:
            attrs[SKIPPED_ATTR] = skipped
        return params, attrs

    def _advance(self) -> tuple[State, list[int]]:
        """Replay every complete generation; return the current state.

        A generation whose successor has a trial already is replayed with the trials that
        trial's proposal used, and the result is kept; otherwise the update is tentative
        (not kept) and comes with the running trials it skipped.
        """
        while True:
            state = self.state
            gen = (state.run, state.generation)
            group = self.groups.get(gen, {})
            if len(group) < state.lam:
                return state, []
            numbers = sorted(group)
            successors = [
                self.first[g] for g in ((gen[0], gen[1] + 1), (gen[0] + 1, 0)) if g in self.first
            ]
            if successors:
                skipped = set(min(successors)[1])
                members = [n for n in numbers if n not in skipped][: state.lam]
                if len(members) == state.lam:
                    self.state = self._next(state, [group[n] for n in members])
                    self.groups = {g: v for g, v in self.groups.items() if g > gen}
                    continue
            members = numbers[: state.lam]
            skipped_now = sorted(n for n, _ in self.running.get(gen, []) if n < members[-1])
            return self._next(state, [group[n] for n in members]), skipped_now

    def _next(self, state: State, members: Sequence[_Member]) -> State:
        keys = np.array([(m.klass, m.value) for m in members])
        order = np.lexsort((keys[:, 1], keys[:, 0]))  # stable: ties in trial order
        xs = np.array([members[i].x for i in order])
        ranked = np.array([members[i].value for i in order if members[i].klass == 0])
        flat = len({(m.klass, m.value) for m in members}) == 1
        updated, stop = update(state, xs, ranked, flat, self.cells)
        if not stop:
            return updated
        run = state.run + 1
        lam = min(2 * state.lam, max(_MAX_POPSIZE, state.lam)) if self.sampler.ipop else state.lam
        rng = np.random.default_rng([self.sampler.seed, _RESTART_STREAM, run])
        return fresh_state(run, lam, rng.random(len(self.names)), self.sampler.sigma0)

    def _rank_key(self, trial: FrozenTrial) -> tuple[int, float]:
        if trial.state is TrialState.COMPLETE and trial.values:
            violation = trial.violation
            if violation > 0:
                return 1, violation
            return 0, self.sign * float(trial.values[0])
        return 2, 0.0

    def _tag(self, trial: FrozenTrial) -> tuple[tuple[int, int], FloatArray] | None:
        attrs = trial.system_attrs
        if attrs.get(SPACE_ATTR) != self.key:
            return None
        try:
            gen = (int(attrs[RESTART_ATTR]), int(attrs[GENERATION_ATTR]))
            x = np.asarray(attrs[X_ATTR], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            return None
        if x.shape != (len(self.names),) or not np.all(np.isfinite(x)):
            return None
        return gen, x

    def _note_first(self, gen: tuple[int, int], trial: FrozenTrial) -> None:
        seen = self.first.get(gen)
        if seen is None or trial.number < seen[0]:
            skipped = trial.system_attrs.get(SKIPPED_ATTR) or []
            self.first[gen] = (trial.number, [int(n) for n in skipped])

    def is_new(self, params: Mapping[str, Any]) -> bool:
        """Whether no finished or running trial holds this configuration."""
        config = self._full_config(params)
        return config not in self.finished_configs and config not in self.running_configs

    def _full_config(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """A trial's configuration over the whole space (missing parameters as a marker)."""
        return tuple((True, params[n]) if n in params else (False, None) for n in self.all_names)

    def _config(self, x: FloatArray) -> tuple[Any, ...]:
        """The configuration a point decodes to (for duplicates within a generation)."""
        return tuple(self.space[n].from_unit(float(u)) for n, u in zip(self.names, x, strict=True))
