"""Tables of the SQL storage and how their rows read back as records (used by sql.py only).

One schema serves SQLite and PostgreSQL.
Every value a user gives (parameters, attributes, objective values, distributions) is
stored as JSON text, never pickled, so that a database from someone else is safe to
open. Times are stored in UTC and come back timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Iterator, Sequence
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
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from hptune.exceptions import SchemaVersionError
from hptune.space import Distribution, distribution_from_dict
from hptune.storage.base import StudyRecord
from hptune.trial import FrozenTrial, StudyDirection, TrialState

__all__ = [
    "SCHEMA_VERSION",
    "TRIAL_COLUMNS",
    "check_version",
    "claims",
    "create_tables",
    "load_trials",
    "metadata",
    "read_version",
    "schema_version",
    "studies",
    "study_attrs",
    "study_records",
    "trial_attrs",
    "trial_intermediates",
    "trial_params",
    "trials",
    "trials_from_rows",
]

# Bump on every change of the tables below; SQLStorage refuses other versions.
SCHEMA_VERSION = 1

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
    UniqueConstraint("study_id", "number"),
    Index("ix_hptune_trials_study_state", "study_id", "state"),
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


# Reading rows back into records ---------------------------------------------------------

_IN_LIMIT = 500  # ids per IN (...) list; beyond, read the whole study and filter

TRIAL_COLUMNS = (
    trials.c.id,
    trials.c.number,
    trials.c.state,
    trials.c.values_json,
    trials.c.datetime_start,
    trials.c.datetime_complete,
)


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


def load_trials(
    conn: Connection, ids: Sequence[int], study_id: int | None = None
) -> list[FrozenTrial]:
    """Read the trials ``ids`` (of ``study_id`` when given) with one query per table."""
    if not ids:
        return []
    rows = list(_select_in(conn, select(*TRIAL_COLUMNS), trials.c.id, ids, study_id))
    return trials_from_rows(conn, rows, study_id)


def trials_from_rows(
    conn: Connection, rows: Sequence[Any], study_id: int | None = None
) -> list[FrozenTrial]:
    """Complete rows of :data:`TRIAL_COLUMNS` with their parameters, values and attributes."""
    ids = [r.id for r in rows]
    records = {r.id: _empty_trial(r) for r in rows}
    p, im, a = trial_params, trial_intermediates, trial_attrs
    params = select(p.c.trial_id, p.c.name, p.c.distribution_json, p.c.value_json)
    for r in _select_in(conn, params.order_by(p.c.id), p.c.trial_id, ids, study_id):
        records[r.trial_id].params[r.name] = json.loads(r.value_json)
        records[r.trial_id].distributions[r.name] = _distribution(r.distribution_json)
    steps = select(im.c.trial_id, im.c.step, im.c.value).order_by(im.c.step)
    for r in _select_in(conn, steps, im.c.trial_id, ids, study_id):
        step = int(r.step) if r.step.is_integer() else r.step
        records[r.trial_id].intermediate_values[step] = math.nan if r.value is None else r.value
    attrs = select(a.c.trial_id, a.c.system, a.c.key, a.c.value_json).order_by(a.c.id)
    for r in _select_in(conn, attrs, a.c.trial_id, ids, study_id):
        record = records[r.trial_id]
        (record.system_attrs if r.system else record.user_attrs)[r.key] = json.loads(r.value_json)
    return [records[i] for i in ids]


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


def _select_in(
    conn: Connection, query: Any, column: Any, ids: Sequence[int], study_id: int | None
) -> Iterator[Any]:
    """Run ``query`` for the rows whose ``column`` is in ``ids``, in few round trips.

    The first column of ``query`` must be the trial id.
    """
    if study_id is not None and len(ids) > _IN_LIMIT:
        # Many trials: one query for the whole study beats many IN lists; filter here.
        of_study = select(trials.c.id).where(trials.c.study_id == study_id)
        wanted = set(ids)
        yield from (r for r in conn.execute(query.where(column.in_(of_study))) if r[0] in wanted)
        return
    for start in range(0, len(ids), _IN_LIMIT):
        yield from conn.execute(query.where(column.in_(ids[start : start + _IN_LIMIT])))
