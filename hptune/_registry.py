"""Resolve strategy names ("tpe", "asha", ...) to objects; one helper for every registry."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import TypeVar

from hptune.exceptions import ConfigurationError

T = TypeVar("T")


def resolve(kind: str, name: str, factories: Mapping[str, Callable[[], T]]) -> T:
    """Build the ``kind`` called ``name``; an unknown name lists the valid ones."""
    key = name.lower().strip() if isinstance(name, str) else name
    if key in factories:
        return factories[key]()
    valid = ", ".join(repr(n) for n in sorted(factories))
    close = difflib.get_close_matches(str(key), list(factories), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigurationError(f"unknown {kind} {name!r}; valid names: {valid}.{hint}")
