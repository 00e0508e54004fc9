"""Cases: confirmed events grouped for enforcement, with DEFRA categories (size band, waste type, land
type, the enforcement actions taken), the suspect vehicle, notes and an outcome; closed once the outcome
is known, and unchangeable while closed (reopen it first).  Every change is audited."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from evidence_api.models import Case, CaseAction, EnforcementAction, Event, ReviewStatus
from evidence_api.schemas import CaseIn, CaseUpdate
from evidence_api.services import audit
from evidence_api.services.errors import Conflict, NotFound

# Free-text fields that a null in an update leaves as they are (the categories' null clears them).
KEPT_WHEN_NULL = ("title", "officer_in_charge", "notes", "suspect_vehicle", "suspect_registration")

logger = logging.getLogger(__name__)


def _state(case: Case) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "title": case.title,
        "status": case.status,
        "officer_in_charge": case.officer_in_charge,
        "notes": case.notes,
        "suspect_vehicle": case.suspect_vehicle,
        "suspect_registration": case.suspect_registration,
        "outcome": case.outcome,
        "size_band": case.size_band,
        "waste_type": case.waste_type,
        "land_type": case.land_type,
        "enforcement_actions": sorted(a.action for a in case.actions),
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
        select(Case).where(Case.id == case_id).options(selectinload(Case.events), selectinload(Case.actions))
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
        suspect_registration=data.suspect_registration,
        size_band=data.size_band.value if data.size_band else None,
        waste_type=data.waste_type.value if data.waste_type else None,
        land_type=data.land_type.value if data.land_type else None,
        created_by=actor,
    )
    session.add(case)
    session.flush()
    _set_actions(case, data.enforcement_actions, actor=actor)
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


def _set_actions(case: Case, actions: list[EnforcementAction], *, actor: str) -> None:
    """The case's enforcement actions become ``actions``: one taken before keeps when it was recorded
    (the quarter it is counted in), a new one is recorded now, one no longer listed is removed."""
    wanted = {EnforcementAction(a).value for a in actions}
    for kept in list(case.actions):
        if kept.action not in wanted:
            case.actions.remove(kept)
    have = {a.action for a in case.actions}
    for action in sorted(wanted - have):
        case.actions.append(CaseAction(action=action, recorded_by=actor, recorded_at=datetime.now(UTC)))


def update(*, session: Session, case_id: uuid.UUID, data: CaseUpdate, actor: str) -> Case:
    """Change a case's details, and close or reopen it (``status``).  A closed case is reopened before
    anything else changes (Conflict otherwise); a case is closed only once its outcome is recorded."""
    case = get(session=session, case_id=case_id)
    before = audit.hash_state(_state(case))
    changes = data.model_dump(exclude_unset=True, mode="json")
    status = changes.pop("status", None)
    if case.status == "closed" and status != "open" and changes:
        raise Conflict(f"case {case.reference} is closed: reopen it to change its details")
    for field, value in changes.items():
        if field == "enforcement_actions":
            if value is not None:
                _set_actions(case, data.enforcement_actions or [], actor=actor)
            continue
        if value is None and field in KEPT_WHEN_NULL:
            continue
        setattr(case, field, value)
    action = "case.update"
    if status == "closed" and case.status != "closed":
        if not case.outcome:
            raise Conflict(f"record the outcome of case {case.reference} before closing it")
        case.status = "closed"
        case.closed_at = datetime.now(UTC)
        action = "case.close"
    elif status == "open" and case.status == "closed":
        case.status = "open"
        case.closed_at = None
        action = "case.reopen"
    session.flush()
    fields = sorted(changes) + (["status"] if status is not None else [])
    audit.append(
        session,
        actor=actor,
        action=action,
        target_type="case",
        target_id=str(case.id),
        before_hash=before,
        after_hash=audit.hash_state(_state(case)),
        details={"fields": ",".join(fields)},
    )
    return case
