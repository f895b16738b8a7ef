"""How SQLStorage reaches its database (used by sql.py only).

URL checks, engine settings (SQLite: WAL, synchronous, busy timeout, BEGIN IMMEDIATE) and the
translation of SQLite's disk failures into errors that name the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from hptune.exceptions import ConfigurationError, StorageError, StorageURLError

__all__ = [
    "SUPPORTED",
    "SYNCHRONOUS",
    "WRITE",
    "create_engine",
    "mask",
    "parse_url",
    "sqlite_disk_error",
    "sqlite_file",
]

SUPPORTED = (
    "sqlite (e.g. 'sqlite:///hptune.db', or 'sqlite://' in memory) and postgresql+psycopg "
    "(e.g. 'postgresql+psycopg://user:password@host:5432/db')"
)
_BUSY_TIMEOUT_MS = 30_000
# SQLite's durability, chosen with ``?synchronous=`` on the URL (a file database only):
# "full" (the default) syncs every commit to disk, so a told trial survives a power cut
# or an operating-system crash; "normal" syncs only at WAL checkpoints, so such a crash
# may lose the last commits (never the database's consistency). A crash of the Python
# process loses nothing in either mode.
SYNCHRONOUS = ("full", "normal")
_SYNCHRONOUS_KEY = "synchronous"
WRITE = "hptune_write"  # execution option: this transaction writes


def mask(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def parse_url(url: str) -> tuple[URL, bool]:
    """Validate ``url``; return it (driver made explicit) and whether it is in memory."""
    if not isinstance(url, str):
        raise StorageURLError(f"storage URL must be a string, got {url!r}.")
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError) as e:  # ValueError: a port that is not a number
        raise StorageURLError(
            f"storage URL {mask(url)!r} is malformed ({e}); supported: {SUPPORTED}."
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgresql" and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg"), False
    if backend != "sqlite" or driver not in ("", "pysqlite"):
        raise StorageURLError(
            f"storage URL {mask(url)!r} names the unsupported database "
            f"{parsed.drivername!r}; supported: {SUPPORTED}."
        )
    database = parsed.database or ""
    synchronous = parsed.query.get(_SYNCHRONOUS_KEY)
    if synchronous is not None and (
        not isinstance(synchronous, str) or synchronous not in SYNCHRONOUS
    ):
        raise StorageURLError(
            f"storage URL {mask(url)!r}: synchronous must be one of {list(SYNCHRONOUS)}, got "
            f"synchronous={synchronous!r}; 'full' (the default) keeps every told trial "
            "through a power cut, 'normal' is faster and may lose the last ones."
        )
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        if synchronous is not None:
            raise StorageURLError(
                f"storage URL {mask(url)!r}: synchronous applies to a SQLite file only; "
                "an in-memory database is never on disk. Remove it or name a file."
            )
        return parsed, True
    if not database.startswith("file:"):  # plain paths; SQLite URIs are left to SQLite
        _check_sqlite_path(url, database)
    return parsed, False


def sqlite_file(url: URL, in_memory: bool) -> str | None:
    """Return the absolute path of a SQLite database file, or None in memory."""
    if in_memory:
        return None
    database = url.database or ""
    if database.startswith("file:"):  # a SQLite URI: file:path, file:///path, file://host/path
        database = unquote(database.removeprefix("file:").partition("?")[0])
        if database.startswith("//"):
            database = "/" + database[2:].partition("/")[2]
    return os.path.abspath(database)


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


# Seconds a PostgreSQL connection may take to open (libpq's connect_timeout); the URL's
# ?connect_timeout= or engine_kwargs' connect_args override it.
PG_CONNECT_TIMEOUT = 10


def create_engine(
    url: URL, *, in_memory: bool, file: str | None, engine_kwargs: Mapping[str, Any]
) -> Engine:
    """Return the engine for ``url`` with hptune's settings; ``engine_kwargs`` win."""
    sqlite = url.get_backend_name() == "sqlite"
    defaults: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if in_memory:
        defaults["poolclass"] = StaticPool
        connect_args["check_same_thread"] = False
    elif not sqlite:
        defaults["pool_pre_ping"] = True
        # A host that accepts and never answers would hang every call (and Ctrl-C).
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
    kwargs = {**defaults, **engine_kwargs}
    kwargs["connect_args"] = {**connect_args, **(kwargs.get("connect_args") or {})}
    synchronous = str(url.query.get(_SYNCHRONOUS_KEY, "full")) if sqlite else "full"
    if sqlite:  # hptune's setting, not sqlite3.connect's: take it off the URL
        url = url.difference_update_query([_SYNCHRONOUS_KEY])
    try:
        engine = sa.create_engine(url, **kwargs)
    except (ArgumentError, TypeError) as e:
        raise ConfigurationError(
            f"engine_kwargs={dict(engine_kwargs)!r} were refused by create_engine: {e}"
        ) from e
    if sqlite:
        # sqlite3's own "timeout" connect argument, if given, sets the busy timeout.
        busy = None if "timeout" in kwargs["connect_args"] else _BUSY_TIMEOUT_MS
        _configure_sqlite(engine, file=file, busy_timeout_ms=busy, synchronous=synchronous)
    return engine


def sqlite_disk_error(path: str | None, cause: str) -> StorageError | None:
    """Name the file and what to do when SQLite fails on the disk, not on the SQL."""
    where = "the in-memory SQLite database" if path is None else f"the SQLite database {path!r}"
    message = cause.lower()
    if "readonly" in message or "read-only" in message:
        fix = (
            "is read-only, so hptune cannot write to it; make the file, its -wal and -shm "
            "files and its directory writable by this user, or open a writable copy"
        )
    elif "disk is full" in message or "database or disk is full" in message:
        fix = (
            "cannot grow: its disk is full (or the database reached its size limit); free "
            "space or move the database. The failed operation changed nothing"
        )
    elif "unable to open" in message:
        directory = "its directory" if path is None else repr(os.path.dirname(path))
        fix = f"cannot be opened; check that {directory} still exists and is accessible"
    elif "disk i/o error" in message:
        fix = "hit a disk I/O error; check the disk and the file system it is on"
    else:
        return None
    return StorageError(f"{where} {fix} (SQLite said: {cause}).")


def _configure_sqlite(
    engine: Engine, *, file: str | None, busy_timeout_ms: int | None, synchronous: str
) -> None:
    wal = file is not None
    if synchronous not in SYNCHRONOUS:  # parse_url checked it; never pasted into SQL unchecked
        raise ValueError(f"synchronous={synchronous!r}")

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A pooled connection to a file deleted since (or whose directory was) would write
        # to the unlinked file and lose it all. Drop it: the pool reconnects, and that
        # fails with SQLite's own reason ("unable to open database file").
        if file is not None and not os.path.exists(file):
            raise sa.exc.DisconnectionError(f"{file!r} disappeared")

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module; _on_begin emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if busy_timeout_ms is not None:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers never deadlock upgrading
        # a read lock, and a busy database is waited for (busy_timeout) at BEGIN.
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
