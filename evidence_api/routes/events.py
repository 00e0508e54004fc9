"""Ingest (device) and event reads (staff); blob downloads are audited reads of evidence."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from evidence_api.deps import DeviceOnly, LegalUser, OfficerUser, SessionDep, SettingsDep, Staff, StoreDep
from evidence_api.models import ReviewStatus
from evidence_api.routes.views import event_out
from evidence_api.schemas import (
    EventFileOut,
    EventIn,
    EventOut,
    EventPage,
    EventType,
    FileStored,
    IngestResult,
    OverrideIn,
    ReviewAction,
    ReviewIn,
)
from evidence_api.services import ingest, review
from evidence_api.services.errors import TooLarge

logger = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


@router.post(
    "/events",
    response_model=IngestResult,
    status_code=201,
    responses={200: {"model": IngestResult}, 403: {}, 409: {}, 422: {}},
)
def post_event(
    data: EventIn, principal: DeviceOnly, session: SessionDep, settings: SettingsDep, response: Response
) -> IngestResult:
    """Store an event's metadata (idempotent on its id); answers which files are still missing."""
    out = ingest.receive_event(
        session=session,
        data=data,
        device=principal.device,
        actor=principal.actor,
        max_files=settings.max_files_per_event,
    )
    if not out.created:
        response.status_code = status.HTTP_200_OK
    return IngestResult(id=out.event.id, status=out.event.upload_status, missing_files=out.missing)  # type: ignore[arg-type]


@router.put(
    "/events/{event_id}/files/{sha256}",
    response_model=FileStored,
    status_code=201,
    responses={200: {"model": FileStored}, 403: {}, 404: {}, 413: {}, 422: {}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "video/mp4": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def put_file(
    event_id: uuid.UUID,
    sha256: Sha256Path,
    request: Request,
    principal: DeviceOnly,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    response: Response,
) -> FileStored:
    """Upload one declared file's bytes; the hash, size, type and magic bytes are checked."""
    limit = max(settings.max_image_bytes, settings.max_clip_bytes)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body is {declared} bytes; the largest accepted file is {limit} bytes")
    chunks = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise TooLarge(f"body exceeds the largest accepted file ({limit} bytes)")
        chunks.append(chunk)
    # the database work runs in the thread pool: a blocking lock wait must never stall the event loop
    out = await run_in_threadpool(
        ingest.receive_file,
        session=session,
        store=store,
        event_id=event_id,
        sha256=sha256,
        data=b"".join(chunks),
        content_type=request.headers.get("content-type"),
        device=principal.device,
        actor=principal.actor,
        max_image_bytes=settings.max_image_bytes,
        max_clip_bytes=settings.max_clip_bytes,
    )
    if not out.stored:
        response.status_code = status.HTTP_200_OK
    return FileStored(
        id=out.event.id,
        sha256=sha256,
        stored=out.stored,
        status=out.event.upload_status,  # type: ignore[arg-type]
        missing_files=out.missing,
    )


@router.get("/events", response_model=EventPage)
def list_events(
    principal: Staff,
    session: SessionDep,
    site: Annotated[str | None, Query(max_length=100)] = None,
    status_: Annotated[ReviewStatus | None, Query(alias="status")] = None,
    type_: Annotated[EventType | None, Query(alias="type")] = None,
    authorised: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> EventPage:
    """Events newest first; filter by site key, review status, type and authorised-at-capture."""
    items, total = review.list_events(
        session=session,
        site=site,
        status=status_.value if status_ else None,
        type_=type_.value if type_ else None,
        authorised=authorised,
        limit=limit,
        offset=offset,
    )
    return EventPage(items=[event_out(e) for e in items], total=total)


@router.get("/events/{event_id}", response_model=EventOut)
def get_event(event_id: uuid.UUID, principal: Staff, session: SessionDep) -> EventOut:
    """One event with its files (the read is audited)."""
    event = review.get_event(session=session, event_id=event_id)
    review.audit_read(session=session, event=event, actor=principal.actor, what="event")
    return event_out(event)


@router.get("/events/{event_id}/files", response_model=list[EventFileOut])
def list_files(event_id: uuid.UUID, principal: Staff, session: SessionDep) -> list[EventFileOut]:
    """Stills and clip metadata of an event."""
    event = review.get_event(session=session, event_id=event_id)
    return [EventFileOut.model_validate(f) for f in event.files]


@router.post("/events/{event_id}/review", response_model=EventOut)
def review_event(
    event_id: uuid.UUID, data: ReviewIn, principal: OfficerUser, session: SessionDep
) -> EventOut:
    """Start review, confirm, or dismiss (with a reason)."""
    target = {
        ReviewAction.start: ReviewStatus.under_review,
        ReviewAction.confirm: ReviewStatus.confirmed,
        ReviewAction.dismiss: ReviewStatus.dismissed,
    }[data.action]
    event = review.set_status(
        session=session, event_id=event_id, status=target.value, reason=data.reason, actor=principal.actor
    )
    session.refresh(event)
    return event_out(event)


@router.post("/events/{event_id}/legal-override", response_model=EventOut, status_code=201)
def legal_override(
    event_id: uuid.UUID, data: OverrideIn, principal: LegalUser, session: SessionDep
) -> EventOut:
    """Record a lawyer's reasons to export an event captured outside an authorisation."""
    review.record_override(session=session, event_id=event_id, reasons=data.reasons, actor=principal.actor)
    event = review.get_event(session=session, event_id=event_id)
    session.refresh(event)
    return event_out(event)


@router.get(
    "/blobs/{sha256}",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/jpeg": {}, "video/mp4": {}}}, 404: {}},
)
def download_blob(
    sha256: Sha256Path, principal: Staff, session: SessionDep, store: StoreDep
) -> StreamingResponse:
    """Download a still or clip by SHA-256 (an audited read of evidence)."""
    opened = review.open_evidence_file(
        session=session, store=store, sha256=sha256, actor=principal.actor, what="blob"
    )
    return StreamingResponse(
        opened.stream, media_type=opened.media_type, headers={"X-Content-SHA256": sha256}
    )
