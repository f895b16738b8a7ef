"""Analysis of finished studies: Pareto fronts (importance and plots come later)."""

from __future__ import annotations

from hptune.analysis.pareto import pareto_front

__all__ = ["pareto_front"]
