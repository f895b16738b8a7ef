"""Tune a scikit-learn model in 20 lines: define-by-run, SQLite storage, resumable.

Run: python examples/quickstart.py   (needs scikit-learn: pip install 'hptune[sklearn]')
"""

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import cross_val_score

import hptune as ht

X, y = load_breast_cancer(return_X_y=True)


def objective(trial: ht.Trial) -> float:
    model = GradientBoostingClassifier(
        learning_rate=trial.suggest_float("learning_rate", 1e-3, 0.5, log=True),
        max_depth=trial.suggest_int("max_depth", 1, 6),
        subsample=trial.suggest_float("subsample", 0.5, 1.0),
        n_estimators=trial.suggest_categorical("n_estimators", [50, 100, 200]),
        random_state=0,
    )
    return cross_val_score(model, X, y, cv=3).mean()


if __name__ == "__main__":
    study = ht.create_study(
        study_name="quickstart",
        storage="sqlite:///quickstart.db",
        direction="maximize",
        seed=0,
        load_if_exists=True,
    )
    study.optimize(objective, n_trials=20, n_jobs=2)
    print(f"best accuracy {study.best_value:.4f} with {study.best_params}")
