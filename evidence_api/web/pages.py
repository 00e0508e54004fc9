"""Review pages: sign-in (cookie session), queue, event, a case's bundles; CSRF by double submit.

Pages get their session and user the way the JSON routes do (:mod:`evidence_api.deps`: ``SessionDep``
commits when the page returns, ``PageUser`` sends anyone not signed in to ``/login``), call the same
services, and show a DomainError's message on a page (:func:`~evidence_api.web.rendering.error_page`,
installed by :func:`evidence_api.main.add_error_handlers`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from evidence_api import ranges
from evidence_api.deps import (
    SESSION_COOKIE,
    STAFF_ROLES,
    BackgroundExportsDep,
    EventFeedDep,
    ExportSetupDep,
    PageUser,
    Principal,
    SessionDep,
    SettingsDep,
    StoreDep,
    require_page_roles,
)
from evidence_api.models import Case, ReviewStatus, Role
from evidence_api.schemas import CaseIn
from evidence_api.services import bundle_export, cases, review, users
from evidence_api.services.bundle_spec import ExportOptions
from evidence_api.services.errors import DomainError, Invalid
from evidence_api.web import (
    authorisation_pages,
    case_pages,
    dashboard_page,
    public_report_pages,
    queue_page,
    return_pages,
    site_pages,
    user_admin,
)
from evidence_api.web.authorisation_pages import expiry_warnings
from evidence_api.web.event_trail import event_trail
from evidence_api.web.rendering import (
    HERE,
    LANDING,
    SESSION_ENDED,
    STALE_FORM,
    CheckedForm,
    PostedForm,
    cookie_secure,
    posted_form,
    render,
    safe_next,
)

logger = logging.getLogger(__name__)

LEGAL = case_pages.LEGAL
REVIEW_ACTIONS = {
    "start": ReviewStatus.under_review,
    "confirm": ReviewStatus.confirmed,
    "dismiss": ReviewStatus.dismissed,
}

SESSION_ENDED_NOTICE = (
    "Your session has ended (it expired, or you signed out elsewhere). Sign in again to go back to the "
    "page you were on; anything you had typed into a form there was not saved, so enter it again."
)

router = APIRouter(include_in_schema=False)

Reviewer = Annotated[
    Principal, Depends(require_page_roles(Role.officer, Role.admin, refusal="only officers review events"))
]
Reopener = Annotated[
    Principal,
    Depends(
        require_page_roles(Role.officer, Role.admin, refusal="only officers and supervisors reopen events")
    ),
]
CaseOfficer = Annotated[
    Principal, Depends(require_page_roles(Role.officer, Role.admin, refusal="only officers manage cases"))
]
Exporter = Annotated[
    Principal, Depends(require_page_roles(*LEGAL, refusal="only the legal team exports evidence bundles"))
]


def _login_form(request: Request, *, next_page: str, error: str | None, status_code: int = 200) -> Response:
    expired = request.query_params.get("reason") == SESSION_ENDED
    context = {
        "error": error,
        "next": safe_next(next_page),
        "notice": SESSION_ENDED_NOTICE if expired and error is None else None,
        "signing_in": True,
    }
    return render(request, "login.html", context, status_code=status_code)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next_page: Annotated[str, Query(alias="next")] = LANDING) -> Response:
    return _login_form(request, next_page=next_page, error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    form: Annotated[PostedForm, Depends(posted_form)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    next_page = form.data.get("next", LANDING)
    if not form.csrf_ok:  # said on the sign-in page itself, not an error page
        return _login_form(request, next_page=next_page, error=STALE_FORM, status_code=400)
    user = users.authenticate(
        session=session, username=form.data.get("username", ""), password=form.data.get("password", "")
    )
    if user is None or Role(user.role) not in STAFF_ROLES:
        return _login_form(
            request, next_page=next_page, error="unknown user or wrong password", status_code=401
        )
    token, _ = users.issue_user_token(
        session=session, user=user, pepper=settings.secret_key, hours=settings.session_hours
    )
    response = RedirectResponse(safe_next(next_page), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        max_age=settings.session_hours * 3600,
    )
    return response


@router.post("/logout")
def logout(_form: CheckedForm, me: PageUser, session: SessionDep) -> Response:
    users.revoke_token(session=session, token_id=me.token_id, actor=me.actor)  # type: ignore[arg-type]
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/review/events/{event_id}", response_class=HTMLResponse)
def event_page(
    request: Request, event_id: uuid.UUID, me: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    event = review.get_event(session=session, event_id=event_id)
    review.audit_read(session=session, event=event, actor=me.actor, what="event.page")
    open_cases = (
        session.execute(select(Case).where(Case.status == "open").order_by(Case.created_at.desc()))
        .scalars()
        .all()
    )
    context = {
        "me": me,
        "e": event,
        "links_to": review.linked_to(session=session, event=event),
        "links_from": review.linked_from(session=session, event=event),
        "trail": event_trail(session, event),
        "cases": open_cases,
        "warnings": expiry_warnings(session, settings),
        "error": request.query_params.get("error"),
    }
    return render(request, "event.html", context)


@router.post("/review/events/{event_id}/decision")
def decide(
    event_id: uuid.UUID, form: CheckedForm, me: Reviewer, session: SessionDep, feed: EventFeedDep
) -> Response:
    status = REVIEW_ACTIONS.get(form.get("action", ""))
    if status is None:
        raise DomainError("unknown review action")
    review.set_status(
        session=session,
        event_id=event_id,
        status=status.value,
        reason=form.get("reason", ""),
        actor=me.actor,
        feed=feed,
    )
    # the queue's keyboard shortcuts decide from the queue and come back to the same filtered view
    back = safe_next(form["next"]) if form.get("next") else f"/review/events/{event_id}"
    return RedirectResponse(back, status_code=303)


@router.post("/review/events/{event_id}/reopen")
def reopen(event_id: uuid.UUID, form: CheckedForm, me: Reopener, session: SessionDep) -> Response:
    """Undo a confirmation or dismissal, with the reason (required); the event is back under review."""
    review.reopen(session=session, event_id=event_id, reason=form.get("reason", ""), actor=me.actor)
    return RedirectResponse(f"/review/events/{event_id}", status_code=303)


@router.post("/review/events/{event_id}/case")
def add_to_case(event_id: uuid.UUID, form: CheckedForm, me: CaseOfficer, session: SessionDep) -> Response:
    if form.get("case_id"):
        try:
            case_id = uuid.UUID(form["case_id"])
        except ValueError as exc:
            raise Invalid(f"{form['case_id'][:60]!r} is not a case id; choose a case from the list") from exc
        case = cases.add_events(session=session, case_id=case_id, event_ids=[event_id], actor=me.actor)
    else:
        title = form.get("title", "").strip()
        if not title:
            raise DomainError("a new case needs a title")
        case = cases.create(
            session=session,
            data=CaseIn(title=title[:300], event_ids=[event_id]),
            actor=me.actor,
            officer=me.display_name,
        )
    return RedirectResponse(f"/review/cases/{case.id}", status_code=303)


@router.post("/review/cases/{case_id}/bundles")
def export_bundle(
    case_id: uuid.UUID,
    form: CheckedForm,
    me: Exporter,
    session: SessionDep,
    setup: ExportSetupDep,
    exports: BackgroundExportsDep,
) -> Response:
    """Begin the export and finish it in the background: the case page lists it as running until then."""
    bundle_export.start_export(
        session=session,
        case=str(case_id),
        setup=setup,
        exported_by=me.actor,
        options=ExportOptions(
            crop_vehicle="crop_vehicle" in form,
            blur_people="blur_people" in form,
            print_stills="print_stills" in form,
        ),
        background=exports,
    )
    return RedirectResponse(f"/review/cases/{case_id}#bundles", status_code=303)


@router.get("/review/blobs/{sha256}")
@router.head("/review/blobs/{sha256}")
def blob(
    sha256: str,
    request: Request,
    me: PageUser,
    session: SessionDep,
    store: StoreDep,
    copy: str = "master",
    range_: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> Response:
    """A still or clip for the page (cookie session), whole or one byte range of it (the page's video
    player seeks with HTTP Range); each request an audited read of evidence.  ``?copy=print`` sends a
    still's reduced print copy instead, where there is one (the queue's thumbnails)."""
    reply = review.evidence_reply(
        session=session,
        store=store,
        sha256=sha256,
        actor=me.actor,
        what="blob.page",
        print_copy=copy == "print",
        requested=ranges.RangeRequest(range_, if_range),
        headers_only=request.method == "HEAD",
    )
    headers = {**reply.headers, "Cache-Control": "no-store"}
    return StreamingResponse(reply.body, status_code=reply.status, headers=headers)


ROUTERS: tuple[APIRouter, ...] = (
    router,
    queue_page.router,
    case_pages.router,
    return_pages.router,
    dashboard_page.router,
    user_admin.router,
    authorisation_pages.router,
    site_pages.router,
    public_report_pages.router,
)
"""Every page router, for :func:`mount` and the request limits (which read their sign-in needs)."""


def mount(app: FastAPI) -> None:
    """The pages, their static files, and ``/`` -> the review queue."""
    for page_router in ROUTERS:
        app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/", include_in_schema=False)
    def _root() -> Response:
        return RedirectResponse("/review", status_code=303)
