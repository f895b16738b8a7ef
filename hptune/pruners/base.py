"""The pruner interface: decide from the history whether a running trial stops."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from hptune.records import FrozenTrial, StudyDirection

__all__ = ["Pruner"]


class Pruner(abc.ABC):
    """Decide whether a running trial should stop.

    Implementations read only their arguments, never write to storage, and return the
    same answer for the same inputs, so they work the same with one worker or many.
    From a study, ``history`` is a :class:`~hptune.history.HistoryView` (the other trials,
    no copy); a pruner may keep memos of finished trials, which never change, and read
    only those that finished since its last check (see ``pruners/_steps.py``).
    """

    @abc.abstractmethod
    def should_prune(
        self,
        trial: FrozenTrial,
        history: Sequence[FrozenTrial],
        directions: tuple[StudyDirection, ...],
    ) -> bool:
        """Return True if ``trial`` (RUNNING, with its reported values) should stop now."""

    def trial_attrs(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> dict[str, Any]:
        """Return what the study records on the trial at a check (e.g. its bracket).

        The study writes these system attributes once, at the first check that returns
        them. The default records nothing.
        """
        return {}

    def budgets(self, history: Sequence[FrozenTrial]) -> tuple[float, ...]:
        """Return the steps at which trials are compared (rungs), increasing.

        Model-based samplers fit their model at the highest of these that enough trials
        reached, so that pruning and Bayesian optimization work together (BOHB). The
        default, for pruners without rungs, is empty.
        """
        return ()
