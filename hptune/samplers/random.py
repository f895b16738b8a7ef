"""Random search: every parameter drawn independently and uniformly (in its scale)."""

from __future__ import annotations

import secrets
from typing import Any

from hptune.samplers.base import Proposal, ProposalRequest, Sampler, trial_uniform
from hptune.space import Distribution

__all__ = ["RandomSampler"]


class RandomSampler(Sampler):
    """Draw each parameter uniformly in its unit-cube encoding.

    Floats with ``log=True`` are log-uniform; integers and categories are uniform over
    their values. With a seed, trial ``n`` gets the same parameters in any process.

    Args:
        seed: makes the proposals reproducible; None draws a fresh seed.

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(sampler=RandomSampler(seed=1))
        >>> study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=5,
        ...                show_progress=False)  # doctest: +ELLIPSIS
        StopReason(...)
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = secrets.randbits(63) if seed is None else int(seed)

    def __repr__(self) -> str:
        return f"RandomSampler(seed={self.seed})"

    def propose(self, request: ProposalRequest) -> Proposal:
        return Proposal(
            {name: self._draw(request.number, name, d) for name, d in sorted(request.space.items())}
        )

    def propose_one(self, request: ProposalRequest, name: str, distribution: Distribution) -> Any:
        return self._draw(request.number, name, distribution)

    def _draw(self, number: int, name: str, distribution: Distribution) -> Any:
        # One generator per (trial, parameter): the value of "lr" does not depend on
        # which other parameters the objective suggested before it.
        return distribution.from_unit(trial_uniform(self.seed, number, name))
