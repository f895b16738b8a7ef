"""Run ``optimize`` in worker processes that share the study's storage.

Each process is the same worker loop (ask, run, tell) against the same database, so
this is exactly what several ``hptune`` processes started by hand do. A process that
dies (SIGKILL, out of memory) is replaced; its trial is reclaimed through its missing
heartbeat (see :mod:`hptune.execution.leases`).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import pickle
import queue
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hptune.exceptions import ConfigurationError, HptuneError
from hptune.execution._progress import ProgressBar
from hptune.execution._running import set_running_listener
from hptune.execution.leases import fail_and_retry
from hptune.stopping import StopReason, StopRule
from hptune.storage import copy_study
from hptune.storage.memory import InMemoryStorage
from hptune.storage.sql import SQLStorage

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

    from hptune.records import FrozenTrial
    from hptune.study import Callback, Objective, Study

__all__ = ["run_processes"]

_logger = logging.getLogger("hptune")

# Replacements allowed per worker slot before the crash is taken as a bug, not bad luck.
_MAX_RESTARTS = 3
# Seconds a stopped worker gets to finish its trial before it is killed.
_STOP_GRACE = 5.0


@dataclass(frozen=True)
class _Job:
    """What one worker process needs; pickled to it."""

    study_name: str
    storage: Any
    sampler: Any
    pruner: Any
    leases: Any
    objective: Any
    n_trials: int | None
    timeout: float | None
    catch: tuple[type[BaseException], ...]
    callbacks: Sequence[Any]
    stop: StopRule | Sequence[StopRule] | None


def _worker_main(job: _Job, slot: int, done: Any, current: Any, results: Any) -> None:
    """Entry point of a worker process: run the loop, report the outcome."""
    from hptune.study import load_study

    def running(trial_id: int | None) -> None:
        current[slot] = -1 if trial_id is None else trial_id

    set_running_listener(running)

    # The parent stops a worker with SIGINT (see _stop_all). A process started in the
    # background inherits SIGINT ignored, and its workers would then ignore the stop and
    # be killed with their trial still running; take the signal in every worker.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _exit_with_parent()

    study = load_study(
        job.study_name, job.storage, sampler=job.sampler, pruner=job.pruner, leases=job.leases
    )

    def count(study: Study, trial: FrozenTrial) -> None:
        with done.get_lock():
            done[slot] += 1

    try:
        reason = study.optimize(
            job.objective,
            n_trials=job.n_trials,
            timeout=job.timeout,
            catch=job.catch,
            callbacks=[*job.callbacks, count],
            show_progress=False,
            stop=job.stop,
        )
    except Exception as e:  # outside catch: stops the whole run
        results.put((slot, "error", _dumps(e), f"{type(e).__name__}: {e}"))
        raise
    # Ctrl-C and SIGTERM (SystemExit) end the process without a report: it counts as
    # died, and the parent decides whether to start another.
    results.put((slot, "ok", pickle.dumps(reason), reason.message))


# Said when workers die before finishing a trial with exit code 1: most often a script
# without a main guard, which every spawned worker imports again.
_NO_MAIN_GUARD = (
    " Workers that die at once like this usually mean the script calls "
    "optimize(executor='processes') at module level: each worker process imports the "
    "script again, so put that code under `if __name__ == '__main__':` (a worker's own "
    "error is printed above)."
)


def _exit_with_parent() -> None:
    """Stop this worker as SIGTERM would (its trial failed and queued again) once the
    parent process is gone: a parent killed with SIGKILL leaves no orphan running."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent process has ended
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="hptune-parent-watch", daemon=True).start()


def _dumps(error: BaseException) -> bytes | None:
    try:
        return pickle.dumps(error)
    except Exception:
        return None


def _loads(payload: bytes | None, text: str) -> Any:
    try:
        return pickle.loads(payload) if payload is not None else HptuneError(text)
    except Exception:
        return HptuneError(text)


def _check_picklable(what: str, value: Any, hint: str) -> None:
    try:
        pickle.dumps(value)
    except Exception as e:
        raise ConfigurationError(f"executor='processes' needs {what} {hint}; {e}.") from None


