"""The worker loop: ask, run the objective, tell; and ``optimize`` over threads."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hptune.ask import ask
from hptune.exceptions import (
    ConfigurationError,
    HptuneWarning,
    InvalidValueError,
    ObjectiveError,
    SearchSpaceExhausted,
    TrialFinishedError,
    TrialPruned,
    TrialStateError,
)
from hptune.execution._progress import ProgressBar
from hptune.execution._running import notify_running
from hptune.execution.leases import Heartbeat, fail_and_retry
from hptune.records import FrozenTrial, TrialState
from hptune.stopping import StopReason, StopRule, StudyProgress, Timeout
from hptune.tell import tell

if TYPE_CHECKING:
    from hptune.study import Callback, Objective, Study

__all__ = [
    "EXECUTORS",
    "RunningTrials",
    "Terminated",
    "run_optimize",
    "run_trial",
]

EXECUTORS = ("threads", "processes")

_logger = logging.getLogger("hptune")

# With the default catch, optimize stops once this many first trials failed the same way.
_SAME_FAILURES = 3

# Longest traceback text kept with a failed trial.
_MAX_TRACEBACK_CHARS = 8000


def _fail(study: Study, trial_id: int, reason: str, tb: str | None = None) -> FrozenTrial:
    attrs = {"fail_reason": reason}
    if tb is not None:
        attrs["traceback"] = tb[-_MAX_TRACEBACK_CHARS:]
    try:
        return study.storage.finish_trial(trial_id, TrialState.FAIL, system_attrs=attrs)
    except TrialFinishedError:  # finished meanwhile (interrupted, or told by the objective)
        return study.storage.get_trial(trial_id)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the worker gets SIGTERM or SIGHUP (preemption)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class RunningTrials:
    """The trials this worker runs now, each with a heartbeat while it runs."""

    def __init__(self, study: Study) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._heartbeat = Heartbeat(study.storage, study.leases.heartbeat_interval)

    def add(self, trial_id: int) -> None:
        with self._lock:
            self._ids.add(trial_id)
        self._heartbeat.add(trial_id)
        notify_running(trial_id)

    def discard(self, trial_id: int) -> None:
        self._heartbeat.discard(trial_id)
        with self._lock:
            self._ids.discard(trial_id)
        notify_running(None)

    def ids(self) -> list[int]:
        with self._lock:
            return sorted(self._ids)

    def close(self) -> None:
        self._heartbeat.stop()


def _interrupted(study: Study, trial_id: int, error: KeyboardInterrupt) -> None:
    """Finish a trial cut short: Ctrl-C fails it; SIGTERM/SIGHUP fail it and retry it."""
    if isinstance(error, Terminated):
        reason = f"interrupted ({error.args[0]}: the worker was stopped)"
        fail_and_retry(
            study.storage, study.study_id, trial_id, reason, max_retries=study.leases.max_retries
        )
    else:
        _fail(study, trial_id, "interrupted (KeyboardInterrupt)")


def run_trial(
    study: Study,
    objective: Objective,
    catch: tuple[type[BaseException], ...],
    running: RunningTrials | None = None,
) -> FrozenTrial:
    """Run one trial: ask, call the objective, tell; return the finished record.

    An exception in ``catch`` fails the trial (type, message and traceback stored);
    any other exception fails it and is raised. A NaN or infinite value, or a value of
    the wrong type, fails the trial with the reason stored. With ``running``, the trial
    sends heartbeats while it runs.
    """
    # A Ctrl-C or SIGTERM during ask would leave a trial RUNNING that no one runs or
    # sends heartbeats for; held until the trial is registered, the signal fails it.
    with _deferred_signals():
        trial = ask(study, leased=running is not None)
        if running is not None:
            running.add(trial.trial_id)
    try:
        try:
            result = objective(trial)
        except TrialPruned as e:
            pruned = tell(study, trial, state=TrialState.PRUNED, reason=str(e) or None)
            _log_finished(pruned)
            return pruned
        except KeyboardInterrupt as e:  # before catch: Ctrl-C is never an ordinary failure
            _interrupted(study, trial.trial_id, e)
            raise
        except catch as e:
            reason = f"{type(e).__name__}: {e}"
            _logger.warning("trial %d failed: %s", trial.number, reason)
            return _fail(study, trial.trial_id, reason, traceback.format_exc())
        except BaseException as e:
            _fail(study, trial.trial_id, f"{type(e).__name__}: {e}", traceback.format_exc())
            raise
        try:
            with _deferred_signals():  # the tell is written whole or not at all
                finished = study.tell(trial, result)
        except InvalidValueError as e:
            warnings.warn(f"trial {trial.number} failed: {e}", HptuneWarning, stacklevel=2)
            return _fail(study, trial.trial_id, str(e))
        except TrialFinishedError:
            return study.storage.get_trial(trial.trial_id)
        if finished.state is TrialState.FAIL:
            _logger.warning("trial %d failed: %s", trial.number, finished.fail_reason)
        else:
            _log_finished(finished)
        return finished
    finally:
        if running is not None:
            running.discard(trial.trial_id)


def _log_finished(trial: FrozenTrial) -> None:
    """The line users look for at INFO: how a trial ended, with what, from what."""
    values = trial.values or ()
    shown = values[0] if len(values) == 1 else list(values) if values else None
    why = f" ({trial.prune_reason})" if trial.prune_reason else ""
    _logger.info(
        "trial %d %s%s with value %s and parameters %s",
        trial.number,
        "finished" if trial.state is TrialState.COMPLETE else trial.state.value,
        why,
        shown,
        trial.params,
    )


def _as_catch(
    catch: Iterable[type[BaseException]] | type[BaseException],
) -> tuple[type[BaseException], ...]:
    # A string, an exception instance or None is one (bad) item, not an iterable of them.
    items: tuple[Any, ...]
    if isinstance(catch, (type, str, bytes)) or not isinstance(catch, Iterable):
        items = (catch,)
    else:
        items = tuple(catch)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ConfigurationError(
                f"catch must hold exception classes such as ValueError, got {item!r}."
            )
    return items


def _as_rules(stop: StopRule | Sequence[StopRule] | None, timeout: float | None) -> list[StopRule]:
    rules: list[Any]
    if stop is None:
        rules = []
    elif isinstance(stop, (StopRule, str, bytes)) or not isinstance(stop, Iterable):
        rules = [stop]  # one rule, or one bad item named in the error below
    else:
        rules = list(stop)
    for rule in rules:
        if not isinstance(rule, StopRule):
            raise ConfigurationError(
                f"stop must hold StopRule objects such as hptune.MaxTrials(100), got {rule!r}."
            )
    if timeout is not None:
        rules.append(Timeout(timeout))
    return rules


def _n_workers(n_jobs: int) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ConfigurationError(f"n_jobs must be >= 1 or -1 (one per CPU), got {n_jobs!r}.")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


@dataclass
class _Loop:
    """The shared state of one optimize call's workers."""

    study: Study
    n_trials: int | None
    rules: list[StopRule]
    stop_event: threading.Event
    started_at: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    n_started: int = 0
    reason: StopReason | None = None
    error: BaseException | None = None
    running: RunningTrials | None = None
    # Failure reasons of this call's first trials while all of them failed (None: a trial
    # did not fail, so the objective runs; or the caller chose what to catch).
    first_failures: list[str] | None = None

    def note(self, trial: FrozenTrial) -> None:
        """Stop with ObjectiveError once the first trials all failed the same way."""
        with self.lock:
            failures = self.first_failures
            if failures is None:
                return
            raised = trial.state is TrialState.FAIL and "traceback" in trial.system_attrs
            if not raised or (failures and trial.fail_reason != failures[0]):
                self.first_failures = None
                return
            failures.append(trial.fail_reason or "")
            if len(failures) < _SAME_FAILURES or self.error is not None:
                return
            self.reason = StopReason("error", f"ObjectiveError: {failures[0]}")
            self.error = ObjectiveError(
                f"the first {len(failures)} trials all failed with {failures[0]!r}: that looks "
                "like a bug in the objective rather than bad parameters, so optimize stops "
                "instead of failing every trial. Fix the objective, or pass catch=(...) with "
                "the exceptions a bad configuration may raise to go on regardless.\n\n"
                f"The last trial's traceback:\n{trial.system_attrs['traceback']}"
            )

    def next_slot(self) -> bool:
        """Reserve a trial unless a stop condition holds (then record why)."""
        with self.lock:
            if self.reason is None:
                self.reason = self._why_stop()
            if self.reason is not None:
                return False
            self.n_started += 1
            return True

    def _why_stop(self) -> StopReason | None:
        if self.stop_event.is_set():
            return StopReason("stopped", "study.stop() was called.")
        if self.n_trials is not None and self.n_started >= self.n_trials:
            return StopReason("n_trials", f"{self.n_trials} trials ran (n_trials={self.n_trials}).")
        if not self.rules:
            return None
        progress = StudyProgress(
            self.study.history_view(), self.study.directions, time.monotonic() - self.started_at
        )
        for rule in self.rules:
            reason = rule.check(progress)
            if reason is not None:
                return reason
        return None

    def set_reason(self, reason: StopReason) -> None:
        with self.lock:
            if self.reason is None:
                self.reason = reason


