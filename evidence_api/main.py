"""``create_app(settings)``: the API's composition root.

Routers are listed explicitly under /api/v1 (:data:`ROUTERS`), the review pages are mounted beside them,
domain errors become 4xx answers (JSON for the API, a page for the pages), request bodies are read only
after the sign-in and only up to a cap (:class:`~evidence_api.request_limits.RequestLimits`), a
database outage is a 503 (:mod:`evidence_api.outage`), and migrations run at start-up.  Everything the
requests share is built here once and kept on ``app.state``: settings, the database engine and
sessions, the blob store, the bundle-export thread, the audit log's checkpointer, the event feed and its
MQTT publisher (when ``TIPWATCH_MQTT_URL`` is set), and the person finder that bundle exports blur
people with (injected: the API never imports the edge's detector).
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidence_api import __version__, outage
from evidence_api.bundle.redact import PersonFinderFactory
from evidence_api.bundle.signing import KeyStore
from evidence_api.db import make_engine, make_sessionmaker
from evidence_api.deps import LoginRequired, get_health_watch, known_page_user
from evidence_api.mqtt import BrokerAddress, MqttPublisher
from evidence_api.request_limits import RequestLimits
from evidence_api.routes import audit, auth, authorisations, bundles, cases, events, returns, sites
from evidence_api.services import outbox
from evidence_api.services.audit_checkpoints import AuditCheckpointer, CheckpointLog
from evidence_api.services.bundle_export import BackgroundExports, reap_interrupted
from evidence_api.services.errors import ClockAhead, ClockNotSet, DomainError
from evidence_api.services.event_feed import EventFeed
from evidence_api.settings import Settings
from evidence_api.storage import make_blob_store
from evidence_api.validation_errors import safe_errors
from evidence_api.web import pages, public_report_pages
from evidence_api.web.rendering import error_page, login_redirect, message_page

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
API_ROOT = "/api/"  # everything under it answers JSON, an address no route serves included
# What a page says for an HTTP error raised by routing or the static files (their detail is terse).
PAGE_HTTP_MESSAGES = {
    404: "There is no page at this address: it may have been mistyped, or what it showed may have gone.",
    405: "This address does not take that kind of request: use the links and buttons on the pages.",
}
NOSNIFF = ("X-Content-Type-Options", "nosniff")
CRASH_MESSAGE = (
    "The server met an error it did not expect, and nothing was changed by this request. "
    "It has been logged; try again, and tell the administrator if it happens again."
)
# in this order in the OpenAPI schema
ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    events.router,
    sites.router,
    authorisations.router,
    cases.router,
    audit.router,
    bundles.router,
    returns.router,
)


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
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # a migration may rewrite a table
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    else:
        command.upgrade(cfg, "head")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At start-up, record as failed the exports an earlier stop cut short and start the audit log's
    checkpoints and the event feed's publisher; at shutdown, let a background export finish before the
    process goes."""
    await run_in_threadpool(_reap_interrupted_exports, app)
    app.state.audit_checkpointer.start()
    if app.state.mqtt_publisher is not None:
        app.state.mqtt_publisher.start()
    yield
    await run_in_threadpool(app.state.bundle_exports.shutdown, True)
    await run_in_threadpool(app.state.audit_checkpointer.stop)
    if app.state.mqtt_publisher is not None:
        await run_in_threadpool(app.state.mqtt_publisher.stop)


def _reap_interrupted_exports(app: FastAPI) -> None:
    with app.state.sessionmaker() as session:
        reaped = reap_interrupted(session=session, data_dir=app.state.settings.data_dir)
    if reaped:
        logger.warning("%d bundle export(s) cut short by an earlier stop recorded as failed", reaped)


def build_event_feed(
    settings: Settings, sessions: sessionmaker[Session]
) -> tuple[EventFeed | None, MqttPublisher | None]:
    """The event feed and its MQTT publisher, or neither when ``TIPWATCH_MQTT_URL`` is unset.  The
    publisher is woken after each commit that wrote outbox rows."""
    if settings.mqtt_url is None:
        return None, None
    feed = EventFeed(include_plates=settings.mqtt_include_plates, watch=get_health_watch(settings))
    publisher = MqttPublisher(
        sessions,
        BrokerAddress.parse(settings.mqtt_url.get_secret_value()),
        topic_prefix=settings.mqtt_topic_prefix,
        keep_published=timedelta(hours=settings.event_feed_retention_hours),
        max_backlog=timedelta(days=settings.event_feed_backlog_days),
        ca_file=settings.mqtt_ca_file,
    )

    def _after_commit(session: Session) -> None:
        if session.info.pop(outbox.WRITTEN, False):
            publisher.wake()

    def _after_rollback(session: Session) -> None:
        session.info.pop(outbox.WRITTEN, None)

    sa_event.listen(sessions, "after_commit", _after_commit)
    sa_event.listen(sessions, "after_rollback", _after_rollback)
    return feed, publisher


