"""How the review pages answer: templates (times in the display time zone), the CSRF double-submit
token on every form, and a DomainError shown to a person as a page."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from evidence_api.input_types import forbidden_character
from evidence_api.security import csrf_token
from evidence_api.services.errors import DomainError, Invalid
from evidence_api.settings import Settings
from evidence_api.validation_errors import safe_text

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSRF_COOKIE = "tipwatch_csrf"
STALE_FORM = "the form's security token is missing or stale: reload the page and try again"

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
    return response


def cookie_secure(request: Request) -> bool:
    """Whether cookies get the Secure flag: always in production, and whenever the page came over
    HTTPS (behind a reverse proxy, uvicorn takes the scheme from X-Forwarded-Proto when the proxy
    is in its forwarded-allow-ips, loopback by default)."""
    settings: Settings = request.app.state.settings
    return settings.env == "production" or request.url.scheme.lower() == "https"


def error_page(request: Request, exc: DomainError) -> Response:
    """A DomainError as a page: its message, with the error's status."""
    return render(request, "error.html", {"message": str(exc)}, status_code=exc.status_code)


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
