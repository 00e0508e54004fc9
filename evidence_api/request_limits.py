"""How much of a request the API reads, and for whom: sign-in first, then a cap on the body.

An ASGI middleware, :class:`RequestLimits`, rather than a dependency: FastAPI reads and parses a JSON or
form body before it resolves any dependency (the signed-in principal included), so a dependency
cannot stop an anonymous client from making the API read 200 MB.  The middleware is given the app's
routers with their prefixes, reads each route's dependencies once, and for each request finds the
route it will reach (path and method), and

1. answers 413 at once, reading nothing, when the declared ``Content-Length`` is over the route's cap;
2. when the request has a body and the route needs a sign-in (it depends on
   :func:`~evidence_api.deps.get_principal` or :func:`~evidence_api.deps.get_page_user`), looks the
   token up first: 401 for the JSON API, a redirect to ``/login`` for the review pages, body unread
   (the route's own dependencies still decide roles and answer as before);
3. counts the bytes as the route reads them, and answers 413 once the cap is passed (a chunked body
   declares no length).

The cap of a route (settings): a file upload's is the larger of ``max_image_bytes`` and
``max_clip_bytes`` (the upload then holds each file to its own limit); a route anyone may call (the
sign-in forms, and any path no route serves) gets ``max_login_body_bytes``, except a public form
that takes photos (``/report``), which gets ``max_public_report_bytes``; every other route
``max_request_body_bytes``.  The 413 is a ``TooLarge`` domain error, answered as the domain's errors
are (JSON under ``/api/v1``, a page elsewhere).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidence_api.deps import (
    NOT_SIGNED_IN,
    SESSION_COOKIE,
    STAFF_ROLES,
    TOKEN_REFUSED,
    Principal,
    bearer_token,
    get_page_user,
    get_principal,
    principal_from_token,
)
from evidence_api.outage import UNAVAILABLE
from evidence_api.services.errors import DomainError, TooLarge
from evidence_api.settings import Settings
from evidence_api.web.rendering import login_redirect

logger = logging.getLogger(__name__)

SignIn = Literal["api", "page"] | None


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """What a route needs before its body is read, and how much of it may be read."""

    sign_in: SignIn
    max_body_bytes: int


@dataclass(frozen=True, slots=True)
class _GuardedRoute:
    path: re.Pattern[str]
    methods: frozenset[str]
    policy: RoutePolicy


class _BodyTooLarge(Exception):
    """Raised into the route when it reads past its cap; the middleware answers 413."""


def _sign_in_needed(route: APIRoute) -> SignIn:
    calls: set[Any] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        calls.add(dependant.call)
        pending.extend(dependant.dependencies)
    if get_principal in calls:
        return "api"
    if get_page_user in calls:
        return "page"
    return None


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


class RequestLimits:
    """The middleware (see the module's docstring).

    ``routers``: (prefix, router) for every router the app includes: a route of theirs is guarded as
    its dependencies say; a path none of them serves (``/``, static files, the API docs) reads no body
    and gets the smallest cap.  ``uploads``: the endpoints that take a file's raw bytes;
    ``public_uploads``: the endpoints anyone may post photos to.  ``refuse``:
    how a domain error is answered (``main.domain_error_response``); ``unavailable``: how a database
    outage met while checking the sign-in is answered (:func:`evidence_api.outage.unavailable`)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        sessions: sessionmaker[Session],
        routers: Sequence[tuple[str, APIRouter]],
        uploads: Collection[Callable[..., Any]],
        public_uploads: Collection[Callable[..., Any]] = (),
        refuse: Callable[[Request, DomainError], Response],
        unavailable: Callable[[Request, Exception], Response],
    ) -> None:
        self.app = app
        self.unavailable = unavailable
        self.settings = settings
        self.sessions = sessions
        self.refuse = refuse
        self._anyone = RoutePolicy(None, settings.max_login_body_bytes)
        self._routes: list[_GuardedRoute] = []
        for prefix, router in routers:
            for route in router.routes:
                if not isinstance(route, APIRoute):
                    raise TypeError(f"{prefix}: RequestLimits guards API routes only, not {route!r}")
                regex, _, _ = compile_path(prefix + route.path)
                if route.endpoint in public_uploads:
                    policy = RoutePolicy(_sign_in_needed(route), settings.max_public_report_bytes)
                else:
                    policy = self._policy(route, upload=route.endpoint in uploads)
                self._routes.append(_GuardedRoute(regex, frozenset(route.methods or ()), policy))

    def _policy(self, route: APIRoute, *, upload: bool) -> RoutePolicy:
        sign_in = _sign_in_needed(route)
        if upload:
            limit = max(self.settings.max_image_bytes, self.settings.max_clip_bytes)
        elif sign_in is None:
            limit = self.settings.max_login_body_bytes
        else:
            limit = self.settings.max_request_body_bytes
        return RoutePolicy(sign_in, limit)

    def policy_for(self, scope: Scope) -> RoutePolicy:
        """The policy of the route that will serve ``scope`` (its path taken below any ``root_path``
        a proxy mounts the app at, as the router takes it)."""
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        for route in self._routes:
            if scope["method"] in route.methods and route.path.match(path):
                return route.policy
        return self._anyone

    def _principal(self, token: str) -> Principal | None:
        with self.sessions() as session:
            return principal_from_token(session, token, pepper=self.settings.secret_key)

    async def _sign_in_refusal(self, request: Request, sign_in: SignIn) -> Response | None:
        if sign_in == "api":
            token = bearer_token(request) or request.cookies.get(SESSION_COOKIE)
        else:
            token = request.cookies.get(SESSION_COOKIE)
        principal = await run_in_threadpool(self._principal, token) if token else None
        if sign_in == "api" and principal is None:
            detail = TOKEN_REFUSED if token else NOT_SIGNED_IN
            return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if sign_in == "page" and (principal is None or principal.role not in STAFF_ROLES):
            return login_redirect(request)  # a form posted after the session ended: say so, come back
        return None

    def _too_large(self, request: Request, limit: int) -> Response:
        return self.refuse(
            request, TooLarge(f"the request body is over {limit} bytes, the most accepted here")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy_for(scope)
        request = Request(scope)  # headers and cookies only: the body stays unread here
        declared = _declared_length(request.headers)
        if declared is not None and declared > policy.max_body_bytes:
            await self._too_large(request, policy.max_body_bytes)(scope, receive, send)
            return
        has_body = bool(declared) or "transfer-encoding" in request.headers
        if has_body and policy.sign_in is not None:
            try:
                refusal = await self._sign_in_refusal(request, policy.sign_in)
            except UNAVAILABLE as exc:  # the sign-in needs the database: the same 503 as the routes give
                refusal = self.unavailable(request, exc)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        read = 0
        over = started = False

        async def counted_receive() -> Message:
            nonlocal read, over
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > policy.max_body_bytes:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # the route's own answer to the error raised into it: the 413 replaces it
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception as exc:
            if not over:
                raise
            logger.debug("request to %s stopped at its body cap: %r", scope["path"], exc)
        if over and not started:
            await self._too_large(request, policy.max_body_bytes)(scope, receive, send)
