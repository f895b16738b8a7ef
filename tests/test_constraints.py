"""Constraints: recorded with a trial, honoured by best_trial(s) and by the samplers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import hptune as ht
from hptune.samplers.base import Proposal, ProposalRequest, Sampler


def test_set_constraints_records_values_and_feasibility() -> None:
    study = ht.create_study()
    trial = study.ask({"x": ht.Float(0, 1)})
    trial.set_constraints([0.5, -1.0])
    frozen = study.tell(trial, 1.0)
    assert frozen.constraints == (0.5, -1.0)
    assert frozen.violation == 0.5
    assert not frozen.feasible
    other = study.tell(study.ask({"x": ht.Float(0, 1)}), 2.0, constraints=[-0.1])
    assert other.feasible and other.violation == 0.0
    plain = study.tell(study.ask({"x": ht.Float(0, 1)}), 3.0)
    assert plain.constraints is None and plain.feasible


@pytest.mark.parametrize("bad", [[math.nan], [], ["a"], [1.0, math.inf]])
def test_bad_constraint_values_are_refused_with_the_reason(bad: Any) -> None:
    study = ht.create_study()
    trial = study.ask({"x": ht.Float(0, 1)})
    with pytest.raises(ht.InvalidValueError, match="constraint"):
        trial.set_constraints(bad)
    with pytest.raises(ht.InvalidValueError, match="constraint"):
        study.tell(trial, 1.0, constraints=bad)
    assert study.trials[0].state is ht.TrialState.RUNNING  # nothing changed


def test_best_trial_skips_infeasible_trials() -> None:
    study = ht.create_study(direction="minimize")
    study.tell(study.ask({"x": ht.Float(0, 1)}), 0.0, constraints=[1.0])
    with pytest.raises(ht.TrialStateError, match="constraints"):
        _ = study.best_trial
    study.tell(study.ask({"x": ht.Float(0, 1)}), 5.0, constraints=[0.0])
    assert study.best_trial.number == 1
    assert [t.number for t in study.best_trials] == [1]


def test_best_trials_of_several_objectives_are_the_feasible_front() -> None:
    study = ht.create_study(directions=["minimize", "minimize"])
    for values, c in [((0.0, 0.0), 1.0), ((1.0, 2.0), -1.0), ((2.0, 1.0), 0.0), ((3, 3), -1)]:
        study.tell(study.ask({"x": ht.Float(0, 1)}), values=values, constraints=[c])
    assert [t.number for t in study.best_trials] == [1, 2]


class _Marking(Sampler):
    """Proposes x=0.5 and marks every proposal with a system attribute."""

    def propose(self, request: ProposalRequest) -> Proposal:
        return Proposal({k: 0.5 for k in request.space}, attrs={"test:seen": len(request.history)})


@pytest.mark.parametrize("storage", [None, "sqlite"])
def test_proposal_attrs_are_recorded_on_the_trial(storage: str | None, tmp_path: Any) -> None:
    url = None if storage is None else f"sqlite:///{tmp_path}/s.db"
    study = ht.create_study(storage=url, sampler=_Marking())
    study.tell(study.ask({"x": ht.Float(0, 1)}), 1.0)  # declarative: one write
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1, show_progress=False)
    assert [t.system_attrs["test:seen"] for t in study.trials] == [0, 1]


def _feasible_fraction(sampler: str, seed: int) -> tuple[float, float]:
    """Minimize x^2 + y^2 subject to x + y >= 1: the optimum (0.5, 0.5) is on the edge."""
    study = ht.create_study(sampler=sampler, seed=seed)

    def objective(trial: ht.Trial) -> float:
        x, y = trial.suggest_float("x", -2, 2), trial.suggest_float("y", -2, 2)
        trial.set_constraints([1.0 - x - y])
        return x * x + y * y

    study.optimize(objective, n_trials=40, show_progress=False)
    late = study.trials[-15:]
    return float(np.mean([t.feasible for t in late])), study.best_value


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_model_based_samplers_move_to_the_feasible_optimum(sampler: str) -> None:
    # Random search puts about 0.28 of its points on the feasible side (x + y >= 1 in
    # the [-2, 2] square: area 4.5/16) and its median best over 40 trials, 5 seeds, is
    # 1.14 (0.65 to 2.7); TPE's late trials were 47-73% feasible with a median best of
    # 0.64, GP's 87-100% with 0.59. A sampler that ignored the constraints would chase
    # (0, 0), which is infeasible. Medians over three seeds: one seed that goes astray
    # does not fail the test.
    results = [_feasible_fraction(sampler, seed) for seed in range(3)]
    fraction = float(np.median([f for f, _ in results]))
    best = float(np.median([b for _, b in results]))
    assert fraction >= 0.45, results
    assert 0.5 <= best < 0.8, results


class _Racing(Sampler):
    """Starts another trial while proposing the first time: the study's trial then gets
    another number than the one proposed for, and the proposal is made again."""

    def __init__(self) -> None:
        self.study: ht.Study | None = None
        self.raced = False

    def propose(self, request: ProposalRequest) -> Proposal:
        if not self.raced and self.study is not None:
            self.raced = True
            self.study.storage.create_trial(self.study.study_id)
            return Proposal({k: 0.1 for k in request.space}, attrs={"test:old": 1, "test:n": 0})
        return Proposal({k: 0.5 for k in request.space}, attrs={"test:n": request.number})


def test_attrs_of_a_replaced_proposal_are_voided() -> None:
    sampler = _Racing()
    study = ht.create_study(sampler=sampler)
    sampler.study = study
    trial = study.ask({"x": ht.Float(0, 1)})
    assert trial.number == 1 and trial.params == {"x": 0.5}
    attrs = study.trials[1].system_attrs
    assert attrs["test:n"] == 1 and attrs.get("test:old") is None
