"""Every sampler in the registry: the same seed gives the same trials.

Iterates over ``SAMPLER_NAMES``, so a sampler added to the registry is covered at once.
The space is finite so that grid search can take part.
"""

from __future__ import annotations

from typing import Any

import pytest

import hptune as ht
from hptune.samplers import SAMPLER_NAMES, get_sampler

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
