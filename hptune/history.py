"""One study's trials as a reader last read them, advanced by the storage's change cursor.

Every storage numbers the changes of a study (a trial created, a parameter, a report, a
finish) and answers :meth:`~hptune.storage.Storage.read_changes`: the trials changed
after a cursor. A :class:`History` holds what one reader has read so far and asks only
for what changed since; finished trials never change, so they are read once and shared.

Readers (samplers, pruners, the study's own reads) get a :class:`HistoryView`: the
trials as they stood when the view was taken, as a sequence ordered by number, without
a copy of the history, plus what finished since a reader's last view
(:meth:`HistoryView.finished_since`), so that nobody rereads or re-encodes what did not
change. A view stays the same while the history moves on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from hptune.exceptions import StorageError, StudyNotFoundError
from hptune.records import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hptune.storage.base import Storage

__all__ = ["FinishedReader", "History", "HistoryView", "Memo", "as_view"]


class Memo:
    """What readers derive from one history (encoded parameters...), shared by them all.

    Every view of a history carries its memo, so a sampler, the samplers inside ``auto``
    and a fresh sampler object all find what one of them derived already. A history that
    starts over gets a new memo; a plain list of trials gets one of its own. Callers hold
    :attr:`lock` while they read or extend an item.
    """

    __slots__ = ("_items", "lock")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._items: dict[tuple[Hashable, ...], Any] = {}

    def get(self, key: tuple[Hashable, ...], make: Callable[[], Any], *, keep: int = 8) -> Any:
        """The item under ``key``, made by ``make()`` if absent.

        At most ``keep`` items of the same kind (``key[0]``) are kept, the oldest dropped
        first: a define-by-run study whose joint space grows leaves old spaces behind.
        """
        item = self._items.get(key)
        if item is None:
            same = [k for k in self._items if k[:1] == key[:1]]
            for old in same[: max(0, len(same) - keep + 1)]:
                del self._items[old]
            item = self._items[key] = make()
        return item


class History:
    """The trials of one study, ordered by number, as far as this reader has read them.

    Thread-safe. Records are never mutated once merged (a change replaces the record),
    so views share them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        # New containers (not cleared ones): views taken before keep theirs.
        self.token = object()  # changes when the history starts over
        self.cursor = 0
        self._trials: list[FrozenTrial] = []  # index = trial number (numbers are gap-free)
        self._seqs: list[int] = []  # the change number each trial was read at
        self._unfinished: set[int] = set()
        self._finished: list[FrozenTrial] = []  # in the order this history saw them finish
        self._max_step = 0.0  # the largest step a finished trial reported
        self._memo = Memo()

    def advance(self, storage: Storage, study_id: int) -> HistoryView:
        """Read what changed since the last read, merge it, and return a view of the whole."""
        for _attempt in range(3):
            cursor = self.cursor
            try:
                current, changes = storage.read_changes(study_id, cursor)
            except StudyNotFoundError:
                with self._lock:
                    self._reset()
                raise
            with self._lock:
                if current < self.cursor and current < cursor:
                    # The counter went back: the study was deleted and made again.
                    self._reset()
                    continue
                if self._merge(changes, current):
                    return self._view()
        raise StorageError(
            f"the trials of study {study_id} are not numbered 0, 1, 2, ... without gaps; "
            "the database was changed by something else than hptune."
        )

    def _view(self) -> HistoryView:
        running = {n: self._trials[n] for n in self._unfinished}
        return HistoryView(
            self.token,
            self._trials,
            len(self._trials),
            running,
            self._finished,
            len(self._finished),
            self._max_step,
            None,
            self._memo,
        )

    def _merge(self, changes: Sequence[tuple[int, FrozenTrial]], cursor: int) -> bool:
        """Apply a read of the changes after some cursor; False if it leaves a gap."""
        trials, seqs = self._trials, self._seqs
        for seq, trial in changes:  # ordered by number
            number = trial.number
            if number == len(trials):
                trials.append(trial)
                seqs.append(seq)
            elif number > len(trials):
                self._reset()  # a gap cannot happen in one snapshot: read everything again
                return False
            elif seq > seqs[number]:  # else another thread merged a newer read first
                if trials[number].state.is_finished():
                    continue  # finished trials never change
                trials[number], seqs[number] = trial, seq
            else:
                continue
            if trial.state.is_finished():
                self._unfinished.discard(number)
                self._finished.append(trial)
                last = trial.last_step
                if last is not None and last > self._max_step:
                    self._max_step = float(last)
            else:
                self._unfinished.add(number)
        self.cursor = max(self.cursor, cursor)
        return True


