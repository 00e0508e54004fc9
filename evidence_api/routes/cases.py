"""Cases of confirmed events."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from evidence_api.deps import OfficerUser, SessionDep, Staff
from evidence_api.routes.views import case_out
from evidence_api.schemas import CaseEventsIn, CaseIn, CaseOut, CaseUpdate
from evidence_api.services import cases

router = APIRouter(prefix="/cases", tags=["cases"])


@router.post("", response_model=CaseOut, status_code=201, responses={404: {}, 409: {}})
def create(data: CaseIn, principal: OfficerUser, session: SessionDep) -> CaseOut:
    """Open a case, optionally with confirmed events."""
    return case_out(
        cases.create(session=session, data=data, actor=principal.actor, officer=principal.display_name)
    )


@router.get("", response_model=list[CaseOut])
def list_cases(principal: Staff, session: SessionDep) -> list[CaseOut]:
    """All cases, newest first."""
    return [case_out(c) for c in cases.list_cases(session=session)]


@router.get("/{case_id}", response_model=CaseOut, responses={404: {}})
def get(case_id: uuid.UUID, principal: Staff, session: SessionDep) -> CaseOut:
    """One case."""
    return case_out(cases.get(session=session, case_id=case_id))


@router.patch("/{case_id}", response_model=CaseOut, responses={404: {}})
def update(case_id: uuid.UUID, data: CaseUpdate, principal: OfficerUser, session: SessionDep) -> CaseOut:
    """Change a case's details, outcome or status."""
    return case_out(cases.update(session=session, case_id=case_id, data=data, actor=principal.actor))


@router.post("/{case_id}/events", response_model=CaseOut, responses={404: {}, 409: {}})
def add_events(
    case_id: uuid.UUID, data: CaseEventsIn, principal: OfficerUser, session: SessionDep
) -> CaseOut:
    """Add confirmed events to a case."""
    return case_out(
        cases.add_events(session=session, case_id=case_id, event_ids=data.event_ids, actor=principal.actor)
    )
