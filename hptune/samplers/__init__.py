"""Samplers: strategies that propose parameters from the trial history."""

from __future__ import annotations

from collections.abc import Callable

from hptune._registry import resolve
from hptune.exceptions import ConfigurationError
from hptune.samplers.base import Proposal, ProposalRequest, Sampler, infer_space
from hptune.samplers.grid import GridSampler
from hptune.samplers.qmc import QMCSampler
from hptune.samplers.random import RandomSampler

__all__ = [
    "GridSampler",
    "Proposal",
    "ProposalRequest",
    "QMCSampler",
    "RandomSampler",
    "Sampler",
    "get_sampler",
    "infer_space",
]


def get_sampler(sampler: Sampler | str | None, seed: int | None = None) -> Sampler:
    """Return ``sampler`` as an object: a name is built with ``seed``, None is the default.

    Example:
        >>> get_sampler("random", seed=0)
        RandomSampler(seed=0)
    """
    if isinstance(sampler, Sampler):
        return sampler
    if sampler is None:
        sampler = "random"
    if not isinstance(sampler, str):
        raise ConfigurationError(f"sampler must be a name or a Sampler object, got {sampler!r}.")
    factories: dict[str, Callable[[], Sampler]] = {
        "random": lambda: RandomSampler(seed=seed),
        "grid": lambda: GridSampler(seed=seed),
        "qmc": lambda: QMCSampler(seed=seed),
    }
    return resolve("sampler", sampler, factories)
