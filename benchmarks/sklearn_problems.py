"""Model-tuning problems: scikit-learn models on its bundled datasets, Bayesmark style.

Each evaluation is the 3-fold cross-validated error of one configuration (``1 - accuracy``
for classifiers, ``1 - R^2`` for the diabetes regressions) on fixed, shuffled folds
(``random_state=0``), with ``random_state=0`` in every model and ``n_jobs=1``: the same
configuration always gives the same value, so runs differ only by their samplers.
Regularisation strengths, learning rates and sizes are searched on log scales. Models and
datasets are small enough that one evaluation takes well under 0.3 s on one core.

Their optimum is unknown: ``best_known`` is None and ``samplers.py`` uses the best value
of its random reference sample and of all its runs.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from problems import Param, Problem

# Bounds the rare slow corner of C and gamma (a second or more per fit otherwise).
_SVM_MAX_ITER = 20_000


@functools.cache
def _dataset(name: str) -> tuple[Any, Any]:
    from sklearn import datasets

    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "wine": datasets.load_wine,
        "diabetes": datasets.load_diabetes,
    }[name]
    return loader(return_X_y=True)


@dataclass(frozen=True)
class CrossValidated:
    """The 3-fold cross-validated error of the model ``build(values)`` makes."""

    dataset: str
    build: Callable[[Mapping[str, Any]], Any]
    regression: bool = False

    def __call__(self, values: Mapping[str, Any]) -> float:
        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

        x, y = _dataset(self.dataset)
        folds = KFold if self.regression else StratifiedKFold
        cv = folds(n_splits=3, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at small max_iter, by design
            scores = cross_val_score(
                self.build(values),
                x,
                y,
                cv=cv,
                scoring="r2" if self.regression else "accuracy",
                n_jobs=1,
                error_score="raise",
            )
        return float(1.0 - scores.mean())


def _scaled(model: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), model)


def _svc(v: Mapping[str, Any]) -> Any:
    from sklearn.svm import SVC

    return _scaled(SVC(C=v["C"], gamma=v["gamma"], tol=v["tol"], max_iter=_SVM_MAX_ITER))


def _knn(v: Mapping[str, Any]) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return _scaled(
        KNeighborsClassifier(n_neighbors=v["n_neighbors"], weights=v["weights"], p=v["p"])
    )


def _logreg(v: Mapping[str, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    weight = None if v["class_weight"] == "none" else v["class_weight"]
    model = LogisticRegression(
        C=v["C"],
        l1_ratio=v["l1_ratio"],
        class_weight=weight,
        solver="saga",
        max_iter=200,
        tol=1e-3,
        random_state=0,
    )
    return _scaled(model)


def _tree(v: Mapping[str, Any]) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(
        max_depth=v["max_depth"],
        min_samples_split=v["min_samples_split"],
        min_samples_leaf=v["min_samples_leaf"],
        max_features=v["max_features"],
        criterion=v["criterion"],
        random_state=0,
    )


def _forest(v: Mapping[str, Any]) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=v["n_estimators"],
        max_depth=v["max_depth"],
        max_features=v["max_features"],
        min_samples_leaf=v["min_samples_leaf"],
        criterion=v["criterion"],
        random_state=0,
        n_jobs=1,
    )


def _boosting(v: Mapping[str, Any]) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        learning_rate=v["learning_rate"],
        max_iter=v["max_iter"],
        max_leaf_nodes=v["max_leaf_nodes"],
        min_samples_leaf=v["min_samples_leaf"],
        l2_regularization=v["l2_regularization"],
        early_stopping=False,
        random_state=0,
    )


def _mlp(v: Mapping[str, Any]) -> Any:
    from sklearn.neural_network import MLPClassifier

    return _scaled(
        MLPClassifier(
            hidden_layer_sizes=(v["hidden"],),
            activation=v["activation"],
            alpha=v["alpha"],
            learning_rate_init=v["learning_rate_init"],
            batch_size=v["batch_size"],
            max_iter=30,
            random_state=0,
        )
    )


def _svr(v: Mapping[str, Any]) -> Any:
    from sklearn.svm import SVR

    return _scaled(SVR(C=v["C"], epsilon=v["epsilon"], gamma=v["gamma"], max_iter=_SVM_MAX_ITER))


def _f(name: str, low: float, high: float, log: bool = False) -> Param:
    return Param(name, "float", low, high, log=log)


def _i(name: str, low: int, high: int, log: bool = False) -> Param:
    return Param(name, "int", low, high, log=log)


def _c(name: str, *choices: Any) -> Param:
    return Param(name, "categorical", choices=choices)


def _problem(name: str, dataset: str, build: Any, params: tuple[Param, ...], **kw: Any) -> Problem:
    objective = CrossValidated(dataset, build, **kw)
    return Problem(name, "sklearn", params, objective, None, 100, f"{dataset}, 3-fold CV")


def sklearn_problems() -> list[Problem]:
    """The model-tuning problems (scikit-learn is imported only when one is evaluated)."""
    return [
        _problem(
            "SVC-breast_cancer",
            "breast_cancer",
            _svc,
            (_f("C", 1e-2, 1e3, True), _f("gamma", 1e-5, 1.0, True), _f("tol", 1e-5, 1e-1, True)),
        ),
        _problem(
            "KNN-digits",
            "digits",
            _knn,
            (_i("n_neighbors", 1, 64, True), _c("weights", "uniform", "distance"), _c("p", 1, 2)),
        ),
        _problem(
            "LogReg-breast_cancer",
            "breast_cancer",
            _logreg,
            (
                _f("C", 1e-4, 1e3, True),
                _f("l1_ratio", 0, 1),
                _c("class_weight", "none", "balanced"),
            ),
        ),
        _problem(
            "DecisionTree-wine",
            "wine",
            _tree,
            (
                _i("max_depth", 1, 16),
                _i("min_samples_split", 2, 64, True),
                _i("min_samples_leaf", 1, 32, True),
                _f("max_features", 0.05, 1.0),
                _c("criterion", "gini", "entropy"),
            ),
        ),
        _problem(
            "RandomForest-breast_cancer",
            "breast_cancer",
            _forest,
            (
                _i("n_estimators", 5, 40, True),
                _i("max_depth", 1, 12),
                _f("max_features", 0.05, 1.0),
                _i("min_samples_leaf", 1, 32, True),
                _c("criterion", "gini", "entropy"),
            ),
        ),
        _problem(
            "HistGB-diabetes",
            "diabetes",
            _boosting,
            (
                _f("learning_rate", 1e-3, 1.0, True),
                _i("max_iter", 10, 100, True),
                _i("max_leaf_nodes", 2, 64, True),
                _i("min_samples_leaf", 2, 100, True),
                _f("l2_regularization", 1e-6, 10.0, True),
            ),
            regression=True,
        ),
        _problem(
            "MLP-wine",
            "wine",
            _mlp,
            (
                _i("hidden", 4, 128, True),
                _c("activation", "relu", "tanh"),
                _f("alpha", 1e-6, 1.0, True),
                _f("learning_rate_init", 1e-4, 1e-1, True),
                _i("batch_size", 16, 128, True),
            ),
        ),
        _problem(
            "SVR-diabetes",
            "diabetes",
            _svr,
            (
                _f("C", 1e-1, 1e5, True),
                _f("epsilon", 1e-2, 1e2, True),
                _f("gamma", 1e-4, 1.0, True),
            ),
            regression=True,
        ),
    ]
