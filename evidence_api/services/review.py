"""Review: new → under review → confirmed / dismissed (with reason); reads of evidence are audited."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import Select, String, cast, func, select
from sqlalchemy.orm import Session, selectinload

from evidence_api import ranges
from evidence_api.models import Blob, Camera, Event, EventFile, LegalOverride, ReviewStatus, Site
from evidence_api.services import audit
from evidence_api.services.errors import Conflict, Invalid, NotFound
from evidence_api.services.event_feed import EventFeed
from evidence_api.storage import BlobError, BlobStore

logger = logging.getLogger(__name__)

TRANSITIONS = {
    ReviewStatus.new.value: {
        ReviewStatus.under_review.value,
        ReviewStatus.confirmed.value,
        ReviewStatus.dismissed.value,
    },
    ReviewStatus.under_review.value: {ReviewStatus.confirmed.value, ReviewStatus.dismissed.value},
    ReviewStatus.confirmed.value: set(),
    ReviewStatus.dismissed.value: set(),
}
REOPENABLE = {ReviewStatus.dismissed.value, ReviewStatus.confirmed.value}
"""A decision a supervisor or officer may undo (:func:`reopen`); the event goes back to under review."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What the queue narrows events to; every part optional, all applied in SQL.

    ``statuses``: review statuses, any of; ``site``/``camera``: keys; ``started_from`` and
    ``started_before``: a half-open UTC range of start times (the pages turn UK local dates into it);
    ``plate``: an exact registration, matched only against reads that fit a UK format (an unverified
    read is never a plate)."""

    site: str | None = None
    camera: str | None = None
    statuses: tuple[str, ...] = ()
    type_: str | None = None
    authorised: bool | None = None
    started_from: datetime | None = None
    started_before: datetime | None = None
    plate: str | None = None


def get_event(*, session: Session, event_id: uuid.UUID) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound(f"event {event_id} not found")
    return event


def normalise_plate(text: str) -> str:
    """A registration as stored and compared: upper case, without spaces (``ab12 cde`` -> ``AB12CDE``)."""
    return "".join(text.split()).upper()


def _filtered(stmt: Select[tuple[Event]], f: EventFilter) -> Select[tuple[Event]]:
    if f.site:
        stmt = stmt.where(Event.site_id.in_(select(Site.id).where(Site.key == f.site)))
    if f.camera:
        stmt = stmt.where(Event.camera_id.in_(select(Camera.id).where(Camera.key == f.camera)))
    if f.statuses:
        stmt = stmt.where(Event.review_status.in_(f.statuses))
    if f.type_:
        stmt = stmt.where(Event.type == f.type_)
    if f.authorised is not None:
        stmt = stmt.where(Event.authorised_at_capture == f.authorised)
    if f.started_from is not None:
        stmt = stmt.where(Event.started_at >= f.started_from)
    if f.started_before is not None:
        stmt = stmt.where(Event.started_at < f.started_before)
    if f.plate:
        stmt = stmt.where(Event.plate_text == normalise_plate(f.plate), Event.plate_valid_uk_format.is_(True))
    return stmt


def list_events(
    *,
    session: Session,
    site: str | None = None,
    status: str | None = None,
    type_: str | None = None,
    authorised: bool | None = None,
    where: EventFilter | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Event], int]:
    """Events newest first, with the total matching the filters: ``where``, or the simple ``site``,
    ``status``, ``type_`` and ``authorised`` the JSON API passes."""
    where = where or EventFilter(
        site=site, statuses=(status,) if status else (), type_=type_, authorised=authorised
    )
    base = _filtered(select(Event), where)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    stmt = (
        base.options(
            selectinload(Event.files),
            selectinload(Event.site),
            selectinload(Event.camera),
            selectinload(Event.authorisation),
            selectinload(Event.overrides),
        )
        .order_by(Event.started_at.desc(), Event.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt)), total


def set_status(
    *, session: Session, event_id: uuid.UUID, status: str, reason: str, actor: str, feed: EventFeed | None
) -> Event:
    """Move an event along the review (:data:`TRANSITIONS`); a confirmation or dismissal is told to
    ``feed``."""
    event = get_event(session=session, event_id=event_id)
    if status not in TRANSITIONS.get(event.review_status, set()):
        raise Conflict(f"event {event_id} is {event.review_status}; it cannot become {status}")
    if status == ReviewStatus.dismissed.value and not reason.strip():
        raise Invalid("reason: a dismissal needs a reason")
    before = {"review_status": event.review_status, "reason": event.review_reason}
    event.review_status = status
    if reason:
        event.review_reason = reason
    event.reviewed_by = actor
    event.reviewed_at = datetime.now(UTC)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action=f"event.review.{status}",
        target_type="event",
        target_id=str(event.id),
        before_hash=audit.hash_state(before),
        after_hash=audit.hash_state({"review_status": status, "reason": event.review_reason}),
        details={"reason": reason} if reason else {},
    )
    if feed is not None and status == ReviewStatus.confirmed.value:
        feed.event_changed(session=session, event=event, change="confirmed")
    elif feed is not None and status == ReviewStatus.dismissed.value:
        feed.event_changed(session=session, event=event, change="dismissed")
    return event


def reopen(*, session: Session, event_id: uuid.UUID, reason: str, actor: str) -> Event:
    """Undo a confirmation or dismissal (a supervisor correcting a mistake): the event goes back to
    under review, audited as ``event.reopen`` with the reason, which is required.  An event already in
    a case stays confirmed: take it out of the case first, so the case never holds an undecided event."""
    event = get_event(session=session, event_id=event_id)
    if event.review_status not in REOPENABLE:
        raise Conflict(f"event {event_id} is {event.review_status}; only a decided event can be reopened")
    if not reason.strip():
        raise Invalid("reason: reopening an event needs a reason")
    if event.case_id is not None:
        raise Conflict(f"event {event_id} is in a case; remove it from the case before reopening it")
    before = {"review_status": event.review_status, "reason": event.review_reason}
    event.review_status = ReviewStatus.under_review.value
    event.review_reason = reason.strip()
    event.reviewed_by = actor
    event.reviewed_at = datetime.now(UTC)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="event.reopen",
        target_type="event",
        target_id=str(event.id),
        before_hash=audit.hash_state(before),
        after_hash=audit.hash_state({"review_status": event.review_status, "reason": event.review_reason}),
        details={"reason": reason.strip(), "was": before["review_status"]},
    )
    return event


def linked_from(*, session: Session, event: Event) -> list[Event]:
    """Events that name ``event`` among their linked events (a dumping event names the vehicle visit
    that brought the waste), oldest first: the other direction of ``event.linked_event_ids``.

    The links are a JSON list, so this matches the id in its text; a UUID has no LIKE wildcards, and
    the search is kept to the event's own site."""
    needle = f"%{event.id}%"
    stmt = (
        select(Event)
        .where(
            Event.site_id == event.site_id,
            Event.id != event.id,
            cast(Event.linked_event_ids, String).like(needle),
        )
        .order_by(Event.started_at)
    )
    return list(session.scalars(stmt))


