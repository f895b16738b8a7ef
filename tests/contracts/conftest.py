"""Fixtures for the contract suites: every storage implementation, fresh for each test.

PostgreSQL tests use the server named by ``HPTUNE_TEST_POSTGRES_URL`` and give each
test its own schema. They skip with a reason when the server is unreachable, unless
``HPTUNE_REQUIRE_SERVICES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hptune.storage import InMemoryStorage, Storage
from hptune.storage.sql import SQLStorage

POSTGRES_URL = os.environ.get(
    "HPTUNE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STORAGES = [
    "memory",
    "sqlite",
    "sqlite-memory",
    pytest.param("postgres", marks=pytest.mark.services),
]
SHARED_STORAGES = ["sqlite", pytest.param("postgres", marks=pytest.mark.services)]


def _services_required() -> bool:
    return os.environ.get("HPTUNE_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    """An engine on the test server, or a skip (a failure under HPTUNE_REQUIRE_SERVICES=1)."""
    masked = sa.make_url(POSTGRES_URL).render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (ImportError, sa.exc.SQLAlchemyError) as e:
        reason = (
            f"PostgreSQL at {masked} is unreachable ({getattr(e, 'orig', None) or e}); start it or "
            "set HPTUNE_TEST_POSTGRES_URL"
        )
        if _services_required():
            pytest.fail(f"{reason} (HPTUNE_REQUIRE_SERVICES=1 forbids skipping).")
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_storage(postgres_admin: sa.Engine) -> Iterator[SQLStorage]:
    """A SQLStorage on a fresh schema of the test server, dropped afterwards."""
    schema = f"hptune_test_{secrets.token_hex(6)}"
    with postgres_admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    options = {"connect_args": {"options": f"-csearch_path={schema}"}}
    storage = SQLStorage(POSTGRES_URL, engine_kwargs=options)
    try:
        yield storage
    finally:
        storage.close()
        with postgres_admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if kind == "memory":
        return InMemoryStorage()
    if kind == "sqlite":
        return SQLStorage(f"sqlite:///{tmp_path / 'hptune.db'}")
    if kind == "sqlite-memory":
        return SQLStorage("sqlite://")
    if kind == "postgres":
        storage: Storage = request.getfixturevalue("postgres_storage")
        return storage
    raise AssertionError(f"unknown storage kind {kind!r}")


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Every storage implementation, empty."""
    opened = _open(request.param, request, tmp_path)
    yield opened
    opened.close()


@pytest.fixture(params=SHARED_STORAGES)
def shared_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The storages that several processes can open at once (by unpickling), empty."""
    opened = _open(request.param, request, tmp_path)
    yield opened
    opened.close()