def _move_to_temporary_file(study: Study) -> None:
    """Move an in-memory study to a temporary SQLite file that worker processes can open.

    The study keeps working on the file afterwards (its trials are copied there); the
    file is deleted when this process exits.
    """
    directory = tempfile.mkdtemp(prefix="hptune-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = os.path.join(directory, "study.db")
    target = SQLStorage(f"sqlite:///{path}")
    record = copy_study(study.storage, study.name, target)
    study.switch_storage(target, record)
    _logger.warning(
        "study %r: executor='processes' needs a storage that processes share, so the "
        "in-memory study was moved to the temporary SQLite file %s (deleted when this "
        "process exits). Give create_study a storage URL to keep the trials.",
        study.name,
        path,
    )


def _shares(n_trials: int | None, n_jobs: int) -> list[int | None]:
    if n_trials is None:
        return [None] * n_jobs
    return [n_trials // n_jobs + (1 if i < n_trials % n_jobs else 0) for i in range(n_jobs)]


def run_processes(
    study: Study,
    objective: Objective,
    *,
    n_trials: int | None,
    timeout: float | None,
    n_jobs: int,
    catch: tuple[type[BaseException], ...],
    callbacks: Sequence[Callback],
    stop: StopRule | Sequence[StopRule] | None,
    bar: ProgressBar,
) -> StopReason:
    """Run the worker loop in ``n_jobs`` processes; return why they stopped.

    ``n_trials`` is split between the processes (exactly that many trials in total,
    also when a process dies and is replaced). An exception outside ``catch`` in any
    process stops the others and is raised here.
    """
    _check_picklable(
        "an objective defined at the top level of a module",
        objective,
        "(lambdas and nested functions cannot be sent to other processes)",
    )
    _check_picklable("callbacks and stop rules that can be pickled", (callbacks, stop), "")
    # Only once the rest is known to be sendable: moving the study is not undone.
    if isinstance(study.storage, InMemoryStorage):
        _move_to_temporary_file(study)
    _check_picklable(
        "a storage every process can open",
        study.storage,
        "(create the study with storage='sqlite:///study.db' or a PostgreSQL URL)",
    )
    job = _Job(
        study.name,
        study.storage,
        study.sampler,
        study.pruner,
        study.leases,
        objective,
        None,
        timeout,
        catch,
        tuple(callbacks),
        stop,
    )
    ctx = multiprocessing.get_context("spawn")
    shares = _shares(n_trials, n_jobs)
    done = ctx.Array("i", n_jobs)
    current = ctx.Array("q", [-1] * n_jobs)  # the trial id each worker runs, -1 for none
    results: Any = ctx.Queue()
    restarts = [0] * n_jobs
    started = time.monotonic()

    def start(slot: int) -> SpawnProcess:
        left = shares[slot]
        remaining = None if left is None else left - done[slot]
        seconds = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        slot_job = dataclasses.replace(job, n_trials=remaining, timeout=seconds)
        process = ctx.Process(
            target=_worker_main,
            args=(slot_job, slot, done, current, results),
            name=f"hptune-worker-{slot}",
            daemon=False,
        )
        process.start()
        return process

    processes = {slot: start(slot) for slot in range(n_jobs) if shares[slot] != 0}
    outcomes: dict[int, tuple[str, Any]] = {}
    seen = [study.history_view().n_seen]  # the finished trials the bar has shown
    try:
        while processes:
            try:
                slot, kind, payload, text = results.get(timeout=0.5)
                outcomes[slot] = (kind, _loads(payload, text))
                if kind == "error":
                    break
            except queue.Empty:
                pass
            _show_progress(study, seen, bar)
            for slot, process in list(processes.items()):
                if process.is_alive():
                    continue
                process.join()
                del processes[slot]
                if slot in outcomes or process.exitcode == 0:
                    continue
                _reclaim(study, current, slot, f"died with exit code {process.exitcode}")
                restarts[slot] += 1
                if restarts[slot] > _MAX_RESTARTS:
                    hint = ""
                    if done[slot] == 0 and process.exitcode == 1:
                        hint = _NO_MAIN_GUARD
                    raise HptuneError(
                        f"worker process {slot} died {restarts[slot]} times (last exit code "
                        f"{process.exitcode}); giving up.{hint}"
                    )
                _logger.warning(
                    "worker process %d died (exit code %s); starting another",
                    slot,
                    process.exitcode,
                )
                processes[slot] = start(slot)
    finally:
        for slot in _stop_all(processes):
            _reclaim(study, current, slot, "was killed: it did not stop", retry=False)
    _drain(results, outcomes)
    errors = [value for kind, value in outcomes.values() if kind == "error"]
    if errors:
        raise errors[0]
    reasons = [value for kind, value in outcomes.values() if kind == "ok"]
    others: list[StopReason] = [r for r in reasons if r.rule != "n_trials"]
    if others:
        return others[0]
    total = sum(done[:])
    return StopReason(
        "n_trials", f"{total} trials ran in {n_jobs} processes (n_trials={n_trials})."
    )


def _show_progress(study: Study, seen: list[int], bar: ProgressBar) -> None:
    if not bar.enabled:
        return
    view = study.history_view()
    for trial in view.finished_since(seen[0]):  # each finished trial once
        bar.update(trial)
    seen[0] = view.n_seen


def _stop_all(processes: dict[int, SpawnProcess]) -> list[int]:
    """Stop workers still running: SIGINT (their trials fail, no retry), then SIGKILL.

    Returns the slots of the workers that had to be killed.
    """
    for process in processes.values():
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
    deadline = time.monotonic() + _STOP_GRACE
    killed = []
    for slot, process in processes.items():
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
            killed.append(slot)
    return killed


def _reclaim(study: Study, current: Any, slot: int, why: str, *, retry: bool = True) -> None:
    """Fail the trial a dead worker was running, at once (not after the grace period).

    With ``retry``, it is queued again with its parameters while retries remain.
    """
    trial_id = current[slot]
    if trial_id < 0:
        return
    current[slot] = -1
    fail_and_retry(
        study.storage,
        study.study_id,
        trial_id,
        f"lost worker: worker process {slot} {why}",
        max_retries=study.leases.max_retries if retry else 0,
    )


def _drain(results: Any, outcomes: dict[int, tuple[str, Any]]) -> None:
    while True:
        try:
            slot, kind, payload, text = results.get(timeout=0.05)
        except queue.Empty:
            return
        outcomes.setdefault(slot, (kind, _loads(payload, text)))
