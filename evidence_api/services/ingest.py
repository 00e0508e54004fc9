"""The ingest contract: event metadata first, then each file's bytes, verified and stored once."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_api.media import MediaError, check_media
from evidence_api.models import Blob, Camera, Device, Event, EventFile, Site, UploadStatus
from evidence_api.previews import PreviewError, make_preview
from evidence_api.schemas import EventIn
from evidence_api.services import audit, authorisations
from evidence_api.services.errors import (
    ClockAhead,
    ClockNotSet,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
)
from evidence_api.services.event_feed import EventFeed
from evidence_api.storage import BlobHashMismatch, BlobStore
from evidence_api.storage.base import READ_CHUNK_BYTES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOutcome:
    event: Event
    created: bool
    missing: list[str]


def metadata_hash(data: EventIn) -> str:
    """Canonical hash of the uploaded metadata: the same id must always carry the same content."""
    return audit.hash_state(data.model_dump(mode="json"))


def missing_files(event: Event) -> list[str]:
    seen: set[str] = set()
    out = []
    for f in event.files:
        if f.received_at is None and f.sha256 not in seen:
            seen.add(f.sha256)
            out.append(f.sha256)
    return out


@dataclass(frozen=True)
class CaptureWindow:
    """The times an event may carry when it arrives: none before ``earliest`` (a clock never set), none
    more than ``max_ahead`` past the moment it is received (a clock running fast)."""

    earliest: datetime
    max_ahead: timedelta

    def check(self, data: EventIn, *, received_at: datetime) -> None:
        """Invalid (422) naming the first time outside the window."""
        latest = received_at + self.max_ahead
        times: list[tuple[str, datetime | None]] = [
            ("started_at", data.started_at),
            ("ended_at", data.ended_at),
        ]
        times += [(f"files[{i}].captured_at", f.captured_at) for i, f in enumerate(data.files)]
        for name, at in times:
            if at is None:
                continue
            if at < self.earliest:
                raise ClockNotSet(
                    f"{name}: {at.isoformat()} is before {self.earliest.isoformat()}: the camera's or edge "
                    "box's clock is not set"
                )
            if at > latest:
                raise ClockAhead(
                    f"{name}: {at.isoformat()} is more than {self.max_ahead.total_seconds():g} s ahead of "
                    f"this server's clock ({received_at.isoformat(timespec='seconds')}): check the edge "
                    "box's clock",
                    retry_after_s=(at - latest).total_seconds(),
                )


@dataclass(frozen=True, slots=True)
class FileLimits:
    """The largest still and clip accepted (bytes; the settings' ``max_image_bytes``/``max_clip_bytes``)."""

    max_image_bytes: int = 20 * 1024 * 1024
    max_clip_bytes: int = 200 * 1024 * 1024


def receive_event(
    *,
    session: Session,
    data: EventIn,
    device: Device | None,
    actor: str,
    window: CaptureWindow,
    max_files: int = 64,
    limits: FileLimits | None = None,
    feed: EventFeed | None,
) -> IngestOutcome:
    """Store the metadata (idempotent on the id); 409 if the id was stored with different content,
    422 if a time lies outside ``window``.  An event whose files are all stored already is complete
    at once, and told to ``feed``."""
    window.check(data, received_at=datetime.now(UTC))
    limits = limits or FileLimits()
    digest = metadata_hash(data)
    existing = session.get(Event, data.id)
    if existing is not None:
        if existing.metadata_sha256 != digest:
            raise Conflict(f"event {data.id} was already stored with different content")
        if device is not None and existing.device_id not in (None, device.id):
            raise Forbidden(f"event {data.id} belongs to another device")
        return IngestOutcome(existing, False, missing_files(existing))
    if len(data.files) > max_files:
        raise Invalid(f"files: at most {max_files} files per event")
    camera = session.execute(select(Camera).where(Camera.key == data.camera_id)).scalar_one_or_none()
    if camera is None:
        if device is not None:
            raise Forbidden(f"camera {data.camera_id!r} is not registered to this device")
        raise NotFound(f"camera {data.camera_id!r} is not registered")
    if device is not None and camera.device_id != device.id:
        raise Forbidden(f"camera {data.camera_id!r} is not registered to this device")
    site = session.get(Site, camera.site_id)
    assert site is not None
    if site.key != data.site_id:
        raise Invalid(f"site_id: camera {camera.key!r} is at site {site.key!r}, not {data.site_id!r}")
    for i, f in enumerate(data.files):
        limit = limits.max_clip_bytes if f.media_type.value == "video/mp4" else limits.max_image_bytes
        if f.size > limit:
            raise Invalid(
                f"files[{i}]: {f.size} bytes is more than the {limit} accepted for {f.media_type.value}: "
                "such a file could never be uploaded"
            )
    stored = {f.sha256: session.get(Blob, f.sha256) for f in data.files}
    for i, f in enumerate(data.files):
        blob = stored[f.sha256]
        if blob is not None and (blob.media_type, blob.size) != (f.media_type.value, f.size):
            raise Invalid(
                f"files[{i}]: {f.sha256} is already stored as {blob.media_type} of {blob.size} bytes, "
                f"not {f.media_type.value} of {f.size} bytes"
            )
    decision = authorisations.decide_at_capture(session=session, camera=camera, at=data.started_at)
    event = Event(
        id=data.id,
        type=data.type.value,
        site_id=site.id,
        camera_id=camera.id,
        device_id=device.id if device else None,
        started_at=data.started_at,
        ended_at=data.ended_at,
        clock_source=data.clock_source,
        model_name=data.model.name,
        model_sha256=data.model.sha256,
        rule_version=data.rule_version,
        zone=data.zone,
        plate_text=data.plate.text if data.plate else None,
        plate_confidence=data.plate.confidence if data.plate else None,
        plate_valid_uk_format=data.plate.valid_uk_format if data.plate else None,
        details=dict(data.details),
        linked_event_ids=[str(i) for i in data.linked_event_ids],
        metadata_sha256=digest,
        authorised_at_capture=decision.authorised,
        authorisation_id=decision.authorisation.id if decision.authorisation else None,
        authorisation_note=decision.note,
    )
    session.add(event)
    for pos, f in enumerate(data.files):
        session.add(
            EventFile(
                event_id=event.id,
                position=pos,
                name=f.name,
                role=f.role.value,
                kind=f.kind.value,
                media_type=f.media_type.value,
                sha256=f.sha256,
                size=f.size,
                captured_at=f.captured_at,
                received_at=datetime.now(UTC) if stored[f.sha256] is not None else None,
            )
        )
    camera.last_seen_at = datetime.now(UTC)
    session.flush()
    session.refresh(event)
    if not missing_files(event):
        event.upload_status = UploadStatus.complete.value
        event.completed_at = datetime.now(UTC)
    audit.append(
        session,
        actor=actor,
        action="event.create",
        target_type="event",
        target_id=str(event.id),
        after_hash=digest,
        details={
            "type": event.type,
            "site": site.key,
            "camera": camera.key,
            "authorised_at_capture": event.authorised_at_capture,
        },
    )
    if feed is not None and event.upload_status == UploadStatus.complete.value:
        feed.event_changed(session=session, event=event, change="stored")
    return IngestOutcome(event, True, missing_files(event))


def store_preview(store: BlobStore, master: bytes, sha256: str) -> str | None:
    """Make and store a still's print copy; None (and a warning) if the still does not decode."""
    try:
        preview = make_preview(master)
    except PreviewError as exc:
        logger.warning("still %s stored without a print copy: %s", sha256, exc)
        return None
    store.put(preview.jpeg.data, sha256=preview.sha256)
    return preview.sha256


def backfill_print_copies(*, session: Session, store: BlobStore, actor: str) -> dict[str, int]:
    """Make the print copies that stills stored before they existed lack (or whose copy has gone), so
    their exports need not make them; one audit entry records the run."""
    made = failed = 0
    stills = select(Blob).where(Blob.media_type == "image/jpeg").order_by(Blob.sha256)
    for blob in session.execute(stills).scalars():
        if blob.preview_sha256 is not None and store.exists(blob.preview_sha256):
            continue
        if not store.exists(blob.sha256):
            continue  # purged or lost: nothing to make it from
        with store.open(blob.sha256) as fh:
            blob.preview_sha256 = store_preview(store, fh.read(), blob.sha256)
        if blob.preview_sha256 is None:
            failed += 1
        else:
            made += 1
    result = {"made": made, "not_decodable": failed}
    audit.append(
        session,
        actor=actor,
        action="print_copies.backfill",
        target_type="blobs",
        target_id="*",
        details=result,
    )
    session.flush()
    return result


def sha256_of(stream: BinaryIO) -> str:
    """The SHA-256 of a seekable stream's bytes, read from its start in chunks; left at its start."""
    stream.seek(0)
    digest = hashlib.sha256()
    while chunk := stream.read(READ_CHUNK_BYTES):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _read_from_start(stream: BinaryIO) -> bytes:
    stream.seek(0)
    data = stream.read()
    stream.seek(0)
    return data


@dataclass(frozen=True)
class FileOutcome:
    event: Event
    stored: bool
    missing: list[str]


def declared_file(
    *,
    session: Session,
    event_id: uuid.UUID,
    sha256: str,
    content_type: str | None,
    device: Device | None,
    max_image_bytes: int,
    max_clip_bytes: int,
) -> EventFile:
    """The declaration an upload of ``sha256`` to ``event_id`` answers (the event exists, belongs to
    ``device``, declares that file, and the Content-Type is the declared one): checked before the
    body is read, so a request that cannot be stored costs nothing.  The caller reads at most
    ``decl.size`` bytes."""
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound(f"event {event_id} not found: POST its metadata first")
    if device is not None and event.device_id != device.id:
        raise Forbidden(f"event {event_id} belongs to another device")
    decls = [f for f in event.files if f.sha256 == sha256]
    if not decls:
        raise Invalid(f"file {sha256} is not declared in event {event_id}'s metadata")
    decl = decls[0]
    base_ct = (content_type or "").split(";")[0].strip().lower()
    if not base_ct:
        raise Invalid(f"Content-Type is missing: send the declared media type, {decl.media_type}")
    if base_ct != decl.media_type:
        raise Invalid(f"Content-Type {base_ct!r} does not match the declared media type {decl.media_type!r}")
    return decl


def receive_file(
    *,
    session: Session,
    store: BlobStore,
    event_id: uuid.UUID,
    sha256: str,
    data: bytes | BinaryIO,
    content_type: str | None,
    device: Device | None,
    actor: str,
    max_image_bytes: int,
    max_clip_bytes: int,
    max_still_pixels: int,
    feed: EventFeed | None,
) -> FileOutcome:
    """Check one declared file's bytes (Content-Type, hash, size, and that they are one whole file of
    the declared type: :mod:`evidence_api.media`) and store them; nothing is written if a check fails.
    ``data``: the bytes, or a seekable stream of them (the API spools an upload to a temporary file, so
    a clip is never held whole in memory); a stream is read in chunks and left open for the caller.
    The file that completes the event tells ``feed``."""
    decl = declared_file(
        session=session,
        event_id=event_id,
        sha256=sha256,
        content_type=content_type,
        device=device,
        max_image_bytes=max_image_bytes,
        max_clip_bytes=max_clip_bytes,
    )
    event = decl.event
    decls = [f for f in event.files if f.sha256 == sha256]
    limit = max_clip_bytes if decl.media_type == "video/mp4" else max_image_bytes
    body = io.BytesIO(data) if isinstance(data, bytes) else data
    size = body.seek(0, io.SEEK_END)
    if size > limit:
        raise TooLarge(f"file is {size} bytes; the limit for {decl.media_type} is {limit}")
    actual = sha256_of(body)
    if actual != sha256:
        raise Invalid(f"the body hashes to {actual}, not {sha256}: upload corrupted, send it again")
    if size != decl.size:
        raise Invalid(f"the body is {size} bytes; the metadata declared {decl.size}")
    if all(d.received_at is not None for d in decls):
        return FileOutcome(event, False, missing_files(event))
    # a still is read whole (it is decoded, and at most max_image_bytes); a clip only box by box
    still = _read_from_start(body) if decl.media_type == "image/jpeg" else None
    try:
        check_media(decl.media_type, body if still is None else still, max_still_pixels=max_still_pixels)
    except MediaError as exc:
        raise Invalid(f"the file is declared {decl.media_type}, but {exc}") from exc
    body.seek(0)
    try:
        written = store.put(body if still is None else still, sha256=sha256)
    except BlobHashMismatch as exc:  # the hash was checked above; a mismatch here means a broken store
        raise Invalid(str(exc)) from exc
    blob = session.get(Blob, sha256)
    if blob is None:
        blob = Blob(sha256=sha256, size=size, media_type=decl.media_type)
        if still is not None:
            blob.preview_sha256 = store_preview(store, still, sha256)
        session.add(blob)
    now = datetime.now(UTC)
    for d in decls:
        d.received_at = now
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="event.file.store",
        target_type="event",
        target_id=str(event.id),
        after_hash=sha256,
        details={
            "name": decl.name,
            "role": decl.role,
            "size": size,
            "new_blob": written,
            "preview_sha256": blob.preview_sha256,
        },
    )
    missing = missing_files(event)
    if not missing and event.upload_status != UploadStatus.complete.value:
        event.upload_status = UploadStatus.complete.value
        event.completed_at = now
        audit.append(
            session,
            actor=actor,
            action="event.complete",
            target_type="event",
            target_id=str(event.id),
            after_hash=event.metadata_sha256,
        )
        if feed is not None:
            feed.event_changed(session=session, event=event, change="stored")
    session.flush()
    return FileOutcome(event, True, missing)
