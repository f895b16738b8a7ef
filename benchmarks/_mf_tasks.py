"""Tasks and methods of the multi-fidelity benchmark, and one run of a method on a task.

A task trains a configuration epoch by epoch and yields its validation score after each
epoch (epochs ``1 .. max_epochs``); its final-fidelity score is the one after
``max_epochs``. :func:`run_one` lets one method (a sampler and a pruner, of hptune or
Optuna) spend a budget of epochs on a task, and records every trial: how many epochs it
trained, whether it finished at full fidelity, its final score and when it ended.

Tasks:

- ``digits``: a PyTorch MLP on scikit-learn's digits (``hptune.demo.DigitsTask``: the same
  60/20/20 split and network), 7 hyperparameters, epochs as the fidelity, validation
  accuracy maximised. Every trial trains for real. The run's final incumbent is trained
  again, with the same seed (so the same network), to record its accuracy on the held-out
  test split: the validation maximum over many noisy trials is biased upwards (the
  winner's curse), the test accuracy of the configuration it picks is not.
- ``hartmann6``: Hartmann-6 with the fidelity bias of Kandasamy et al. (BOCA, ICML 2017):
  ``alpha_i(z) = alpha_i - 0.1 (1 - z)``, minimised.
- ``branin``: Branin with the fidelity bias of the same paper: ``b(z) = b - 0.01 (1 - z)``,
  ``c(z) = c - 0.1 (1 - z)``, ``t(z) = t + 0.05 (1 - z)``, minimised.
- ``hartmann6-slow``: ours, Hartmann-6 (as above) plus a learning-curve gap
  ``3 exp(-t (0.05 + 1.5 x_0))`` at epoch ``t``: configurations with a small ``x_0``
  learn slowly, and the optimum (``x_0 = 0.20``) is one of them, so early epochs rank
  configurations poorly (Spearman correlation 0.08 between epoch 1 and the end on
  uniform points), as with learning rates that start slow and end best. It tests
  aggressive pruning.

For the synthetic tasks the fidelity of epoch ``t`` is ``z = ln t / ln T`` (``T`` the
maximum), and the observed value is the formula plus noise ``sigma(z) e_t``. Its scale
falls linearly in ``z`` from ``sigma_1`` at the first epoch to ``sigma_T`` at the last
(0.2 to 0.01 for Hartmann-6, 2 to 0.05 for Branin); ``e_t`` is 0.8 times one standard
normal draw per trial plus 0.6 times one per epoch, so that a trial's curve is smooth, as
a learning curve is. The noiseless final value (the formula at the last epoch) is
recorded as well.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from problems import branin, hartmann6

# --- Synthetic functions: problems.py's formulas at a fidelity z --------------------------


def hartmann6_slow(x: np.ndarray, z: float, t: int) -> float:
    """Hartmann-6 at fidelity ``z`` plus the gap left after ``t`` epochs at speed ``x_0``."""
    return hartmann6(x, z) + 3.0 * math.exp(-t * (0.05 + 1.5 * float(x[0])))


# --- Tasks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A tuning problem with epochs as its fidelity.

    ``curve(params, seed)`` yields the observed score after each epoch ``1 ..
    max_epochs`` (it may raise ``FloatingPointError`` when training diverges);
    ``true_value(params)`` is the noiseless full-fidelity value where one exists, and
    ``held_out(params, seed)`` the final score on held-out data of the configuration
    trained with ``seed`` (the curve's), where the task has such data.
    """

    name: str
    title: str
    direction: Literal["minimize", "maximize"]
    max_epochs: int
    suggest: Callable[[Any], dict[str, Any]]
    curve: Callable[[Mapping[str, Any], int], Iterator[float]]
    true_value: Callable[[Mapping[str, Any]], float] | None = None
    held_out: Callable[[Mapping[str, Any], int], float] | None = None
    setup: Callable[[], None] = lambda: None  # loads data etc.; run before the clock starts
    metric: str = "value"


