"""Execution: the worker loop (ask, run the objective, tell) and the executors running it."""

from __future__ import annotations

from hptune.execution.worker import run_optimize, run_trial
from hptune.study import register_optimize_runner

register_optimize_runner(run_optimize)

__all__ = ["run_optimize", "run_trial"]
