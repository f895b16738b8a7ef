"""Pruners: stop unpromising trials early from their reported intermediate values."""

from __future__ import annotations

from collections.abc import Callable

from hptune._registry import resolve
from hptune.exceptions import ConfigurationError
from hptune.pruners.base import Pruner

__all__ = ["Pruner", "get_pruner"]


def get_pruner(pruner: Pruner | str | None) -> Pruner | None:
    """Return ``pruner`` as an object, or None for no pruning ("none" or None)."""
    if pruner is None or isinstance(pruner, Pruner):
        return pruner
    if not isinstance(pruner, str):
        raise ConfigurationError(f"pruner must be a name or a Pruner object, got {pruner!r}.")
    factories: dict[str, Callable[[], Pruner | None]] = {"none": lambda: None}
    return resolve("pruner", pruner, factories)
