"""Studies: create, load, ask/tell, optimize, and read the results."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from hptune import ask as _ask
from hptune import pruning as _pruning
from hptune import tell as _tell
from hptune.exceptions import (
    ConfigurationError,
    DuplicatedStudyError,
    InvalidValueError,
    TrialStateError,
)
from hptune.history import HistoryView
from hptune.leases import Leases
from hptune.pruners import Pruner, get_pruner
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.samplers import Sampler, get_sampler
from hptune.space import Distribution
from hptune.stopping import StopReason, StopRule
from hptune.storage import Storage, StudyRecord, get_storage
from hptune.trial import Trial
from hptune.validation import check_json_value, check_name

if TYPE_CHECKING:
    import pandas

__all__ = [
    "Callback",
    "Objective",
    "Study",
    "create_study",
    "delete_study",
    "list_studies",
    "load_study",
]

# The loop ``Study.optimize`` runs: ``runner(study, objective, **options)``.
OptimizeRunner = Callable[..., StopReason]

# The execution layer sits above the study, so it registers its loop here when it is
# imported (``import hptune`` imports it) rather than being imported by the study.
_optimize_runner: OptimizeRunner | None = None


def register_optimize_runner(runner: OptimizeRunner) -> None:
    """Set the loop that :meth:`Study.optimize` runs (done by ``hptune.execution``)."""
    global _optimize_runner
    _optimize_runner = runner


class Objective(Protocol):
    """What ``optimize`` calls: train with the trial's parameters, return the score(s)."""

    def __call__(self, trial: Trial) -> float | Sequence[float]: ...


class Callback(Protocol):
    """Called by ``optimize`` after each trial finishes, in the thread that ran it."""

    def __call__(self, study: Study, trial: FrozenTrial) -> None: ...


