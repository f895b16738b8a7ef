"""Tables of the SQL storage, the statements it runs often, and how rows read back as records.

Used by sql.py only.

One schema serves SQLite and PostgreSQL.
Every value a user gives (parameters, attributes, objective values, distributions) is
stored as JSON text, never pickled, so that a database from someone else is safe to
open. Times are stored in UTC and come back timezone-aware.

Incremental sync: each study row holds a change counter, ``change_seq``. Every
transaction that changes a trial (except a heartbeat) increments its study's counter and
stamps the trial's ``seq`` with the new value. Incrementing locks the study row until
commit, so on PostgreSQL commits happen in counter order, and SQLite serializes writers
anyway: a reader that has seen everything up to ``change_seq = c`` needs only the trials
with ``seq > c`` next time (:func:`read_changes`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from hptune.exceptions import SchemaVersionError
from hptune.records import FrozenTrial, StudyDirection, TrialState
from hptune.space import Distribution, distribution_from_dict
from hptune.storage.base import StudyRecord

__all__ = [
    "BEAT",
    "CHANGE_SEQ",
    "CLAIM_HOLDER",
    "FINISH",
    "INSERT_TRIAL",
    "LAST_NUMBER",
    "OLDEST_WAITING",
    "SCHEMA_VERSION",
    "STAMP",
    "START",
    "TRIAL_EXISTS",
    "bump_study",
    "bump_study_of_trial",
    "check_version",
    "claim",
    "claims",
    "create_tables",
    "metadata",
    "read_changes",
    "read_stale",
    "read_trial",
    "read_trial_by_number",
    "read_version",
    "schema_version",
    "studies",
    "study_attrs",
    "study_records",
    "trial_attrs",
    "trial_intermediates",
    "trial_params",
    "trials",
    "upsert",
]

# Bump on every change of the tables below; SQLStorage refuses other versions.
SCHEMA_VERSION = 2

_PG_INIT_LOCK = 0x6870_7475_6E65  # advisory lock key: one process creates the tables


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)  # type: ignore[no-any-return]
        return value.astimezone(dt.timezone.utc)  # type: ignore[no-any-return]


def _trial_fk() -> ForeignKey:
    return ForeignKey("hptune_trials.id", ondelete="CASCADE")


def _study_fk() -> ForeignKey:
    return ForeignKey("hptune_studies.id", ondelete="CASCADE")


metadata = MetaData()

# A single row (id = 1) holding the version of the tables below.
schema_version = Table(
    "hptune_schema_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

# sqlite_autoincrement: ids are never reused after a delete, so that a client's cache
# of finished trials (keyed by id) can never return a deleted trial for a new one.
studies = Table(
    "hptune_studies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(512), nullable=False, unique=True),
    Column("directions_json", Text, nullable=False),
    Column("datetime_created", UTCDateTime, nullable=False),
    Column("change_seq", Integer, nullable=False, server_default="0"),
    sqlite_autoincrement=True,
)

study_attrs = Table(
    "hptune_study_attrs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", Integer, _study_fk(), nullable=False),
    Column("system", Boolean, nullable=False),
    Column("key", String(512), nullable=False),
    Column("value_json", Text, nullable=False),
    UniqueConstraint("study_id", "system", "key"),
)

trials = Table(
    "hptune_trials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", Integer, _study_fk(), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("values_json", Text, nullable=True),
    Column("datetime_start", UTCDateTime, nullable=True),
    Column("datetime_complete", UTCDateTime, nullable=True),
    Column("seq", Integer, nullable=False),  # the study's change_seq at the last change
    Column("heartbeat", UTCDateTime, nullable=True),  # NULL: never sent one
    UniqueConstraint("study_id", "number"),
    Index("ix_hptune_trials_study_seq", "study_id", "seq"),
    # Serves pop_waiting_trial (study, state) and get_stale_trials (+ heartbeat).
    Index("ix_hptune_trials_study_state_heartbeat", "study_id", "state", "heartbeat"),
    sqlite_autoincrement=True,
)

# The surrogate ids keep the order in which parameters and attributes were first set.
trial_params = Table(
    "hptune_trial_params",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trial_id", Integer, _trial_fk(), nullable=False),
    Column("name", String(512), nullable=False),
    Column("distribution_json", Text, nullable=False),
    Column("value_json", Text, nullable=False),
    UniqueConstraint("trial_id", "name"),
)

# NULL value stands for NaN, which SQLite cannot store in a REAL column.
trial_intermediates = Table(
    "hptune_trial_intermediates",
    metadata,
    Column("trial_id", Integer, _trial_fk(), primary_key=True),
    Column("step", Float, primary_key=True),
    Column("value", Float, nullable=True),
)

trial_attrs = Table(
    "hptune_trial_attrs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trial_id", Integer, _trial_fk(), nullable=False),
    Column("system", Boolean, nullable=False),
    Column("key", String(512), nullable=False),
    Column("value_json", Text, nullable=False),
    UniqueConstraint("trial_id", "system", "key"),
)

claims = Table(
    "hptune_claims",
    metadata,
    Column("study_id", Integer, _study_fk(), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("trial_id", Integer, _trial_fk(), nullable=False),
)


def read_version(conn: Connection) -> int | None:
    """Return the schema version of the database, or None if it has no hptune tables."""
    if not inspect(conn).has_table(schema_version.name):
        return None
    version = conn.scalar(select(schema_version.c.version).where(schema_version.c.id == 1))
    return None if version is None else int(version)


def create_tables(conn: Connection) -> int:
    """Create the tables unless another process just did; return the schema version."""
    if conn.dialect.name == "postgresql":  # concurrent CREATE TABLEs would collide
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_INIT_LOCK})
    version = read_version(conn)
    if version is None:
        metadata.create_all(conn)
        conn.execute(schema_version.insert().values(id=1, version=SCHEMA_VERSION))
        version = SCHEMA_VERSION
    return version


def check_version(version: int, where: str) -> None:
    """Raise SchemaVersionError unless ``version`` is the one this hptune reads."""
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        fix = "upgrade hptune with pip install -U hptune"
    else:
        fix = "open it with the hptune release that wrote it (there is no migration yet)"
    raise SchemaVersionError(
        f"the database {where} has schema version {version} but this hptune reads version "
        f"{SCHEMA_VERSION}; {fix}."
    )


# Statements of sql.py ---------------------------------------------------------------------
# Built once, with bound parameters (b_*): SQLAlchemy then reuses their cache keys and
# compiled forms, which costs less than building a statement per call.

_RUNNING = TrialState.RUNNING.value
_WAITING = TrialState.WAITING.value

INSERT_TRIAL = insert(trials)
LAST_NUMBER = select(func.max(trials.c.number)).where(trials.c.study_id == bindparam("b_study_id"))
# "number + 0": without it SQLite answers min(number) by walking the study's (study_id,
# number) index until a waiting trial comes, i.e. every trial when none waits (1.7 ms at
# 10,000 trials); with it, the (study_id, state) index (10 us).
OLDEST_WAITING = select(func.min(trials.c.number + 0)).where(
    trials.c.study_id == bindparam("b_study_id"), trials.c.state == _WAITING
)
START = (
    update(trials)
    .where(trials.c.study_id == bindparam("b_study_id"), trials.c.number == bindparam("b_number"))
    .values(
        state=_RUNNING,
        datetime_start=bindparam("b_now"),
        seq=bindparam("b_seq"),
        heartbeat=bindparam("b_beat"),
    )
)
_IS_RUNNING = (trials.c.id == bindparam("b_trial_id")) & (trials.c.state == _RUNNING)
STAMP = update(trials).where(_IS_RUNNING).values(seq=bindparam("b_seq"))
BEAT = update(trials).where(_IS_RUNNING).values(heartbeat=bindparam("b_now"))
FINISH = (
    update(trials)
    .where(_IS_RUNNING)
    .values(
        state=bindparam("b_state"),
        values_json=bindparam("b_values"),
        datetime_complete=bindparam("b_now"),
        seq=bindparam("b_seq"),
    )
)
CLAIM_HOLDER = select(claims.c.trial_id).where(
    claims.c.study_id == bindparam("b_study_id"), claims.c.key == bindparam("b_key")
)
TRIAL_EXISTS = select(trials.c.id).where(trials.c.id == bindparam("b_trial_id"))
CHANGE_SEQ = select(studies.c.change_seq).where(studies.c.id == bindparam("b_study_id"))


# The unique key that each upserted table conflicts on.
_UPSERT_KEYS = {
    "hptune_study_attrs": ("study_id", "system", "key"),
    "hptune_trial_params": ("trial_id", "name"),
    "hptune_trial_intermediates": ("trial_id", "step"),
    "hptune_trial_attrs": ("trial_id", "system", "key"),
}


@functools.cache
def upsert(table: Table, dialect: str) -> Any:
    """Return INSERT ... ON CONFLICT (its unique key) DO UPDATE for ``table``."""
    stmt = _insert(table, dialect)
    keys = _UPSERT_KEYS[table.name]
    others = [c.name for c in table.columns if c.name not in keys and not c.primary_key]
    replaced = {name: stmt.excluded[name] for name in others}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=replaced)


@functools.cache
def claim(dialect: str) -> Any:
    """Return the INSERT that takes a claim key unless another trial holds it."""
    return _insert(claims, dialect).on_conflict_do_nothing(index_elements=["study_id", "key"])


def _insert(table: Table, dialect: str) -> Any:
    # Both dialects spell upserts the same: INSERT ... ON CONFLICT.
    from sqlalchemy.dialects import postgresql, sqlite

    return (sqlite if dialect == "sqlite" else postgresql).insert(table)


# Change counter -------------------------------------------------------------------------

_BUMP = (
    update(studies)
    .where(studies.c.id == bindparam("b_study_id"))
    .values(change_seq=studies.c.change_seq + 1)
    .returning(studies.c.change_seq)
)
_STUDY_OF_TRIAL = select(trials.c.study_id).where(trials.c.id == bindparam("b_trial_id"))
_BUMP_OF_TRIAL = (
    update(studies)
    .where(studies.c.id == _STUDY_OF_TRIAL.scalar_subquery())
    .values(change_seq=studies.c.change_seq + 1)
    .returning(studies.c.change_seq)
)


def bump_study(conn: Connection, study_id: int) -> int | None:
    """Increment the study's change counter; return the new value (None: no such study).

    On PostgreSQL this locks the study row until the transaction ends.
    """
    value = conn.scalar(_BUMP, {"b_study_id": study_id})
    return None if value is None else int(value)


def bump_study_of_trial(conn: Connection, trial_id: int) -> int | None:
    """Increment the change counter of the trial's study; None if there is no such trial."""
    value = conn.scalar(_BUMP_OF_TRIAL, {"b_trial_id": trial_id})
    return None if value is None else int(value)