def _work(
    loop: _Loop,
    objective: Objective,
    catch: tuple[type[BaseException], ...],
    callbacks: Sequence[Callback],
    bar: ProgressBar,
) -> None:
    while loop.next_slot():
        try:
            finished = run_trial(loop.study, objective, catch, loop.running)
        except SearchSpaceExhausted as e:
            loop.set_reason(StopReason("exhausted", str(e)))
            return
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            loop.set_reason(StopReason("error", f"{type(e).__name__}: {e}"))
            with loop.lock:
                loop.error = loop.error or e
            return
        bar.update(finished)
        for callback in callbacks:
            callback(loop.study, finished)
        loop.note(finished)


def run_optimize(
    study: Study,
    objective: Objective,
    *,
    n_trials: int | None,
    timeout: float | None,
    n_jobs: int,
    catch: Iterable[type[BaseException]] | type[BaseException],
    callbacks: Sequence[Callback],
    show_progress: bool | None,
    stop: StopRule | Sequence[StopRule] | None,
    stop_event: threading.Event,
    executor: str = "threads",
) -> StopReason:
    """Run trials in ``n_jobs`` threads or processes until a stop rule fires.

    See ``Study.optimize``.
    """
    if executor not in EXECUTORS:
        raise ConfigurationError(
            f"executor must be one of {list(EXECUTORS)}, got executor={executor!r}."
        )
    if not callable(objective):
        raise ConfigurationError(f"objective must be callable, got {objective!r}.")
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0
    ):
        raise ConfigurationError(f"n_trials must be an int >= 0 or None, got {n_trials!r}.")
    catch_types = _as_catch(catch)
    loop = _Loop(study, n_trials, _as_rules(stop, timeout), stop_event)
    if catch_types == (Exception,):  # the default: a bug would fail every trial quietly
        loop.first_failures = []
    workers = _n_workers(n_jobs)
    bar = ProgressBar(
        enabled=show_progress,
        total=_expected_trials(loop),
        name=study.name,
        directions=study.directions,
        best=_best_so_far(study),
    )
    if executor == "processes":
        from hptune.execution.processes import run_processes

        try:
            return run_processes(
                study,
                objective,
                n_trials=n_trials,
                timeout=timeout,
                n_jobs=workers,
                catch=catch_types,
                callbacks=callbacks,
                stop=stop,
                bar=bar,
            )
        finally:
            bar.close()
    loop.running = RunningTrials(study)
    restore = _catch_termination()
    try:
        if workers == 1:
            _work(loop, objective, catch_types, callbacks, bar)
        else:
            _run_threads(loop, workers, objective, catch_types, callbacks, bar)
    except KeyboardInterrupt as e:
        loop.set_reason(
            StopReason("interrupted", f"interrupted ({e.args[0] if e.args else 'Ctrl-C'}).")
        )
        loop.stop_event.set()
        for trial_id in loop.running.ids():
            _interrupted(study, trial_id, e)
        if isinstance(e, Terminated):
            raise SystemExit(128 + e.signum) from None
        raise
    finally:
        restore()
        loop.running.close()
        bar.close()
    if loop.error is not None:
        raise loop.error
    assert loop.reason is not None
    return loop.reason