@dataclass(frozen=True)
class _Synthetic:
    formula: Callable[[np.ndarray, float, int], float]  # (x, z, epoch)
    bounds: tuple[tuple[float, float], ...]
    sigma_first: float
    sigma_last: float
    max_epochs: int

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {
            f"x{i}": trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(self.bounds)
        }

    def point(self, params: Mapping[str, Any]) -> np.ndarray:
        return np.array([float(params[f"x{i}"]) for i in range(len(self.bounds))])

    def curve(self, params: Mapping[str, Any], seed: int) -> Iterator[float]:
        x = self.point(params)
        rng = np.random.default_rng(seed)
        shared = rng.standard_normal()
        for t in range(1, self.max_epochs + 1):
            z = math.log(t) / math.log(self.max_epochs) if self.max_epochs > 1 else 1.0
            sigma = self.sigma_first + (self.sigma_last - self.sigma_first) * z
            noise = 0.8 * shared + 0.6 * rng.standard_normal()
            yield self.formula(x, z, t) + sigma * noise

    def true_value(self, params: Mapping[str, Any]) -> float:
        return self.formula(self.point(params), 1.0, self.max_epochs)


@functools.cache
def _digits_data(max_epochs: int) -> Any:
    from hptune.demo import DigitsTask

    return DigitsTask(max_epochs=max_epochs, seed=0)


def _digits_suggest(trial: Any) -> dict[str, Any]:
    # The demo's seven hyperparameters, with batches of 32 or more: an epoch of batch 16
    # costs about 70 optimizer steps of mostly Python overhead on a tiny network.
    return {
        "lr": trial.suggest_float("lr", 1e-4, 3e-1, log=True),
        "width": trial.suggest_int("width", 16, 256, log=True),
        "depth": trial.suggest_int("depth", 1, 3),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
        "optimizer": trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"]),
    }


def make_task(name: str, max_epochs: int) -> Task:
    """The task ``name`` (one of :data:`TASKS`) with ``max_epochs`` epochs."""
    if name == "digits":

        def setup() -> None:
            import torch

            torch.set_num_threads(1)  # one core per run; tiny networks gain nothing more
            _digits_data(max_epochs)

        def curve(params: Mapping[str, Any], seed: int) -> Iterator[float]:
            return _digits_data(max_epochs).fit(dict(params), seed=seed)

        def held_out(params: Mapping[str, Any], seed: int) -> float:
            scores = _digits_data(max_epochs).fit(dict(params), seed=seed, evaluate_on="test")
            return float(list(scores)[-1])

        return Task(
            name,
            "PyTorch MLP on digits (validation accuracy)",
            "maximize",
            max_epochs,
            _digits_suggest,
            curve,
            held_out=held_out,
            metric="accuracy",
            setup=setup,
        )
    six, two = ((0.0, 1.0),) * 6, ((-5.0, 10.0), (0.0, 15.0))
    synthetic: dict[str, tuple[Any, ...]] = {
        "hartmann6": (lambda x, z, t: hartmann6(x, z), six, 0.2, 0.01, "Hartmann-6 (BOCA)"),
        "branin": (lambda x, z, t: branin(x, z), two, 2.0, 0.05, "Branin (BOCA)"),
        "hartmann6-slow": (hartmann6_slow, six, 0.2, 0.01, "Hartmann-6 with slow starters"),
    }
    if name not in synthetic:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    formula, bounds, first, last, title = synthetic[name]
    s = _Synthetic(formula, bounds, first, last, max_epochs)
    return Task(name, title, "minimize", max_epochs, s.suggest, s.curve, s.true_value)


TASKS = ("digits", "hartmann6", "branin", "hartmann6-slow")

