"""The shared base of model-based samplers (TPE, GP): design, proposal, dedup.

A model-based sampler sees the history as arrays over the unit cube (built by
:mod:`hptune.samplers._encoding`), proposes from a quasi-random initial design until
enough trials are complete, then ranks candidate points with its model. This module does
everything that does not depend on the model or on the encoding:

- the joint space of a define-by-run study: the union of the parameters of finished
  trials, so conditional parameters are modelled (inactive is NaN in the arrays);
- the running trials' points, so that parallel workers can avoid each other;
- no exact duplicate of a finished or running configuration unless the space leaves no
  choice;
- randomness drawn from (seed, trial number) only, so a resumed study or another worker
  proposes what an uninterrupted run would.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hptune.records import FrozenTrial, StudyDirection
from hptune.samplers._encoding import (
    COMPLETE,
    FAIL,
    PRUNED,
    Observations,
    joint_space,
    observations,
)
from hptune.samplers.base import Proposal, ProposalRequest, Sampler, trial_uniform
from hptune.samplers.qmc import sequence_point
from hptune.space import Distribution
from hptune.validation import check_int, check_real

__all__ = [
    "COMPLETE",
    "FAIL",
    "PRUNED",
    "ModelBasedSampler",
    "Observations",
    "snap",
]

FloatArray = npt.NDArray[np.float64]

# How many random points are tried when every candidate of the model is a duplicate.
_DEDUP_RANDOM_TRIES = 64


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
        owner = type(self).__name__
        check_int(owner, "n_startup_trials", n_startup_trials)
        check_real(owner, "random_fraction", random_fraction, low=0, high=1)
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        self.n_startup_trials = n_startup_trials
        self.random_fraction = float(random_fraction)

    # Subclasses drop their caches (memos of the history) when pickled.
    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

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
        return joint_space(history)

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
        # With a rung-based pruner, the model is fitted at the highest rung that this many
        # trials reached (BOHB).
        need = max(self.n_startup_trials, len(request.space) + 1)
        return observations(request, need if self.multi_fidelity == "rung" else None)

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
