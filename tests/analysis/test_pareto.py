"""Non-dominated sorting, crowding distance and the Pareto front: hand-computed cases,
constrained domination, and the defining properties of fronts on random points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hptune.analysis.pareto import crowding_distance, nondominated_sort, pareto_front
from hptune.exceptions import ConfigurationError
from hptune.trial import FrozenTrial, StudyDirection, TrialState


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def as_lists(fronts: list[np.ndarray]) -> list[list[int]]:
    return [f.tolist() for f in fronts]


# Non-dominated sorting ------------------------------------------------------------------


def test_two_objectives_by_hand() -> None:
    points = [[1, 5], [2, 3], [3, 4], [4, 1], [5, 5], [2, 6]]

    # [3, 4] is dominated by [2, 3]; [2, 6] by [1, 5]; [5, 5] by [3, 4] (front 2).
    assert as_lists(nondominated_sort(points)) == [[0, 1, 3], [2, 5], [4]]


def test_ties_in_one_objective_and_duplicates_share_or_split_fronts() -> None:
    points = [[1, 2], [1, 3], [1, 2], [0, 3], [2, 2]]

    # [1, 2] twice: equal points share front 0; [1, 3] is dominated by [1, 2] (equal in
    # the first objective, worse in the second); [2, 2] likewise; [0, 3] is not.
    assert as_lists(nondominated_sort(points)) == [[0, 2, 3], [1, 4]]


def test_three_objectives_by_hand() -> None:
    points = [[1, 2, 3], [3, 2, 1], [2, 2, 2], [2, 3, 3], [3, 3, 3], [1, 2, 3]]

    # [2, 3, 3] is dominated by [1, 2, 3] only; [3, 3, 3] by [2, 3, 3] too.
    assert as_lists(nondominated_sort(points)) == [[0, 1, 2, 5], [3], [4]]


def test_one_objective_sorts_by_value_with_ties_together() -> None:
    assert as_lists(nondominated_sort([[3.0], [1.0], [2.0], [1.0]])) == [[1, 3], [2], [0]]


def test_n_points_stops_once_enough_fronts_are_found() -> None:
    points = [[i, 10 - i] for i in range(5)] + [[i + 1, 11 - i] for i in range(5)]
    points += [[20, 20]]

    assert as_lists(nondominated_sort(points, n_points=3)) == [[0, 1, 2, 3, 4]]
    assert len(nondominated_sort(points, n_points=6)) == 2
    assert len(nondominated_sort(points)) == 3


def test_feasible_points_dominate_infeasible_ones() -> None:
    points = [[5, 5], [0, 0], [1, 1], [4, 6], [0, 1]]
    violation = [0.0, 2.0, 0.5, 0.0, 0.5]

    # Feasible first ([5, 5] and [4, 6] do not dominate each other), then infeasible by
    # violation: the two with 0.5 share a front although [0, 1] is better than [1, 1].
    fronts = nondominated_sort(points, violation=violation)

    assert as_lists(fronts) == [[0, 3], [2, 4], [1]]


def test_only_infeasible_points_rank_by_violation() -> None:
    fronts = nondominated_sort([[0, 0], [1, 1], [2, 2]], violation=[3.0, 1.0, 2.0])

    assert as_lists(fronts) == [[1], [2], [0]]
    assert as_lists(nondominated_sort([[0, 0], [1, 1]], violation=[1.0, 1.0], n_points=1)) == [
        [0, 1]
    ]


def test_empty_input_gives_no_front() -> None:
    assert nondominated_sort(np.empty((0, 2))) == []
    assert crowding_distance(np.empty((0, 2))).shape == (0,)


@pytest.mark.parametrize(
    ("points", "kwargs", "match"),
    [
        ([1.0, 2.0], {}, "2-d array"),
        ([[1.0, np.nan]], {}, "finite"),
        ([[1.0, 2.0]], {"violation": [-1.0]}, "violation"),
        ([[1.0, 2.0]], {"violation": [0.0, 1.0]}, "violation"),
    ],
)
def test_bad_input_is_named(points: object, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        nondominated_sort(points, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda m: st.lists(st.lists(st.integers(0, 4), min_size=m, max_size=m), max_size=25)
    )
)
def test_fronts_partition_the_points_and_are_ordered(rows: list[list[int]]) -> None:
    points = np.array(rows, dtype=float).reshape(len(rows), -1 if rows else 1)
    fronts = nondominated_sort(points)

    flat = np.concatenate(fronts) if fronts else np.empty(0, dtype=int)
    assert sorted(flat.tolist()) == list(range(len(points)))
    for k, front in enumerate(fronts):
        for i in front:  # nothing in a front dominates another point of it
            assert not any(dominates(points[j], points[i]) for j in front)
        if k + 1 < len(fronts):  # every later point is dominated by one in front k
            for i in fronts[k + 1]:
                assert any(dominates(points[j], points[i]) for j in front)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.sampled_from([0.0, 0.0, 1.0, 2.5])),
        max_size=20,
    )
)
def test_constrained_fronts_follow_constrained_domination(
    rows: list[tuple[int, int, float]],
) -> None:
    points = np.array([r[:2] for r in rows], dtype=float).reshape(len(rows), 2)
    violation = np.array([r[2] for r in rows])

    def beats(i: int, j: int) -> bool:
        vi, vj = violation[i], violation[j]
        if vi == 0 and vj == 0:
            return dominates(points[i], points[j])
        return bool(vi < vj)

    fronts = nondominated_sort(points, violation=violation)
    for k, front in enumerate(fronts):
        for i in front:
            assert not any(beats(j, i) for j in front)
        if k + 1 < len(fronts):
            for i in fronts[k + 1]:
                assert any(beats(j, i) for j in front)


# Crowding distance ----------------------------------------------------------------------


def test_crowding_distance_by_hand() -> None:
    front = [[0.0, 4.0], [1.0, 2.0], [2.0, 1.0], [4.0, 0.0]]

    # Inner points: (2 - 0) / 4 + (4 - 1) / 4 = 1.25 and (4 - 1) / 4 + (2 - 0) / 4 = 1.25.
    assert crowding_distance(front).tolist() == [np.inf, 1.25, 1.25, np.inf]


def test_crowding_distance_of_three_objectives() -> None:
    front = [[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [2.0, 0.0, 2.0], [0.5, 1.5, 0.5]]

    # Point 3 is inside in every objective: (1 - 0) / 2 + (2 - 1) / 2 + (1 - 0) / 2.
    distances = crowding_distance(front)

    assert distances[3] == pytest.approx(1.5)
    assert np.isinf(distances[[0, 1, 2]]).all()


def test_duplicates_keep_one_distance_and_the_others_zero() -> None:
    front = [[0.0, 4.0], [1.0, 2.0], [1.0, 2.0], [4.0, 0.0], [0.0, 4.0]]

    # Distinct points (0, 4), (1, 2), (4, 0); the middle one: (4 - 0) / 4 in each
    # objective. The second copy of each point gets 0.
    assert crowding_distance(front).tolist() == [np.inf, 2.0, 0.0, np.inf, 0.0]


def test_small_fronts_and_flat_objectives() -> None:
    assert crowding_distance([[1.0, 2.0]]).tolist() == [np.inf]
    assert crowding_distance([[1.0, 2.0], [2.0, 1.0]]).tolist() == [np.inf, np.inf]
    # The second objective has no range and adds nothing; the first is as usual.
    assert crowding_distance([[0.0, 1.0], [1.0, 1.0], [3.0, 1.0]]).tolist() == [
        np.inf,
        1.0,
        np.inf,
    ]


# pareto_front ----------------------------------------------------------------------------


def test_pareto_front_respects_directions() -> None:
    values = [(1.0, 3.0), (2.0, 2.0), (3.0, 3.0), (2.0, 4.0)]
    trials = [FrozenTrial(i, i, TrialState.COMPLETE, values=v) for i, v in enumerate(values)]
    trials.append(FrozenTrial(4, 4, TrialState.RUNNING))

    minimize = [StudyDirection.MINIMIZE] * 2
    mixed = [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE]

    assert [t.number for t in pareto_front(trials, minimize)] == [0, 1]
    assert [t.number for t in pareto_front(trials, mixed)] == [0, 3]
    assert pareto_front([], minimize) == []
