"""SQL storage: SQLite for one machine, PostgreSQL for many workers on many machines.

SQLAlchemy Core, one schema for both (see ``_sql_schema.py``). SQLite runs in WAL mode
with a busy timeout; every write transaction starts with ``BEGIN IMMEDIATE`` so two
writers never deadlock upgrading a read lock, and "database is locked" is retried with
backoff. PostgreSQL serializes trial numbering by locking the study row, and hands out
waiting trials with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import URL, Connection, Engine, Table
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from hptune._extras import require
from hptune.exceptions import (
    ConfigurationError,
    DuplicatedStudyError,
    StorageError,
    StorageURLError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialNotFoundError,
    TrialStateError,
)
from hptune.space import Distribution
from hptune.storage import _sql_schema as s
from hptune.storage.base import Storage, StudyRecord
from hptune.trial import FrozenTrial, StudyDirection, TrialState

__all__ = ["SQLStorage"]

T = TypeVar("T")

_SUPPORTED = (
    "sqlite (e.g. 'sqlite:///hptune.db', or 'sqlite://' in memory) and postgresql+psycopg "
    "(e.g. 'postgresql+psycopg://user:password@host:5432/db')"
)
_BUSY_TIMEOUT_MS = 30_000
_RETRY_SECONDS = 600.0  # give up on a lock held this long: something is stuck
_WRITE = "hptune_write"  # execution option: this transaction writes
_RUNNING = TrialState.RUNNING.value
_WAITING = TrialState.WAITING.value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _dumps(value: Any) -> str:
    return json.dumps(value)


def _mask(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _parse_url(url: str) -> tuple[URL, bool]:
    """Validate ``url``; return it (driver made explicit) and whether it is in memory."""
    if not isinstance(url, str):
        raise StorageURLError(f"storage URL must be a string, got {url!r}.")
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError) as e:  # ValueError: a port that is not a number
        raise StorageURLError(
            f"storage URL {_mask(url)!r} is malformed ({e}); supported: {_SUPPORTED}."
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgresql" and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg"), False
    if backend != "sqlite" or driver not in ("", "pysqlite"):
        raise StorageURLError(
            f"storage URL {_mask(url)!r} names the unsupported database "
            f"{parsed.drivername!r}; supported: {_SUPPORTED}."
        )
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return parsed, True
    if not database.startswith("file:"):  # plain paths; SQLite URIs are left to SQLite
        _check_sqlite_path(url, database)
    return parsed, False


def _check_sqlite_path(url: str, database: str) -> None:
    path = os.path.abspath(database)
    directory = os.path.dirname(path)
    where = f"storage URL {url!r}"
    if not os.path.isdir(directory):
        raise StorageURLError(
            f"{where}: the directory {directory!r} does not exist; create it or change the path."
        )
    if os.path.isdir(path):
        raise StorageURLError(f"{where}: {path!r} is a directory; name a file inside it.")
    # SQLite writes the -wal and -shm files beside the database, so the directory must
    # be writable even when the file exists.
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StorageURLError(
            f"{where}: the directory {directory!r} is not writable; SQLite needs to create "
            "files there. Choose a writable directory or fix its permissions."
        )
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        raise StorageURLError(f"{where}: the file {path!r} is not readable and writable.")


def _reopen(url: str, engine_kwargs: Mapping[str, Any] | None) -> SQLStorage:
    return SQLStorage(url, engine_kwargs=engine_kwargs)


class SQLStorage(Storage):
    """Keep studies in SQLite or PostgreSQL, shared by threads, processes and machines.

    Args:
        url: A SQLAlchemy URL: ``sqlite:///path/to/file.db``, ``sqlite://`` (in memory,
            this process only) or ``postgresql+psycopg://user:password@host/db``
            (``pip install 'hptune[postgres]'``).
        engine_kwargs: Extra arguments for :func:`sqlalchemy.create_engine`, e.g.
            ``{"connect_args": {"options": "-csearch_path=myschema"}}``.

    Raises:
        StorageURLError: the URL is malformed, names another database, or a SQLite file
            that cannot be created.
        ImportError: the PostgreSQL driver is missing.
        SchemaVersionError: the database was written by another schema version.
        StorageError: the database cannot be reached.

    The storage pickles as its URL and ``engine_kwargs``, so process executors can pass
    it; the unpickled copy opens its own connections. Finished trials are cached per
    client, since they never change.

    Example:
        >>> storage = SQLStorage("sqlite://")
        >>> storage.create_study("demo", [StudyDirection.MINIMIZE]).name
        'demo'
        >>> storage.close()
    """

    def __init__(self, url: str, *, engine_kwargs: Mapping[str, Any] | None = None) -> None:
        parsed, self._in_memory = _parse_url(url)
        self._url = url
        self._engine_kwargs = dict(engine_kwargs or {})
        self._masked = parsed.render_as_string(hide_password=True)
        self._sqlite = parsed.get_backend_name() == "sqlite"
        if not self._sqlite:
            require("psycopg", "postgres")
        self._engine = self._create_engine(parsed)
        # An in-memory SQLite database is one connection shared by all threads.
        self._guard: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self._in_memory else contextlib.nullcontext()
        )
        self._finished: dict[int, FrozenTrial] = {}
        self._check_schema()

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
                study_id = _insert_id(conn, s.studies, row)
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
        def work(conn: Connection) -> list[int]:
            study_id = conn.scalar(sa.select(s.studies.c.id).where(s.studies.c.name == name))
            if study_id is None:
                raise self._study_not_found(conn, name)
            ids = list(
                conn.scalars(sa.select(s.trials.c.id).where(s.trials.c.study_id == study_id))
            )
            # Trials, parameters, attributes and claims go with it (ON DELETE CASCADE).
            conn.execute(sa.delete(s.studies).where(s.studies.c.id == study_id))
            return ids

        for trial_id in self._run(work, write=True):
            self._finished.pop(trial_id, None)

    def list_studies(self) -> list[StudyRecord]:
        return self._run(lambda conn: s.study_records(conn, None), write=False)

    def set_study_attr(self, study_id: int, key: str, value: Any, *, system: bool = False) -> None:
        row = {"study_id": study_id, "system": system, "key": key, "value_json": _dumps(value)}

        def work(conn: Connection) -> None:
            _require_study(conn, study_id)
            conn.execute(self._upsert(s.study_attrs, ("study_id", "system", "key")), [row])

        self._run(work, write=True)

    # Trials ----------------------------------------------------------------------------

    def create_trial(
        self,
        study_id: int,
        *,
        state: TrialState = TrialState.RUNNING,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        if state not in (TrialState.RUNNING, TrialState.WAITING):
            raise TrialStateError(f"a new trial is RUNNING or WAITING, got {state}.")
        attrs = {k: _dumps(v) for k, v in (system_attrs or {}).items()}
        start = _now() if state is TrialState.RUNNING else None

        def work(conn: Connection) -> tuple[int, int]:
            # Lock the study row: numbering is serialized per study (SQLite serializes all
            # writers with BEGIN IMMEDIATE and ignores FOR UPDATE).
            _require_study(conn, study_id, lock=True)
            last = sa.select(sa.func.max(s.trials.c.number)).where(s.trials.c.study_id == study_id)
            previous = conn.scalar(last)
            number = 0 if previous is None else int(previous) + 1
            values = dict(study_id=study_id, number=number, state=state.value, datetime_start=start)
            trial_id = _insert_id(conn, s.trials, values)
            self._write_attrs(conn, trial_id, attrs, system=True)
            return trial_id, number

        trial_id, number = self._run(work, write=True)
        copied = {k: json.loads(v) for k, v in attrs.items()}
        return FrozenTrial(number, trial_id, state, system_attrs=copied, datetime_start=start)

    def pop_waiting_trial(self, study_id: int) -> FrozenTrial | None:
        def work(conn: Connection) -> FrozenTrial | None:
            oldest = (
                sa.select(s.trials.c.id)
                .where(s.trials.c.study_id == study_id, s.trials.c.state == _WAITING)
                .order_by(s.trials.c.number)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            trial_id = conn.scalar(oldest)
            if trial_id is None:
                return None
            started = {"state": _RUNNING, "datetime_start": _now()}
            conn.execute(sa.update(s.trials).where(s.trials.c.id == trial_id).values(started))
            return s.load_trials(conn, [trial_id])[0]

        return self._run(work, write=True)

    def claim(self, study_id: int, trial_id: int, key: str) -> bool:
        row = {"study_id": study_id, "key": key, "trial_id": trial_id}

        def work(conn: Connection) -> bool:
            self._require_running(conn, trial_id)
            stmt = self._insert(s.claims).on_conflict_do_nothing(index_elements=["study_id", "key"])
            conn.execute(stmt, row)  # a no-op when another trial holds the key
            held = sa.select(s.claims.c.trial_id).where(
                s.claims.c.study_id == study_id, s.claims.c.key == key
            )
            if conn.scalar(held) != trial_id:
                return False
            self._write_attrs(conn, trial_id, {"claim": _dumps(key)}, system=True)
            return True

        return self._run(work, write=True)

    def set_trial_param(
        self, trial_id: int, name: str, distribution: Distribution, value: Any
    ) -> None:
        dist = _dumps(distribution.to_dict())
        row = dict(trial_id=trial_id, name=name, value_json=_dumps(value), distribution_json=dist)
        self._write_running(trial_id, self._upsert(s.trial_params, ("trial_id", "name")), [row])

    def set_trial_intermediate(self, trial_id: int, step: int | float, value: float) -> None:
        value = float(value)
        # NULL stands for NaN, which SQLite cannot store.
        row = dict(trial_id=trial_id, step=float(step), value=None if math.isnan(value) else value)
        stmt = self._upsert(s.trial_intermediates, ("trial_id", "step"))
        self._write_running(trial_id, stmt, [row])

    def set_trial_attr(self, trial_id: int, key: str, value: Any, *, system: bool = False) -> None:
        row = {"trial_id": trial_id, "system": system, "key": key, "value_json": _dumps(value)}
        stmt = self._upsert(s.trial_attrs, ("trial_id", "system", "key"))
        self._write_running(trial_id, stmt, [row])

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: Sequence[float] | None = None,
        *,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        if not state.is_finished():
            raise TrialStateError(f"finish_trial needs a final state, got {state}.")
        values_json = None if values is None else _dumps([float(v) for v in values])
        attrs = {k: _dumps(v) for k, v in (system_attrs or {}).items()}

        def work(conn: Connection) -> FrozenTrial:
            # Compare-and-set: only the transaction that sees RUNNING moves the trial.
            cas = (
                sa.update(s.trials)
                .where(s.trials.c.id == trial_id, s.trials.c.state == _RUNNING)
                .values(state=state.value, values_json=values_json, datetime_complete=_now())
            )
            if conn.execute(cas).rowcount == 0:
                raise self._not_running(conn, trial_id, finishing=True)
            self._write_attrs(conn, trial_id, attrs, system=True)
            return s.load_trials(conn, [trial_id])[0]

        trial = self._run(work, write=True)
        self._finished[trial_id] = trial
        return trial

    def get_trial(self, trial_id: int) -> FrozenTrial:
        def work(conn: Connection) -> FrozenTrial:
            row = conn.execute(sa.select(*s.TRIAL_COLUMNS).where(s.trials.c.id == trial_id)).first()
            if row is None:
                raise TrialNotFoundError(f"no trial with id {trial_id}.")
            cached = self._finished.get(trial_id)
            return cached if cached is not None else s.trials_from_rows(conn, [row])[0]

        return self._remember([self._run(work, write=False)])[0]

    def get_trials(
        self, study_id: int, *, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        wanted = None if states is None else set(states)

        def work(conn: Connection) -> tuple[list[int], list[FrozenTrial]]:
            listing = sa.select(s.trials.c.id, s.trials.c.state).where(
                s.trials.c.study_id == study_id
            )
            rows = conn.execute(listing.order_by(s.trials.c.number)).all()
            if not rows:
                _require_study(conn, study_id)
            ids = [r.id for r in rows if wanted is None or TrialState(r.state) in wanted]
            # Finished trials never change: read only those not cached yet.
            missing = [i for i in ids if i not in self._finished]
            return ids, s.load_trials(conn, missing, study_id=study_id)

        ids, loaded = self._run(work, write=False)
        fresh = {t.trial_id: t for t in self._remember(loaded)}
        trials = [fresh.get(i) or self._finished.get(i) for i in ids]
        return [t for t in trials if t is not None and (wanted is None or t.state in wanted)]

    # Transactions ----------------------------------------------------------------------

    def _create_engine(self, url: URL) -> Engine:
        defaults: dict[str, Any] = {}
        connect_args: dict[str, Any] = {}
        if self._in_memory:
            defaults["poolclass"] = StaticPool
            connect_args["check_same_thread"] = False
        elif not self._sqlite:
            defaults["pool_pre_ping"] = True
        kwargs = {**defaults, **self._engine_kwargs}
        kwargs["connect_args"] = {**connect_args, **(kwargs.get("connect_args") or {})}
        try:
            engine = sa.create_engine(url, **kwargs)
        except (ArgumentError, TypeError) as e:
            raise ConfigurationError(
                f"engine_kwargs={self._engine_kwargs!r} were refused by create_engine: {e}"
            ) from e
        if self._sqlite:
            # sqlite3's own "timeout" connect argument, if given, sets the busy timeout.
            busy = None if "timeout" in kwargs["connect_args"] else _BUSY_TIMEOUT_MS
            _configure_sqlite(engine, wal=not self._in_memory, busy_timeout_ms=busy)
        return engine

    def _run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``work`` in one transaction, retrying while the database is locked."""
        delay = 0.005
        deadline = time.monotonic() + _RETRY_SECONDS
        while True:
            try:
                with self._guard, self._engine.connect() as conn:
                    conn.execution_options(**{_WRITE: write})
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
        hint = ""
        if isinstance(e, sa.exc.OperationalError):
            hint = " Check that the server runs, the URL is right and the database exists."
        return StorageError(f"the database {self._masked} failed: {e.orig}".rstrip() + hint)

    def _check_schema(self) -> None:
        version = self._run(s.read_version, write=False)
        if version is None:
            version = self._run(s.create_tables, write=True)
        s.check_version(version, self._masked)

    # Helpers ---------------------------------------------------------------------------

    def _insert(self, table: Table) -> Any:
        # Both dialects spell upserts the same: INSERT ... ON CONFLICT.
        from sqlalchemy.dialects import postgresql, sqlite

        return (sqlite if self._sqlite else postgresql).insert(table)

    def _upsert(self, table: Table, keys: Sequence[str]) -> Any:
        stmt = self._insert(table)
        others = [c.name for c in table.columns if c.name not in keys and not c.primary_key]
        replaced = {name: stmt.excluded[name] for name in others}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=replaced)

    def _write_attrs(
        self, conn: Connection, trial_id: int, attrs: Mapping[str, str], *, system: bool
    ) -> None:
        if attrs:
            rows = [
                dict(trial_id=trial_id, system=system, key=k, value_json=v)
                for k, v in attrs.items()
            ]
            conn.execute(self._upsert(s.trial_attrs, ("trial_id", "system", "key")), rows)

    def _write_running(self, trial_id: int, stmt: Any, rows: list[dict[str, Any]]) -> None:
        def work(conn: Connection) -> None:
            self._require_running(conn, trial_id)
            conn.execute(stmt, rows)

        self._run(work, write=True)

    def _require_running(self, conn: Connection, trial_id: int) -> None:
        # FOR SHARE: a concurrent finish_trial waits until this write commits.
        query = sa.select(s.trials.c.state).where(s.trials.c.id == trial_id)
        if conn.scalar(query.with_for_update(read=True)) != _RUNNING:
            raise self._not_running(conn, trial_id, finishing=False)

    def _not_running(self, conn: Connection, trial_id: int, *, finishing: bool) -> Exception:
        query = sa.select(s.trials.c.number, s.trials.c.state).where(s.trials.c.id == trial_id)
        row = conn.execute(query).first()
        if row is None:
            return TrialNotFoundError(f"no trial with id {trial_id}.")
        state = TrialState(row.state)
        if state.is_finished():
            return TrialFinishedError(
                f"trial {row.number} is {state.value} already; its record does not change."
            )
        doing = "finished" if finishing else "changed"
        return TrialStateError(
            f"trial {row.number} is {state.value}; only a running trial can be {doing}."
        )

    def _study_not_found(self, conn: Connection, name: str) -> StudyNotFoundError:
        names = conn.scalars(sa.select(s.studies.c.name).order_by(s.studies.c.id))
        known = ", ".join(repr(n) for n in names) or "none"
        return StudyNotFoundError(f"no study named {name!r} in {self._masked} (studies: {known}).")

    def _remember(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        for t in trials:
            if t.state.is_finished():
                self._finished[t.trial_id] = t
        return trials


def _require_study(conn: Connection, study_id: int, *, lock: bool = False) -> None:
    query = sa.select(s.studies.c.id).where(s.studies.c.id == study_id)
    if lock:  # FOR NO KEY UPDATE: inserts referencing the study may go on meanwhile
        query = query.with_for_update(key_share=True)
    if conn.scalar(query) is None:
        raise StudyNotFoundError(f"no study with id {study_id}.")


def _insert_id(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    key = conn.execute(sa.insert(table).values(values)).inserted_primary_key
    assert key is not None  # tables with an integer primary key always have one
    return int(key[0])


def _configure_sqlite(engine: Engine, *, wal: bool, busy_timeout_ms: int | None) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module; _on_begin emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if busy_timeout_ms is not None:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers never deadlock upgrading
        # a read lock, and a busy database is waited for (busy_timeout) at BEGIN.
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
