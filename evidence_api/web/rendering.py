"""How the review pages answer: templates (times in the display time zone), the CSRF double-submit
token on every form, never cached (evidence and personal data: ``Cache-Control: no-store``), an error
shown to a person as a page with the navigation, and a browser without a valid session sent to sign in
with a ``next=`` back to where it was."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from evidence_api.deps import SESSION_COOKIE, Principal
from evidence_api.input_types import forbidden_character
from evidence_api.security import csrf_token
from evidence_api.services.errors import DomainError, Invalid
from evidence_api.settings import Settings
from evidence_api.validation_errors import safe_errors, safe_text

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSRF_COOKIE = "tipwatch_csrf"
STALE_FORM = "the form's security token is missing or stale: reload the page and try again"
LANDING = "/review"  # where a sign-in goes when it was not sent from a page
SESSION_ENDED = "expired"  # the sign-in page's ?reason= for a session that ended while a page was open
MAX_NEXT_CHARS = 2000
# A heading for each status an error page can have; the message underneath says what happened.
ERROR_HEADINGS = {
    403: "Not allowed",
    404: "Not found",
    405: "Not found",
    409: "That could not be done",
    413: "Too large",
    422: "Not valid",
    429: "Too many reports",
    500: "Something went wrong",
    503: "Unavailable",
}

Model = TypeVar("Model", bound=BaseModel)

templates = Jinja2Templates(directory=str(HERE / "templates"))


def local_time(value: datetime | None, tz: str) -> str:
    """``14 Jul 2026 22:05:00 BST (21:05:00 UTC)``: wall time in the zone ``tz``, with UTC beside it;
    a time the zone cannot show (year 1, stored before ingest refused such times) in UTC only."""
    if value is None:
        return "—"
    try:
        local = value.astimezone(ZoneInfo(tz))
    except (OverflowError, ValueError):
        return f"{value:%d %b %Y %H:%M:%S} UTC"
    return f"{local:%d %b %Y %H:%M:%S} {local.tzname()} ({value:%H:%M:%S} UTC)"


templates.env.filters["local"] = local_time


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """The template ``name`` with ``context``, the CSRF token (``csrf``, set as its cookie too) and the
    display time zone (``tz``, from the settings)."""
    settings: Settings = request.app.state.settings
    token = request.cookies.get(CSRF_COOKIE) or csrf_token()
    context = {"csrf": token, "tz": settings.display_timezone, **context}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.set_cookie(CSRF_COOKIE, token, httponly=False, samesite="strict", secure=cookie_secure(request))
    # evidence, personal data and the CSRF token: never kept by the browser or a proxy
    response.headers["Cache-Control"] = "no-store"
    return response


def cookie_secure(request: Request) -> bool:
    """Whether cookies get the Secure flag: always in production, and whenever the page came over
    HTTPS (behind a reverse proxy, uvicorn takes the scheme from X-Forwarded-Proto when the proxy
    is in its forwarded-allow-ips, loopback by default)."""
    settings: Settings = request.app.state.settings
    return settings.env == "production" or request.url.scheme.lower() == "https"


def error_page(request: Request, exc: DomainError, *, me: Principal | None = None) -> Response:
    """A DomainError as a page: its message, with the error's status."""
    return message_page(request, str(exc), status_code=exc.status_code, me=me)


def message_page(
    request: Request, message: str, *, status_code: int, me: Principal | None = None
) -> Response:
    """An error page: a heading for the status, ``message`` (no traceback, ever) and the navigation of
    ``me`` (the one anyone gets without: a database outage or a crash does not look the user up)."""
    heading = ERROR_HEADINGS.get(status_code, "That could not be done")
    context = {"message": message, "heading": heading, "me": me}
    return render(request, "error.html", context, status_code=status_code)


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site to go back to after signing in, else the queue: never
    another site (``//host``, ``/\\host``, a scheme), never the sign-in pages themselves."""
    if not value or len(value) > MAX_NEXT_CHARS or not value.startswith("/") or value[1:2] in ("/", "\\"):
        return LANDING
    if forbidden_character(value, multiline=False) is not None or any(c.isspace() for c in value):
        return LANDING
    if urlsplit(value).path in ("/login", "/logout"):
        return LANDING
    return value


def login_redirect(request: Request) -> RedirectResponse:
    """Send a browser without a valid staff session to sign in, with ``next=`` the page to come back
    to: the page itself for a GET, the page the form was on (its Referer, same site only) for a form
    posted after the session ended; ``reason=expired`` when there was a session (or a form) so the
    sign-in page can say what happened and that the form was not saved."""
    if request.method in ("GET", "HEAD"):
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        same_site = referer.netloc == request.headers.get("host", "")
        back = (referer.path + (f"?{referer.query}" if referer.query else "")) if same_site else LANDING
    params = {"next": safe_next(back)}
    if request.cookies.get(SESSION_COOKIE) or request.method not in ("GET", "HEAD"):
        params["reason"] = SESSION_ENDED
    return RedirectResponse("/login?" + urlencode(params), status_code=303)


@dataclass(frozen=True, slots=True)
class PostedForm:
    """A posted form's text fields, and whether its CSRF token matched the cookie (double submit)."""

    data: dict[str, str]
    csrf_ok: bool


async def posted_form(request: Request) -> PostedForm:
    """The form's text fields; Invalid (422) for one holding a control character or a lone surrogate
    (:mod:`evidence_api.input_types`: the database and the log could not take it)."""
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    for name, value in data.items():
        bad = forbidden_character(name, multiline=False) or forbidden_character(value, multiline=True)
        if bad is not None:
            raise Invalid(f"the form's field {safe_text(name, 40)!r} holds a character not allowed: {bad}")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    ok = bool(cookie) and hmac.compare_digest(cookie, data.get("csrf_token", ""))
    return PostedForm(data, ok)


def checked_form(form: Annotated[PostedForm, Depends(posted_form)]) -> dict[str, str]:
    """The posted form's fields, once its CSRF token is checked (a DomainError, 400, if not)."""
    if not form.csrf_ok:
        raise DomainError(STALE_FORM)
    return form.data


# Declare it before the page's user, so the form is read (and checked) first, before a session opens.
CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


def form_model(model: type[Model], fields: dict[str, Any], labels: dict[str, str]) -> Model:
    """A form's fields checked as the JSON API's request body ``model`` (one set of rules for both);
    Invalid (422) naming each field that is wrong by its label on the page (``labels``), in words."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = []
        for error in safe_errors(exc.errors()):
            loc = [str(part) for part in error.get("loc", ())]
            where = labels.get(loc[0], loc[0]) if loc else "the form"
            problems.append(f"{where}: {error.get('msg', 'not valid')}")
        raise Invalid("; ".join(problems)) from exc
