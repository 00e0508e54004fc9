"""The authorisations pages: every RIPA directed-surveillance authorisation and overt camera's
signage/DPIA record with where it stands (active, expiring, expired, cancelled, awaiting the
magistrate, refused), filtered by status, kind and site; a page per authorisation with its reviews and
renewals; and, for the legal team and admins, create, review, renew and cancel (officers read).

Each action is one call to :mod:`evidence_api.services.authorisations`, which checks and audits it; a
form's fields are checked by the JSON API's own request models.  A refusal is shown on the page beside
the form that asked, with what was typed.  The expiry banner on every page links here.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from evidence_api.deps import PageUser, Principal, SessionDep, SettingsDep, require_page_roles
from evidence_api.models import Authorisation, AuthorisationKind, Role
from evidence_api.schemas import AuthorisationIn, AuthorisationRenewalIn, AuthorisationReviewIn, CancelIn
from evidence_api.services import authorisations, sites
from evidence_api.services.authorisations import ExpiryWarning
from evidence_api.services.errors import DomainError, Invalid
from evidence_api.settings import Settings
from evidence_api.web.rendering import CheckedForm, form_model, render

logger = logging.getLogger(__name__)

PAGE = "/authorisations"
RIPA = AuthorisationKind.ripa_directed_surveillance.value
OVERT = AuthorisationKind.overt.value
KIND_LABELS = {RIPA: "RIPA directed surveillance", OVERT: "Overt camera: signage and DPIA"}
STATUS_LABELS = {
    "active": "active",
    authorisations.EXPIRING: "expiring soon",
    "expired": "expired",
    "cancelled": "cancelled",
    "awaiting_approval": "awaiting the magistrate",
    "not_yet_approved": "approved from a later date",
    "refused": "refused by the magistrate",
}
# The status filter: "active" is every authorisation in force, those expiring soon included.
IN_FORCE = frozenset({"active", authorisations.EXPIRING})
CREATE_FORM, REVIEW_FORM, RENEW_FORM, CANCEL_FORM = "create", "review", "renew", "cancel"
DONE = {
    "created": "Recorded.",
    "reviewed": "The review is recorded.",
    "renewed": "Renewed for a further three months.",
    "cancelled": "Cancelled: captures from now on are not covered by it.",
}

router = APIRouter(include_in_schema=False)

Manager = Annotated[
    Principal,
    Depends(
        require_page_roles(
            Role.legal, Role.admin, refusal="only the legal team or an admin changes authorisations"
        )
    ),
]


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of the create form: its name in :class:`~evidence_api.schemas.AuthorisationIn`, its
    label, how it is entered (``text``, ``textarea``, ``date``, ``number``, ``decision``) and a hint."""

    name: str
    label: str
    kind: str = "text"
    hint: str = ""
    required: bool = False


URN = FormField("urn", "Unique reference number (URN)", required=True)
TITLE = FormField("title", "Title", hint="what the surveillance is for, in a few words", required=True)
REVIEW_DATE = FormField("review_date", "Next review date", "date")
RIPA_FIELDS = (
    URN,
    TITLE,
    FormField("subjects", "Subjects", "textarea", "who or what is to be watched"),
    FormField("authorising_officer_name", "Authorising officer"),
    FormField("authorising_officer_grade", "Authorising officer's rank or grade"),
    FormField("granted_on", "Granted by the authorising officer on", "date"),
    FormField(
        "offence_min_months",
        "The offence carries at least this many months' imprisonment",
        "number",
        "at least 6 for directed surveillance; fly-tipping (s.33 EPA 1990) carries 60",
    ),
    FormField("grounds", "Grounds", "textarea", "the offence, and why directed surveillance"),
    FormField("necessity", "Necessity", "textarea"),
    FormField("proportionality", "Proportionality", "textarea"),
    FormField("collateral_intrusion", "Collateral intrusion", "textarea", "who else may be seen, and how"),
    FormField("magistrate_court", "Magistrates' court"),
    FormField("magistrate_decision", "Magistrate's decision", "decision"),
    FormField(
        "magistrate_date",
        "Date of the magistrate's decision",
        "date",
        "an approval runs three months beginning with this day, to the end of the day UK time",
    ),
    REVIEW_DATE,
)
OVERT_FIELDS = (
    URN,
    TITLE,
    FormField("signage_description", "Signage", "textarea", "what the signs say and where they are"),
    FormField("dpia_reference", "Data protection impact assessment (DPIA) reference"),
    REVIEW_DATE,
)
FORMS = {RIPA: RIPA_FIELDS, OVERT: OVERT_FIELDS}
LABELS = {f.name: f.label for f in (*RIPA_FIELDS, *OVERT_FIELDS)} | {
    "camera_keys": "Cameras covered",
    "site_keys": "Sites covered",
    "notes": "Reasons",
    "reason": "Reasons for cancelling",
}
OPTIONAL_VALUES = frozenset({"date", "number"})  # an empty box is "not given", not ""