class HistoryView(Sequence[FrozenTrial]):
    """The trials of a study as they stood when the view was taken, ordered by number.

    A sequence of :class:`~hptune.records.FrozenTrial` (finished, running and waiting),
    optionally without the trial a request is for. Records are shared: treat them as
    read-only.

    Attributes:
        memo: what readers derived from this history (shared by every view of it).
        token: identifies the history the view was taken from. Two views with the same
            token list finished trials in the same order, so a reader may remember how
            many it has seen (:attr:`n_seen`) and ask only for those that finished since.
        n_seen: how many trials this history had seen finish when the view was taken.
    """

    __slots__ = (
        "_exclude",
        "_finished",
        "_length",
        "_max_step",
        "_n",
        "_running",
        "_trials",
        "memo",
        "n_seen",
        "token",
    )

    def __init__(
        self,
        token: object,
        trials: list[FrozenTrial],
        n: int,
        running: dict[int, FrozenTrial],
        finished: list[FrozenTrial],
        n_seen: int,
        max_step: float,
        exclude: int | None,
        memo: Memo,
    ) -> None:
        self.token = token
        self.memo = memo
        self._trials = trials
        self._n = n
        self._running = running
        self._finished = finished
        self.n_seen = n_seen
        self._max_step = max_step
        self._exclude = exclude if exclude is not None and 0 <= exclude < n else None
        self._length = n - (self._exclude is not None)

    def __len__(self) -> int:
        return self._length

    def _at(self, number: int) -> FrozenTrial:
        trial = self._running.get(number)
        return self._trials[number] if trial is None else trial

    @overload
    def __getitem__(self, index: int) -> FrozenTrial: ...

    @overload
    def __getitem__(self, index: slice) -> list[FrozenTrial]: ...

    def __getitem__(self, index: int | slice) -> FrozenTrial | list[FrozenTrial]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(f"history index {index} out of range ({self._length} trials)")
        if self._exclude is not None and index >= self._exclude:
            index += 1
        return self._at(index)

    def __iter__(self) -> Iterator[FrozenTrial]:
        for number in range(self._n):
            if number != self._exclude:
                yield self._at(number)

    def __repr__(self) -> str:
        return f"HistoryView({self._length} trials, {len(self._running)} unfinished)"

    def without(self, number: int) -> HistoryView:
        """The same view without trial ``number`` (used for the trial a request is for)."""
        position = number
        if self._n == 0 or number > self._trials[self._n - 1].number:
            return self  # not in the view (the usual case: the trial being proposed for)
        if not (0 <= number < self._n and self._trials[number].number == number):
            # A one-off view of a partial history: find the trial by its number.
            found = [i for i in range(self._n) if self._trials[i].number == number]
            if not found:
                return self
            position = found[0]
        if self._exclude is not None and self._exclude != position:
            raise ValueError("a view leaves out one trial at most")
        return HistoryView(
            self.token,
            self._trials,
            self._n,
            self._running,
            self._finished,
            self.n_seen,
            self._max_step,
            position,
            self.memo,
        )

    def finished_since(self, n_seen: int) -> list[FrozenTrial]:
        """The trials that finished after the first ``n_seen`` (in the order they finished).

        Valid for an ``n_seen`` taken from a view with the same :attr:`token`.
        """
        fresh = self._finished[n_seen : self.n_seen]
        if self._exclude is not None:
            excluded = self._trials[self._exclude].number
            fresh = [t for t in fresh if t.number != excluded]
        return fresh

    @property
    def n_finished(self) -> int:
        """How many trials of the view are finished (COMPLETE, PRUNED or FAIL)."""
        return self._length - len(self.unfinished())

    def unfinished(self) -> list[FrozenTrial]:
        """The running and waiting trials, ordered by number."""
        return [self._running[i] for i in sorted(self._running) if i != self._exclude]

    def running(self) -> list[FrozenTrial]:
        """The RUNNING trials, ordered by number."""
        return [t for t in self.unfinished() if t.state is TrialState.RUNNING]

    def max_step(self) -> float:
        """The largest step any trial of the view reported (0 when none did)."""
        steps = [t.last_step for t in self.unfinished() if t.last_step is not None]
        return max([self._max_step, *(float(s) for s in steps)])

    def select(self, states: Sequence[TrialState] | None) -> list[FrozenTrial]:
        """The trials as a list, optionally only those in ``states``."""
        if states is None:
            return list(self)
        wanted = frozenset(states)
        return [t for t in self if t.state in wanted]


def as_view(history: Sequence[FrozenTrial]) -> HistoryView:
    """Return ``history`` as a view: itself if it is one, else a one-off view of a list.

    A one-off view has its own token, so readers that remember what they saw start over.
    Its trials must be ordered by number; numbers need not start at 0 or be gap-free.
    """
    if isinstance(history, HistoryView):
        return history
    trials = list(history)
    finished = [t for t in trials if t.state.is_finished()]
    running = {i: t for i, t in enumerate(trials) if not t.state.is_finished()}
    steps = [float(t.last_step) for t in finished if t.last_step is not None]
    return HistoryView(
        object(),
        trials,
        len(trials),
        running,
        finished,
        len(finished),
        max(steps, default=0.0),
        None,
        Memo(),
    )


class FinishedReader:
    """One reader's place in a history: it is given each finished trial once.

    Samplers keep one per cache they build from the history (encoded arrays, a CMA-ES
    state). A history other than the one read before (another study, or a plain list
    of trials) starts the reader over: :attr:`reset` says that the last call did, and
    :attr:`generation` counts the restarts, so that whatever was built from the old
    history is dropped.
    """

    __slots__ = ("generation", "n_seen", "reset", "token")

    def __init__(self) -> None:
        self.token: object | None = None
        self.n_seen = 0
        self.generation = 0
        self.reset = False

    def new_finished(self, history: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        """Return the trials that finished since the last call (in the order they did)."""
        view = as_view(history)
        self.reset = self.token is not None and view.token is not self.token
        if view.token is not self.token:
            self.generation += self.reset
            self.token, self.n_seen = view.token, 0
        fresh = view.finished_since(self.n_seen)
        self.n_seen = max(self.n_seen, view.n_seen)
        return fresh