def domain_error_json(exc: DomainError) -> JSONResponse:
    """A DomainError as the API answers it: ``{"detail": message}`` with its status; a 422 in the shape
    of FastAPI's own validation errors (the schema says so)."""
    if isinstance(exc, ClockAhead):
        detail = [{"loc": ["body"], "msg": str(exc), "type": "clock_ahead"}]
        retry = str(max(1, math.ceil(exc.retry_after_s)))
        return JSONResponse({"detail": detail}, status_code=422, headers={"Retry-After": retry})
    if exc.status_code == 422:
        kind = "clock_not_set" if isinstance(exc, ClockNotSet) else "value_error"
        detail = [{"loc": ["body"], "msg": str(exc), "type": kind}]
        return JSONResponse({"detail": detail}, status_code=422)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)


def wants_json(request: Request) -> bool:
    """Whether an error is answered as JSON (the API) rather than as a page (everything else)."""
    return request.url.path.startswith(API_ROOT)


def domain_error_response(request: Request, exc: DomainError) -> Response:
    """A DomainError answered: JSON under /api/, a page showing the message everywhere else."""
    if wants_json(request):
        return domain_error_json(exc)
    return error_page(request, exc)


def add_error_handlers(app: FastAPI) -> None:
    """Translate errors the same way for every route: JSON under /api/, a page with the navigation
    everywhere else (the review pages).  Domain errors keep their message; an HTTP error from routing
    (404, 405) gets a plain-words page; a page that needs a sign-in redirects to it with ``next=``; a
    request that fails validation gets FastAPI's 422 shape (or a page), with only short, encodable
    echoes of what it held (:mod:`evidence_api.validation_errors`); a crash is a 500 page or JSON
    without a traceback, and is still raised to the server, which logs it."""

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        if wants_json(request):
            return domain_error_json(exc)
        me = await run_in_threadpool(known_page_user, request)  # the navigation of whoever is signed in
        return error_page(request, exc, me=me)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_json(request):
            return await http_exception_handler(request, exc)
        message = PAGE_HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        me = await run_in_threadpool(known_page_user, request)
        page = message_page(request, message, status_code=exc.status_code, me=me)
        page.headers.update(exc.headers or {})
        return page

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = safe_errors(exc.errors())
        if wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        where = "; ".join(
            f"{' '.join(str(part) for part in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
            for e in errors
        )
        me = await run_in_threadpool(known_page_user, request)
        return message_page(request, f"This address or form is not valid ({where}).", status_code=422, me=me)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(Exception)
    async def _crash(request: Request, _exc: Exception) -> Response:
        # Starlette's ServerErrorMiddleware sends this, then raises the exception on to the server's log.
        if wants_json(request):
            response: Response = JSONResponse({"detail": "internal server error"}, status_code=500)
        else:
            response = message_page(request, CRASH_MESSAGE, status_code=500)
        response.headers[NOSNIFF[0]] = NOSNIFF[1]  # outside the middleware below: set here too
        return response


class NoSniff:
    """``X-Content-Type-Options: nosniff`` on every response: a browser never second-guesses the type we
    declared (an uploaded still or a text answer is never run as a script or a page)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"
                ]
                message = {**message, "headers": [*headers, (b"x-content-type-options", b"nosniff")]}
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_app(
    settings: Settings | None = None,
    *,
    schema: str | None = None,
    person_finder_factory: PersonFinderFactory | None = None,
) -> FastAPI:
    """The API and review pages over ``settings`` (default: from the environment).

    ``schema`` puts the tables in a PostgreSQL schema (tests).  ``person_finder_factory`` makes the
    person finder that bundle exports blur people with; without one, an export that asks for blurring
    is refused with a message saying so (the tipwatch command passes the edge box's detector)."""
    settings = settings or Settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.resolved_upload_dir.mkdir(parents=True, exist_ok=True)
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
    app.state.person_finder_factory = person_finder_factory
    # bundle exports asked for in the background run here, one at a time
    app.state.bundle_exports = BackgroundExports(app.state.sessionmaker)
    # signed checkpoints of the audit log, outside the database (services/audit_checkpoints.py)
    app.state.audit_checkpointer = AuditCheckpointer(
        app.state.sessionmaker,
        KeyStore(settings.data_dir),
        CheckpointLog(settings.resolved_audit_checkpoint_path),
        settings.audit_checkpoint_interval_s,
    )
    # the event feed: outbox rows written with each change, published to MQTT by a thread (mqtt.py)
    app.state.event_feed, app.state.mqtt_publisher = build_event_feed(settings, app.state.sessionmaker)
    add_error_handlers(app)
    app.state.outage = outage.install(app, engine, api_prefix=API_PREFIX)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    pages.mount(app)
    app.add_middleware(
        RequestLimits,
        settings=settings,
        sessions=app.state.sessionmaker,
        routers=[*((API_PREFIX, router) for router in ROUTERS), *(("", r) for r in pages.ROUTERS)],
        uploads=(events.put_file,),
        public_uploads=(public_report_pages.send_report,),
        refuse=domain_error_response,
        unavailable=lambda request, exc: outage.unavailable(
            request, exc, app.state.outage, api_prefix=API_PREFIX
        ),
    )
    app.add_middleware(NoSniff)  # outermost of ours: the limits' own answers get it too
    return app
