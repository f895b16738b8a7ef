"""The sampler benchmark's problems and scores: known optima, valid spaces, the score's ends.

The benchmark modules live in ``benchmarks/`` (not a package); the path is added here.
Nothing here needs a peer library or evaluates a scikit-learn model.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import problems
import scoring

import hptune as ht

ST = -2.903534


@pytest.mark.parametrize(
    ("function", "x", "expected"),
    [
        (problems.branin, (-math.pi, 12.275), 0.397887),
        (problems.branin, (math.pi, 2.275), 0.397887),
        (problems.branin, (9.42478, 2.475), 0.397887),
        (problems.hartmann3, (0.114614, 0.555649, 0.852547), -3.86278),
        (problems.hartmann6, (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573), -3.32237),
        (problems.ackley, (0.0,) * 5, 0.0),
        (problems.ackley, (0.0,) * 10, 0.0),
        (problems.rosenbrock, (1.0,) * 4, 0.0),
        (problems.rosenbrock, (1.0,) * 20, 0.0),
        (problems.levy, (1.0,) * 10, 0.0),
        (problems.styblinski_tang, (ST,) * 8, -39.16617 * 8),
        (problems.michalewicz, (2.202906, 1.570796), -1.8013),
        (problems.michalewicz, (2.202906, 1.570796, 1.284992, 1.923058, 1.720470), -4.687658),
    ],
)
def test_synthetic_functions_reach_their_published_minimum(function, x, expected):
    assert function(x) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("function", [problems.ackley, problems.levy, problems.rosenbrock])
def test_synthetic_minimum_is_a_minimum(function):
    x_star = np.zeros(5) if function is problems.ackley else np.ones(5)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert function(x_star + rng.normal(0, 0.1, 5)) > function(x_star)


def test_every_problem_has_a_valid_hptune_space_and_a_known_family():
    every = problems.all_problems()
    assert len(every) >= 20
    for problem in every.values():
        assert problem.family in problems.FAMILIES
        space = problem.space()
        assert set(space) == {p.name for p in problem.params}
        assert all(isinstance(d, ht.Distribution) for d in space.values())
        study = ht.create_study(sampler="random", seed=0)
        trial = study.ask(space)  # validates the space through the public API
        assert set(trial.params) == set(space)
        parents = {p.parent for p in problem.params if p.parent is not None}
        for name in parents:
            assert space[name] == ht.Categorical(space[name].choices)


def test_analytic_problems_reach_best_known_and_random_points_do_worse():
    every = problems.all_problems()
    optima = {
        "Branin": {"x0": math.pi, "x1": 2.275},
        "Ackley5": {f"x{i}": 0.0 for i in range(5)},
        "MixedNet": {"lr": 1e-3, "width": 32, "layers": 3, "dropout": 0.25, "activation": "relu"},
        "Switch": {"branch": "branin", "b0": math.pi, "b1": 2.275},
        "NASLike": {
            "depth": 3,
            "optimizer": "sgd",
            "units1": 128,
            "units2": 64,
            "units3": 32,
            "lr": 10**-1.5,
            "momentum": 0.9,
            "weight_decay": 1e-4,
        },
    }
    for name, x in optima.items():
        problem = every[name]
        assert problem.evaluate(x) == pytest.approx(problem.best_known, abs=1e-5)
        rng = np.random.default_rng(0)
        for _ in range(50):
            assert problem.evaluate(problem.sample(rng)) >= problem.best_known - 1e-9


def test_conditional_suggest_asks_only_active_parameters():
    problem = problems.get_problem("NASLike")
    study = ht.create_study(sampler="random", seed=0)
    for _ in range(20):
        trial = study.ask()
        values = problem.suggest(trial)
        assert set(trial.params) == set(values)
        assert ("units3" in values) == (values["depth"] == 3)
        assert ("momentum" in values) == (values["optimizer"] == "sgd")
        study.tell(trial, problem.evaluate(values))


def test_random_points_lie_in_the_space():
    rng = np.random.default_rng(0)
    for problem in problems.all_problems().values():
        space = problem.space()
        for _ in range(10):
            for name, value in problem.sample(rng).items():
                assert space[name].contains(value), (problem.name, name, value)


def test_normalized_score_is_100_at_best_known_and_0_at_the_median():
    def score(best: float) -> float:
        return float(scoring.normalized_score(best, median_random=-0.1, best_known=-3.3))

    assert score(-3.3) == pytest.approx(100)
    assert score(-0.1) == pytest.approx(0)
    assert score(-1.7) == pytest.approx(50)
    assert score(-3.5) > 100  # a value better than best_known: nothing is clipped
    assert score(5.0) < 0
    with pytest.raises(ValueError, match="median_random must exceed best_known"):
        scoring.normalized_score(0.0, median_random=1.0, best_known=1.0)


def test_best_so_far_pads_and_cuts_to_the_budget():
    assert list(scoring.best_so_far([3, 1, 2], 5)) == [3, 1, 1, 1, 1]
    assert list(scoring.best_so_far([3, 1, 2, 0], 3)) == [3, 1, 1]


def test_bootstrap_and_ranks():
    scores = {"a": [50.0, 50.0], "b": [70.0, 90.0]}
    mean, lo, hi = scoring.bootstrap_mean(scores)
    assert mean == 65.0 and lo <= mean <= hi
    diff, lo, hi = scoring.bootstrap_difference(scores, {"a": [40.0, 40.0], "b": [80.0, 80.0]})
    assert diff == pytest.approx(5.0) and lo <= diff <= hi
    ranks = scoring.mean_ranks({"x": {"a": 1.0, "b": 3.0}, "y": {"a": 2.0, "b": 3.0}})
    assert ranks == {"x": 1.75, "y": 1.25}