def expiry_warnings(session: Session, settings: Settings) -> list[ExpiryWarning]:
    """The banner on every page: active RIPA authorisations within ``expiry_warning_days`` of ending."""
    return authorisations.expiring(session=session, within_days=settings.expiry_warning_days)


def last_day(auth: Authorisation) -> date | None:
    """The UK day an authorisation ends at the end of (it is stored as the next day's first moment)."""
    if auth.expires_at is None:
        return None
    return authorisations.legal_day(auth.expires_at) - timedelta(days=1)


def _warn_within(settings: Settings) -> timedelta:
    return timedelta(days=settings.expiry_warning_days)


def _can_change(me: Principal) -> bool:
    return me.role in (Role.legal, Role.admin)


@router.get(PAGE, response_class=HTMLResponse)
def list_page(
    request: Request,
    me: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    status: str = "all",
    kind: str = "all",
    site: str = "all",
) -> Response:
    """Every authorisation with its status; ``status``, ``kind`` and ``site`` (a key) narrow the list."""
    now = datetime.now(UTC)
    rows = []
    for auth in authorisations.list_all(session=session):
        standing = authorisations.standing(auth, warn_within=_warn_within(settings), at=now)
        if status != "all" and not (standing == status or (status == "active" and standing in IN_FORCE)):
            continue
        if kind != "all" and auth.kind != kind:
            continue
        if site != "all" and not _covers_site(auth, site):
            continue
        rows.append((auth, standing))
    context = {
        "me": me,
        "rows": rows,
        "now": now,
        "filters": {"status": status, "kind": kind, "site": site},
        "statuses": STATUS_LABELS,
        "kinds": KIND_LABELS,
        "sites": sites.list_sites(session=session),
        "can_change": _can_change(me),
        "last_day": last_day,
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "authorisations.html", context)


def _covers_site(auth: Authorisation, site_key: str) -> bool:
    return any(s.key == site_key for s in auth.sites) or any(c.site.key == site_key for c in auth.cameras)


