"""Fly-tips reported by the public (``/report``, no sign-in), into the officers' list of public reports.

A photo is checked as the edge's stills are (:func:`evidence_api.media.check_jpeg`: one whole JPEG, its
pixel count read from the frame header before decoding, then decoded strictly) and held to
``max_image_bytes``; every photo of a report is checked before anything is written.  Then, for each
photo, the original exactly as sent is stored first, as the master blob under its SHA-256 (the blob
store never overwrites), and only then a display copy is made from it: decoded by Pillow, turned
upright, reduced, re-encoded, and saved with no metadata at all (no EXIF, so no GPS position, camera
serial or time), which is what the pages show.  A position in the photo's EXIF GPS (read with Pillow's
``Image.getexif``) is used when the reporter typed none.

A client may send :attr:`~evidence_api.settings.Settings.public_report_limit` reports within
``public_report_window_s``: counted from this table (so every replica sees the same count) by a keyed
hash of the client's address, never the address itself.  The audit entry ``public_report.create``
records the reference and the photos' hashes, never the reporter's words or contact details.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import ExifTags, Image, ImageOps
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from evidence_api.media import JPEG, MediaError, check_jpeg
from evidence_api.models import Blob, PublicReport, PublicReportPhoto
from evidence_api.schemas import PublicReportIn
from evidence_api.services import audit
from evidence_api.services.errors import DomainError, Invalid, TooLarge
from evidence_api.storage import BlobStore

logger = logging.getLogger(__name__)

MAX_PHOTOS = 3
DISPLAY_MAX_PX = 1600  # the display copy's longer side: enough to see the waste, small to send
DISPLAY_QUALITY = 85
ACTOR = "public"  # who the audit says created a public report: a member of the public, unnamed
REFERENCE_PREFIX = "FT-"


class RateLimited(DomainError):
    """Too many reports from one client address: try again after ``retry_after_s`` seconds."""

    status_code = 429

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class CheckedPhoto:
    """A photo that passed the checks: its bytes as sent, their SHA-256, and any EXIF GPS position."""

    data: bytes
    sha256: str
    gps: tuple[float, float] | None


def client_key(address: str, *, secret_key: str) -> str:
    """A keyed hash of the client's address: the same address gives the same key, and the address
    cannot be read back from the table (nor found by hashing every IPv4 address without the key)."""
    return hmac.new(secret_key.encode(), b"public-report:" + address.encode(), hashlib.sha256).hexdigest()


def new_reference() -> str:
    """A reference for the reporter to quote: ``FT-`` and eight hex digits, random."""
    return REFERENCE_PREFIX + secrets.token_hex(4).upper()


def check_rate(session: Session, *, key: str, limit: int, window_s: int, now: datetime) -> None:
    """RateLimited (429) if ``key`` has sent ``limit`` reports within the last ``window_s`` seconds.
    Two replicas answering the same client at the same instant may each let one more through: a limit
    on abuse, not an exact quota."""
    since = now - timedelta(seconds=window_s)
    count, oldest = session.execute(
        select(func.count(), func.min(PublicReport.received_at)).where(
            PublicReport.client_key == key, PublicReport.received_at > since
        )
    ).one()
    if count >= limit:
        retry = max(1.0, (oldest + timedelta(seconds=window_s) - now).total_seconds()) if oldest else window_s
        minutes = math.ceil(retry / 60)
        raise RateLimited(
            f"{limit} reports have already been sent from this address in the last {window_s // 60} "
            f"minutes. Please try again in {minutes} minute{'' if minutes == 1 else 's'}, or phone the "
            "council if the waste is dangerous.",
            retry_after_s=retry,
        )


def check_photos(photos: Sequence[bytes], *, max_bytes: int, max_pixels: int) -> list[CheckedPhoto]:
    """Each photo checked (Invalid or TooLarge naming which, in words a reporter can act on), before
    anything is stored; at most :data:`MAX_PHOTOS`."""
    if len(photos) > MAX_PHOTOS:
        raise Invalid(f"send at most {MAX_PHOTOS} photos ({len(photos)} were chosen)")
    checked = []
    for n, data in enumerate(photos, start=1):
        if len(data) > max_bytes:
            raise TooLarge(f"photo {n} is {len(data)} bytes; the largest photo accepted is {max_bytes} bytes")
        try:
            check_jpeg(data, max_pixels=max_pixels)
        except MediaError as exc:
            raise Invalid(f"photo {n} is not a JPEG photo this service can take: {exc}") from exc
        checked.append(CheckedPhoto(data, hashlib.sha256(data).hexdigest(), photo_gps(data)))
    return checked


def photo_gps(data: bytes) -> tuple[float, float] | None:
    """(latitude, longitude) in degrees from a JPEG's EXIF GPS tags, or None if it has none (or they
    make no sense: a zero denominator, a position off the globe)."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
        lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    except (OSError, ValueError, TypeError, ZeroDivisionError, SyntaxError):
        logger.info("a public report's photo has GPS tags that could not be read", exc_info=True)
        return None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _degrees(value: object, ref: object, negative: str) -> float | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    d, m, s = (float(part) for part in value)
    degrees = d + m / 60 + s / 3600
    if not math.isfinite(degrees):
        return None
    return -degrees if str(ref).strip().upper() == negative else degrees


