"""Cases: confirmed events grouped for enforcement, with DEFRA categories and an outcome."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from evidence_api.models import Case, Event, ReviewStatus
from evidence_api.schemas import CaseIn, CaseUpdate
from evidence_api.services import audit
from evidence_api.services.errors import Conflict, NotFound

logger = logging.getLogger(__name__)


def _state(case: Case) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "title": case.title,
        "status": case.status,
        "officer_in_charge": case.officer_in_charge,
        "notes": case.notes,
        "suspect_vehicle": case.suspect_vehicle,
        "outcome": case.outcome,
        "size_band": case.size_band,
        "waste_type": case.waste_type,
        "land_type": case.land_type,
        "events": sorted(str(e.id) for e in case.events),
    }


def _next_reference(session: Session) -> str:
    year = datetime.now(UTC).year
    count = session.execute(select(func.count(Case.id))).scalar_one()
    ref = f"TW-{year}-{count + 1:05d}"
    n = count + 1
    while session.execute(select(Case.id).where(Case.reference == ref)).first():
        n += 1
        ref = f"TW-{year}-{n:05d}"
    return ref


def get(*, session: Session, case_id: uuid.UUID) -> Case:
    case = session.execute(
        select(Case).where(Case.id == case_id).options(selectinload(Case.events))
    ).scalar_one_or_none()
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def list_cases(*, session: Session) -> list[Case]:
    """Every case, newest first, with its events and their sites loaded (the cases page lists both)."""
    stmt = (
        select(Case)
        .options(selectinload(Case.events).selectinload(Event.site))
        .order_by(Case.created_at.desc())
    )
    return list(session.execute(stmt).scalars())


def create(*, session: Session, data: CaseIn, actor: str, officer: str = "") -> Case:
    """A new case; its officer in charge is the one named, else ``officer`` (the person opening it),
    whose initials become the exhibit references (SG/1, SG/2, ...)."""
    case = Case(
        reference=_next_reference(session),
        title=data.title,
        officer_in_charge=data.officer_in_charge or officer or actor,
        notes=data.notes,
        suspect_vehicle=data.suspect_vehicle,
        size_band=data.size_band.value if data.size_band else None,
        waste_type=data.waste_type.value if data.waste_type else None,
        land_type=data.land_type.value if data.land_type else None,
        created_by=actor,
    )
    session.add(case)
    session.flush()
    _attach(session, case, data.event_ids)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="case.create",
        target_type="case",
        target_id=str(case.id),
        after_hash=audit.hash_state(_state(case)),
        details={"reference": case.reference},
    )
    return case


def _attach(session: Session, case: Case, event_ids: list[uuid.UUID]) -> None:
    for eid in event_ids:
        event = session.get(Event, eid)
        if event is None:
            raise NotFound(f"event {eid} not found")
        if event.review_status != ReviewStatus.confirmed.value:
            raise Conflict(f"event {eid} is {event.review_status}: only confirmed events join a case")
        if event.case_id is not None and event.case_id != case.id:
            raise Conflict(f"event {eid} is already in another case")
        event.case_id = case.id
    session.flush()
    session.refresh(case)


def add_events(*, session: Session, case_id: uuid.UUID, event_ids: list[uuid.UUID], actor: str) -> Case:
    case = get(session=session, case_id=case_id)
    if case.status == "closed":
        raise Conflict(f"case {case.reference} is closed")
    before = audit.hash_state(_state(case))
    _attach(session, case, event_ids)
    audit.append(
        session,
        actor=actor,
        action="case.add_events",
        target_type="case",
        target_id=str(case.id),
        before_hash=before,
        after_hash=audit.hash_state(_state(case)),
        details={"events": ",".join(str(e) for e in event_ids)},
    )
    return case


def update(*, session: Session, case_id: uuid.UUID, data: CaseUpdate, actor: str) -> Case:
    case = get(session=session, case_id=case_id)
    before = audit.hash_state(_state(case))
    changes = data.model_dump(exclude_unset=True, mode="json")
    for field, value in changes.items():
        if field == "status":
            continue
        if value is None and field in ("title", "officer_in_charge", "notes", "suspect_vehicle"):
            continue
        setattr(case, field, value)
    if changes.get("status") == "closed" and case.status != "closed":
        case.status = "closed"
        case.closed_at = datetime.now(UTC)
    elif changes.get("status") == "open" and case.status == "closed":
        case.status = "open"
        case.closed_at = None
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="case.update",
        target_type="case",
        target_id=str(case.id),
        before_hash=before,
        after_hash=audit.hash_state(_state(case)),
        details={"fields": ",".join(sorted(changes))},
    )
    return case
