"""The main demo: tune a small PyTorch network on scikit-learn's bundled digits images.

Seven hyperparameters (learning rate, width, depth, dropout, weight decay, batch size,
optimizer) are tuned on a train / validation split; the held-out test split is used once,
for the best configuration only. The study lives in ``./hptune.db`` and resumes when run
again. Run it with ``hptune demo`` (or ``make demo``).

Needs the ``demo`` extra and PyTorch: ``pip install torch==2.13.0 'hptune[demo]'``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hptune._extras import require
from hptune.exceptions import TrialPruned
from hptune.records import TrialState
from hptune.stopping import MaxTrials
from hptune.study import Study, create_study
from hptune.trial import Trial

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["DemoResult", "DigitsTask", "run_demo"]

STUDY_NAME = "digits-mlp"


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo found: the study, the best configuration and its test accuracy."""

    study: Study
    best_params: dict[str, Any]
    val_accuracy: float
    test_accuracy: float
    seconds: float
    n_new_trials: int
    epochs_trained: int
    epochs_without_pruning: int


class DigitsTask:
    """The digits data split 60/20/20 into train, validation and test, and the training.

    Args:
        max_epochs: epochs per trial; validation accuracy is reported after each.
        seed: fixes the split and every network's initialization.
    """

    def __init__(self, max_epochs: int = 20, seed: int = 0) -> None:
        torch = require("torch", "demo")
        datasets = require("sklearn.datasets", "demo")
        model_selection = require("sklearn.model_selection", "demo")
        x, y = datasets.load_digits(return_X_y=True)
        x = x / 16.0  # pixel intensities are 0..16
        split = model_selection.train_test_split
        x_rest, x_test, y_rest, y_test = split(x, y, test_size=0.2, stratify=y, random_state=seed)
        x_train, x_val, y_train, y_val = split(
            x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=seed
        )
        self.max_epochs = max_epochs
        self.seed = seed
        self._torch = torch
        self.train = self._tensors(x_train, y_train)
        self.val = self._tensors(x_val, y_val)
        self.test = self._tensors(x_test, y_test)

    def _tensors(self, x: npt.NDArray[Any], y: npt.NDArray[Any]) -> tuple[Any, Any]:
        torch = self._torch
        return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)

    def objective(self, trial: Trial) -> float:
        """Train with the trial's hyperparameters; return the validation accuracy."""
        params = {
            "lr": trial.suggest_float("lr", 1e-4, 3e-1, log=True),
            "width": trial.suggest_int("width", 16, 256, log=True),
            "depth": trial.suggest_int("depth", 1, 3),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
            "optimizer": trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"]),
        }
        accuracy = 0.0
        for epochs, accuracy in enumerate(self.fit(params, seed=self.seed + trial.number), 1):
            trial.report(accuracy, step=epochs)  # the step is the number of epochs trained
            # Stopping after the last epoch would save nothing: only ask before it.
            if epochs < self.max_epochs and trial.should_prune():
                trial.set_user_attr("epochs", epochs)
                raise TrialPruned()
        trial.set_user_attr("epochs", self.max_epochs)
        return accuracy

    def fit(self, params: dict[str, Any], *, seed: int, evaluate_on: str = "val") -> Any:
        """Train a network; yield its accuracy on ``evaluate_on`` after each epoch."""
        torch = self._torch
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = self._network(params)
        optimizer = self._optimizer(model, params)
        x_train, y_train = self.train
        x_eval, y_eval = getattr(self, evaluate_on)
        batch = int(params["batch_size"])
        for _ in range(self.max_epochs):
            model.train()
            order = torch.randperm(len(x_train), generator=generator)
            for start in range(0, len(order), batch):
                idx = order[start : start + batch]
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                logits = model(x_eval)
            if not bool(torch.isfinite(logits).all()):
                raise FloatingPointError("the network diverged (non-finite outputs)")
            yield float((logits.argmax(dim=1) == y_eval).float().mean())

    def _network(self, params: dict[str, Any]) -> Any:
        nn = self._torch.nn
        layers: list[Any] = []
        width_in = 64
        for _ in range(int(params["depth"])):
            layers += [
                nn.Linear(width_in, int(params["width"])),
                nn.ReLU(),
                nn.Dropout(float(params["dropout"])),
            ]
            width_in = int(params["width"])
        layers.append(nn.Linear(width_in, 10))
        return nn.Sequential(*layers)

    def _optimizer(self, model: Any, params: dict[str, Any]) -> Any:
        optim = self._torch.optim
        kwargs = {"lr": params["lr"], "weight_decay": params["weight_decay"]}
        if params["optimizer"] == "sgd":
            return optim.SGD(model.parameters(), momentum=0.9, nesterov=True, **kwargs)
        if params["optimizer"] == "rmsprop":
            return optim.RMSprop(model.parameters(), **kwargs)
        return optim.AdamW(model.parameters(), **kwargs)

    def test_accuracy(self, params: dict[str, Any], *, seed: int) -> float:
        """Retrain ``params`` exactly as in its trial and return the test accuracy."""
        *_, accuracy = self.fit(params, seed=seed, evaluate_on="test")
        return float(accuracy)


