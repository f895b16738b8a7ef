"""Fixtures for the contract suites: every storage implementation, fresh for each test.

PostgreSQL tests use the server named by ``HPTUNE_TEST_POSTGRES_URL`` and give each
test its own schema. They skip with a reason when the server is unreachable, unless
``HPTUNE_REQUIRE_SERVICES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hptune.storage import InMemoryStorage, Storage
from hptune.storage.sql import SQLStorage

STORAGES = [
    "memory",
    "sqlite",
    "sqlite-memory",
    pytest.param("postgres", marks=pytest.mark.services),
]
SHARED_STORAGES = ["sqlite", pytest.param("postgres", marks=pytest.mark.services)]


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if kind == "memory":
        return InMemoryStorage()
    if kind == "sqlite":
        return SQLStorage(f"sqlite:///{tmp_path / 'hptune.db'}")
    if kind == "sqlite-memory":
        return SQLStorage("sqlite://")
    if kind == "postgres":
        url, options = request.getfixturevalue("postgres_url_and_options")
        return SQLStorage(url, engine_kwargs=options)
    raise AssertionError(f"unknown storage kind {kind!r}")


def _open_again(
    kind: str, first: Storage, request: pytest.FixtureRequest, tmp_path: Path
) -> Storage:
    """A second client of the same storage: the same object where there is no other way in."""
    if kind in ("memory", "sqlite-memory"):
        return first
    return _open(kind, request, tmp_path)


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Every storage implementation, empty."""
    opened = _open(request.param, request, tmp_path)
    yield opened
    opened.close()


@pytest.fixture(params=STORAGES)
def clients(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, Storage]]:
    """Two clients of one empty storage, each with its own connections and cache.

    Storages that live in one object (memory, in-memory SQLite) give the same object twice.
    """
    first = _open(request.param, request, tmp_path)
    second = _open_again(request.param, first, request, tmp_path)
    yield first, second
    for opened in {id(first): first, id(second): second}.values():
        opened.close()


@pytest.fixture(params=SHARED_STORAGES)
def shared_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The storages that several processes can open at once (by unpickling), empty."""
    opened = _open(request.param, request, tmp_path)
    yield opened
    opened.close()
