"""Stream one case export into a signed zip: masters, working copies, continuity, documents, manifest.

Memory stays flat in the number of exhibits: each master is copied into the zip in 1 MiB chunks while
it is hashed; a still's reduced print copy (made at ingest, see :mod:`evidence_api.previews`) is held
until its volume of the printed exhibit list is written, every :data:`PDF_VOLUME_SIZE` exhibits.  Only
the manifest's small per-file records (and the HTML list's rows) grow with the case.

A master whose bytes no longer hash to the value recorded at ingest stops the export: a bundle never
carries a file that differs from what the edge box captured.

The parts: :mod:`~evidence_api.bundle.admission` decides what goes in, :mod:`~evidence_api.bundle.exhibits`
writes each exhibit, :mod:`~evidence_api.bundle.zipwriter` the zip, :mod:`~evidence_api.bundle.documents`
the exhibit list and statement; this module puts them in order and signs the manifest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol, cast

from evidence_api.bundle import documents, redact
from evidence_api.bundle.admission import Admitted, admit, authorisation_entry, override_entry
from evidence_api.bundle.exhibits import write_exhibit
from evidence_api.bundle.format import (
    AUDIT_EXTRACT_NAME,
    AUTHORISATIONS_NAME,
    BUNDLE_FORMAT,
    EXHIBIT_LIST_HTML_NAME,
    FINGERPRINT_NAME,
    GENESIS_HASH,
    MANIFEST_NAME,
    MAX_AUDIT_LINE_BYTES,
    MAX_MANIFEST_BYTES,
    OVERRIDES_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    STATEMENT_HTML_NAME,
    STATEMENT_PDF_NAME,
    SUMS_NAME,
    audit_entry_hash,
    canonical_json,
    exhibit_list_pdf_name,
)
from evidence_api.bundle.manifest import (
    CheckpointRecord,
    ContinuityEntry,
    CustodyEntry,
    ExcludedEntry,
    ExhibitEntry,
    Manifest,
    utc_and_local,
    utc_iso,
)
from evidence_api.bundle.pdf import Jpeg
from evidence_api.bundle.spec import BundleBuildError, BundleSpec, CustodyStep, Producer
from evidence_api.bundle.verify import format_fingerprint
from evidence_api.bundle.zipwriter import AppendOnlySink, BundleZipWriter

logger = logging.getLogger(__name__)

__all__ = ["BundleBuildError", "BundleResult", "Signer", "build_bundle"]

PDF_VOLUME_SIZE = 100  # exhibits per volume of the printed list: one volume's print copies in memory


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
    excluded: list[ExcludedEntry]
    key_id: str
    fingerprint: str
    files: int = 0
    working_copies: int = 0
    blurred_regions: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class _ExhibitList:
    """The printed exhibit list, written a volume (:data:`PDF_VOLUME_SIZE` exhibits) at a time, so only
    one volume's print copies are held at once; the HTML list's rows are kept for the single HTML page.

    (Laying volumes out on a second thread while masters are copied was measured: no faster, because the
    copying thread then waits on the GIL as long as the layout saves.)
    """

    def __init__(self, w: BundleZipWriter, producer: Producer, exhibits: int) -> None:
        self.w, self.producer = w, producer
        self.total = (exhibits + PDF_VOLUME_SIZE - 1) // PDF_VOLUME_SIZE
        self.names: list[str] = []
        self._rows: list[str] = []

    def add_volume(self, part: Manifest, stills: dict[str, Jpeg]) -> None:
        name = exhibit_list_pdf_name(len(self.names) + 1, self.total)
        pdf = documents.exhibit_list_pdf(part, self.producer, stills)
        self.w.add_chunks(name, pdf.chunks(), "application/pdf", "document")
        self.names.append(name)
        self._rows.append(documents.exhibit_rows_html(part["exhibits"]))

    def html_rows(self) -> str:
        return "".join(self._rows)


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
                "damaged; run `tipwatch admin audit verify`"
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
    """Write the bundle for ``spec`` to ``out_path`` (atomically: a partial file is never left there).

    ``person_finder`` finds the people to blur; it is required when ``spec.redaction.blur_people``
    (BundleBuildError otherwise).  BundleBuildError too when the audit extract does not verify, nothing
    was authorised at capture, or a master no longer matches its hash."""
    if spec.redaction.blur_people and person_finder is None:
        raise BundleBuildError(
            "blurring people was asked for but no person finder was given: pass person_finder= "
            "(e.g. tipwatch.person_finder.ssd_person_finder()) or export without blurring"
        )
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            sink = AppendOnlySink(fh, hashlib.sha256() if compute_bundle_sha256 else None)
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


def _custody_steps(spec: BundleSpec, included: list[Admitted]) -> dict[CustodyStep, CustodyEntry]:
    """The manifest records of the custody steps after capture; shared across exhibits (an event's
    upload and review, the case's export)."""
    audit_by_seq = spec.audit.by_seq()
    return {
        step: {
            "stage": step.stage,
            "at": utc_iso(step.at),
            "actor": step.actor,
            "description": step.description,
            "audit_seq": step.audit_seq,
            "audit_hash": audit_by_seq[step.audit_seq].entry_hash,
        }
        for step in {step for admitted in included for step in admitted.exhibit.custody}
    }


def _manifest(
    spec: BundleSpec,
    signer: Signer,
    bundle_id: str,
    included: list[Admitted],
    excluded: list[ExcludedEntry],
) -> Manifest:
    """Everything the manifest says before the exhibits are written (their records and the file list
    are added as they are)."""
    zone = spec.zone
    exported_utc, exported_local = utc_and_local(spec.exported_at, zone)
    used_auths = {a.authorisation.authorisation_id: a.authorisation for a in included if a.authorisation}
    used_overrides = [a.override for a in included if a.override is not None]
    return {
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
            "opened_at": utc_iso(spec.case.opened_at),
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
                "started_at": utc_iso(e.started_at),
                "started_at_local": utc_and_local(e.started_at, zone)[1],
                "ended_at": utc_iso(e.ended_at),
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
                "decided_at": utc_iso(d.decided_at),
                "reasons": d.reasons,
            }
            for d in spec.decisions
        ],
        "authorisations": [authorisation_entry(a) for a in used_auths.values()],
        "overrides": [override_entry(o) for o in used_overrides],
        "excluded_exhibits": excluded,
        "continuity": _continuity(spec),
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