def _new_page(
    request: Request,
    *,
    me: Principal,
    session: Session,
    settings: Settings,
    kind: str,
    status_code: int = 200,
    error: DomainError | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    context = {
        "me": me,
        "kind": kind,
        "kind_label": KIND_LABELS[kind],
        "fields": FORMS[kind],
        "cameras": sites.list_cameras(session=session),
        "sites": sites.list_sites(session=session),
        "error": str(error) if error else None,
        "typed": typed or {"magistrate_decision": "pending", "camera_keys": [], "site_keys": []},
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "authorisation_new.html", context, status_code=status_code)


@router.get(PAGE + "/new", response_class=HTMLResponse)
def new_page(
    request: Request, me: Manager, session: SessionDep, settings: SettingsDep, kind: str = RIPA
) -> Response:
    """The form for a RIPA authorisation (``kind=ripa_directed_surveillance``) or an overt record."""
    if kind not in KIND_LABELS:
        raise Invalid(f"choose what to record: {', '.join(KIND_LABELS)}")
    return _new_page(request, me=me, session=session, settings=settings, kind=kind)


def _typed(form: dict[str, str], kind: str) -> dict[str, Any]:
    """What the create form holds, as :class:`AuthorisationIn` takes it (and the form shows it again):
    one-line fields trimmed, empty dates and numbers left out, each ticked camera and site by key."""
    typed: dict[str, Any] = {"kind": kind}
    for field in FORMS[kind]:
        value = form.get(field.name, "")
        value = value if field.kind == "textarea" else value.strip()
        if value or field.kind not in OPTIONAL_VALUES:
            typed[field.name] = value
    # one checkbox per camera and site (``camera:<key>``): a form's repeated names would need a list
    typed["camera_keys"] = [k.removeprefix("camera:") for k in form if k.startswith("camera:")]
    typed["site_keys"] = [k.removeprefix("site:") for k in form if k.startswith("site:")]
    if kind == OVERT:
        typed.pop("magistrate_decision", None)
    return typed


@router.post(PAGE, response_class=HTMLResponse)
def create(
    request: Request, form: CheckedForm, me: Manager, session: SessionDep, settings: SettingsDep
) -> Response:
    kind = form.get("kind", "")
    if kind not in KIND_LABELS:
        raise Invalid(f"choose what to record: {', '.join(KIND_LABELS)}")
    typed = _typed(form, kind)
    try:
        data = form_model(AuthorisationIn, typed, LABELS)
        auth = authorisations.create(session=session, data=data, actor=me.actor)
    except DomainError as exc:
        session.rollback()
        return _new_page(
            request,
            me=me,
            session=session,
            settings=settings,
            kind=kind,
            status_code=exc.status_code,
            error=exc,
            typed=typed,
        )
    return _done("created", auth.id)


def _done(action: str, authorisation_id: uuid.UUID) -> Response:
    return RedirectResponse(f"{PAGE}/{authorisation_id}?done={action}", status_code=303)


def _detail_page(
    request: Request,
    *,
    me: Principal,
    session: Session,
    settings: Settings,
    authorisation_id: uuid.UUID,
    status_code: int = 200,
    error: DomainError | None = None,
    error_for: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    auth = authorisations.get(session=session, authorisation_id=authorisation_id)
    standing = authorisations.standing(auth, warn_within=_warn_within(settings))
    forms: set[str] = set()  # the forms the page offers: a refusal for another is shown at the top
    if _can_change(me) and auth.cancelled_at is None:
        forms |= {REVIEW_FORM, CANCEL_FORM}
        if auth.kind == RIPA and standing in IN_FORCE:
            forms.add(RENEW_FORM)
    context = {
        "me": me,
        "a": auth,
        "standing": standing,
        "forms": forms,
        "statuses": STATUS_LABELS,
        "kinds": KIND_LABELS,
        "last_day": last_day(auth),
        "notice": DONE.get(request.query_params.get("done", "")),
        "error": str(error) if error else None,
        "error_for": error_for,
        "typed": typed or {},
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "authorisation.html", context, status_code=status_code)


@router.get(PAGE + "/{authorisation_id}", response_class=HTMLResponse)
def detail_page(
    request: Request, authorisation_id: uuid.UUID, me: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    return _detail_page(request, me=me, session=session, settings=settings, authorisation_id=authorisation_id)


def _reasons(form: dict[str, str], name: str, what: str) -> str:
    value = form.get(name, "")
    if not value.strip():
        raise Invalid(f"give the reasons for {what}")
    return value


def _refused(
    request: Request,
    *,
    me: Principal,
    session: Session,
    settings: Settings,
    authorisation_id: uuid.UUID,
    exc: DomainError,
    error_for: str,
    typed: dict[str, str],
) -> Response:
    session.rollback()
    return _detail_page(
        request,
        me=me,
        session=session,
        settings=settings,
        authorisation_id=authorisation_id,
        status_code=exc.status_code,
        error=exc,
        error_for=error_for,
        typed=typed,
    )


@router.post(PAGE + "/{authorisation_id}/reviews", response_class=HTMLResponse)
def review(
    request: Request,
    authorisation_id: uuid.UUID,
    form: CheckedForm,
    me: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    typed = {"review_notes": form.get("notes", ""), "review_next": form.get("next_review_date", "")}
    try:
        _reasons(form, "notes", "the review: what was reviewed and what was decided")
        fields = {"notes": typed["review_notes"]}
        if typed["review_next"].strip():
            fields["next_review_date"] = typed["review_next"].strip()
        data = form_model(AuthorisationReviewIn, fields, LABELS | {"next_review_date": "Next review due"})
        authorisations.add_review(
            session=session,
            authorisation_id=authorisation_id,
            notes=data.notes,
            actor=me.actor,
            next_review_date=data.next_review_date,
        )
    except DomainError as exc:
        return _refused(
            request,
            me=me,
            session=session,
            settings=settings,
            authorisation_id=authorisation_id,
            exc=exc,
            error_for=REVIEW_FORM,
            typed=typed,
        )
    return _done("reviewed", authorisation_id)


@router.post(PAGE + "/{authorisation_id}/renewals", response_class=HTMLResponse)
def renew(
    request: Request,
    authorisation_id: uuid.UUID,
    form: CheckedForm,
    me: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    typed = {k: form.get(k, "") for k in ("magistrate_court", "magistrate_date", "notes")}
    try:
        _reasons(form, "notes", "the renewal")
        fields = {"magistrate_court": typed["magistrate_court"].strip(), "notes": typed["notes"]}
        if typed["magistrate_date"].strip():
            fields["magistrate_date"] = typed["magistrate_date"].strip()
        data = form_model(AuthorisationRenewalIn, fields, LABELS | {"magistrate_date": "Date of approval"})
        authorisations.renew(session=session, authorisation_id=authorisation_id, data=data, actor=me.actor)
    except DomainError as exc:
        return _refused(
            request,
            me=me,
            session=session,
            settings=settings,
            authorisation_id=authorisation_id,
            exc=exc,
            error_for=RENEW_FORM,
            typed={f"renew_{k}": v for k, v in typed.items()},
        )
    return _done("renewed", authorisation_id)


@router.post(PAGE + "/{authorisation_id}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    authorisation_id: uuid.UUID,
    form: CheckedForm,
    me: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    try:
        data = form_model(CancelIn, {"reason": _reasons(form, "reason", "cancelling")}, LABELS)
        authorisations.cancel(
            session=session, authorisation_id=authorisation_id, reason=data.reason, actor=me.actor
        )
    except DomainError as exc:
        return _refused(
            request,
            me=me,
            session=session,
            settings=settings,
            authorisation_id=authorisation_id,
            exc=exc,
            error_for=CANCEL_FORM,
            typed={"cancel_reason": form.get("reason", "")},
        )
    return _done("cancelled", authorisation_id)
