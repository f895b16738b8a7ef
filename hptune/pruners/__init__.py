"""Pruners: stop unpromising trials early from their reported intermediate values."""

from __future__ import annotations

from collections.abc import Callable

from hptune._registry import resolve
from hptune.exceptions import ConfigurationError
from hptune.pruners.base import Pruner
from hptune.pruners.hyperband import HyperbandPruner
from hptune.pruners.median import MedianPruner, PercentilePruner
from hptune.pruners.patient import PatientPruner
from hptune.pruners.successive_halving import SuccessiveHalvingPruner

__all__ = [
    "PRUNER_NAMES",
    "HyperbandPruner",
    "MedianPruner",
    "PatientPruner",
    "PercentilePruner",
    "Pruner",
    "SuccessiveHalvingPruner",
    "get_pruner",
]

_FACTORIES: dict[str, Callable[[], Pruner | None]] = {
    "none": lambda: None,
    "median": MedianPruner,
    "asha": SuccessiveHalvingPruner,
    # Successive halving here is asynchronous by construction: "sha" is the same rule.
    "sha": SuccessiveHalvingPruner,
    "hyperband": HyperbandPruner,
}

#: Every name :func:`get_pruner` accepts.
PRUNER_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def get_pruner(pruner: Pruner | str | None) -> Pruner | None:
    """Return ``pruner`` as an object, or None for no pruning ("none" or None).

    Example:
        >>> get_pruner("asha")
        SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=0)
    """
    if pruner is None or isinstance(pruner, Pruner):
        return pruner
    if not isinstance(pruner, str):
        raise ConfigurationError(f"pruner must be a name or a Pruner object, got {pruner!r}.")
    return resolve("pruner", pruner, _FACTORIES)