# --- Methods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """A sampler and a pruner of one library, with the pruner settings shared by both."""

    name: str
    library: Literal["hptune", "optuna"]
    sampler: str
    pruner: str | None
    options: tuple[tuple[str, Any], ...] = ()  # hptune's sampler's keyword arguments

    @property
    def label(self) -> str:
        """The name with its library, for reports: "hptune random+asha"."""
        return self.name if self.library == "optuna" else f"hptune {self.name}"

    @property
    def is_baseline(self) -> bool:
        return self.library == "hptune" and self.sampler == "random" and self.pruner is None


METHODS = (
    Method("random", "hptune", "random", None),
    Method("random+median", "hptune", "random", "median"),
    Method("random+asha", "hptune", "random", "asha"),
    Method("random+hyperband", "hptune", "random", "hyperband"),
    Method("auto+asha", "hptune", "auto", "asha"),  # the default sampler: the named method
    Method("tpe+asha", "hptune", "tpe", "asha"),
    Method("tpe+hyperband", "hptune", "tpe", "hyperband"),
    Method("tpe(r=1/3)+asha", "hptune", "tpe", "asha", (("random_fraction", 1 / 3),)),
    Method("tpe(depth)+asha", "hptune", "tpe", "asha", (("multi_fidelity", "depth"),)),
    Method("gp+asha", "hptune", "gp", "asha"),
    Method("optuna tpe+median", "optuna", "tpe", "median"),
    Method("optuna tpe+sha", "optuna", "tpe", "asha"),
    Method("optuna tpe+hyperband", "optuna", "tpe", "hyperband"),
)
METHOD_BY_NAME = {m.name: m for m in METHODS}


def why_not_runnable(method: Method) -> str | None:
    """Why ``method`` cannot run in this environment, or None when it can."""
    if method.library == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError:
            return "Optuna is not installed (`pip install -e '.[bench]'`)"
        return None
    from hptune.samplers import SAMPLER_NAMES

    if method.sampler not in SAMPLER_NAMES:
        return f'hptune has no sampler "{method.sampler}" yet (not in SAMPLER_NAMES)'
    return None


