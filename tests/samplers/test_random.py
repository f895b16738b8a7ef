"""RandomSampler: uniform in each parameter's scale, reproducible from the seed.

Statistical tests use fixed seeds, so they are deterministic; each states the rate at
which it would fail with a fresh seed if the sampler were right (its significance level).
"""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest
from scipy import stats

import hptune as ht
from hptune.samplers import ProposalRequest

N = 2000
ALPHA = 1e-3  # false-failure rate of each statistical assertion with a fresh seed


def draws(space: dict[str, ht.Distribution], n: int = N, seed: int = 0) -> list[dict]:
    # The sampler's own interface: a study of 2000 trials would take seconds, and the
    # random sampler does not read the history anyway.
    sampler = ht.RandomSampler(seed=seed)
    directions = (ht.StudyDirection.MINIMIZE,)
    return [sampler.propose(ProposalRequest(i, space, [], directions)).params for i in range(n)]


def test_log_floats_are_log_uniform() -> None:
    values = np.array([p["lr"] for p in draws({"lr": ht.Float(1e-5, 1e-1, log=True)})])

    assert values.min() >= 1e-5 and values.max() <= 1e-1
    # Kolmogorov-Smirnov: log10(lr) is uniform on [-5, -1]; fails w.p. ALPHA if it is.
    assert stats.kstest(np.log10(values), stats.uniform(loc=-5, scale=4).cdf).pvalue > ALPHA
    # ...and lr itself is far from uniform (a linear sampler would put ~1% below 1e-3).
    assert 0.4 < np.mean(values < 1e-3) < 0.6


def test_linear_floats_are_uniform() -> None:
    values = np.array([p["x"] for p in draws({"x": ht.Float(-3.0, 5.0)})])

    # Kolmogorov-Smirnov against uniform on [-3, 5]; fails w.p. ALPHA if it is.
    assert stats.kstest(values, stats.uniform(loc=-3, scale=8).cdf).pvalue > ALPHA


@pytest.mark.parametrize(
    ("distribution", "support"),
    [
        (ht.Int(1, 6), list(range(1, 7))),
        (ht.Int(0, 10, step=2), [0, 2, 4, 6, 8, 10]),
        (ht.Float(0.0, 1.0, step=0.25), [0.0, 0.25, 0.5, 0.75, 1.0]),
        (ht.Categorical(["adam", "sgd", "rmsprop", None]), ["adam", "sgd", "rmsprop", None]),
        (ht.Categorical([True, False]), [True, False]),
    ],
)
def test_finite_parameters_are_uniform_over_their_values(
    distribution: ht.Distribution, support: list
) -> None:
    counts = collections.Counter(p["x"] for p in draws({"x": distribution}))

    assert set(counts) == set(support)  # no value outside, none missing
    observed = [counts[v] for v in support]
    # Chi-square goodness of fit to the uniform; fails w.p. ALPHA if uniform.
    assert stats.chisquare(observed).pvalue > ALPHA


def test_log_integers_follow_their_log_scale() -> None:
    values = [p["n"] for p in draws({"n": ht.Int(1, 1000, log=True)})]

    assert all(1 <= v <= 1000 and isinstance(v, int) for v in values)
    # On the log scale of [0.5, 1000.5] the value 31 or less has probability
    # log(31.5 / 0.5) / log(1000.5 / 0.5) = 0.545; two-sided binomial test at ALPHA.
    p = math.log(31.5 / 0.5) / math.log(1000.5 / 0.5)
    below = sum(v <= 31 for v in values)
    assert stats.binomtest(below, len(values), p).pvalue > ALPHA


def test_same_seed_same_trials_other_seed_other_trials() -> None:
    def run(seed: int) -> list[dict]:
        study = ht.create_study(sampler="random", seed=seed)
        study.optimize(
            lambda t: t.suggest_float("x", -1, 1) + t.suggest_int("k", 0, 100),
            n_trials=10, show_progress=False,
        )  # fmt: skip
        return [t.params for t in study.trials]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_a_value_does_not_depend_on_the_order_of_suggestions() -> None:
    def run(order: str) -> list[dict]:
        study = ht.create_study(sampler=ht.RandomSampler(seed=4))

        def objective(trial: ht.Trial) -> float:
            for name in order:
                trial.suggest_float(name, 0.0, 1.0)
            return 0.0

        study.optimize(objective, n_trials=5, show_progress=False)
        return [t.params for t in study.trials]

    assert run("ab") == run("ba")


def test_repr_shows_the_seed() -> None:
    assert repr(ht.RandomSampler(seed=3)) == "RandomSampler(seed=3)"