def _catch_termination() -> Callable[[], None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` in the main thread; return undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), handler) for n in names}

    def restore() -> None:
        for name, old in previous.items():
            signal.signal(getattr(signal, name), old)

    return restore


_DEFERRABLE = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def _deferred_signals() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then act on them.

    Only signals that Python handles (Ctrl-C's KeyboardInterrupt, :class:`Terminated`)
    are held, and only in the main thread, where Python delivers them. The block must be
    short: a storage round trip, not an objective.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous: dict[int, Callable[[int, Any], Any]] = {}
    for signum in _DEFERRABLE:
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = handler
            signal.signal(signum, lambda n, _frame: held.append(n))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            previous[held[0]](held[0], None)


def _run_threads(
    loop: _Loop,
    workers: int,
    objective: Objective,
    catch: tuple[type[BaseException], ...],
    callbacks: Sequence[Callback],
    bar: ProgressBar,
) -> None:
    # Daemon threads: after Ctrl-C the main thread marks their trials failed and leaves
    # without waiting for objectives that cannot be interrupted.
    threads = [
        threading.Thread(
            target=_work,
            args=(loop, objective, catch, callbacks, bar),
            name=f"hptune-worker-{i}",
            daemon=True,
        )
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)


def _expected_trials(loop: _Loop) -> int | None:
    """The number of trials this call will run if no other rule fires first, or None."""
    progress = StudyProgress(loop.study.history_view(), loop.study.directions, 0.0)
    counts = [r.remaining(progress) for r in loop.rules]
    known = [c for c in [loop.n_trials, *counts] if c is not None]
    return min(known) if known else None


def _best_so_far(study: Study) -> float | None:
    if study.is_multi_objective:
        return None
    try:
        return study.best_value
    except TrialStateError:
        return None
