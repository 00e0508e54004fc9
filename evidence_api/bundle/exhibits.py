"""One exhibit into the bundle: its master (checked against the hash recorded at ingest), its working
copies (annotated, cropped to the vehicle, people blurred), its print copy, and its manifest record."""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from evidence_api.bundle import redact
from evidence_api.bundle.admission import Admitted
from evidence_api.bundle.format import master_name, working_copy_name
from evidence_api.bundle.manifest import (
    CustodyEntry,
    ExhibitEntry,
    WorkingCopyEntry,
    utc_and_local,
    utc_iso,
)
from evidence_api.bundle.pdf import Jpeg, PdfError
from evidence_api.bundle.spec import BundleBuildError, BundleSpec, CustodyStep, EventRecord, ExhibitSource
from evidence_api.previews import PreviewError, make_preview

if TYPE_CHECKING:
    from evidence_api.bundle.zipwriter import BundleZipWriter

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WrittenExhibit:
    """What writing one exhibit produced: its manifest record, its print copy for the exhibit list (a
    still's, when stills are printed and it decodes), and how many regions were blurred."""

    entry: ExhibitEntry
    still: Jpeg | None
    blurred_regions: int


def print_copy(ex: ExhibitSource, reference: str, master: bytes | None) -> Jpeg | None:
    """The reduced copy printed in the exhibit list: the one made at ingest, checked against its hash,
    or one made now from the master (stored before print copies existed, or the stored one is damaged)."""
    if ex.preview is not None:
        with ex.preview.open() as src:
            data = src.read()
        if hashlib.sha256(data).hexdigest() == ex.preview.sha256:
            try:
                return Jpeg.from_bytes(data)
            except PdfError as exc:
                logger.warning(
                    "exhibit %s: stored print copy unreadable (%s); making a new one", reference, exc
                )
        else:
            logger.warning(
                "exhibit %s: stored print copy does not match its hash; making a new one", reference
            )
    if master is None:
        with ex.open() as src:
            master = src.read()
    try:
        return make_preview(master).jpeg
    except PreviewError as exc:
        # The master is still evidence even if it will not decode; the list says so instead of a picture.
        logger.warning("exhibit %s: not printable: %s", reference, exc)
        return None


def write_exhibit(
    w: BundleZipWriter,
    spec: BundleSpec,
    admitted: Admitted,
    number: int,
    event: EventRecord,
    custody_steps: dict[CustodyStep, CustodyEntry],
    person_finder: redact.PersonFinder | None,
) -> WrittenExhibit:
    """Copy exhibit ``number`` into the zip (as ``INITIALS/number``) with its working copies.

    ``custody_steps`` are the manifest records of the audit-backed custody steps, shared across
    exhibits.  BundleBuildError when the master or its annotated copy no longer matches its hash.
    """
    ex = admitted.exhibit
    initials = spec.case.officer_initials
    reference = f"{initials}/{number}"
    slug = f"{initials}-{number}"
    master = master_name(slug, ex.role, ex.media_type)
    blur = spec.redaction.blur_people and person_finder is not None
    crop = spec.redaction.crop_vehicle and ex.vehicle is not None
    needs_pixels = ex.is_still and ((spec.print_stills and ex.preview is None) or crop or blur)
    keep = io.BytesIO() if needs_pixels else None
    with ex.open() as src:
        sha, size = w.add_stream(master, src, ex.media_type, "master", keep=keep, large=ex.size >= 1 << 31)
    if sha != ex.sha256 or size != ex.size:
        raise BundleBuildError(
            f"the master of exhibit {reference} (event {ex.event_id}, {ex.role}) no longer matches the hash "
            f"recorded at ingest ({ex.sha256}, {ex.size} bytes; read {sha}, {size} bytes): export stopped, "
            "restore the master from backup"
        )
    working: list[WorkingCopyEntry] = []
    if ex.annotated is not None:
        name = working_copy_name(slug, "annotated")
        with ex.annotated.open() as src:
            a_sha, a_size = w.add_stream(name, src, "image/jpeg", "working_copy")
        if a_sha != ex.annotated.sha256 or a_size != ex.annotated.size:
            raise BundleBuildError(
                f"the annotated copy of exhibit {reference} does not match its recorded hash"
            )
        working.append({"path": name, "label": "annotated (edge box boxes and labels)", "sha256": a_sha})
    still: Jpeg | None = None
    if ex.is_still and spec.print_stills:
        still = print_copy(ex, reference, keep.getvalue() if keep is not None else None)
    regions = 0
    if keep is not None and (crop or blur):
        finder = person_finder if blur else None
        regions = _redacted_copies(w, slug, reference, keep.getvalue(), ex, crop, finder, working)
    zone = spec.zone
    return WrittenExhibit(
        _entry(reference, slug, master, sha, size, admitted, event, working, custody_steps, zone),
        still,
        regions,
    )


