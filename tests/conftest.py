"""Shared fixtures: ``db_url`` runs a test on SQLite AND on the real PostgreSQL server.

PostgreSQL tests get a fresh schema each (``CREATE SCHEMA test_<random>``), selected through the URL's
``options=-csearch_path=...`` so any engine, Alembic included, lands in it; it is dropped afterwards.
If PostgreSQL is unreachable the PostgreSQL variant is skipped locally, but fails when ``CI=true``.

``demo_run`` runs ``tipwatch demo`` once per session for the tests that read what it left.
``chromium`` is Debian's Chromium for the tests that drive a real browser (skipped without it, failed
when ``CI=true``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import pytest

# pytest puts tests/ first on sys.path; tests/evidence_api/ would then shadow the real package (installed
# through an editable-install finder that runs after the path finder), so put the repository root first.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
# Every API test makes its staff users: hash their passwords at scrypt N=2^12, not 2^17 (a second of
# CPU each).  Production ignores this; tests/evidence_api/test_security.py checks the default.
os.environ.setdefault("TIPWATCH_PASSWORD_SCRYPT_LOG2_N", "12")
from tests_support_demo import DemoRun, run_demo  # noqa: E402

import evidence_api  # noqa: E402, F401  - bind the real package before any test module imports it

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_base_url() -> str:
    return os.environ.get("TIPWATCH_TEST_PG_URL", DEFAULT_PG_URL)


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI but unreachable at {pg_base_url()}: {reason}")
    pytest.skip(f"PostgreSQL unreachable at {pg_base_url()} ({reason}); set TIPWATCH_TEST_PG_URL")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema (dropped after the test)."""
    import sqlalchemy as sa

    base = pg_base_url()
    schema = f"test_{secrets.token_hex(6)}"
    try:
        admin = sa.create_engine(base, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:
        _pg_unavailable(f"{type(exc).__name__}: {exc}".splitlines()[0])
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'tipwatch.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database: SQLite file in tmp_path, or a fresh PostgreSQL schema."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``tipwatch demo`` on the sample clips, offline, run once (minutes) for every test that needs it."""
    return run_demo(tmp_path_factory.mktemp("demo-run"))


def _browser_unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Chromium is required in CI: {reason}")
    pytest.skip(f"{reason}; `bash deploy/dev.sh test` installs it (Debian package chromium)")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (``chromium`` on PATH, or ``$TIPWATCH_TEST_CHROMIUM``), with Playwright importable
    to drive it (launched with ``executable_path``: no browser is ever downloaded); checked before the
    demo runs, so a machine without them does not wait for it."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        _browser_unavailable(f"Playwright is not installed ({exc})")
    wanted = os.environ.get("TIPWATCH_TEST_CHROMIUM", "chromium")
    path = shutil.which(wanted)
    if path is None:
        _browser_unavailable(
            f"Chromium is not installed (no `{wanted}`; set TIPWATCH_TEST_CHROMIUM to its path)"
        )
    return path