# Reading rows back into records ---------------------------------------------------------


def study_records(conn: Connection, where: ColumnElement[bool] | None) -> list[StudyRecord]:
    """Read the studies matching ``where`` (all if None), oldest first, with trial counts."""
    n_trials = func.count(trials.c.id).label("n_trials")
    query = select(studies, n_trials).select_from(studies.outerjoin(trials))
    if where is not None:
        query = query.where(where)
    rows = conn.execute(query.group_by(studies.c.id).order_by(studies.c.id)).all()
    attrs: dict[tuple[int, bool], dict[str, Any]] = {}
    a = study_attrs
    attr_query = select(a.c.study_id, a.c.system, a.c.key, a.c.value_json).order_by(a.c.id)
    if where is not None:
        attr_query = attr_query.where(a.c.study_id.in_([r.id for r in rows]))
    for r in conn.execute(attr_query) if rows else ():
        attrs.setdefault((r.study_id, r.system), {})[r.key] = json.loads(r.value_json)
    return [
        StudyRecord(
            r.id,
            r.name,
            tuple(StudyDirection(d) for d in json.loads(r.directions_json)),
            user_attrs=attrs.get((r.id, False), {}),
            system_attrs=attrs.get((r.id, True), {}),
            datetime_created=r.datetime_created,
            n_trials=r.n_trials,
        )
        for r in rows
    ]


