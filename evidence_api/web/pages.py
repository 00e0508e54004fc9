"""Review pages: sign-in (cookie session), queue, event, case; CSRF by double-submit token."""

from __future__ import annotations

import hmac
import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from evidence_api.bundle.signing import KeyStore
from evidence_api.deps import SESSION_COOKIE, Principal, principal_from_token
from evidence_api.models import Blob, Case, EventFile, ReviewStatus, Role
from evidence_api.schemas import CaseIn
from evidence_api.security import csrf_token
from evidence_api.services import authorisations, bundles, cases, review, users
from evidence_api.services.errors import DomainError, NotFound
from evidence_api.settings import Settings

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSRF_COOKIE = "tipwatch_csrf"
STAFF = {Role.officer, Role.legal, Role.admin}
THUMB_ROLES = ("act", "after", "vehicle", "arrival")
LEGAL = (Role.legal, Role.admin)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _local(value: datetime | None, tz: str = "Europe/London") -> str:
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz))
    return f"{local:%d %b %Y %H:%M:%S} {local.tzname()} ({value:%H:%M:%S} UTC)"


templates.env.filters["local"] = _local


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(request: Request) -> Session:
    session: Session = request.app.state.sessionmaker()
    return session


def _principal(request: Request, session: Session) -> Principal:
    token = request.cookies.get(SESSION_COOKIE)
    principal = principal_from_token(session, token, pepper=_settings(request).secret_key) if token else None
    if principal is None or principal.role not in STAFF:
        raise _Redirect("/login")
    return principal


async def _form(request: Request) -> dict[str, str]:
    """The posted form, after checking the CSRF token against its cookie (double submit)."""
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, data.get("csrf_token", "")):
        raise DomainError("the form's security token is missing or stale: reload the page and try again")
    return data


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    token = request.cookies.get(CSRF_COOKIE) or csrf_token()
    settings = _settings(request)
    context = {"csrf": token, "tz": settings.display_timezone, **context}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.set_cookie(
        CSRF_COOKIE, token, httponly=False, samesite="strict", secure=settings.env == "production"
    )
    return response


def _warnings(session: Session, settings: Settings) -> list[Any]:
    return authorisations.expiring(session=session, within_days=settings.expiry_warning_days)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return _render(request, "login.html", {"error": None})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    try:
        data = await _form(request)
    except DomainError as exc:
        return _render(request, "login.html", {"error": str(exc)}, status_code=400)
    return await run_in_threadpool(_login, request, data)


def _login(request: Request, data: dict[str, str]) -> Response:
    settings = _settings(request)
    with _session(request) as session:
        user = users.authenticate(
            session=session, username=data.get("username", ""), password=data.get("password", "")
        )
        if user is None or Role(user.role) not in STAFF:
            return _render(
                request, "login.html", {"error": "unknown user or wrong password"}, status_code=401
            )
        token, _ = users.issue_user_token(
            session=session, user=user, pepper=settings.secret_key, hours=settings.session_hours
        )
        session.commit()
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.env == "production",
        max_age=settings.session_hours * 3600,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _form(request)
    return await run_in_threadpool(_logout, request)


def _logout(request: Request) -> Response:
    with _session(request) as session:
        principal = _principal(request, session)
        users.revoke_token(session=session, token_id=principal.token_id, actor=principal.actor)  # type: ignore[arg-type]
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _thumbnail(event: Any) -> EventFile | None:
    stills = [f for f in event.files if f.media_type == "image/jpeg" and f.received_at is not None]
    for role in THUMB_ROLES:
        for f in stills:
            if f.role == role:
                return f
    return stills[0] if stills else None


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request, status: str = "open") -> Response:
    with _session(request) as session:
        principal = _principal(request, session)
        if status == "open":
            new, _ = review.list_events(session=session, status=ReviewStatus.new.value, limit=200)
            under, _ = review.list_events(session=session, status=ReviewStatus.under_review.value, limit=200)
            events = sorted(new + under, key=lambda e: e.started_at, reverse=True)
        else:
            events, _ = review.list_events(
                session=session,
                status=status if status in {r.value for r in ReviewStatus} else None,
                limit=200,
            )
        rows = [(e, _thumbnail(e)) for e in events]
        return _render(
            request,
            "queue.html",
            {
                "me": principal,
                "rows": rows,
                "status": status,
                "warnings": _warnings(session, _settings(request)),
            },
        )


@router.get("/review/events/{event_id}", response_class=HTMLResponse)
def event_page(request: Request, event_id: uuid.UUID) -> Response:
    with _session(request) as session:
        principal = _principal(request, session)
        event = review.get_event(session=session, event_id=event_id)
        review.audit_read(session=session, event=event, actor=principal.actor, what="event.page")
        open_cases = (
            session.execute(select(Case).where(Case.status == "open").order_by(Case.created_at.desc()))
            .scalars()
            .all()
        )
        session.commit()
        return _render(
            request,
            "event.html",
            {
                "me": principal,
                "e": event,
                "cases": open_cases,
                "warnings": _warnings(session, _settings(request)),
                "error": request.query_params.get("error"),
            },
        )


