"""Patience: prune only after several consecutive bad checks, for noisy curves."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from hptune.exceptions import ConfigurationError
from hptune.pruners.base import Pruner
from hptune.records import FrozenTrial, StudyDirection
from hptune.validation import check_int

__all__ = ["PatientPruner"]


class PatientPruner(Pruner):
    """Prune only when the wrapped pruner says so at ``patience + 1`` reports in a row.

    A noisy validation curve can dip below the others for one epoch and recover; with
    patience the trial is stopped only when it stayed bad. Each of the trial's last
    ``patience + 1`` reports is judged by the wrapped pruner as if it were the latest
    (against the history as it is now), so the rule needs no state and gives the same
    answer on every worker. Meant for pruners that judge every report (median,
    percentile); a rung-based pruner (ASHA, Hyperband) judges only the report that
    reaches a rung and would never be bad twice in a row.

    Args:
        wrapped: the pruner that judges each report.
        patience: how many bad reports in a row are tolerated (0: prune at the first).

    Example:
        >>> import hptune as ht
        >>> pruner = ht.PatientPruner(ht.MedianPruner(), patience=2)
    """

    def __init__(self, wrapped: Pruner, *, patience: int) -> None:
        if not isinstance(wrapped, Pruner):
            raise ConfigurationError(f"PatientPruner: wrapped must be a Pruner, got {wrapped!r}.")
        self.wrapped = wrapped
        self.patience = check_int("PatientPruner", "patience", patience)

    def __repr__(self) -> str:
        return f"PatientPruner({self.wrapped!r}, patience={self.patience})"

    def trial_attrs(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> dict[str, Any]:
        return self.wrapped.trial_attrs(trial, history)

    def budgets(self, history: Sequence[FrozenTrial]) -> tuple[float, ...]:
        return self.wrapped.budgets(history)

    def should_prune(
        self,
        trial: FrozenTrial,
        history: Sequence[FrozenTrial],
        directions: tuple[StudyDirection, ...],
    ) -> bool:
        steps = sorted(trial.intermediate_values)
        if len(steps) < self.patience + 1:
            return False
        for last in steps[len(steps) - self.patience - 1 :]:
            values = {s: v for s, v in trial.intermediate_values.items() if s <= last}
            earlier = dataclasses.replace(trial, intermediate_values=values)
            if not self.wrapped.should_prune(earlier, history, directions):
                return False
        return True
