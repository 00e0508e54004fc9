"""Retention: unconfirmed events go after the retention period; case evidence after case close + period."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from evidence_api.models import Blob, Case, Event, EventFile, LegalOverride, ReviewStatus
from evidence_api.services import audit
from evidence_api.storage import BlobStore

logger = logging.getLogger(__name__)


def purge(
    *, session: Session, store: BlobStore, retention_days: int, actor: str, now: datetime | None = None
) -> dict[str, int]:
    """Delete expired events and the blobs nothing else references; one audit entry per event.

    Blob files are deleted only after the rows are flushed; if the caller's commit then fails the
    files are already gone, so callers commit straight away (the audit entry names every hash).
    """
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    unconfirmed = select(Event).where(
        Event.review_status != ReviewStatus.confirmed.value,
        Event.case_id.is_(None),
        Event.received_at < cutoff,
    )
    closed = (
        select(Event)
        .join(Case, Event.case_id == Case.id)
        .where(Case.status == "closed", Case.closed_at.is_not(None), Case.closed_at < cutoff)
    )
    events = list(session.execute(unconfirmed).scalars()) + list(session.execute(closed).scalars())
    hashes: set[str] = set()
    for event in events:
        file_hashes = sorted({f.sha256 for f in event.files})
        hashes.update(file_hashes)
        audit.append(
            session,
            actor=actor,
            action="event.purge",
            target_type="event",
            target_id=str(event.id),
            before_hash=event.metadata_sha256,
            details={
                "reason": "retention",
                "review_status": event.review_status,
                "files": ",".join(file_hashes),
                "retention_days": retention_days,
            },
        )
        session.execute(delete(EventFile).where(EventFile.event_id == event.id))
        session.execute(delete(LegalOverride).where(LegalOverride.event_id == event.id))
        session.delete(event)
    session.flush()
    orphans = [
        h
        for h in sorted(hashes)
        if session.execute(select(EventFile.id).where(EventFile.sha256 == h)).first() is None
    ]
    previews = {
        p for p in session.execute(select(Blob.preview_sha256).where(Blob.sha256.in_(orphans))).scalars() if p
    }
    for h in orphans:
        session.execute(delete(Blob).where(Blob.sha256 == h))
    session.flush()
    # a print copy goes with its master, unless another stored still has the very same one
    shared = set(
        session.execute(select(Blob.preview_sha256).where(Blob.preview_sha256.in_(previews))).scalars()
    )
    deleted = sum(1 for h in orphans if store.delete(h))
    for p in sorted(previews - shared):
        store.delete(p)
    logger.info("purged %d events, %d blobs (retention %d days)", len(events), deleted, retention_days)
    return {"events_purged": len(events), "blobs_deleted": deleted}
