"""The committed OpenAPI schema (evidence_api/openapi.json): render, compare, write."""

from __future__ import annotations

import json
from pathlib import Path

from evidence_api.main import create_app
from evidence_api.settings import Settings

SCHEMA_PATH = Path(__file__).parent / "openapi.json"


def render() -> str:
    app = create_app(Settings(database_url="sqlite+pysqlite:///:memory:", run_migrations=False))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def write(path: Path = SCHEMA_PATH) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path