@router.post("/review/events/{event_id}/decision")
async def decide(request: Request, event_id: uuid.UUID) -> Response:
    data = await _form(request)
    return await run_in_threadpool(_decide, request, event_id, data)


def _decide(request: Request, event_id: uuid.UUID, data: dict[str, str]) -> Response:
    target = {
        "start": ReviewStatus.under_review,
        "confirm": ReviewStatus.confirmed,
        "dismiss": ReviewStatus.dismissed,
    }
    with _session(request) as session:
        principal = _principal(request, session)
        if principal.role not in (Role.officer, Role.admin):
            raise DomainError("only officers review events")
        status = target.get(data.get("action", ""))
        if status is None:
            raise DomainError("unknown review action")
        review.set_status(
            session=session,
            event_id=event_id,
            status=status.value,
            reason=data.get("reason", ""),
            actor=principal.actor,
        )
        session.commit()
    return RedirectResponse(f"/review/events/{event_id}", status_code=303)


@router.post("/review/events/{event_id}/case")
async def add_to_case(request: Request, event_id: uuid.UUID) -> Response:
    data = await _form(request)
    return await run_in_threadpool(_add_to_case, request, event_id, data)


def _add_to_case(request: Request, event_id: uuid.UUID, data: dict[str, str]) -> Response:
    with _session(request) as session:
        principal = _principal(request, session)
        if principal.role not in (Role.officer, Role.admin):
            raise DomainError("only officers manage cases")
        if data.get("case_id"):
            case = cases.add_events(
                session=session,
                case_id=uuid.UUID(data["case_id"]),
                event_ids=[event_id],
                actor=principal.actor,
            )
        else:
            title = data.get("title", "").strip()
            if not title:
                raise DomainError("a new case needs a title")
            case = cases.create(
                session=session,
                data=CaseIn(title=title[:300], event_ids=[event_id]),
                actor=principal.actor,
                officer=principal.display_name,
            )
        session.commit()
        return RedirectResponse(f"/review/cases/{case.id}", status_code=303)


@router.get("/review/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: uuid.UUID) -> Response:
    with _session(request) as session:
        principal = _principal(request, session)
        case = cases.get(session=session, case_id=case_id)
        legal = principal.role in LEGAL
        exports = bundles.list_exports(session, case, data_dir=_settings(request).data_dir) if legal else []
        return _render(
            request,
            "case.html",
            {
                "me": principal,
                "case": case,
                "legal": legal,
                "exports": exports,
                "warnings": _warnings(session, _settings(request)),
            },
        )


@router.post("/review/cases/{case_id}/bundles")
async def export_bundle(request: Request, case_id: uuid.UUID) -> Response:
    data = await _form(request)
    return await run_in_threadpool(_export_bundle, request, case_id, data)


def _export_bundle(request: Request, case_id: uuid.UUID, data: dict[str, str]) -> Response:
    """Begin the export and finish it in the background: the case page lists it as running until then."""
    settings = _settings(request)
    app = request.app
    with _session(request) as session:
        principal = _principal(request, session)
        if principal.role not in LEGAL:
            raise DomainError("only the legal team exports evidence bundles")
        try:
            ticket = bundles.begin_export(
                session, str(case_id), keys=KeyStore(settings.data_dir), exported_by=principal.actor
            )
        except bundles.CaseNotFound as exc:
            raise NotFound(str(exc)) from exc
        except bundles.BundleExportError as exc:
            raise DomainError(str(exc)) from exc
    bundles.finish_in_background(
        app.state.bundle_exports,
        app.state.sessionmaker,
        ticket,
        store=app.state.store,
        out_path=bundles.bundle_path(settings.data_dir, case_id, uuid.UUID(ticket.bundle_id)),
        options=bundles.ExportOptions(
            crop_vehicle="crop_vehicle" in data,
            blur_people="blur_people" in data,
            print_stills="print_stills" in data,
        ),
    )
    return RedirectResponse(f"/review/cases/{case_id}#bundles", status_code=303)


@router.get("/review/blobs/{sha256}")
def blob(request: Request, sha256: str, copy: str = "master") -> Response:
    """A still or clip for the page (cookie session); an audited read of evidence.  ``?copy=print``
    sends a still's reduced print copy instead, where there is one (the queue's thumbnails)."""
    with _session(request) as session:
        principal = _principal(request, session)
        row = session.get(Blob, sha256)
        ef = session.execute(select(EventFile).where(EventFile.sha256 == sha256)).scalars().first()
        if row is None or ef is None:
            raise NotFound(f"no stored file with SHA-256 {sha256}")
        store = request.app.state.store
        send, what = sha256, "blob.page"
        if copy == "print" and row.preview_sha256 and store.exists(row.preview_sha256):
            send, what = row.preview_sha256, "blob.page.print_copy"
        fh = store.open(send)
        review.audit_read(session=session, event=ef.event, actor=principal.actor, what=what, sha256=sha256)
        session.commit()
        return StreamingResponse(fh, media_type=row.media_type)


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(_Redirect)
    async def _redirect(_request: Request, exc: _Redirect) -> Response:
        return RedirectResponse(exc.url, status_code=303)

    @app.get("/", include_in_schema=False)
    def _root() -> Response:
        return RedirectResponse("/review", status_code=303)
