"""Search-space distributions, their validation, and their unit-cube encoding.

A search space maps parameter names to distributions::

    >>> import hptune as ht
    >>> space = {"lr": ht.Float(1e-5, 1e-1, log=True), "depth": ht.Int(1, 4),
    ...          "optimizer": ht.Categorical(["adam", "sgd"])}

Every distribution maps its values to and from ``[0, 1]`` (:meth:`Distribution.encode`,
:meth:`Distribution.decode`), the representation model-based samplers work in:

* continuous floats map linearly (or linearly in ``log`` space when ``log=True``);
* finite distributions with ``n`` values (stepped floats, integers, categories) give value
  ``k`` the cell ``[k/n, (k+1)/n)`` and encode to its centre ``(k + 0.5) / n``;
* integers on a log scale map ``[low - 0.5, high + 0.5]`` logarithmically and round.

Decoding any point of ``[0, 1]`` gives a valid value, and ``decode(encode(v)) == v``.
"""

from __future__ import annotations

import abc
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from hptune.exceptions import InvalidSpaceError, InvalidValueError

__all__ = [
    "Categorical",
    "CategoricalChoice",
    "Distribution",
    "Float",
    "Int",
    "Space",
    "distribution_from_dict",
    "parse_space",
]

CategoricalChoice: TypeAlias = "str | int | float | bool | None"
FloatArray: TypeAlias = npt.NDArray[np.float64]

# Relative tolerance used to decide whether a float lies on a step grid.
_STEP_RTOL = 1e-9


class Distribution(abc.ABC):
    """A set of values a parameter may take, with its encoding to ``[0, 1]``.

    Distributions are immutable values: two equal distributions describe the same set.
    """

    __slots__ = ()

    @abc.abstractmethod
    def encode(self, values: Sequence[Any]) -> FloatArray:
        """Map values of this distribution to points of ``[0, 1]``, shape ``(n,)``."""

    @abc.abstractmethod
    def decode(self, points: npt.ArrayLike) -> list[Any]:
        """Map points of ``[0, 1]`` (clipped to it) to values of this distribution."""

    @abc.abstractmethod
    def contains(self, value: Any) -> bool:
        """Return True if ``value`` is one of this distribution's values."""

    @abc.abstractmethod
    def grid(self) -> list[Any] | None:
        """Return every value in increasing order, or None for a continuous distribution."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able description; :func:`distribution_from_dict` inverts it."""

    @abc.abstractmethod
    def cardinality(self) -> int | None:
        """Return how many values there are, or None for a continuous range.

        Example:
            >>> Int(0, 10, step=2).cardinality(), Float(0, 1).cardinality()
            (6, None)
        """

    def to_unit(self, value: Any) -> float:
        """Encode one value to ``[0, 1]``."""
        return float(self.encode([value])[0])

    def from_unit(self, point: float) -> Any:
        """Decode one point of ``[0, 1]`` to a value."""
        return self.decode([point])[0]

    def check_value(self, name: str, value: Any) -> None:
        """Raise :class:`InvalidValueError` naming ``name`` unless ``value`` belongs here."""
        if not self.contains(value):
            raise InvalidValueError(
                f"parameter {name!r}: {value!r} is not a value of {self!r}; "
                "give a value inside the distribution."
            )


def _elementwise(fn: Callable[[float], float], x: FloatArray) -> FloatArray:
    """Apply a ``math`` function to each element of ``x``.

    numpy's ``exp`` and ``log`` may differ from ``math``'s by one ulp (they are vectorised
    approximations chosen by CPU at run time), so the array forms of encode and decode use
    ``math`` like the scalar forms; a value then encodes and decodes the same either way.
    """
    flat = np.fromiter(map(fn, x.ravel().tolist()), dtype=np.float64, count=x.size)
    return flat.reshape(x.shape)


