"""Reading reported values by step: shared by the pruners."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from hptune.exceptions import ConfigurationError
from hptune.history import FinishedReader
from hptune.records import FrozenTrial, StudyDirection

__all__ = [
    "FinishedValues",
    "count_better",
    "first_at_or_after",
    "last_at_or_before",
    "percentile_of_sorted",
    "single_direction",
]


def last_at_or_before(values: Mapping[int | float, float], step: float) -> float | None:
    """The value reported at the largest step ``<= step``, or None if none is that early."""
    steps = sorted(values)
    i = bisect.bisect_right(steps, step)
    return None if i == 0 else values[steps[i - 1]]


def first_at_or_after(values: Mapping[int | float, float], step: float) -> float | None:
    """The value reported at the smallest step ``>= step``, or None if none is that late."""
    steps = sorted(values)
    i = bisect.bisect_left(steps, step)
    return None if i == len(steps) else values[steps[i]]


def single_direction(owner: str, directions: tuple[StudyDirection, ...]) -> StudyDirection:
    """The study's direction; pruning compares one objective, so several are an error."""
    if len(directions) != 1:
        raise ConfigurationError(
            f"{owner} compares one reported value per step, but the study has "
            f"{len(directions)} objectives; create the study without a pruner, or report "
            "and prune on a single objective in a single-objective study."
        )
    return directions[0]


def best_so_far(trial: FrozenTrial, direction: StudyDirection) -> float:
    """The trial's best reported value."""
    values = trial.intermediate_values.values()
    return min(values) if direction is StudyDirection.MINIMIZE else max(values)


class FinishedValues:
    """Sorted values of the finished trials, one list per key, grown as trials finish.

    A pruner compares a running trial with the others at one step (a rung, the current
    epoch). Finished trials never change, so their values at a step are read once: each
    check reads only the trials that finished since the last one (through the history's
    :class:`~hptune.history.FinishedReader`), and its cost does not grow with the study.
    The lists follow the newest history a check was given; a plain list of trials (not
    a study's history view) is read whole.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reader = FinishedReader()
        self._generation = 0
        self._trials: list[FrozenTrial] = []
        self._sorted: dict[Hashable, tuple[int, list[float]]] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (FinishedValues, ())  # a memo: rebuilt from the history after pickling

    def sorted_values(
        self,
        history: Sequence[FrozenTrial],
        key: Hashable,
        pick: Callable[[FrozenTrial], float | None],
    ) -> list[float]:
        """The values ``pick`` gives the finished trials of ``history`` (None: left out),
        sorted; ``key`` names what ``pick`` computes. Do not mutate the list."""
        with self._lock:
            fresh = self._reader.new_finished(history)
            if self._reader.generation != self._generation:
                # Another history: start over with what this one holds.
                self._generation = self._reader.generation
                self._trials, self._sorted = [], {}
            self._trials.extend(fresh)
            done, values = self._sorted.get(key, (0, []))
            for trial in self._trials[done:]:
                value = pick(trial)
                if value is not None:
                    bisect.insort(values, value)
            self._sorted[key] = (len(self._trials), values)
            return values


def count_better(values: Sequence[float], value: float, direction: StudyDirection) -> int:
    """How many of the sorted ``values`` are strictly better than ``value``."""
    if direction is StudyDirection.MINIMIZE:
        return bisect.bisect_left(values, value)
    return len(values) - bisect.bisect_right(values, value)


def percentile_of_sorted(values: Sequence[float], q: float) -> float:
    """``numpy.percentile(values, q)`` (linear method) of already sorted values, in O(1)."""
    position = q / 100.0 * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    a, b, t = values[low], values[high], position - low
    # numpy's lerp: exact at both ends, the same rounding as np.percentile.
    return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t
