"""The committed OpenAPI schema is current, and the migration head matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from evidence_api.db import Base
from evidence_api.main import run_migrations
from evidence_api.openapi_schema import SCHEMA_PATH, render


def test_committed_openapi_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), (
        "evidence_api/openapi.json is stale: run `tipwatch admin openapi --write`"
    )


def test_migration_head_matches_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        run_migrations(db_url, engine=engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()
