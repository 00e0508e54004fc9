"""``create_app(settings)``: routers under /api/v1, domain errors as 4xx, migrations at start-up."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from evidence_api import __version__
from evidence_api.db import make_engine, make_sessionmaker
from evidence_api.routes import audit, auth, authorisations, cases, events, sites
from evidence_api.services import bundles as bundle_service
from evidence_api.services.errors import DomainError
from evidence_api.settings import Settings
from evidence_api.storage import make_blob_store

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def run_migrations(engine_url: str, *, engine: object | None = None) -> None:
    from alembic import command
    from alembic.config import Config

    here = Path(__file__).parent
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-plugin INFO lines drown the CLI
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here / "alembic"))
    cfg.set_main_option("sqlalchemy.url", engine_url.replace("%", "%%"))
    if engine is not None:
        with engine.begin() as conn:  # type: ignore[attr-defined]
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    else:
        command.upgrade(cfg, "head")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At start-up, record as failed the exports an earlier stop cut short; at shutdown, let a
    background export finish before the process goes."""
    await run_in_threadpool(_reap_interrupted_exports, app)
    yield
    await run_in_threadpool(app.state.bundle_exports.shutdown, True)


def _reap_interrupted_exports(app: FastAPI) -> None:
    with app.state.sessionmaker() as session:
        reaped = bundle_service.reap_interrupted(session, data_dir=app.state.settings.data_dir)
    if reaped:
        logger.warning("%d bundle export(s) cut short by an earlier stop recorded as failed", reaped)


def create_app(settings: Settings | None = None, *, schema: str | None = None) -> FastAPI:
    settings = settings or Settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url, schema=schema)
    if settings.run_migrations:
        run_migrations(settings.resolved_database_url, engine=engine)
    app = FastAPI(
        lifespan=_lifespan,
        title="Tipwatch evidence API",
        version=__version__,
        description="Fly-tipping evidence: ingest, review, cases, authorisations, audit.",
        license_info={"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.store = make_blob_store(settings)
    # bundle exports asked for in the background run here, one at a time
    app.state.bundle_exports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bundle-export")

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        if exc.status_code == 422:  # the same shape as FastAPI's own validation errors (the schema says so)
            detail = [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
            return JSONResponse({"detail": detail}, status_code=422)
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    for module in (auth, events, sites, authorisations, cases, audit):
        app.include_router(module.router, prefix=API_PREFIX)
    for optional in (
        "evidence_api.routes.bundles",
        "evidence_api.routes.returns",
        "evidence_api.routes.admin",
    ):
        if importlib.util.find_spec(optional) is not None:
            app.include_router(importlib.import_module(optional).router, prefix=API_PREFIX)
    if importlib.util.find_spec("evidence_api.web.pages") is not None:
        from evidence_api.web import pages

        pages.mount(app)
    return app