def linked_to(*, session: Session, event: Event) -> list[Event]:
    """The events ``event`` itself names as linked, oldest first (an id that is not stored is left out)."""
    ids = []
    for raw in event.linked_event_ids:
        try:
            ids.append(uuid.UUID(str(raw)))
        except ValueError:
            logger.warning("event %s links to %r, which is not an event id", event.id, raw)
    if not ids:
        return []
    return list(session.scalars(select(Event).where(Event.id.in_(ids)).order_by(Event.started_at)))


def record_override(*, session: Session, event_id: uuid.UUID, reasons: str, actor: str) -> LegalOverride:
    """A lawyer's reasons for exporting an event captured outside an authorisation."""
    event = get_event(session=session, event_id=event_id)
    if event.authorised_at_capture:
        raise Conflict(f"event {event_id} was authorised at capture; no override is needed")
    override = LegalOverride(event_id=event.id, decided_by=actor, reasons=reasons)
    session.add(override)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="event.legal_override",
        target_type="event",
        target_id=str(event.id),
        after_hash=audit.hash_state({"reasons": reasons}),
        details={"override_id": str(override.id)},
    )
    return override


def exportable(event: Event) -> bool:
    """An event may be an exhibit if it was authorised at capture or a lawyer recorded an override."""
    return event.authorised_at_capture or bool(event.overrides)


