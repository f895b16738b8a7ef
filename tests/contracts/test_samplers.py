"""The sampler contract, run against every sampler in the registry.

Iterates over ``SAMPLER_NAMES``, so a sampler added to the registry is covered at once:

- the same seed gives the same trials (define-by-run and declarative);
- every proposal lies inside its distribution, for every kind of distribution, and in
  conditional spaces;
- no finished or running configuration is proposed again while the space has others
  (samplers that draw independently at random are exempt, and say so);
- failed and pruned trials in the history are handled;
- several objectives are handled, or refused with a ConfigurationError naming them;
- a fresh sampler object given the same history proposes what the one that ran the
  study proposes: the state lives in the history, not in the object.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import hptune as ht
from hptune.samplers import SAMPLER_NAMES, ProposalRequest, Sampler, get_sampler
from hptune.study import Study

SPACE: dict[str, ht.Distribution] = {
    "lr": ht.Float(1e-4, 1e-1, step=1e-4),
    "depth": ht.Int(1, 8),
    "width": ht.Int(16, 1024, log=True),
    "optimizer": ht.Categorical(["adam", "sgd", "rmsprop"]),
}
N_TRIALS = 12


def objective(trial: ht.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-4, 1e-1, step=1e-4)
    depth = trial.suggest_int("depth", 1, 8)
    width = trial.suggest_int("width", 16, 1024, log=True)
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"])
    if optimizer == "sgd":  # a conditional parameter
        trial.suggest_float("momentum", 0.0, 0.9, step=0.3)
    return (lr - 0.01) ** 2 + (depth - 3) ** 2 + width / 1024


def run_define_by_run(name: str, seed: int) -> list[dict[str, Any]]:
    study = ht.create_study(sampler=name, seed=seed)
    study.optimize(objective, n_trials=N_TRIALS, show_progress=False)
    return [t.params for t in study.trials]


def run_declarative(name: str, seed: int) -> list[dict[str, Any]]:
    study = ht.create_study(sampler=name, seed=seed)
    for _ in range(N_TRIALS):
        trial = study.ask(SPACE)
        study.tell(trial, objective(trial))
    return [t.params for t in study.trials]


def test_the_registry_names_are_complete() -> None:
    with pytest.raises(ht.ConfigurationError) as info:
        get_sampler("no-such-sampler")
    listed = str(info.value).split("valid names:")[1]

    assert sorted(SAMPLER_NAMES) == sorted(n.strip(" '.") for n in listed.split(","))
    for name in SAMPLER_NAMES:
        assert isinstance(get_sampler(name, seed=0), ht.Sampler)


@pytest.mark.parametrize("name", SAMPLER_NAMES)
@pytest.mark.parametrize("run", [run_define_by_run, run_declarative])
def test_same_seed_gives_the_same_trials(name: str, run: Any) -> None:
    first = run(name, seed=2024)
    second = run(name, seed=2024)

    assert len(first) == N_TRIALS
    assert first == second
    for params in first:
        for key, dist in SPACE.items():
            assert dist.contains(params[key])


# Every kind of distribution the space module has.
KINDS: dict[str, ht.Distribution] = {
    "float": ht.Float(-2.0, 3.0),
    "float_log": ht.Float(1e-4, 1.0, log=True),
    "float_step": ht.Float(0.0, 1.0, step=0.25),
    "int": ht.Int(-3, 7),
    "int_log": ht.Int(1, 64, log=True),
    "int_step": ht.Int(0, 20, step=5),
    "categorical": ht.Categorical(["a", 1, 2.5, None, True]),
}

# Samplers whose trial n gets a point fixed by the seed and n alone, whatever the history
# holds (that is what makes them the same in one process or in many), may repeat.
INDEPENDENT = {"random", "qmc"}


def make(name: str, seed: int = 7) -> Sampler:
    if name == "grid":  # continuous parameters need a number of grid points
        return ht.GridSampler(seed=seed, n_points=4)
    return get_sampler(name, seed=seed)


def kinds_value(params: dict[str, Any]) -> float:
    numeric = [v for k, v in params.items() if k != "categorical"]
    return float(sum(float(v) ** 2 for v in numeric)) + (params["categorical"] == "a")


def view_of(study: Study) -> Any:
    """The study's history as samplers receive it (a view of the cached history)."""
    return study.storage.history(study.study_id).advance(study.storage, study.study_id)


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_proposals_lie_inside_every_kind_of_distribution(name: str) -> None:
    study = ht.create_study(sampler=make(name))
    for _ in range(25):
        trial = study.ask(KINDS)
        for key, dist in KINDS.items():
            assert dist.contains(trial.params[key]), (key, trial.params[key])
        study.tell(trial, kinds_value(trial.params))


def conditional(trial: ht.Trial) -> float:
    family = trial.suggest_categorical("family", ["linear", "tree", "net"])
    if family == "linear":
        return trial.suggest_float("alpha", 1e-5, 1.0, log=True)
    if family == "tree":
        return 1.0 / trial.suggest_int("depth", 1, 12)
    width = trial.suggest_int("width", 8, 256, log=True)
    return width / 256 + trial.suggest_float("dropout", 0.0, 0.5)


