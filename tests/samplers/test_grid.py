"""GridSampler: every point exactly once (with several workers too), then stop."""

from __future__ import annotations

import collections
import itertools
import threading
from typing import Any

import numpy as np
import pytest

import hptune as ht
from hptune.samplers import get_sampler

SPACE: dict[str, ht.Distribution] = {
    "depth": ht.Int(1, 3),
    "dropout": ht.Float(0.0, 0.5, step=0.25),
    "optimizer": ht.Categorical(["adam", "sgd"]),
}
# The product in sorted name order, the last name varying fastest.
POINTS = [
    {"depth": d, "dropout": p, "optimizer": o}
    for d, p, o in itertools.product([1, 2, 3], [0.0, 0.25, 0.5], ["adam", "sgd"])
]


def objective(trial: ht.Trial) -> float:
    depth = trial.suggest_int("depth", 1, 3)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.25)
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd"])
    return depth + dropout + (optimizer == "sgd")


def point_of(trial: ht.FrozenTrial) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(trial.params.items()))


def assert_each_point_once(trials: list[ht.FrozenTrial], points: list[dict[str, Any]]) -> None:
    complete = [t for t in trials if t.state is ht.TrialState.COMPLETE]
    counts = collections.Counter(point_of(t) for t in complete)
    assert sorted(counts) == sorted(tuple(sorted(p.items())) for p in points)
    assert set(counts.values()) == {1}


# Coverage and stopping --------------------------------------------------------------------


@pytest.mark.parametrize("n_jobs", [1, 4])
def test_every_point_once_then_the_study_stops(n_jobs: int) -> None:
    study = ht.create_study(sampler=ht.GridSampler(SPACE))

    reason = study.optimize(objective, n_jobs=n_jobs, show_progress=False)

    assert reason.rule == "exhausted"
    assert "18 points" in reason.message
    assert len(study.trials) == 18  # one study object: no trial lost to a claim race
    assert_each_point_once(study.trials, POINTS)
    claims = [t.system_attrs["claim"] for t in study.trials]
    assert len(set(claims)) == 18 and all(c.startswith("grid:") for c in claims)
    with pytest.raises(ht.SearchSpaceExhausted, match="grid of 18 points"):
        study.ask()
    assert len(study.trials) == 18
    assert study.optimize(objective, show_progress=False).rule == "exhausted"
    assert len(study.trials) == 18


def test_unshuffled_grid_visits_points_in_product_order() -> None:
    study = ht.create_study(sampler=ht.GridSampler(SPACE))
    study.optimize(objective, show_progress=False)

    assert [t.params for t in study.trials] == POINTS


def test_every_point_once_with_sqlite_storage(tmp_path: Any) -> None:
    pytest.importorskip("hptune.storage.sql", reason="the SQL storage is not written yet")
    url = "sqlite:///" + str(tmp_path / "x.db")
    study = ht.create_study(storage=url, sampler=ht.GridSampler(SPACE))

    reason = study.optimize(objective, n_jobs=4, show_progress=False)

    assert reason.rule == "exhausted"
    assert_each_point_once(ht.load_study(study.name, url).trials, POINTS)


def test_workers_of_separate_study_objects_share_the_grid_through_claims() -> None:
    # Four handles on one storage, each with its own ask lock: proposals really race and
    # only the storage's claims keep points apart. Two handles shuffle, so they disagree
    # on the visit order, not on which points are taken.
    storage = ht.InMemoryStorage()
    ht.create_study("shared", storage)
    samplers = [
        ht.GridSampler(SPACE),
        ht.GridSampler(SPACE),
        ht.GridSampler(SPACE, shuffle=True, seed=1),
        ht.GridSampler(SPACE, shuffle=True, seed=2),
    ]
    studies = [ht.load_study("shared", storage, sampler=s) for s in samplers]
    reasons: list[ht.StopReason] = []
    threads = [
        threading.Thread(target=lambda s=s: reasons.append(s.optimize(objective, n_jobs=2,
                                                                      show_progress=False)))
        for s in studies
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.rule for r in reasons] == ["exhausted"] * 4
    trials = studies[0].trials
    assert_each_point_once(trials, POINTS)
    # A trial that lost every race fails as "search space exhausted" and holds no point.
    # (A trial left RUNNING without parameters is the study.ask bug shown below.)
    for trial in trials:
        if trial.state is not ht.TrialState.COMPLETE:
            assert trial.params == {}
            assert "claim" not in trial.system_attrs