_IDS: BindParameter[list[int]] = bindparam("b_ids", expanding=True)
# Trial ids per child query: well under SQLite's and PostgreSQL's limits on bound values.
_IDS_PER_QUERY = 2000


class _TrialReader:
    """The queries that read the trials matching ``where``, one per table.

    The child tables are joined to the trials under the same condition, so they return
    exactly the rows of the trials read (callers read in one snapshot), however many.
    """

    def __init__(self, where: ColumnElement[bool]) -> None:
        t, p, im, a = trials, trial_params, trial_intermediates, trial_attrs
        columns = (t.c.id, t.c.number, t.c.state, t.c.values_json)
        times = (t.c.datetime_start, t.c.datetime_complete, t.c.seq)
        self.trials = select(*columns, *times).where(where).order_by(t.c.number)
        # The children are read by the ids the first query found: each query is an index
        # lookup per trial, whatever else the tables hold (a join lets PostgreSQL scan
        # the whole child table once its statistics are stale, a cost that grows with it).
        params = select(p.c.trial_id, p.c.name, p.c.distribution_json, p.c.value_json)
        self.params = params.where(p.c.trial_id.in_(_IDS)).order_by(p.c.id)
        steps = select(im.c.trial_id, im.c.step, im.c.value)
        self.steps = steps.where(im.c.trial_id.in_(_IDS)).order_by(im.c.step)
        attrs = select(a.c.trial_id, a.c.system, a.c.key, a.c.value_json)
        self.attrs = attrs.where(a.c.trial_id.in_(_IDS)).order_by(a.c.id)

    def read(self, conn: Connection, bound: dict[str, Any]) -> list[tuple[int, FrozenTrial]]:
        """Return (seq, trial) for each matching trial, ordered by number."""
        rows = conn.execute(self.trials, bound).all()
        if not rows:
            return []
        records = {r.id: _empty_trial(r) for r in rows}
        ids = list(records)
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = {"b_ids": ids[start : start + _IDS_PER_QUERY]}
            for p in conn.execute(self.params, chunk):
                record = records[p.trial_id]
                record.params[p.name] = json.loads(p.value_json)
                record.distributions[p.name] = _distribution(p.distribution_json)
            for i in conn.execute(self.steps, chunk):
                step = int(i.step) if i.step.is_integer() else i.step
                value = math.nan if i.value is None else i.value
                records[i.trial_id].intermediate_values[step] = value
            for a in conn.execute(self.attrs, chunk):
                record = records[a.trial_id]
                (record.system_attrs if a.system else record.user_attrs)[a.key] = json.loads(
                    a.value_json
                )
        return [(r.seq, records[r.id]) for r in rows]


