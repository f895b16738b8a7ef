"""Validation of values at the boundary: one place for the checks and their messages.

Every check raises an error that names what was wrong, the value, and how to fix it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from hptune.exceptions import InvalidValueError

__all__ = ["check_constraints", "check_json_value", "check_number"]


def check_constraints(values: Any) -> list[float]:
    """Return constraint values as a list of finite floats, or raise InvalidValueError."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        values = [values]
    if not values:
        raise InvalidValueError("constraints need at least one value (each <= 0 when met).")
    return [check_number(f"constraint {i}", v) for i, v in enumerate(values)]


def check_json_value(what: str, value: Any) -> None:
    """Raise :class:`InvalidValueError` unless ``value`` survives a JSON round trip."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidValueError(
            f"{what} must be a JSON value (str, number, bool, None, list, dict), got {value!r}: "
            f"{e}."
        ) from None
    if json.loads(text) != value:
        raise InvalidValueError(
            f"{what} does not survive a JSON round trip ({value!r} comes back as {text}); "
            "use lists instead of tuples and string keys."
        )


def check_number(what: str, value: Any) -> float:
    """Return ``value`` as a finite float or raise :class:`InvalidValueError`."""
    if isinstance(value, (bool, str, bytes)):
        # float() would accept them (True -> 1.0, "0.5" -> 0.5); they are mistakes here.
        raise InvalidValueError(
            f"{what} must be a number, got {value!r} of type {type(value).__name__}."
        )
    if not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars, 0-d arrays, torch scalars
        except (TypeError, ValueError):
            raise InvalidValueError(
                f"{what} must be a number, got {value!r} of type {type(value).__name__}."
            ) from None
    number = float(value)
    if not math.isfinite(number):
        raise InvalidValueError(f"{what} must be finite, got {number!r}.")
    return number
