"""Cross-validation as a fidelity: folds are steps, and a clearly worse model stops early.

A k-fold score costs k fits. Most configurations of a search are worse than the best one
found so far, and their first folds often show it. :func:`cross_validate` fits the folds
one by one, reports the running mean as the trial's intermediate value (step = folds
done) and, after ``min_folds`` folds, compares the trial with the best complete trial
fold by fold: the same splits, so the comparison is paired and the fold-to-fold
variation (one fold is just harder) cancels out. The trial is stopped when a one-sided
paired t-test says it is worse than the best with confidence ``1 - alpha``, not when its
raw mean crosses a threshold.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from hptune._extras import require
from hptune.exceptions import HptuneWarning, TrialPruned
from hptune.records import StudyDirection, TrialState
from hptune.validation import check_int, check_real

if TYPE_CHECKING:
    from hptune.trial import Trial

__all__ = ["FOLD_SCORES_ATTR", "cross_validate", "worse_than_best"]

#: The user attribute holding a trial's score on each fold, in fold order.
FOLD_SCORES_ATTR = "cv_fold_scores"


def worse_than_best(
    scores: Sequence[float], best: Sequence[float], *, maximize: bool, alpha: float
) -> bool:
    """Whether ``scores`` are worse than ``best`` on the same folds, at level ``alpha``.

    A one-sided paired t-test on the per-fold differences. Identical differences (zero
    variance) count as significant only when the trial is worse on every fold.

    Example:
        >>> worse_than_best([0.80, 0.70, 0.75], [0.90, 0.81, 0.86], maximize=True, alpha=0.05)
        True
        >>> worse_than_best([0.80, 0.95], [0.90, 0.85], maximize=True, alpha=0.05)
        False
    """
    k = min(len(scores), len(best))
    if k < 2:
        return False
    diff = np.asarray(scores[:k], dtype=float) - np.asarray(best[:k], dtype=float)
    if not maximize:
        diff = -diff  # positive = better, in both cases
    spread = float(np.std(diff, ddof=1))
    if spread == 0.0:
        return bool(np.all(diff < 0))
    t = float(np.mean(diff)) / (spread / math.sqrt(k))
    return bool(stats.t.cdf(t, df=k - 1) < alpha)


def cross_validate(
    trial: Trial,
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    cv: int | Any = 5,
    scoring: str | Any | None = None,
    groups: Any = None,
    alpha: float = 0.05,
    min_folds: int = 2,
) -> float:
    """Return the mean cross-validated score; stop early when clearly worse than the best.

    Folds are fitted one at a time (a clone of ``estimator`` each). After each fold the
    running mean is reported at step = folds done, and the per-fold scores are stored in
    the trial's user attribute ``"cv_fold_scores"``. From ``min_folds`` on, when the
    study's best complete trial has scores on the same folds, a paired comparison that
    finds this trial worse (see :func:`worse_than_best`) raises
    :class:`hptune.TrialPruned`, so the remaining folds are not fitted.

    The splits must be the same for every trial: an int ``cv`` uses scikit-learn's
    unshuffled (stratified for classifiers) k-fold; give a splitter with a fixed
    ``random_state`` if you shuffle. Scores are scikit-learn's (greater is better), so
    the study should maximize: with ``direction="minimize"`` it warns, since the study
    would look for the worst model. It stops trials by its own test and warns when the
    study also has a pruner, which it does not ask.

    Args:
        trial: the trial of the running objective.
        estimator: an unfitted scikit-learn estimator.
        X, y, groups: the data, as for ``sklearn.model_selection.cross_val_score``.
        cv: the number of folds, or a splitter / iterable of splits.
        scoring: a scorer name or callable; None uses the estimator's ``score``.
        alpha: the level of the paired test (smaller: fewer, surer stops).
        min_folds: folds fitted before any comparison (at least 2).

    Raises:
        TrialPruned: the trial is worse than the best one, with confidence ``1 - alpha``.
        ConfigurationError: ``alpha`` or ``min_folds`` out of range.
        ImportError: scikit-learn is missing (extra ``sklearn``).

    Example:
        >>> import hptune as ht
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.neighbors import KNeighborsClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> def objective(trial):
        ...     model = KNeighborsClassifier(trial.suggest_int("k", 1, 30))
        ...     return cross_validate(trial, model, X, y, cv=5)
        >>> study = ht.create_study(direction="maximize", sampler="random", seed=0)
        >>> _ = study.optimize(objective, n_trials=8, show_progress=False)
        >>> study.best_value > 0.9
        True
    """
    check_real("cross_validate", "alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    check_int("cross_validate", "min_folds", min_folds, low=2)
    base = require("sklearn.base", "sklearn")
    model_selection = require("sklearn.model_selection", "sklearn")
    metrics = require("sklearn.metrics", "sklearn")
    splitter = model_selection.check_cv(cv, y, classifier=base.is_classifier(estimator))
    scorer = metrics.check_scoring(estimator, scoring=scoring)
    maximize = trial.study.direction is StudyDirection.MAXIMIZE
    if not maximize:
        warnings.warn(
            f"cross_validate: scikit-learn's scores are greater-is-better (scoring={scoring!r}; "
            "a 'neg_...' scorer is a negated error), so with direction='minimize' the study "
            "looks for the worst model; create the study with direction='maximize'.",
            HptuneWarning,
            stacklevel=2,
        )
    if trial.study.pruner is not None:
        warnings.warn(
            f"cross_validate stops a trial by its own paired test on the folds; the study's "
            f"pruner ({type(trial.study.pruner).__name__}) is not asked. Create the study "
            "without a pruner to silence this.",
            HptuneWarning,
            stacklevel=2,
        )
    best = _best_fold_scores(trial)
    scores: list[float] = []
    for train, test in splitter.split(X, y, groups):
        model = base.clone(estimator)
        X_train, X_test = _rows(X, train), _rows(X, test)
        if y is None:
            model.fit(X_train)
            score = float(scorer(model, X_test))
        else:
            y_train, y_test = _rows(y, train), _rows(y, test)
            model.fit(X_train, y_train)
            score = float(scorer(model, X_test, y_test))
        scores.append(score)
        trial.set_user_attr(FOLD_SCORES_ATTR, scores)
        trial.report(float(np.mean(scores)), step=len(scores))
        early = best is not None and min_folds <= len(scores) < len(best)
        if early and worse_than_best(scores, best or [], maximize=maximize, alpha=alpha):
            raise TrialPruned(
                f"worse than trial {trial.study.best_trial.number} on the first "
                f"{len(scores)} folds (paired t-test, alpha={alpha})"
            )
    return float(np.mean(scores))


def _best_fold_scores(trial: Trial) -> list[float] | None:
    study = trial.study
    if not study.history([TrialState.COMPLETE]):
        return None
    scores = study.best_trial.user_attrs.get(FOLD_SCORES_ATTR)
    return list(scores) if isinstance(scores, list) else None


def _rows(data: Any, index: Any) -> Any:
    """Rows of an array, a DataFrame or a Series by position."""
    return data.iloc[index] if hasattr(data, "iloc") else data[index]
