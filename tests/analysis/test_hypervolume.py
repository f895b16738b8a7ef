"""Hypervolume: hand-computed cases and inclusion-exclusion in 1 to 5 objectives."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hptune as ht
from hptune.analysis.hypervolume import hypervolume, hypervolume_history, nondominated
from hptune.trial import FrozenTrial, StudyDirection, TrialState


def inclusion_exclusion(points: np.ndarray, ref: np.ndarray) -> float:
    """The exact volume of a union of boxes [p, ref], by inclusion-exclusion."""
    points = points[np.all(points < ref, axis=1)]
    total = 0.0
    for k in range(1, len(points) + 1):
        for subset in itertools.combinations(range(len(points)), k):
            corner = points[list(subset)].max(axis=0)
            total += (-1) ** (k + 1) * float(np.prod(ref - corner))
    return total


def test_hand_computed_cases() -> None:
    assert hypervolume([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]], [4.0, 4.0]) == 6.0
    assert hypervolume([[1.0, 1.0, 1.0]], [2.0, 3.0, 4.0]) == 6.0
    # Two 1x2x2 boxes that share a 1x1x2 column: 4 + 4 - 2.
    assert hypervolume([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], [2.0, 2.0, 2.0]) == pytest.approx(6.0)
    assert hypervolume([[0.5] * 4], [1.0] * 4) == pytest.approx(0.0625)
    assert hypervolume([[5.0, 5.0]], [4.0, 4.0]) == 0.0  # does not dominate the reference
    assert hypervolume(np.empty((0, 2)), [1.0, 1.0]) == 0.0
    assert hypervolume([[3.0]], [4.0]) == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda d: st.lists(
            st.lists(st.integers(0, 6), min_size=d, max_size=d), min_size=1, max_size=7
        )
    )
)
def test_equals_inclusion_exclusion(raw: list[list[int]]) -> None:
    points = np.asarray(raw, dtype=float)
    ref = np.full(points.shape[1], 6.5)
    assert hypervolume(points, ref) == pytest.approx(inclusion_exclusion(points, ref))


def test_adding_a_dominated_point_changes_nothing() -> None:
    rng = np.random.default_rng(0)
    points = rng.random((30, 3))
    ref = np.ones(3) * 1.1
    front = nondominated(points)
    assert hypervolume(points, ref) == pytest.approx(hypervolume(front, ref))
    worse = front[0] + 0.01
    assert hypervolume(np.vstack([points, worse]), ref) == pytest.approx(hypervolume(points, ref))


def test_history_follows_the_directions() -> None:
    trials = [
        FrozenTrial(0, 0, TrialState.COMPLETE, values=(0.9, 10.0)),
        FrozenTrial(1, 1, TrialState.FAIL),
        FrozenTrial(2, 2, TrialState.COMPLETE, values=(0.95, 20.0)),
        FrozenTrial(3, 3, TrialState.COMPLETE, values=(0.8, 30.0)),  # dominated
    ]
    # Maximize accuracy (reference 0.5), minimize latency (reference 50).
    dirs = [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    history = hypervolume_history(trials, dirs, [0.5, 50.0])
    first = 0.4 * 40.0
    assert history == pytest.approx([first, first, first + 0.05 * 30.0, first + 0.05 * 30.0])


def test_mismatched_reference_is_named() -> None:
    with pytest.raises(ht.ConfigurationError, match="one reference value per objective"):
        hypervolume([[1.0, 2.0]], [3.0])
    with pytest.raises(ht.ConfigurationError, match="finite"):
        hypervolume([[1.0, np.nan]], [3.0, 3.0])