class Study:
    """A search: its trials in the storage, plus the sampler and pruner that drive it.

    Made by :func:`create_study` or :func:`load_study`. Thread-safe: several threads may
    ``ask``, ``tell`` and run trials at once.

    Attributes:
        storage: where the trials live (the single source of truth).
        sampler: proposes parameters.
        pruner: stops unpromising trials, or None.
        leases: heartbeat interval, grace period and retries for trials of lost workers.
        stop_reason: why the last ``optimize`` call ended, or None before one.
    """

    def __init__(
        self,
        record: StudyRecord,
        storage: Storage,
        sampler: Sampler,
        pruner: Pruner | None,
        leases: Leases | None = None,
    ) -> None:
        self.storage = storage
        self.sampler = sampler
        self.pruner = pruner
        self.leases = leases if leases is not None else Leases()
        self.stop_reason: StopReason | None = None
        self._next_reap = 0.0
        self._record = record
        self._ask_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._planned_trials: int | None = None  # the budget of the running optimize call

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, directions={[d.value for d in self.directions]})"

    def switch_storage(self, storage: Storage, record: StudyRecord) -> None:
        """Go on with the copy of this study in ``storage`` (see ``storage.copy_study``)."""
        with self._ask_lock:
            self.storage, self._record = storage, record

    def _read(self) -> HistoryView:
        """The study's history, advanced by what changed in the storage since the last read.

        One :class:`~hptune.history.History` per storage object and study, shared by
        every reader (the study, its samplers and pruner, ``storage.get_trials``).
        """
        return self.storage.history(self.study_id).advance(self.storage, self.study_id)

    @property
    def name(self) -> str:
        """The study's name, unique in its storage."""
        return self._record.name

    @property
    def study_id(self) -> int:
        """The study's id in its storage."""
        return self._record.study_id

    @property
    def directions(self) -> tuple[StudyDirection, ...]:
        """One direction per objective."""
        return self._record.directions

    @property
    def direction(self) -> StudyDirection:
        """The direction of a single-objective study."""
        self._require_single("direction", "directions")
        return self.directions[0]

    @property
    def is_multi_objective(self) -> bool:
        """True when the study has several objectives."""
        return len(self.directions) > 1

    # Reading ---------------------------------------------------------------------------

    def history(self, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        """Return the study's trials ordered by number, optionally only some states."""
        return self._read().select(states)

    def history_view(self) -> HistoryView:
        """The study's trials as a read-only sequence ordered by number, without a copy.

        Advanced by what changed in the storage since the last read; a view stays the
        same while the study moves on. ``view.finished_since(n)`` gives the trials that
        finished after the first ``n`` this history saw finish (``view.n_seen`` of an
        earlier view), so a reader that polls (a progress bar, a dashboard) reads each
        finished trial once. Records are shared: do not change them.
        """
        return self._read()

    @property
    def trials(self) -> list[FrozenTrial]:
        """Every trial of the study, ordered by number."""
        return self.history()

    @property
    def best_trial(self) -> FrozenTrial:
        """The complete trial with the best value (the earliest on a tie).

        Trials that violate a constraint (see :meth:`Trial.set_constraints`) are left out.
        """
        self._require_single("best_trial", "best_trials")
        complete = self.history(states=[TrialState.COMPLETE])
        if not complete:
            raise TrialStateError(
                f"study {self.name!r} has no complete trial yet; run some trials first."
            )
        complete = [t for t in complete if t.feasible]
        if not complete:
            raise TrialStateError(
                f"study {self.name!r} has no complete trial that meets its constraints; "
                "every trial has a constraint value above 0."
            )
        sign = 1.0 if self.direction is StudyDirection.MINIMIZE else -1.0
        return min(complete, key=lambda t: sign * t.values[0] if t.values else math.inf)

    @property
    def best_params(self) -> dict[str, Any]:
        """The parameters of :attr:`best_trial`."""
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        """The value of :attr:`best_trial`."""
        value = self.best_trial.value
        assert value is not None
        return value

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto-optimal complete trials (the best trial for a single objective).

        Only trials that meet their constraints count; none when no trial does.
        """
        complete = [
            t for t in self.history(states=[TrialState.COMPLETE]) if t.values and t.feasible
        ]
        if not self.is_multi_objective:
            return [self.best_trial] if complete else []
        from hptune.dominance import pareto_front

        return pareto_front(complete, self.directions)

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The study's user attributes."""
        return dict(self.storage.load_study(self.name).user_attrs)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Store a JSON value with the study."""
        check_json_value(f"study attribute {key!r}", value)
        self.storage.set_study_attr(self.study_id, key, value)

    # Ask and tell -----------------------------------------------------------------------

    def ask(self, space: Mapping[str, Any] | None = None) -> Trial:
        """Start a trial and return its handle.

        With a declarative ``space`` every parameter is proposed now (``trial.params``
        holds them); without one, parameters are proposed as the objective suggests them.
        An enqueued trial (see :meth:`enqueue_trial`) is started first.

        Raises:
            SearchSpaceExhausted: a finite sampler (grid) has no point left.
        """
        return _ask.ask(self, space)

    # What a Trial may do with its study (the TrialHost interface of hptune.trial) -------

    def propose_one(self, trial: Trial, name: str, distribution: Distribution) -> Any:
        """Ask the sampler for one parameter met inside the objective (used by Trial).

        The sampler sees the history as it stood when the trial started: proposals
        inside one trial do not reread the storage.
        """
        return _ask.propose_one(self, trial, name, distribution)

    def should_prune(self, trial: Trial) -> bool:
        """Ask the pruner whether ``trial`` should stop (used by Trial.should_prune)."""
        return _pruning.should_prune(self, trial)

    def record_params(self, trial: Trial, params: Mapping[str, tuple[Distribution, Any]]) -> None:
        """Store parameters of a running trial (used by Trial)."""
        self.storage.set_trial_params(trial.trial_id, params)

    def record_intermediate(self, trial: Trial, step: int | float, value: float) -> None:
        """Store a reported value of a running trial (used by Trial)."""
        self.storage.set_trial_intermediate(trial.trial_id, step, value)

    def record_attr(self, trial: Trial, key: str, value: Any, *, system: bool = False) -> None:
        """Store an attribute of a running trial (used by Trial)."""
        self.storage.set_trial_attr(trial.trial_id, key, value, system=system)

    def tell(
        self,
        trial: Trial | int,
        value: float | Sequence[float] | None = None,
        *,
        values: Sequence[float] | None = None,
        state: TrialState | str | None = None,
        constraints: Sequence[float] | None = None,
    ) -> FrozenTrial:
        """Finish a trial with its value(s), or as pruned or failed; return its record.

        ``trial`` is the handle from :meth:`ask` or a trial number. A NaN or infinite
        value fails the trial (the reason is stored). A pruned trial keeps its last
        reported value. ``constraints`` are recorded with the result, as
        :meth:`Trial.set_constraints` does (each is met when <= 0).

        Raises:
            InvalidValueError: a value of the wrong type, or the wrong number of values.
            TrialFinishedError: the trial is finished already (nothing changes).
        """
        return _tell.tell(self, trial, value, values=values, state=state, constraints=constraints)

    def enqueue_trial(
        self, params: Mapping[str, Any], *, user_attrs: Mapping[str, Any] | None = None
    ) -> FrozenTrial:
        """Queue a configuration to evaluate before the sampler's proposals.

        The next ``ask`` starts it; the objective's suggest calls return these values
        (each checked against its distribution then). Parameters not given are proposed.
        """
        if not isinstance(params, Mapping):
            raise InvalidValueError(f"enqueue_trial needs a dict of parameters, got {params!r}.")
        check_json_value("enqueued parameters", dict(params))
        attrs: dict[str, Any] = {"fixed_params": dict(params)}
        if user_attrs:
            check_json_value("enqueued user attributes", dict(user_attrs))
            attrs["enqueued_user_attrs"] = dict(user_attrs)
        return self.storage.create_trial(
            self.study_id, state=TrialState.WAITING, system_attrs=attrs
        )

    # Optimize ---------------------------------------------------------------------------

    def optimize(
        self,
        objective: Objective,
        n_trials: int | None = None,
        timeout: float | None = None,
        n_jobs: int = 1,
        catch: Iterable[type[BaseException]] | type[BaseException] = (Exception,),
        callbacks: Sequence[Callback] = (),
        show_progress: bool | None = None,
        stop: StopRule | Sequence[StopRule] | None = None,
        executor: Literal["threads", "processes"] = "threads",
    ) -> StopReason:
        """Run ``objective`` on new trials until a stop rule fires; return why it stopped.

        Args:
            objective: takes a :class:`Trial`, returns the value (or values).
            n_trials: trials to run in this call (None: no limit of this kind).
            timeout: seconds after which no new trial starts.
            n_jobs: trials run at once, in threads (-1: one per CPU).
            catch: exceptions that fail a trial and let the study go on; others fail
                the trial and are raised. The default catches every ``Exception``.
            callbacks: called with ``(study, frozen_trial)`` after each trial.
            show_progress: a progress bar (trials, best value, elapsed time); None shows
                it when standard error is a terminal.
            stop: further stop rules (:mod:`hptune.stopping`); the first to fire wins.
            executor: run the ``n_jobs`` workers as threads, or as processes that share
                the storage (a SQLite file or PostgreSQL; an in-memory study is moved
                to a temporary SQLite file first, with a warning; the objective,
                callbacks and stop rules must be picklable, callbacks run in the worker
                processes).

        Without ``n_trials``, ``timeout`` or ``stop`` it runs until interrupted or until
        a finite space is exhausted. Ctrl-C marks the running trials FAIL (interrupted)
        and is raised again.
        """
        if _optimize_runner is None:  # pragma: no cover - hptune/__init__ imports execution
            raise ConfigurationError(
                "Study.optimize needs the execution layer; run `import hptune` first."
            )
        self._stop_event.clear()
        self._planned_trials = None
        if isinstance(n_trials, int) and not isinstance(n_trials, bool):  # else refused below
            self._planned_trials = len(self._read()) + n_trials
        try:
            reason = _optimize_runner(
                self,
                objective,
                n_trials=n_trials,
                timeout=timeout,
                n_jobs=n_jobs,
                catch=catch,
                callbacks=callbacks,
                show_progress=show_progress,
                stop=stop,
                stop_event=self._stop_event,
                executor=executor,
            )
        except KeyboardInterrupt:
            self._record_stop(StopReason("interrupted", "interrupted by the user (Ctrl-C)."))
            raise
        except BaseException as e:
            self._record_stop(StopReason("error", f"{type(e).__name__}: {e}"))
            raise
        finally:
            self._planned_trials = None
        self._record_stop(reason)
        return reason

    def _record_stop(self, reason: StopReason) -> None:
        self.stop_reason = reason
        self.storage.set_study_attr(
            self.study_id,
            "stop_reason",
            {"rule": reason.rule, "message": reason.message},
            system=True,
        )

    def stop(self) -> None:
        """Ask a running ``optimize`` to start no new trial (e.g. from a callback)."""
        self._stop_event.set()

    # Export -----------------------------------------------------------------------------

    def to_dataframe(self) -> pandas.DataFrame:
        """Return one row per trial (needs pandas: ``pip install 'hptune[pandas]'``)."""
        from hptune.export import to_dataframe

        return to_dataframe(self.trials)

    def export(self, path: str | Path, format: str | None = None) -> Path:
        """Write every trial to ``path`` as CSV or JSON (from the suffix by default)."""
        from hptune.export import write_trials

        return write_trials(self.trials, path, format=format, directions=self.directions)

    def _require_single(self, what: str, instead: str) -> None:
        if self.is_multi_objective:
            raise ConfigurationError(
                f"study {self.name!r} has {len(self.directions)} objectives; {what} is for a "
                f"single objective, use study.{instead}."
            )


def _parse_directions(
    direction: StudyDirection | str | None, directions: Sequence[StudyDirection | str] | None
) -> tuple[StudyDirection, ...]:
    if direction is not None and directions is not None:
        raise ConfigurationError("give direction or directions, not both.")
    if directions is None:
        return (StudyDirection.parse(direction or "minimize"),)
    if isinstance(directions, str) or not isinstance(directions, Sequence) or not directions:
        raise ConfigurationError(
            f"directions must be a non-empty list such as ['minimize', 'maximize'], "
            f"got {directions!r}."
        )
    return tuple(StudyDirection.parse(d) for d in directions)


def create_study(
    study_name: str | None = None,
    storage: Storage | str | None = None,
    *,
    direction: StudyDirection | str | None = None,
    directions: Sequence[StudyDirection | str] | None = None,
    sampler: Sampler | str | None = None,
    pruner: Pruner | str | None = None,
    seed: int | None = None,
    load_if_exists: bool = False,
    leases: Leases | None = None,
) -> Study:
    """Create a study (or load it with ``load_if_exists=True``).

    Args:
        study_name: unique in the storage; None makes one up.
        storage: a URL ("sqlite:///hptune.db", "postgresql+psycopg://..."), a Storage,
            or None for memory.
        direction: "minimize" (default) or "maximize" for a single objective.
        directions: one per objective for several.
        sampler: a name ("random", "grid", "qmc", ...) or a Sampler object.
        pruner: a name or a Pruner object, or None.
        seed: seeds a sampler given by name.
        load_if_exists: load the study if one of that name exists (its directions
            must match) instead of raising.
        leases: heartbeats and retries for trials of lost workers (default
            :class:`~hptune.execution.leases.Leases`: 5 s beats, 20 s grace, one retry).

    Example:
        >>> import hptune as ht
        >>> study = ht.create_study(direction="maximize", sampler="random", seed=0)
        >>> study.direction
        <StudyDirection.MAXIMIZE: 'maximize'>
    """
    dirs = _parse_directions(direction, directions)
    backend = get_storage(storage)
    sampler_obj = get_sampler(sampler, seed)
    pruner_obj = get_pruner(pruner)
    name = study_name if study_name is not None else f"study-{uuid.uuid4().hex[:12]}"
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"study_name must be a non-empty string, got {study_name!r}.")
    check_name("study_name", name)
    if load_if_exists:
        try:
            record = backend.load_study(name)
        except KeyError:
            try:
                record = backend.create_study(name, dirs)
            except DuplicatedStudyError:  # another process created it meanwhile
                record = backend.load_study(name)
        if record.directions != dirs:
            raise ConfigurationError(
                f"study {name!r} exists with directions "
                f"{[d.value for d in record.directions]}, not {[d.value for d in dirs]}; "
                "use another study_name or the same directions."
            )
        return Study(record, backend, sampler_obj, pruner_obj, leases)
    return Study(backend.create_study(name, dirs), backend, sampler_obj, pruner_obj, leases)


def load_study(
    study_name: str,
    storage: Storage | str,
    *,
    sampler: Sampler | str | None = None,
    pruner: Pruner | str | None = None,
    seed: int | None = None,
    leases: Leases | None = None,
) -> Study:
    """Load an existing study; raise StudyNotFoundError (naming the known ones) if absent."""
    backend = get_storage(storage)
    record = backend.load_study(study_name)
    return Study(record, backend, get_sampler(sampler, seed), get_pruner(pruner), leases)


def delete_study(study_name: str, storage: Storage | str) -> None:
    """Delete a study and all its trials."""
    get_storage(storage).delete_study(study_name)


def list_studies(storage: Storage | str) -> list[StudyRecord]:
    """Return every study in ``storage`` with its directions and number of trials."""
    return get_storage(storage).list_studies()
