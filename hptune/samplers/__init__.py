"""Samplers: strategies that propose parameters from the trial history."""

from __future__ import annotations

import functools
from collections.abc import Callable

from hptune._registry import resolve
from hptune.exceptions import ConfigurationError
from hptune.samplers.auto import AutoSampler
from hptune.samplers.base import Proposal, ProposalRequest, Sampler, infer_space
from hptune.samplers.cmaes import CmaEsSampler
from hptune.samplers.evolution import EvolutionSampler
from hptune.samplers.gp import GPSampler
from hptune.samplers.grid import GridSampler
from hptune.samplers.qmc import QMCSampler
from hptune.samplers.random import RandomSampler
from hptune.samplers.tpe import TPESampler

__all__ = [
    "SAMPLER_NAMES",
    "AutoSampler",
    "CmaEsSampler",
    "EvolutionSampler",
    "GPSampler",
    "GridSampler",
    "Proposal",
    "ProposalRequest",
    "QMCSampler",
    "RandomSampler",
    "Sampler",
    "TPESampler",
    "get_sampler",
    "infer_space",
]

_FACTORIES: dict[str, Callable[[int | None], Sampler]] = {
    "random": lambda seed: RandomSampler(seed=seed),
    "grid": lambda seed: GridSampler(seed=seed),
    "qmc": lambda seed: QMCSampler(seed=seed),
    "tpe": lambda seed: TPESampler(seed=seed),
    "gp": lambda seed: GPSampler(seed=seed),
    "cmaes": lambda seed: CmaEsSampler(seed=seed),
    "evolution": lambda seed: EvolutionSampler(seed=seed),
    "auto": lambda seed: AutoSampler(seed=seed),
}

#: Every name :func:`get_sampler` accepts.
SAMPLER_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def get_sampler(sampler: Sampler | str | None, seed: int | None = None) -> Sampler:
    """Return ``sampler`` as an object: a name is built with ``seed``, None is the default.

    Example:
        >>> get_sampler("random", seed=0)
        RandomSampler(seed=0)
    """
    if isinstance(sampler, Sampler):
        return sampler
    if sampler is None:
        sampler = "auto"
    if not isinstance(sampler, str):
        raise ConfigurationError(f"sampler must be a name or a Sampler object, got {sampler!r}.")
    factories = {name: functools.partial(make, seed) for name, make in _FACTORIES.items()}
    return resolve("sampler", sampler, factories)