def _continuity(spec: BundleSpec) -> ContinuityEntry:
    continuity: ContinuityEntry = {
        "audit_extract": AUDIT_EXTRACT_NAME,
        "hash_scheme": spec.audit.hash_scheme,
        "first_seq": spec.audit.entries[0].seq,
        "head_seq": spec.audit.entries[-1].seq,
        "head_hash": spec.audit.head_hash,
    }
    if spec.checkpoint is not None:
        continuity["checkpoint"] = cast(CheckpointRecord, spec.checkpoint.record())
    return continuity


def _check_checkpoint(spec: BundleSpec, signer: Signer) -> None:
    """A bundle's checkpoint is signed with the bundle's own key, so one pinned key vouches for both."""
    checkpoint = spec.checkpoint
    if checkpoint is not None and checkpoint.key_fingerprint != signer.fingerprint:
        raise BundleBuildError(
            f"{checkpoint.describe()} was signed by key {format_fingerprint(checkpoint.key_fingerprint)}, "
            f"not by {signer.key_id}, which signs this bundle"
        )


def _write(
    spec: BundleSpec,
    signer: Signer,
    sink: AppendOnlySink,
    out_path: Path,
    person_finder: redact.PersonFinder | None,
) -> BundleResult:
    _check_audit_chain(spec)
    _check_checkpoint(spec, signer)
    bundle_id = spec.bundle_id or str(uuid.uuid4())
    events = {e.event_id: e for e in spec.events}
    included, excluded = admit(spec)
    steps = _custody_steps(spec, included)
    manifest = _manifest(spec, signer, bundle_id, included, excluded)
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
        w = BundleZipWriter(zf, spec.exported_at)
        exhibit_list = _ExhibitList(w, spec.producer, len(included))
        volume: list[ExhibitEntry] = []
        stills: dict[str, Jpeg] = {}
        for number, admitted in enumerate(included, start=1):
            event = events[admitted.exhibit.event_id]
            written = write_exhibit(w, spec, admitted, number, event, steps, person_finder)
            entry = written.entry
            manifest["exhibits"].append(entry)
            result.exhibit_references.append(entry["reference"])
            result.working_copies += len(entry["working_copies"])
            result.blurred_regions += written.blurred_regions
            volume.append(entry)
            if written.still is not None:
                stills[entry["reference"]] = written.still
            if len(volume) == PDF_VOLUME_SIZE or number == len(included):
                part = manifest.copy()
                part["exhibits"] = volume
                if number != len(included):
                    part["excluded_exhibits"] = []  # named once, in the last volume
                exhibit_list.add_volume(part, stills)
                volume, stills = [], {}
        _write_documents(w, spec, signer, manifest, exhibit_list)
        manifest["files"] = w.files
        manifest["documents"] = {"exhibit_list_pdf": exhibit_list.names}
        manifest_bytes = canonical_json(manifest)
        if len(manifest_bytes) > MAX_MANIFEST_BYTES:
            raise BundleBuildError(
                f"the manifest would be {len(manifest_bytes):,} bytes, more than the "
                f"{MAX_MANIFEST_BYTES:,} a verifier reads: export the case in parts"
            )
        w.add_unlisted(MANIFEST_NAME, manifest_bytes)
        w.add_unlisted(SIGNATURE_NAME, signer.sign(manifest_bytes))
        result.files = len(w.files) + 2
    result.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    return result


