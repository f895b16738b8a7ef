"""GPSampler: beats random search, exact numerics, every kind of parameter and history.

Statistical tests use fixed seeds, so they are deterministic; each states how often it
would fail with a fresh seed if the sampler were right.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from scipy import optimize, stats

import hptune as ht
from hptune.samplers import GPSampler, ProposalRequest
from hptune.samplers import _gp_model as gpm

BRANIN_MIN = 0.397887

MIXED: dict[str, ht.Distribution] = {
    "lin": ht.Float(-2.0, 3.0),
    "log": ht.Float(1e-5, 1e-1, log=True),
    "stepped": ht.Float(0.0, 1.0, step=0.1),
    "units": ht.Int(16, 256, step=16),
    "batch": ht.Int(1, 1024, log=True),
    "layers": ht.Int(1, 4),
    "act": ht.Categorical(["relu", "gelu", "tanh"]),
    "flag": ht.Categorical([True, False, None]),
}


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def mixed_objective(p: dict[str, Any]) -> float:
    value = (p["lin"] - 1) ** 2 + (math.log10(p["log"]) + 3) ** 2 + (p["stepped"] - 0.3) ** 2
    value += ((p["units"] - 128) / 64) ** 2 + abs(math.log2(p["batch"]) - 5) + p["layers"]
    return value + {"relu": 0.0, "gelu": 0.5, "tanh": 1.0}[p["act"]] + (p["flag"] is None)


def run(sampler: ht.Sampler, space: dict[str, ht.Distribution], objective: Any, n: int) -> ht.Study:
    study = ht.create_study(sampler=sampler)
    for _ in range(n):
        trial = study.ask(space)
        study.tell(trial, objective(trial.params))
    return study


def assert_valid(params: dict[str, Any], space: dict[str, ht.Distribution]) -> None:
    for name, dist in space.items():
        assert dist.contains(params[name]), (name, params[name])


# Quality ------------------------------------------------------------------------------


def test_beats_random_search_on_branin() -> None:
    space = {"x1": ht.Float(-5, 10), "x2": ht.Float(0, 15)}

    def objective(p: dict[str, Any]) -> float:
        return branin(p["x1"], p["x2"])

    gp = [run(GPSampler(seed=s), space, objective, 25).best_value - BRANIN_MIN for s in range(3)]
    rs = [
        run(ht.RandomSampler(seed=s), space, objective, 25).best_value - BRANIN_MIN
        for s in range(3)
    ]

    # A regret below 0.05 covers 0.096% of the domain (Monte Carlo, 4e6 points), so a
    # random search of 25 points gets there with probability 0.024 per seed. The GP got
    # there with 20 seeds out of 20 tried (19 below 0.02): with a fresh seed this test
    # would fail rarely (under 5% per seed by that sample, far less for all three).
    assert max(gp) < 0.05
    assert np.median(rs) > 0.05
    assert np.mean(np.log10(gp)) < np.mean(np.log10(rs)) - 1.5


# Numerics: log expected improvement -----------------------------------------------------


def test_log_h_matches_the_direct_formula_where_that_is_accurate() -> None:
    z = np.linspace(-8.0, 8.0, 161)
    direct = np.log(stats.norm.pdf(z) + z * stats.norm.cdf(z))

    np.testing.assert_allclose(gpm.log_h(z), direct, rtol=1e-9, atol=1e-12)


def test_log_h_is_finite_monotone_and_asymptotic_far_in_the_tail() -> None:
    z = -np.logspace(0, 12, 400)[::-1]  # -1e12 ... -1, increasing
    values = gpm.log_h(z)

    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) > 0)
    # The direct formula underflows to log(0) at z = -40; the asymptote
    # h(z) ~ phi(z) / z^2 holds to about 3/z^2 relative error.
    at_40 = float(gpm.log_h(np.array([-40.0]))[0])
    assert math.isfinite(at_40)
    assert at_40 == pytest.approx(-800 - 0.5 * math.log(2 * math.pi) - 2 * math.log(40), abs=3e-3)


def test_log_ei_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    mean = rng.normal(0, 3, 50)
    var = rng.uniform(0.01, 2.0, 50)
    best = -0.5
    _, d_mean, d_var = gpm.log_ei(mean, var, best)
    h = 1e-6

    num_mean = (gpm.log_ei(mean + h, var, best)[0] - gpm.log_ei(mean - h, var, best)[0]) / (2 * h)
    num_var = (gpm.log_ei(mean, var + h, best)[0] - gpm.log_ei(mean, var - h, best)[0]) / (2 * h)

    np.testing.assert_allclose(d_mean, num_mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(d_var, num_var, rtol=1e-5, atol=1e-7)


# Numerics: kernel, fit, posterior ------------------------------------------------------


def mixed_inputs(n: int, seed: int = 0) -> tuple[gpm.Inputs, np.ndarray]:
    """Points with two numeric, one categorical (3 values) and one conditional column."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4))
    x[:, 2] = rng.integers(0, 3, n)
    inactive = np.zeros((n, 4), dtype=bool)
    inactive[: n // 4, 3] = True
    x[inactive] = 0.5
    return gpm.Inputs(x, inactive), np.array([False, False, True, False])


def test_marginal_likelihood_gradient_matches_finite_differences() -> None:
    inputs, categorical = mixed_inputs(30)
    y = np.random.default_rng(1).standard_normal(30)
    dist = gpm.Distances.of(inputs, categorical)
    theta = np.array([-1.0, 0.3, 0.2, -0.5, 0.1, -3.0])

    _, grad = gpm.neg_log_posterior(theta, dist, y)
    numeric = optimize.approx_fprime(theta, lambda t: gpm.neg_log_posterior(t, dist, y)[0], 1e-7)

    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)