def _require_finite_number(owner: str, arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidSpaceError(f"{owner}: {arg} must be a number, got {arg}={value!r}.")
    if not math.isfinite(value):
        raise InvalidSpaceError(f"{owner}: {arg} must be finite, got {arg}={value!r}.")
    return float(value)


# Integers beyond this are not all floats: the unit-cube encoding could not reach each one.
_MAX_EXACT_INT = 2**53


def _check_bounds(owner: str, low: float, high: float, log: Any) -> None:
    if not isinstance(log, (bool, np.bool_)):
        raise InvalidSpaceError(f"{owner}: log must be True or False, got log={log!r}.")
    if low > high:
        raise InvalidSpaceError(
            f"{owner}: low must be <= high, got low={low!r}, high={high!r}; swap them."
        )
    if log and low <= 0:
        raise InvalidSpaceError(
            f"{owner}: log=True needs low > 0, got low={low!r}; use log=False or raise low."
        )


def _cell_encode(indices: npt.ArrayLike, n: int) -> FloatArray:
    return (np.asarray(indices, dtype=np.float64) + 0.5) / n


def _cell_decode(points: npt.ArrayLike, n: int) -> npt.NDArray[np.int64]:
    u = np.clip(np.asarray(points, dtype=np.float64), 0.0, 1.0)
    return np.minimum(np.floor(u * n), n - 1).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Float(Distribution):
    """A float in ``[low, high]``, on a linear or log scale, optionally on a step grid.

    With ``step`` the values are ``low, low + step, ...`` up to ``high`` (the largest
    grid point not above ``high``).

    Example:
        >>> Float(1e-4, 1e-1, log=True).from_unit(0.5)  # doctest: +ELLIPSIS
        0.00316...
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        owner = "Float"
        low = _require_finite_number(owner, "low", self.low)
        high = _require_finite_number(owner, "high", self.high)
        _check_bounds(owner, low, high, self.log)
        if not math.isfinite(high - low):
            raise InvalidSpaceError(
                f"{owner}: the range high - low must be a finite float, got low={low!r}, "
                f"high={high!r} (their difference overflows); narrow the range, or use "
                "log=True on a positive one."
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "log", bool(self.log))
        if self.step is None:
            return
        step = _require_finite_number(owner, "step", self.step)
        if self.log:
            raise InvalidSpaceError(
                f"{owner}: log=True cannot be combined with step, got step={step!r}; "
                "drop one of them."
            )
        if step <= 0:
            raise InvalidSpaceError(f"{owner}: step must be > 0, got step={step!r}.")
        # The same tolerance as _n_steps: Float(1.1, 1.2, step=0.1) has two points.
        if high > low and step > (high - low) * (1 + _STEP_RTOL):
            raise InvalidSpaceError(
                f"{owner}: step must not exceed high - low = {high - low!r}, got step={step!r}; "
                "use a smaller step or a wider range."
            )
        object.__setattr__(self, "step", step)

    @property
    def _n_steps(self) -> int:
        # Number of grid points when step is set.
        assert self.step is not None
        return math.floor((self.high - self.low) / self.step * (1 + _STEP_RTOL)) + 1

    def _grid_values(self, indices: npt.ArrayLike) -> FloatArray:
        assert self.step is not None
        raw = self.low + np.asarray(indices, dtype=np.float64) * self.step
        # Round away the float noise of low + k * step (e.g. 0.30000000000000004).
        digits = max(0, 12 - math.floor(math.log10(self.step)))
        # Clip both ways: rounding may move a noisy low (0.1 * 3) just below itself.
        return np.clip(np.round(raw, min(digits, 15)), self.low, self.high)

    def encode(self, values: Sequence[Any]) -> FloatArray:
        v = np.asarray(values, dtype=np.float64)
        if self.step is not None:
            k = np.clip(np.round((v - self.low) / self.step), 0, self._n_steps - 1)
            return _cell_encode(k, self._n_steps)
        low, high = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        if self.log:
            v = _elementwise(math.log, v)
        if high == low:
            return np.full(v.shape, 0.5)
        return np.clip((v - low) / (high - low), 0.0, 1.0)

    def decode(self, points: npt.ArrayLike) -> list[Any]:
        u = np.clip(np.asarray(points, dtype=np.float64), 0.0, 1.0)
        if self.step is not None:
            return [float(x) for x in self._grid_values(_cell_decode(u, self._n_steps))]
        if self.log:
            low, high = math.log(self.low), math.log(self.high)
            x = _elementwise(math.exp, low + u * (high - low))
        else:
            x = self.low + u * (self.high - self.low)
        return [float(v) for v in np.clip(x, self.low, self.high)]

    # Scalar versions of encode/decode without numpy's per-call cost (samplers call
    # these once per parameter and trial); the same arithmetic as the array versions,
    # which is why those take logarithms and exponentials with ``math`` too.
    def to_unit(self, value: Any) -> float:
        if self.step is not None:
            return float(self.encode([value])[0])
        low, high, v = self.low, self.high, float(value)
        if self.log:
            low, high, v = math.log(low), math.log(high), math.log(v)
        if high == low:
            return 0.5
        return min(1.0, max(0.0, (v - low) / (high - low)))

    def from_unit(self, point: float) -> Any:
        if self.step is not None:
            return self.decode([point])[0]
        u = min(1.0, max(0.0, float(point)))
        if self.log:
            low, high = math.log(self.low), math.log(self.high)
            x = math.exp(low + u * (high - low))
        else:
            x = self.low + u * (self.high - self.low)
        return min(self.high, max(self.low, x))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return False
        v = float(value)
        if not (math.isfinite(v) and self.low <= v <= self.high):
            return False
        if self.step is None:
            return True
        k = (v - self.low) / self.step
        return abs(k - round(k)) <= 1e-6 * max(1.0, abs(k))

    def grid(self) -> list[Any] | None:
        if self.step is None:
            return None if self.high > self.low else [self.low]
        return [float(x) for x in self._grid_values(np.arange(self._n_steps))]

    def cardinality(self) -> int | None:
        if self.step is None:
            return None if self.high > self.low else 1
        return self._n_steps

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "float",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
        }


@dataclass(frozen=True, slots=True)
class Int(Distribution):
    """An integer in ``[low, high]`` on a step grid, or on a log scale.

    Example:
        >>> Int(1, 4).grid()
        [1, 2, 3, 4]
    """

    low: int
    high: int
    log: bool = False
    step: int = 1

    def __post_init__(self) -> None:
        owner = "Int"
        for arg in ("low", "high", "step"):
            value = getattr(self, arg)
            is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            if isinstance(value, float) and value.is_integer():
                is_int = True
            if not is_int:
                raise InvalidSpaceError(f"{owner}: {arg} must be an integer, got {arg}={value!r}.")
            object.__setattr__(self, arg, int(value))
        _check_bounds(owner, self.low, self.high, self.log)
        object.__setattr__(self, "log", bool(self.log))
        for arg in ("low", "high"):
            value = getattr(self, arg)
            if abs(value) > _MAX_EXACT_INT:
                raise InvalidSpaceError(
                    f"{owner}: {arg} must lie within +-2**53 = {_MAX_EXACT_INT:,} (beyond, "
                    f"integers are not all floats and cannot all be sampled), got "
                    f"{arg}={value!r}; use Float(..., log=True) for a range this wide."
                )
        if self.step < 1:
            raise InvalidSpaceError(f"{owner}: step must be >= 1, got step={self.step!r}.")
        if self.log and self.step != 1:
            raise InvalidSpaceError(
                f"{owner}: log=True cannot be combined with step, got step={self.step!r}; "
                "drop one of them."
            )
        if self.high > self.low and self.step > self.high - self.low:
            raise InvalidSpaceError(
                f"{owner}: step must not exceed high - low = {self.high - self.low}, "
                f"got step={self.step!r}; use a smaller step or a wider range."
            )

    @property
    def _n_values(self) -> int:
        return (self.high - self.low) // self.step + 1

    def _log_bounds(self) -> tuple[float, float]:
        return math.log(self.low - 0.5), math.log(self.high + 0.5)

    def encode(self, values: Sequence[Any]) -> FloatArray:
        v = np.asarray(values, dtype=np.float64)
        if self.log:
            low, high = self._log_bounds()
            return np.clip((_elementwise(math.log, v) - low) / (high - low), 0.0, 1.0)
        k = np.clip(np.round((v - self.low) / self.step), 0, self._n_values - 1)
        return _cell_encode(k, self._n_values)

    def decode(self, points: npt.ArrayLike) -> list[Any]:
        u = np.clip(np.asarray(points, dtype=np.float64), 0.0, 1.0)
        if self.log:
            low, high = self._log_bounds()
            x = np.clip(
                np.round(_elementwise(math.exp, low + u * (high - low))), self.low, self.high
            )
            return [int(v) for v in x]
        return [self.low + int(k) * self.step for k in _cell_decode(u, self._n_values)]

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, (int, np.integer)):
            return False
        return bool(self.low <= value <= self.high and (value - self.low) % self.step == 0)

    def grid(self) -> list[Any] | None:
        return list(range(self.low, self.high + 1, self.step))

    def cardinality(self) -> int | None:
        return self._n_values

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "int",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
        }


def _choice_key(choice: Any) -> str:
    # JSON text tells 1, 1.0 and True apart, which == does not.
    return json.dumps(choice)


@dataclass(frozen=True, slots=True)
class Categorical(Distribution):
    """One of a list of plain values: str, int, float, bool or None.

    Example:
        >>> Categorical(["adam", "sgd"]).grid()
        ['adam', 'sgd']
    """

    choices: tuple[CategoricalChoice, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        owner = "Categorical"
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, Sequence):
            raise InvalidSpaceError(
                f"{owner}: choices must be a list or tuple, got choices={self.choices!r}."
            )
        choices = tuple(self.choices)
        if not choices:
            raise InvalidSpaceError(f"{owner}: choices must not be empty, got choices={choices!r}.")
        index: dict[str, int] = {}
        for i, choice in enumerate(choices):
            if choice is not None and not isinstance(choice, (str, int, float, bool)):
                raise InvalidSpaceError(
                    f"{owner}: choices must be str, int, float, bool or None (plain JSON values), "
                    f"got {choice!r} of type {type(choice).__name__} at index {i}; "
                    "map it to a name and look the object up inside the objective."
                )
            if isinstance(choice, float) and not math.isfinite(choice):
                raise InvalidSpaceError(
                    f"{owner}: choices must be finite, got {choice!r} at index {i}."
                )
            key = _choice_key(choice)
            if key in index:
                raise InvalidSpaceError(
                    f"{owner}: choices must be distinct, got {choice!r} twice "
                    f"(indices {index[key]} and {i})."
                )
            index[key] = i
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "_index", index)

    # Compare choices as JSON text: the tuple (1,) equals (True,) and (1.0,), but these
    # are different choices (a value of one is not a value of the other).
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Categorical):
            return NotImplemented
        return list(self._index) == list(other._index)

    def __hash__(self) -> int:
        return hash(tuple(self._index))

    def index(self, value: Any) -> int:
        """Return the position of ``value`` among the choices; raise if absent."""
        try:
            return self._index[_choice_key(value)]
        except (KeyError, TypeError):
            raise InvalidValueError(
                f"{value!r} is not one of the choices {list(self.choices)!r}."
            ) from None

    def encode(self, values: Sequence[Any]) -> FloatArray:
        return _cell_encode([self.index(v) for v in values], len(self.choices))

    def decode(self, points: npt.ArrayLike) -> list[Any]:
        return [self.choices[k] for k in _cell_decode(points, len(self.choices))]

    def contains(self, value: Any) -> bool:
        try:
            return _choice_key(value) in self._index
        except TypeError:
            return False

    def grid(self) -> list[Any] | None:
        return list(self.choices)

    def cardinality(self) -> int | None:
        return len(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


Space: TypeAlias = Mapping[str, Distribution]

_TYPES: dict[str, type[Distribution]] = {"float": Float, "int": Int, "categorical": Categorical}


def distribution_from_dict(data: Mapping[str, Any]) -> Distribution:
    """Build a distribution from :meth:`Distribution.to_dict` output (or a config file).

    Example:
        >>> distribution_from_dict({"type": "int", "low": 1, "high": 3})
        Int(low=1, high=3, log=False, step=1)
    """
    kind = data.get("type") if isinstance(data, Mapping) else None
    if kind not in _TYPES:
        raise InvalidSpaceError(
            f"a distribution needs 'type' set to one of {sorted(_TYPES)}, got {data!r}."
        )
    kwargs = {k: v for k, v in data.items() if k != "type"}
    if kind == "float" and kwargs.get("step") is None:
        kwargs.pop("step", None)
    try:
        return _TYPES[kind](**kwargs)
    except TypeError as e:
        raise InvalidSpaceError(f"bad arguments for a {kind} distribution in {data!r}: {e}") from e


def parse_space(space: Mapping[str, Any]) -> dict[str, Distribution]:
    """Validate a declarative space: names to distributions or their dict form.

    Raises:
        InvalidSpaceError: naming the parameter that is malformed.
    """
    if not isinstance(space, Mapping):
        raise InvalidSpaceError(
            f"a search space must be a dict of name -> distribution, got {type(space).__name__}."
        )
    parsed: dict[str, Distribution] = {}
    for name, dist in space.items():
        if not isinstance(name, str) or not name:
            raise InvalidSpaceError(f"parameter names must be non-empty strings, got {name!r}.")
        if isinstance(dist, Distribution):
            parsed[name] = dist
        elif isinstance(dist, Mapping):
            try:
                parsed[name] = distribution_from_dict(dist)
            except InvalidSpaceError as e:
                raise InvalidSpaceError(f"parameter {name!r}: {e}") from None
        else:
            raise InvalidSpaceError(
                f"parameter {name!r}: expected a Float, Int or Categorical, got {dist!r}."
            )
    return parsed