def run_demo(
    *,
    storage: str = "sqlite:///hptune.db",
    study_name: str = STUDY_NAME,
    n_trials: int = 60,
    max_epochs: int = 20,
    seed: int = 0,
    sampler: str = "tpe",
    pruner: str | None = "asha",
    show_progress: bool | None = None,
    n_jobs: int = 1,
) -> DemoResult:
    """Tune the digits network until the study holds ``n_trials`` trials; test the best.

    TPE proposes the configurations and asynchronous successive halving stops the ones
    that fall behind at 1, 3 and 9 epochs (TPE then models the trials at the highest of
    these rungs that enough of them reached). Running it again resumes the same study:
    it only runs the trials still missing.
    """
    torch = require("torch", "demo")
    torch.set_num_threads(1)  # tiny networks: threads cost more than they give
    task = DigitsTask(max_epochs=max_epochs, seed=seed)
    study = create_study(
        study_name,
        storage,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        load_if_exists=True,
    )
    before = len(study.trials)
    started = time.perf_counter()
    study.optimize(
        task.objective, n_jobs=n_jobs, show_progress=show_progress, stop=MaxTrials(n_trials)
    )
    best = study.best_trial
    test = task.test_accuracy(best.params, seed=seed + best.number)
    finished = [t for t in study.trials if t.state.is_finished()]
    return DemoResult(
        study=study,
        best_params=dict(best.params),
        val_accuracy=float(best.values[0]) if best.values else float("nan"),
        test_accuracy=test,
        seconds=time.perf_counter() - started,
        n_new_trials=len(study.trials) - before,
        epochs_trained=sum(
            int(t.user_attrs.get("epochs", len(t.intermediate_values))) for t in finished
        ),
        epochs_without_pruning=max_epochs * len(finished),
    )


def summarize(result: DemoResult) -> str:
    """Return the demo's closing report as text."""
    trials = result.study.trials
    counts = {s: sum(t.state is s for t in trials) for s in TrialState if s.is_finished()}
    saved = 1.0 - result.epochs_trained / max(1, result.epochs_without_pruning)
    lines = [
        f"study {result.study.name!r}: {len(trials)} trials ({result.n_new_trials} new) — "
        + ", ".join(f"{n} {s.value}" for s, n in counts.items()),
        f"time: {result.seconds:.1f} s",
        f"epochs trained: {result.epochs_trained} of {result.epochs_without_pruning} without "
        f"pruning ({saved:.0%} saved by stopping {counts[TrialState.PRUNED]} trials early)",
        f"best validation accuracy: {result.val_accuracy:.4f} "
        f"(trial {result.study.best_trial.number})",
        "best configuration:",
        *(
            f"  {k:>13} = {v:.4g}" if isinstance(v, float) else f"  {k:>13} = {v}"
            for k, v in sorted(result.best_params.items())
        ),
        f"test accuracy of the best configuration: {result.test_accuracy:.4f}",
    ]
    return "\n".join(lines)