def test_posterior_gradients_match_finite_differences() -> None:
    inputs, categorical = mixed_inputs(30)
    y = np.random.default_rng(1).standard_normal(30)
    post = gpm.Posterior(inputs, y, np.array([-1.0, 0.3, 0.2, -0.5, 0.1, -3.0]), categorical)
    query = np.random.default_rng(2).random((5, 4))
    query[:, 2] = [0, 1, 2, 1, 0]
    mean, var, dmean, dvar = post.predict(query, grad=True)
    assert dmean is not None and dvar is not None
    h = 1e-6

    for j in (0, 1, 3):
        moved = query.copy()
        moved[:, j] += h
        mean2, var2, _, _ = post.predict(moved)
        np.testing.assert_allclose((mean2 - mean) / h, dmean[:, j], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose((var2 - var) / h, dvar[:, j], rtol=1e-4, atol=1e-5)
    assert np.all(dmean[:, 2] == 0)


def test_the_fitted_model_interpolates_noise_free_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    y = np.sin(6 * x[:, 0]) + np.cos(4 * x[:, 1])
    y = (y - y.mean()) / y.std()
    inputs = gpm.Inputs(x, np.zeros_like(x, dtype=bool))
    categorical = np.zeros(2, dtype=bool)

    theta = gpm.fit(inputs, y, categorical, gpm.initial_thetas(2, rng, 2))
    mean, var, _, _ = gpm.Posterior(inputs, y, theta, categorical).predict(x)

    assert math.exp(theta[-1]) < 1e-3  # noise: a small fraction of the variance
    np.testing.assert_allclose(mean, y, atol=0.02)
    assert np.all(var < 1e-2)


def test_cholesky_adds_jitter_to_a_singular_matrix() -> None:
    ones = np.ones((5, 5))  # rank one

    chol = gpm.cholesky(ones)

    np.testing.assert_allclose(chol @ chol.T, ones, atol=1e-3)


# Numerics: target warping ---------------------------------------------------------------


def rosenbrock_sample(n: int) -> np.ndarray:
    x = np.random.default_rng(0).uniform(-5, 10, (n, 4))
    return np.sum(100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2, axis=1)


def test_warping_tames_a_heavy_tailed_objective_and_keeps_the_order() -> None:
    y = rosenbrock_sample(200)  # values from ~1e3 to ~2e6: a long tail of bad values

    warped = gpm.warp(y)

    assert stats.skew(y) > 0.7 and abs(stats.skew(warped)) < 0.3
    assert np.all(np.diff(warped[np.argsort(y)]) > 0)  # monotone: the ranking is kept
    assert warped.mean() == pytest.approx(0, abs=1e-12) and warped.std() == pytest.approx(1)
    # The good trials, squeezed together by the tail before, are spread out after.
    best = np.argsort(y)[:20]
    assert np.ptp(warped[best]) > 1.5 * np.ptp((y[best] - y.mean()) / y.std())


def test_warping_never_compresses_the_good_tail() -> None:
    # Mostly mediocre values and a few very good ones (Hartmann-like): the transform that
    # would symmetrize them (exponent > 1) would squeeze the good ones; none is applied.
    y = np.concatenate([np.random.default_rng(0).normal(0, 0.1, 180), -np.geomspace(1, 3, 20)])

    np.testing.assert_allclose(gpm.warp(y), (y - y.mean()) / y.std())


def test_warping_a_constant_gives_zeros() -> None:
    np.testing.assert_array_equal(gpm.warp(np.full(5, 1e12)), np.zeros(5))


# Spaces --------------------------------------------------------------------------------


def test_honours_bounds_steps_log_scales_ints_and_categoricals() -> None:
    study = run(GPSampler(seed=0, n_startup_trials=5), MIXED, mixed_objective, 14)

    for trial in study.trials:
        assert_valid(trial.params, MIXED)
        assert type(trial.params["units"]) is int and type(trial.params["batch"]) is int
    # The model's proposals go where the objective is low, on every kind of axis.
    model_made = [t.params for t in study.trials[5:]]
    assert np.mean([p["layers"] == 1 for p in model_made]) > 0.5
    assert study.best_value < min(t.values[0] for t in study.trials[:5])


def test_a_conditional_define_by_run_space_does_not_break_it() -> None:
    def objective(trial: ht.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b", "c"])
        x = trial.suggest_float("x", -2, 2)
        if kind == "a":
            return (x - 1) ** 2 + math.log(trial.suggest_int("n", 1, 64, log=True))
        if kind == "b":
            return x**2 + abs(math.log10(trial.suggest_float("z", 1e-4, 1, log=True)) + 2)
        return 3 + x

    study = ht.create_study(sampler=GPSampler(seed=0, n_startup_trials=5))
    study.optimize(objective, n_trials=20, show_progress=False)

    assert len(study.trials) == 20
    assert all(t.state is ht.TrialState.COMPLETE for t in study.trials)
    assert study.best_value < 0.5


# Parallel workers, determinism ---------------------------------------------------------


@pytest.mark.parametrize("pending", ["believer", "liar"])
def test_two_workers_with_pending_trials_get_different_proposals(pending: Any) -> None:
    space = {"x": ht.Float(-5, 10), "y": ht.Float(0, 15)}
    study = run(
        GPSampler(seed=0, n_startup_trials=6, pending=pending),
        space,
        lambda p: branin(p["x"], p["y"]),
        8,
    )

    first = study.ask(space)
    second = study.ask(space)  # the first is still running

    gap = math.hypot(
        (first.params["x"] - second.params["x"]) / 15, (first.params["y"] - second.params["y"]) / 15
    )
    assert gap > 0.05  # in unit-cube units: not the same point, nor a neighbour of it


def test_a_proposal_depends_only_on_seed_and_history() -> None:
    space = {"x": ht.Float(0, 1), "k": ht.Int(0, 5), "c": ht.Categorical(["a", "b"])}
    study = run(GPSampler(seed=3, n_startup_trials=4), space, mixed_like, 9)
    request = ProposalRequest(9, space, study.trials, (ht.StudyDirection.MINIMIZE,))

    used = study.sampler.propose(request).params  # warm caches
    fresh = GPSampler(seed=3, n_startup_trials=4).propose(request).params

    assert used == fresh


def mixed_like(p: dict[str, Any]) -> float:
    return (p["x"] - 0.3) ** 2 + 0.1 * (p["k"] - 2) ** 2 + (p["c"] == "b")


def test_a_resumed_study_proposes_what_an_uninterrupted_one_would(tmp_path: Any) -> None:
    space = {"x": ht.Float(-5, 10), "y": ht.Float(0, 15), "n": ht.Int(0, 4)}

    def objective(p: dict[str, Any]) -> float:
        return branin(p["x"], p["y"]) + p["n"]

    def steps(study: ht.Study, n: int) -> None:
        for _ in range(n):
            trial = study.ask(space)
            study.tell(trial, objective(trial.params))

    whole = ht.create_study(
        storage=f"sqlite:///{tmp_path / 'a.db'}", sampler=GPSampler(seed=7, n_startup_trials=4)
    )
    steps(whole, 12)
    first = ht.create_study(
        study_name="resumed",
        storage=f"sqlite:///{tmp_path / 'b.db'}",
        sampler=GPSampler(seed=7, n_startup_trials=4),
    )
    steps(first, 8)
    resumed = ht.load_study(
        "resumed", f"sqlite:///{tmp_path / 'b.db'}", sampler=GPSampler(seed=7, n_startup_trials=4)
    )
    steps(resumed, 4)

    assert [t.params for t in resumed.trials] == [t.params for t in whole.trials]


# Awkward histories ---------------------------------------------------------------------


SMALL: dict[str, ht.Distribution] = {
    "x": ht.Float(-1, 1),
    "k": ht.Int(1, 9),
    "c": ht.Categorical(["a", "b"]),
}


def proposals_after(history: list[tuple[str, float | None]], n_startup: int = 1) -> dict[str, Any]:
    study = ht.create_study(sampler=GPSampler(seed=0, n_startup_trials=n_startup))
    for state, value in history:
        trial = study.ask(SMALL)
        study.tell(trial, value, state=state)
    trial = study.ask(SMALL)
    assert_valid(trial.params, SMALL)
    return trial.params


def test_all_failed_trials_still_give_valid_points() -> None:
    proposals_after([("fail", None)] * 4, n_startup=0)


def test_nan_objectives_fail_and_the_sampler_goes_on() -> None:
    study = ht.create_study(sampler=GPSampler(seed=0, n_startup_trials=2))
    for i in range(6):
        trial = study.ask(SMALL)
        study.tell(trial, float("nan") if i % 2 else trial.params["x"] ** 2)

    assert sum(t.state is ht.TrialState.FAIL for t in study.trials) == 3
    assert_valid(study.ask(SMALL).params, SMALL)


def test_a_constant_objective_gives_distinct_valid_points() -> None:
    study = run(GPSampler(seed=0, n_startup_trials=2), SMALL, lambda p: 5.0, 8)

    assert len({tuple(t.params.values()) for t in study.trials}) == 8


def test_a_single_complete_trial_is_enough() -> None:
    proposals_after([("complete", 1.0)])


def test_a_huge_magnitude_objective_is_handled() -> None:
    study = run(GPSampler(seed=0, n_startup_trials=3), SMALL, lambda p: 1e12 * (2 + p["x"]), 8)

    assert study.best_params["x"] < -0.5


def test_pruned_and_failed_trials_mix_with_complete_ones() -> None:
    history: list[tuple[str, float | None]] = [("complete", 1.0), ("pruned", None), ("fail", None)]
    proposals_after(history * 3 + [("complete", 0.5)])


def test_several_objectives_use_parego() -> None:
    study = ht.create_study(
        sampler=GPSampler(seed=0, n_startup_trials=4), directions=["minimize", "maximize"]
    )
    for _ in range(10):
        trial = study.ask({"x": ht.Float(0, 1), "y": ht.Float(0, 1)})
        x, y = trial.params["x"], trial.params["y"]
        study.tell(trial, values=[x**2 + y, -((1 - x) ** 2) - y])

    # The Pareto front is y = 0: the model's proposals go there.
    assert np.median([t.params["y"] for t in study.trials[4:]]) < 0.2


def test_a_long_history_is_subsampled() -> None:
    space = {"x": ht.Float(0, 1), "y": ht.Float(0, 1)}
    sampler = GPSampler(seed=0, n_startup_trials=2, max_model_trials=20)
    study = run(sampler, space, lambda p: (p["x"] - 0.2) ** 2 + (p["y"] - 0.7) ** 2, 30)

    assert study.best_value < 0.01


# Configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_startup_trials": -1}, "n_startup_trials must be an int >= 0, got n_startup_trials=-1"),
        ({"n_startup_trials": 2.5}, "n_startup_trials=2.5"),
        ({"pending": "mean"}, "pending must be 'believer' or 'liar', got pending='mean'"),
        (
            {"max_model_trials": 10},
            "max_model_trials must be an int >= 20, got max_model_trials=10",
        ),
        ({"max_model_trials": True}, "max_model_trials=True"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ht.ConfigurationError, match=match):
        GPSampler(**kwargs)


def test_a_pickled_sampler_proposes_the_same() -> None:
    space = {"x": ht.Float(0, 1), "k": ht.Int(0, 5), "c": ht.Categorical(["a", "b"])}
    study = run(GPSampler(seed=3, n_startup_trials=4), space, mixed_like, 7)
    request = ProposalRequest(7, space, study.trials, (ht.StudyDirection.MINIMIZE,))
    copy = pickle.loads(pickle.dumps(study.sampler))

    assert copy.propose(request) == study.sampler.propose(request)


def test_repr_and_registry_name() -> None:
    sampler = ht.create_study(sampler="gp", seed=4).sampler

    assert repr(sampler) == (
        "GPSampler(seed=4, n_startup_trials=10, random_fraction=0, pending='believer', "
        "max_model_trials=400)"
    )
