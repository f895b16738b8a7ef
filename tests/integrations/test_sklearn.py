"""Cross-validation as a fidelity: paired early stopping of clearly worse models."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hptune as ht

pytest.importorskip("sklearn")

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeClassifier

from hptune.integrations.sklearn import (
    FOLD_SCORES_ATTR,
    cross_validate,
    worse_than_best,
)

X, Y = load_breast_cancer(return_X_y=True)
CV = KFold(5, shuffle=True, random_state=0)


def test_paired_test_by_hand() -> None:
    # Differences -0.10, -0.11, -0.11: consistently worse, t is about -58.
    assert worse_than_best([0.80, 0.70, 0.75], [0.90, 0.81, 0.86], maximize=True, alpha=0.05)
    # Worse on average but not consistently: no decision.
    assert not worse_than_best([0.80, 0.95], [0.90, 0.85], maximize=True, alpha=0.05)
    # Lower is better when minimizing.
    assert worse_than_best([0.90, 0.81, 0.86], [0.80, 0.70, 0.75], maximize=False, alpha=0.05)
    # Identical differences: worse on every fold counts, equal does not.
    assert worse_than_best([0.5, 0.6], [0.6, 0.7], maximize=True, alpha=0.05)
    assert not worse_than_best([0.6, 0.7], [0.6, 0.7], maximize=True, alpha=0.05)
    assert not worse_than_best([0.1], [0.9], maximize=True, alpha=0.05)  # one fold: no test


@given(
    st.lists(st.floats(0, 1), min_size=2, max_size=10),
    st.lists(st.floats(0, 0.5), min_size=10, max_size=10),
)
def test_never_stops_a_trial_at_least_as_good_on_every_fold(
    best: list[float], margins: list[float]
) -> None:
    scores = [b + m for b, m in zip(best, margins, strict=False)]
    assert not worse_than_best(scores, best, maximize=True, alpha=0.05)


def objective_with(min_folds: int) -> Callable[[ht.Trial], float]:
    def objective(trial: ht.Trial) -> float:
        model = DecisionTreeClassifier(
            max_depth=trial.suggest_int("max_depth", 1, 12),
            min_samples_leaf=trial.suggest_int("min_samples_leaf", 1, 200, log=True),
            random_state=0,
        )
        return cross_validate(trial, model, X, Y, cv=CV, min_folds=min_folds)

    return objective


def test_worse_models_stop_before_the_last_fold_and_the_best_is_kept() -> None:
    full = ht.create_study(direction="maximize", sampler="random", seed=1)
    full.optimize(objective_with(5), n_trials=25, show_progress=False)  # never compares
    early = ht.create_study(direction="maximize", sampler="random", seed=1)
    early.optimize(objective_with(2), n_trials=25, show_progress=False)
    assert all(t.state is ht.TrialState.COMPLETE for t in full.trials)
    pruned = [t for t in early.trials if t.state is ht.TrialState.PRUNED]
    assert pruned, "some clearly worse trees should stop early"
    folds = sum(len(t.user_attrs[FOLD_SCORES_ATTR]) for t in early.trials)
    assert folds < 0.85 * 25 * 5
    # Same configurations in the same order: the best one was never stopped.
    assert early.best_params == full.best_params
    assert early.best_value == pytest.approx(full.best_value)
    for t in pruned:
        assert len(t.user_attrs[FOLD_SCORES_ATTR]) < 5
        assert t.value == pytest.approx(sum(t.user_attrs[FOLD_SCORES_ATTR]) / t.last_step)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"alpha": 0}, "alpha=0"), ({"min_folds": 1}, "min_folds=1")]
)
def test_bad_arguments_are_named(kwargs: dict[str, float], match: str) -> None:
    trial = ht.create_study(direction="maximize").ask()
    with pytest.raises(ht.ConfigurationError, match=match):
        cross_validate(trial, DecisionTreeClassifier(), X, Y, **kwargs)  # type: ignore[arg-type]


def test_minimizing_scikit_learn_scores_is_warned_about() -> None:
    trial = ht.create_study(direction="minimize").ask()
    with pytest.warns(ht.HptuneWarning, match=r"greater-is-better .*direction='maximize'"):
        cross_validate(trial, DecisionTreeClassifier(random_state=0), X, Y, cv=3)


def test_a_pruner_cross_validate_does_not_ask_is_warned_about() -> None:
    trial = ht.create_study(direction="maximize", pruner="median").ask()
    with pytest.warns(ht.HptuneWarning, match=r"MedianPruner\) is not asked"):
        cross_validate(trial, DecisionTreeClassifier(random_state=0), X, Y, cv=3)


def test_maximizing_without_a_pruner_warns_nothing() -> None:
    import warnings

    trial = ht.create_study(direction="maximize").ask()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ht.HptuneWarning)
        cross_validate(trial, DecisionTreeClassifier(random_state=0), X, Y, cv=3)
