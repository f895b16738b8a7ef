"""Objectives for worker processes: importable by name, so they can be pickled (spawn)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import hptune as ht


def quick(trial: ht.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    time.sleep(0.02)
    return x * x


def slow(trial: ht.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    time.sleep(0.25)
    return x * x


def raises_key_error(trial: ht.Trial) -> float:
    trial.suggest_float("x", -1.0, 1.0)
    raise KeyError("missing column")


class KillOnce:
    """Kill the worker process (SIGKILL) in the middle of its first trial, once per run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __call__(self, trial: ht.Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        if not self.marker.exists():
            self.marker.write_text(str(trial.number))
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.25)
        return x * x


class StuckOrRaise:
    """One worker's trial ignores Ctrl-C and hangs; the other's raises once it hangs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __call__(self, trial: ht.Trial) -> float:
        trial.suggest_float("x", -1.0, 1.0)
        if trial.number == 0:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's stop is not heard
            self.marker.write_text("stuck")
            time.sleep(600)
        deadline = time.monotonic() + 120
        while not self.marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        raise KeyError("missing column")


def create_or_load(url: str, barrier: Any) -> int:
    """Wait for every process, then create the study "s" or load it; its id."""
    barrier.wait(timeout=60)
    return ht.create_study("s", url, load_if_exists=True).study_id


class PidThenSleep:
    """Record the worker's pid in ``folder``, then train for a long time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, trial: ht.Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        (self.folder / str(os.getpid())).write_text(str(trial.number))
        time.sleep(600)
        return x * x


def optimize_in_processes(url: str, folder: str) -> None:
    """The parent of a run whose test kills it: two workers on the study "orphans"."""
    study = ht.create_study("orphans", url, sampler="random", seed=0, load_if_exists=True)
    study.optimize(
        PidThenSleep(Path(folder)),
        n_trials=4,
        n_jobs=2,
        executor="processes",
        show_progress=False,
    )
