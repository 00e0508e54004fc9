"""Stream one case export into a signed zip: masters, working copies, continuity, documents, manifest.

Memory stays flat in the number of exhibits: each master is copied into the zip in 1 MiB chunks while
it is hashed; a still's reduced print copy (made at ingest, see :mod:`evidence_api.previews`) is held
until its volume of the printed exhibit list is written, every :data:`PDF_VOLUME_SIZE` exhibits.  Only
the manifest's small per-file records (and the HTML list's rows) grow with the case.

A master whose bytes no longer hash to the value recorded at ingest stops the export: a bundle never
carries a file that differs from what the edge box captured.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, cast
from zoneinfo import ZoneInfo

from evidence_api.bundle import documents, redact
from evidence_api.bundle.pdf import Jpeg, PdfError
from evidence_api.bundle.spec import (
    Authorisation,
    BundleSpec,
    CustodyStep,
    ExhibitSource,
    LegalOverride,
    Producer,
)
from evidence_api.bundle.verify import (
    AUDIT_EXTRACT_NAME,
    BUNDLE_FORMAT,
    CHUNK,
    GENESIS_HASH,
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    SUMS_NAME,
    audit_entry_hash,
    canonical_json,
    format_fingerprint,
)
from evidence_api.previews import PreviewError, make_preview

logger = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
PDF_VOLUME_SIZE = 100
ROLE_ORDER = {
    r: i for i, r in enumerate(("arrival", "vehicle", "plate", "act", "departure", "before", "after"))
}
EXTENSIONS = {"image/jpeg": "jpg", "video/mp4": "mp4"}


class BundleBuildError(RuntimeError):
    """The export cannot be made as described; nothing is left at the output path."""


class Signer(Protocol):
    """What the builder needs of a signing key (see :class:`evidence_api.bundle.signing.SigningKey`)."""

    @property
    def key_id(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...

    def public_pem(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(slots=True)
class BundleResult:
    path: Path
    bundle_id: str
    size: int
    sha256: str | None  # of the whole zip, when asked for
    manifest_sha256: str
    exhibit_references: list[str]
    excluded: list[dict[str, Any]]
    key_id: str
    fingerprint: str
    files: int = 0
    working_copies: int = 0
    blurred_regions: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def utc_and_local(at: datetime) -> tuple[str, str]:
    """ISO-8601 UTC, and Europe/London wall time with its GMT/BST label, for people to read."""
    utc = at.astimezone(UTC)
    local = utc.astimezone(LONDON)
    return utc.isoformat(), f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({local.isoformat()})"


def _authority_text(auth: Authorisation | None, override: LegalOverride | None) -> str:
    if auth is not None:
        if auth.approved_by:
            approved = f", approved by {auth.approved_by}"
        else:
            approved = ""
        return f"{auth.kind.value} {auth.reference} (granted by {auth.granted_by}{approved})"
    assert override is not None
    return f"legal override {override.override_id} by {override.granted_by}: {override.reasons}"


def _auth_dict(auth: Authorisation) -> dict[str, Any]:
    return {
        "authorisation_id": auth.authorisation_id,
        "kind": auth.kind.value,
        "reference": auth.reference,
        "site_ids": list(auth.site_ids),
        "camera_ids": list(auth.camera_ids),
        "valid_from": auth.valid_from.astimezone(UTC).isoformat(),
        "valid_until": auth.valid_until.astimezone(UTC).isoformat(),
        "granted_by": auth.granted_by,
        "approved_by": auth.approved_by,
        "approved_at": auth.approved_at.astimezone(UTC).isoformat() if auth.approved_at else None,
        "summary": auth.summary,
    }


def _override_dict(ov: LegalOverride) -> dict[str, Any]:
    return {
        "override_id": ov.override_id,
        "exhibit_sha256": ov.exhibit_sha256,
        "granted_by": ov.granted_by,
        "granted_at": ov.granted_at.astimezone(UTC).isoformat(),
        "reasons": ov.reasons,
    }


class _AppendOnly:
    """The output file as the zip writer sees it: append-only.  Unable to seek back and patch each
    member's header, ``zipfile`` puts sizes and CRCs in data descriptors after the data (a standard
    form every zip reader handles), so the whole bundle can be hashed as it is written, not read back.
    """

    def __init__(self, fh: BinaryIO, digest: Any | None) -> None:
        self.fh, self.digest, self.position = fh, digest, 0

    def write(self, data: bytes) -> int:
        if self.digest is not None:
            self.digest.update(data)
        self.position += len(data)
        return self.fh.write(data)

    def tell(self) -> int:
        return self.position

    def seek(self, *_: object) -> int:
        raise OSError("the bundle is written append-only")

    def flush(self) -> None:
        self.fh.flush()


def _tee(chunks: Iterator[bytes], keep: io.BytesIO) -> Iterator[bytes]:
    for chunk in chunks:
        keep.write(chunk)
        yield chunk


class _ZipWriter:
    """Adds members to the zip, hashing each as it streams, and remembers them for the manifest."""

    def __init__(self, zf: zipfile.ZipFile, when: datetime) -> None:
        self.zf = zf
        utc = when.astimezone(UTC)
        self.date_time = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
        self.files: list[dict[str, Any]] = []

    def _info(self, name: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o100444 << 16  # a regular read-only file
        return info

    def add_stream(
        self,
        name: str,
        source: BinaryIO,
        media_type: str,
        kind: str,
        *,
        keep: io.BytesIO | None = None,
        large: bool = False,
    ) -> tuple[str, int]:
        """A member read from ``source`` in 1 MiB chunks (copied into ``keep`` too, if given)."""
        chunks: Iterator[bytes] = iter(lambda: source.read(CHUNK), b"")
        if keep is not None:
            chunks = _tee(chunks, keep)
        return self.add_chunks(name, chunks, media_type, kind, large=large)

    def add_bytes(self, name: str, data: bytes, media_type: str, kind: str, *, compress: bool = False) -> str:
        sha, _ = self.add_chunks(name, [data], media_type, kind, compress=compress)
        return sha

    def add_chunks(
        self,
        name: str,
        chunks: Iterable[bytes],
        media_type: str,
        kind: str,
        *,
        compress: bool = False,
        large: bool = False,
    ) -> tuple[str, int]:
        """A member written piece by piece, hashed as it goes; returns its SHA-256 and size.  Members are
        stored, not deflated, unless asked: media is compressed already, and the documents are small
        beside it and readable as they are in any zip tool."""
        digest = hashlib.sha256()
        size = 0
        with self.zf.open(self._info(name, compress), "w", force_zip64=large) as dst:
            for chunk in chunks:
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        sha = digest.hexdigest()
        self.files.append({"path": name, "sha256": sha, "size": size, "media_type": media_type, "kind": kind})
        return sha, size

    def add_unlisted(self, name: str, data: bytes) -> None:
        self.zf.writestr(self._info(name, compress=False), data)


class _ExhibitList:
    """The printed exhibit list, written a volume (:data:`PDF_VOLUME_SIZE` exhibits) at a time, so only
    one volume's print copies are held at once; the HTML list's rows are kept for the single HTML page.

    (Laying volumes out on a second thread while masters are copied was measured: no faster, because the
    copying thread then waits on the GIL as long as the layout saves.)
    """

    def __init__(self, w: _ZipWriter, producer: Producer, exhibits: int) -> None:
        self.w, self.producer = w, producer
        self.total = (exhibits + PDF_VOLUME_SIZE - 1) // PDF_VOLUME_SIZE
        self.names: list[str] = []
        self._rows: list[str] = []

    def add_volume(self, part: dict[str, Any], stills: dict[str, Jpeg]) -> None:
        name = (
            "documents/exhibit_list.pdf"
            if self.total == 1
            else f"documents/exhibit_list_vol{len(self.names) + 1:02d}_of_{self.total:02d}.pdf"
        )
        pdf = documents.exhibit_list_pdf(part, self.producer, stills)
        self.w.add_chunks(name, pdf.chunks(), "application/pdf", "document")
        self.names.append(name)
        self._rows.append(documents.exhibit_rows_html(part["exhibits"]))

    def html_rows(self) -> str:
        return "".join(self._rows)


def _order_key(ex: ExhibitSource) -> tuple[datetime, str, int, str]:
    return (ex.captured_at, ex.event_id, ROLE_ORDER.get(ex.role, len(ROLE_ORDER)), ex.sha256)


def _check_audit_chain(spec: BundleSpec) -> None:
    previous: str | None = None
    prev_seq: int | None = None
    for entry in spec.audit.entries:
        if (
            audit_entry_hash(spec.audit.hash_scheme, entry.seq, entry.prev_hash, dict(entry.fields))
            != entry.entry_hash
        ):
            raise BundleBuildError(
                f"audit entry {entry.seq} does not hash to its recorded value: the live audit log is "
                "damaged; run `tipwatch admin audit check` before exporting"
            )
        if prev_seq is not None and (entry.seq != prev_seq + 1 or entry.prev_hash != previous):
            raise BundleBuildError(f"audit extract is not a contiguous chain at entry {entry.seq}")
        if prev_seq is None and entry.seq == 1 and entry.prev_hash != GENESIS_HASH:
            raise BundleBuildError("the first audit entry must link to the genesis hash")
        previous, prev_seq = entry.entry_hash, entry.seq


def build_bundle(
    spec: BundleSpec,
    signer: Signer,
    out_path: str | Path,
    *,
    person_finder: redact.PersonFinder | None = None,
    compute_bundle_sha256: bool = True,
) -> BundleResult:
    """Write the bundle for ``spec`` to ``out_path`` (atomically: a partial file is never left there)."""
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            sink = _AppendOnly(fh, hashlib.sha256() if compute_bundle_sha256 else None)
            result = _write(spec, signer, sink, out_path, person_finder)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    result.size = sink.position
    result.sha256 = sink.digest.hexdigest() if sink.digest is not None else None
    logger.info(
        "bundle %s for case %s: %d exhibits, %d left out, %d bytes, signed by %s",
        result.bundle_id,
        spec.case.reference,
        len(result.exhibit_references),
        len(result.excluded),
        result.size,
        result.key_id,
    )
    return result


def _write(
    spec: BundleSpec,
    signer: Signer,
    sink: _AppendOnly,
    out_path: Path,
    person_finder: redact.PersonFinder | None,
) -> BundleResult:
    _check_audit_chain(spec)
    bundle_id = spec.bundle_id or str(uuid.uuid4())
    exported_utc, exported_local = utc_and_local(spec.exported_at)
    events = {e.event_id: e for e in spec.events}
    audit_by_seq = spec.audit.by_seq()
    overrides = {o.exhibit_sha256: o for o in spec.overrides}
    if spec.redaction.blur_people and person_finder is None:
        person_finder = redact.SSDPersonFinder()

    # Decide, before copying anything, which exhibits an authorisation (or a legal override) covers.
    included: list[tuple[ExhibitSource, Authorisation | None, LegalOverride | None]] = []
    excluded: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ex in sorted(spec.exhibits, key=_order_key):
        if ex.sha256 in seen:
            continue  # the same bytes attached twice are one exhibit
        seen.add(ex.sha256)
        auth = next(
            (a for a in spec.authorisations if a.covers(ex.site_id, ex.camera_id, ex.captured_at)), None
        )
        override = overrides.get(ex.sha256) if auth is None else None
        if auth is None and override is None:
            excluded.append(
                {
                    "event_id": ex.event_id,
                    "role": ex.role,
                    "sha256": ex.sha256,
                    "captured_at_utc": utc_and_local(ex.captured_at)[0],
                    "reason": "no surveillance authorisation covered this camera at the capture time, "
                    "and no legal override was recorded",
                }
            )
            logger.warning(
                "exhibit %s of event %s left out: not authorised at capture", ex.sha256[:12], ex.event_id
            )
            continue
        included.append((ex, auth, override))
    if not included:
        raise BundleBuildError(
            f"case {spec.case.reference}: no exhibit was authorised at capture (or overridden); "
            "nothing to export"
        )
    # custody steps are shared: an event's upload and review, the case's export, across its exhibits
    steps = {
        step: {
            "stage": step.stage,
            "at": step.at.astimezone(UTC).isoformat(),
            "actor": step.actor,
            "description": step.description,
            "audit_seq": step.audit_seq,
            "audit_hash": audit_by_seq[step.audit_seq].entry_hash,
        }
        for step in {step for ex, _, _ in included for step in ex.custody}
    }
    used_auths = {a.authorisation_id: a for _, a, _ in included if a is not None}
    used_overrides = [o for _, _, o in included if o is not None]

    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "bundle_id": bundle_id,
        "exported_at": exported_utc,
        "exported_at_local": exported_local,
        "exported_by": spec.exported_by,
        "case": {
            "case_id": spec.case.case_id,
            "reference": spec.case.reference,
            "title": spec.case.title,
            "offence": spec.case.offence,
            "officer_name": spec.case.officer_name,
            "officer_initials": spec.case.officer_initials,
            "opened_at": spec.case.opened_at.astimezone(UTC).isoformat(),
            "notes": spec.case.notes,
        },
        "producer": {
            "name": spec.producer.name,
            "role": spec.producer.role,
            "organisation": spec.producer.organisation,
            "address": spec.producer.address,
        },
        "events": [
            {
                "event_id": e.event_id,
                "type": e.type,
                "site_id": e.site_id,
                "site_name": e.site_name,
                "camera_id": e.camera_id,
                "started_at": e.started_at.astimezone(UTC).isoformat(),
                "started_at_local": utc_and_local(e.started_at)[1],
                "ended_at": e.ended_at.astimezone(UTC).isoformat(),
                "clock_source": e.clock_source,
                "model_name": e.model_name,
                "model_sha256": e.model_sha256,
                "rule_version": e.rule_version,
                "zone": e.zone,
                "plate_text": e.plate_text,
                "linked_event_ids": list(e.linked_event_ids),
                "details": dict(e.details),
            }
            for e in spec.events
        ],
        "review_decisions": [
            {
                "event_id": d.event_id,
                "decision": d.decision,
                "reviewer": d.reviewer,
                "decided_at": d.decided_at.astimezone(UTC).isoformat(),
                "reasons": d.reasons,
            }
            for d in spec.decisions
        ],
        "authorisations": [_auth_dict(a) for a in used_auths.values()],
        "overrides": [_override_dict(o) for o in used_overrides],
        "excluded_exhibits": excluded,
        "continuity": {
            "audit_extract": AUDIT_EXTRACT_NAME,
            "hash_scheme": spec.audit.hash_scheme,
            "first_seq": spec.audit.entries[0].seq,
            "head_seq": spec.audit.entries[-1].seq,
            "head_hash": spec.audit.head_hash,
        },
        "signing": {
            "algorithm": "Ed25519",
            "key_id": signer.key_id,
            "fingerprint": signer.fingerprint,
            "public_key": PUBLIC_KEY_NAME,
            "signature": SIGNATURE_NAME,
            "signed_bytes": MANIFEST_NAME,
        },
        "exhibits": [],
    }
    result = BundleResult(
        path=out_path,
        bundle_id=bundle_id,
        size=0,
        sha256=None,
        manifest_sha256="",
        exhibit_references=[],
        excluded=excluded,
        key_id=signer.key_id,
        fingerprint=signer.fingerprint,
    )

    with zipfile.ZipFile(cast(IO[bytes], sink), "w", allowZip64=True) as zf:
        w = _ZipWriter(zf, spec.exported_at)
        exhibit_list = _ExhibitList(w, spec.producer, len(included))
        volume: list[dict[str, Any]] = []
        stills: dict[str, Jpeg] = {}
        for number, (ex, auth, override) in enumerate(included, start=1):
            entry = _write_exhibit(w, spec, ex, auth, override, number, events, steps, person_finder, result)
            manifest["exhibits"].append(entry)
            result.exhibit_references.append(entry["reference"])
            volume.append(entry)
            still = entry.pop("_still", None)
            if still is not None and spec.print_stills:
                stills[entry["reference"]] = still
            if len(volume) == PDF_VOLUME_SIZE or number == len(included):
                part = {**manifest, "exhibits": volume}
                if number != len(included):
                    part["excluded_exhibits"] = []
                exhibit_list.add_volume(part, stills)
                volume, stills = [], {}

        w.add_bytes(
            AUDIT_EXTRACT_NAME,
            b"".join(
                canonical_json(
                    {
                        "seq": e.seq,
                        "prev_hash": e.prev_hash,
                        "entry_hash": e.entry_hash,
                        "fields": dict(e.fields),
                    }
                )
                + b"\n"
                for e in spec.audit.entries
            ),
            "application/x-ndjson",
            "continuity",
            compress=True,  # the extract runs to the live head: on a busy system, many entries
        )
        w.add_bytes(
            "authorisations/authorisations.json",
            canonical_json(manifest["authorisations"]),
            "application/json",
            "authorisation",
        )
        w.add_bytes(
            "authorisations/overrides.json",
            canonical_json(manifest["overrides"]),
            "application/json",
            "authorisation",
        )
        w.add_bytes(
            "documents/exhibit_list.html",
            documents.exhibit_list_html(manifest, spec.producer, exhibit_list.html_rows()),
            "text/html",
            "document",
        )
        w.add_bytes(
            "documents/statement_s9.html",
            documents.statement_html(manifest, spec.producer),
            "text/html",
            "document",
        )
        w.add_bytes(
            "documents/statement_s9.pdf",
            documents.statement_pdf(manifest, spec.producer),
            "application/pdf",
            "document",
        )
        w.add_bytes(PUBLIC_KEY_NAME, signer.public_pem(), "application/x-pem-file", "signing")
        w.add_bytes(
            "signing/fingerprint.txt",
            (
                f"Key {signer.key_id}\nEd25519 public key SHA-256 fingerprint:\n"
                f"{format_fingerprint(signer.fingerprint)}\n{signer.fingerprint}\n"
            ).encode(),
            "text/plain",
            "signing",
        )
        sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in w.files)
        w.add_bytes(SUMS_NAME, sums.encode("utf-8"), "text/plain", "checksums")
        manifest["files"] = w.files
        manifest["documents"] = {"exhibit_list_pdf": exhibit_list.names}
        manifest_bytes = canonical_json(manifest)
        w.add_unlisted(MANIFEST_NAME, manifest_bytes)
        w.add_unlisted(SIGNATURE_NAME, signer.sign(manifest_bytes))
        result.files = len(w.files) + 2
    result.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    return result


def _print_copy(ex: ExhibitSource, reference: str, master: bytes | None) -> Jpeg | None:
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


def _write_exhibit(
    w: _ZipWriter,
    spec: BundleSpec,
    ex: ExhibitSource,
    auth: Authorisation | None,
    override: LegalOverride | None,
    number: int,
    events: dict[str, Any],
    steps: dict[CustodyStep, dict[str, Any]],
    person_finder: redact.PersonFinder | None,
    result: BundleResult,
) -> dict[str, Any]:
    initials = spec.case.officer_initials
    reference = f"{initials}/{number}"
    slug = f"{initials}-{number}"
    ext = EXTENSIONS[ex.media_type]
    event = events[ex.event_id]
    master = f"exhibits/masters/{slug}_{ex.role}.{ext}"
    needs_pixels = ex.is_still and (
        (spec.print_stills and ex.preview is None)
        or (spec.redaction.crop_vehicle and ex.vehicle is not None)
        or (spec.redaction.blur_people and person_finder is not None)
    )
    keep = io.BytesIO() if needs_pixels else None
    with ex.open() as src:
        sha, size = w.add_stream(master, src, ex.media_type, "master", keep=keep, large=ex.size >= 1 << 31)
    if sha != ex.sha256 or size != ex.size:
        raise BundleBuildError(
            f"the master of exhibit {reference} (event {ex.event_id}, {ex.role}) no longer matches the hash "
            f"recorded at ingest ({ex.sha256}, {ex.size} bytes; read {sha}, {size} bytes): export stopped, "
            "restore the master from backup"
        )
    working: list[dict[str, str]] = []
    still: Jpeg | None = None
    if ex.annotated is not None:
        name = f"exhibits/working/{slug}_annotated.jpg"
        with ex.annotated.open() as src:
            a_sha, a_size = w.add_stream(name, src, "image/jpeg", "working_copy")
        if a_sha != ex.annotated.sha256 or a_size != ex.annotated.size:
            raise BundleBuildError(
                f"the annotated copy of exhibit {reference} does not match its recorded hash"
            )
        working.append({"path": name, "label": "annotated (edge box boxes and labels)", "sha256": a_sha})
    if ex.is_still and spec.print_stills:
        still = _print_copy(ex, reference, keep.getvalue() if keep is not None else None)
    if keep is not None:
        data = keep.getvalue()
        try:
            image = (
                redact.decode_jpeg(data)
                if (spec.redaction.crop_vehicle and ex.vehicle)
                or (spec.redaction.blur_people and person_finder is not None)
                else None
            )
            if image is not None and spec.redaction.crop_vehicle and ex.vehicle is not None:
                name = f"exhibits/working/{slug}_vehicle_crop.jpg"
                crop = redact.crop_to_vehicle(image, ex.vehicle)
                sha_c = w.add_bytes(name, redact.encode_jpeg(crop), "image/jpeg", "working_copy")
                working.append({"path": name, "label": "cropped to vehicle and plate", "sha256": sha_c})
            if image is not None and spec.redaction.blur_people and person_finder is not None:
                blurred, regions = redact.blur_people(image, person_finder)
                result.blurred_regions += regions
                name = f"exhibits/working/{slug}_people_blurred.jpg"
                sha_b = w.add_bytes(name, redact.encode_jpeg(blurred), "image/jpeg", "working_copy")
                working.append(
                    {
                        "path": name,
                        "label": f"people blurred for disclosure ({regions} regions)",
                        "sha256": sha_b,
                    }
                )
        except redact.RedactionError as exc:
            # The master is still evidence even if it will not decode; say so in the list rather than stop.
            logger.warning("exhibit %s: no working copies: %s", reference, exc)
    result.working_copies += len(working)
    utc, local = utc_and_local(ex.captured_at)
    custody: list[dict[str, Any]] = [
        {
            "stage": "capture",
            "at": utc,
            "actor": f"edge box, camera {ex.camera_id}",
            "description": f"captured and hashed (SHA-256) on the edge box; clock: {event.clock_source}",
            "audit_seq": None,
            "audit_hash": None,
        }
    ]
    custody.extend(steps[step] for step in sorted(ex.custody, key=lambda s: (s.at, s.audit_seq)))
    entry: dict[str, Any] = {
        "reference": reference,
        "slug": slug,
        "description": ex.description
        or f"{ex.role} {'still' if ex.is_still else 'video clip'} of {event.type} event at {event.site_name}",
        "event_id": ex.event_id,
        "role": ex.role,
        "master": master,
        "sha256": sha,
        "size": size,
        "media_type": ex.media_type,
        "captured_at_utc": utc,
        "captured_at_local": local,
        "clock_source": event.clock_source,
        "received_at_utc": ex.received_at.astimezone(UTC).isoformat() if ex.received_at else None,
        "camera_id": ex.camera_id,
        "site_id": ex.site_id,
        "site_name": event.site_name,
        "model_name": ex.model_name,
        "model_sha256": ex.model_sha256,
        "rule_version": ex.rule_version,
        "authorisation_id": auth.authorisation_id if auth else None,
        "override_id": override.override_id if override else None,
        "authority": _authority_text(auth, override),
        "working_copies": working,
        "custody": custody,
    }
    if still is not None:
        entry["_still"] = still
    return entry
