"""CmaEsSampler: better than random search, valid values, integers (margin), IPOP restarts,
state rebuilt from the history (resume, asynchronous workers), categoricals, errors.

Quality tests use fixed seeds, so they are deterministic; each states how it behaved over
other seeds, run offline (its false-failure rate with a fresh seed).
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest

import hptune as ht
from hptune.exceptions import ConfigurationError
from hptune.samplers import ProposalRequest
from hptune.samplers.cmaes import CmaEsSampler

D = 6
ROTATION = np.linalg.qr(np.random.default_rng(0).standard_normal((D, D)))[0]
CENTRE = np.linspace(-2.0, 3.0, D)
WEIGHTS = 10 ** (2 * np.arange(D) / (D - 1))


def rotated_ellipsoid(trial: ht.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", -5.0, 5.0) for i in range(D)])
    z = ROTATION @ (x - CENTRE)
    return float(WEIGHTS @ z**2)


def rastrigin(trial: ht.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", -5.12, 5.12) for i in range(2)])
    return float(20 + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def sphere(trial: ht.Trial) -> float:
    return sum((trial.suggest_float(f"x{i}", -3.0, 3.0) - 0.5 * i) ** 2 for i in range(3))


def run(sampler: ht.Sampler, objective: Any, n_trials: int, **study_kwargs: Any) -> ht.Study:
    study = ht.create_study(sampler=sampler, **study_kwargs)
    study.optimize(objective, n_trials=n_trials, show_progress=False)
    return study


def tags(trial: ht.FrozenTrial) -> tuple[int, int, int] | None:
    attrs = trial.system_attrs
    if "cmaes:generation" not in attrs:
        return None
    return attrs["cmaes:restart"], attrs["cmaes:generation"], attrs["cmaes:popsize"]


# Quality --------------------------------------------------------------------------------


def test_beats_random_search_on_a_rotated_ellipsoid() -> None:
    cma = [run(CmaEsSampler(seed=s), rotated_ellipsoid, 300).best_value for s in range(3)]
    rand = [run(ht.RandomSampler(seed=s), rotated_ellipsoid, 300).best_value for s in range(3)]

    # Offline, seeds 0-23 (6-d, condition 100, 300 trials): CMA-ES's best had median 2.0,
    # random search's 81; their ratio per seed had median 0.027 and maximum 0.44. Resampling
    # those seeds in threes, the medians compared here failed 1.1% of the time at 0.15
    # (its false-failure rate with fresh seeds; seeds 0-2 give 0.036).
    assert np.median(cma) < 0.15 * np.median(rand)


def test_finds_the_optimum_of_a_separable_integer_quadratic() -> None:
    centre = (3, -7, 0, 9)

    def objective(trial: ht.Trial) -> float:
        return float(
            sum((trial.suggest_int(f"n{i}", -10, 10) - c) ** 2 for i, c in enumerate(centre))
        )

    study = run(CmaEsSampler(seed=0), objective, 250)

    # Offline, seeds 0-19 all found it, after 84 to 191 trials (median 139; seed 0: 138):
    # the margin keeps integer coordinates moving after sigma shrank below one cell.
    assert study.best_value == 0
    assert study.best_params == {f"n{i}": c for i, c in enumerate(centre)}


def test_ipop_restarts_with_a_doubled_population_on_rastrigin() -> None:
    # sigma0=0.3: the step size the seeds below were examined with.
    study = run(CmaEsSampler(seed=2, sigma0=0.3), rastrigin, 250)

    runs = {t[0]: t[2] for t in map(tags, study.trials) if t is not None}
    # 2-d: popsize 4 + floor(3 ln 2) = 6, then 12 after a restart. Offline, 10 of seeds
    # 0-19 restarted within 250 trials (after 145 to 247); seed 2 at trial 145, from a
    # local minimum of value 1.27.
    assert runs[0] == 6
    assert runs[1] == 12
    first_of_run_1 = min(t.number for t in study.trials if tags(t) and tags(t)[0] == 1)  # type: ignore[index]
    assert all(tags(t)[0] == 1 for t in study.trials[first_of_run_1:])  # type: ignore[index]


# Valid values ---------------------------------------------------------------------------


MIXED: dict[str, ht.Distribution] = {
    "lin": ht.Float(-2.0, 3.0),
    "log": ht.Float(1e-5, 1e-1, log=True),
    "stepped": ht.Float(0.0, 1.0, step=0.1),
    "units": ht.Int(16, 256, step=16),
    "batch": ht.Int(1, 1024, log=True),
    "flag": ht.Int(0, 1),
    "act": ht.Categorical(["relu", "gelu", "tanh"]),
    "fixed": ht.Float(0.5, 0.5),
}


def test_every_value_belongs_to_its_distribution() -> None:
    study = ht.create_study(sampler=CmaEsSampler(seed=1, sigma0=0.3))  # reaches the bounds
    for _ in range(80):
        trial = study.ask(MIXED)
        p = trial.params
        # The optimum sits on the bounds of several parameters.
        value = (p["lin"] - 3.0) ** 2 + math.log10(p["log"]) + p["stepped"] + p["units"] / 256
        study.tell(trial, value + math.log2(p["batch"]) / 10 + p["flag"])

    for trial in study.trials:
        assert set(trial.params) == set(MIXED)
        for name, value in trial.params.items():
            assert MIXED[name].contains(value), (name, value)
    assert study.best_params["lin"] > 2.5 and study.best_params["log"] < 1e-3


def test_log_scale_is_searched_uniformly_in_log_space() -> None:
    def objective(trial: ht.Trial) -> float:
        return abs(math.log10(trial.suggest_float("lr", 1e-6, 1.0, log=True)) + 3.0)

    study = run(CmaEsSampler(seed=0), objective, 60)

    assert 10**-3.2 < study.best_params["lr"] < 10**-2.8


# State rebuilt from the history ---------------------------------------------------------


def test_a_resumed_study_proposes_what_an_uninterrupted_run_would(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    first = ht.create_study(study_name="s", storage=url, sampler=CmaEsSampler(seed=3))
    first.optimize(sphere, n_trials=40, show_progress=False)
    resumed = ht.create_study(
        study_name="s", storage=url, sampler=CmaEsSampler(seed=3), load_if_exists=True
    )
    resumed.optimize(sphere, n_trials=40, show_progress=False)

    straight = run(CmaEsSampler(seed=3), sphere, 80)

    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]
    assert [tags(t) for t in resumed.trials] == [tags(t) for t in straight.trials]
    assert max(t[1] for t in map(tags, straight.trials) if t is not None) >= 5


def test_asynchronous_asks_differ_and_the_study_goes_on() -> None:
    space = {"x": ht.Float(-5.0, 5.0), "y": ht.Float(-5.0, 5.0)}
    sampler = CmaEsSampler(seed=0)
    study = ht.create_study(sampler=sampler)
    waiting = [study.ask(space) for _ in range(8)]  # popsize 6 in 2-d, and two extras

    points = {(t.params["x"], t.params["y"]) for t in waiting}
    assert len(points) == 8
    assert {tags(study.trials[t.number]) for t in waiting} == {(0, 0, 6)}

    def value(t: ht.Trial) -> float:
        return (t.params["x"] - 1.0) ** 2 + (t.params["y"] + 2.0) ** 2

    for trial in reversed(waiting):
        study.tell(trial, value(trial))
    for _ in range(60):
        batch = [study.ask(space) for _ in range(3)]
        for trial in batch[::-1]:
            study.tell(trial, value(trial))

    generations = [t[1] for t in map(tags, study.trials) if t is not None]
    assert max(generations) >= 8
    assert study.best_value < 0.05

    # A fresh sampler rebuilds the same state from the history alone.
    history = study.trials
    request = ProposalRequest(len(history), space, history, study.directions)
    assert CmaEsSampler(seed=0).propose(request) == sampler.propose(request)


def test_a_generation_skips_the_straggler_the_same_way_after_a_restart() -> None:
    space = {"x": ht.Float(-5.0, 5.0), "y": ht.Float(-5.0, 5.0)}
    sampler = CmaEsSampler(seed=4)
    study = ht.create_study(sampler=sampler)
    trials = [study.ask(space) for _ in range(7)]  # popsize 6 and one extra
    for trial in trials[1:]:  # trial 0 straggles: the generation uses 1-6
        study.tell(trial, trial.params["x"] ** 2 + trial.params["y"] ** 2)
    nxt = study.ask(space)
    assert study.trials[nxt.number].system_attrs["cmaes:skipped"] == [0]
    study.tell(trials[0], 0.0)  # now it finishes, and would rank first
    study.tell(nxt, 1.0)

    history = study.trials
    request = ProposalRequest(len(history), space, history, study.directions)
    assert CmaEsSampler(seed=4).propose(request) == sampler.propose(request)


def test_it_pickles_without_caches_and_proposes_the_same() -> None:
    sampler = CmaEsSampler(seed=7)
    study = run(sampler, sphere, 30)
    clone = pickle.loads(pickle.dumps(sampler))
    history = study.trials
    request = ProposalRequest(
        len(history), study.best_trial.distributions, history, study.directions
    )

    assert "_replays" not in sampler.__getstate__()
    assert clone.propose(request) == sampler.propose(request)


def test_a_sampler_reused_for_another_study_starts_over() -> None:
    sampler = CmaEsSampler(seed=5)
    run(sampler, sphere, 30)
    again = run(sampler, sphere, 30)
    fresh = run(CmaEsSampler(seed=5), sphere, 30)

    assert [t.params for t in again.trials] == [t.params for t in fresh.trials]


# Categoricals, define-by-run, constraints ----------------------------------------------


def test_categoricals_mostly_follow_the_best_trial() -> None:
    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", -3.0, 3.0)
        kind = trial.suggest_categorical("kind", ["a", "b", "c", "d"])
        return x**2 + {"a": 3.0, "b": 0.0, "c": 2.0, "d": 1.0}[kind]

    study = run(CmaEsSampler(seed=0), objective, 100)

    kinds = [t.params["kind"] for t in study.trials[50:]]
    assert study.best_params["kind"] == "b"
    assert 0.6 < kinds.count("b") / len(kinds) < 0.98  # about 0.8 + 0.2 / 4
    assert all(tags(t) is not None for t in study.trials[1:])


def test_conditional_parameters_outside_the_joint_space_are_drawn_at_random() -> None:
    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", -3.0, 3.0)
        if x > 0:
            return x + trial.suggest_float("extra", 0.0, 1.0)
        return x**2

    study = run(CmaEsSampler(seed=0), objective, 40)

    assert all(set(t.params) <= {"x", "extra"} for t in study.trials)
    assert all(0.0 <= t.params["extra"] <= 1.0 for t in study.trials if "extra" in t.params)
    assert set(CmaEsSampler(seed=0).infer_space(study.trials)) == {"x"}


def test_infeasible_trials_rank_after_feasible_ones() -> None:
    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", -3.0, 3.0)
        y = trial.suggest_float("y", -3.0, 3.0)
        trial.set_constraints([1.0 - x])  # feasible when x >= 1
        return x**2 + y**2

    study = run(CmaEsSampler(seed=0), objective, 120)
    feasible = [t for t in study.trials if t.feasible and t.value is not None]

    best = min(feasible, key=lambda t: t.value or 0.0)
    assert best.params["x"] < 1.2
    assert sum(t.feasible for t in study.trials[60:]) > 20


def test_failed_and_pruned_trials_count_as_worst() -> None:
    def objective(trial: ht.Trial) -> float:
        x = trial.suggest_float("x", -3.0, 3.0)
        y = trial.suggest_float("y", -3.0, 3.0)
        if x > 2.0:
            raise ValueError("diverged")
        if y > 2.0:
            raise ht.TrialPruned()
        return (x - 1.0) ** 2 + (y - 1.0) ** 2

    study = ht.create_study(sampler=CmaEsSampler(seed=0))
    study.optimize(objective, n_trials=80, catch=(ValueError,), show_progress=False)

    assert study.best_value < 0.05


# Errors ---------------------------------------------------------------------------------


def test_several_objectives_are_refused_with_a_pointer_to_the_alternatives() -> None:
    study = ht.create_study(sampler=CmaEsSampler(seed=0), directions=["minimize", "maximize"])

    with pytest.raises(ConfigurationError, match="evolution"):
        study.ask({"x": ht.Float(0.0, 1.0)})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma0": 0.0}, "sigma0=0.0"),
        ({"sigma0": 1.5}, "sigma0=1.5"),
        ({"sigma0": float("nan")}, "sigma0=nan"),
        ({"sigma0": True}, "sigma0=True"),
        ({"popsize": 1}, "popsize=1"),
        ({"popsize": 4.0}, "popsize=4.0"),
        ({"ipop": 1}, "ipop=1"),
        ({"margin": "yes"}, "margin='yes'"),
        ({"x0": [0.5]}, r"x0=\[0.5\]"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CmaEsSampler(**kwargs)


def test_x0_sigma0_and_popsize_are_used() -> None:
    sampler = CmaEsSampler(seed=0, x0={"x0": 2.5, "x1": 0.5}, sigma0=0.01, popsize=5)
    study = run(sampler, sphere, 5)

    assert all(abs(t.params["x0"] - 2.5) < 0.5 for t in study.trials[1:])
    assert {tags(t) for t in study.trials[1:]} == {(0, 0, 5)}
    assert repr(sampler).startswith("CmaEsSampler(seed=0, x0={'x0': 2.5, 'x1': 0.5}")
