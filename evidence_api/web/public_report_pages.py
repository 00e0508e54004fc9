"""Report a fly-tip (``/report``, anyone, no sign-in) and the staff's list of public reports.

The form has no CSRF token (there is no session to ride on); a honeypot field (hidden from people,
labelled "leave empty" for screen readers) and the per-address rate limit keep robots out: a form with
the honeypot filled is thanked like any other and stored nowhere.  Its body is capped by
``max_public_report_bytes`` before it is read (:mod:`evidence_api.request_limits`).  A refusal the
reporter can fix (a photo that is not a JPEG, a field missing) is shown above the form with what they
typed; the photos must be chosen again.  The staff page lists reports newest first with each photo's
display copy; the contact details are shown to officers and admins only.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from evidence_api.deps import PageUser, SessionDep, SettingsDep, StoreDep
from evidence_api.models import Role
from evidence_api.schemas import PublicReportIn
from evidence_api.services import public_reports
from evidence_api.services.errors import DomainError, NotFound
from evidence_api.web.rendering import PostedForm, form_model, message_page, posted_form, render

logger = logging.getLogger(__name__)

REPORT_PAGE = "/report"
THANKS_PAGE = "/report/thanks"
STAFF_PAGE = "/review/public-reports"
HONEYPOT = "website"  # a name robots like to fill in
FILES_READ = 10  # parts read as files at most; more than MAX_PHOTOS is refused on the form
REFERENCE = re.compile(r"^FT-[0-9A-F]{8}$")
TEXT_FIELDS = (
    "location_description",
    "latitude",
    "longitude",
    "description",
    "saw_who",
    "will_give_statement",
    "contact_name",
    "contact_email",
    "contact_phone",
)
LABELS = {
    "location_description": "Where is it?",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "description": "What has been left?",
    "saw_who": "Did you see who left it?",
    "will_give_statement": "Would you give a witness statement?",
    "contact_name": "Your name",
    "contact_email": "Email",
    "contact_phone": "Phone",
}
CONTACT_ROLES = frozenset({Role.officer, Role.admin})

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class ReportForm:
    """The posted report: its text fields and the photos' bytes (empty file inputs left out)."""

    data: dict[str, str]
    photos: list[bytes]


async def report_form(request: Request) -> ReportForm:
    """The form, photos included (read only as far as the route's body cap lets them: the middleware
    stops the read), text fields checked for characters not allowed (as every form's are)."""
    form = await request.form(max_files=FILES_READ)
    text: PostedForm = await posted_form(request)  # the same parsed form, its text checked
    photos = []
    for part in form.getlist("photos"):
        if isinstance(part, UploadFile) and (part.filename or part.size):
            photos.append(await part.read())
    return ReportForm(text.data, photos)


def _form_page(
    request: Request, *, typed: dict[str, str] | None = None, error: str | None = None, status_code: int = 200
) -> Response:
    context: dict[str, Any] = {
        "public": True,
        "typed": typed or {},
        "error": error,
        "honeypot": HONEYPOT,
        "max_photos": public_reports.MAX_PHOTOS,
    }
    return render(request, "report.html", context, status_code=status_code)


@router.get(REPORT_PAGE, response_class=HTMLResponse)
def report_page(request: Request) -> Response:
    return _form_page(request)


@router.post(REPORT_PAGE, response_class=HTMLResponse)
def send_report(
    request: Request,
    form: Annotated[ReportForm, Depends(report_form)],
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> Response:
    if form.data.get(HONEYPOT, "").strip():
        logger.info("a public report with its honeypot filled was thanked and not stored")
        # thanked like any other, so a robot learns nothing
        return RedirectResponse(f"{THANKS_PAGE}?ref={public_reports.new_reference()}", status_code=303)
    now = datetime.now(UTC)
    client = public_reports.client_key(
        request.client.host if request.client else "", secret_key=settings.secret_key
    )
    try:
        public_reports.check_rate(
            session,
            key=client,
            limit=settings.public_report_limit,
            window_s=settings.public_report_window_s,
            now=now,
        )
    except public_reports.RateLimited as exc:
        page = message_page(request, str(exc), status_code=exc.status_code)
        page.headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
        return page
    typed = {k: form.data.get(k, "").strip() for k in TEXT_FIELDS}
    try:
        fields: dict[str, Any] = {k: v for k, v in typed.items() if v or k not in ("latitude", "longitude")}
        for required in ("saw_who", "will_give_statement"):
            if not typed[required]:
                fields.pop(required, None)
        report = form_model(PublicReportIn, fields, LABELS)
        photos = public_reports.check_photos(
            form.photos, max_bytes=settings.max_image_bytes, max_pixels=settings.max_still_pixels
        )
        row = public_reports.create_report(
            session=session, store=store, report=report, photos=photos, client=client, now=now
        )
    except DomainError as exc:
        session.rollback()
        return _form_page(request, typed=typed, error=str(exc), status_code=exc.status_code)
    return RedirectResponse(f"{THANKS_PAGE}?ref={row.reference}", status_code=303)


@router.get(THANKS_PAGE, response_class=HTMLResponse)
def thanks_page(request: Request, ref: str = "") -> Response:
    reference = ref if REFERENCE.fullmatch(ref) else None  # never echo anything else from the address
    return render(request, "report_thanks.html", {"public": True, "reference": reference})


@router.get(STAFF_PAGE, response_class=HTMLResponse)
def staff_page(request: Request, me: PageUser, session: SessionDep) -> Response:
    context = {
        "me": me,
        "reports": public_reports.list_reports(session),
        "show_contact": me.role in CONTACT_ROLES,
    }
    return render(request, "public_reports.html", context)


@router.get(STAFF_PAGE + "/photos/{sha256}")
def display_photo(sha256: str, me: PageUser, session: SessionDep, store: StoreDep) -> Response:
    """A photo's display copy (never the master, which keeps the reporter's EXIF)."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256) or not public_reports.is_display_copy(session, sha256):
        raise NotFound("there is no such public report photo")
    with store.open(sha256) as fh:
        data = fh.read()
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
