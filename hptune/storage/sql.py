"""SQL storage: SQLite for one machine, PostgreSQL for many workers on many machines.

SQLAlchemy Core, one schema for both (see ``_sql_schema.py``). SQLite runs in WAL mode
with a busy timeout and, unless the URL says ``?synchronous=normal``, a sync per commit;
every write transaction starts with ``BEGIN IMMEDIATE`` so two writers never deadlock
upgrading a read lock, and "database is locked" is retried with backoff. PostgreSQL
serializes the writes to a study's trials by locking the study row (its change counter,
see ``_sql_schema.py``), and reads in REPEATABLE READ so that one read sees one snapshot.

Every write to a study's trials bumps its change counter and stamps the trial, so
``read_changes`` returns only the trials changed since a reader's cursor: the cost of
keeping a history follows the number of changes, not the number of trials.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError, IntegrityError

from hptune._extras import require
from hptune.exceptions import (
    DuplicatedStudyError,
    StorageError,
    StudyNotFoundError,
    TrialNotFoundError,
)
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.storage import _sql_schema as s
from hptune.storage._sql_connect import (
    WRITE,
    create_engine,
    parse_url,
    sqlite_disk_error,
    sqlite_file,
)
from hptune.storage.base import JSONValue, ParamRow, Storage, StudyRecord, not_running_error

__all__ = ["SQLStorage", "sqlite_path"]

T = TypeVar("T")

_RETRY_SECONDS = 600.0  # give up on a lock held this long: something is stuck


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _dumps(value: Any) -> str:
    # hptune's own values (distributions, directions, objective values). Objective values
    # may be NaN or infinite (a pruned trial keeps its last intermediate value, which may
    # be NaN); they are written as JSON's common NaN/Infinity extension.
    return json.dumps(value)


def _reopen(url: str, engine_kwargs: Mapping[str, Any] | None) -> SQLStorage:
    return SQLStorage(url, engine_kwargs=engine_kwargs)


class SQLStorage(Storage):
    """Keep studies in SQLite or PostgreSQL, shared by threads, processes and machines.

    Args:
        url: A SQLAlchemy URL: ``sqlite:///path/to/file.db``, ``sqlite://`` (in memory,
            this process only) or ``postgresql+psycopg://user:password@host/db``
            (``pip install 'hptune[postgres]'``). A SQLite file takes
            ``?synchronous=full`` (the default: every commit reaches the disk, so a told
            trial survives a power cut or an operating-system crash) or
            ``?synchronous=normal`` (faster; such a crash may lose the last commits, never
            the file's consistency). A crash of the Python process loses nothing either way.
        engine_kwargs: Extra arguments for :func:`sqlalchemy.create_engine`, e.g.
            ``{"connect_args": {"options": "-csearch_path=myschema"}}``.
        create: make hptune's tables in a database that has none (the default). With
            False, such a database (another program's, or an empty file) is refused
            with StorageError and left unchanged: what read-only tools want.

    Raises:
        StorageURLError: the URL is malformed, names another database, or a SQLite file
            that cannot be created.
        ImportError: the PostgreSQL driver is missing.
        SchemaVersionError: the database was written by another schema version.
        StorageError: the database cannot be reached. Later calls raise it too when
            the database fails; a SQLite file that is read-only, on a full disk, or whose
            directory was removed gives an error naming the file and SQLite's own reason.

    The storage pickles as its URL and ``engine_kwargs``, so process executors can pass
    it; the unpickled copy opens its own connections. Each client caches the trials it
    has read and afterwards reads only what changed (see :meth:`get_trials`).

    Example:
        >>> storage = SQLStorage("sqlite://")
        >>> storage.create_study("demo", [StudyDirection.MINIMIZE]).name
        'demo'
        >>> storage.close()
    """

    def __init__(
        self, url: str, *, engine_kwargs: Mapping[str, Any] | None = None, create: bool = True
    ) -> None:
        parsed, self._in_memory = parse_url(url)
        self._url = url
        self._engine_kwargs = dict(engine_kwargs or {})
        self._masked = parsed.render_as_string(hide_password=True)
        self._sqlite = parsed.get_backend_name() == "sqlite"
        if not self._sqlite:
            require("psycopg", "postgres")
        self._file = sqlite_file(parsed, self._in_memory) if self._sqlite else None
        if not create and self._file is not None:
            # Opening would switch the file to WAL: look first, read-only.
            _require_hptune_sqlite(self._file, self._masked)
        self._engine = create_engine(
            parsed, in_memory=self._in_memory, file=self._file, engine_kwargs=self._engine_kwargs
        )
        # An in-memory SQLite database is one connection shared by all threads.
        self._guard: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self._in_memory else contextlib.nullcontext()
        )
        self._dialect = parsed.get_backend_name()
        self._check_schema(create)

    def __reduce__(self) -> tuple[Any, ...]:
        if self._in_memory:
            raise StorageError(
                "an in-memory SQLite storage cannot be pickled: the copy would open another, "
                "empty database. Use a file URL such as 'sqlite:///hptune.db'."
            )
        return (_reopen, (self._url, self._engine_kwargs))

    def __repr__(self) -> str:
        return f"SQLStorage({self._masked!r})"

    def close(self) -> None:
        self._engine.dispose()

    # Studies ---------------------------------------------------------------------------

    def create_study(self, name: str, directions: Sequence[StudyDirection]) -> StudyRecord:
        created = _now()
        directions_json = _dumps([d.value for d in directions])
        row = {"name": name, "directions_json": directions_json, "datetime_created": created}

        def work(conn: Connection) -> int:
            try:
                study_id = _inserted_id(conn.execute(sa.insert(s.studies), row))
            except IntegrityError:
                raise DuplicatedStudyError(
                    f"a study named {name!r} exists already in {self._masked}; load it with "
                    "load_study (or load_if_exists=True) or choose another name."
                ) from None
            return study_id

        study_id = self._run(work, write=True)
        return StudyRecord(study_id, name, tuple(directions), datetime_created=created)

    def load_study(self, name: str) -> StudyRecord:
        def work(conn: Connection) -> StudyRecord:
            records = s.study_records(conn, s.studies.c.name == name)
            if not records:
                raise self._study_not_found(conn, name)
            return records[0]

        return self._run(work, write=False)

    def delete_study(self, name: str) -> None:
        def work(conn: Connection) -> int:
            study_id = conn.scalar(sa.select(s.studies.c.id).where(s.studies.c.name == name))
            if study_id is None:
                raise self._study_not_found(conn, name)
            # Trials, parameters, attributes and claims go with it (ON DELETE CASCADE).
            conn.execute(sa.delete(s.studies).where(s.studies.c.id == study_id))
            return int(study_id)

        self.forget_history(self._run(work, write=True))

    def list_studies(self) -> list[StudyRecord]:
        return self._run(lambda conn: s.study_records(conn, None), write=False)

    def _set_study_attr(self, study_id: int, key: str, value: JSONValue, system: bool) -> None:
        row = {"study_id": study_id, "system": system, "key": key, "value_json": value.text}

        def work(conn: Connection) -> None:
            _require_study(conn, study_id)
            conn.execute(self._upsert(s.study_attrs), [row])

        self._run(work, write=True)

    # Trials ----------------------------------------------------------------------------

    def _create_trial(
        self,
        study_id: int,
        state: TrialState,
        system_attrs: dict[str, JSONValue],
        params: list[ParamRow],
        expected_number: int | None,
        heartbeat: bool,
    ) -> FrozenTrial:
        attrs = {key: value.text for key, value in system_attrs.items()}
        param_rows = _param_rows(0, params)
        start = _now() if state is TrialState.RUNNING else None

        def work(conn: Connection) -> tuple[int, int, bool]:
            # Bumping the counter locks the study row: numbering is serialized per study
            # (SQLite serializes all writers with BEGIN IMMEDIATE anyway).
            seq = s.bump_study(conn, study_id)
            if seq is None:
                raise StudyNotFoundError(f"no study with id {study_id}.")
            previous = conn.scalar(s.LAST_NUMBER, {"b_study_id": study_id})
            number = 0 if previous is None else int(previous) + 1
            values = dict(
                study_id=study_id,
                number=number,
                state=state.value,
                datetime_start=start,
                seq=seq,
                heartbeat=start if heartbeat else None,
            )
            trial_id = _inserted_id(conn.execute(s.INSERT_TRIAL, values))
            self._write_attrs(conn, trial_id, attrs, system=True)
            with_params = bool(param_rows) and expected_number in (None, number)
            if with_params:
                rows = [{**row, "trial_id": trial_id} for row in param_rows]
                conn.execute(self._upsert(s.trial_params), rows)
            return trial_id, number, with_params

        trial_id, number, with_params = self._run(work, write=True)
        copied = {key: value.value for key, value in system_attrs.items()}
        trial = FrozenTrial(number, trial_id, state, system_attrs=copied, datetime_start=start)
        if with_params:
            for name, dist, value in params:
                trial.params[name] = value.value
                trial.distributions[name] = dist
        return trial

    def pop_waiting_trial(self, study_id: int, *, heartbeat: bool = False) -> FrozenTrial | None:
        bound = {"b_study_id": study_id}

        def work(conn: Connection) -> FrozenTrial | None:
            # The study row lock (taken by the bump) makes two workers take turns here.
            seq = s.bump_study(conn, study_id)
            number = None if seq is None else conn.scalar(s.OLDEST_WAITING, bound)
            if number is None:
                return None
            now = _now()
            started = {**bound, "b_number": number, "b_now": now, "b_seq": seq}
            started["b_beat"] = now if heartbeat else None
            conn.execute(s.START, started)
            return s.read_trial_by_number(conn, study_id, number)

        # Usually nothing waits: find that out without taking SQLite's write lock.
        if self._run(lambda conn: conn.scalar(s.OLDEST_WAITING, bound), write=False) is None:
            return None
        return self._run(work, write=True)

    def _claim(self, study_id: int, trial_id: int, key: str) -> bool:
        row = {"study_id": study_id, "key": key, "trial_id": trial_id}

        def work(conn: Connection) -> bool:
            self._touch_running(conn, trial_id)
            conn.execute(s.claim(self._dialect), row)  # a no-op when another trial holds the key
            if conn.scalar(s.CLAIM_HOLDER, {"b_study_id": study_id, "b_key": key}) != trial_id:
                return False
            self._write_attrs(conn, trial_id, {"claim": _dumps(key)}, system=True)
            return True

        return self._run(work, write=True)

    def _set_trial_params(self, trial_id: int, params: list[ParamRow]) -> None:
        self._write_running(trial_id, self._upsert(s.trial_params), _param_rows(trial_id, params))

    def heartbeat(self, trial_id: int) -> None:
        # Not a change readers need: the change counter stays, so no study lock either.
        def work(conn: Connection) -> None:
            if conn.execute(s.BEAT, {"b_trial_id": trial_id, "b_now": _now()}).rowcount == 0:
                raise self._not_running(conn, trial_id, finishing=False)

        self._run(work, write=True)

    def get_stale_trials(self, study_id: int, before: dt.datetime) -> list[FrozenTrial]:
        return self._run(lambda conn: s.read_stale(conn, study_id, before), write=False)

    def _set_trial_intermediate(self, trial_id: int, step: int | float, value: float) -> None:
        # NULL stands for NaN, which SQLite cannot store.
        row = dict(trial_id=trial_id, step=float(step), value=None if math.isnan(value) else value)
        self._write_running(trial_id, self._upsert(s.trial_intermediates), [row])

    def _set_trial_attr(self, trial_id: int, key: str, value: JSONValue, system: bool) -> None:
        row = {"trial_id": trial_id, "system": system, "key": key, "value_json": value.text}
        self._write_running(trial_id, self._upsert(s.trial_attrs), [row])

    def _finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: tuple[float, ...] | None,
        system_attrs: dict[str, JSONValue],
    ) -> FrozenTrial:
        values_json = None if values is None else _dumps(list(values))
        attrs = {key: value.text for key, value in system_attrs.items()}

        def work(conn: Connection) -> FrozenTrial:
            seq = s.bump_study_of_trial(conn, trial_id)
            if seq is None:
                raise TrialNotFoundError(f"no trial with id {trial_id}.")
            # Compare-and-set: only the transaction that sees RUNNING moves the trial.
            cas = dict(b_trial_id=trial_id, b_state=state.value, b_values=values_json)
            if conn.execute(s.FINISH, {**cas, "b_now": _now(), "b_seq": seq}).rowcount == 0:
                raise self._not_running(conn, trial_id, finishing=True)
            self._write_attrs(conn, trial_id, attrs, system=True)
            finished = s.read_trial(conn, trial_id)
            if finished is None:  # the row is locked by this transaction
                raise TrialNotFoundError(f"no trial with id {trial_id}.")
            return finished

        return self._run(work, write=True)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        trial = self._run(lambda conn: s.read_trial(conn, trial_id), write=False)
        if trial is None:
            raise TrialNotFoundError(f"no trial with id {trial_id}.")
        return trial

    def read_changes(self, study_id: int, cursor: int) -> tuple[int, list[tuple[int, FrozenTrial]]]:
        """Return the study's change counter and the trials changed after ``cursor``.

        One query when nothing changed, four more when something did.
        """

        def work(conn: Connection) -> tuple[int, list[tuple[int, FrozenTrial]]]:
            current = conn.scalar(s.CHANGE_SEQ, {"b_study_id": study_id})
            if current is None:
                raise StudyNotFoundError(f"no study with id {study_id}.")
            changes = s.read_changes(conn, study_id, cursor) if current > cursor else []
            return int(current), changes

        return self._run(work, write=False)

    # Transactions ----------------------------------------------------------------------

    def _run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``work`` in one transaction, retrying while the database is locked."""
        delay = 0.005
        deadline = time.monotonic() + _RETRY_SECONDS
        options: dict[str, Any] = {WRITE: write}
        if not (write or self._sqlite):
            # One snapshot for all the statements of a read (SQLite's reads have one).
            options["isolation_level"] = "REPEATABLE READ"
        while True:
            try:
                with self._guard, self._engine.connect() as conn:
                    conn.execution_options(**options)
                    with conn.begin():
                        return work(conn)
            except DBAPIError as e:
                if not (self._is_transient(e) and time.monotonic() < deadline):
                    raise self._storage_error(e) from e
            except sa.exc.SQLAlchemyError as e:  # e.g. no free connection in the pool
                raise StorageError(f"the database {self._masked} failed: {e}") from e
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)

    def _is_transient(self, e: DBAPIError) -> bool:
        if self._sqlite:
            message = str(e.orig).lower()
            return "locked" in message or "busy" in message
        # PostgreSQL: serialization failure, deadlock detected.
        return getattr(e.orig, "sqlstate", None) in ("40001", "40P01")

    def _storage_error(self, e: DBAPIError) -> StorageError:
        if self._is_transient(e):
            return StorageError(
                f"the database {self._masked} stayed locked for {_RETRY_SECONDS:.0f} s; "
                f"another process keeps a write transaction open ({e.orig})."
            )
        if self._sqlite:
            disk = sqlite_disk_error(self._file, str(e.orig))
            if disk is not None:
                return disk
        hint = ""
        if isinstance(e, sa.exc.OperationalError):
            hint = " Check that the server runs, the URL is right and the database exists."
        return StorageError(f"the database {self._masked} failed: {e.orig}".rstrip() + hint)

    def _check_schema(self, create: bool) -> None:
        version = self._run(s.read_version, write=False)
        if version is None and not create:
            raise StorageError(_NOT_HPTUNE.format(where=self._masked))
        if version is None:
            version = self._run(s.create_tables, write=True)
        s.check_version(version, self._masked)

    # Helpers ---------------------------------------------------------------------------

    def _upsert(self, table: Table) -> Any:
        return s.upsert(table, self._dialect)

    def _write_attrs(
        self, conn: Connection, trial_id: int, attrs: Mapping[str, str], *, system: bool
    ) -> None:
        if attrs:
            rows = [
                dict(trial_id=trial_id, system=system, key=k, value_json=v)
                for k, v in attrs.items()
            ]
            conn.execute(self._upsert(s.trial_attrs), rows)

    def _write_running(self, trial_id: int, stmt: Any, rows: list[dict[str, Any]]) -> None:
        def work(conn: Connection) -> None:
            self._touch_running(conn, trial_id)
            if rows:
                conn.execute(stmt, rows)

        self._run(work, write=True)

    def _touch_running(self, conn: Connection, trial_id: int) -> None:
        """Check that the trial runs and stamp it as changed, before changing it.

        Locks the study row, then the trial row (every writer locks in this order), so a
        concurrent finish_trial waits until this write commits.
        """
        seq = s.bump_study_of_trial(conn, trial_id)
        if seq is None:
            raise TrialNotFoundError(f"no trial with id {trial_id}.")
        if conn.execute(s.STAMP, {"b_trial_id": trial_id, "b_seq": seq}).rowcount == 0:
            raise self._not_running(conn, trial_id, finishing=False)

    def _not_running(self, conn: Connection, trial_id: int, *, finishing: bool) -> Exception:
        query = sa.select(s.trials.c.number, s.trials.c.state).where(s.trials.c.id == trial_id)
        row = conn.execute(query).first()
        if row is None:
            return TrialNotFoundError(f"no trial with id {trial_id}.")
        return not_running_error(row.number, TrialState(row.state), finishing=finishing)

    def _study_not_found(self, conn: Connection, name: str) -> StudyNotFoundError:
        names = conn.scalars(sa.select(s.studies.c.name).order_by(s.studies.c.id))
        known = ", ".join(repr(n) for n in names) or "none"
        return StudyNotFoundError(f"no study named {name!r} in {self._masked} (studies: {known}).")


def sqlite_path(url: str) -> str | None:
    """The file a SQLite URL names (``file:`` URIs too), or None: in memory, another
    database, or a URL the storage will refuse (with its reason) when opened."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return sqlite_file(parsed, False)


_NOT_HPTUNE = (
    "{where} is not an hptune database (it has no hptune tables); give the URL of a database "
    "hptune wrote, or run a study there first."
)


def _require_hptune_sqlite(path: str, where: str) -> None:
    """Raise StorageError unless ``path`` is a SQLite file with hptune's tables.

    Reads through a read-only connection, so a file that is not hptune's is left as it was.
    """
    import sqlite3

    try:
        uri = Path(path).as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (s.schema_version.name,),
            ).fetchone()
    except sqlite3.DatabaseError as e:  # not a database at all, or unreadable
        raise StorageError(f"{_NOT_HPTUNE.format(where=where)} SQLite says: {e}.") from None
    if found is None:
        raise StorageError(_NOT_HPTUNE.format(where=where))


def _require_study(conn: Connection, study_id: int) -> None:
    query = sa.select(s.studies.c.id).where(s.studies.c.id == study_id)
    if conn.scalar(query) is None:
        raise StudyNotFoundError(f"no study with id {study_id}.")


def _inserted_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None  # tables with an integer primary key always have one
    return int(key[0])


def _param_rows(trial_id: int, params: list[ParamRow]) -> list[dict[str, Any]]:
    return [
        dict(
            trial_id=trial_id,
            name=name,
            value_json=value.text,
            distribution_json=_dumps(distribution.to_dict()),
        )
        for name, distribution, value in params
    ]
