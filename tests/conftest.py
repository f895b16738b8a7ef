"""Settings and fixtures shared by every test folder.

Hypothesis runs under a fixed profile, ``repeatable`` (the default): examples are derived
from each test's name (``derandomize``), no deadline (a loaded machine is slow, not
wrong), no example database. A run therefore tries the same examples every time, here and
in CI, and a failure found once reproduces on the next run. Counterexamples found while
exploring are kept in the tests as ``@example(...)``. ``HYPOTHESIS_PROFILE=explore``
searches afresh with more examples per test, to look for new ones.

Ctrl-C: a shell starts background jobs with SIGINT ignored, and Python leaves an ignored
SIGINT ignored; the tests that send SIGINT (to this process or to a worker it starts)
then see nothing happen. :func:`pytest_configure` restores Python's handler, so the suite
behaves the same in the foreground, in the background and under CI.

PostgreSQL tests use the server named by ``HPTUNE_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and give each test its own schema.
They skip with a reason when the server is unreachable, unless
``HPTUNE_REQUIRE_SERVICES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


POSTGRES_URL = os.environ.get(
    "HPTUNE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


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
def postgres_url_and_options(postgres_admin: sa.Engine) -> Iterator[tuple[str, dict[str, Any]]]:
    """The test server's URL and ``engine_kwargs`` for a fresh schema, dropped afterwards."""
    schema = f"hptune_test_{secrets.token_hex(6)}"
    with postgres_admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield POSTGRES_URL, {"connect_args": {"options": f"-csearch_path={schema}"}}
    finally:
        with postgres_admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
