"""Validation of values at the boundary: one place for the checks and their messages.

Every check raises an error that names what was wrong, the value, and how to fix it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from hptune.exceptions import ConfigurationError, InvalidValueError

__all__ = [
    "NotFiniteError",
    "check_constraints",
    "check_flag",
    "check_int",
    "check_json_value",
    "check_name",
    "check_number",
    "check_real",
]


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


# The longest name (of a study, parameter or attribute) every storage keeps exactly.
MAX_NAME_LENGTH = 512


def check_name(what: str, name: Any) -> str:
    """Return ``name`` if every storage can keep it exactly, else raise InvalidValueError.

    A string of at most :data:`MAX_NAME_LENGTH` characters without NUL (PostgreSQL
    refuses NUL in text, and holds names in columns of that length).
    """
    if not isinstance(name, str):
        raise InvalidValueError(f"{what} must be a string, got {name!r}.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidValueError(
            f"{what} must be at most {MAX_NAME_LENGTH} characters, got {len(name)} "
            f"({name[:40]!r}...); use a shorter name."
        )
    if "\x00" in name:
        raise InvalidValueError(f"{what} must not contain a NUL character, got {name!r}.")
    return name


class NotFiniteError(InvalidValueError):
    """A number that is NaN, infinite, or too large for a float."""


def check_number(what: str, value: Any) -> float:
    """Return ``value`` as a finite float or raise :class:`InvalidValueError`."""
    if isinstance(value, (bool, str, bytes)):
        # float() would accept them (True -> 1.0, "0.5" -> 0.5); they are mistakes here.
        raise InvalidValueError(
            f"{what} must be a number, got {value!r} of type {type(value).__name__}."
        )
    try:
        number = float(value)  # numpy scalars, 0-d arrays, torch scalars
    except OverflowError:
        raise NotFiniteError(
            f"{what} must be finite, got an integer too large for a float ({_short(value)})."
        ) from None
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"{what} must be a number, got {_short(value)} of type {type(value).__name__}."
        ) from None
    except Exception as e:  # a tensor whose device failed, say: the value cannot be read
        raise InvalidValueError(
            f"{what} could not be read as a float ({type(value).__name__}): {type(e).__name__}: {e}"
        ) from e
    if not math.isfinite(number):
        raise NotFiniteError(f"{what} must be finite, got {number!r}.")
    return number


def _short(value: Any) -> str:
    """``repr(value)``, cut to 80 characters (a huge integer has thousands of digits)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


# Constructor arguments ---------------------------------------------------------------
#
# Each check raises ConfigurationError as "<owner>: <name> must be <what>, got
# <name>=<value>." and returns the value unchanged, so a constructor reads
# ``self.x = check_int(owner, "x", x, low=1)``.


def check_int(owner: str, name: str, value: Any, *, low: int = 0) -> int:
    """Return ``value`` if it is an int (not a bool) ``>= low``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"{owner}: {name} must be an int >= {low}, got {name}={value!r}.")
    return value


def check_real(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> Any:
    """Return ``value`` if it is a finite number in the given range, else raise.

    ``low_open``/``high_open`` exclude the bound; ``hint`` explains the range in the
    message (e.g. "a fraction of each parameter's range").
    """
    bad = (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or (low is not None and (value <= low if low_open else value < low))
        or (high is not None and (value >= high if high_open else value > high))
    )
    if bad:
        if low is not None and high is not None:
            opening, closing = "(" if low_open else "[", ")" if high_open else "]"
            what = f"a number in {opening}{low:g}, {high:g}{closing}"
        elif low is not None:
            what = f"a finite number {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            what = f"a finite number {'<' if high_open else '<='} {high:g}"
        else:
            what = "a finite number"
        if hint:
            what += f" ({hint})"
        raise ConfigurationError(f"{owner}: {name} must be {what}, got {name}={value!r}.")
    return value


def check_flag(owner: str, name: str, value: Any) -> bool:
    """Return ``value`` if it is True or False, else raise."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{owner}: {name} must be True or False, got {name}={value!r}.")
    return value