class _RacingStorage(ht.InMemoryStorage):
    """Let another study handle start a whole trial just before each create_trial."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: ht.Study | None = None

    def create_trial(self, *args: Any, **kwargs: Any) -> ht.FrozenTrial:
        rival, self.rival = self.rival, None
        if rival is not None:
            rival.tell(rival.ask(), 0.0)
        return super().create_trial(*args, **kwargs)


def test_no_trial_is_left_running_when_the_grid_runs_out_during_ask() -> None:
    storage = _RacingStorage()
    space = {"x": ht.Int(0, 0)}  # a single point
    study = ht.create_study("race", storage, sampler=ht.GridSampler(space))
    storage.rival = ht.load_study("race", storage, sampler=ht.GridSampler(space))

    with pytest.raises(ht.SearchSpaceExhausted):
        study.ask()

    assert [t.state for t in study.trials] == [ht.TrialState.COMPLETE, ht.TrialState.FAIL]


def test_ask_with_a_space_covers_the_grid_built_from_it() -> None:
    study = ht.create_study(sampler="grid", seed=0)
    seen = []
    while True:
        try:
            trial = study.ask(SPACE)
        except ht.SearchSpaceExhausted:
            break
        seen.append(trial.params)
        study.tell(trial, 0.0)

    assert seen == POINTS


def test_failed_points_count_as_taken() -> None:
    def flaky(trial: ht.Trial) -> float:
        value = objective(trial)
        if trial.params["depth"] == 2:
            raise RuntimeError("out of memory")
        return value

    study = ht.create_study(sampler=ht.GridSampler(SPACE))
    assert study.optimize(flaky, show_progress=False).rule == "exhausted"

    assert len(study.trials) == 18
    assert sum(t.state is ht.TrialState.FAIL for t in study.trials) == 6


# Values of the grid ---------------------------------------------------------------------


def test_explicit_value_lists() -> None:
    sampler = ht.GridSampler({"lr": [1e-3, 1e-2], "depth": ht.Int(1, 3), "w": np.array([0.5])})
    assert sampler.grid_size == 6
    assert sampler.infer_space([])["lr"] == ht.Categorical([1e-3, 1e-2])
    study = ht.create_study(sampler=sampler)

    def objective(trial: ht.Trial) -> float:
        # "lr" suggested with another distribution than the list's: it gets grid values.
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        return lr * trial.suggest_int("depth", 1, 3) * trial.suggest_categorical("w", [0.5])

    assert study.optimize(objective, show_progress=False).rule == "exhausted"
    assert [(t.params["depth"], t.params["lr"]) for t in study.trials] == [
        (1, 1e-3), (1, 1e-2), (2, 1e-3), (2, 1e-2), (3, 1e-3), (3, 1e-2),
    ]  # fmt: skip


def test_a_grid_value_outside_the_suggested_distribution_is_an_error() -> None:
    study = ht.create_study(sampler=ht.GridSampler({"lr": [0.5, 5.0]}))
    first = study.ask()
    assert first.suggest_float("lr", 0.0, 1.0) == 0.5
    second = study.ask()

    with pytest.raises(ht.InvalidSpaceError, match=r"'lr'.*5\.0"):
        second.suggest_float("lr", 0.0, 1.0)


def test_continuous_float_needs_n_points() -> None:
    with pytest.raises(ht.InvalidSpaceError, match=r"'lr'.*step.*n_points.*explicit values"):
        ht.GridSampler({"lr": ht.Float(1e-4, 1e-1, log=True)})


@pytest.mark.parametrize(
    ("distribution", "n_points", "expected"),
    [
        (ht.Float(0.0, 1.0), 5, [0.0, 0.25, 0.5, 0.75, 1.0]),
        (ht.Float(0.0, 1.0), 11, [i / 10 for i in range(11)]),
        (ht.Float(1e-4, 1.0, log=True), 5, [1e-4, 1e-3, 1e-2, 1e-1, 1.0]),
        (ht.Float(2.0, 4.0), 1, [3.0]),
        (ht.Float(0.0, 1.0, step=0.5), 7, [0.0, 0.5, 1.0]),  # n_points is for continuous only
        (ht.Int(1, 3), 7, [1, 2, 3]),
    ],
)
def test_n_points_spaces_a_continuous_float_in_its_scale(
    distribution: ht.Distribution, n_points: int, expected: list[float]
) -> None:
    study = ht.create_study(sampler=ht.GridSampler({"x": distribution}, n_points=n_points))
    study.optimize(lambda t: t.suggest("x", distribution), show_progress=False)

    assert [t.params["x"] for t in study.trials] == expected


def test_huge_grids_are_not_materialized() -> None:
    space = {name: ht.Int(0, 10**6) for name in "abcd"}  # 10^24 points
    sampler = ht.GridSampler(space, shuffle=True, seed=0)
    assert sampler.grid_size == (10**6 + 1) ** 4
    study = ht.create_study(sampler=sampler)

    def objective(trial: ht.Trial) -> float:
        return float(sum(trial.suggest_int(name, 0, 10**6) for name in "abcd"))

    study.optimize(objective, n_trials=20, show_progress=False)
    points = [point_of(t) for t in study.trials]
    assert len(set(points)) == 20


# Order --------------------------------------------------------------------------------------


def _visit_order(sampler: ht.GridSampler, n_trials: int | None = None) -> list[dict[str, Any]]:
    study = ht.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n_trials, show_progress=False)
    return [t.params for t in study.trials]


def test_shuffle_is_a_seeded_permutation() -> None:
    first = _visit_order(ht.GridSampler(SPACE, shuffle=True, seed=7))
    again = _visit_order(ht.GridSampler(SPACE, shuffle=True, seed=7))
    other = _visit_order(ht.GridSampler(SPACE, shuffle=True, seed=8))

    assert first == again
    assert first != POINTS and first != other  # fixed seeds: no chance involved
    assert sorted(map(str, first)) == sorted(map(str, POINTS))
    assert sorted(map(str, other)) == sorted(map(str, POINTS))


def test_shuffle_of_a_grid_too_large_to_permute_in_memory_is_seeded() -> None:
    space = {"a": ht.Int(0, 2047), "b": ht.Int(0, 1023)}  # 2^21 points: affine permutation

    def objective(trial: ht.Trial) -> float:
        return trial.suggest_int("a", 0, 2047) + trial.suggest_int("b", 0, 1023)

    def order(seed: int) -> list[dict[str, Any]]:
        study = ht.create_study(sampler=ht.GridSampler(space, shuffle=True, seed=seed))
        study.optimize(objective, n_trials=30, show_progress=False)
        return [t.params for t in study.trials]

    assert order(3) == order(3)
    assert order(3) != order(4)
    assert len({str(p) for p in order(3)}) == 30
    assert order(3)[:2] != [{"a": 0, "b": 0}, {"a": 0, "b": 1}]


# Discovered grids (define-by-run, no space given) ------------------------------------------


def test_discovered_grid_covers_every_point_then_stops() -> None:
    study = ht.create_study(sampler="grid", seed=0)

    reason = study.optimize(objective, show_progress=False)

    assert reason.rule == "exhausted"
    assert study.trials[0].params == POINTS[0]  # the discovery trial: first values
    assert "claim" not in study.trials[0].system_attrs
    assert len(study.trials) == 18
    assert_each_point_once(study.trials, POINTS)


def test_discovered_grid_with_a_continuous_float_stops_with_a_clear_error() -> None:
    study = ht.create_study(sampler="grid", seed=0)

    with pytest.raises(ht.InvalidSpaceError, match=r"'x'.*continuous.*n_points"):
        study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), show_progress=False)
    assert [t.params for t in study.trials] == [{"x": 0.5}]  # the discovery trial


def test_discovered_grid_uses_n_points() -> None:
    study = ht.create_study(sampler=ht.GridSampler(n_points=3))
    study.optimize(lambda t: t.suggest_float("x", 1.0, 100.0, log=True), show_progress=False)

    assert [t.params["x"] for t in study.trials] == [1.0, 10.0, 100.0]


def test_discovered_grid_rejects_a_parameter_with_two_distributions() -> None:
    study = ht.create_study(sampler="grid", seed=0)
    trial = study.ask()
    trial.suggest_int("units", 1, 3)
    study.tell(trial, 0.0)
    trial = study.ask()
    trial.suggest_int("units", 1, 5)
    study.tell(trial, 0.0)

    with pytest.raises(ht.InvalidSpaceError, match=r"'units'.*trial 0.*trial 1"):
        study.ask()


# Enqueued and conditional parameters --------------------------------------------------------


@pytest.mark.parametrize("declarative", [True, False])
def test_an_enqueued_point_is_not_repeated(declarative: bool) -> None:
    sampler = ht.GridSampler(SPACE) if declarative else ht.GridSampler()
    study = ht.create_study(sampler=sampler)
    study.enqueue_trial(POINTS[4])

    assert study.optimize(objective, show_progress=False).rule == "exhausted"

    assert study.trials[0].params == POINTS[4]
    assert len(study.trials) == 18
    assert_each_point_once(study.trials, POINTS)


def test_a_waiting_enqueued_point_is_not_proposed() -> None:
    study = ht.create_study(sampler=ht.GridSampler(SPACE))
    trial = study.ask()  # point 0
    study.enqueue_trial(POINTS[1])

    study.tell(trial, objective(trial))
    assert study.optimize(objective, show_progress=False).rule == "exhausted"

    assert len(study.trials) == 18
    assert_each_point_once(study.trials, POINTS)


def test_a_partly_enqueued_trial_gets_grid_values_for_the_rest() -> None:
    study = ht.create_study(sampler=ht.GridSampler(SPACE))
    study.enqueue_trial({"depth": 3})

    assert study.optimize(objective, show_progress=False).rule == "exhausted"

    assert study.trials[0].params == {"depth": 3, "dropout": 0.0, "optimizer": "adam"}
    assert_each_point_once(study.trials, POINTS)


def test_parameters_outside_the_grid_get_their_first_value_or_midpoint() -> None:
    study = ht.create_study(sampler=ht.GridSampler({"optimizer": ["adam", "sgd"]}))

    def objective(trial: ht.Trial) -> float:
        if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "sgd":
            trial.suggest_float("momentum", 0.5, 0.9)
            trial.suggest_float("nesterov_lr", 1e-4, 1e-2, log=True)
        trial.suggest_int("layers", 2, 5)
        trial.suggest_categorical("act", ["relu", "gelu"])
        return 0.0

    assert study.optimize(objective, show_progress=False).rule == "exhausted"

    assert [t.params for t in study.trials] == [
        {"optimizer": "adam", "layers": 2, "act": "relu"},
        {"optimizer": "sgd", "momentum": 0.7, "nesterov_lr": pytest.approx(1e-3), "layers": 2,
         "act": "relu"},
    ]  # fmt: skip


def test_two_grids_in_one_study_do_not_block_each_other() -> None:
    storage = ht.InMemoryStorage()
    small = ht.create_study("two", storage, sampler=ht.GridSampler({"x": [1, 2]}))
    small.optimize(lambda t: t.suggest_categorical("x", [1, 2, 3]), show_progress=False)
    large = ht.load_study("two", storage, sampler=ht.GridSampler({"x": [1, 2, 3]}))

    assert large.optimize(lambda t: t.suggest_categorical("x", [1, 2, 3]),
                          show_progress=False).rule == "exhausted"  # fmt: skip

    # The second grid's keys are its own; the points the first grid ran are taken by value.
    assert [t.params["x"] for t in large.trials] == [1, 2, 3]
    assert len({t.system_attrs["claim"] for t in large.trials}) == 3


def test_ask_with_parameters_the_grid_lacks_is_an_error() -> None:
    study = ht.create_study(sampler=ht.GridSampler({"x": [1, 2]}))

    with pytest.raises(ht.InvalidSpaceError, match=r"\['y'\] are not in the grid \['x'\]"):
        study.ask({"x": ht.Categorical([1, 2]), "y": ht.Int(0, 3)})


# Construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"space": {}}, r"non-empty dict.*pass None"),
        ({"space": [("x", [1])]}, r"non-empty dict"),
        ({"space": {"x": []}}, r"'x'.*empty"),
        ({"space": {"x": [1, 1]}}, r"'x'.*distinct"),
        ({"space": {"x": [object()]}}, r"'x'.*plain JSON"),
        ({"space": {"x": "abc"}}, r"'x'.*list of values, got 'abc'"),
        ({"space": {"x": 3}}, r"'x'.*got 3"),
        ({"space": {"": [1]}}, r"non-empty strings"),
        ({"space": {"x": {"type": "int", "low": 3, "high": 1}}}, r"'x'.*low must be <= high"),
        ({"space": {"x": ht.Float(0.0, 1.0)}}, r"'x'.*continuous.*n_points"),
        ({"n_points": 0}, r"n_points must be an integer >= 1.*n_points=0"),
        ({"n_points": 2.5}, r"n_points=2\.5"),
        ({"n_points": True}, r"n_points=True"),
        ({"shuffle": "yes"}, r"shuffle must be True or False, got shuffle='yes'"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ht.InvalidSpaceError, match=match):
        ht.GridSampler(**kwargs)


def test_the_registry_builds_a_seeded_discovering_grid() -> None:
    sampler = get_sampler("grid", seed=5)

    assert isinstance(sampler, ht.GridSampler)
    assert sampler.seed == 5 and sampler.space is None and sampler.grid_size is None
    assert "GridSampler(space=None, seed=5" in repr(sampler)
