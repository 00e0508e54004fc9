"""The database or the object store going away: 503 with ``Retry-After``, one log line per outage,
recovery by itself.

When PostgreSQL restarts, fails over or is cut off, every request that needs it fails with a
driver error.  Left to the framework each is a 500 and a traceback (85k log lines in one outage
under load).  Instead each is answered ``503 Service Unavailable`` with ``Retry-After`` (the edge's
uploader and any HTTP client back off and retry; nothing acknowledged is lost, because nothing was
acknowledged), and the log gets one line when the outage starts and one when the database is back
(the pool's pre-ping finds a working connection again: no restart needed).

The blob store is treated the same way: a store that cannot be reached raises
:class:`~evidence_api.storage.BlobStoreUnavailable` (the S3 store logs the outage's start and end
itself, :class:`evidence_api.storage.s3.Availability`), answered here with 503 and ``Retry-After``.
An upload refused so has written nothing its event records: the database transaction is rolled back,
and an object store never shows an object that was not completed.
"""

from __future__ import annotations

import logging
import threading
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from evidence_api.services.errors import DomainError
from evidence_api.storage import BlobStoreUnavailable
from evidence_api.web.rendering import error_page

logger = logging.getLogger(__name__)

# Errors that mean "the database cannot be reached or is not answering", not "this request is wrong".
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)
RETRY_AFTER_S = 5  # what clients are told to wait before trying again
SETTLE_S = 2.0  # the database must answer this long, with no request refused, to be "back"
MESSAGE = "the evidence database is unavailable for a moment; nothing was stored; try again shortly"
BUSY_MESSAGE = (
    "the evidence database is busy (a statement or a lock wait took too long); nothing was stored; "
    "try again shortly"
)
STORE_MESSAGE = "the evidence file store is unavailable for a moment; nothing was stored; try again shortly"


class ServiceUnavailable(DomainError):
    """The database or the blob store cannot serve the request now (503)."""

    status_code = 503


class OutageLog:
    """Logs an outage once when it starts and once when it ends, counting the requests refused.

    The end is the database answering for :data:`SETTLE_S` seconds with no request refused meanwhile:
    connections that passed the pool's pre-ping just before the server killed them succeed once and
    then fail, which would otherwise log a burst of "back"/"unavailable" pairs for one outage."""

    def __init__(self, settle_s: float = SETTLE_S) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None
        self._working_since: float | None = None  # first success since the last refusal
        self._refused = 0
        self.settle_s = settle_s

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def refused(self, exc: Exception) -> None:
        with self._lock:
            self._refused += 1
            self._working_since = None
            if self._since is not None:
                return
            self._since = time.monotonic()
        reason = _first_line(exc)
        logger.error("database unavailable, answering 503 until it is back: %s", reason)

    def connected(self) -> None:
        if self._since is None:  # the usual case: no lock taken
            return
        now = time.monotonic()
        with self._lock:
            if self._since is None:
                return
            if self._working_since is None:
                self._working_since = now
            if now - self._working_since < self.settle_s:
                return
            lasted, refused = self._working_since - self._since, self._refused
            self._since, self._working_since, self._refused = None, None, 0
        logger.warning("database back after %.0f s; %d request(s) answered 503 meanwhile", lasted, refused)


def _first_line(exc: Exception) -> str:
    """The driver's own message (``exc.orig``, else ``exc``), its first line, at most 300 characters."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def timed_out(exc: Exception) -> bool:
    """Whether the database answered but ended the statement: a lock wait past ``lock_timeout`` or a
    statement past ``statement_timeout`` (SQLSTATE 55P03, 57014) — busy, not gone."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in ("55P03", "57014")


def unavailable(request: Request, exc: Exception, outage: OutageLog, *, api_prefix: str) -> Response:
    """The 503 for a request the database could not serve (JSON under ``api_prefix``, else a page);
    also for middleware that meets the outage before the routes do.  A statement the database ended
    for taking too long is a 503 too, logged as what it is, not as an outage."""
    if timed_out(exc):
        reason = _first_line(exc)
        logger.warning("a database statement took too long, answered 503 (%s): %s", request.url.path, reason)
        return service_unavailable(request, BUSY_MESSAGE, api_prefix=api_prefix)
    outage.refused(exc)
    return service_unavailable(request, MESSAGE, api_prefix=api_prefix)


def service_unavailable(request: Request, message: str, *, api_prefix: str) -> Response:
    """503 with ``Retry-After`` and ``message``: JSON under ``api_prefix``, else a page."""
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if request.url.path.startswith(api_prefix + "/"):
        return JSONResponse({"detail": message}, status_code=503, headers=headers)
    page = error_page(request, ServiceUnavailable(message))
    page.headers["Retry-After"] = str(RETRY_AFTER_S)
    return page


def install(app: FastAPI, engine: Engine, *, api_prefix: str) -> OutageLog:
    """Answer database and blob store outages with 503 on ``app``, and follow ``engine``'s connections
    for the end of a database outage."""
    outage = OutageLog()
    event.listen(engine, "checkout", lambda *_args: outage.connected())

    async def _unavailable(request: Request, exc: Exception) -> Response:
        return unavailable(request, exc, outage, api_prefix=api_prefix)

    async def _store_unavailable(request: Request, exc: Exception) -> Response:
        return service_unavailable(request, STORE_MESSAGE, api_prefix=api_prefix)

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _unavailable)
    app.add_exception_handler(BlobStoreUnavailable, _store_unavailable)
    return outage
