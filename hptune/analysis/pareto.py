"""Pareto fronts of multi-objective studies: see :mod:`hptune.dominance`.

Non-dominated sorting lives below the samplers, which rank trials with it (NSGA-II,
multi-objective TPE); analysis re-exports it here for users.
"""

from __future__ import annotations

from hptune.dominance import crowding_distance, nondominated_sort, pareto_front

__all__ = ["crowding_distance", "nondominated_sort", "pareto_front"]
