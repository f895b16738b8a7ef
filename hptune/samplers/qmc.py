"""Quasi-random search: low-discrepancy (Sobol' or Halton) points fill the space evenly."""

from __future__ import annotations

import functools
import inspect
import json
import secrets
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from scipy.stats import qmc

from hptune.exceptions import ConfigurationError
from hptune.records import FrozenTrial
from hptune.samplers.base import (
    Proposal,
    ProposalRequest,
    Sampler,
    infer_space,
    trial_uniform,
)
from hptune.space import Distribution
from hptune.validation import check_flag

__all__ = ["QMCSampler"]

_ENGINES = {"sobol": qmc.Sobol, "halton": qmc.Halton}

# scipy 1.15 renamed the engines' ``seed`` argument to ``rng``; accept both versions.
_RNG_ARG = "rng" if "rng" in inspect.signature(qmc.Sobol).parameters else "seed"


class QMCSampler(Sampler):
    """Draw trials from a scrambled low-discrepancy sequence over the joint space.

    Trial ``n`` gets point ``n`` of the sequence (Sobol' [1] or Halton [2], scrambled
    with a seed derived from ``seed`` and the space), so the first ``N`` trials cover
    the space more evenly than ``N`` random ones, and a trial's parameters depend only
    on the seed, the space and its number: the same in one process or in many.

    The joint space is the one given to ``study.ask(space)``, or, for a define-by-run
    objective, the parameters every finished trial shares (:func:`infer_space`).
    Parameters outside it (those of the first trials, conditional ones) are drawn at
    random, as :class:`~hptune.samplers.RandomSampler` does. Points are decoded with
    each distribution's unit-cube encoding, so log scales, steps, integers and
    categories are respected.

    Sobol' points are balanced in blocks of a power of two; run 2^k trials (16, 32,
    64, ...) to get the best coverage.

    [1] I. M. Sobol', "On the distribution of points in a cube and the approximate
    evaluation of integrals", USSR Comput. Math. Math. Phys., 1967.
    [2] J. H. Halton, "On the efficiency of certain quasi-random sequences of points in
    evaluating multi-dimensional integrals", Numer. Math., 1960.

    Args:
        seed: makes the proposals reproducible; None draws a fresh seed.
        scramble: randomise the sequence (Owen scrambling for Sobol', permutations
            for Halton); without it point 0 is the corner of the space.
        qmc_type: the sequence, "sobol" or "halton".

    Raises:
        ConfigurationError: an unknown ``qmc_type`` or a non-bool ``scramble``.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(sampler=QMCSampler(seed=0))
        >>> space = {"x": ht.Float(0, 1), "n": ht.Int(1, 8)}
        >>> for _ in range(4):
        ...     trial = study.ask(space)
        ...     _ = study.tell(trial, trial.params["x"])
        >>> len({t.params["x"] for t in study.trials})
        4
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        scramble: bool = True,
        qmc_type: Literal["sobol", "halton"] = "sobol",
    ) -> None:
        if qmc_type not in _ENGINES:
            raise ConfigurationError(
                f"QMCSampler: qmc_type must be 'sobol' or 'halton', got qmc_type={qmc_type!r}."
            )
        check_flag("QMCSampler", "scramble", scramble)
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        self.scramble = scramble
        self.qmc_type = qmc_type

    def __repr__(self) -> str:
        return f"QMCSampler(seed={self.seed}, scramble={self.scramble}, qmc_type={self.qmc_type!r})"

    def infer_space(self, history: Sequence[FrozenTrial]) -> dict[str, Distribution]:
        """Return the parameters every finished trial shares."""
        return infer_space(history)

    def propose(self, request: ProposalRequest) -> Proposal:
        """Propose point ``request.number`` of the sequence over ``request.space``."""
        if not request.space:
            return Proposal({})
        names = sorted(request.space)
        point = self._point(request.space, request.number)
        pairs = zip(names, point, strict=True)
        return Proposal({name: request.space[name].from_unit(u) for name, u in pairs})

    def propose_one(self, request: ProposalRequest, name: str, distribution: Distribution) -> Any:
        """Draw a parameter outside the joint space at random (seeded by trial and name)."""
        return distribution.from_unit(trial_uniform(self.seed, request.number, name))

    def _point(self, space: Mapping[str, Distribution], number: int) -> tuple[float, ...]:
        return sequence_point(space, self.seed, number, self.qmc_type, self.scramble)


def sequence_point(
    space: Mapping[str, Distribution],
    seed: int,
    number: int,
    qmc_type: str = "sobol",
    scramble: bool = True,
) -> tuple[float, ...]:
    """Return point ``number`` of the scrambled sequence over ``space`` (sorted names)."""
    definition = json.dumps(
        [[name, space[name].to_dict()] for name in sorted(space)], sort_keys=True
    )
    return _sequence_point(qmc_type, scramble, seed, definition, number)


@functools.lru_cache(maxsize=1024)
def _sequence_point(
    qmc_type: str, scramble: bool, seed: int, definition: str, number: int
) -> tuple[float, ...]:
    """Return point ``number`` of the sequence for a space, shape ``(d,)``.

    A fresh engine each time (cached by value), so the answer depends only on the
    arguments, never on which points were drawn before.
    """
    d = len(json.loads(definition))
    rng = np.random.default_rng([seed, zlib.crc32(definition.encode())])
    engine = _ENGINES[qmc_type](d, scramble=scramble, **{_RNG_ARG: rng})
    # Sobol' holds 2^30 points by default; wrap around past them.
    position = number % (1 << 30)
    if position > 0:
        engine.fast_forward(position)
    # One point drawn after a fast-forward (or the first point alone) is a power-of-two
    # draw, so scipy's "balance properties" warning does not fire; no warning filter is
    # needed (warnings.catch_warnings is not thread-safe).
    return tuple(float(u) for u in engine.random(1)[0])
