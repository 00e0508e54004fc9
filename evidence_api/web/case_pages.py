"""The cases pages: every case, newest first; a case's page, where an officer records the DEFRA details
(size band, waste type, land type, the enforcement actions taken), the suspect vehicle (registration,
make and colour), notes and the outcome, and closes the case (or reopens it to correct it).

Each change is one call to :func:`evidence_api.services.cases.update` (which audits it and refuses to
change a closed case or to close one without an outcome), its fields checked by the JSON API's own
:class:`~evidence_api.schemas.CaseUpdate`.  A refusal is shown on the case page beside the form that
asked, with what was typed.  Officers and admins change cases; everyone on the staff reads them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from evidence_api import defra
from evidence_api.deps import PageUser, Principal, SessionDep, SettingsDep, require_page_roles
from evidence_api.models import Case, Role
from evidence_api.schemas import CaseUpdate
from evidence_api.services import bundle_history, cases
from evidence_api.services.errors import DomainError
from evidence_api.settings import Settings
from evidence_api.web.authorisation_pages import expiry_warnings
from evidence_api.web.rendering import CheckedForm, form_model, render

logger = logging.getLogger(__name__)

LEGAL = (Role.legal, Role.admin)
EDITORS = (Role.officer, Role.admin)
DETAILS_FORM, STATUS_FORM = "details", "status"
ACTION_FIELD = "action_"  # one checkbox per enforcement action: action_<key>
CATEGORY_FIELDS = ("size_band", "waste_type", "land_type", "outcome")  # a select; empty: not recorded
TEXT_FIELDS = ("suspect_registration", "suspect_vehicle", "notes")
LABELS = {
    "size_band": "Size",
    "waste_type": "Waste type",
    "land_type": "Land type",
    "enforcement_actions": "Enforcement actions taken",
    "suspect_registration": "Registration",
    "suspect_vehicle": "Make and colour",
    "notes": "Notes",
    "outcome": "Outcome",
    "status": "Status",
}
DONE = {
    "saved": "The case's details are saved.",
    "closed": "The case is closed.",
    "reopened": "The case is open again: its details can be changed.",
}

router = APIRouter(include_in_schema=False)

CaseOfficer = Annotated[
    Principal, Depends(require_page_roles(*EDITORS, refusal="only officers manage cases"))
]


@router.get("/review/cases", response_class=HTMLResponse)
def cases_page(request: Request, me: PageUser, session: SessionDep, settings: SettingsDep) -> Response:
    """Every case, newest first: reference, title, status, sites, when opened and how many events."""
    context = {
        "me": me,
        "cases": cases.list_cases(session=session),
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "cases.html", context)


def _typed_from(case: Case) -> dict[str, Any]:
    """The details form's fields as the case holds them."""
    typed: dict[str, Any] = {name: getattr(case, name) or "" for name in (*CATEGORY_FIELDS, *TEXT_FIELDS)}
    typed["enforcement_actions"] = {a.action for a in case.actions}
    return typed


def _case_page(
    request: Request,
    *,
    me: Principal,
    session: Session,
    settings: Settings,
    case_id: uuid.UUID,
    status_code: int = 200,
    error: DomainError | None = None,
    error_for: str | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    case = cases.get(session=session, case_id=case_id)
    legal = me.role in LEGAL
    exports = (
        bundle_history.list_exports(session=session, case=case, data_dir=settings.data_dir) if legal else []
    )
    sites = sorted({e.site.name: e.site.land_type for e in case.events}.items())
    context = {
        "me": me,
        "case": case,
        "legal": legal,
        "can_edit": me.role in EDITORS,
        "exports": exports,
        "defra": defra,
        "label": defra.label,
        "site_land_types": [(name, defra.label(defra.LAND_TYPES, land)) for name, land in sites],
        "actions_taken": [defra.label(defra.ENFORCEMENT_ACTIONS, a.action) for a in case.actions],
        "labels": LABELS,
        "typed": typed if typed is not None else _typed_from(case),
        "error": str(error) if error else None,
        "error_for": error_for,
        "notice": DONE.get(request.query_params.get("done", "")),
        "warnings": expiry_warnings(session, settings),
    }
    return render(request, "case.html", context, status_code=status_code)


@router.get("/review/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, case_id: uuid.UUID, me: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    return _case_page(request, me=me, session=session, settings=settings, case_id=case_id)


def _details(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The details form as :class:`CaseUpdate`'s fields (an empty choice: not recorded), and as typed
    (to show again if refused).  Every ``action_*`` box ticked is passed on, so one that is not a DEFRA
    enforcement action is refused by the model, not dropped."""
    fields: dict[str, Any] = {name: form.get(name, "").strip() or None for name in CATEGORY_FIELDS}
    fields.update({name: form.get(name, "") for name in TEXT_FIELDS})
    ticked = sorted(k.removeprefix(ACTION_FIELD) for k in form if k.startswith(ACTION_FIELD))
    fields["enforcement_actions"] = ticked
    typed: dict[str, Any] = {name: form.get(name, "") for name in (*CATEGORY_FIELDS, *TEXT_FIELDS)}
    typed["enforcement_actions"] = set(ticked)
    return fields, typed


def _done(case_id: uuid.UUID, what: str, anchor: str) -> Response:
    return RedirectResponse(f"/review/cases/{case_id}?done={what}#{anchor}", status_code=303)


@router.post("/review/cases/{case_id}/details", response_class=HTMLResponse)
def record_details(
    request: Request,
    case_id: uuid.UUID,
    form: CheckedForm,
    me: CaseOfficer,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Record the DEFRA details, suspect vehicle, notes and outcome of an open case."""
    fields, typed = _details(form)
    try:
        data = form_model(CaseUpdate, fields, LABELS)
        cases.update(session=session, case_id=case_id, data=data, actor=me.actor)
    except DomainError as exc:
        session.rollback()
        return _case_page(
            request,
            me=me,
            session=session,
            settings=settings,
            case_id=case_id,
            status_code=exc.status_code,
            error=exc,
            error_for=DETAILS_FORM,
            typed=typed,
        )
    return _done(case_id, "saved", "details")


@router.post("/review/cases/{case_id}/status", response_class=HTMLResponse)
def change_status(
    request: Request,
    case_id: uuid.UUID,
    form: CheckedForm,
    me: CaseOfficer,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Close the case (its outcome recorded), or reopen it to correct its details."""
    try:
        data = form_model(CaseUpdate, {"status": form.get("status", "")}, LABELS)
        cases.update(session=session, case_id=case_id, data=data, actor=me.actor)
    except DomainError as exc:
        session.rollback()
        return _case_page(
            request,
            me=me,
            session=session,
            settings=settings,
            case_id=case_id,
            status_code=exc.status_code,
            error=exc,
            error_for=STATUS_FORM,
        )
    return _done(case_id, "closed" if data.status == "closed" else "reopened", "details")