def _redacted_copies(
    w: BundleZipWriter,
    slug: str,
    reference: str,
    data: bytes,
    ex: ExhibitSource,
    crop: bool,
    person_finder: redact.PersonFinder | None,
    working: list[WorkingCopyEntry],
) -> int:
    """The vehicle crop (when ``crop``) and the people-blurred copy (when given a ``person_finder``) of a
    still, appended to ``working``; returns how many regions were blurred."""
    regions = 0
    try:
        image = redact.decode_jpeg(data)
        if crop and ex.vehicle is not None:
            name = working_copy_name(slug, "vehicle_crop")
            cropped = redact.crop_to_vehicle(image, ex.vehicle)
            sha_c = w.add_bytes(name, redact.encode_jpeg(cropped), "image/jpeg", "working_copy")
            working.append({"path": name, "label": "cropped to vehicle and plate", "sha256": sha_c})
        if person_finder is not None:
            blurred, regions = redact.blur_people(image, person_finder)
            name = working_copy_name(slug, "people_blurred")
            sha_b = w.add_bytes(name, redact.encode_jpeg(blurred), "image/jpeg", "working_copy")
            label = f"people blurred for disclosure ({regions} regions)"
            working.append({"path": name, "label": label, "sha256": sha_b})
    except redact.RedactionError as exc:
        # The master is still evidence even if it will not decode; say so in the list rather than stop.
        logger.warning("exhibit %s: no working copies: %s", reference, exc)
    return regions


def _entry(
    reference: str,
    slug: str,
    master: str,
    sha: str,
    size: int,
    admitted: Admitted,
    event: EventRecord,
    working: list[WorkingCopyEntry],
    custody_steps: dict[CustodyStep, CustodyEntry],
    zone: ZoneInfo,
) -> ExhibitEntry:
    ex = admitted.exhibit
    utc, local = utc_and_local(ex.captured_at, zone)
    custody: list[CustodyEntry] = [
        {
            "stage": "capture",
            "at": utc,
            "actor": f"edge box, camera {ex.camera_id}",
            "description": f"captured and hashed (SHA-256) on the edge box; clock: {event.clock_source}",
            "audit_seq": None,
            "audit_hash": None,
        }
    ]
    custody.extend(custody_steps[step] for step in sorted(ex.custody, key=lambda s: (s.at, s.audit_seq)))
    kind = "still" if ex.is_still else "video clip"
    return {
        "reference": reference,
        "slug": slug,
        "description": ex.description or f"{ex.role} {kind} of {event.type} event at {event.site_name}",
        "event_id": ex.event_id,
        "role": ex.role,
        "master": master,
        "sha256": sha,
        "size": size,
        "media_type": ex.media_type,
        "captured_at_utc": utc,
        "captured_at_local": local,
        "clock_source": event.clock_source,
        "received_at_utc": utc_iso(ex.received_at) if ex.received_at else None,
        "camera_id": ex.camera_id,
        "site_id": ex.site_id,
        "site_name": event.site_name,
        "model_name": ex.model_name,
        "model_sha256": ex.model_sha256,
        "rule_version": ex.rule_version,
        "authorisation_id": admitted.authorisation.authorisation_id if admitted.authorisation else None,
        "override_id": admitted.override.override_id if admitted.override else None,
        "authority": admitted.authority,
        "working_copies": working,
        "custody": custody,
    }
