"""What SQLStorage promises beyond the storage contract: URLs, schema versions, SQLite."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pickle
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hptune.exceptions import (
    ConfigurationError,
    SchemaVersionError,
    StorageError,
    StorageURLError,
)
from hptune.space import Float
from hptune.storage import get_storage
from hptune.storage.sql import SQLStorage
from hptune.trial import StudyDirection, TrialState

MIN = StudyDirection.MINIMIZE


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hptune.db'}"


# URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        ("hptune.db", r"malformed.*supported: sqlite"),
        ("://nothing", "malformed"),
        ("mysql://user@localhost/db", r"unsupported database .mysql.*postgresql\+psycopg"),
        ("postgresql+psycopg2://u@h/db", r"unsupported database 'postgresql\+psycopg2'"),
        ("sqlite+aiosqlite:///x.db", "unsupported database"),
        (42, "must be a string, got 42"),
    ],
)
def test_bad_urls(bad: object, match: str) -> None:
    with pytest.raises(StorageURLError, match=match):
        SQLStorage(bad)


def test_malformed_url_hides_the_password() -> None:
    with pytest.raises(StorageURLError) as info:
        SQLStorage("postgresql+psycopg://user:secret@host:notaport/db")
    assert "secret" not in str(info.value) and "***" in str(info.value)


def test_missing_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(StorageURLError, match=f"directory '{missing}' does not exist"):
        SQLStorage(f"sqlite:///{missing / 'hptune.db'}")
    assert not missing.exists()


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(StorageURLError, match="is a directory"):
        SQLStorage(f"sqlite:///{tmp_path}")


def test_unwritable_directory_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # os.access, not chmod: the tests may run as root, who may write anywhere.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: p != str(tmp_path) and real_access(p, mode))
    with pytest.raises(StorageURLError, match=f"directory '{tmp_path}' is not writable"):
        SQLStorage(f"sqlite:///{tmp_path / 'hptune.db'}")


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` fail
    with pytest.raises(ImportError, match=r"pip install 'hptune\[postgres\]'"):
        SQLStorage("postgresql+psycopg://user@localhost/db")


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"])
def test_unreachable_server_is_a_storage_error(scheme: str) -> None:
    # Port 1 refuses at once. A bare "postgresql://" means the psycopg driver too.
    with pytest.raises(StorageError) as info:
        SQLStorage(f"{scheme}://user:secret@127.0.0.1:1/db?connect_timeout=3")
    message = str(info.value)
    assert not isinstance(info.value, StorageURLError)
    assert "127.0.0.1:1" in message and "secret" not in message and "***" in message


def test_a_server_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from hptune.storage import _sql_connect

    monkeypatch.setattr(_sql_connect, "PG_CONNECT_TIMEOUT", 1)
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        done = threading.Event()
        errors: list[BaseException] = []

        def connect() -> None:
            try:
                SQLStorage(f"postgresql+psycopg://user@127.0.0.1:{port}/db")
            except BaseException as e:
                errors.append(e)
            done.set()

        threading.Thread(target=connect, daemon=True).start()
        # Generous: the timeout is 1 s (libpq may try twice), a loaded machine is slow.
        assert done.wait(timeout=60), "connecting to a silent server did not time out"
    assert len(errors) == 1 and isinstance(errors[0], StorageError), errors


def test_bad_engine_kwargs(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"engine_kwargs=.*no_such_option"):
        SQLStorage(url, engine_kwargs={"no_such_option": 1})


def test_get_storage_opens_a_url(url: str) -> None:
    storage = get_storage(url)
    assert isinstance(storage, SQLStorage)
    storage.close()


# Schema --------------------------------------------------------------------------------


def _set_version(url: str, version: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE hptune_schema_version SET version = {version}")
    engine.dispose()


@pytest.mark.parametrize(
    "version, match",
    [
        (3, "has schema version 3 but this hptune reads version 2; upgrade hptune with pip"),
        (1, "has schema version 1 but this hptune reads version 2; open it with the hptune"),
    ],
)
def test_other_schema_version_is_refused(url: str, version: int, match: str) -> None:
    SQLStorage(url).close()
    _set_version(url, version)
    with pytest.raises(SchemaVersionError, match=match):
        SQLStorage(url)


def test_reopening_keeps_everything(url: str) -> None:
    first = SQLStorage(url)
    study_id = first.create_study("s", [MIN]).study_id
    trial_id = first.create_trial(study_id).trial_id
    first.set_trial_param(trial_id, "x", Float(0, 1), 0.25)
    finished = first.finish_trial(trial_id, TrialState.COMPLETE, [1.5])
    first.close()
    second = SQLStorage(url)
    assert second.get_trials(study_id) == [finished]
    assert second.create_trial(study_id).number == 1
    second.close()


def test_values_are_json_text_not_pickles(url: str) -> None:
    storage = SQLStorage(url)
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    storage.set_trial_param(trial_id, "x", Float(0, 1), 0.25)
    storage.set_trial_attr(trial_id, "k", {"a": [1]})
    storage.close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT value_json FROM hptune_trial_params").fetchall() == [("0.25",)]
        assert conn.execute("SELECT value_json FROM hptune_trial_attrs").fetchall() == [
            ('{"a": [1]}',)
        ]


# SQLite --------------------------------------------------------------------------------


def test_sqlite_file_runs_in_wal_mode(url: str) -> None:
    SQLStorage(url).close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _synchronous(storage: SQLStorage) -> int:
    with storage._engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())


@pytest.mark.parametrize(
    ("query", "level"), [("", 2), ("?synchronous=full", 2), ("?synchronous=normal", 1)]
)
def test_sqlite_syncs_every_commit_unless_told_otherwise(url: str, query: str, level: int) -> None:
    # SQLite's levels: 1 NORMAL (synced at checkpoints), 2 FULL (synced at every commit).
    storage = SQLStorage(url + query)
    study_id = storage.create_study("s", [MIN]).study_id
    storage.create_trial(study_id)
    assert _synchronous(storage) == level
    storage.close()
    reopened = SQLStorage(url)  # the setting is the connection's, not the file's
    assert _synchronous(reopened) == 2
    assert len(reopened.get_trials(study_id)) == 1
    reopened.close()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        (
            "sqlite:///x.db?synchronous=off",
            r"synchronous must be one of \['full', 'normal'\], got synchronous='off'",
        ),
        ("sqlite://?synchronous=normal", "synchronous applies to a SQLite file only"),
    ],
)
def test_a_bad_synchronous_setting_is_named(url: str, match: str) -> None:
    with pytest.raises(StorageURLError, match=match):
        SQLStorage(url)


@pytest.mark.parametrize("timeout", [None, 0.01])
def test_a_held_lock_is_waited_for(url: str, timeout: float | None) -> None:
    # With a 30 s busy timeout SQLite waits itself; with 10 ms "database is locked" is
    # raised at once and the storage retries with backoff. Neither reaches the caller.
    options = None if timeout is None else {"connect_args": {"timeout": timeout}}
    storage = SQLStorage(url, engine_kwargs=options)
    study_id = storage.create_study("s", [MIN]).study_id
    path = url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    release = threading.Timer(0.5, other.execute, args=("COMMIT",))
    release.start()
    start = time.monotonic()
    assert storage.create_trial(study_id).number == 0
    assert time.monotonic() - start >= 0.4
    release.join()
    other.close()
    storage.close()


def test_in_memory_database_is_shared_by_threads() -> None:
    storage = SQLStorage("sqlite://")
    study_id = storage.create_study("s", [MIN]).study_id
    threads = [threading.Thread(target=storage.create_trial, args=(study_id,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [t.number for t in storage.get_trials(study_id)] == [0, 1, 2, 3]
    assert SQLStorage("sqlite://").list_studies() == []  # another storage, another database


# Pickling and caching ------------------------------------------------------------------


def test_pickles_by_url(url: str) -> None:
    storage = SQLStorage(url)
    storage.create_study("s", [MIN])
    copy = pickle.loads(pickle.dumps(storage))
    assert isinstance(copy, SQLStorage) and copy is not storage
    assert [r.name for r in copy.list_studies()] == ["s"]
    copy.close()
    storage.close()


def test_in_memory_storage_refuses_to_pickle() -> None:
    with pytest.raises(StorageError, match=r"in-memory.*file URL"):
        pickle.dumps(SQLStorage("sqlite://"))


def test_clients_see_each_others_changes(url: str) -> None:
    reader, writer = SQLStorage(url), SQLStorage(url)
    study_id = writer.create_study("s", [MIN]).study_id
    trial_id = writer.create_trial(study_id).trial_id
    assert reader.get_trials(study_id)[0].state is TrialState.RUNNING
    writer.set_trial_intermediate(trial_id, 1, 0.5)
    writer.finish_trial(trial_id, TrialState.COMPLETE, [0.5])
    seen = reader.get_trials(study_id)
    assert seen[0].state is TrialState.COMPLETE and seen[0].intermediate_values == {1: 0.5}
    assert reader.get_trials(study_id)[0] is seen[0]  # finished: served from the cache
    writer.delete_study("s")
    assert reader.list_studies() == []
    reader.close()
    writer.close()


@contextlib.contextmanager
def _selects() -> Iterator[list[tuple[str, Any]]]:
    """Record the SELECT statements every engine sends while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def _rows(url: str, statement: str, parameters: Any) -> int:
    """How many rows ``statement`` returns now (run again on a connection of our own)."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return len(conn.execute(statement, parameters).fetchall())


def test_get_trials_reads_only_what_changed(url: str) -> None:
    writer, reader = SQLStorage(url), SQLStorage(url)
    study_id = writer.create_study("s", [MIN]).study_id
    for i in range(50):
        trial_id = writer.create_trial(study_id).trial_id
        writer.set_trial_params(trial_id, {"x": (Float(0, 100), float(i))})
        writer.finish_trial(trial_id, TrialState.COMPLETE, [float(i)])
    running = writer.create_trial(study_id).trial_id
    first = reader.get_trials(study_id)
    assert len(first) == 51

    with _selects() as unchanged:
        assert reader.get_trials(study_id) == first
    assert len(unchanged) == 1  # the study's change counter, nothing else

    writer.set_trial_params(running, {"x": (Float(0, 100), 50.0)})
    new = writer.create_trial(study_id).trial_id
    writer.set_trial_params(new, {"x": (Float(0, 100), 51.0)})
    with _selects() as changed:
        third = reader.get_trials(study_id)
    # Counter, trials, parameters, intermediate values, attributes: each reads only the
    # two changed trials, however many the study has.
    counts = [_rows(url, statement, parameters) for statement, parameters in changed]
    assert counts == [1, 2, 2, 0, 0], changed
    assert [t.params["x"] for t in third] == [float(i) for i in range(52)]
    assert all(third[i] is first[i] for i in range(50))  # finished ones: the cached objects
    reader.close()
    writer.close()


def test_heartbeats_are_not_changes(url: str) -> None:
    storage = SQLStorage(url)
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    storage.get_trials(study_id)
    storage.heartbeat(trial_id)
    with _selects() as seen:
        storage.get_trials(study_id)
    assert len(seen) == 1
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)
    assert [t.trial_id for t in storage.get_stale_trials(study_id, future)] == [trial_id]
    storage.close()


# Disk faults ---------------------------------------------------------------------------


def test_read_only_database_names_the_file(url: str) -> None:
    # The tests may run as root, who may write to a chmod 0o444 file; SQLite's own
    # read-only mode (a URI with mode=ro) fails the same way an unwritable file does.
    storage = SQLStorage(url)
    study_id = storage.create_study("s", [MIN]).study_id
    storage.close()
    path = url.removeprefix("sqlite:///")
    read_only = SQLStorage(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert [r.name for r in read_only.list_studies()] == ["s"]  # reading works
    with pytest.raises(StorageError) as info:
        read_only.create_trial(study_id)
    message = str(info.value)
    assert f"'{path}' is read-only" in message
    assert "attempt to write a readonly database" in message  # SQLite's own words
    read_only.close()


def test_full_disk_names_the_file_and_corrupts_nothing(url: str) -> None:
    storage = SQLStorage(url)
    study_id = storage.create_study("s", [MIN]).study_id
    trial_id = storage.create_trial(study_id).trial_id
    storage.set_trial_params(trial_id, {"x": (Float(0, 1), 0.5)})
    storage.close()

    def cap_size(dbapi_connection: Any, _record: Any) -> None:
        # What a full disk does to SQLite: the database cannot grow by another page.
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    sa.event.listen(sa.engine.Engine, "connect", cap_size)
    try:
        full = SQLStorage(url)
        with pytest.raises(StorageError) as info:
            full.set_trial_attr(trial_id, "big", "x" * 200_000)
        full.close()
    finally:
        sa.event.remove(sa.engine.Engine, "connect", cap_size)
    path = url.removeprefix("sqlite:///")
    assert f"'{path}' cannot grow: its disk is full" in str(info.value)
    assert "database or disk is full" in str(info.value)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    again = SQLStorage(url)
    trial = again.get_trial(trial_id)
    assert trial.params == {"x": 0.5} and trial.user_attrs == {}
    again.close()


def test_directory_removed_after_open_names_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "runs"
    directory.mkdir()
    storage = SQLStorage(f"sqlite:///{directory / 'hptune.db'}")
    study_id = storage.create_study("s", [MIN]).study_id
    shutil.rmtree(directory)
    # The pooled connection still has the deleted file open; writing there would lose
    # everything silently.
    with pytest.raises(StorageError) as info:
        storage.create_trial(study_id)
    message = str(info.value)
    assert f"'{directory / 'hptune.db'}' cannot be opened" in message
    assert f"check that '{directory}' still exists" in message
    assert "unable to open database file" in message
    storage.close()