def audit_read(
    *,
    session: Session,
    event: Event,
    actor: str,
    what: str,
    sha256: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    audit.append(
        session,
        actor=actor,
        action=f"evidence.read.{what}",
        target_type="event",
        target_id=str(event.id),
        after_hash=sha256,
        details=details,
    )


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """A stored still or clip opened for a person: its bytes (the caller closes the stream), type, size
    in bytes, and the part of it to send (:data:`evidence_api.ranges.Part`: None for all of it)."""

    stream: BinaryIO
    media_type: str
    size: int
    part: ranges.Part = None


def open_evidence_file(
    *,
    session: Session,
    store: BlobStore,
    sha256: str,
    actor: str,
    what: str,
    print_copy: bool = False,
    requested: ranges.RangeRequest | None = None,
    headers_only: bool = False,
) -> EvidenceFile:
    """Open an event's stored file (a still or clip, by SHA-256) and record the read in the audit log as
    ``evidence.read.<what>``.  With ``print_copy``, a still's reduced print copy is sent instead where
    there is one, and the read is recorded as ``<what>.print_copy``.  ``requested``: the byte range a
    client asked for; the part chosen is in the result and in the entry's details (``"range": "0-99"``,
    or ``"unsatisfiable"``; nothing when the whole file is sent).  ``headers_only``: the client asked
    for the file's headers (HTTP HEAD) and is sent no bytes; recorded as ``"headers_only": true``.
    NotFound when no event has such a file, or the store has lost it."""
    blob = session.get(Blob, sha256)
    ef = session.execute(select(EventFile).where(EventFile.sha256 == sha256)).scalars().first()
    if blob is None or ef is None:
        raise NotFound(f"no stored file with SHA-256 {sha256}")
    send = sha256
    if print_copy and blob.preview_sha256 and store.exists(blob.preview_sha256):
        send, what = blob.preview_sha256, f"{what}.print_copy"
    try:
        # the size of the bytes sent, which for a print copy is not the master's (blob.size)
        size = store.size(send)
        stream = store.open(send)
    except BlobError as exc:
        raise NotFound(str(exc)) from exc
    part = (requested or ranges.RangeRequest()).select(size=size)
    details: dict[str, Any] = {}
    if part is not None:
        details["range"] = str(part)
    if headers_only:
        details["headers_only"] = True
    audit_read(session=session, event=ef.event, actor=actor, what=what, sha256=sha256, details=details)
    return EvidenceFile(stream, blob.media_type, size, part)


def evidence_reply(
    *,
    session: Session,
    store: BlobStore,
    sha256: str,
    actor: str,
    what: str,
    requested: ranges.RangeRequest,
    headers_only: bool,
    print_copy: bool = False,
) -> ranges.Reply:
    """:func:`open_evidence_file` (audited) and the reply for it: status, headers and a bounded,
    seekable body honouring the requested byte range (the API route and the review page both send
    evidence this way)."""
    opened = open_evidence_file(
        session=session,
        store=store,
        sha256=sha256,
        actor=actor,
        what=what,
        print_copy=print_copy,
        requested=requested,
        headers_only=headers_only,
    )
    return ranges.plan_reply(
        opened.stream,
        size=opened.size,
        media_type=opened.media_type,
        part=opened.part,
        headers_only=headers_only,
    )


def camera_key(session: Session, camera_id: uuid.UUID) -> str:
    cam = session.get(Camera, camera_id)
    return cam.key if cam else ""
