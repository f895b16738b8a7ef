"""Analysis of finished studies: Pareto fronts and hypervolume (importance and plots later)."""

from __future__ import annotations

from hptune.analysis.hypervolume import hypervolume, hypervolume_history
from hptune.dominance import pareto_front

__all__ = ["hypervolume", "hypervolume_history", "pareto_front"]
