"""Ingest (device) and event reads (staff); blob downloads are audited reads of evidence."""

from __future__ import annotations

import logging
import tempfile
import uuid
from datetime import timedelta
from typing import Annotated, Any, BinaryIO, Final, cast

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from evidence_api import ranges
from evidence_api.deps import (
    DeviceOnly,
    EventFeedDep,
    LegalUser,
    OfficerUser,
    SessionDep,
    SettingsDep,
    Staff,
    StoreDep,
)
from evidence_api.input_types import SingleLine
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
from evidence_api.services.errors import Invalid, TooLarge

logger = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
UPLOAD_IN_MEMORY_BYTES: Final = 4 * 1024 * 1024
"""An upload up to this size (a still) is spooled in memory; a larger one (a clip) to an unnamed
temporary file in ``<data dir>/uploads`` (on disk, where the service may write, not a tmpfs ``/tmp``),
so that many clips arriving at once never hold their bytes in memory."""


@router.post(
    "/events",
    response_model=IngestResult,
    status_code=201,
    responses={200: {"model": IngestResult}, 403: {}, 409: {}, 422: {}},
)
def post_event(
    data: EventIn,
    principal: DeviceOnly,
    session: SessionDep,
    settings: SettingsDep,
    feed: EventFeedDep,
    response: Response,
) -> IngestResult:
    """Store an event's metadata (idempotent on its id); answers which files are still missing."""
    out = ingest.receive_event(
        session=session,
        data=data,
        device=principal.device,
        actor=principal.actor,
        window=ingest.CaptureWindow(
            earliest=settings.earliest_capture_time, max_ahead=timedelta(seconds=settings.max_clock_ahead_s)
        ),
        max_files=settings.max_files_per_event,
        limits=ingest.FileLimits(settings.max_image_bytes, settings.max_clip_bytes),
        feed=feed,
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
    feed: EventFeedDep,
    response: Response,
) -> FileStored:
    """Upload one declared file's bytes; the hash, size, type and magic bytes are checked."""
    limit = max(settings.max_image_bytes, settings.max_clip_bytes)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body is {declared} bytes; the largest accepted file is {limit} bytes")

    # Which file this is, before a byte of the body is read: an upload that cannot be stored (no such
    # event, not declared, another device's, the wrong Content-Type) costs the sender, not the API.
    def declared_size() -> int:
        decl = ingest.declared_file(
            session=session,
            event_id=event_id,
            sha256=sha256,
            content_type=request.headers.get("content-type"),
            device=principal.device,
            max_image_bytes=settings.max_image_bytes,
            max_clip_bytes=settings.max_clip_bytes,
        )
        size = decl.size
        # End the read now: the body may take minutes to arrive over a 4G link, and SQLite's
        # BEGIN IMMEDIATE would hold the write lock for all that time.
        session.rollback()
        return size

    size = await run_in_threadpool(declared_size)
    if declared is not None and declared.isdigit() and int(declared) > size:
        raise Invalid(f"the body is {declared} bytes; the metadata declared {size}")
    # The body is spooled, not held: a still stays in memory, a clip goes to an unnamed temporary file
    # (gone when closed, or when the process dies), and the store reads it from there in chunks.
    spool_dir = str(settings.resolved_upload_dir)
    with tempfile.SpooledTemporaryFile(max_size=UPLOAD_IN_MEMORY_BYTES, dir=spool_dir) as body:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > min(size, limit):
                raise Invalid(f"the body is more than the {size} bytes the metadata declared")
            body.write(chunk)  # to memory or the page cache: not worth a thread hop per chunk
        # the database work runs in the thread pool: a blocking lock wait must never stall the event loop
        out = await run_in_threadpool(
            ingest.receive_file,
            session=session,
            store=store,
            event_id=event_id,
            sha256=sha256,
            data=cast(BinaryIO, body),
            content_type=request.headers.get("content-type"),
            device=principal.device,
            actor=principal.actor,
            max_image_bytes=settings.max_image_bytes,
            max_clip_bytes=settings.max_clip_bytes,
            max_still_pixels=settings.max_still_pixels,
            feed=feed,
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
    site: Annotated[Annotated[str, SingleLine] | None, Query(max_length=100)] = None,
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
    event_id: uuid.UUID, data: ReviewIn, principal: OfficerUser, session: SessionDep, feed: EventFeedDep
) -> EventOut:
    """Start review, confirm, or dismiss (with a reason)."""
    target = {
        ReviewAction.start: ReviewStatus.under_review,
        ReviewAction.confirm: ReviewStatus.confirmed,
        ReviewAction.dismiss: ReviewStatus.dismissed,
    }[data.action]
    event = review.set_status(
        session=session,
        event_id=event_id,
        status=target.value,
        reason=data.reason,
        actor=principal.actor,
        feed=feed,
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


RangeHeader = Annotated[
    str | None,
    Header(
        alias="Range",
        description="One byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14); anything else, "
        "or several ranges, gets the whole file",
    ),
]
IfRangeHeader = Annotated[
    str | None,
    Header(
        alias="If-Range",
        description="Ignored with the Range it guards: no validator is sent that it could match, so "
        "the whole file is sent",
    ),
]


def _header_doc(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


_BLOB_HEADERS = {
    "Accept-Ranges": _header_doc("`bytes`: byte ranges are served"),
    "X-Content-SHA256": _header_doc("SHA-256 of the whole file"),
    "Cache-Control": _header_doc("`no-store`: evidence is kept out of caches"),
}
_BLOB_MEDIA: dict[str, Any] = {"image/jpeg": {}, "video/mp4": {}}


@router.get(
    "/blobs/{sha256}",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The whole file", "content": _BLOB_MEDIA, "headers": _BLOB_HEADERS},
        206: {
            "description": "The byte range asked for (`Content-Range: bytes a-b/size`)",
            "content": _BLOB_MEDIA,
            "headers": {
                **_BLOB_HEADERS,
                "Content-Range": _header_doc("`bytes a-b/size`"),
            },
        },
        404: {},
        416: {
            "description": "The range starts past the end of the file (`Content-Range: bytes */size`)",
            "headers": {"Content-Range": _header_doc("`bytes */size`")},
        },
    },
)
@router.head("/blobs/{sha256}", include_in_schema=False)
def download_blob(
    sha256: Sha256Path,
    request: Request,
    principal: Staff,
    session: SessionDep,
    store: StoreDep,
    range_: RangeHeader = None,
    if_range: IfRangeHeader = None,
) -> StreamingResponse:
    """Download a still or clip by SHA-256, whole or one byte range of it (HTTP Range, so a browser's
    video player can seek); each request is an audited read of evidence, with the range in the entry.
    HEAD answers the same headers without the bytes."""
    reply = review.evidence_reply(
        session=session,
        store=store,
        sha256=sha256,
        actor=principal.actor,
        what="blob",
        requested=ranges.RangeRequest(range_, if_range),
        headers_only=request.method == "HEAD",
    )
    headers = {**reply.headers, "X-Content-SHA256": sha256, "Cache-Control": "no-store"}
    return StreamingResponse(reply.body, status_code=reply.status, headers=headers)