def display_copy(master: bytes) -> bytes:
    """A JPEG to show: ``master`` turned upright (its EXIF orientation applied), at most
    :data:`DISPLAY_MAX_PX` on its longer side, re-encoded with no metadata (no EXIF, ICC, XMP or
    comment: the image's ``info`` is emptied, as Pillow carries a comment and XMP over otherwise)."""
    with Image.open(io.BytesIO(master), formats=["JPEG"]) as image:
        image.draft("RGB", (DISPLAY_MAX_PX, DISPLAY_MAX_PX))
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((DISPLAY_MAX_PX, DISPLAY_MAX_PX))
    upright.info = {}
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=DISPLAY_QUALITY, optimize=True)
    return out.getvalue()


def create_report(
    *,
    session: Session,
    store: BlobStore,
    report: PublicReportIn,
    photos: Sequence[CheckedPhoto],
    client: str,
    now: datetime,
) -> PublicReport:
    """Store a checked report: each photo's master first, then its display copy, then the report's
    rows and its audit entry (in the caller's transaction).  Invalid if it says nowhere: no place
    described, no coordinates typed, and no position in any photo."""
    lat, lon, source = report.latitude, report.longitude, "typed"
    if lat is None:
        gps = next((p.gps for p in photos if p.gps is not None), None)
        lat, lon, source = (gps[0], gps[1], "photo") if gps else (None, None, "description")
    if lat is None and not report.location_description.strip():
        raise Invalid(
            "say where the waste is: describe the place, give its coordinates, or send a photo "
            "taken there with location turned on"
        )
    rows = []
    for position, photo in enumerate(photos):
        store.put(photo.data, sha256=photo.sha256)  # the original as sent, before anything else
        if session.get(Blob, photo.sha256) is None:
            session.add(Blob(sha256=photo.sha256, size=len(photo.data), media_type=JPEG))
        shown = display_copy(photo.data)
        shown_sha256 = hashlib.sha256(shown).hexdigest()
        store.put(shown, sha256=shown_sha256)
        rows.append(
            PublicReportPhoto(
                position=position,
                sha256=photo.sha256,
                size=len(photo.data),
                media_type=JPEG,
                display_sha256=shown_sha256,
            )
        )
    row = PublicReport(
        reference=new_reference(),
        received_at=now,
        client_key=client,
        location_description=report.location_description.strip(),
        latitude=lat,
        longitude=lon,
        location_source=source,
        description=report.description.strip(),
        saw_who=report.saw_who,
        will_give_statement=report.will_give_statement,
        contact_name=report.contact_name.strip(),
        contact_email=report.contact_email.strip(),
        contact_phone=report.contact_phone.strip(),
        photos=rows,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=ACTOR,
        action="public_report.create",
        target_type="public_report",
        target_id=str(row.id),
        details={
            "reference": row.reference,
            "location_source": source,
            "photos": [{"sha256": p.sha256, "display_sha256": p.display_sha256} for p in rows],
        },
    )
    return row


def list_reports(session: Session, *, limit: int = 200) -> list[PublicReport]:
    """The newest ``limit`` public reports, newest first, with their photos."""
    query = (
        select(PublicReport)
        .options(selectinload(PublicReport.photos))
        .order_by(PublicReport.received_at.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def is_display_copy(session: Session, sha256: str) -> bool:
    """Whether ``sha256`` is a public report photo's display copy (all the staff page may send)."""
    found = session.execute(
        select(PublicReportPhoto.id).where(PublicReportPhoto.display_sha256 == sha256).limit(1)
    ).first()
    return found is not None