BRANCHES = {
    "linear": {"alpha": ht.Float(1e-5, 1.0, log=True)},
    "tree": {"depth": ht.Int(1, 12)},
    "net": {"width": ht.Int(8, 256, log=True), "dropout": ht.Float(0.0, 0.5)},
}


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_conditional_spaces_get_the_parameters_of_their_branch(name: str) -> None:
    study = ht.create_study(sampler=make(name))
    study.optimize(conditional, n_trials=30, show_progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [ht.TrialState.COMPLETE] * 30, trials[-1].fail_reason
    for t in trials:
        branch = BRANCHES[t.params["family"]]
        assert set(t.params) == {"family", *branch}
        for key, dist in branch.items():
            assert dist.contains(t.params[key])


# 24 configurations: enough room that a sampler never needs to repeat in 16 trials.
FINITE = {"n": ht.Int(0, 5), "c": ht.Categorical(["a", "b", "c", "d"])}


def finite_value(params: dict[str, Any]) -> float:
    return float((params["n"] - 2) ** 2 + "abcd".index(params["c"]))


@pytest.mark.parametrize("name", sorted(set(SAMPLER_NAMES) - INDEPENDENT))
def test_no_finished_configuration_is_proposed_again(name: str) -> None:
    study = ht.create_study(sampler=make(name))
    seen = []
    for _ in range(16):
        trial = study.ask(FINITE)
        seen.append((trial.params["n"], trial.params["c"]))
        study.tell(trial, finite_value(trial.params))
    assert len(set(seen)) == len(seen), seen


@pytest.mark.parametrize("name", sorted(set(SAMPLER_NAMES) - INDEPENDENT))
def test_no_running_configuration_is_proposed_again(name: str) -> None:
    study = ht.create_study(sampler=make(name))
    for _ in range(12):  # past every sampler's start-up design
        trial = study.ask(FINITE)
        study.tell(trial, finite_value(trial.params))
    running = [study.ask(FINITE) for _ in range(6)]
    configs = [(t.params["n"], t.params["c"]) for t in running]
    finished = {(t.params["n"], t.params["c"]) for t in study.trials if t.state.is_finished()}
    assert len(set(configs)) == len(configs), configs
    assert not set(configs) & finished


def test_the_exemption_is_real() -> None:
    # The exempt samplers do repeat: the tests above would catch them.
    for name in INDEPENDENT:
        study = ht.create_study(sampler=make(name))
        seen = [tuple(study.ask(FINITE).params.values()) for _ in range(40)]
        assert len(set(seen)) < len(seen), name


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_failed_and_pruned_trials_are_handled(name: str) -> None:
    study = ht.create_study(sampler=make(name))
    for i in range(30):
        trial = study.ask(KINDS)
        for key, dist in KINDS.items():
            assert dist.contains(trial.params[key])
        if i % 3 == 1:
            study.tell(trial, state="fail")
        elif i % 3 == 2:
            for step in range(3):
                trial.report(kinds_value(trial.params) + step, step)
            study.tell(trial, state="pruned")
        else:
            study.tell(trial, float("nan") if i % 9 == 0 else kinds_value(trial.params))
    states = {t.state for t in study.trials}
    assert states == {ht.TrialState.COMPLETE, ht.TrialState.FAIL, ht.TrialState.PRUNED}


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_several_objectives_are_handled_or_refused_clearly(name: str) -> None:
    study = ht.create_study(sampler=make(name), directions=["minimize", "maximize"])
    try:
        for _ in range(20):
            trial = study.ask(FINITE)
            for key, dist in FINITE.items():
                assert dist.contains(trial.params[key])
            study.tell(trial, [finite_value(trial.params), float(trial.params["n"])])
    except ht.ConfigurationError as e:
        assert "objective" in str(e), str(e)
        assert len(study.trials) <= 1  # refused at once, not after some trials
    else:
        assert len(study.trials) == 20


STATE_SPACE = {
    "x": ht.Float(-5.0, 5.0),
    "y": ht.Float(1e-3, 10.0, log=True),
    "k": ht.Int(0, 10),
}


def state_value(params: dict[str, Any]) -> float:
    return (params["x"] - 1.0) ** 2 + abs(params["y"] - 1.0) + (params["k"] - 4) ** 2 / 10


@pytest.mark.parametrize("name", SAMPLER_NAMES)
@pytest.mark.parametrize("n_finished", [5, 24])
def test_a_fresh_sampler_given_the_same_history_proposes_the_same(
    name: str, n_finished: int
) -> None:
    used = make(name, seed=11)
    study = ht.create_study(sampler=used)
    for i in range(n_finished):
        trial = study.ask(STATE_SPACE)
        study.tell(trial, state_value(trial.params) if i % 7 != 3 else float("nan"))
    running = study.ask(STATE_SPACE)  # one running trial the proposal must avoid
    history = view_of(study)
    request = ProposalRequest(len(history), STATE_SPACE, history, study.directions)

    from_study = used.propose(request)
    fresh = make(name, seed=11).propose(request)
    from_list = make(name, seed=11).propose(
        ProposalRequest(len(history), STATE_SPACE, list(history), study.directions)
    )

    assert fresh.params == from_study.params
    assert from_list.params == from_study.params
    assert fresh.params != running.params or name in INDEPENDENT


def test_views_and_lists_give_samplers_the_same_trials() -> None:
    study = ht.create_study(sampler="random", seed=0)
    for i, _ in zip(range(6), itertools.count()):
        trial = study.ask(FINITE)
        if i % 2:
            study.tell(trial, finite_value(trial.params))
    view = view_of(study)
    assert list(view) == study.trials
    assert [t.number for t in view.without(3)] == [0, 1, 2, 4, 5]
    assert view.without(3)[3].number == 4
    assert [t.number for t in view.running()] == [0, 2, 4]
