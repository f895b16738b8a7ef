"""Reading reported values by step: shared by the pruners."""

from __future__ import annotations

import bisect
from collections.abc import Mapping

from hptune.exceptions import ConfigurationError
from hptune.records import FrozenTrial, StudyDirection

__all__ = ["first_at_or_after", "last_at_or_before", "single_direction"]


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