def _write_documents(
    w: BundleZipWriter, spec: BundleSpec, signer: Signer, manifest: Manifest, exhibit_list: _ExhibitList
) -> None:
    """Everything after the exhibits, in this order: the audit extract, the authorisations, the
    documents, the public key and its fingerprint, and SHA256SUMS (of every file before it)."""
    lines = [
        canonical_json(
            {"seq": e.seq, "prev_hash": e.prev_hash, "entry_hash": e.entry_hash, "fields": dict(e.fields)}
        )
        for e in spec.audit.entries
    ]
    for entry, line in zip(spec.audit.entries, lines, strict=True):
        if len(line) > MAX_AUDIT_LINE_BYTES:
            raise BundleBuildError(
                f"audit entry {entry.seq} is {len(line):,} bytes, more than the {MAX_AUDIT_LINE_BYTES:,} a "
                "verifier reads"
            )
    w.add_bytes(
        AUDIT_EXTRACT_NAME,
        b"".join(line + b"\n" for line in lines),
        "application/x-ndjson",
        "continuity",
        compress=True,  # the extract runs to the live head: on a busy system, many entries
    )
    w.add_bytes(
        AUTHORISATIONS_NAME, canonical_json(manifest["authorisations"]), "application/json", "authorisation"
    )
    w.add_bytes(OVERRIDES_NAME, canonical_json(manifest["overrides"]), "application/json", "authorisation")
    w.add_bytes(
        EXHIBIT_LIST_HTML_NAME,
        documents.exhibit_list_html(manifest, spec.producer, exhibit_list.html_rows()),
        "text/html",
        "document",
    )
    w.add_bytes(
        STATEMENT_HTML_NAME, documents.statement_html(manifest, spec.producer), "text/html", "document"
    )
    w.add_bytes(
        STATEMENT_PDF_NAME, documents.statement_pdf(manifest, spec.producer), "application/pdf", "document"
    )
    w.add_bytes(PUBLIC_KEY_NAME, signer.public_pem(), "application/x-pem-file", "signing")
    w.add_bytes(
        FINGERPRINT_NAME,
        (
            f"Key {signer.key_id}\nEd25519 public key SHA-256 fingerprint:\n"
            f"{format_fingerprint(signer.fingerprint)}\n{signer.fingerprint}\n"
        ).encode(),
        "text/plain",
        "signing",
    )
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in w.files)
    w.add_bytes(SUMS_NAME, sums.encode("utf-8"), "text/plain", "checksums")
