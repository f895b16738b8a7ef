"""The multi-objective benchmark's problems: formulas at known points, fronts, a tiny run.

The benchmark modules live in ``benchmarks/`` (not a package); the path is added here.
The formulas need only numpy; the model-tuning problem needs scikit-learn and the peers
Optuna (the ``bench`` extra): those tests skip, with the reason, where they are missing.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import mo_problems
import multiobjective

from hptune.analysis.hypervolume import hypervolume

SYNTHETIC = ("ZDT1", "ZDT2", "ZDT3", "DTLZ2")


def _on_front(f1: float, n: int = 10) -> list[float]:
    return [f1] + [0.0] * (n - 1)


@pytest.mark.parametrize("f1", [0.0, 0.04, 0.25, 0.5, 0.81, 1.0])
def test_zdt_on_the_front_follows_the_published_curves(f1: float) -> None:
    x = _on_front(f1)
    assert mo_problems.zdt_g(x) == 1.0
    assert mo_problems.zdt(1, x) == pytest.approx((f1, 1.0 - math.sqrt(f1)))
    assert mo_problems.zdt(2, x) == pytest.approx((f1, 1.0 - f1**2))
    expected = 1.0 - math.sqrt(f1) - f1 * math.sin(10.0 * math.pi * f1)
    assert mo_problems.zdt(3, x) == pytest.approx((f1, expected))


def test_zdt_away_from_the_front() -> None:
    x = [0.25] + [1.0] * 9
    assert mo_problems.zdt_g(x) == pytest.approx(10.0)
    assert mo_problems.zdt(1, x) == pytest.approx((0.25, 10.0 * (1.0 - math.sqrt(0.025))))
    problem = mo_problems.get_problem("ZDT1")
    assert problem.evaluate({f"x{i}": v for i, v in enumerate(x, start=1)}) == pytest.approx(
        mo_problems.zdt(1, x)
    )


@pytest.mark.parametrize("angles", [(0.0, 0.0), (1.0, 1.0), (0.3, 0.7), (0.5, 0.1)])
def test_dtlz2_lies_on_the_unit_sphere_when_the_distance_variables_are_one_half(
    angles: tuple[float, float],
) -> None:
    f = np.array(mo_problems.dtlz2([*angles, 0.5, 0.5, 0.5, 0.5, 0.5]))
    assert np.linalg.norm(f) == pytest.approx(1.0)
    assert np.all(f >= -1e-12)
    shifted = np.array(mo_problems.dtlz2([*angles, 0.5, 0.5, 0.5, 0.5, 1.0]))
    assert shifted == pytest.approx(f * 1.25)  # 1 + g with g = 0.5^2


def test_dtlz2_corners() -> None:
    assert mo_problems.dtlz2([0.0, 0.0, *[0.5] * 5]) == pytest.approx((1.0, 0.0, 0.0))
    assert mo_problems.dtlz2([1.0, 0.0, *[0.5] * 5]) == pytest.approx((0.0, 0.0, 1.0), abs=1e-12)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_the_reference_point_dominates_nothing_of_the_true_front(name: str) -> None:
    problem = mo_problems.get_problem(name)
    assert problem.front is not None
    front = problem.front()
    assert front.shape[1] == problem.n_objectives
    assert np.all(front < np.asarray(problem.reference))


@pytest.mark.parametrize("name", SYNTHETIC)
def test_the_true_hypervolume_matches_a_dense_sample_of_the_front(name: str) -> None:
    problem = mo_problems.get_problem(name)
    assert problem.front is not None and problem.true_hypervolume is not None
    sampled = hypervolume(problem.front(), problem.reference)
    # A finite sample of a front dominates a little less than the front itself (DTLZ2's
    # grid of 25 x 25 angles about 3.5% less).
    assert sampled <= problem.true_hypervolume + 1e-9
    assert sampled == pytest.approx(problem.true_hypervolume, rel=0.05)


def test_zdt_analytic_hypervolumes() -> None:
    assert mo_problems.get_problem("ZDT1").true_hypervolume == pytest.approx(1.21 - 1 / 3)
    assert mo_problems.get_problem("ZDT2").true_hypervolume == pytest.approx(1.21 - 2 / 3)
    assert mo_problems.get_problem("DTLZ2").true_hypervolume == pytest.approx(1.331 - math.pi / 6)


@pytest.mark.parametrize("which", [1, 2])
def test_zdt_quadrature_matches_the_closed_forms(which: int) -> None:
    closed = mo_problems.get_problem(f"ZDT{which}").true_hypervolume
    assert mo_problems.zdt_true_hypervolume(which, (1.1, 1.1)) == pytest.approx(closed, abs=1e-6)


def test_zdt3_front_is_five_pieces() -> None:
    front = mo_problems.zdt_front(3)
    gaps = np.diff(front[:, 0]) > 0.01
    assert gaps.sum() == 4


def test_mlp_size_is_counted_and_normalized() -> None:
    assert mo_problems.mlp_parameter_count(1, 4) == 64 * 4 + 4 + 4 * 10 + 10
    assert mo_problems.mlp_parameter_count(2, 64) == 64 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    assert mo_problems.normalized_size(1, 4) == pytest.approx(0.0)
    assert mo_problems.normalized_size(2, 64) == pytest.approx(1.0)
    assert 0.0 < mo_problems.normalized_size(1, 32) < mo_problems.normalized_size(2, 32) < 1.0


def test_mlp_digits_is_deterministic() -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is not installed (the bench extra)")
    problem = mo_problems.get_problem("MLP-digits")
    values = {
        "n_layers": 1,
        "width": 16,
        "activation": "relu",
        "alpha": 1e-4,
        "learning_rate_init": 1e-2,
        "batch_size": 256,
    }
    first = problem.evaluate(values)
    assert first == problem.evaluate(values)
    assert 0.0 <= first[0] < problem.reference[0]
    assert first[1] == pytest.approx(mo_problems.normalized_size(1, 16))


@pytest.mark.parametrize("sampler", ["evolution", "tpe", "random", "optuna-nsgaii", "optuna-tpe"])
def test_a_tiny_benchmark_run(sampler: str) -> None:
    if sampler.startswith("optuna"):
        pytest.importorskip("optuna", reason="Optuna is not installed (the bench extra)")
    record = multiobjective.run_one("ZDT1", sampler, 0, 12)
    assert len(record["values"]) == 12
    assert all(len(v) == 2 for v in record["values"])
    assert record["seconds"] >= record["eval_seconds"] >= 0.0
    data = {"runs": {multiobjective.run_key("ZDT1", 12, sampler, 0): record}}
    problem = mo_problems.get_problem("ZDT1")
    (summary,) = multiobjective.summarize(problem, 12, [sampler], 1, data)
    assert summary.curves.shape == (1, len(multiobjective.curve_grid(12)))
    assert np.all(np.diff(summary.curves[0]) >= 0)  # hypervolume never shrinks


def test_an_unknown_sampler_name_is_skipped_with_its_reason() -> None:
    why = multiobjective.why_not_runnable("no-such-sampler")
    assert why is not None and "no-such-sampler" in why
    assert multiobjective.why_not_runnable("evolution") is None