_BY_ID = _TrialReader(trials.c.id == bindparam("b_trial_id"))
_BY_NUMBER = _TrialReader(
    and_(trials.c.study_id == bindparam("b_study_id"), trials.c.number == bindparam("b_number"))
)
_CHANGED = _TrialReader(
    and_(trials.c.study_id == bindparam("b_study_id"), trials.c.seq > bindparam("b_cursor"))
)
_STALE = _TrialReader(
    and_(
        trials.c.study_id == bindparam("b_study_id"),
        trials.c.state == TrialState.RUNNING.value,
        trials.c.heartbeat.is_not(None),
        trials.c.heartbeat < bindparam("b_before"),
    )
)


def read_trial(conn: Connection, trial_id: int) -> FrozenTrial | None:
    """Read one trial, or return None if there is none."""
    found = _BY_ID.read(conn, {"b_trial_id": trial_id})
    return found[0][1] if found else None


def read_trial_by_number(conn: Connection, study_id: int, number: int) -> FrozenTrial | None:
    """Read the study's trial ``number``, or return None if there is none."""
    found = _BY_NUMBER.read(conn, {"b_study_id": study_id, "b_number": number})
    return found[0][1] if found else None


def read_changes(conn: Connection, study_id: int, cursor: int) -> list[tuple[int, FrozenTrial]]:
    """Read the study's trials changed after change number ``cursor``, as (seq, trial)."""
    return _CHANGED.read(conn, {"b_study_id": study_id, "b_cursor": cursor})


def read_stale(conn: Connection, study_id: int, before: dt.datetime) -> list[FrozenTrial]:
    """Read the study's RUNNING trials whose last heartbeat is older than ``before``."""
    found = _STALE.read(conn, {"b_study_id": study_id, "b_before": before})
    return [trial for _, trial in found]


def _empty_trial(row: Any) -> FrozenTrial:
    return FrozenTrial(
        number=row.number,
        trial_id=row.id,
        state=TrialState(row.state),
        values=None if row.values_json is None else tuple(json.loads(row.values_json)),
        datetime_start=row.datetime_start,
        datetime_complete=row.datetime_complete,
    )


@functools.lru_cache(maxsize=4096)
def _distribution(text: str) -> Distribution:
    # Distributions are immutable values, and most trials share a few of them.
    return distribution_from_dict(json.loads(text))
