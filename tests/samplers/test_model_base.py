"""The model-based sampler base: cached history arrays, union space, design, dedup."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hptune as ht
from hptune.samplers import ProposalRequest
from hptune.samplers._encoding import COMPLETE, FAIL, PRUNED, Observations, union_space
from hptune.samplers._model import ModelBasedSampler
from hptune.trial import StudyDirection

SPACE = {"x": ht.Float(0.0, 1.0), "n": ht.Int(1, 4), "c": ht.Categorical(["a", "b"])}


class Recorder(ModelBasedSampler):
    """Proposes random points and keeps the observations it was given."""

    def __init__(
        self, seed: int = 0, n_startup_trials: int = 0, random_fraction: float = 0.0
    ) -> None:
        super().__init__(seed, n_startup_trials=n_startup_trials, random_fraction=random_fraction)
        self.seen: list[Observations] = []

    def _candidates(
        self, obs: Observations, rng: np.random.Generator, directions: Any
    ) -> np.ndarray:
        self.seen.append(obs)
        return rng.random((3, len(obs.names)))


class Constant(ModelBasedSampler):
    """Always ranks the same point first: the base must skip it once taken."""

    def _candidates(
        self, obs: Observations, rng: np.random.Generator, directions: Any
    ) -> np.ndarray:
        return np.zeros((1, len(obs.names)))


def request_for(study: ht.Study, number: int | None = None) -> ProposalRequest:
    history = study.trials
    number = len(history) if number is None else number
    others = [t for t in history if t.number != number]
    return ProposalRequest(number, SPACE, others, study.directions)


def fresh_observations(study: ht.Study) -> Observations:
    return Recorder().observations(request_for(study))


def assert_same(a: Observations, b: Observations) -> None:
    for field in ("x", "y", "state", "step", "numbers", "pending"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["ok", "fail", "prune"])), max_size=30)
)
def test_cached_observations_equal_a_fresh_encoding(ops: list[tuple[int, str]]) -> None:
    """Trials finishing in any order: the cache gives what encoding from scratch gives."""
    study = ht.create_study(sampler="random", seed=0)
    cached = Recorder()
    running: list[ht.Trial] = []
    for pick, outcome in ops:
        if pick == 0 or not running:
            running.append(study.ask(SPACE))
        else:
            trial = running.pop(pick % len(running))
            if outcome == "ok":
                study.tell(trial, trial.params["x"])
            elif outcome == "fail":
                study.tell(trial, state=ht.TrialState.FAIL)
            else:
                trial.report(0.5, step=3)
                study.tell(trial, state=ht.TrialState.PRUNED)
        assert_same(cached.observations(request_for(study)), fresh_observations(study))


def test_observations_encode_values_states_and_running_trials() -> None:
    study = ht.create_study(direction="maximize", sampler="random", seed=0)
    done = study.ask(SPACE)
    study.tell(done, 2.0)
    failed = study.ask(SPACE)
    study.tell(failed, state=ht.TrialState.FAIL)
    pruned = study.ask(SPACE)
    pruned.report(1.5, step=7)
    study.tell(pruned, state=ht.TrialState.PRUNED)
    running = study.ask(SPACE)
    obs = Recorder().observations(request_for(study))
    assert obs.names == ("c", "n", "x")
    assert obs.state.tolist() == [COMPLETE, FAIL, PRUNED]
    assert obs.y[0, 0] == -2.0 and math.isnan(obs.y[1, 0]) and obs.y[2, 0] == -1.5
    assert obs.step[2] == 7 and math.isnan(obs.step[0])
    assert obs.cardinality.tolist() == [2, 4, 0]
    assert obs.categorical.tolist() == [True, False, False]
    assert obs.pending.shape == (1, 3)
    assert obs.pending[0, 2] == pytest.approx(running.params["x"])
    assert not obs.x.flags.writeable


def test_a_sampler_reused_for_another_study_forgets_the_first() -> None:
    sampler = Recorder()
    first = ht.create_study(sampler="random", seed=1)
    for _ in range(5):
        trial = first.ask(SPACE)
        first.tell(trial, 1.0)
    assert len(sampler.observations(request_for(first)).x) == 5
    second = ht.create_study(sampler="random", seed=2)
    trial = second.ask(SPACE)
    second.tell(trial, 1.0)
    obs = sampler.observations(request_for(second))
    assert_same(obs, fresh_observations(second))
    assert len(obs.x) == 1


def test_union_space_models_conditional_parameters_and_takes_the_latest_range() -> None:
    study = ht.create_study(sampler="random", seed=0)

    def objective(trial: ht.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["svm", "tree"])
        if kind == "svm":
            return trial.suggest_float("C", 1e-3, 1e3, log=True)
        return float(trial.suggest_int("depth", 1, 8 + trial.number))

    study.optimize(objective, n_trials=30, show_progress=False)
    space = union_space(study.trials)
    assert list(space) == ["C", "depth", "kind"]
    last_tree = max(t.number for t in study.trials if t.params["kind"] == "tree")
    assert space["depth"] == ht.Int(1, 8 + last_tree)
    sampler = Recorder(n_startup_trials=5)
    assert sampler.infer_space(study.trials) == space
    # With the union as joint space, every later trial gets a modelled proposal.
    study.sampler = sampler
    study.optimize(objective, n_trials=3, show_progress=False)
    assert sampler.seen and sampler.seen[-1].names == ("C", "depth", "kind")
    obs = sampler.seen[-1]
    inactive = np.isnan(obs.x)
    assert inactive[:, 0].any() and inactive[:, 1].any() and not inactive[:, 2].any()


def test_initial_design_is_sobol_then_the_model() -> None:
    sampler = Recorder(n_startup_trials=4)
    study = ht.create_study(sampler=sampler)
    for _ in range(6):
        trial = study.ask(SPACE)
        study.tell(trial, trial.params["x"])
    assert len(sampler.seen) == 2  # trials 4 and 5
    xs = [t.params["x"] for t in study.trials[:4]]
    # The first four Sobol' points put one point in each quarter of each axis.
    assert sorted(int(x * 4) for x in xs) == [0, 1, 2, 3]


def test_duplicates_are_skipped_until_the_space_is_exhausted() -> None:
    space = {"a": ht.Int(0, 2), "b": ht.Categorical([1, 2])}
    study = ht.create_study(sampler=Constant(seed=0, n_startup_trials=0))
    for _ in range(6):
        trial = study.ask(space)
        study.tell(trial, 1.0)
    points = {(t.params["a"], t.params["b"]) for t in study.trials}
    assert len(points) == 6  # every point once
    trial = study.ask(space)  # nothing new left: a repeat rather than a hang
    assert (trial.params["a"], trial.params["b"]) in points


def test_running_trials_are_not_proposed_again() -> None:
    space = {"a": ht.Int(0, 1), "b": ht.Int(0, 1)}
    study = ht.create_study(sampler=Constant(seed=0, n_startup_trials=0))
    trials = [study.ask(space) for _ in range(4)]
    assert len({(t.params["a"], t.params["b"]) for t in trials}) == 4


def test_proposals_depend_on_seed_and_history_only() -> None:
    def run(sampler: ModelBasedSampler) -> list[dict[str, Any]]:
        study = ht.create_study(sampler=sampler)
        for _ in range(12):
            trial = study.ask(SPACE)
            study.tell(trial, trial.params["x"] + trial.params["n"])
        return [t.params for t in study.trials]

    original = Recorder(seed=3, n_startup_trials=4)
    assert run(original) == run(pickle.loads(pickle.dumps(original)))
    assert run(Recorder(seed=3, n_startup_trials=4)) != run(Recorder(seed=4, n_startup_trials=4))


def test_bad_startup_count_is_named() -> None:
    with pytest.raises(ht.ConfigurationError, match="n_startup_trials=-1"):
        Recorder(n_startup_trials=-1)


def test_directions_reach_the_model() -> None:
    seen: list[tuple[StudyDirection, ...]] = []

    class Spy(Recorder):
        def _candidates(
            self, obs: Observations, rng: np.random.Generator, directions: Any
        ) -> np.ndarray:
            seen.append(directions)
            return super()._candidates(obs, rng, directions)

    study = ht.create_study(directions=["minimize", "maximize"], sampler=Spy())
    trial = study.ask(SPACE)
    study.tell(trial, [1.0, 2.0])
    study.ask(SPACE)
    assert seen[-1] == (StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE)


def _rung_objective(trial: ht.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    loss = 0.0
    for epoch in range(1, 10):
        loss = x + 1.0 / epoch
        trial.report(loss, step=epoch)
        if trial.should_prune():
            raise ht.TrialPruned()
    return loss


class ModelCalls(Recorder):
    """Records, per trial number, whether the model proposed it."""

    def __init__(self, random_fraction: float) -> None:
        super().__init__(n_startup_trials=4, random_fraction=random_fraction)
        self.by_model: dict[int, bool] = {}

    def propose(self, request: ProposalRequest) -> Any:
        calls = len(self.seen)
        proposal = super().propose(request)
        self.by_model[request.number] = len(self.seen) > calls
        return proposal


@pytest.mark.parametrize("fraction", [0.0, 1 / 3, 1.0])
def test_with_a_rung_pruner_a_fraction_of_proposals_come_from_the_design(fraction: float) -> None:
    sampler = ModelCalls(fraction)
    study = ht.create_study(sampler=sampler, pruner="asha")
    study.optimize(_rung_objective, n_trials=70, show_progress=False)
    late = [by_model for number, by_model in sampler.by_model.items() if number >= 10]
    share = 1.0 - sum(late) / len(late)
    # 60 draws at 1/3: the share lies in [0.15, 0.55] with probability > 0.999.
    assert share == fraction if fraction in (0.0, 1.0) else 0.15 <= share <= 0.55
    # Without a pruner the model proposes every trial after the start.
    plain = ModelCalls(1.0)
    ht.create_study(sampler=plain).optimize(_rung_objective, n_trials=20, show_progress=False)
    assert all(by_model for number, by_model in plain.by_model.items() if number >= 5)


def test_random_fraction_out_of_range_names_the_parameter() -> None:
    with pytest.raises(ht.ConfigurationError, match=r"random_fraction=1\.5"):
        ht.TPESampler(random_fraction=1.5)
    with pytest.raises(ht.ConfigurationError, match=r"random_fraction=-0\.1"):
        ht.GPSampler(random_fraction=-0.1)


def test_with_a_rung_pruner_the_model_sees_the_highest_budget_enough_trials_reached() -> None:
    sampler = Recorder(n_startup_trials=4)
    study = ht.create_study(sampler=sampler, pruner="asha")
    study.optimize(_rung_objective, n_trials=30, show_progress=False)
    obs = sampler.seen[-1]
    # Rungs at 1, 3, 9; "x" is one parameter, so 4 trials (n_startup_trials) are enough.
    reached = [t for t in study.trials[:-1] if t.last_step is not None]
    at = {b: sum(1 for t in reached if t.last_step >= b) for b in (1.0, 3.0, 9.0)}
    expected = max(b for b, n in at.items() if n >= 4)
    assert obs.budget == expected
    for row, number in enumerate(obs.numbers):
        trial = study.trials[number]
        if trial.last_step >= expected:
            assert obs.state[row] == COMPLETE
            first = min(s for s in trial.intermediate_values if s >= expected)
            assert obs.y[row, 0] == trial.intermediate_values[first]
        else:
            assert obs.state[row] == PRUNED
    # Without a pruner there is no budget.
    assert Recorder().observations(request_for(study)).budget is None


def test_samplers_reading_one_history_encode_each_finished_trial_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hptune.samplers import _encoding

    study = ht.create_study(sampler="random", seed=0)
    for _ in range(30):
        trial = study.ask(SPACE)
        study.tell(trial, float(trial.params["x"]))
    view = study.storage.history(study.study_id).advance(study.storage, study.study_id)
    request = ProposalRequest(30, SPACE, view, study.directions)
    encoded: list[int] = []
    original = _encoding.encode_params

    def counting(trial: Any, *args: Any) -> Any:
        encoded.append(trial.number)
        return original(trial, *args)

    monkeypatch.setattr(_encoding, "encode_params", counting)
    ht.TPESampler(seed=1).propose(request)
    assert sorted(encoded) == list(range(30))
    ht.GPSampler(seed=1).propose(request)  # another sampler, the same history: no re-encoding
    ht.TPESampler(seed=2).propose(request)
    assert sorted(encoded) == list(range(30))
    ht.TPESampler(seed=1).propose(ProposalRequest(30, SPACE, list(view), study.directions))
    assert len(encoded) == 60  # a plain list is a history of its own