def median_warmup(max_epochs: int) -> int:
    """Epochs before the median rule may stop a trial: a ninth of the training."""
    return max(1, max_epochs // 9)


class _Study:
    """One library's study behind the few calls the run loop makes."""

    def __init__(self, method: Method, task: Task, seed: int) -> None:
        self.library = method.library
        warmup, top = median_warmup(task.max_epochs), task.max_epochs
        if method.library == "hptune":
            import hptune as ht

            pruners: dict[str | None, Any] = {
                None: None,
                "median": ht.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup),
                "asha": ht.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
                "hyperband": ht.HyperbandPruner(
                    min_resource=1, max_resource=top, reduction_factor=3
                ),
            }
            sampler: Any = method.sampler
            if method.options:
                model = {"tpe": ht.TPESampler, "gp": ht.GPSampler}[method.sampler]
                sampler = model(seed=seed, **dict(method.options))
            self.study = ht.create_study(
                direction=task.direction,
                sampler=sampler,
                pruner=pruners[method.pruner],
                seed=seed,
            )
        else:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            pruners = {
                "median": optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup),
                "asha": optuna.pruners.SuccessiveHalvingPruner(
                    min_resource=1, reduction_factor=3, min_early_stopping_rate=0
                ),
                "hyperband": optuna.pruners.HyperbandPruner(
                    min_resource=1, max_resource=top, reduction_factor=3
                ),
            }
            self.study = optuna.create_study(
                direction=task.direction,
                sampler=optuna.samplers.TPESampler(seed=seed),
                pruner=pruners[method.pruner],
            )
            self._states = optuna.trial.TrialState

    def ask(self) -> Any:
        return self.study.ask()

    def tell(self, trial: Any, state: str, value: float | None) -> None:
        if state == "complete":
            self.study.tell(trial, value)
        elif self.library == "hptune":
            self.study.tell(trial, state="fail" if state == "fail" else "pruned")
        else:
            fail, pruned = self._states.FAIL, self._states.PRUNED
            self.study.tell(trial, state=fail if state == "fail" else pruned)


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial ``number``'s curve (noise, or a network's training) in run ``seed``."""
    return 100_000 * seed + number


def needs_held_out(record: dict[str, Any]) -> bool:
    """Whether a (cached) record lacks the held-out score its task can give."""
    task = make_task(record["task"], record["max_epochs"])
    has_true = any(t is not None for t in record["trials"]["true"])
    return task.held_out is not None and record["best_params"] is not None and not has_true


def run_one(task_name: str, max_epochs: int, method_name: str, seed: int, budget: int) -> dict:
    """Let a method spend ``budget`` epochs on a task; return every trial's record.

    Trials run one after another. Each trains epoch by epoch, reports its score at step
    ``epoch`` (1-based: the step is the number of epochs trained, the pruners' resource)
    and asks whether to stop; a trial that trains all ``max_epochs`` epochs is complete
    (the last epoch is not checked). When the budget runs out mid-trial, that trial is cut
    (told as pruned) and the run ends. Times are seconds since the run started;
    ``train_seconds`` is the time spent training, the rest is the library's. Where the
    task has held-out data, the final incumbent's held-out score is its ``true`` entry
    (:func:`add_held_out`, after the clock stops).
    """
    task = make_task(task_name, max_epochs)
    method = METHOD_BY_NAME[method_name]
    task.setup()
    study = _Study(method, task, seed)
    columns: dict[str, list[Any]] = {k: [] for k in ("epochs", "state", "value", "true", "end")}
    spent, train_seconds = 0, 0.0
    best_params: dict[str, Any] | None = None
    best: float | None = None
    sign = 1.0 if task.direction == "minimize" else -1.0
    start = time.perf_counter()
    while spent < budget:
        trial = study.ask()
        params = task.suggest(trial)
        number = len(columns["state"])
        values = task.curve(params, trial_seed(seed, number))
        epochs, state, value = 0, "complete", None
        while True:
            t0 = time.perf_counter()
            try:
                score = next(values)
            except FloatingPointError:
                state = "fail"
            train_seconds += time.perf_counter() - t0
            epochs += 1
            spent += 1
            if state == "fail":
                break
            trial.report(score, step=epochs)
            if epochs == task.max_epochs:
                value = score
                break
            if spent >= budget:
                state = "cut"
                break
            if trial.should_prune():
                state = "pruned"
                break
        study.tell(trial, state, value)
        true = None
        if value is not None:
            if task.true_value is not None:
                true = task.true_value(params)
            if best is None or sign * value < sign * best:
                best, best_params = value, params
        for key, item in zip(
            columns, (epochs, state, value, true, time.perf_counter() - start), strict=True
        ):
            columns[key].append(item)
    record = {
        "task": task_name,
        "max_epochs": max_epochs,
        "method": method_name,
        "seed": seed,
        "budget": budget,
        "seconds": time.perf_counter() - start,
        "train_seconds": train_seconds,
        "best_params": best_params,
        "trials": columns,
    }
    return add_held_out(record)


def add_held_out(record: dict[str, Any]) -> dict[str, Any]:
    """Record the final incumbent's held-out score as its ``true`` entry (if the task has one).

    The incumbent is the first complete trial with the run's best value (as the report
    takes it); it is trained again with its own seed, so the network is the one whose
    validation score was recorded. Also fills in records made before this was recorded.
    """
    task = make_task(record["task"], record["max_epochs"])
    trials, params = record["trials"], record["best_params"]
    if task.held_out is None or params is None:
        return record
    sign = 1.0 if task.direction == "minimize" else -1.0
    complete = [(sign * v, i) for i, v in enumerate(trials["value"]) if v is not None]
    index = min(complete)[1]  # the first of equal values: min breaks ties by index
    task.setup()
    trials["true"][index] = task.held_out(params, trial_seed(record["seed"], index))
    return record
