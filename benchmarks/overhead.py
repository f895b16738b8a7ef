"""Cost per trial of the tuning machinery: ask + tell, random sampler, 4 parameters.

hptune and Optuna (if installed: ``pip install 'hptune[bench]'``) run the same loop in the
same process, on the same storages, and the report gives the ratio. Run::

    python benchmarks/overhead.py --trials 1000 --out benchmarks/results/overhead.md
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import hptune as ht

SPACE = {
    "lr": ht.Float(1e-5, 1e-1, log=True),
    "dropout": ht.Float(0.0, 0.5),
    "depth": ht.Int(1, 8),
    "optimizer": ht.Categorical(["adam", "sgd", "rmsprop"]),
}


def _value(params: dict[str, object]) -> float:
    return float(params["dropout"]) + float(params["depth"])  # type: ignore[arg-type]


def hptune_loop(storage: str | None) -> Callable[[], None]:
    study = ht.create_study(storage=storage, sampler="random", seed=0)

    def one() -> None:
        trial = study.ask(SPACE)
        study.tell(trial, _value(trial.params))

    return one


def optuna_loop(storage: str | None) -> Callable[[], None] | None:
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {
        "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
        "dropout": optuna.distributions.FloatDistribution(0.0, 0.5),
        "depth": optuna.distributions.IntDistribution(1, 8),
        "optimizer": optuna.distributions.CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    }
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))

    def one() -> None:
        trial = study.ask(space)
        study.tell(trial, _value(trial.params))

    return one


def measure(loop: Callable[[], None], n_trials: int, checkpoints: list[int]) -> dict[int, float]:
    """Run ``n_trials`` iterations; median milliseconds per iteration around each checkpoint."""
    times: list[float] = []
    for _ in range(n_trials):
        start = time.perf_counter()
        loop()
        times.append(time.perf_counter() - start)
    window = 25
    return {
        c: 1000 * statistics.median(times[max(0, c - window) : c + window])
        for c in checkpoints
        if c <= n_trials
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    checkpoints = [c for c in (100, 1000, 10000) if c <= args.trials]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("memory", "sqlite"):
            results = {}
            for lib, make in (("hptune", hptune_loop), ("optuna", optuna_loop)):
                url = None if backend == "memory" else f"sqlite:///{tmp}/{lib}.db"
                loop = make(url)
                if loop is not None:
                    results[lib] = measure(loop, args.trials, checkpoints)
            for c in checkpoints:
                h = results["hptune"][c]
                o = results.get("optuna", {}).get(c)
                ratio = f"{o / h:.1f}x" if o else "n/a"
                rows.append(
                    f"| {backend} | {c} | {h:.3f} | {o:.3f} | {ratio} |"
                    if o
                    else f"| {backend} | {c} | {h:.3f} | n/a | n/a |"
                )
    try:
        import optuna

        peer = f"Optuna {optuna.__version__}"
    except ImportError:
        peer = "Optuna (not installed)"
    report = "\n".join(
        [
            "# Cost per trial: ask + tell",
            "",
            f"Random sampler, 4 parameters (log float, float, int, categorical), declarative ask, "
            f"{args.trials} trials per run, median ms per ask+tell over the 50 trials around each "
            f"checkpoint. hptune {ht.__version__} beside {peer}, one process, same machine "
            f"({platform.python_version()}, {platform.machine()}). Ratio = Optuna / hptune "
            "(higher is better for hptune). One run; machines here are noisy.",
            "",
            "| storage | at trial | hptune ms | Optuna ms | ratio |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
